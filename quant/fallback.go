// fallback.go holds the budgeted FP32 fallback: after quantizing, the few
// weighted layers whose quantization costs the worst output the most are
// put back in float, within a budget that keeps almost every weighted op
// (and almost all of the multiply-accumulates) in integer units.

package quant

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// FallbackMinCoverage is the share of weighted ops (Conv, ConvTranspose,
// Gemm, MatMul with a constant weight) that must stay in complete Q/DQ
// units after the fallback: the fallback never takes the model below it,
// whatever MaxLayers allows. A model already below it gets no fallback.
const FallbackMinCoverage = 0.95

// FallbackOptions bound the budgeted FP32 fallback.
type FallbackOptions struct {
	// MaxLayers is the most weighted layers kept in FP32; 0 turns the
	// fallback off. FallbackMinCoverage lowers it on models with few
	// weighted ops.
	MaxLayers int
	// MaxMACShare bounds the share of the weighted ops' multiply-
	// accumulates (measured on the first calibration sample) that the
	// layers kept in FP32 may hold together: a float layer runs several
	// times slower than its integer form, so a large one would cost more
	// speed than its accuracy is worth.
	MaxMACShare float64
	// MinGainDB is what one more layer in FP32 must add to the worst
	// output SQNR on all calibration samples to be kept. Changes smaller
	// than about a quarter of a dB are what another draw of samples moves
	// the figure by, so a smaller gain would buy noise with speed.
	MinGainDB float64
	// RankSamples is how many calibration samples (evenly spread) rank
	// the candidates: one run per candidate layer on these, before the
	// best ones are confirmed on all samples.
	RankSamples int
}

// DefaultFallback returns the command line's fallback defaults.
func DefaultFallback() FallbackOptions {
	return FallbackOptions{MaxLayers: 3, MaxMACShare: 0.05, MinGainDB: 0.3, RankSamples: 4}
}

// Validate reports options that cannot be honoured.
func (o FallbackOptions) Validate() error {
	switch {
	case o.MaxLayers < 0:
		return fmt.Errorf("fallback: MaxLayers %d is negative", o.MaxLayers)
	case !(o.MaxMACShare >= 0 && o.MaxMACShare <= 1):
		return fmt.Errorf("fallback: MaxMACShare %v is not in [0, 1]", o.MaxMACShare)
	case !(o.MinGainDB >= 0) || math.IsInf(o.MinGainDB, 0):
		return fmt.Errorf("fallback: MinGainDB %v is not a finite non-negative number", o.MinGainDB)
	case o.RankSamples < 0:
		return fmt.Errorf("fallback: RankSamples %d is negative", o.RankSamples)
	}
	return nil
}

// FallbackPick is one layer the fallback kept in FP32.
type FallbackPick struct {
	// Node is the node's name, or "(producing OUTPUT)" when it has none.
	Node, Op string
	// MACShare is the layer's share of the weighted ops' MACs.
	MACShare float64
	// RankGainDB is what it alone gained on the ranking samples; GainDB
	// what it added to the worst output on all calibration samples, on
	// top of the layers picked before it.
	RankGainDB, GainDB float64
}

// FallbackReport says what the fallback did.
type FallbackReport struct {
	// Weighted and Covered count the weighted ops and those in complete
	// Q/DQ units before the fallback; Budget is the layers it could keep
	// in FP32 (MaxLayers lowered by FallbackMinCoverage).
	Weighted, Covered, Budget int
	// Candidates is the number of layers ranked, Confirmed the number
	// measured on all samples.
	Candidates, Confirmed int
	// BeforeDB and AfterDB are the worst output SQNR on the calibration
	// samples before and after.
	BeforeDB, AfterDB float64
	Picks             []FallbackPick
	Elapsed           time.Duration
	// Final is the worst output on the calibration samples of the
	// finished model (bias correction included) without and with the
	// picks, when Run measured them; Dropped says Run discarded the picks
	// because the finished model did not gain MinGainDB.
	Final   [2]float64
	Dropped bool
}

// weightedOp tells whether n is one of the ops the coverage rule counts,
// leaving out a MatMul without a constant operand.
func weightedOp(n *graph.Node) bool {
	switch n.OpType {
	case "Conv", "ConvTranspose", "Gemm":
		return len(n.Inputs) >= 2 && n.Inputs[0] != nil && n.Inputs[1] != nil
	case "MatMul":
		return len(n.Inputs) >= 2 && n.Inputs[0] != nil && n.Inputs[1] != nil && constOrDQConst(n.Inputs[1])
	}
	return false
}

// constOrDQConst tells whether v is a constant or a DequantizeLinear of one.
func constOrDQConst(v *graph.Value) bool {
	if v.Const != nil {
		return true
	}
	p := v.Producer
	return p != nil && p.OpType == "DequantizeLinear" && p.Input(0) != nil && p.Input(0).Const != nil
}

// inUnit tells whether the weighted op n reads its weight through a
// DequantizeLinear of a constant and its activation through a
// DequantizeLinear: a complete Q/DQ unit, as the coverage rule counts it.
func inUnit(n *graph.Node) bool {
	w, x := n.Inputs[1], n.Inputs[0]
	wDQ := w.Producer != nil && w.Producer.OpType == "DequantizeLinear" && w.Producer.Input(0) != nil && w.Producer.Input(0).Const != nil
	return wDQ && x.Producer != nil && x.Producer.OpType == "DequantizeLinear"
}

// Coverage counts the weighted ops of m (subgraphs too) and those in
// complete Q/DQ units.
func Coverage(m *graph.Model) (weighted, covered int) {
	if m == nil || m.Graph == nil {
		return 0, 0
	}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if weightedOp(n) {
				weighted++
				if inUnit(n) {
					covered++
				}
			}
		}
	})
	return weighted, covered
}

// fallbackBudget is the most layers that may leave their Q/DQ units:
// maxLayers, lowered so that FallbackMinCoverage of weighted stay covered.
func fallbackBudget(weighted, covered, maxLayers int) int {
	b := maxLayers
	if weighted > 0 {
		b = min(b, int(math.Floor(float64(covered)-FallbackMinCoverage*float64(weighted)+1e-9)))
	}
	return max(b, 0)
}

// fallbackCandidate is a quantized unit of the main graph and its FP32
// counterpart.
type fallbackCandidate struct {
	weight string // the unit's integer weight initializer: unique, kept by clones
	node   *graph.Node
	ref    *graph.Node
	macs   float64
	gain   float64 // on the ranking samples
}

// unitWeight returns the name of the integer weight initializer the unit
// n reads through a DequantizeLinear.
func unitWeight(n *graph.Node) string { return n.Inputs[1].Producer.Input(0).Name }

// unitCandidates returns the weighted ops of q's main graph in complete
// Q/DQ units whose FP32 counterpart in ref is known, matched by the weight
// initializer's name (the quantize pass keeps it).
func unitCandidates(ref, q *graph.Model) []*fallbackCandidate {
	refByWeight := map[string]*graph.Node{}
	for _, n := range ref.Graph.Nodes {
		if !weightedOp(n) || n.Inputs[1].Const == nil {
			continue
		}
		name := n.Inputs[1].Name
		if _, dup := refByWeight[name]; dup {
			refByWeight[name] = nil // shared weight: ambiguous
		} else {
			refByWeight[name] = n
		}
	}
	var out []*fallbackCandidate
	seen := map[string]int{}
	for _, n := range q.Graph.Nodes {
		if weightedOp(n) && inUnit(n) {
			seen[unitWeight(n)]++
		}
	}
	for _, n := range q.Graph.Nodes {
		if !weightedOp(n) || !inUnit(n) || seen[unitWeight(n)] != 1 {
			continue
		}
		rn := refByWeight[unitWeight(n)]
		if rn == nil || rn.OpType != n.OpType || len(rn.Inputs) != len(n.Inputs) {
			continue
		}
		out = append(out, &fallbackCandidate{weight: unitWeight(n), node: n, ref: rn})
	}
	return out
}

// findUnit returns the node of m's main graph that is the unit reading
// the integer weight named weight.
func findUnit(m *graph.Model, weight string) (*graph.Node, int) {
	for i, n := range m.Graph.Nodes {
		if weightedOp(n) && inUnit(n) && unitWeight(n) == weight {
			return n, i
		}
	}
	return nil, -1
}

// copyConst adds to g a copy of the constant c under a fresh name.
func copyConst(g *graph.Graph, c *graph.Value) (*graph.Value, error) {
	raw, err := c.Const.Raw()
	if err != nil {
		return nil, err
	}
	t, err := graph.NewTensor(g.UniqueName(c.Name+"_fp32"), c.Const.DType, slices.Clone(c.Const.Dims), slices.Clone(raw))
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t)
}

// nodeLabel names n for a report: its name, or its output's when it has
// none.
func nodeLabel(n *graph.Node) string {
	if n.Name != "" || len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return n.Name
	}
	return "(producing " + n.Outputs[0].Name + ")"
}

// fallBack makes the unit of m reading the integer weight named weight
// compute in float, as if the quantize pass had excluded it: each input
// read through a DequantizeLinear of a constant reads a copy of ref's FP32
// constant instead, and each read through a QuantizeLinear/
// DequantizeLinear pair reads the float value before it. Where the
// quantize pass folded a Relu or Clip into that QuantizeLinear (its
// saturation did the clipping), the activation is put back in front of
// the node, from ref; an input whose float form cannot be rebuilt keeps
// its pair. The pairs the node no longer reads stay for other readers (or
// for remove-dead-nodes).
func fallBack(m *graph.Model, weight string, ref *graph.Node) error {
	return fallBackUnit(m, weight, ref, true)
}

// fallBackUnit is fallBack; with activations false only the inputs read
// through a DequantizeLinear of a constant (weight, bias) go back to
// float, and the node keeps reading its quantized activations, so their
// producers keep their integer outputs.
func fallBackUnit(m *graph.Model, weight string, ref *graph.Node, activations bool) error {
	g := m.Graph
	n, pos := findUnit(m, weight)
	if n == nil {
		return fmt.Errorf("fallback: no quantized node reads %q", weight)
	}
	for i, in := range n.Inputs {
		if in == nil || in.Producer == nil || in.Producer.OpType != "DequantizeLinear" {
			continue
		}
		src, r := in.Producer.Input(0), ref.Input(i)
		if src == nil || r == nil {
			continue
		}
		switch {
		case src.Const != nil:
			if r.Const == nil {
				return fmt.Errorf("fallback: node %q input %d has no FP32 constant", n.Name, i)
			}
			v, err := copyConst(g, r)
			if err != nil {
				return err
			}
			n.SetInput(i, v)
		case activations && src.Producer != nil && src.Producer.OpType == "QuantizeLinear" && src.Producer.Input(0) != nil:
			x := src.Producer.Input(0)
			if x.Name == r.Name {
				n.SetInput(i, x)
				continue
			}
			// A folded activation: ref's producer of r reads x by name.
			p := r.Producer
			if p == nil || len(p.Outputs) != 1 || p.Input(0) == nil || p.Input(0).Name != x.Name {
				continue
			}
			switch p.OpType {
			case "Relu", "Clip", "LeakyRelu":
			default:
				continue
			}
			act := &graph.Node{Name: g.UniqueNodeName(p.Name + "_fp32"), OpType: p.OpType, Domain: p.Domain, Attrs: p.Attrs, Inputs: []*graph.Value{x}}
			ok := true
			for _, extra := range p.Inputs[1:] {
				if extra == nil {
					act.Inputs = append(act.Inputs, nil)
					continue
				}
				if extra.Const == nil {
					ok = false
					break
				}
				v, err := copyConst(g, extra)
				if err != nil {
					return err
				}
				act.Inputs = append(act.Inputs, v)
			}
			if !ok {
				continue
			}
			if err := g.InsertNode(pos, act, g.UniqueName(r.Name+"_fp32")); err != nil {
				return err
			}
			pos++
			n.SetInput(i, act.Outputs[0])
		}
	}
	return nil
}

// outputEval measures the worst output SQNR of models against FP32
// outputs computed once.
type outputEval struct {
	src     *Samples
	threads int
	names   []string               // float outputs of the reference, in order
	ref     []map[string][]float32 // per sample
	shapes  map[string][]int       // every value's shape on sample 0
	scores  map[string]bool        // outputs holding score vectors (passes.ScoreOutput)
}

func newOutputEval(ref *graph.Model, src *Samples, threads int) (*outputEval, error) {
	e := &outputEval{src: src, threads: threads, shapes: map[string][]int{}, scores: map[string]bool{}}
	first := true
	sess, err := runtime.NewSession(ref, runtime.Options{Threads: threads, Observer: func(v *graph.Value, t *runtime.Tensor) {
		if first {
			e.shapes[v.Name] = slices.Clone(t.Shape)
		}
	}})
	if err != nil {
		return nil, err
	}
	for i := 0; i < src.Len(); i++ {
		sample, err := src.Sample(i)
		if err != nil {
			return nil, err
		}
		if first {
			for name, t := range sample {
				e.shapes[name] = slices.Clone(t.Shape)
			}
		}
		out, err := sess.Run(sample)
		if err != nil {
			return nil, err
		}
		first = false
		keep := map[string][]float32{}
		for _, v := range ref.Graph.Outputs {
			if t := out[v.Name]; t != nil {
				if f := t.FloatValues(); f != nil {
					keep[v.Name] = f
					if i == 0 {
						e.names = append(e.names, v.Name)
					}
				}
			}
		}
		e.ref = append(e.ref, keep)
	}
	// the shapes of the first sample tell the Softmax axes apart where
	// shape inference did not
	shapeOf := func(v *graph.Value) []int { return e.shapes[v.Name] }
	for _, v := range ref.Graph.Outputs {
		e.scores[v.Name] = passes.ScoreOutputShaped(ref, v, shapeOf)
	}
	return e, nil
}

// worst runs m on the samples idx and returns the lowest SQNR over the
// outputs, each pooled over the samples.
func (e *outputEval) worst(m *graph.Model, idx []int) (float64, error) {
	m, err := asRun(m)
	if err != nil {
		return 0, err
	}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: e.threads})
	if err != nil {
		return 0, err
	}
	ref := map[string][]float32{}
	got := map[string][]float32{}
	for _, i := range idx {
		sample, err := e.src.Sample(i)
		if err != nil {
			return 0, err
		}
		out, err := sess.Run(sample)
		if err != nil {
			return 0, err
		}
		for _, name := range e.names {
			r, t := e.ref[i][name], out[name]
			if r == nil || t == nil {
				continue
			}
			f := t.FloatValues()
			if len(f) != len(r) {
				continue
			}
			ref[name] = append(ref[name], r...)
			got[name] = append(got[name], f...)
		}
	}
	w := math.Inf(1)
	for _, name := range e.names {
		if r, ok := ref[name]; ok {
			w = min(w, qdq.SQNR(r, got[name]))
		}
	}
	return w, nil
}

// macs estimates the multiply-accumulates of the FP32 node n from the
// shapes seen on one sample; 0 when they are unknown.
func (e *outputEval) macs(n *graph.Node) float64 {
	shape := func(v *graph.Value) []int {
		if v == nil {
			return nil
		}
		if v.Const != nil {
			s := make([]int, len(v.Const.Dims))
			for i, d := range v.Const.Dims {
				s[i] = int(d)
			}
			return s
		}
		return e.shapes[v.Name]
	}
	numel := func(s []int) float64 {
		if s == nil {
			return 0
		}
		p := 1.0
		for _, d := range s {
			p *= float64(d)
		}
		return p
	}
	if n.OpType == "Einsum" {
		var shapes [][]int64
		for _, in := range n.Inputs {
			s := shape(in)
			if s == nil {
				return 0
			}
			dims := make([]int64, len(s))
			for i, d := range s {
				dims[i] = int64(d)
			}
			shapes = append(shapes, dims)
		}
		count, _ := macs.EinsumMACs(n.AttrString("equation", ""), shapes)
		return float64(count)
	}
	x, w := shape(n.Input(0)), shape(n.Input(1))
	var y []int
	if len(n.Outputs) > 0 {
		y = shape(n.Outputs[0])
	}
	if len(w) == 0 || len(x) == 0 {
		return 0
	}
	switch n.OpType {
	case "Conv": // y elements × (C/group · kernel)
		if w[0] == 0 {
			return 0
		}
		return numel(y) * numel(w) / float64(w[0])
	case "ConvTranspose": // x elements × (M/group · kernel)
		if w[0] == 0 {
			return 0
		}
		return numel(x) * numel(w) / float64(w[0])
	case "Gemm":
		k := x[len(x)-1]
		if n.AttrInt("transA", 0) != 0 {
			k = x[0]
		}
		return numel(y) * float64(k)
	case "MatMul":
		return numel(y) * float64(x[len(x)-1])
	}
	return 0
}

// spread returns k indices evenly spread over [0, n).
func spread(n, k int) []int {
	k = min(k, n)
	out := make([]int, k)
	for j := range out {
		out[j] = j * n / k
	}
	return out
}

// Fallback keeps in FP32, in place in q, the weighted layers whose
// quantization costs q's worst output SQNR on src the most. ref is the
// prepared FP32 model q was quantized from. It ranks every quantized
// weighted layer of the main graph by what putting it alone back in float
// gains on opts.RankSamples samples, then, best first, keeps a layer when
// it adds at least opts.MinGainDB to the worst output on all samples,
// until opts.MaxLayers (lowered so that FallbackMinCoverage of the
// weighted ops stay in Q/DQ units) layers are kept, their MACs reach
// opts.MaxMACShare, or twice the budget has been tried. Ranking on single
// layers is cheap (one run per layer on a few samples); the confirmation
// on all samples guards against rankings that do not add up.
func Fallback(ref, q *graph.Model, src *Samples, opts FallbackOptions, threads int) (*FallbackReport, error) {
	if ref == nil || ref.Graph == nil || q == nil || q.Graph == nil {
		return nil, errors.New("fallback: no model")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &FallbackReport{}
	rep.Weighted, rep.Covered = Coverage(q)
	rep.Budget = fallbackBudget(rep.Weighted, rep.Covered, opts.MaxLayers)
	defer func() { rep.Elapsed = time.Since(start) }()
	if rep.Budget == 0 || src == nil || src.Len() == 0 {
		return rep, nil
	}
	cands := unitCandidates(ref, q)
	if len(cands) == 0 {
		return rep, nil
	}
	ev, err := newOutputEval(ref, src, threads)
	if err != nil {
		return nil, fmt.Errorf("fallback: FP32 model: %v", err)
	}
	var total float64
	for _, n := range ref.Graph.Nodes {
		if weightedOp(n) {
			total += ev.macs(n)
		}
	}
	all := spread(src.Len(), src.Len())
	rank := spread(src.Len(), max(opts.RankSamples, 1))
	if rep.BeforeDB, err = ev.worst(q, all); err != nil {
		return nil, fmt.Errorf("fallback: quantized model: %v", err)
	}
	rep.AfterDB = rep.BeforeDB
	baseRank, err := ev.worst(q, rank)
	if err != nil {
		return nil, err
	}
	var ranked []*fallbackCandidate
	for _, c := range cands {
		if total > 0 {
			c.macs = ev.macs(c.ref) / total
		}
		if c.macs > opts.MaxMACShare {
			continue
		}
		trial, err := Clone(q)
		if err != nil {
			return nil, err
		}
		if err := fallBack(trial, c.weight, c.ref); err != nil {
			return nil, err
		}
		w, err := ev.worst(trial, rank)
		if err != nil {
			return nil, fmt.Errorf("fallback: node %q in FP32: %v", c.node.Name, err)
		}
		rep.Candidates++
		c.gain = w - baseRank
		if c.gain > 0 {
			ranked = append(ranked, c)
		}
	}
	// Best first; ties in graph order, for determinism.
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].gain > ranked[j].gain })
	cur, curDB, used := q, rep.BeforeDB, 0.0
	for _, c := range ranked {
		if len(rep.Picks) >= rep.Budget || rep.Confirmed >= 2*rep.Budget {
			break
		}
		if used+c.macs > opts.MaxMACShare {
			continue
		}
		trial, err := Clone(cur)
		if err != nil {
			return nil, err
		}
		if err := fallBack(trial, c.weight, c.ref); err != nil {
			return nil, err
		}
		w, err := ev.worst(trial, all)
		if err != nil {
			return nil, err
		}
		rep.Confirmed++
		if w >= curDB+opts.MinGainDB {
			rep.Picks = append(rep.Picks, FallbackPick{Node: nodeLabel(c.node), Op: c.node.OpType, MACShare: c.macs, RankGainDB: c.gain, GainDB: w - curDB})
			cur, curDB, used = trial, w, used+c.macs
		}
	}
	rep.AfterDB = curDB
	if len(rep.Picks) == 0 {
		return rep, nil
	}
	ctx := &passes.Context{Values: map[string]any{}}
	if err := passes.Run(cur, ctx, []passes.Pass{passes.RemoveDeadNodes()}, passes.RunOptions{}); err != nil {
		return nil, fmt.Errorf("fallback: %v", err)
	}
	*q = *cur
	return rep, nil
}

// ReasonFallback is the reason the quantize report gives for a layer the
// fallback kept in FP32.
const ReasonFallback = "kept in FP32 by the fallback: quantizing it cost the worst output on the calibration samples the most"

// quantizedCounts are the Q/DQ nodes of a graph the quantize report
// counts, and the float clamps (Relu, Clip, LeakyRelu) no Q/DQ absorbs.
type quantizedCounts struct {
	activations, weights, biases int
	clamps                       map[string]int // by op type
}

// countQuantized counts, in m's graphs, the QuantizeLinear nodes of
// activations, the DequantizeLinear nodes of integer weights and of int32
// biases, and the Relu/Clip/LeakyRelu nodes whose input no
// QuantizeLinear reads.
func countQuantized(m *graph.Model) quantizedCounts {
	c := quantizedCounts{clamps: map[string]int{}}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			x := n.Input(0)
			switch n.OpType {
			case "QuantizeLinear":
				if x != nil && x.Const == nil {
					c.activations++
				}
			case "DequantizeLinear":
				switch {
				case x == nil || x.Const == nil:
				case x.Const.DType == graph.Int32:
					c.biases++
				default:
					c.weights++
				}
			case "Relu", "Clip", "LeakyRelu":
				// one the fallback put back in front of its layer undoes
				// a fold only when no QuantizeLinear clamps x any more
				if x != nil && !slices.ContainsFunc(x.Consumers, func(r *graph.Node) bool { return r.OpType == "QuantizeLinear" }) {
					c.clamps[n.OpType]++
				}
			}
		}
	})
	return c
}

// noteFallback returns a copy of report brought up to date with the
// layers the fallback put back in FP32 (picks), from the counts of the
// graph before and after: the copy, because the report can be shared by
// the models a choice compares.
func noteFallback(report *passes.QuantReport, picks []FallbackPick, before, after quantizedCounts) *passes.QuantReport {
	if report == nil || len(picks) == 0 {
		return report
	}
	r := *report
	r.OpCounts = maps.Clone(report.OpCounts)
	r.FP32 = slices.Clone(report.FP32)
	r.TensorsQuantized -= before.activations - after.activations
	r.WeightsQuantized -= before.weights - after.weights
	r.BiasesQuantized -= before.biases - after.biases
	for op, n := range after.clamps {
		undone := n - before.clamps[op]
		r.ActivationsFolded -= undone
		if r.OpCounts[op] -= undone; r.OpCounts[op] <= 0 {
			delete(r.OpCounts, op)
		}
	}
	for _, p := range picks {
		if r.OpCounts[p.Op]--; r.OpCounts[p.Op] <= 0 {
			delete(r.OpCounts, p.Op)
		}
		r.FP32 = append(r.FP32, passes.FP32Node{Node: p.Node, Op: p.Op, Reason: ReasonFallback})
	}
	return &r
}
