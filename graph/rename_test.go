// rename_test.go checks Graph.Rename: readers and graph outputs follow the
// value, the saved file uses the new name, and conflicts are refused.
package graph_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestRename(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	y := b.Op("Relu", x)
	z := b.Op("Neg", y)
	b.Output(z)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	if err := g.Rename(y, "x"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("renaming onto an existing name: %v", err)
	}
	if err := g.Rename(y, ""); err == nil {
		t.Error("renaming to an empty name succeeded")
	}
	other := graph.NewGraph("other")
	if err := other.Rename(y, "q"); err == nil {
		t.Error("renaming a value of another graph succeeded")
	}
	if err := g.Rename(y, "hidden"); err != nil {
		t.Fatal(err)
	}
	if err := g.Rename(z, "result"); err != nil {
		t.Fatal(err)
	}
	if g.Value("hidden") != y || g.Value(y.Name) != y || g.Value("result") != z {
		t.Fatal("renamed values are not found under their new names")
	}
	if err := g.Verify(); err != nil {
		t.Fatal(err)
	}
	data, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := graph.Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	neg := back.Graph.Nodes[1]
	if neg.Inputs[0].Name != "hidden" || back.Graph.Outputs[0].Name != "result" {
		t.Errorf("after save and load: Neg reads %q, output %q", neg.Inputs[0].Name, back.Graph.Outputs[0].Name)
	}
	// The old name is free again.
	if g.Value(z.Name) == nil || g.UniqueName("hidden") == "hidden" {
		t.Error("scope does not reflect the rename")
	}
}

// A subgraph's own value names are taken in the graphs above it: ONNX
// forbids shadowing, so Rename refuses such a name and UniqueName avoids
// it; a value listed twice as a graph output fails Verify, as Load refuses
// it; a missing model file is still fs.ErrNotExist.
func TestNamesSubgraphsAndOutputs(t *testing.T) {
	g := graph.NewGraph("main")
	c, _ := g.AddInput("c", graph.Bool, graph.Fixed())
	x, _ := g.AddInput("x", graph.Float32, graph.Fixed(2))
	branch := func(name, value string) *graph.Graph {
		sg := graph.NewGraph(name)
		sg.Parent = g
		n := &graph.Node{Name: name + "_neg", OpType: "Neg", Inputs: []*graph.Value{x}}
		if err := sg.AddNode(n, value); err != nil {
			t.Fatal(err)
		}
		sg.AddOutput(n.Outputs[0])
		return sg
	}
	ifNode := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{c},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", branch("then", "inner")), graph.GraphAttr("else_branch", branch("else", "other"))}}
	if err := g.AddNode(ifNode, "y"); err != nil {
		t.Fatal(err)
	}
	g.AddOutput(ifNode.Outputs[0])
	m := graph.NewModel(g, 13)
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := g.Rename(x, "inner"); err == nil || !strings.Contains(err.Error(), "shadow") {
		t.Errorf("Rename to a subgraph's name: %v", err)
	}
	if got := g.UniqueName("other"); got == "other" {
		t.Errorf("UniqueName(%q) = %q, a name the else branch defines", "other", got)
	}
	g.AddOutput(ifNode.Outputs[0])
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("Verify of an output listed twice: %v", err)
	}
	if _, err := graph.Load(filepath.Join(t.TempDir(), "missing.onnx")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, not fs.ErrNotExist", err)
	}
}

// Builder records misuse as its error instead of panicking.
func TestBuilderMisuse(t *testing.T) {
	for name, build := range map[string]func(b *graph.Builder){
		"nil const":      func(b *graph.Builder) { b.Const(nil, nil) },
		"nil attribute":  func(b *graph.Builder) { b.Op("Relu", b.Input("x", graph.Float32, 1), (*graph.Attribute)(nil)) },
		"minus outputs":  func(b *graph.Builder) { b.OpN("Split", -1, b.Input("x", graph.Float32, 2)) },
		"after an error": func(b *graph.Builder) { b.Const(nil, errors.New("x")); b.Const(nil, nil) },
	} {
		b := graph.NewBuilder(17)
		build(b)
		if _, err := b.Model(); err == nil {
			t.Errorf("%s: Model succeeded", name)
		}
	}
}

// Nil arguments are errors (or nothing to do), not panics.
func TestNilArguments(t *testing.T) {
	g := graph.NewGraph("g")
	if g.AddNode(nil, "y") == nil || g.RemoveInitializer(nil) == nil || g.SetConst(nil, nil) == nil {
		t.Error("AddNode, RemoveInitializer or SetConst took nil")
	}
	if _, err := graph.EncodeTensor(nil); err == nil {
		t.Error("EncodeTensor took nil")
	}
	if graph.FixInputShapes(nil, nil) == nil || graph.InferNodes(17, nil) == nil {
		t.Error("FixInputShapes or InferNodes took nil")
	}
	g.ReplaceUses(nil, nil)
	if graph.DumpString(nil) != "" {
		t.Error("DumpString(nil) is not empty")
	}
}

// The names subgraphs define are seen by UniqueName after nodes holding
// subgraphs are added or removed once names were already asked for.
func TestUniqueNameFollowsEdits(t *testing.T) {
	g := graph.NewGraph("main")
	c, _ := g.AddInput("c", graph.Bool, graph.Fixed())
	x, _ := g.AddInput("x", graph.Float32, graph.Fixed(2))
	if got := g.UniqueName("inner"); got != "inner" {
		t.Fatalf("UniqueName before any subgraph: %q", got)
	}
	body := graph.NewGraph("then")
	body.Parent = g
	neg := &graph.Node{Name: "neg", OpType: "Neg", Inputs: []*graph.Value{x}}
	if err := body.AddNode(neg, "inner"); err != nil {
		t.Fatal(err)
	}
	body.AddOutput(neg.Outputs[0])
	ifNode := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{c}, Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", body), graph.GraphAttr("else_branch", body)}}
	if err := g.AddNode(ifNode, "y"); err != nil {
		t.Fatal(err)
	}
	if got := g.UniqueName("inner"); got == "inner" {
		t.Error("UniqueName gave a name the If's body defines, added after a first call")
	}
	if err := g.RemoveNode(ifNode); err != nil {
		t.Fatal(err)
	}
	if got := g.UniqueName("inner"); got != "inner" {
		t.Errorf("UniqueName after the If left: %q", got)
	}
}

// RemoveNodes takes a dead branch out at once, refusing a node a survivor
// reads; RemoveInitializers then drops the weights only it read.
func TestRemoveNodesAtOnce(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2)
	a := b.Op("Relu", x)
	kept := b.Op("Neg", a)
	w := b.Const(graph.FromFloat32s("w", []int64{2}, []float32{1, 2}))
	d := b.Op("Add", a, w)
	e := b.Op("Neg", d)
	b.Output(kept)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	if err := g.RemoveNodes(map[*graph.Node]bool{a.Producer: true}); err == nil {
		t.Error("removed a node the kept Neg reads")
	}
	if err := g.RemoveNodes(map[*graph.Node]bool{d.Producer: true, e.Producer: true}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || len(a.Consumers) != 1 || g.Value(d.Name) != nil {
		t.Errorf("after removing the branch: %d nodes, %d readers of its input", len(g.Nodes), len(a.Consumers))
	}
	if err := g.RemoveInitializers(map[*graph.Value]bool{w: true}); err != nil || len(g.Initializers) != 0 {
		t.Errorf("RemoveInitializers: %v, %d left", err, len(g.Initializers))
	}
	if err := m.Verify(); err != nil {
		t.Error(err)
	}
}

// SameConstant compares two constants by type, shape and data.
func TestSameConstant(t *testing.T) {
	g := graph.NewGraph("g")
	add := func(name string, v float32) *graph.Value {
		tensor, err := graph.FromFloat32s(name, nil, []float32{v})
		if err != nil {
			t.Fatal(err)
		}
		c, err := g.AddInitializer(tensor)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, c := add("a", 0.5), add("b", 0.5), add("c", 0.25)
	x, _ := g.AddInput("x", graph.Float32, graph.Fixed(1))
	if !graph.SameConstant(a, b) || graph.SameConstant(a, c) || graph.SameConstant(a, x) || graph.SameConstant(a, nil) || !graph.SameConstant(nil, nil) {
		t.Error("SameConstant: 0.5 = 0.5, 0.5 ≠ 0.25, ≠ an input, ≠ absent; absent = absent")
	}
}
