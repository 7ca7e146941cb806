package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// smoothActivationOps are the elementwise ops a GELU is written with when
// exported without a Gelu op: the erf form x·0.5·(1+erf(x/√2)) and the
// tanh form 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).
var smoothActivationOps = map[string]bool{
	"Mul": true, "Div": true, "Add": true, "Sub": true, "Pow": true, "Erf": true, "Tanh": true,
}

// maxSmoothActivationNodes bounds a decomposed activation: the tanh form
// of GELU takes 8 nodes.
const maxSmoothActivationNodes = 10

// geluNodes finds decomposed GELUs: the elementwise nodes fed only by one
// value x and constants that contain an Erf or a Tanh and leave through one
// node. They stay FP32 together: quantizing their inner products adds
// steps a Gelu does not have, and runtimes fuse the float pattern into one
// kernel (ONNX Runtime: Gelu, BiasGelu, FastGelu) only when no Q/DQ cuts it.
func geluNodes(g *graph.Graph) map[*graph.Node]bool {
	set := map[*graph.Node]bool{}
	for _, e := range g.Nodes {
		if (e.OpType != "Erf" && e.OpType != "Tanh") || e.Domain != "" || set[e] {
			continue
		}
		for _, x := range smoothSources(e, smoothActivationOps) {
			if region := smoothRegion(x, e, smoothActivationOps, maxSmoothActivationNodes); region != nil {
				for _, n := range region {
					set[n] = true
				}
				break
			}
		}
	}
	return set
}

// smoothSources lists the values e reads through at most a few elementwise
// ops (of the set ops) of constants, nearest first: the candidates for a
// decomposed activation's x.
func smoothSources(e *graph.Node, ops map[string]bool) []*graph.Value {
	var out []*graph.Value
	seen := map[*graph.Value]bool{}
	frontier := []*graph.Value{e.Input(0)}
	for depth := 0; depth < 5 && len(frontier) > 0; depth++ {
		var next []*graph.Value
		for _, v := range frontier {
			if v == nil || seen[v] || v.Const != nil {
				continue
			}
			seen[v] = true
			out = append(out, v)
			if p := v.Producer; p != nil && p.Domain == "" && ops[p.OpType] {
				next = append(next, p.Inputs...)
			}
		}
		frontier = next
	}
	return out
}

// smoothRegion grows, from x, the set of elementwise nodes (of the set
// ops, at most maxNodes) whose every non-constant input is x or an output
// of the set, and returns it in an order of evaluation when it holds e,
// has one exit (one node whose output is read outside the set or is a
// graph output, the last node) and every node leads to that exit; nil
// otherwise.
func smoothRegion(x *graph.Value, e *graph.Node, ops map[string]bool, maxNodes int) []*graph.Node {
	in := map[*graph.Node]bool{}
	// Only scalar constants join: a node applying a per-channel one (a
	// rescale after the function) is no part of an elementwise function.
	inside := func(v *graph.Value) bool {
		return v == x || v.Const != nil && v.Const.NumElements() == 1 || v.Producer != nil && in[v.Producer]
	}
	var region []*graph.Node
	work := slices.Clone(x.Consumers)
	for len(work) > 0 && len(region) <= maxNodes {
		n := work[0]
		work = work[1:]
		if in[n] || n.Domain != "" || !ops[n.OpType] || len(n.Outputs) != 1 || n.Outputs[0] == nil {
			continue
		}
		if slices.ContainsFunc(n.Inputs, func(v *graph.Value) bool { return v == nil || !inside(v) }) {
			continue // may join once its other inputs have
		}
		in[n] = true
		region = append(region, n)
		// a consumer passed over before is queued again here, once the
		// input it waited for is in the set
		work = append(work, n.Outputs[0].Consumers...)
	}
	if !in[e] || len(region) > maxNodes {
		return nil
	}
	outputs := map[*graph.Value]bool{}
	for _, v := range x.Graph.Outputs {
		outputs[v] = true
	}
	var exit *graph.Node
	for _, n := range region {
		o := n.Outputs[0]
		if outputs[o] || slices.ContainsFunc(o.Consumers, func(c *graph.Node) bool { return !in[c] }) {
			if exit != nil {
				return nil
			}
			exit = n
		}
	}
	if exit == nil {
		return nil
	}
	// keep only the nodes the exit depends on
	need := map[*graph.Node]bool{exit: true}
	for stack := []*graph.Node{exit}; len(stack) > 0; {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range n.Inputs {
			if p := v.Producer; p != nil && in[p] && !need[p] {
				need[p] = true
				stack = append(stack, p)
			}
		}
	}
	// x·f(x): the activation reads x on two paths at least, one through
	// the Erf or Tanh (a lone Tanh is no GELU)
	readers := 0
	for _, c := range x.Consumers {
		if need[c] {
			readers++
		}
	}
	if !need[e] || readers < 2 {
		return nil
	}
	var kept []*graph.Node
	for _, n := range region {
		if need[n] {
			kept = append(kept, n)
		}
	}
	return kept
}
