// This file holds infer-shapes: it runs graph.InferShapes over the model
// (subgraphs included), filling in the element type and shape of every
// value it can work out. It needs nothing and never removes what is
// already known; fold-constants relies on it to fold Shape and Size of
// static tensors, and the quantizer reads the shapes it leaves.

package passes

import (
	"github.com/onnxq/onnxq/graph"
)

// InferShapes returns the infer-shapes pass.
func InferShapes() Pass {
	return Pass{
		Name: "infer-shapes",
		Doc:  "infer element types and shapes of every value (graph.InferShapes)",
		Run: func(m *graph.Model, _ *Context) (bool, error) {
			before := shapeSignature(m)
			if err := graph.InferShapes(m); err != nil {
				return false, err
			}
			return shapeSignature(m) != before, nil
		},
	}
}

// shapeSignature counts what is known of the types of node outputs, which
// inference only ever increases.
func shapeSignature(m *graph.Model) int {
	known := 0
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				if v == nil {
					continue
				}
				if v.DType != graph.Undefined {
					known++
				}
				if v.Shape != nil {
					known++
				}
				for _, d := range v.Shape {
					if d.Known() {
						known++
					}
				}
			}
		}
	})
	return known
}
