package passes

import "github.com/onnxq/onnxq/graph"

// SortNodes puts the nodes of a graph listed out of dependency order (the
// ONNX format requires the order; some writers break it) in an order
// where each follows the producers of its inputs, so that the passes
// after it, and the model onnxq writes, see a valid graph.
func SortNodes() Pass {
	return Pass{
		Name: "sort-nodes",
		Doc:  "nodes listed before the producers of their inputs are reordered",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			g := m.Graph
			if g.IsTopological() {
				return false, nil
			}
			if err := g.SortTopologically(); err != nil {
				return false, err
			}
			ctx.Logf("sort-nodes: %d nodes put in dependency order", len(g.Nodes))
			return true, nil
		},
	}
}
