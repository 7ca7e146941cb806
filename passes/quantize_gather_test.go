package passes

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// An embedding Gather whose output is quantized reads its table stored in
// 8 bits on the output's grid, with the same results as the float table
// gathered and quantized after (the table's values reach past the range,
// so clipping is covered); a table a float op also reads keeps its float
// copy for it, and a Gather whose float output something reads directly
// keeps reading the float table.
func TestQuantizeGatherTable(t *testing.T) {
	build := func(floatReader bool) (*graph.Model, *graph.Node) {
		b := graph.NewBuilder(13)
		ids := b.Input("ids", graph.Int64, 1, 6)
		table := f32(b, "emb", 0.37, 40, 8) // values in [-0.99, 0.99]
		rows := b.Op("Gather", table, ids)
		gather := rows.Producer
		y := b.Op("MatMul", rows, f32(b, "w", 0.21, 8, 4))
		outs := []*graph.Value{y, b.Op("ReduceSum", table, b.Const(graph.FromInt64s("ax", []int64{1}, []int64{0})))}
		if floatReader {
			outs = append(outs, b.Op("Tanh", rows))
		}
		b.Output(outs...)
		return build(t, b), gather
	}
	m, gather := build(false)
	before := clone(t, m)
	opts := DefaultQuantOptions()
	r := quantize(t, m, fixedRanges(m, map[string]Range{gather.Outputs[0].Name: {-0.5, 0.5}}), opts)
	if r.TablesQuantized != 1 {
		t.Fatalf("%d tables quantized, want 1", r.TablesQuantized)
	}
	dq := gather.Input(0).Producer
	if dq == nil || dq.OpType != "DequantizeLinear" || dq.Input(0).Const == nil || dq.Input(0).Const.DType != graph.Uint8 && dq.Input(0).Const.DType != graph.Int8 {
		t.Fatalf("the Gather reads %v, want an 8-bit table through a DequantizeLinear", gather.Input(0))
	}
	if !slices.ContainsFunc(m.Graph.Initializers, func(v *graph.Value) bool { return v.Name == "emb" && len(v.Consumers) > 0 }) {
		t.Error("the float table the ReduceSum reads is gone")
	}
	// the same model with the Gather reading the float table again
	ref := clone(t, m)
	for _, n := range ref.Graph.Nodes {
		if n.OpType == "Gather" {
			n.SetInput(0, ref.Graph.Value("emb"))
		}
	}
	ids := runtime.New(graph.Int64, 1, 6)
	copy(ids.Data.([]int64), []int64{0, 39, 7, 7, 20, 33})
	run := func(m *graph.Model) []float32 {
		s, err := runtime.NewSession(m, runtime.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(map[string]*runtime.Tensor{"ids": ids})
		if err != nil {
			t.Fatal(err)
		}
		return out[m.Graph.Outputs[0].Name].F32()
	}
	got, want := run(m), run(ref)
	if !slices.Equal(got, want) {
		t.Errorf("8-bit table gives %v, float table then Q/DQ %v", got, want)
	}
	if f := run(before); slices.Equal(f, got) {
		t.Error("the quantized model computes FP32's values")
	}
	codes, err := dq.Input(0).Const.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := int64(0), int64(255)
	if dq.Input(0).Const.DType == graph.Int8 {
		lo, hi = -128, 127
	}
	if !slices.Contains(codes, lo) || !slices.Contains(codes, hi) {
		t.Error("no table value saturates at both ends: the case does not test clipping")
	}

	m, gather = build(true)
	r = quantize(t, m, fixedRanges(m, nil), opts)
	if r.TablesQuantized != 0 || gather.Input(0).Name != "emb" {
		t.Errorf("a Gather whose float output a Tanh reads: %d tables quantized, reads %s", r.TablesQuantized, gather.Input(0).Name)
	}
}

// A large table whose Gather output only float ops read is stored in 8
// bits on a grid spanning all its values, with a Q/DQ pair of that grid
// after the Gather (QuantOptions.WeightOnly): every gathered value is its
// table value rounded onto that grid, none clipped; without WeightOnly,
// or under weightOnlyMinElems elements, it stays float.
func TestWeightOnlyGatherTable(t *testing.T) {
	build := func(rows int64) (*graph.Model, *graph.Value) {
		b := graph.NewBuilder(13)
		ids := b.Input("ids", graph.Int64, 1, 5)
		gathered := b.Op("Gather", f32(b, "emb", 0.11, rows, 16), ids)
		b.Output(b.Op("Tanh", gathered))
		return build(t, b), gathered
	}
	for _, c := range []struct {
		rows       int64
		weightOnly bool
		want       int
	}{{128, true, 1}, {128, false, 0}, {32, true, 0}} {
		m, gathered := build(c.rows)
		table := m.Graph.Value("emb").ConstFloat32s()
		opts := DefaultQuantOptions()
		opts.WeightOnly = c.weightOnly
		r := quantize(t, m, fixedRanges(m, nil), opts)
		if r.TablesQuantized != c.want || len(r.WeightOnly) != c.want {
			t.Errorf("%d rows, weight-only %v: %d tables, weight-only list %q; want %d", c.rows, c.weightOnly, r.TablesQuantized, r.WeightOnly, c.want)
			continue
		}
		if c.want == 0 {
			continue
		}
		tanh := m.Graph.Outputs[0].Producer
		dq := tanh.Input(0).Producer
		if dq == nil || dq.OpType != "DequantizeLinear" || dq.Input(0).Producer == nil || dq.Input(0).Producer.Input(0) != gathered {
			t.Fatalf("the Tanh reads %s, want the Q/DQ after the Gather", tanh.Input(0).Name)
		}
		seen := false
		s, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
			if v != tanh.Input(0) {
				return
			}
			seen = true
			// each value within half a step of the table's, none clipped
			scale := float64(dq.Input(1).ConstFloat32s()[0])
			for i, got := range x.F32() {
				row := []int{3, 127, 0, 64, 3}[i/16]
				want := float64(table[row*16+i%16])
				if d := math.Abs(float64(got) - want); d > scale/2*1.0001 {
					t.Fatalf("element %d: %v, table %v, step %v", i, got, want, scale)
				}
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		ids := runtime.New(graph.Int64, 1, 5)
		copy(ids.Data.([]int64), []int64{3, 127, 0, 64, 3})
		if _, err := s.Run(map[string]*runtime.Tensor{"ids": ids}); err != nil {
			t.Fatal(err)
		}
		if !seen {
			t.Error("the gathered rows were not observed")
		}
	}
}
