// rename_test.go checks Graph.Rename: readers and graph outputs follow the
// value, the saved file uses the new name, and conflicts are refused.
package graph_test

import (
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
