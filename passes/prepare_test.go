package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

func TestPrepareOrder(t *testing.T) {
	list := PreparePasses()
	if err := CheckOrder(list, PrepareOrder); err != nil {
		t.Fatal(err)
	}
	for _, c := range PrepareOrder {
		found := 0
		for _, p := range list {
			if p.Name == c[0] || p.Name == c[1] {
				found++
			}
		}
		if found != 2 {
			t.Errorf("constraint %v names a pass that is not in the pipeline", c)
		}
	}
	for _, p := range list {
		if p.Doc == "" || p.Run == nil {
			t.Errorf("pass %s lacks a Doc or Run", p.Name)
		}
	}
}

// A small network exercising every prepare pass at once: a Constant node,
// a Shape-driven Reshape, a Conv+BN, an Identity, and dead code.
func TestPreparePipeline(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 6, 6)
	w := f32(b, "w", 1, 4, 3, 3, 3)
	bias := f32(b, "b", 2, 4)
	conv := b.Op("Conv", x, w, bias, graph.IntsAttr("pads", 1, 1, 1, 1))
	bn := b.Op("BatchNormalization", conv, f32(b, "scale", 3, 4), f32(b, "beta", 4, 4), f32(b, "mean", 5, 4),
		b.Const(graph.FromFloat32s("var", []int64{4}, []float32{0.5, 1, 2, 0.1})))
	relu := b.Op("Identity", b.Op("Relu", bn))
	shape := b.Op("Shape", relu)
	c := b.Op("Constant", graph.TensorAttr("value", must(graph.FromInt64s("", []int64{1}, []int64{-1}))))
	flat := b.Op("Reshape", relu, b.Op("Concat", b.Op("Slice", shape, b.Const(graph.FromInt64s("s0", []int64{1}, []int64{0})),
		b.Const(graph.FromInt64s("s1", []int64{1}, []int64{1}))), c, graph.IntAttr("axis", 0)))
	b.Op("Sigmoid", x) // dead
	b.Output(flat)
	m := build(t, b)
	before := clone(t, m)
	if err := Run(m, nil, PreparePasses(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Conv" && n.OpType != "Relu" && n.OpType != "Reshape" {
			t.Errorf("node %s (%s) survived preparation", n.Name, n.OpType)
		}
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(0, 1, 3, 6, 6)}, 1e-5)
	checkGolden(t, "prepare", "pipeline", m)
}

func must(t *graph.Tensor, err error) *graph.Tensor {
	if err != nil {
		panic(err)
	}
	return t
}

func TestInitializersNotInputs(t *testing.T) {
	for _, ir := range []int64{3, 8} {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 2)
		w := f32(b, "w", 1, 2)
		b.Output(b.Op("Add", x, w))
		m := build(t, b)
		m.IRVersion = ir
		m.Graph.Inputs = append(m.Graph.Inputs, w)
		changed := runPasses(t, m, InitializersNotInputs())
		if changed != (ir >= 4) || (len(m.Graph.Inputs) == 1) != (ir >= 4) {
			t.Errorf("IR %d: changed %v, %d inputs left", ir, changed, len(m.Graph.Inputs))
		}
		if ir >= 4 && m.Graph.Inputs[0] != x {
			t.Errorf("IR %d: the real input was dropped", ir)
		}
	}
}
