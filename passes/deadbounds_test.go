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
