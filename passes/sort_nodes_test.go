package passes

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// A graph whose Relu is listed before the Conv making its input comes out
// of sort-nodes in dependency order, and a sorted graph is left alone.
func TestSortNodes(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c := b.Op("Conv", x, f32(b, "w", 1, 3, 2, 1, 1))
	b.Output(b.Op("Relu", c))
	m := build(t, b)
	if changed, err := SortNodes().Run(m, &Context{}); err != nil || changed {
		t.Fatalf("sorted graph: changed %v, err %v", changed, err)
	}
	g := m.Graph
	slices.Reverse(g.Nodes)
	if g.IsTopological() {
		t.Fatal("the reversed graph should be out of order")
	}
	changed, err := SortNodes().Run(m, &Context{})
	if err != nil || !changed || !g.IsTopological() || g.Nodes[0].OpType != "Conv" {
		t.Fatalf("changed %v, err %v, order %v %v", changed, err, g.Nodes[0].OpType, g.Nodes[1].OpType)
	}
}

// Two nodes named "conv" (ONNX Runtime refuses such a graph) come out
// named "conv" and "conv_1"; unnamed nodes stay unnamed.
func TestUniqueNodeNames(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c1 := b.Op("Conv", x, f32(b, "w", 1, 2, 2, 1, 1))
	c2 := b.Op("Conv", b.Op("Relu", c1), f32(b, "w2", 2, 2, 2, 1, 1))
	b.Output(c2)
	m := build(t, b)
	c1.Producer.Name, c2.Producer.Name = "conv", "conv"
	relu := c2.Producer.Input(0).Producer
	relu.Name = ""
	if changed, err := UniqueNodeNames().Run(m, &Context{}); err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	if c1.Producer.Name != "conv" || c2.Producer.Name != "conv_1" || relu.Name != "" {
		t.Fatalf("names %q %q %q", c1.Producer.Name, relu.Name, c2.Producer.Name)
	}
}
