package lower_test

import (
	"fmt"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
)

// padModel is x → Q → DQ → Pad → Q → DQ with one set of parameters, for
// constant Pads with and without a value (and a value that saturates),
// edge and reflect Pads, uint8 and int8: every Pad unit lowers.
func padModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(18)
	x := b.Input("x", graph.Float32, 1, 2, 5, 6)
	n := 0
	qdq := func(v *graph.Value, scale float32, zp byte, dt graph.DType) *graph.Value {
		n++
		s := b.Const(graph.FromFloat32s(fmt.Sprintf("s%d", n), nil, []float32{scale}))
		z := b.Const(graph.NewTensor(fmt.Sprintf("z%d", n), dt, nil, []byte{zp}))
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	pads := b.Const(graph.FromInt64s("pads", []int64{8}, []int64{0, 0, 1, 2, 0, 0, 2, 1}))
	value := func(name string, c float32) *graph.Value {
		return b.Const(graph.FromFloat32s(name, nil, []float32{c}))
	}
	var outs []*graph.Value
	for _, dt := range []graph.DType{graph.Uint8, graph.Int8} {
		zp := byte(128)
		if dt == graph.Int8 {
			zp = 0xF6 // -10
		}
		q := func(v *graph.Value) *graph.Value { return qdq(v, 0.05, zp, dt) }
		in := q(x)
		tag := dt.String()
		outs = append(outs,
			q(b.Op("Pad", in, pads, value("c_"+tag, 0.3))),
			q(b.Op("Pad", in, pads)),
			q(b.Op("Pad", in, pads, value("big_"+tag, 1e6))),
			q(b.Op("Pad", in, pads, graph.StringAttr("mode", "edge"))),
			q(b.Op("Pad", in, pads, graph.StringAttr("mode", "reflect"))),
		)
	}
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerPad checks that Pad units run on the integers, a constant Pad
// padding with the quantized value, and give exactly the QDQ model's
// outputs.
func TestLowerPad(t *testing.T) {
	m := padModel(t)
	low, rep, log := lowerModel(t, m)
	if rep.Moved["Pad"] != 10 {
		t.Fatalf("moved %v; log:\n%s", rep.Moved, log)
	}
	for _, n := range low.Graph.Nodes {
		if n.OpType == "Pad" && n.Input(0).Producer != nil && n.Input(0).Producer.OpType == "DequantizeLinear" {
			t.Errorf("%s still reads a DequantizeLinear", n.Name)
		}
	}
	sameOutputs(t, m, low, 1, 4)
}

// poolModel is x → Q → DQ → Pad → Q → DQ → AveragePool → Q → DQ
// (FastestDet's island), the same padding with 0.3, then AveragePool
// units of other attributes and a GlobalAveragePool, uint8 and int8.
func poolModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(19)
	x := b.Input("x", graph.Float32, 2, 3, 11, 12)
	n := 0
	qdq := func(v *graph.Value, scale float32, zp byte, dt graph.DType) *graph.Value {
		n++
		s := b.Const(graph.FromFloat32s(fmt.Sprintf("s%d", n), nil, []float32{scale}))
		z := b.Const(graph.NewTensor(fmt.Sprintf("z%d", n), dt, nil, []byte{zp}))
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	pads := b.Const(graph.FromInt64s("pads", []int64{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1}))
	var outs []*graph.Value
	for _, dt := range []graph.DType{graph.Uint8, graph.Int8} {
		zx, zy := byte(120), byte(131)
		if dt == graph.Int8 {
			zx, zy = 0xF6, 3
		}
		in := qdq(x, 0.07, zx, dt)
		padded := qdq(b.Op("Pad", in, pads), 0.07, zx, dt)
		outs = append(outs, qdq(b.Op("AveragePool", padded, graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2)), 0.031, zy, dt))
		// Padding with 0.3, not the real 0: the Pad stays.
		c := b.Const(graph.FromFloat32s("c_"+dt.String(), nil, []float32{0.3}))
		padded3 := qdq(b.Op("Pad", in, pads, c), 0.07, zx, dt)
		outs = append(outs, qdq(b.Op("AveragePool", padded3, graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2)), 0.031, zy, dt))
		for _, attrs := range [][]any{
			{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1)},
			{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntAttr("count_include_pad", 1)},
			{graph.IntsAttr("kernel_shape", 2, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 0, 1, 1, 1), graph.IntAttr("ceil_mode", 1)},
			{graph.IntsAttr("kernel_shape", 3, 2), graph.IntsAttr("strides", 3, 1), graph.IntsAttr("dilations", 2, 2), graph.StringAttr("auto_pad", "SAME_UPPER")},
		} {
			outs = append(outs, qdq(b.Op("AveragePool", append([]any{in}, attrs...)...), 0.05, zy, dt))
		}
		outs = append(outs, qdq(b.Op("GlobalAveragePool", in), 0.02, zy, dt))
	}
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerAveragePool checks that with Options.Pooling the average
// pooling units become ai.onnxq ops whose outputs are exactly the QDQ
// model's (its scales, 0.07 in and 0.05 or 0.031 out, make ties common),
// at any thread count, that a Pad of the real 0 before one becomes its
// pads, and that the standard pass keeps them in float.
func TestLowerAveragePool(t *testing.T) {
	m := poolModel(t)
	std, rep, _ := lowerModel(t, m)
	if len(rep.Lowered) != 0 || rep.Moved["Pad"] != 4 {
		t.Fatalf("standard lowering: lowered %v, moved %v", rep.Lowered, rep.Moved)
	}
	sameOutputs(t, m, std, 1, 5)
	low, rep, log := lowerModelWith(t, m, lower.Options{Pooling: true})
	if rep.Lowered["ai.onnxq.QLinearAveragePool"] != 12 || rep.Lowered["ai.onnxq.QLinearGlobalAveragePool"] != 2 {
		t.Fatalf("lowered %v; log:\n%s", rep.Lowered, log)
	}
	// The Pads of the real 0 become the poolings' pads; those of 0.3 stay.
	pads := 0
	for _, n := range low.Graph.Nodes {
		switch n.OpType {
		case "AveragePool", "GlobalAveragePool":
			t.Errorf("%s stays float", n.Name)
		case "Pad":
			pads++
		}
	}
	if pads != 2 {
		t.Errorf("%d Pads left, want 2", pads)
	}
	sameOutputs(t, m, low, 3, 6)
}
