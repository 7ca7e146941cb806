// reach.go estimates how far each layer's own noise carries to the worst
// output, from what the runs measured: a linear model of how noise flows
// through the quantized graph.

package compare

import (
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// The model. Each quantized activation a (a QuantizeLinear of a computed
// tensor) has a cumulative error energy N(a) in the quantized run and a
// rounding energy R(a), the error its Q/DQ adds to FLOAT's values alone.
// Each layer c adds, run alone, the error energy L(c) at its output v: the
// rounding of its inputs and its weights' error. In the quantized run its
// output carries L(c) plus the error that was already in its inputs
// before their rounding, scaled by the layer's energy gain g(c):
//
//	N(v) = L(c) + g(c)·Σ_inputs (N(a) − R(a))
//
// and N(v) is the cumulative error of v's own activation less its
// rounding (none when v's Q shares its inputs' grid: data movement and
// max-pooling leave values on it). Solving for g(c) gives each layer's
// gain; where the error that entered is too small to measure it, the
// layer is taken to keep the noise-to-signal ratio (g = signal energy
// out / in). Noise at v then reaches the worst output through every path
// of layers below it, each step multiplying its noise-to-signal ratio by
// the gain over the signal ratio; ops outside Q/DQ keep the ratio, and
// each op or output they lead to counts once. Where such a float region
// is a function of one activation alone up to the worst output (a
// Transpose and a Sigmoid after the last layer), its gain is measured
// instead: the output's ratio over the activation's; where several
// quantized values feed such a region (the Concat of a detector's score
// heads and the Softmax after it), over their pooled ratio, each input
// reaching it times its share of their signal. The old estimate, the worst
// output's ratio over the cumulative one at v, counted the error every
// later layer adds as the earlier layer's: an input's rounding got the
// whole model's error.

// minGainEvidence is the least share of a layer's output error that must
// have come through its inputs, and of its inputs' error that must be
// older than their rounding, for g to be measured from them.
const minGainEvidence = 0.05

// reachModel holds the measured figures the estimate reads.
type reachModel struct {
	quant     *graph.Model
	worst     *graph.Value // the worst output
	worstNSR  float64      // its noise-to-signal ratio; 0 when unknown
	outputs   map[string]*outputStat
	actByQ    map[*graph.Node]*activation
	actOf     map[string]*activation // by the quantized tensor's name
	layerOf   map[*graph.Node]*layer
	gain      map[*layer]layerGain
	memo      map[*graph.Value]float64
	memoQ     map[*graph.Node]float64 // reachActivation by Q node
	computing map[*graph.Value]bool
}

// reaches returns, for each layer, the factor its output's noise-to-signal
// ratio is multiplied by on the way to the worst output (worst by name).
func reaches(quant *graph.Model, worst string, acts []*activation, layers []*layer, outputs map[string]*outputStat) map[*layer]float64 {
	m := &reachModel{
		quant: quant, outputs: outputs, actByQ: map[*graph.Node]*activation{}, actOf: map[string]*activation{},
		layerOf: map[*graph.Node]*layer{}, gain: map[*layer]layerGain{},
		memo: map[*graph.Value]float64{}, memoQ: map[*graph.Node]float64{}, computing: map[*graph.Value]bool{},
	}
	for _, v := range quant.Graph.Outputs {
		if v.Name == worst {
			m.worst = v
		}
	}
	if o := outputs[worst]; o != nil && o.sig > 0 {
		m.worstNSR = o.noise / o.sig
	}
	for _, a := range acts {
		if a.bad != "" || a.sig <= 0 {
			continue
		}
		if _, dup := m.actOf[a.name]; !dup {
			m.actOf[a.name] = a
		}
		if v := quant.Graph.Value(a.qOut); v != nil && v.Producer != nil {
			m.actByQ[v.Producer] = a
		}
	}
	for _, l := range layers {
		if l.bad == "" && l.node != nil && l.sig > 0 {
			m.layerOf[l.node] = l
		}
	}
	out := map[*layer]float64{}
	if m.worst == nil {
		return out
	}
	for _, l := range layers {
		if l.bad != "" || l.node == nil {
			continue
		}
		if v := quant.Graph.Value(l.output); v != nil {
			out[l] = m.reach(v)
		}
	}
	return out
}

// inputActivations lists the activations whose DequantizeLinear output c
// reads.
func (m *reachModel) inputActivations(c *graph.Node) []*activation {
	var ins []*activation
	for _, in := range c.Inputs {
		if in == nil || !isOp(in.Producer, "DequantizeLinear") {
			continue
		}
		q := in.Producer.Input(0)
		if q == nil || !isOp(q.Producer, "QuantizeLinear") {
			continue
		}
		if a := m.actByQ[q.Producer]; a != nil {
			ins = append(ins, a)
		}
	}
	return ins
}

// layerGain is what the model measured of one layer: its energy gain g
// (negative when not measurable) and the signal energy of its quantized
// inputs.
type layerGain struct{ g, sigIn float64 }

// gainOf measures l once: see the model above.
func (m *reachModel) gainOf(l *layer) layerGain {
	if lg, ok := m.gain[l]; ok {
		return lg
	}
	ins := m.inputActivations(l.node)
	lg := layerGain{g: -1}
	var entered, noiseIn float64
	for _, in := range ins {
		lg.sigIn += in.sig
		noiseIn += in.noise
		entered += math.Max(0, in.noise-in.roundingTotal())
	}
	nv, known := 0.0, false
	if outAct := m.actOf[l.output]; outAct != nil {
		nv, known = outAct.noise, true
		if !sharesGrid(outAct, ins) {
			nv -= outAct.roundingTotal()
		}
	} else if o := m.movedOutput(l.output); o != nil {
		nv, known = o.noise, true // a graph output: no rounding after it
	}
	// Both differences must stand out of their terms: a small difference
	// of large energies is mostly error of the model.
	if inherited := nv - l.noise; known && entered > minGainEvidence*noiseIn && inherited > minGainEvidence*nv {
		lg.g = inherited / entered
	}
	m.gain[l] = lg
	return lg
}

// movedOutput returns the figures of the graph output that is the value
// named name, or what data-moving ops alone (one reader each) make of it,
// as a Sigmoid → Identity → output: the same values, so the same error
// energy. Nil when there is none or it was not compared.
func (m *reachModel) movedOutput(name string) *outputStat {
	v := m.quant.Graph.Value(name)
	for v != nil {
		if o := m.outputs[v.Name]; o != nil && slices.Contains(m.quant.Graph.Outputs, v) {
			if o.skipped != "" || o.sig <= 0 {
				return nil
			}
			return o
		}
		if len(v.Consumers) != 1 || !movesData[v.Consumers[0].OpType] || len(v.Consumers[0].Outputs) != 1 {
			return nil
		}
		v = v.Consumers[0].Outputs[0]
	}
	return nil
}

// nsrGain returns g(c)·S(a)/S(v): the factor the noise-to-signal ratio of
// input a of layer l (node c) is multiplied by at c's output.
func (m *reachModel) nsrGain(l *layer, a *activation) float64 {
	lg := m.gainOf(l)
	switch {
	case lg.g >= 0:
		return lg.g * a.sig / l.sig
	case lg.sigIn <= 0:
		return 1
	}
	// not measurable: the layer keeps the noise-to-signal ratio
	return a.sig / lg.sigIn
}

// sharesGrid tells whether out's Q/DQ has the parameters of every input:
// a layer moving values then leaves them on the grid, adding no rounding.
func sharesGrid(out *activation, ins []*activation) bool {
	if len(ins) == 0 {
		return false
	}
	for _, a := range ins {
		if a.scale != out.scale || a.zp != out.zp || a.typ != out.typ {
			return false
		}
	}
	return true
}

// reach is the factor noise at QUANT's value v, as a noise-to-signal
// ratio at v, is multiplied by at the worst output.
func (m *reachModel) reach(v *graph.Value) float64 {
	if r, ok := m.memo[v]; ok {
		return r
	}
	if m.computing[v] {
		return 0 // a cycle in a bad graph
	}
	m.computing[v] = true
	r, sealed, moves := m.reachFloat([]*graph.Value{v})
	if l := m.layerOf[v.Producer]; sealed && !moves && l != nil && v.Name == l.output && m.worstNSR > 0 {
		if nsr := m.outputNSR(l); nsr > 0 {
			r = m.worstNSR / nsr
		}
	} else if l != nil && v.Name == l.output && !moves {
		if g, sIn, ok := m.joinedRegionGain(v.Consumers); ok && l.sig > 0 {
			r = g * l.sig / sIn
		}
	}
	m.memo[v] = r
	m.computing[v] = false
	return r
}

// reachFloat is the reach of noise at the values starts (one noise
// source, the same ratio at each) through the float ops that read them
// and what those compute, taken to keep the ratio, up to the Q nodes and
// the worst output where the region ends. Each end counts once however
// many float paths lead to it: a hard-swish reads its input twice, and
// counting both paths would double the reach at every such layer.
// sealed tells that the region has ops, reads nothing but starts and
// constants, and ends only at the worst output: a function of the starts.
// moves tells that its ops only move values (a Transpose, an Identity):
// they keep the ratio exactly, so nothing is left to measure.
func (m *reachModel) reachFloat(starts []*graph.Value) (r float64, sealed, moves bool) {
	seen := map[*graph.Value]bool{}
	ends := map[*graph.Node]bool{}
	var nodes []*graph.Node
	stack := append([]*graph.Value(nil), starts...)
	reachesWorst := false
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v == nil || seen[v] {
			continue
		}
		seen[v] = true
		if v == m.worst {
			reachesWorst = true
			r++
		}
		for _, c := range v.Consumers {
			if owner := m.topNode(c); owner != c {
				// read inside an If, Loop or Scan body: the noise goes on
				// through the node that owns the body, taken as a float op
				nodes = append(nodes, owner)
				stack = append(stack, owner.Outputs...)
				continue
			}
			if !isOp(c, "QuantizeLinear") {
				// float ops, and layers reading v as a float input
				nodes = append(nodes, c)
				stack = append(stack, c.Outputs...)
				continue
			}
			if ends[c] {
				continue
			}
			ends[c] = true
			if a := m.actByQ[c]; a != nil {
				r += m.reachActivation(c, a)
			} else if len(c.Outputs) > 0 && c.Outputs[0] != nil {
				r += m.reach(c.Outputs[0])
			}
		}
	}
	sealed = reachesWorst && len(ends) == 0 && len(nodes) > 0
	moves = true
	for _, n := range nodes {
		moves = moves && movesData[n.OpType]
		for _, in := range n.Inputs {
			if in != nil && !seen[in] && !isConstant(in) {
				sealed = false
			}
		}
	}
	return r, sealed, moves
}

// joinedRegionGain measures the gain of the float region of the seeds
// when several quantized values feed it and it ends at the worst output
// alone (the heads' Concat and the Softmax after it): the worst output's
// noise-to-signal ratio over the pooled ratio of everything the region
// reads, each input's noise as the quantized run carried it. The ratio of
// one input reaches the output times the gain and its share of the
// pooled signal, sIn the pooled signal energy. ok is false when the region
// reads a value whose noise is not known (a graph input, a value a float
// op outside the region makes) or leads anywhere but the worst output.
func (m *reachModel) joinedRegionGain(seeds []*graph.Node) (g, sIn float64, ok bool) {
	if m.worst == nil || !(m.worstNSR > 0) || len(seeds) == 0 {
		return 0, 0, false
	}
	region := map[*graph.Node]bool{}
	var todo []*graph.Node
	// a layer that only moves values, with no Q/DQ of its own, is part
	// of the region, as reachActivation takes it
	passes := func(n *graph.Node) bool {
		l := m.layerOf[n]
		return l == nil || movesData[n.OpType] && m.actOf[l.output] == nil
	}
	add := func(n *graph.Node) bool {
		if n == nil || n.Graph != m.quant.Graph || isOp(n, "QuantizeLinear") || isOp(n, "DequantizeLinear") || !passes(n) {
			return false
		}
		if !region[n] {
			region[n] = true
			todo = append(todo, n)
		}
		return true
	}
	for _, c := range seeds {
		if !add(c) {
			return 0, 0, false
		}
	}
	inputs := map[*graph.Value]bool{}
	for len(todo) > 0 && len(region) <= maxJoinedRegion {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, o := range n.Outputs {
			if o == nil {
				continue
			}
			if len(o.Consumers) == 0 && o != m.worst {
				return 0, 0, false
			}
			for _, c := range o.Consumers {
				if !add(c) {
					return 0, 0, false
				}
			}
		}
		for _, in := range n.Inputs {
			if in == nil || isConstant(in) {
				continue
			}
			p := in.Producer
			switch {
			case p == nil:
				return 0, 0, false // a graph input
			case region[p]:
			case isOp(p, "DequantizeLinear"), m.layerOf[p] != nil && m.layerOf[p].output == in.Name && !passes(p):
				inputs[in] = true
			case !add(p):
				return 0, 0, false
			}
		}
	}
	if len(region) > maxJoinedRegion || len(inputs) < 2 {
		return 0, 0, false
	}
	var noise float64
	for in := range inputs {
		p := in.Producer
		if isOp(p, "DequantizeLinear") {
			q := p.Input(0)
			if q == nil || !isOp(q.Producer, "QuantizeLinear") || m.actByQ[q.Producer] == nil {
				return 0, 0, false
			}
			a := m.actByQ[q.Producer]
			sIn, noise = sIn+a.sig, noise+a.noise
			continue
		}
		l := m.layerOf[p]
		nsr := m.outputNSR(l)
		if !(nsr > 0) || !(l.sig > 0) {
			return 0, 0, false
		}
		sIn, noise = sIn+l.sig, noise+nsr*l.sig
	}
	if !(sIn > 0) || !(noise > 0) {
		return 0, 0, false
	}
	return m.worstNSR / (noise / sIn), sIn, true
}

// maxJoinedRegion bounds the float ops joinedRegionGain walks.
const maxJoinedRegion = 256

// topNode is n itself in QUANT's main graph, else the main-graph node
// whose subgraph (at any depth) holds n.
func (m *reachModel) topNode(n *graph.Node) *graph.Node {
	for n.Graph != nil && n.Graph != m.quant.Graph && n.Graph.Owner != nil {
		n = n.Graph.Owner
	}
	return n
}

// outputNSR estimates the noise-to-signal ratio of layer l's output in the
// quantized run when no activation measures it: l's own ratio plus the
// error its inputs carried before their rounding, at their ratio (the
// layer taken to keep it).
func (m *reachModel) outputNSR(l *layer) float64 {
	if l.sig <= 0 {
		return 0
	}
	var entered, sigIn float64
	for _, in := range m.inputActivations(l.node) {
		sigIn += in.sig
		entered += math.Max(0, in.noise-in.roundingTotal())
	}
	nsr := l.noise / l.sig
	if sigIn > 0 {
		nsr += entered / sigIn
	}
	return nsr
}

// movesData holds the ops that only move values: they neither add
// error nor change a noise-to-signal ratio.
var movesData = map[string]bool{
	"Transpose": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true,
	"Flatten": true, "Identity": true,
}

// isConstant tells whether v holds the same values in every run.
func isConstant(v *graph.Value) bool {
	return v.Const != nil || (v.Producer != nil && isOp(v.Producer, "Constant"))
}

// reachActivation is the reach of noise entering activation a's Q node q:
// through each layer reading its DequantizeLinear, scaled by that layer's
// gain, and through the float ops reading it, as one region. A region
// that is a function of a alone up to the worst output (a Sigmoid after
// the last layer) has its gain measured: the worst output's
// noise-to-signal ratio over a's. Keeping the ratio there would miss how a
// Sigmoid turns small noise on large negative logits into large noise on
// near-zero probabilities.
func (m *reachModel) reachActivation(q *graph.Node, a *activation) float64 {
	if r, ok := m.memoQ[q]; ok {
		return r
	}
	r := 0.0
	var float []*graph.Value
	var floatOps []*graph.Node // the float ops reading a's DequantizeLinear
	inBody := false            // a subgraph reads it too
	for _, dqv := range q.Outputs[0].Consumers {
		if !isOp(dqv, "DequantizeLinear") || dqv.Outputs[0] == nil {
			continue
		}
		for _, c := range dqv.Outputs[0].Consumers {
			if owner := m.topNode(c); owner != c {
				// read inside a subgraph: on through its owner's outputs
				float = append(float, owner.Outputs...)
				inBody = true
				continue
			}
			l := m.layerOf[c]
			if l == nil || (movesData[c.OpType] && m.actOf[l.output] == nil) {
				// a data move without its own Q/DQ adds no error and
				// keeps the ratio: part of the float region
				float = append(float, c.Outputs...)
				floatOps = append(floatOps, c)
				continue
			}
			if out := m.quant.Graph.Value(l.output); out != nil {
				r += m.nsrGain(l, a) * m.reach(out)
			}
		}
	}
	rf, sealed, moves := m.reachFloat(float)
	if sealed && !moves && a.noise > 0 && a.sig > 0 && m.worstNSR > 0 {
		rf = m.worstNSR / (a.noise / a.sig)
	} else if !moves && len(floatOps) > 0 && !inBody && a.sig > 0 {
		if g, sIn, ok := m.joinedRegionGain(floatOps); ok {
			rf = g * a.sig / sIn
		}
	}
	m.memoQ[q] = r + rf
	return r + rf
}

// roundingTotal is a's rounding over all samples: the ratio measured on
// one sample times the signal energy of all.
func (a *activation) roundingTotal() float64 {
	if a.roundingSig <= 0 {
		return 0
	}
	return a.rounding / a.roundingSig * a.sig
}
