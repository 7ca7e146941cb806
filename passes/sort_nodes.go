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

// UniqueNodeNames gives each node that shares its name with an earlier
// node of its graph a name of its own (name_1, name_2, ...): ONNX Runtime
// refuses a graph whose nodes share a name, and onnxq's summary and
// --exclude-node patterns name nodes. Empty names stay empty.
func UniqueNodeNames() Pass {
	return Pass{
		Name: "unique-node-names",
		Doc:  "nodes sharing a name with an earlier node get names of their own",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			renamed := 0
			m.Graph.Walk(func(g *graph.Graph) {
				seen := map[string]bool{}
				for _, n := range g.Nodes {
					if n.Name == "" {
						continue
					}
					if seen[n.Name] {
						n.Name = g.UniqueNodeName(n.Name)
						renamed++
					}
					seen[n.Name] = true
				}
			})
			if renamed > 0 {
				ctx.Logf("unique-node-names: %d nodes renamed", renamed)
			}
			return renamed > 0, nil
		},
	}
}
