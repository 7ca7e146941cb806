package passes

import (
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// ifModel returns a model whose If branches each hold a Constant node, one
// read by a node and one returned directly.
func ifModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	cond := b.Input("cond", graph.Bool)
	g := b.Graph()
	branch := func(name string, v float32) *graph.Graph {
		sg := graph.NewGraph(name)
		sg.Parent = g
		k := &graph.Node{Name: name + "_k", OpType: "Constant", Attrs: []*graph.Attribute{graph.FloatsAttr("value_floats", v, v)}}
		if err := sg.AddNode(k, name+"_k_out"); err != nil {
			t.Fatal(err)
		}
		add := &graph.Node{Name: name + "_add", OpType: "Add", Inputs: []*graph.Value{x, k.Outputs[0]}}
		if err := sg.AddNode(add, name+"_sum"); err != nil {
			t.Fatal(err)
		}
		sg.AddOutput(add.Outputs[0])
		return sg
	}
	then, els := branch("then", 1), branch("else", -1)
	n := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{cond},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", then), graph.GraphAttr("else_branch", els)}}
	if err := g.AddNode(n, "if_out"); err != nil {
		t.Fatal(err)
	}
	b.Output(n.Outputs[0])
	return build(t, b)
}

func TestConstantNodesToInitializers(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	k1 := b.Op("Constant", graph.FloatAttr("value_float", 2))
	k2 := b.Op("Constant", graph.TensorAttr("value", must(graph.FromFloat32s("", []int64{2}, []float32{3, 4}))))
	k3 := b.Op("Constant", graph.IntsAttr("value_ints", 2))
	kOut := b.Op("Constant", graph.IntAttr("value_int", 7))
	y := b.Op("Reshape", b.Op("Add", b.Op("Mul", x, k1), k2), k3)
	b.Output(y, kOut)
	m := build(t, b)
	before := clone(t, m)
	if !runPasses(t, m, ConstantNodesToInitializers()) {
		t.Fatal("no change reported")
	}
	if got := len(m.Graph.Nodes); got != 4 { // Mul, Add, Reshape, and the Constant that is an output
		t.Errorf("%d nodes left, want 4", got)
	}
	for _, v := range []*graph.Value{k1, k2, k3} {
		if m.Graph.Value(v.Name) != v || v.Const == nil || v.Producer != nil {
			t.Errorf("%s did not become an initializer under its own name", v.Name)
		}
	}
	if kOut.Producer == nil {
		t.Error("a Constant that is a graph output became an initializer")
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(1, 2)}, 0)
	checkGolden(t, "constant-nodes-to-initializers", "main", m)

	m = ifModel(t)
	before = clone(t, m)
	runPasses(t, m, ConstantNodesToInitializers())
	for _, sg := range m.Graph.Nodes[0].Subgraphs() {
		if len(sg.Initializers) != 1 || len(sg.Nodes) != 1 {
			t.Errorf("subgraph %s: %d initializers, %d nodes; want 1, 1", sg.Name, len(sg.Initializers), len(sg.Nodes))
		}
	}
	if len(m.Graph.Initializers) != 0 {
		t.Error("a subgraph constant moved to the main graph")
	}
	for _, c := range []bool{true, false} {
		feeds := map[string]*runtime.Tensor{"x": input(2, 2), "cond": {DType: graph.Bool, Shape: []int{}, Data: []bool{c}}}
		sameOutputs(t, before, m, feeds, 0)
	}
	checkGolden(t, "constant-nodes-to-initializers", "subgraph", m)
}

func TestFoldConstants(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 4)
	w := b.Op("Mul", b.Op("Add", f32(b, "a", 1, 4, 3), f32(b, "c", 2, 4, 3)), f32(b, "s", 3, 1))
	mm := b.Op("MatMul", x, w)
	// Shape of a static value folds; so does the Reshape target built from it.
	shp := b.Op("Shape", mm)
	r := b.Op("Reshape", mm, shp)
	// Not folded: dequantize, a node reading an input.
	dq := b.Op("DequantizeLinear", b.Const(graph.NewTensor("q", graph.Int8, []int64{3}, []byte{1, 2, 3})),
		b.Const(graph.FromFloat32s("qs", []int64{}, []float32{0.5})))
	y := b.Op("Add", b.Op("Add", r, b.Op("Mul", mm, b.Const(graph.FromFloat32s("two", []int64{}, []float32{2})))), dq)
	// A constant node that is a graph output stays a node.
	out2 := b.Op("Neg", f32(b, "n", 4, 2))
	b.Output(y, out2)
	m := build(t, b)
	before := clone(t, m)
	if !runPasses(t, m, FoldConstants()) {
		t.Fatal("no change reported")
	}
	ops := map[string]int{}
	for _, n := range m.Graph.Nodes {
		ops[n.OpType]++
	}
	if ops["Mul"] != 1 || ops["Add"] != 2 || ops["Shape"] != 0 || ops["DequantizeLinear"] != 1 || ops["Neg"] != 1 {
		t.Errorf("ops after folding: %v", ops)
	}
	if w.Const == nil || w.Producer != nil || m.Graph.Value(w.Name) != w {
		t.Error("the weight expression did not become an initializer under its name")
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(1, 2, 4)}, 0)
	checkGolden(t, "fold-constants", "chain", m)
}

// The rank test of an If's condition (Size of an input whose shape is
// static, compared with a constant) stays as written, so the If is left
// for the runtime to decide as the model has it; a Size read by others
// still folds.
func TestFoldConstantsKeepsIfCondition(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	g := b.Graph()
	rank := b.Op("Size", x)
	cond := b.Op("Equal", rank, b.Const(graph.FromInt64s("two", []int64{}, []int64{2})))
	branch := func(name, op string) *graph.Graph {
		sg := graph.NewGraph(name)
		sg.Parent = g
		n := &graph.Node{Name: name + "_op", OpType: op, Inputs: []*graph.Value{x}}
		if err := sg.AddNode(n, name+"_out"); err != nil {
			t.Fatal(err)
		}
		sg.AddOutput(n.Outputs[0])
		return sg
	}
	n := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{cond},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", branch("then", "Neg")), graph.GraphAttr("else_branch", branch("else", "Abs"))}}
	if err := g.AddNode(n, "if_out"); err != nil {
		t.Fatal(err)
	}
	count := b.Op("Cast", b.Op("Size", x), graph.IntAttr("to", int64(graph.Float32)))
	b.Output(b.Op("Add", n.Outputs[0], count))
	m := build(t, b)
	before := clone(t, m)
	runPasses(t, m, FoldConstants())
	if cond.Producer == nil || rank.Producer == nil {
		t.Error("the If's condition was folded to a constant")
	}
	if count.Producer != nil {
		t.Error("a Size no If reads was not folded")
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(1, 2)}, 0)
}

func TestFoldConstantsKeepsRandom(t *testing.T) {
	b := graph.NewBuilder(17)
	rnd := b.Op("RandomNormalLike", f32(b, "like", 1, 2, 3))
	b.Output(b.Op("Relu", rnd))
	m := build(t, b)
	if runPasses(t, m, FoldConstants()) {
		t.Error("a random op was folded")
	}
}

func TestFoldConstantsCap(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1)
	big := b.Op("ConstantOfShape", b.Const(graph.FromInt64s("shape", []int64{1}, []int64{MaxFoldElements + 1})))
	small := b.Op("ConstantOfShape", b.Const(graph.FromInt64s("shape2", []int64{1}, []int64{3})))
	b.Output(b.Op("Add", x, b.Op("ReduceSum", big, b.Const(graph.FromInt64s("ax", []int64{1}, []int64{0})))), b.Op("Relu", small))
	m := build(t, b)
	runPasses(t, m, FoldConstants())
	if big.Producer == nil {
		t.Error("an output over the cap was folded")
	}
	if small.Producer != nil {
		t.Error("a small ConstantOfShape was not folded")
	}
}

func TestFoldConstantsBadNodeAndShapeSlice(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 3, 4)
	// A Reshape that cannot run: left as a node, the pass logs it.
	bad := b.Op("Reshape", f32(b, "six", 1, 6), b.Const(graph.FromInt64s("four", []int64{1}, []int64{4})))
	tail := b.Op("Shape", x, graph.IntAttr("start", -2))
	mid := b.Op("Shape", x, graph.IntAttr("start", 1), graph.IntAttr("end", 2))
	size := b.Op("Size", x)
	b.Output(b.Op("Identity", bad), b.Op("Identity", tail), b.Op("Identity", mid), b.Op("Identity", size))
	model, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if err := Run(model, &Context{Log: &log}, []Pass{FoldConstants()}, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if bad.Producer == nil || !strings.Contains(log.String(), "left unfolded") {
		t.Errorf("the failing Reshape was folded or not reported: %q", log.String())
	}
	for v, want := range map[*graph.Value][]int64{tail: {3, 4}, mid: {3}, size: {24}} {
		if v.Const == nil {
			t.Errorf("%s not folded", v.Name)
			continue
		}
		got, _ := v.Const.Int64s()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", v.Name, got, want)
		}
	}
}

// A fold that would store a tensor many times the size of its inputs (a
// bias expanded to a feature map) is left to run, unless a weighted op
// reads the result as its weight; small or non-growing folds still fold.
func TestFoldConstantsGrowth(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 8, 32, 32)
	bias := b.Const(graph.FromFloat32s("bias", []int64{1, 8, 1, 1}, make([]float32, 8)))
	wide := b.Op("Expand", bias, b.Const(graph.FromInt64s("to_map", []int64{4}, []int64{1, 8, 32, 32})))
	small := b.Op("Expand", bias, b.Const(graph.FromInt64s("to_row", []int64{4}, []int64{1, 8, 1, 4})))
	// a 3x3 weight expanded from one kernel per output channel: read as
	// a Conv weight, it folds and is quantized as one
	kernel := b.Const(graph.FromFloat32s("kernel", []int64{8, 1, 3, 3}, make([]float32, 72)))
	weight := b.Op("Expand", kernel, b.Const(graph.FromInt64s("to_w", []int64{4}, []int64{8, 8, 3, 3})))
	conv := b.Op("Conv", x, weight, graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(b.Op("Add", conv, wide), b.Op("Relu", small))
	m := build(t, b)
	runPasses(t, m, FoldConstants())
	if wide.Producer == nil {
		t.Error("an Expand of 8 values to 8,192 was folded")
	}
	if small.Producer != nil {
		t.Error("a small Expand was not folded")
	}
	if weight.Producer != nil {
		t.Error("an Expand read as a Conv weight (576 values from 72) was not folded")
	}
}
