// This file holds shape-reads-source: a Shape or Size node reading the
// output of an op that keeps its input's shape (Relu, Sigmoid, Cast...)
// reads that input instead, as far back as such ops go.
//
// Why: torch's x.view(x.size(0), -1) on a batch of unknown size leaves
// Shape(Relu(Conv(...))) in the graph. The Shape is a second reader of
// the Relu's output, so the Relu could not fold into the Conv's output
// QuantizeLinear, and the Conv ran in float. Read from the Conv's output,
// the Shape leaves the Relu one reader; the quantize pass then moves it
// onto the DequantizeLinear (shapesReadDQ), so the Conv's output feeds
// its QuantizeLinear alone, the unit ONNX Runtime fuses.

package passes

import "github.com/onnxq/onnxq/graph"

// shapeKeepingOps are the ops whose first output has the shape of their
// first input, whatever their other inputs (Clip's bounds, PRelu's slope,
// which broadcasts to the input).
var shapeKeepingOps = map[string]bool{
	"Identity": true, "Cast": true, "Dropout": true,
	"Relu": true, "LeakyRelu": true, "PRelu": true, "Clip": true, "Elu": true, "Selu": true, "Celu": true,
	"Sigmoid": true, "HardSigmoid": true, "HardSwish": true, "Tanh": true, "Softplus": true, "Softsign": true,
	"Mish": true, "Gelu": true, "Erf": true, "Abs": true, "Neg": true, "Exp": true, "Log": true,
	"Sqrt": true, "Reciprocal": true, "Floor": true, "Ceil": true, "Round": true, "Sign": true, "Not": true,
	"Sin": true, "Cos": true, "BatchNormalization": true, "InstanceNormalization": true,
}

// ShapeReadsSource returns the shape-reads-source pass.
func ShapeReadsSource() Pass {
	return Pass{
		Name: "shape-reads-source",
		Doc:  "make a Shape or Size read the input of the shape-keeping ops (Relu, Cast...) before it",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			moved := 0
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range g.Nodes {
					if !isShapeRead(n) {
						continue
					}
					v := n.Input(0)
					for range maxScoreTrace {
						p := v.Producer
						if p == nil || p.Graph != g || p.Domain != "" && p.Domain != "ai.onnx" ||
							!shapeKeepingOps[p.OpType] || len(p.Outputs) == 0 || p.Outputs[0] != v || p.Input(0) == nil {
							break
						}
						v = p.Input(0)
					}
					if v != n.Input(0) {
						n.SetInput(0, v)
						moved++
					}
				}
			})
			if moved > 0 {
				ctx.Logf("shape-reads-source: %d Shape/Size nodes read an earlier value of the same shape", moved)
			}
			return moved > 0, nil
		},
	}
}

// isShapeRead tells whether n is a Shape or Size node, which reads only
// its input's shape.
func isShapeRead(n *graph.Node) bool {
	return (n.OpType == "Shape" || n.OpType == "Size") && (n.Domain == "" || n.Domain == "ai.onnx") && n.Input(0) != nil
}

// shapesReadDQ makes each Shape or Size node of m that reads a value
// given a QuantizeLinear/DequantizeLinear pair in its graph read the
// DequantizeLinear's output, of the same shape: the value then feeds only
// its QuantizeLinear, as a fused integer kernel's output must.
func shapesReadDQ(m *graph.Model) {
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if !isShapeRead(n) {
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
