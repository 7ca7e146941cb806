package graph_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// A value_info that contradicts the ops (an exporter's, left from before
// an edit) gives way to the inferred shape: a Relu of a [1,4,6,6] Conv
// output declared [1,7,3,3] is [1,4,6,6].
func TestInferShapesOverridesStaleValueInfo(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	c := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{4, 2, 1, 1}, make([]float32, 8))))
	r := b.Op("Relu", c)
	b.Output(b.Op("Relu", r))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	r.DType, r.Shape = graph.Float32, graph.Fixed(1, 7, 3, 3)
	m.Graph.ValueInfos = append(m.Graph.ValueInfos, r)
	data, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = graph.Decode(data, ""); err != nil {
		t.Fatal(err)
	}
	if err := graph.InferShapes(m); err != nil {
		t.Fatal(err)
	}
	if got := m.Graph.Value(r.Name).Shape; !got.Equal(graph.Fixed(1, 4, 6, 6)) {
		t.Fatalf("%s is %v, want [1 4 6 6]", r.Name, got)
	}
}
