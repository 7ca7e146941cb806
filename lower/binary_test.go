package lower_test

import (
	"fmt"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
)

// binaryModel is (DQ(Q(x)) + DQ(Q(y))) → Q → DQ, times DQ(Q(z)) → Q → DQ
// → out, uint8 throughout, plus an int8 Add whose operands broadcast.
func binaryModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	n := 0
	qdq := func(v *graph.Value, scale float32, zp byte, dt graph.DType) *graph.Value {
		n++
		s := b.Const(graph.FromFloat32s(fmt.Sprintf("s%d", n), nil, []float32{scale}))
		z := b.Const(graph.NewTensor(fmt.Sprintf("z%d", n), dt, nil, []byte{zp}))
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s, z), s, z)
	}
	x := b.Input("x", graph.Float32, 2, 3, 5)
	y := b.Input("y", graph.Float32, 2, 3, 5)
	z := b.Input("z", graph.Float32, 2, 3, 5)
	w := b.Input("w", graph.Float32, 5)
	sum := qdq(b.Op("Add", qdq(x, 0.05, 128, graph.Uint8), qdq(y, 0.03, 100, graph.Uint8)), 0.07, 120, graph.Uint8)
	prod := qdq(b.Op("Mul", sum, qdq(z, 0.02, 10, graph.Uint8)), 0.1, 3, graph.Uint8)
	bcast := qdq(b.Op("Add", qdq(x, 0.05, 0, graph.Int8), qdq(w, 0.05, 0, graph.Int8)), 0.1, 0, graph.Int8)
	b.Output(prod, bcast)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerArithmetic checks that with Options.Arithmetic the Add and Mul
// units become ai.onnxq ops that give the QDQ model's outputs (broadcasting
// included), within one step where an exact rounding tie goes the other
// way (the ops round as ONNX Runtime's kernels do), and that the standard
// pass leaves them.
func TestLowerArithmetic(t *testing.T) {
	m := binaryModel(t)
	if _, rep, _ := lowerModel(t, m); len(rep.Lowered) != 0 {
		t.Fatalf("standard lowering rewrote %v", rep.Lowered)
	}
	low, rep, log := lowerModelWith(t, m, lower.Options{Arithmetic: true})
	if rep.Lowered["ai.onnxq.QLinearAdd"] != 2 || rep.Lowered["ai.onnxq.QLinearMul"] != 1 {
		t.Fatalf("lowered %v; log:\n%s", rep.Lowered, log)
	}
	closeOutputs(t, m, low, 2, 3, 0.1) // both outputs' scale is 0.1
}
