// This file holds remove-dead-nodes. It first bypasses Identity nodes and
// inference-mode Dropout nodes (their readers read the input instead),
// except where the output is an output of its graph, so graph output names
// stay as they are. Then, in every graph (subgraphs first, since what a
// subgraph still reads of the enclosing scope keeps values alive there), it
// removes the nodes no graph output depends on, and the initializers no
// node or graph output reads. An initializer that is also a graph input
// (IR version 4 and later) is kept: a user may feed it. Graph inputs are
// never removed. It needs nothing and leaves a graph without dead code.

package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// RemoveDeadNodes returns the remove-dead-nodes pass.
func RemoveDeadNodes() Pass {
	return Pass{
		Name: "remove-dead-nodes",
		Doc:  "bypass Identity and inference Dropout; remove nodes and initializers nothing reads",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			bypassed := 0
			m.Graph.Walk(func(g *graph.Graph) { bypassed += bypassIdentities(m, g) })
			nodes, inits, err := removeDead(m, m.Graph)
			if err != nil {
				return false, err
			}
			if bypassed+nodes+inits > 0 {
				ctx.Logf("remove-dead-nodes: %d Identity/Dropout bypassed, %d nodes and %d initializers removed", bypassed, nodes, inits)
			}
			return bypassed+nodes+inits > 0, nil
		},
	}
}

// PruneDead removes, in every graph of m, the nodes no graph output
// depends on and the initializers nothing reads (the second half of
// remove-dead-nodes, without bypassing Identity nodes), for a finished
// model whose rewrites left constants behind. It returns the counts
// removed.
func PruneDead(m *graph.Model) (nodes, inits int, err error) {
	if m == nil || m.Graph == nil {
		return 0, 0, nil
	}
	return removeDead(m, m.Graph)
}

// bypassIdentities rewires the readers of Identity and inference Dropout
// outputs of g to their inputs and removes the nodes.
func bypassIdentities(m *graph.Model, g *graph.Graph) int {
	count := 0
	for _, n := range slices.Clone(g.Nodes) {
		if !passThrough(m, n) {
			continue
		}
		x, y := n.Inputs[0], n.Outputs[0]
		if isGraphOutput(g, y) {
			continue
		}
		replaceAllUses(g, y, x)
		if err := g.RemoveNode(n); err != nil {
			continue // another reader still holds an output; leave the node
		}
		forgetValues(g, n.Outputs...)
		count++
	}
	return count
}

// passThrough reports whether n copies its first input to its only used
// output: Identity, or Dropout that is not training.
func passThrough(m *graph.Model, n *graph.Node) bool {
	if (n.Domain != "" && n.Domain != "ai.onnx") || len(n.Inputs) == 0 || n.Inputs[0] == nil ||
		len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return false
	}
	switch n.OpType {
	case "Identity":
		return len(n.Outputs) == 1
	case "Dropout":
		// The mask output must be unused, and training off.
		for _, v := range n.Outputs[1:] {
			if v != nil && (len(v.Consumers) > 0 || isGraphOutput(n.Graph, v)) {
				return false
			}
		}
		if n.AttrInt("is_test", 1) == 0 && mainOpset(m) < 7 {
			return false
		}
		if tm := n.Input(2); tm != nil {
			if !isConst(m, tm) {
				return false
			}
			raw, err := tm.Const.Raw()
			if err != nil || len(raw) != 1 || raw[0] != 0 {
				return false
			}
		}
		return true
	}
	return false
}

// removeDead removes the dead nodes and unread initializers of g and its
// subgraphs, returning how many of each.
func removeDead(m *graph.Model, g *graph.Graph) (nodes, inits int, err error) {
	// Subgraphs first: their remaining nodes decide which outer values the
	// owning node reads.
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			a, b, err := removeDead(m, sg)
			if err != nil {
				return 0, 0, err
			}
			nodes, inits = nodes+a, inits+b
		}
	}
	live := map[*graph.Node]bool{}
	var work []*graph.Value
	work = append(work, g.Outputs...)
	for len(work) > 0 {
		v := work[len(work)-1]
		work = work[:len(work)-1]
		if v == nil || v.Producer == nil || v.Producer.Graph != g || live[v.Producer] {
			continue
		}
		p := v.Producer
		live[p] = true
		work = append(work, reads(p)...)
	}
	// Every node no live one needs goes at once: only other dead nodes
	// read their outputs. (One at a time, each removal searched and
	// shifted the node list, which made pruning quadratic.)
	dead := map[*graph.Node]bool{}
	var gone []*graph.Value
	for _, n := range g.Nodes {
		if !live[n] {
			dead[n] = true
			detachSubgraphReads(n)
			gone = append(gone, n.Outputs...)
		}
	}
	if err := g.RemoveNodes(dead); err != nil {
		return 0, 0, err
	}
	nodes += len(dead)
	used := map[*graph.Value]bool{}
	g.Walk(func(inner *graph.Graph) {
		for _, n := range inner.Nodes {
			for _, v := range n.Inputs {
				used[v] = true
			}
		}
		for _, v := range inner.Outputs {
			used[v] = true
		}
	})
	inputs := map[*graph.Value]bool{}
	for _, v := range g.Inputs {
		inputs[v] = true
	}
	deadInits := map[*graph.Value]bool{}
	for _, v := range g.Initializers {
		if used[v] || slices.Contains(g.Outputs, v) {
			continue
		}
		if inputs[v] {
			// Before IR 4 every initializer is listed as an input, and the
			// listing means nothing: an unread one goes with its entry.
			// From IR 4 the input is the caller's to feed, and stays.
			if m.IRVersion >= 4 || g != m.Graph {
				continue
			}
		}
		deadInits[v] = true
	}
	g.Inputs = slices.DeleteFunc(g.Inputs, func(x *graph.Value) bool { return deadInits[x] })
	if err := g.RemoveInitializers(deadInits); err != nil {
		return 0, 0, err
	}
	inits += len(deadInits)
	if len(gone) > 0 {
		drop := map[*graph.Value]bool{}
		for _, v := range gone {
			drop[v] = true
		}
		g.ValueInfos = slices.DeleteFunc(g.ValueInfos, func(v *graph.Value) bool { return drop[v] })
	}
	return nodes, inits, nil
}

// reads lists the values n reads: its inputs and whatever the nodes and
// outputs of its subgraphs read from outside them.
func reads(n *graph.Node) []*graph.Value {
	vs := slices.Clone(n.Inputs)
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(inner *graph.Graph) {
			for _, in := range inner.Nodes {
				vs = append(vs, in.Inputs...)
			}
			vs = append(vs, inner.Outputs...)
		})
	}
	return vs
}

// detachSubgraphReads removes the nodes of n's subgraphs from the consumer
// lists of the values they read, before n leaves the graph.
func detachSubgraphReads(n *graph.Node) {
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(inner *graph.Graph) {
			for _, in := range inner.Nodes {
				for _, v := range in.Inputs {
					if v != nil {
						dropConsumer(v, in)
					}
				}
			}
		})
	}
}
