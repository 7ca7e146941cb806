// This file holds the quantize pass's handling of Shape and Size nodes,
// which read only their input's shape: one reading a quantized value
// reads its DequantizeLinear instead, of the same shape.
//
// Why: torch's x.view(x.size(0), -1) on a batch of unknown size leaves
// Shape(Relu(Conv(...))) beside the Reshape. As a second reader the Shape
// kept the Relu from folding into the Conv's output QuantizeLinear, and a
// Shape reading a Conv's output kept the Conv from feeding its
// QuantizeLinear alone: the Conv ran in float.

package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// isShapeRead tells whether n is a Shape or Size node, which reads only
// its input's shape.
func ReadsOnlyShape(n *graph.Node) bool {
	return (n.OpType == "Shape" || n.OpType == "Size") && (n.Domain == "" || n.Domain == "ai.onnx") && n.Input(0) != nil
}

// shapesReadDQ makes each Shape or Size node of m that reads a value
// given a QuantizeLinear/DequantizeLinear pair in its graph read the
// DequantizeLinear's output, of the same shape: the value then feeds only
// its QuantizeLinear, as a fused integer kernel's output must.
func shapesReadDQ(m *graph.Model) {
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if !ReadsOnlyShape(n) {
				continue
			}
			v := n.Input(0)
		readers:
			for _, q := range v.Consumers {
				if q.OpType != "QuantizeLinear" || q.Graph != g || q.Input(0) != v || len(q.Outputs) == 0 || q.Outputs[0] == nil {
					continue
				}
				for _, dq := range q.Outputs[0].Consumers {
					if dq.OpType == "DequantizeLinear" && dq.Graph == g && len(dq.Outputs) > 0 && dq.Outputs[0] != nil {
						n.SetInput(0, dq.Outputs[0])
						break readers
					}
				}
			}
		}
	})
}

// otherReaders tells whether v has a reader other than the node only and
// the Shape or Size nodes, which can read any value of v's shape.
func otherReaders(v *graph.Value, only *graph.Node) bool {
	return slices.ContainsFunc(v.Consumers, func(c *graph.Node) bool { return c != only && !ReadsOnlyShape(c) })
}
