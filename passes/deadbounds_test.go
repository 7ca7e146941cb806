// deadbounds_test.go checks the bounds DeadBounds derives from clamping
// readers.
package passes_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

// deadModel: x -> Conv -> a -> LeakyRelu(0.2) -> l -> Max(-0.4) -> m ->
// MaxPool -> p -> Clip(-1, 6) -> c; a also feeds a Reshape -> Relu -> r;
// y -> Sigmoid -> s, y -> Relu. Outputs c, r, s and the Relu of y.
func deadModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	y := b.Input("y", graph.Float32, 1, 4)
	w := b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{1}))
	a := b.Op("Conv", x, w)
	l := b.Op("LeakyRelu", a, graph.FloatAttr("alpha", 0.2))
	mx := b.Op("Max", l, b.Const(graph.FromFloat32s("floor", nil, []float32{-0.4})))
	p := b.Op("MaxPool", mx, graph.IntsAttr("kernel_shape", 2, 2))
	c := b.Op("Clip", p, b.Const(graph.FromFloat32s("lo", nil, []float32{-1})), b.Const(graph.FromFloat32s("hi", nil, []float32{6})))
	rs := b.Op("Reshape", a, b.Const(graph.FromInt64s("shape", []int64{2}, []int64{1, 16})))
	r := b.Op("Relu", rs)
	s := b.Op("Sigmoid", y)
	ry := b.Op("Relu", y)
	b.Output(c, r, s, ry)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeadBounds(t *testing.T) {
	m := deadModel(t)
	name := map[string]string{}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Relu" || n.Input(0).Name != "y" {
			name[n.OpType] = n.Outputs[0].Name
		}
	}
	got := passes.DeadBounds(m)
	inf := math.Inf(1)
	want := map[string]passes.Bounds{
		// a reaches Relu (below 0 dead) through Reshape and the LeakyRelu
		// whose Max makes everything below -0.4/0.2 alike: the hull of
		// both readers.
		name["Conv"]:      {-2, inf},
		name["LeakyRelu"]: {-0.4, 6},
		name["Max"]:       {-1, 6},
		name["MaxPool"]:   {-1, 6},
		name["Reshape"]:   {0, inf},
	}
	for v, b := range want {
		if g, ok := got[v]; !ok || math.Abs(g.Lo-b.Lo) > 1e-6 || g.Hi != b.Hi {
			t.Errorf("%s: bounds %v (found %v), want %v", v, g, ok, b)
		}
	}
	// y feeds a Sigmoid, which tells every value apart; graph outputs
	// are read outside the graph.
	for _, v := range []string{"y", name["Clip"], name["Relu"], name["Sigmoid"]} {
		if b, ok := got[v]; ok {
			t.Errorf("%s is bounded %v", v, b)
		}
	}
	if len(passes.DeadBounds(nil)) != 0 {
		t.Error("a nil model has bounds")
	}
}

// A hard-swish, x times a gate of x that is 0 below a point, makes every
// x below that point alike: x·Clip(x+3, 0, 6)/6 (the 3 from a Constant
// node, as unprepared models hold it), x·HardSigmoid(x) and HardSwish.
// A third reader of x tells its values apart again.
func TestDeadBoundsHardSwish(t *testing.T) {
	b := graph.NewBuilder(17)
	in := b.Input("in", graph.Float32, 1, 4)
	k := func(name string, v float32) *graph.Value {
		return b.Const(graph.FromFloat32s(name, nil, []float32{v}))
	}
	t3, err := graph.FromFloat32s("three", nil, []float32{3})
	if err != nil {
		t.Fatal(err)
	}
	three := b.Op("Constant", graph.TensorAttr("value", t3))
	x1, x2, x3, x4 := b.Op("Neg", in), b.Op("Sin", in), b.Op("Cos", in), b.Op("Abs", in)
	gate := b.Op("Clip", b.Op("Add", x1, three), k("zero", 0), k("six", 6))
	out1 := b.Op("Div", b.Op("Mul", x1, gate), k("div", 6))
	out2 := b.Op("Mul", b.Op("HardSigmoid", x2, graph.FloatAttr("alpha", 0.2), graph.FloatAttr("beta", 0.5)), x2)
	out3 := b.Op("HardSwish", x3)
	out4 := b.Op("Mul", x4, b.Op("Clip", b.Op("Add", x4, k("three4", 3)), k("zero4", 0), k("six4", 6)))
	b.Output(out1, out2, out3, out4, b.Op("Sigmoid", x4))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	got := passes.DeadBounds(m)
	inf := math.Inf(1)
	for v, want := range map[*graph.Value]passes.Bounds{x1: {-3, inf}, x2: {-2.5, inf}, x3: {-3, inf}} {
		if g, ok := got[v.Name]; !ok || math.Abs(g.Lo-want.Lo) > 1e-6 || g.Hi != want.Hi {
			t.Errorf("%s (%s): bounds %v (found %v), want %v", v.Name, v.Consumers[0].OpType, g, ok, want)
		}
	}
	if g, ok := got[x4.Name]; ok {
		t.Errorf("x4, also read by a Sigmoid, is bounded %v", g)
	}
}
