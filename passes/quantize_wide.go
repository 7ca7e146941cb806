// 16-bit activations of the quantize pass (QuantOptions.WideFrontEnd and
// TensorOverride.Bits): which values get them (the data input of a
// filterbank, a weighted op whose output a Log reads through non-weighted
// ops only, and of the weighted ops whose output only moves into such an
// input, each with its Q/DQ group; then the groups of values whose
// override asks for 16 bits, less those asking for 8), their range (the
// calibrated one widened to the observed extremes) and the domain of
// their Q/DQ (com.microsoft below opset 21).
//
// Needs: the node decisions and the share groups (buildGroups). Leaves:
// q.wide, which actType reads when insertActivations adds each Q/DQ.

package passes

import (
	"maps"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
)

// markWide records the groups of the activations quantized with 16 bits:
// those WideFrontEnd picks, then those the overrides' Bits set (16 adds a
// group, 8 takes it out).
func (q *quantizer) markWide() {
	if q.opts.ActivationType.Bits() >= 16 {
		return
	}
	q.markFilterbankInputs()
	for _, name := range slices.Sorted(maps.Keys(q.opts.Overrides)) {
		bits := q.opts.Overrides[name].Bits
		if bits == 0 {
			continue
		}
		for _, g := range q.graphs {
			v := g.Value(name)
			if v == nil || v.Const != nil || !isFloat(v) {
				continue
			}
			root := q.find(v)
			if bits == 16 {
				q.wide[root], q.wideByConfig[root] = true, true
			} else {
				delete(q.wide, root)
				delete(q.wideByConfig, root)
			}
		}
	}
}

// markFilterbankInputs records the groups WideFrontEnd quantizes with 16
// bits.
func (q *quantizer) markFilterbankInputs() {
	if !q.opts.WideFrontEnd {
		return
	}
	for _, g := range q.graphs {
		for n := range filterbanks(g) {
			inf := q.info[n]
			if inf == nil || !inf.enabled || inf.rule.Class != ClassWeighted || !q.isActive(n) {
				continue
			}
			for _, s := range inf.rule.Activations {
				if x := n.Input(s); isFloat(x) {
					q.wide[q.find(x)] = true
				}
			}
		}
	}
}

// weightedNode reports whether n computes with weights of its own: a
// weighted row of the rule table, or a recurrent op.
func weightedNode(n *graph.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	r := RuleFor(n.OpType)
	return r != nil && (r.Class == ClassWeighted || len(r.WeightOnly) > 0)
}

// filterbanks returns the weighted nodes of g whose output a Log reads
// through non-weighted nodes only (walking back from every Log, through
// the producers of their inputs, stopping at weighted nodes), and the
// weighted nodes whose output reaches the data input of one of those
// through data movement alone. On basic_pitch_nmp the second kind are the
// low-pass Convs that decimate the waveform octave by octave: with 8-bit
// inputs their rounding reaches every later octave's filterbank, and
// 16 bits on the filterbanks alone left the worst output at 12.6 dB
// (12.9 dB with them).
func filterbanks(g *graph.Graph) map[*graph.Node]bool {
	found := map[*graph.Node]bool{}
	seen := map[*graph.Node]bool{}
	var stack []*graph.Node
	for _, n := range g.Nodes {
		if n.OpType == "Log" && (n.Domain == "" || n.Domain == "ai.onnx") {
			seen[n] = true
			stack = append(stack, n)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range n.Inputs {
			if in == nil || in.Const != nil {
				continue
			}
			p := in.Producer
			if p == nil || p.Graph != g || seen[p] {
				continue
			}
			seen[p] = true
			if weightedNode(p) {
				found[p] = true
				continue
			}
			stack = append(stack, p)
		}
	}
	// resamplers: a weighted op whose output only moves (share ops,
	// Pad in any mode) into the data input of a filterbank or of another
	// resampler carries the same signal (a decimated waveform)
	for work := slices.Collect(maps.Keys(found)); len(work) > 0; {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		x := n.Input(0)
		for x != nil && x.Const == nil && x.Producer != nil && x.Producer.Graph == g {
			p := x.Producer
			if weightedNode(p) {
				if !found[p] {
					found[p] = true
					work = append(work, p)
				}
				break
			}
			if !movesData(p) {
				break
			}
			x = p.Input(0)
		}
	}
	return found
}

// movesData reports whether n only moves its input 0's elements: a share
// row of the rule table or a Pad of any mode.
func movesData(n *graph.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	if n.OpType == "Pad" {
		return true
	}
	r := RuleFor(n.OpType)
	return r != nil && r.Class == ClassShare && n.OpType != "Max" && n.OpType != "Min"
}

// actType is the integer type of activation v.
func (q *quantizer) actType(v *graph.Value) qdq.Type {
	if q.wide[q.find(v)] {
		return q.opts.wideType()
	}
	return q.opts.ActivationType
}

// widenToExtremes widens r, the range of v's group, to the observed
// extremes of the group's values (QuantOptions.Extremes): 16 bits have
// the steps to spare for tails a clipping method cut off. Values with a
// range override keep it.
func (q *quantizer) widenToExtremes(v *graph.Value, r Range) Range {
	if len(q.opts.Extremes) == 0 {
		return r
	}
	if q.members == nil {
		q.members = map[*graph.Value][]*graph.Value{}
		for m := range q.parent {
			root := q.find(m)
			q.members[root] = append(q.members[root], m)
		}
	}
	members := []*graph.Value{v}
	if _, grouped := q.parent[v]; grouped {
		members = q.members[q.find(v)]
	}
	for _, m := range members {
		if q.opts.Overrides[m.Name].Range != nil {
			continue
		}
		if e, ok := q.opts.Extremes[m.Name]; ok && e.Min <= e.Max {
			r.Min, r.Max = min(r.Min, e.Min), max(r.Max, e.Max)
		}
	}
	return r
}

// qdqDomain is the domain of the Q/DQ of type t: com.microsoft for 16
// bits below opset 21 (its import added once), else the default one.
func (q *quantizer) qdqDomain(t qdq.Type) string {
	if t.Bits() != 16 {
		return ""
	}
	if opset, _ := q.m.Opset(""); opset >= 21 {
		return ""
	}
	for _, o := range q.m.OpsetImports {
		if o.Domain == msDomain {
			return msDomain
		}
	}
	q.m.OpsetImports = append(q.m.OpsetImports, graph.OpsetImport{Domain: msDomain, Version: 1})
	return msDomain
}
