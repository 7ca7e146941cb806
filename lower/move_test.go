package lower_test

import (
	"fmt"
	"testing"

	"github.com/onnxq/onnxq/graph"
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
