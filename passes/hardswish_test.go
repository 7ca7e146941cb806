package passes

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// hardSwishForm builds x → Conv → a hard-swish-like function of the Conv's
// output in the named form → Conv, at the given opset. The function's
// output is named "act".
func hardSwishForm(t *testing.T, opset int64, form string) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(opset)
	c := func(name string, v float32) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
	x := b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 5, 5), f32(b, "w1", 1, 4, 4, 1, 1))
	gate := func(shift float32) *graph.Value {
		return b.Op("Clip", b.Op("Add", x, c("k", shift)), c("lo", 0), c("hi", 6))
	}
	var y *graph.Value
	switch form {
	case "paddle": // x·Clip(x+3, 0, 6)/6
		y = b.Op("Div", b.Op("Mul", x, gate(3)), c("six", 6))
	case "gate-scaled": // x·(Clip(3+x, 0, 6)/6)
		g := b.Op("Clip", b.Op("Add", c("k", 3), x), c("lo", 0), c("hi", 6))
		y = b.Op("Mul", b.Op("Div", g, c("six", 6)), x)
	case "hardsigmoid": // HardSigmoid(x; 1/6, 1/2)·x
		y = b.Op("Mul", b.Op("HardSigmoid", x, graph.FloatAttr("alpha", 1.0/6), graph.FloatAttr("beta", 0.5)), x)
	case "relu6": // x·Min(Relu(x+3), 6)·(1/6)
		y = b.Op("Mul", b.Op("Mul", x, b.Op("Min", b.Op("Relu", b.Op("Add", x, c("k", 3))), c("hi", 6))), c("sixth", 1.0/6))
	case "hardsigmoid-0.2": // the default HardSigmoid slope is no hard-swish
		y = b.Op("Mul", x, b.Op("HardSigmoid", x))
	case "shift-2":
		y = b.Op("Div", b.Op("Mul", x, gate(2)), c("six", 6))
	case "div-5":
		y = b.Op("Div", b.Op("Mul", x, gate(3)), c("five", 5))
	case "gate-read": // the gate is read outside the hard-swish too
		g := gate(3)
		y = b.Op("Div", b.Op("Mul", x, g), c("six", 6))
		b.Output(g)
	case "channel-shift": // a per-channel constant
		y = b.Op("Div", b.Op("Mul", x, b.Op("Clip", b.Op("Add", x, b.Const(graph.FromFloat32s("k", []int64{4, 1, 1}, []float32{3, 3, 3, 3}))), c("lo", 0), c("hi", 6))), c("six", 6))
	default:
		t.Fatalf("unknown form %q", form)
	}
	if err := b.Graph().Rename(y, "act"); err != nil {
		t.Fatal(err)
	}
	b.Output(b.Op("Conv", y, f32(b, "w2", 2, 4, 4, 1, 1)))
	return build(t, b)
}

// spreadInput is an input for hardSwishForm's models whose Conv outputs
// cross both bends of a hard-swish.
func spreadInput() map[string]*runtime.Tensor {
	xs := make([]float32, 100)
	for i := range xs {
		xs[i] = 16*float32(i)/99 - 8
	}
	return map[string]*runtime.Tensor{"x": runtime.FromFloat32([]int{1, 4, 5, 5}, xs)}
}

// Every exporter's form of hard-swish becomes one HardSwish node reading
// the Conv's output, named as the form's output was, with the model's
// outputs unchanged and the opset raised from 13 to 14; look-alikes that
// compute something else, or whose parts are read elsewhere, stay.
func TestFuseHardSwish(t *testing.T) {
	for _, form := range []string{"paddle", "gate-scaled", "hardsigmoid", "relu6"} {
		m := hardSwishForm(t, 13, form)
		f, err := FuseHardSwish(m, true)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if len(f.Fused) != 1 || f.OpsetFrom != 13 || f.OpsetTo != 14 || mainOpset(m) != 14 {
			t.Fatalf("%s: fused %d, opset %d -> %d (model %d); want 1, 13 -> 14", form, len(f.Fused), f.OpsetFrom, f.OpsetTo, mainOpset(m))
		}
		var ops []string
		for _, n := range m.Graph.Nodes {
			ops = append(ops, n.OpType)
		}
		if !slices.Equal(ops, []string{"Conv", "HardSwish", "Conv"}) {
			t.Errorf("%s: nodes %v, want Conv, HardSwish, Conv", form, ops)
		}
		h := m.Graph.Nodes[1]
		if h.Input(0) != m.Graph.Nodes[0].Outputs[0] || h.Outputs[0].Name != "act" || m.Graph.Nodes[2].Input(0) != h.Outputs[0] {
			t.Errorf("%s: HardSwish reads %q and writes %q, read by the last Conv: %v", form, h.Input(0).Name, h.Outputs[0].Name, m.Graph.Nodes[2].Input(0) == h.Outputs[0])
		}
		if len(f.Fused[0].Replaced) < 2 || f.Fused[0].Node != h.Name {
			t.Errorf("%s: report %+v, HardSwish node %q", form, f.Fused, h.Name)
		}
		sameOutputs(t, hardSwishForm(t, 13, form), m, spreadInput(), 1e-5)
	}
	for _, form := range []string{"hardsigmoid-0.2", "shift-2", "div-5", "gate-read", "channel-shift"} {
		m := hardSwishForm(t, 13, form)
		nodes := len(m.Graph.Nodes)
		f, err := FuseHardSwish(m, true)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if len(f.Fused) != 0 || len(m.Graph.Nodes) != nodes || mainOpset(m) != 13 {
			t.Errorf("%s: fused %d, %d nodes (was %d), opset %d; want it left alone", form, len(f.Fused), len(m.Graph.Nodes), nodes, mainOpset(m))
		}
	}
}

// The opset decides: 14 and later fuse as they are, 13 only when raising
// is allowed, earlier ones never (their ops would need rewriting).
func TestFuseHardSwishOpset(t *testing.T) {
	for _, c := range []struct {
		opset int64
		raise bool
		fused int
		after int64
	}{
		{13, false, 0, 13}, {12, true, 0, 12}, {14, false, 1, 14}, {17, true, 1, 17},
	} {
		m := hardSwishForm(t, c.opset, "paddle")
		f, err := FuseHardSwish(m, c.raise)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Fused) != c.fused || mainOpset(m) != c.after {
			t.Errorf("opset %d, raise %v: fused %d, opset %d; want %d, %d", c.opset, c.raise, len(f.Fused), mainOpset(m), c.fused, c.after)
		}
	}
}

// In a quantized model the HardSwish takes the place of the elementwise
// ops between the Conv (or the DequantizeLinear of its output) and the
// QuantizeLinear of the next Conv's input, and the report lists it, not
// its Div, as FP32.
func TestFuseHardSwishQuantized(t *testing.T) {
	m := hardSwishForm(t, 13, "paddle")
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Div" }) {
		t.Fatalf("the Div is not listed as FP32 before fusing: %+v", r.FP32)
	}
	f, err := FuseHardSwish(m, true)
	if err != nil {
		t.Fatal(err)
	}
	r.NoteHardSwish(f)
	if len(f.Fused) != 1 || r.OpsetTo != 14 {
		t.Fatalf("fused %d, report opset %d; want 1, 14", len(f.Fused), r.OpsetTo)
	}
	if slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Div" }) || !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "HardSwish" && f.Reason == reasonFusedHardSwish }) {
		t.Errorf("FP32 list after fusing: %+v", r.FP32)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "HardSwish" {
			continue
		}
		in, out := n.Input(0).Producer, n.Outputs[0].Consumers
		if in == nil || in.OpType != "DequantizeLinear" && in.OpType != "Conv" || len(out) != 1 || out[0].OpType != "QuantizeLinear" {
			t.Errorf("HardSwish reads %q and is read by %d nodes; want the Conv's output and one QuantizeLinear", n.Input(0).Name, len(out))
		}
		return
	}
	t.Error("no HardSwish node")
}

// A copy of a model that kept no intermediate types (graph.Clone of a
// quantized model, as the fallback makes) still has its hard-swish fused.
func TestFuseHardSwishUnknownTypes(t *testing.T) {
	m := hardSwishForm(t, 14, "paddle")
	for _, n := range m.Graph.Nodes {
		for _, o := range n.Outputs {
			o.DType, o.Shape = graph.Undefined, nil
		}
	}
	f, err := FuseHardSwish(m, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Fused) != 1 {
		t.Errorf("fused %d hard-swishes, want 1", len(f.Fused))
	}
}

// A Mul by a per-channel constant after a hard-swish is no part of it
// (its constant is no scalar): the hard-swish before it is still fused.
func TestFuseHardSwishBeforeChannelMul(t *testing.T) {
	b := graph.NewBuilder(14)
	x := b.Input("x", graph.Float32, 1, 2, 3, 3)
	gate := b.Op("Clip", b.Op("Add", x, scalar(b, "three", 3)), scalar(b, "zero", 0), scalar(b, "six", 6))
	h := b.Op("Div", b.Op("Mul", x, gate), scalar(b, "six2", 6))
	k := b.Const(graph.FromFloat32s("k", []int64{2, 1, 1}, []float32{0.5, 4}))
	b.Output(b.Op("Mul", h, k))
	m := build(t, b)
	before := clone(t, m)
	f, err := FuseHardSwish(m, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Fused) != 1 {
		t.Fatalf("fused %d hard-swishes, want 1", len(f.Fused))
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(0.4, 1, 2, 3, 3)}, 1e-6)
}
