package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

func TestRemoveDeadNodes(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 3)
	unused := f32(b, "unused", 1, 3)
	_ = unused
	id := b.Op("Identity", x)
	drop := b.Op("Dropout", b.Op("Relu", id))
	dead := b.Op("Sigmoid", b.Op("Exp", drop)) // nothing reads it
	keep := b.Op("Identity", drop)             // a graph output: stays
	b.Output(keep, b.Op("Neg", drop))
	m := build(t, b)
	m.Graph.ValueInfos = append(m.Graph.ValueInfos, dead, drop)
	before := clone(t, m)
	if !runPasses(t, m, RemoveDeadNodes()) {
		t.Fatal("no change reported")
	}
	if len(m.Graph.ValueInfos) != 0 {
		t.Errorf("value_info of removed values kept: %d", len(m.Graph.ValueInfos))
	}
	ops := map[string]int{}
	for _, n := range m.Graph.Nodes {
		ops[n.OpType]++
	}
	if len(m.Graph.Nodes) != 3 || ops["Relu"] != 1 || ops["Identity"] != 1 || ops["Neg"] != 1 {
		t.Errorf("nodes left: %v", ops)
	}
	if len(m.Graph.Initializers) != 0 {
		t.Errorf("%d initializers left", len(m.Graph.Initializers))
	}
	if m.Graph.Outputs[0].Name != keep.Name {
		t.Error("graph output renamed")
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(1, 2, 3)}, 0)
	checkGolden(t, "remove-dead-nodes", "main", m)
	if runPasses(t, m, RemoveDeadNodes()) {
		t.Error("second run reported a change")
	}
}

// From IR 4 an initializer listed as an input is a default the caller may
// override, and stays; before IR 4 every initializer is listed, and an
// unread one goes, with its entry in the inputs.
func TestRemoveDeadNodesKeepsInputInitializer(t *testing.T) {
	for _, ir := range []int64{3, 4} {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 2)
		b.Output(b.Op("Relu", x))
		m := build(t, b)
		m.IRVersion = ir
		v, err := m.Graph.AddInitializer(must(graph.FromFloat32s("default", []int64{2}, []float32{1, 2})))
		if err != nil {
			t.Fatal(err)
		}
		m.Graph.Inputs = append(m.Graph.Inputs, v)
		runPasses(t, m, RemoveDeadNodes())
		kept := 1
		if ir < 4 {
			kept = 0
		}
		if len(m.Graph.Initializers) != kept || len(m.Graph.Inputs) != 1+kept {
			t.Errorf("IR %d: %d initializers, %d inputs left; want %d and %d", ir, len(m.Graph.Initializers), len(m.Graph.Inputs), kept, 1+kept)
		}
	}
}

func TestRemoveDeadNodesSubgraph(t *testing.T) {
	// Inside the If branches: a dead node reading an outer value, and a live
	// one reading another outer value, which must keep its producer alive.
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	cond := b.Input("cond", graph.Bool)
	outerLive := b.Op("Exp", x)
	outerDead := b.Op("Sigmoid", x) // only read by dead subgraph nodes
	g := b.Graph()
	branch := func(name string) *graph.Graph {
		sg := graph.NewGraph(name)
		sg.Parent = g
		d := &graph.Node{Name: name + "_dead", OpType: "Neg", Inputs: []*graph.Value{outerDead}}
		if err := sg.AddNode(d, name+"_dead_out"); err != nil {
			t.Fatal(err)
		}
		l := &graph.Node{Name: name + "_live", OpType: "Abs", Inputs: []*graph.Value{outerLive}}
		if err := sg.AddNode(l, name+"_live_out"); err != nil {
			t.Fatal(err)
		}
		sg.AddOutput(l.Outputs[0])
		return sg
	}
	n := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{cond},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", branch("then")), graph.GraphAttr("else_branch", branch("else"))}}
	if err := g.AddNode(n, "if_out"); err != nil {
		t.Fatal(err)
	}
	b.Output(n.Outputs[0])
	m := build(t, b)
	before := clone(t, m)
	runPasses(t, m, RemoveDeadNodes())
	if outerLive.Producer == nil || outerLive.Producer.Graph != g {
		t.Error("a value read inside a subgraph lost its producer")
	}
	if outerDead.Producer != nil || len(outerDead.Consumers) != 0 {
		t.Error("a value read only by dead subgraph nodes kept its producer")
	}
	for _, sg := range n.Subgraphs() {
		if len(sg.Nodes) != 1 {
			t.Errorf("subgraph %s has %d nodes, want 1", sg.Name, len(sg.Nodes))
		}
	}
	feeds := map[string]*runtime.Tensor{"x": input(1, 2), "cond": {DType: graph.Bool, Shape: []int{}, Data: []bool{true}}}
	sameOutputs(t, before, m, feeds, 0)
	checkGolden(t, "remove-dead-nodes", "subgraph", m)
}
