// tune.go holds the accuracy-driven search: on a finished quantized model
// it puts back in float, greedily, the layers (and quantized activations)
// whose quantization costs the outputs most, until the worst output's
// SQNR against FP32, or the top-1 agreement of score outputs, reaches a
// target on samples held out of calibration, or the candidates or the
// time run out. It always leaves the best model it measured.

package quant

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// TuneMetric names what the accuracy-driven search targets.
type TuneMetric int

const (
	// TuneSQNR targets the worst output's SQNR against FP32, in dB,
	// pooled over the held-out samples.
	TuneSQNR TuneMetric = iota
	// TuneTop1 targets the top-1 agreement with FP32 of the outputs that
	// hold score vectors (passes.ScoreOutput, with a last axis of 2 or
	// more entries; every other index picks one vector), worst output
	// first.
	TuneTop1
)

func (m TuneMetric) String() string {
	switch m {
	case TuneSQNR:
		return "sqnr"
	case TuneTop1:
		return "top1"
	}
	return fmt.Sprintf("metric(%d)", int(m))
}

// TuneOptions configure Tune.
type TuneOptions struct {
	// Metric chooses the target: TargetSQNR for TuneSQNR, MaxTop1Drop
	// for TuneTop1.
	Metric TuneMetric
	// TargetSQNR is the worst output SQNR to reach, in dB.
	TargetSQNR float64
	// MaxFP32MACs is the largest share of the Conv/ConvTranspose/Gemm/
	// MatMul MACs the search may leave outside integer units, in [0, 1]
	// (DefaultTune: 1, no bound): a candidate that would take the model
	// past it is not tried (the model's own share before the search may
	// already be above).
	MaxFP32MACs float64
	// MaxTop1Drop is the largest drop of top-1 agreement with FP32
	// allowed, in percentage points: 1 asks for 99% agreement.
	MaxTop1Drop float64
	// Timeout bounds the search (not the quantization before it nor the
	// measurement of the starting model); 0 measures only. A search cut
	// by the timeout depends on the machine's speed; one that ends
	// before it does not.
	Timeout time.Duration
	// HoldOut holds every HoldOut-th sample (in name order, see
	// calibdata.Split) out of calibration and ranking to measure the
	// target on; with fewer than HoldOut samples, or HoldOut 0, the
	// target is measured on the calibration samples themselves.
	HoldOut int
	// RankSamples is how many calibration samples (evenly spread) rank
	// the candidates: one run per candidate; each pick is then confirmed
	// on all calibration samples.
	RankSamples int
	// Activations makes the quantized activations of ops without weights
	// candidates too: their QuantizeLinear/DequantizeLinear pair is
	// dropped, so every reader reads the float value.
	Activations bool
	// MinGainDB is what a candidate must add, on all calibration
	// samples, to the score the search climbs (the SQNR of the outputs'
	// mean noise-to-signal ratio, each output capped at the target plus
	// 1 dB) to be kept.
	MinGainDB float64
	// BiasCorrection corrects the biases again (CorrectBiases on the
	// calibration samples) in each candidate confirmed: a corrected bias
	// absorbs the mean error of the layers before it, which a layer put
	// back in float no longer makes. Set it when q's biases are
	// corrected.
	BiasCorrection bool
	// FloatWeights is the scope of FP32 weights the finished model gives
	// the weighted ops outside complete units (Config.FloatWeights):
	// each candidate is measured with it applied, as it is written.
	FloatWeights passes.FloatWeightsScope
	// Log, when set, receives one line per ranking round and per pick.
	Log io.Writer
}

// DefaultTune returns the command line's defaults for the search: a
// 35 dB SQNR target, a 1-point top-1 drop, ten minutes, every 4th sample
// held out, 4 ranking samples, activations as candidates too.
func DefaultTune() TuneOptions {
	return TuneOptions{Metric: TuneSQNR, TargetSQNR: 35, MaxTop1Drop: 1, Timeout: 10 * time.Minute,
		HoldOut: 4, RankSamples: 4, Activations: true, MinGainDB: 0.05, MaxFP32MACs: 1}
}

// Validate reports options that cannot be honoured.
func (o TuneOptions) Validate() error {
	switch {
	case o.Metric != TuneSQNR && o.Metric != TuneTop1:
		return fmt.Errorf("tune: unknown metric %d", int(o.Metric))
	case o.Metric == TuneSQNR && !(o.TargetSQNR > 0 && !math.IsInf(o.TargetSQNR, 0)):
		return fmt.Errorf("tune: target SQNR %v dB is not a positive finite number", o.TargetSQNR)
	case o.Metric == TuneTop1 && !(o.MaxTop1Drop >= 0 && o.MaxTop1Drop <= 100):
		return fmt.Errorf("tune: top-1 drop %v is not in [0, 100] percentage points", o.MaxTop1Drop)
	case o.Timeout < 0:
		return fmt.Errorf("tune: timeout %v is negative", o.Timeout)
	case !(o.MaxFP32MACs >= 0 && o.MaxFP32MACs <= 1):
		return fmt.Errorf("tune: MaxFP32MACs %v is not a share in [0, 1]", o.MaxFP32MACs)
	case o.HoldOut < 0 || o.HoldOut == 1:
		return fmt.Errorf("tune: HoldOut %d holds out no sample or all of them (want 0 or 2 and more)", o.HoldOut)
	case o.RankSamples < 1:
		return fmt.Errorf("tune: RankSamples %d is below 1", o.RankSamples)
	case !(o.MinGainDB >= 0) || math.IsInf(o.MinGainDB, 0):
		return fmt.Errorf("tune: MinGainDB %v is not a finite non-negative number", o.MinGainDB)
	}
	return nil
}

// target returns the value of the metric to reach: dB, or agreement in
// percent.
func (o TuneOptions) target() float64 {
	if o.Metric == TuneTop1 {
		return 100 - o.MaxTop1Drop
	}
	return o.TargetSQNR
}

// TuneSamples splits n samples named names as Tune does: calib
// calibrates and ranks, held measures the target. held is empty when
// there are fewer than holdOut samples (or holdOut is 0): the target is
// then measured on calib.
func TuneSamples(names []string, holdOut int) (calib, held []int) {
	if holdOut < 2 || len(names) < holdOut {
		return spread(len(names), len(names)), nil
	}
	return calibdata.Split(names, holdOut, 0)
}

// TuneExclusion is one candidate the search put back in float.
type TuneExclusion struct {
	// Node names the layer (its node, or "(producing OUTPUT)"), or for
	// an activation the value whose Q/DQ pair was dropped; Op is the op
	// type of the layer or of the activation's producer.
	Node, Op string
	// Activation tells an activation's Q/DQ pair from a layer.
	Activation bool
	// MACShare is the share of the Conv/ConvTranspose/Gemm/MatMul MACs it
	// moved out of integer units.
	MACShare float64
	// GainDB is what it added to the search's score on the calibration
	// samples; Metric is the target metric on the measured samples after
	// it.
	GainDB, Metric float64
}

// Tune stop reasons.
const (
	TuneMet       = "met"       // the target is reached
	TuneExhausted = "exhausted" // no candidate left that gains
	TuneTimeout   = "timeout"   // the timeout cut the search
)

// TuneReport says what Tune did.
type TuneReport struct {
	Metric TuneMetric
	// Target is the metric to reach: dB, or top-1 agreement in percent.
	Target float64
	// Measured is the number of samples the target is measured on;
	// HeldOut tells whether they were held out of calibration (false:
	// too few samples, measured on the calibration ones); Calibration is
	// the number of samples that calibrated and ranked.
	Measured, Calibration int
	HeldOut               bool
	// Before and After are the target metric on the measured samples;
	// BeforeSQNR and AfterSQNR the worst output SQNR there, in dB.
	Before, After         float64
	BeforeSQNR, AfterSQNR float64
	Met                   bool
	// Stop is TuneMet, TuneExhausted or TuneTimeout.
	Stop     string
	Excluded []TuneExclusion
	// FloatWeights are the weighted nodes the exclusions left outside
	// complete units that got their FP32 weights by the scope of
	// TuneOptions.FloatWeights, as "name (op)"; the excluded layers
	// themselves are not among them.
	FloatWeights []string
	// FP32MACsBefore and FP32MACsAfter are the shares of the Conv/
	// ConvTranspose/Gemm/MatMul MACs outside complete integer units (see
	// IntegerUnit) before and after.
	FP32MACsBefore, FP32MACsAfter float64
	// Candidates is the number of candidates the first ranking measured;
	// Rankings the ranking rounds, Trials the runs of single candidates
	// and Confirmed the picks measured on all calibration samples.
	Candidates, Rankings, Trials, Confirmed int
	Elapsed                                 time.Duration
}

// IntegerUnit tells whether the weighted op n (Conv, ConvTranspose, Gemm,
// MatMul with a constant weight) runs as an integer kernel in ONNX
// Runtime: its data and weight inputs come from DequantizeLinear (the
// weight's of a constant), its bias, when present, from a
// DequantizeLinear of a constant, and a Conv's output feeds only
// QuantizeLinear nodes (Gemm and MatMul may keep a float output).
func IntegerUnit(n *graph.Node) bool {
	if !weightedOp(n) || !inUnit(n) {
		return false
	}
	if n.OpType != "MatMul" {
		if b := n.Input(2); b != nil && !(b.Producer != nil && b.Producer.OpType == "DequantizeLinear" && b.Producer.Input(0) != nil && b.Producer.Input(0).Const != nil) {
			return false
		}
	}
	if n.OpType == "Gemm" || n.OpType == "MatMul" {
		return true
	}
	y := n.Outputs[0]
	if y == nil || len(y.Consumers) == 0 || slices.Contains(n.Graph.Outputs, y) {
		return false
	}
	for _, c := range y.Consumers {
		if c.OpType != "QuantizeLinear" {
			return false
		}
	}
	return true
}

// tuneCand is one candidate of the search.
type tuneCand struct {
	key        string // weight initializer, or the QuantizeLinear's output
	activation bool
	label, op  string
	ref        *graph.Node // the layer's FP32 node
	order      int
	gain, macs float64
	// share is macs as a share of the model's Conv/Gemm/MatMul MACs
	share float64
}

// apply puts c back in float in m: a layer's weights and bias (its
// quantized inputs are candidates of their own), or an activation.
func (c *tuneCand) apply(ref, m *graph.Model) error {
	if c.activation {
		return dropActivationChain(ref, m, c.key)
	}
	return fallBackUnit(m, c.key, c.ref, false)
}

// dropActivationChain drops the activation Q/DQ pair whose
// QuantizeLinear output is named qName (dropActivation), then the pairs
// before it that fed it through data-movement ops alone: a Flatten after a
// global pooling shares the pooling's grid, so dropping either pair alone
// leaves the other rounding to the same steps and gains nothing.
func dropActivationChain(ref, m *graph.Model, qName string) error {
	for {
		qv := m.Graph.Value(qName)
		if qv == nil || qv.Producer == nil {
			return fmt.Errorf("tune: no QuantizeLinear output %q", qName)
		}
		x := qv.Producer.Input(0)
		if err := dropActivation(ref, m, qName, true); err != nil {
			return err
		}
		// x's producer moves data; its input from a DequantizeLinear
		// whose QuantizeLinear no other reader needs
		p := x.Producer
		if p == nil || len(p.Inputs) == 0 || p.Input(0) == nil {
			return nil
		}
		if r := passes.RuleFor(p.OpType); r == nil || r.Class != passes.ClassShare || p.Domain != "" && p.Domain != "ai.onnx" {
			return nil
		}
		dq := p.Input(0).Producer
		if dq == nil || dq.OpType != "DequantizeLinear" || len(dq.Outputs[0].Consumers) != 1 {
			return nil
		}
		q := dq.Input(0).Producer
		if q == nil || q.OpType != "QuantizeLinear" || len(q.Outputs[0].Consumers) != 1 {
			return nil
		}
		if dropActivation(ref, m, q.Outputs[0].Name, false) != nil {
			return nil
		}
		qName = q.Outputs[0].Name
	}
}

// tuneCandidates lists the candidates of m: its weighted units, and with
// activations its droppable activation Q/DQ pairs.
func tuneCandidates(ref, m *graph.Model, activations bool) []*tuneCand {
	var out []*tuneCand
	for _, c := range unitCandidates(ref, m) {
		out = append(out, &tuneCand{key: c.weight, label: nodeLabel(c.node), op: c.node.OpType, ref: c.ref})
	}
	if activations {
		for _, n := range m.Graph.Nodes {
			if n.OpType != "QuantizeLinear" || len(n.Outputs) == 0 || n.Outputs[0] == nil {
				continue
			}
			x := n.Input(0)
			if x == nil || x.Const != nil {
				continue
			}
			key := n.Outputs[0].Name
			if dropActivation(ref, m, key, false) != nil {
				continue
			}
			op := "input"
			if x.Producer != nil {
				op = x.Producer.OpType
			}
			out = append(out, &tuneCand{key: key, activation: true, label: x.Name, op: op})
		}
	}
	for i, c := range out {
		c.order = i
	}
	return out
}

var errNotDroppable = errors.New("tune: the activation's Q/DQ pair cannot be dropped")

// dropActivation makes every reader of the DequantizeLinear nodes fed by
// the QuantizeLinear whose output is named qName read that Q's float
// input instead (with apply false it only checks that it can). Each
// reader is matched to its FP32 counterpart in ref by its output's name:
// the reader must read the same float value there, or a Relu, Clip or
// LeakyRelu of it that the quantize pass folded into the Q (then put back
// in front of the reader). A pair feeding a graph output, a subgraph or
// a reader without a counterpart is left alone.
func dropActivation(ref, m *graph.Model, qName string, apply bool) error {
	g := m.Graph
	qv := g.Value(qName)
	if qv == nil || qv.Producer == nil || qv.Producer.OpType != "QuantizeLinear" || qv.Producer.Graph != g {
		return fmt.Errorf("tune: no QuantizeLinear output %q", qName)
	}
	qn := qv.Producer
	x := qn.Input(0)
	if x == nil || x.Const != nil || len(qv.Consumers) == 0 || slices.Contains(g.Outputs, qv) {
		return errNotDroppable
	}
	type edit struct {
		node *graph.Node
		slot int
		act  *graph.Node // the folded activation in ref, or nil
	}
	var edits []edit
	for _, dq := range qv.Consumers {
		if dq.OpType != "DequantizeLinear" || dq.Graph != g || len(dq.Outputs) == 0 || dq.Outputs[0] == nil {
			return errNotDroppable
		}
		d := dq.Outputs[0]
		if slices.Contains(g.Outputs, d) {
			return errNotDroppable
		}
		for _, c := range d.Consumers {
			if c.Graph != g {
				return errNotDroppable
			}
			rc := refCounterpart(ref, c)
			if rc == nil || rc.OpType != c.OpType {
				return errNotDroppable
			}
			for i, in := range c.Inputs {
				if in != d {
					continue
				}
				r := rc.Input(i)
				switch {
				case r == nil:
					return errNotDroppable
				case r.Name == x.Name:
					edits = append(edits, edit{c, i, nil})
				case foldedOf(r, x.Name):
					edits = append(edits, edit{c, i, r.Producer})
				default:
					return errNotDroppable
				}
			}
		}
	}
	if len(edits) == 0 {
		return errNotDroppable
	}
	if !apply {
		return nil
	}
	acts := map[*graph.Node]*graph.Value{}
	for _, e := range edits {
		v := x
		if e.act != nil {
			if acts[e.act] == nil {
				p := e.act
				act := &graph.Node{Name: g.UniqueNodeName(p.Name + "_fp32"), OpType: p.OpType, Domain: p.Domain, Attrs: p.Attrs, Inputs: []*graph.Value{x}}
				for _, extra := range p.Inputs[1:] {
					if extra == nil {
						act.Inputs = append(act.Inputs, nil)
						continue
					}
					cv, err := copyConst(g, extra)
					if err != nil {
						return err
					}
					act.Inputs = append(act.Inputs, cv)
				}
				if err := g.InsertNode(slices.Index(g.Nodes, qn), act, g.UniqueName(p.Outputs[0].Name+"_fp32")); err != nil {
					return err
				}
				acts[e.act] = act.Outputs[0]
			}
			v = acts[e.act]
		}
		e.node.SetInput(e.slot, v)
	}
	return nil
}

// foldedOf tells whether r is the output of a Relu, Clip or LeakyRelu of
// the value named x whose other inputs are constants.
func foldedOf(r *graph.Value, x string) bool {
	p := r.Producer
	if p == nil || len(p.Outputs) != 1 || p.Input(0) == nil || p.Input(0).Name != x {
		return false
	}
	switch p.OpType {
	case "Relu", "Clip", "LeakyRelu":
	default:
		return false
	}
	for _, extra := range p.Inputs[1:] {
		if extra != nil && extra.Const == nil {
			return false
		}
	}
	return true
}

// refCounterpart returns the node of ref's main graph producing the value
// named as n's first output.
func refCounterpart(ref *graph.Model, n *graph.Node) *graph.Node {
	for _, o := range n.Outputs {
		if o == nil {
			continue
		}
		v := ref.Graph.Value(o.Name)
		if v == nil || v.Producer == nil || v.Producer.Graph != ref.Graph {
			return nil
		}
		return v.Producer
	}
	return nil
}

// measure runs m on the samples idx and returns each output's SQNR,
// pooled over the samples, in e.names order, and the top-1 agreement in
// percent of each score output (NaN for the others).
func (e *outputEval) measure(m *graph.Model, idx []int) (sqnr, top1 []float64, err error) {
	m, err = asRun(m)
	if err != nil {
		return
	}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: e.threads})
	if err != nil {
		return nil, nil, err
	}
	ref := make([][]float32, len(e.names))
	got := make([][]float32, len(e.names))
	agree := make([]int, len(e.names))
	rows := make([]int, len(e.names))
	for _, i := range idx {
		sample, err := e.src.Sample(i)
		if err != nil {
			return nil, nil, err
		}
		out, err := sess.Run(sample)
		if err != nil {
			return nil, nil, err
		}
		for k, name := range e.names {
			r, t := e.ref[i][name], out[name]
			if r == nil || t == nil {
				continue
			}
			f := t.FloatValues()
			if len(f) != len(r) {
				continue
			}
			ref[k] = append(ref[k], r...)
			got[k] = append(got[k], f...)
			if w := scoreWidth(t.Shape); w > 0 && e.scores[name] {
				a, n := top1Agree(r, f, w)
				agree[k] += a
				rows[k] += n
			}
		}
	}
	sqnr = make([]float64, len(e.names))
	top1 = make([]float64, len(e.names))
	for k := range e.names {
		sqnr[k], top1[k] = math.NaN(), math.NaN()
		if ref[k] != nil {
			sqnr[k] = qdq.SQNR(ref[k], got[k])
		}
		if rows[k] > 0 {
			top1[k] = 100 * float64(agree[k]) / float64(rows[k])
		}
	}
	return sqnr, top1, nil
}

// scoreWidth is the length of the score vectors of an output of shape s:
// its last axis when it has 2 or more entries, else 0.
func scoreWidth(s []int) int {
	if len(s) == 0 || s[len(s)-1] < 2 {
		return 0
	}
	return s[len(s)-1]
}

// top1Agree counts the vectors of w entries where ref and got have their
// largest entry (the first of equal ones) at the same place.
func top1Agree(ref, got []float32, w int) (agree, rows int) {
	argmax := func(v []float32) int {
		best := 0
		for i := 1; i < len(v); i++ {
			if v[i] > v[best] {
				best = i
			}
		}
		return best
	}
	for o := 0; o+w <= len(ref); o += w {
		rows++
		if argmax(ref[o:o+w]) == argmax(got[o:o+w]) {
			agree++
		}
	}
	return agree, rows
}

// worstOf returns the lowest value of xs that is not NaN (+Inf when
// none is).
func worstOf(xs []float64) float64 {
	w := math.Inf(1)
	for _, x := range xs {
		if !math.IsNaN(x) {
			w = min(w, x)
		}
	}
	return w
}

// climbCap is the SQNR past which the climb on the calibration samples
// stops counting an output, for an SQNR target judged on held-out samples
// that start at heldDB while the calibration ones start at calibDB: 1 dB
// past the target, plus the gap when the held-out samples read lower.
// Without it a calibration figure already past target+1 would hide every
// gain the held-out samples still need.
func climbCap(target, calibDB, heldDB float64) float64 {
	c := target + 1
	if gap := calibDB - heldDB; gap > 0 && !math.IsInf(gap, 0) {
		c += gap
	}
	return c
}

// climbScore is what the search climbs: the SQNR of the mean over the
// outputs of their noise-to-signal ratios, each output counted at no
// better than capDB. It follows the worst output but, unlike it, also
// moves with the others, so a layer that helps the second-worst output
// is seen before the worst one is repaired.
func climbScore(sqnr []float64, capDB float64) float64 {
	floor := math.Pow(10, -capDB/10)
	var sum float64
	n := 0
	for _, s := range sqnr {
		if math.IsNaN(s) {
			continue
		}
		sum += max(math.Pow(10, -s/10), floor)
		n++
	}
	if n == 0 || sum == 0 {
		return capDB
	}
	return -10 * math.Log10(sum/float64(n))
}

// fp32MACs returns the MACs of m's Conv/ConvTranspose/Gemm/MatMul ops
// outside integer units and of all of them, resolving shapes through the
// Q/DQ the quantize pass inserted to the values of the FP32 model. A
// MatMul of two activations (attention's Q·Kᵀ) counts as the coverage
// line counts it: integer when both inputs are dequantized (macs.QDQUnit).
func (e *outputEval) fp32MACs(m *graph.Model) (fp32, total float64) {
	for _, n := range m.Graph.Nodes {
		var integer bool
		switch {
		case weightedOp(n):
			integer = IntegerUnit(n)
		case n.OpType == "MatMul" && (n.Domain == "" || n.Domain == "ai.onnx") && n.Input(0) != nil && n.Input(1) != nil:
			integer = macs.QDQUnit(n)
		case n.OpType == "Einsum" && (n.Domain == "" || n.Domain == "ai.onnx"):
			// no rule quantizes it: float, as the coverage line counts it
		default:
			continue
		}
		count := e.macsQ(n)
		total += count
		if !integer {
			fp32 += count
		}
	}
	return fp32, total
}

// resolveQ follows v, a value of a quantized model, back through the
// Q/DQ and folded activations the quantize pass put before it to a
// constant or a value of the FP32 run.
func (e *outputEval) resolveQ(v *graph.Value) *graph.Value {
	for range 8 {
		if v == nil || v.Const != nil || e.shapes[v.Name] != nil || v.Producer == nil || v.Producer.Input(0) == nil {
			return v
		}
		switch v.Producer.OpType {
		case "QuantizeLinear", "DequantizeLinear", "Relu", "Clip", "LeakyRelu", "Identity":
			v = v.Producer.Input(0)
		default:
			return v
		}
	}
	return v
}

// macsQ is macs for a node of a quantized model.
func (e *outputEval) macsQ(n *graph.Node) float64 {
	c := &graph.Node{OpType: n.OpType, Attrs: n.Attrs}
	for _, in := range n.Inputs {
		c.Inputs = append(c.Inputs, e.resolveQ(in))
	}
	c.Outputs = n.Outputs
	return e.macs(c)
}

// tuneState is one model the search measured.
type tuneState struct {
	m            *graph.Model
	score        float64 // climbScore on all calibration samples
	metric, sqnr float64 // on the measured samples
	fp32         float64 // MACs outside integer units
	excluded     []TuneExclusion
	// floatWeights are the nodes its picks left outside units that got
	// their FP32 weights (passes.FloatWeightsOutsideUnits), as "name (op)".
	floatWeights []string
}

// Tune puts back in float, in place in q, the candidates whose
// quantization costs the outputs most until the target of opts is met on
// the held-out samples of src (see TuneSamples), no candidate gains, or
// opts.Timeout passes. q is a finished quantized model (bias correction
// included), calibrated on the calibration samples alone; ref is the
// prepared FP32 model it was quantized from. Candidates are the weighted
// units of q's main graph and, with opts.Activations, the Q/DQ pairs of
// activations. Each round runs every candidate alone on opts.RankSamples
// calibration samples and ranks them by what they gain per share of the
// MACs they move to float (sortCands); the best is kept when it gains
// opts.MinGainDB on all calibration samples, the next tried otherwise.
// After each pick the candidates are ranked again while the time allows
// (errors interact), else only the leading ones, else none. q ends as the
// best model measured: the highest target metric (counted no higher than
// the target), then the fewest MACs in float.
func Tune(ref, q *graph.Model, src *Samples, opts TuneOptions, threads int) (*TuneReport, error) {
	if ref == nil || ref.Graph == nil || q == nil || q.Graph == nil {
		return nil, errors.New("tune: no model")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if src == nil || src.Len() == 0 {
		return nil, errors.New("tune: no samples")
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	start := time.Now()
	deadline := start.Add(opts.Timeout)
	late := func() bool { return !time.Now().Before(deadline) }
	calibIdx, held := TuneSamples(src.Names(), opts.HoldOut)
	rep := &TuneReport{Metric: opts.Metric, Target: opts.target(), Calibration: len(calibIdx), HeldOut: len(held) > 0}
	defer func() { rep.Elapsed = time.Since(start) }()
	measured := held
	if len(measured) == 0 {
		measured = calibIdx
	}
	rep.Measured = len(measured)
	ev, err := newOutputEval(ref, src, threads)
	if err != nil {
		return nil, fmt.Errorf("tune: FP32 model: %v", err)
	}
	if opts.Metric == TuneTop1 {
		any := false
		for _, name := range ev.names {
			any = any || ev.scores[name] && scoreWidth(ev.shapes[name]) > 0
		}
		if !any {
			return nil, errors.New("tune: top-1 target: no output holds class scores (a Softmax over its last axis, or a Gemm or MatMul's logits, with 2 or more classes)")
		}
	}
	// The climb counts outputs up to 1 dB past the target (climbCap):
	// beyond it a layer's gain buys nothing the target asks for. A top-1
	// target has no dB figure; 60 dB is far past where top-1 choices move.
	capDB := 60.0
	if opts.Metric == TuneSQNR {
		capDB = opts.TargetSQNR + 1
	}
	target := opts.target()
	measure := func(s *tuneState) error {
		sq, t1, err := ev.measure(s.m, measured)
		if err != nil {
			return err
		}
		s.sqnr = worstOf(sq)
		s.metric = s.sqnr
		if opts.Metric == TuneTop1 {
			s.metric = worstOf(t1)
		}
		return nil
	}
	better := func(a, b *tuneState) bool {
		ma, mb := min(a.metric, target), min(b.metric, target)
		if ma != mb {
			return ma > mb
		}
		return a.fp32 < b.fp32
	}
	cur := &tuneState{m: q}
	if err := measure(cur); err != nil {
		return nil, fmt.Errorf("tune: quantized model: %v", err)
	}
	fp32, total := ev.fp32MACs(q)
	share := func(macs float64) float64 {
		if total <= 0 {
			return 0
		}
		return macs / total
	}
	cur.fp32 = fp32
	rep.Before, rep.BeforeSQNR, rep.FP32MACsBefore = cur.metric, cur.sqnr, share(cur.fp32)
	best := cur
	finish := func(stop string) (*TuneReport, error) {
		rep.Stop = stop
		rep.After, rep.AfterSQNR, rep.FP32MACsAfter = best.metric, best.sqnr, share(best.fp32)
		rep.Met = best.metric >= target
		rep.Excluded = best.excluded
		rep.FloatWeights = best.floatWeights
		if best.m != q {
			*q = *best.m
			// the layers it put in float must stay float in ONNX Runtime,
			// and the data moves that now write float readers need the
			// guard Finish gave the others
			if _, err := passes.PinFloatLayers(q); err != nil {
				return nil, err
			}
			if _, err := passes.GuardDQPropagation(q); err != nil {
				return nil, err
			}
		}
		return rep, nil
	}
	if cur.metric >= target {
		return finish(TuneMet)
	}
	if late() {
		return finish(TuneTimeout)
	}
	rank := make([]int, 0, opts.RankSamples)
	for _, j := range spread(len(calibIdx), opts.RankSamples) {
		rank = append(rank, calibIdx[j])
	}
	calibSQ, _, err := ev.measure(q, calibIdx)
	if err != nil {
		return nil, err
	}
	if opts.Metric == TuneSQNR && len(held) > 0 {
		capDB = climbCap(opts.TargetSQNR, worstOf(calibSQ), cur.sqnr)
	}
	score := func(m *graph.Model, idx []int) (float64, error) {
		sq, _, err := ev.measure(m, idx)
		if err != nil {
			return 0, err
		}
		return climbScore(sq, capDB), nil
	}
	cur.score = climbScore(calibSQ, capDB)
	// raiseCap widens the cap to c, scoring cur (its figures on the
	// calibration samples, curCalibSQ) again under it: after a pick, to the
	// gap between the calibration and held-out samples as it then stands,
	// which can grow as the search goes (0.4 → 2.1 dB on a ResNet-style
	// model), where a cap set from the first gap would leave every
	// candidate without a gain while the held-out samples are still short
	// of the target.
	curCalibSQ := calibSQ
	raiseCap := func(c float64, why string) {
		if opts.Metric != TuneSQNR || len(held) == 0 || !(c > capDB) {
			return
		}
		logf("tune: %s: the climb counts outputs up to %.2f dB", why, c)
		capDB = c
		cur.score = climbScore(curCalibSQ, capDB)
	}
	calibSrc, err := src.Subset(calibIdx)
	if err != nil {
		return nil, err
	}
	trial := func(c *tuneCand) (*graph.Model, []string, error) {
		t, err := Clone(cur.m)
		if err != nil {
			return nil, nil, err
		}
		if err := c.apply(ref, t); err != nil {
			return nil, nil, err
		}
		// A reader of a dropped activation may now be outside any unit:
		// it is measured with the weights it will be written with.
		floatWeights, err := passes.FloatWeightsOutsideUnits(t, ref, opts.FloatWeights)
		if err != nil {
			return nil, nil, err
		}
		return t, floatWeights, nil
	}
	// rankAll measures each candidate alone on the ranking samples and
	// returns those that gain, best first; ok is false when the time ran
	// out partway.
	rankAll := func(cands []*tuneCand) (ranked []*tuneCand, ok bool, err error) {
		base, err := score(cur.m, rank)
		if err != nil {
			return nil, false, err
		}
		for _, c := range cands {
			if late() {
				return nil, false, nil
			}
			t, _, err := trial(c)
			if err != nil {
				continue // an earlier pick took its unit apart
			}
			s, err := score(t, rank)
			if err != nil {
				return nil, false, fmt.Errorf("tune: %s in FP32: %v", c.label, err)
			}
			rep.Trials++
			f, _ := ev.fp32MACs(t)
			c.gain, c.macs = s-base, f-cur.fp32
			c.share = share(c.macs)
			if share(f) > opts.MaxFP32MACs+1e-9 && c.macs > 0 {
				continue // past the MAC budget
			}
			if c.gain > 0 {
				ranked = append(ranked, c)
			}
		}
		sortCands(ranked)
		return ranked, true, nil
	}
	rejected := map[string]bool{}
	fresh := func() []*tuneCand {
		var out []*tuneCand
		for _, c := range tuneCandidates(ref, cur.m, opts.Activations) {
			if !rejected[c.key] {
				out = append(out, c)
			}
		}
		return out
	}
	const lead = 16 // candidates ranked again when a full round does not fit
	var ranked []*tuneCand
	var perTrial time.Duration
	needRank := true
	for {
		if late() {
			return finish(TuneTimeout)
		}
		if needRank {
			needRank = false
			left := time.Until(deadline)
			var cands []*tuneCand
			full := false
			switch all := fresh(); {
			case rep.Rankings == 0 || time.Duration(len(all))*perTrial*3 <= left:
				cands, full = all, true
			case lead*perTrial*3 <= left:
				keep := map[string]bool{}
				for _, c := range ranked[:min(lead, len(ranked))] {
					keep[c.key] = true
				}
				for _, c := range all {
					if keep[c.key] {
						cands = append(cands, c)
					}
				}
			}
			if cands != nil {
				t0 := time.Now()
				r, ok, err := rankAll(cands)
				if err != nil {
					return nil, err
				}
				if !ok {
					return finish(TuneTimeout)
				}
				if rep.Rankings == 0 {
					rep.Candidates = len(cands)
				}
				rep.Rankings++
				perTrial = time.Since(t0) / time.Duration(max(len(cands), 1))
				logf("tune: ranked %d candidates (%d gain) in %.1fs", len(cands), len(r), time.Since(t0).Seconds())
				if full {
					ranked = r
				} else {
					// The leading ones in their new order, then the rest.
					in := map[string]bool{}
					for _, c := range cands {
						in[c.key] = true
					}
					for _, c := range ranked {
						if !in[c.key] {
							r = append(r, c)
						}
					}
					ranked = r
				}
			}
		}
		if len(ranked) == 0 {
			// The ranking samples may stand past the cap while the
			// held-out ones are still short: the climb then goes on, once,
			// with every output counted however good.
			if opts.Metric == TuneSQNR && len(held) > 0 && capDB < noClimbCap {
				raiseCap(noClimbCap, fmt.Sprintf("no candidate gains up to %.2f dB while the held-out samples read %.2f", capDB, cur.sqnr))
				needRank = true
				continue
			}
			return finish(TuneExhausted)
		}
		c := ranked[0]
		ranked = ranked[1:]
		t, floatWeights, err := trial(c)
		if err != nil {
			rejected[c.key] = true // an earlier pick took its unit apart
			continue
		}
		if opts.BiasCorrection {
			if _, err := CorrectBiases(ref, t, calibSrc, threads, nil); err != nil {
				return nil, fmt.Errorf("tune: bias correction: %v", err)
			}
		}
		tSQ, _, err := ev.measure(t, calibIdx)
		if err != nil {
			return nil, err
		}
		s := climbScore(tSQ, capDB)
		rep.Confirmed++
		if !(s >= cur.score+opts.MinGainDB) {
			rejected[c.key] = true
			logf("tune: %s (%s) gains %+.2f dB on the calibration samples: not kept", c.label, c.op, s-cur.score)
			continue
		}
		if err := passes.Run(t, &passes.Context{Values: map[string]any{}}, []passes.Pass{passes.RemoveDeadNodes()}, passes.RunOptions{}); err != nil {
			return nil, fmt.Errorf("tune: %v", err)
		}
		next := &tuneState{m: t, score: s, floatWeights: append(slices.Clone(cur.floatWeights), floatWeights...)}
		next.fp32, _ = ev.fp32MACs(t)
		if err := measure(next); err != nil {
			return nil, err
		}
		next.excluded = append(slices.Clone(cur.excluded), TuneExclusion{Node: c.label, Op: c.op, Activation: c.activation,
			MACShare: share(next.fp32 - cur.fp32), GainDB: s - cur.score, Metric: next.metric})
		gain, macShare := s-cur.score, share(next.fp32-cur.fp32)
		cur = next
		// The candidate is in float now; the rest keep their keys.
		ranked = slices.DeleteFunc(ranked, func(o *tuneCand) bool { return o.key == c.key })
		held := "the best model found"
		if better(cur, best) {
			best = cur
		} else {
			// the climb goes on from it, but what is written is the best
			held = fmt.Sprintf("below the best so far, %.2f, which stays the one written", best.metric)
		}
		logf("tune: %s (%s) taken: %+.2f dB on the calibration samples (score %.2f), %.2f%% of the MACs; measured %.2f (SQNR %.2f dB): %s",
			c.label, c.op, gain, s, 100*macShare, next.metric, next.sqnr, held)
		curCalibSQ = tSQ
		if cur.metric >= target {
			return finish(TuneMet)
		}
		raiseCap(climbCap(opts.TargetSQNR, worstOf(tSQ), cur.sqnr), fmt.Sprintf("the calibration samples read %.2f dB past the held-out ones", worstOf(tSQ)-cur.sqnr))
		needRank = true
	}
}

// noClimbCap is the cap of a climb that counts every output however good.
const noClimbCap = 200

// tuneMACUnit is the least share of the MACs a candidate counts as
// moving to float when candidates are ranked: an activation moving none
// is not infinitely better than a small layer.
const tuneMACUnit = 0.02

// sortCands orders candidates by gain per share of the MACs they move to
// float (tuneMACUnit at least), best first: a layer with a fifth of the
// MACs gaining 0.1 dB comes after an activation gaining 0.8 that moves
// none; then by fewer MACs, then in graph order.
func sortCands(cs []*tuneCand) {
	worth := func(c *tuneCand) float64 { return c.gain / max(c.share, tuneMACUnit) }
	sort.SliceStable(cs, func(i, j int) bool {
		if wi, wj := worth(cs[i]), worth(cs[j]); wi != wj {
			return wi > wj
		}
		if cs[i].macs != cs[j].macs {
			return cs[i].macs < cs[j].macs
		}
		return cs[i].order < cs[j].order
	})
}
