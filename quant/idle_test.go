// idle_test.go checks which activations IdleActivations finds.
package quant_test

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/quant"
)

// x feeds a Conv whose output is a graph output (no unit: idle); y feeds
// a Conv whose output goes to a Q (a unit: not idle); the Add of two
// dequantized values feeds a float-running Conv, but the Add is
// quantized itself (not idle); the Sigmoid of a Conv output feeds
// another float-running Conv (idle).
func TestIdleActivations(t *testing.T) {
	b, qdq, w := qdqBuilder(t)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	y := b.Input("y", graph.Float32, 1, 1, 4, 4)
	outX := b.Op("Conv", qdq(x), w("wx"))
	unit := qdq(b.Op("Conv", qdq(y), w("wy")))
	sum := b.Op("Add", unit, qdq(y))
	outSum := b.Op("Conv", qdq(sum), w("ws"))
	sig := b.Op("Sigmoid", outX)
	outSig := b.Op("Conv", qdq(sig), w("wg"))
	b.Output(outX, outSum, outSig)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	got := quant.IdleActivations(m)
	want := []string{sig.Name, "x"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("idle %q, want %q", got, want)
	}
}

// An activation with two Q nodes, one idle and one read by a complete
// unit, is not idle: keeping it in float would take the unit's input too.
func TestIdleActivationsNeedEveryQ(t *testing.T) {
	b, qdq, w := qdqBuilder(t)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	float := b.Op("Conv", qdq(x), w("wf"))
	unit := qdq(b.Op("Conv", qdq(x), w("wu")))
	b.Output(float, b.Op("Relu", unit))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if got := quant.IdleActivations(m); len(got) != 0 {
		t.Errorf("idle %q, want none", got)
	}
}

// qdqBuilder returns a builder, a function giving a value an 8-bit Q/DQ
// pair and one making a dequantized int8 1x1 weight of a given name.
func qdqBuilder(t *testing.T) (*graph.Builder, func(*graph.Value) *graph.Value, func(string) *graph.Value) {
	t.Helper()
	b := graph.NewBuilder(13)
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.1}))
	qdq := func(v *graph.Value) *graph.Value {
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s), s)
	}
	w := func(name string) *graph.Value {
		q, err := graph.NewTensor(name, graph.Int8, []int64{1, 1, 1, 1}, []byte{3})
		if err != nil {
			t.Fatal(err)
		}
		return b.Op("DequantizeLinear", b.Const(q, nil), s)
	}
	return b, qdq, w
}
