package passes

import (
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
