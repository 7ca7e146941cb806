package passes

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// geluModel writes x → MatMul → GELU → MatMul, the GELU in one of the
// forms exporters write, or x·tanh(MatMul of another input) for "other".
func geluModel(t *testing.T, form string) *graph.Model {
	b := graph.NewBuilder(13)
	c := func(name string, v float32) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
	x := b.Op("MatMul", b.Input("x", graph.Float32, 2, 4), f32(b, "w1", 1, 4, 4))
	var y *graph.Value
	switch form {
	case "erf":
		// (x·0.5)·(1+erf(x/√2))
		e := b.Op("Add", b.Op("Erf", b.Op("Div", x, c("sqrt2", float32(math.Sqrt2)))), c("one", 1))
		y = b.Op("Mul", b.Op("Mul", x, c("half", 0.5)), e)
	case "erf2":
		// x·(0.5·(1+erf(x·(1/√2))))
		e := b.Op("Add", b.Op("Erf", b.Op("Mul", x, c("isqrt2", float32(1/math.Sqrt2)))), c("one", 1))
		y = b.Op("Mul", x, b.Op("Mul", e, c("half", 0.5)))
	case "tanh":
		// 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³)))
		inner := b.Op("Add", x, b.Op("Mul", b.Op("Pow", x, c("three", 3)), c("k", 0.044715)))
		th := b.Op("Tanh", b.Op("Mul", inner, c("s", float32(math.Sqrt(2/math.Pi)))))
		y = b.Op("Mul", b.Op("Mul", c("half", 0.5), x), b.Op("Add", th, c("one", 1)))
	case "other":
		z := b.Op("MatMul", b.Input("z", graph.Float32, 2, 4), f32(b, "w3", 3, 4, 4))
		y = b.Op("Mul", x, b.Op("Tanh", z))
	}
	b.Output(b.Op("MatMul", y, f32(b, "w2", 2, 4, 4)))
	return build(t, b)
}

// A decomposed GELU stays float whole: no Q/DQ between its nodes, only on
// its input (the MatMul's unit) and its output (the next MatMul's input).
func TestQuantizeGELUStaysFloat(t *testing.T) {
	for _, form := range []string{"erf", "erf2", "tanh"} {
		m := geluModel(t, form)
		nodes := len(m.Graph.Nodes)
		set := geluNodes(m.Graph)
		if len(set) != nodes-2 {
			t.Errorf("%s: %d GELU nodes, want %d", form, len(set), nodes-2)
		}
		exit := map[*graph.Node]bool{}
		for n := range set {
			for _, c := range n.Outputs[0].Consumers {
				if !set[c] {
					exit[n] = true
				}
			}
		}
		if len(exit) != 1 {
			t.Errorf("%s: %d exits, want 1", form, len(exit))
		}
		r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
		gelu := 0
		for _, f := range r.FP32 {
			if f.Reason == reasonGELU {
				gelu++
			}
		}
		if gelu != len(set) {
			t.Errorf("%s: %d nodes report the GELU reason, want %d", form, gelu, len(set))
		}
		for n := range set {
			for _, c := range n.Outputs[0].Consumers {
				if c.OpType == "QuantizeLinear" && !exit[n] {
					t.Errorf("%s: inner GELU value %s quantized", form, n.Outputs[0].Name)
				}
			}
		}
	}
	// x·tanh(z) with z not from x is no GELU
	if set := geluNodes(geluModel(t, "other").Graph); len(set) != 0 {
		t.Errorf("x·tanh(z): %d GELU nodes, want 0", len(set))
	}
}
