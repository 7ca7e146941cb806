package lower_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
)

// moveModel is x → Q → DQ → MaxPool (padded, so the padding's value
// counts) → Q → DQ → Transpose → Q → DQ → Reshape → Q → DQ → y1,
// all with one set of parameters (both units lower), and the reshaped
// values concatenated with a copy quantized with another scale → Q → DQ
// → y2 (the Concat's inputs disagree: it stays float).
func moveModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 3, 4)
	n := 0
	qdq := func(v *graph.Value, scale float32, zp uint8) *graph.Value {
		n++
		s := b.Const(graph.FromFloat32s(fmt.Sprintf("s%d", n), nil, []float32{scale}))
		z := b.Const(graph.NewTensor(fmt.Sprintf("z%d", n), graph.Uint8, nil, []byte{zp}))
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	y := qdq(x, 0.05, 128)
	y = qdq(b.Op("MaxPool", y, graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("pads", 1, 1)), 0.05, 128)
	y = qdq(b.Op("Transpose", y, graph.IntsAttr("perm", 2, 0, 1)), 0.05, 128)
	y = qdq(b.Op("Reshape", y, b.Const(graph.FromInt64s("shape", []int64{2}, []int64{5, 6}))), 0.05, 128)
	other := qdq(b.Op("Relu", y), 0.03, 0)
	b.Output(y, qdq(b.Op("Concat", y, other, graph.IntAttr("axis", 0)), 0.05, 128))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerMoveOps checks that data-movement units with matching
// parameters run on the integers, that a Concat of differently quantized
// inputs stays float, and that the outputs are exactly those of the QDQ
// model (Q(DQ(q)) = q), extreme inputs included.
func TestLowerMoveOps(t *testing.T) {
	m := moveModel(t)
	low, rep, log := lowerModel(t, m)
	if rep.Moved["MaxPool"] != 1 || rep.Moved["Transpose"] != 1 || rep.Moved["Reshape"] != 1 || rep.Moved["Concat"] != 0 {
		t.Fatalf("moved %v; log:\n%s", rep.Moved, log)
	}
	for _, n := range low.Graph.Nodes {
		if (n.OpType == "MaxPool" || n.OpType == "Transpose" || n.OpType == "Reshape") && n.Input(0).Producer != nil && n.Input(0).Producer.OpType == "DequantizeLinear" {
			t.Errorf("%s still reads a DequantizeLinear", n.OpType)
		}
	}
	sameOutputs(t, m, low, 1, 1)
}

// mixedMoveModel quantizes x [1,4,6,6] twice, as uint8 a (scale 0.1, zp
// 128) and int8 b (scale 0.03, zp −7), and builds data-movement units
// whose inputs and outputs are quantized differently, each dequantized as
// a graph output: Concat(a, b) to uint8 at 0.2 (exact ties: 0.1/0.2),
// Concat(a, b) to a's parameters (b alone requantized), Transpose(a) to
// b's, nearest Resize ×2 of b to uint8, MaxPool 2×2 of a without
// padding (requantized after) and 3×3 with padding (before), constant Pad
// of b with 0.3 and reflect Pad of a, Gather and Slice of a (shrinking:
// after).
func mixedMoveModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 6, 6)
	n := 0
	qdq := func(v *graph.Value, scale float32, dt graph.DType, zp int8) *graph.Value {
		n++
		s := b.Const(graph.FromFloat32s(fmt.Sprintf("s%d", n), nil, []float32{scale}))
		z := b.Const(graph.NewTensor(fmt.Sprintf("z%d", n), dt, nil, []byte{byte(zp)}))
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	ints := func(name string, v ...int64) *graph.Value {
		return b.Const(graph.FromInt64s(name, []int64{int64(len(v))}, v))
	}
	ua := qdq(x, 0.1, graph.Uint8, -128) // zero point 128 as a byte
	sb := qdq(x, 0.03, graph.Int8, -7)
	out := []*graph.Value{
		qdq(b.Op("Concat", ua, sb, graph.IntAttr("axis", 1)), 0.2, graph.Uint8, 100),
		qdq(b.Op("Concat", ua, sb, graph.IntAttr("axis", 1)), 0.1, graph.Uint8, -128),
		qdq(b.Op("Transpose", ua, graph.IntsAttr("perm", 0, 2, 3, 1)), 0.03, graph.Int8, -7),
		qdq(b.Op("Resize", sb, nil, b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2})), graph.StringAttr("mode", "nearest")), 0.05, graph.Uint8, 20),
		qdq(b.Op("MaxPool", ua, graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)), 0.07, graph.Int8, 3),
		qdq(b.Op("MaxPool", sb, graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 1, 1, 1, 1)), 0.06, graph.Uint8, 50),
		qdq(b.Op("Pad", sb, ints("pads", 0, 0, 1, 2, 0, 0, 2, 1), b.Const(graph.FromFloat32s("c", nil, []float32{0.3}))), 0.15, graph.Uint8, 10),
		qdq(b.Op("Pad", ua, ints("pads2", 0, 0, 1, 1, 0, 0, 1, 1), graph.StringAttr("mode", "reflect")), 0.11, graph.Int8, 0),
		qdq(b.Op("Gather", ua, ints("idx", 3, 0), graph.IntAttr("axis", 1)), 0.045, graph.Uint8, 0),
		qdq(b.Op("Slice", sb, ints("starts", 1), ints("ends", 5), ints("axes", 2)), 0.2, graph.Int8, 0),
	}
	b.Output(out...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerMoveOpsRequantized checks that with Options.Requantize the
// units of mixedMoveModel run on the integers with ai.onnxq Requantize
// where the parameters differ (on the input, or after an op that
// shrinks its input), and that the outputs are exactly the QDQ model's,
// extreme inputs and ties included, at 1 and 3 threads; without the
// option the units stay float.
func TestLowerMoveOpsRequantized(t *testing.T) {
	m := mixedMoveModel(t)
	_, rep, log := lowerModel(t, m)
	if len(rep.Moved) != 0 || len(rep.Requantized) != 0 {
		t.Fatalf("without Requantize: moved %v, requantized %v; log:\n%s", rep.Moved, rep.Requantized, log)
	}
	low, rep, log := lowerModelWith(t, m, lower.Options{Requantize: true})
	wantMoved := map[string]int{"Concat": 2, "Transpose": 1, "Resize": 1, "MaxPool": 2, "Pad": 2, "Gather": 1, "Slice": 1}
	wantReq := map[string]int{"Concat": 3, "Transpose": 1, "Resize": 1, "MaxPool": 2, "Pad": 2, "Gather": 1, "Slice": 1}
	if !maps.Equal(rep.Moved, wantMoved) || !maps.Equal(rep.Requantized, wantReq) {
		t.Fatalf("moved %v, requantized %v; log:\n%s", rep.Moved, rep.Requantized, log)
	}
	if _, ok := low.Opset("ai.onnxq"); !ok {
		t.Error("no ai.onnxq opset import")
	}
	// Where each Requantize went: before the op, or after Gather, Slice
	// and the unpadded MaxPool.
	after := map[string]int{}
	for _, n := range low.Graph.Nodes {
		switch {
		case n.OpType == "DequantizeLinear" || n.OpType == "QuantizeLinear":
			if n.Outputs[0].Consumers != nil && n.OpType == "DequantizeLinear" && !slices.Contains(low.Graph.Outputs, n.Outputs[0]) {
				t.Errorf("%s still feeds %s", n.Name, n.Outputs[0].Consumers[0].OpType)
			}
		case n.OpType == "Requantize":
			if n.Domain != "ai.onnxq" {
				t.Errorf("%s: domain %q", n.Name, n.Domain)
			}
			if p := n.Input(0).Producer; p != nil && p.OpType != "QuantizeLinear" {
				after[p.OpType]++
			}
		}
	}
	if !maps.Equal(after, map[string]int{"MaxPool": 1, "Gather": 1, "Slice": 1}) {
		t.Errorf("requantized after %v", after)
	}
	for _, threads := range []int{1, 3} {
		sameOutputs(t, m, low, threads, 7)
	}
	// The execution form's options include it.
	low, rep, _ = lowerModelWith(t, m, lower.Execution)
	if !maps.Equal(rep.Requantized, wantReq) {
		t.Fatalf("Execution: requantized %v", rep.Requantized)
	}
	sameOutputs(t, m, low, 3, 8)
}

// A Resize in tf_crop_and_resize mode fills the outside of its box with
// a float extrapolation value: it stays in QDQ form, and the lowered
// model computes what the QDQ one does.
func TestLowerResizeCropStaysFloat(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.05}))
	z := b.Const(graph.NewTensor("z", graph.Uint8, nil, []byte{128}))
	qdq := func(v *graph.Value) *graph.Value {
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	roi := b.Const(graph.FromFloat32s("roi", []int64{8}, []float32{0, 0, -0.5, -0.5, 1, 1, 1.5, 1.5}))
	scales := b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
	y := b.Op("Resize", qdq(x), roi, scales, graph.StringAttr("mode", "nearest"),
		graph.StringAttr("coordinate_transformation_mode", "tf_crop_and_resize"), graph.FloatAttr("extrapolation_value", 0))
	b.Output(qdq(y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	low, rep, log := lowerModel(t, m)
	if rep.Moved["Resize"] != 0 {
		t.Fatalf("the crop-and-resize was lowered; log:\n%s", log)
	}
	sameOutputs(t, m, low, 1, 1)
}
