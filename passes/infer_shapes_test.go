package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestInferShapes(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 3)
	y := b.Op("Transpose", b.Op("Relu", x))
	b.Output(y)
	m := build(t, b)
	// Forget what the builder inferred.
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				v.DType, v.Shape = graph.Undefined, nil
			}
		}
	})
	if !runPasses(t, m, InferShapes()) {
		t.Error("inference reported no change")
	}
	if got := graph.TypeString(y.DType, y.Shape); got != "float32[3,2]" {
		t.Errorf("output type %s, want float32[3,2]", got)
	}
	if runPasses(t, m, InferShapes()) {
		t.Error("second run reported a change")
	}
	checkGolden(t, "infer-shapes", "transpose", m)
}
