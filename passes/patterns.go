// patterns.go finds the node and op-type patterns of QuantOptions that
// match nothing in a model: a typo there quantizes what was meant to stay
// float, or keeps what was meant to be quantized, without a word.

package passes

import (
	"maps"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// PatternMiss is one pattern of QuantOptions that does not do what it
// says on a model.
type PatternMiss struct {
	// Option is the field the pattern is in: "ExcludeNodes",
	// "ExcludeOps" or "IncludeOps".
	Option  string
	Pattern string
	// Never, for an IncludeOps pattern that matches op types, lists those
	// the rule table has no quantized form for (they stay float);
	// empty when the pattern matches nothing at all.
	Never []string
}

// UnmatchedPatterns lists the patterns of opts that match no node (by
// name, or for a node without one by its output's name) or no op type of
// m and its subgraphs, and the IncludeOps patterns that match only op
// types with no quantized form, in the order of the options.
func UnmatchedPatterns(m *graph.Model, opts QuantOptions) []PatternMiss {
	// the quantize pass asks on every run: nothing to walk without patterns
	if m == nil || m.Graph == nil || len(opts.ExcludeNodes)+len(opts.ExcludeOps)+len(opts.IncludeOps) == 0 {
		return nil
	}
	ops := map[string]bool{}
	var nodes []*graph.Node
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			ops[n.OpType] = true
			nodes = append(nodes, n)
		}
	})
	opTypes := slices.Sorted(maps.Keys(ops))
	matching := func(p string) []string {
		var out []string
		for _, op := range opTypes {
			if MatchGlob(p, op) {
				out = append(out, op)
			}
		}
		return out
	}
	var out []PatternMiss
	for _, p := range opts.ExcludeNodes {
		if !slices.ContainsFunc(nodes, func(n *graph.Node) bool { return NodeMatches([]string{p}, n) }) {
			out = append(out, PatternMiss{Option: "ExcludeNodes", Pattern: p})
		}
	}
	for _, p := range opts.ExcludeOps {
		if len(matching(p)) == 0 {
			out = append(out, PatternMiss{Option: "ExcludeOps", Pattern: p})
		}
	}
	for _, p := range opts.IncludeOps {
		matched := matching(p)
		if len(matched) == 0 {
			out = append(out, PatternMiss{Option: "IncludeOps", Pattern: p})
			continue
		}
		// IncludeOps quantizes only what the rule table can quantize.
		never := slices.DeleteFunc(matched, func(op string) bool {
			r := RuleFor(op)
			return r != nil && r.Class != ClassFP32
		})
		if len(never) > 0 {
			out = append(out, PatternMiss{Option: "IncludeOps", Pattern: p, Never: never})
		}
	}
	return out
}
