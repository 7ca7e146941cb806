package graph_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// Clone keeps the shapes and types inference gave the values, which the
// file does not hold: a copy through it must not lose what a pass then
// needs (a GroupNormalization's channel count as the opset rises).
func TestCloneKeepsInferredShapes(t *testing.T) {
	b := graph.NewBuilder(18)
	x := b.Input("x", graph.Float32, 1, 4, 8, 8)
	y := b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{6, 4, 1, 1}, make([]float32, 24)))))
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := graph.InferShapes(m); err != nil {
		t.Fatal(err)
	}
	mid := y.Producer.Input(0)
	if !mid.Shape.Known() {
		t.Fatalf("inference left %s at %v", mid.Name, mid.Shape)
	}
	c, err := graph.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Graph.Value(mid.Name)
	if got == nil || !got.Shape.Equal(mid.Shape) || got.DType != graph.Float32 {
		t.Errorf("clone's %s: %v, want %v float32", mid.Name, got, mid.Shape)
	}
	got.Shape[1].Size = 99
	if mid.Shape[1].Size != 6 {
		t.Error("the clone's shape is the original's slice")
	}
}
