// biascorrect.go holds empirical bias correction: after Q/DQ insertion, the
// integer bias of each quantized Conv/Gemm/MatMul absorbs the mean error
// its output shows, per output channel, against the FP32 model.

package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// biasTarget is one weighted node whose bias can absorb a correction.
type biasTarget struct {
	output  string        // the node's float output in the quantized model
	refOut  string        // the same node's output in the FP32 model
	axis    int           // the channel axis of the output
	bias    *graph.Tensor // int32 data of the bias DequantizeLinear
	scales  []float32     // the bias scale per channel (one when per tensor)
	channel int           // number of output channels
	// lo and hi bound what the output's QuantizeLinear can represent (a
	// folded Relu sets lo to 0); ±Inf when the output stays float.
	lo, hi float64
}

// quantizedBounds returns the range the QuantizeLinear consumers of v
// represent, when they all share one per-tensor scale and zero point, and
// ±Inf otherwise.
func quantizedBounds(v *graph.Value) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	var scale, zp *graph.Value
	for i, c := range v.Consumers {
		if c.OpType != "QuantizeLinear" {
			return
		}
		if i == 0 {
			scale, zp = c.Input(1), c.Input(2)
		} else if c.Input(1) != scale || c.Input(2) != zp {
			return
		}
	}
	if scale == nil || scale.Const == nil || zp == nil || zp.Const == nil {
		return
	}
	s, err := scale.Const.Float32s()
	if err != nil || len(s) != 1 || !(s[0] > 0) {
		return
	}
	z, err := zp.Const.Int64s()
	if err != nil || len(z) != 1 {
		return
	}
	var qmin, qmax float64
	switch zp.Const.DType {
	case graph.Uint8:
		qmin, qmax = 0, 255
	case graph.Int8:
		qmin, qmax = -128, 127
	case graph.Uint16:
		qmin, qmax = 0, 65535
	case graph.Int16:
		qmin, qmax = -32768, 32767
	default:
		return
	}
	return (qmin - float64(z[0])) * float64(s[0]), (qmax - float64(z[0])) * float64(s[0])
}

// biasTargets finds the quantized weighted nodes of q's main graph whose
// bias is a DequantizeLinear of an int32 initializer, and their
// counterparts in ref, matched by the weight initializer's name (the
// quantize pass keeps it; output names may differ where an activation was
// folded into the node's range).
func biasTargets(ref, q *graph.Model) []*biasTarget {
	refByWeight := nodesByWeight(ref.Graph)
	var out []*biasTarget
	for _, n := range q.Graph.Nodes {
		biasIdx, axis := -1, 1
		switch n.OpType {
		case "Conv", "ConvTranspose":
			biasIdx = 2
		case "Gemm":
			biasIdx, axis = 2, -1
		default:
			continue
		}
		b := n.Input(biasIdx)
		if b == nil || b.Producer == nil || b.Producer.OpType != "DequantizeLinear" || len(n.Outputs) != 1 {
			continue
		}
		dq := b.Producer
		data, scale := dq.Input(0), dq.Input(1)
		if data == nil || data.Const == nil || data.Const.DType != graph.Int32 || scale == nil || scale.Const == nil {
			continue
		}
		if len(data.Consumers) != 1 || len(b.Consumers) != 1 {
			continue // shared bias: a correction for one node would move another
		}
		s, err := scale.Const.Float32s()
		if err != nil || len(s) == 0 {
			continue
		}
		channels := int(data.Const.NumElements())
		if len(s) != 1 && len(s) != channels {
			continue
		}
		w := n.Input(1)
		if w == nil || w.Producer == nil || w.Producer.OpType != "DequantizeLinear" || w.Producer.Input(0) == nil {
			continue
		}
		rn := refByWeight[w.Producer.Input(0).Name]
		if rn == nil || rn.OpType != n.OpType {
			continue
		}
		t := &biasTarget{output: n.Outputs[0].Name, refOut: rn.Outputs[0].Name, axis: axis, bias: data.Const, scales: s, channel: channels}
		t.lo, t.hi = quantizedBounds(n.Outputs[0])
		out = append(out, t)
	}
	return out
}

// channelMeans runs m on every sample of src and returns, per target
// (keyed by its output in the quantized model) and sample, the mean of
// each channel over the sample's positions, clipped to the target's
// bounds, followed by the share of positions inside them:
// [sample][channel, then channels+channel]. feed, when set, gives the
// inputs of sample i from the sample's own, and also, when set, sees every
// value produced.
func channelMeans(m *graph.Model, src *Samples, targets []*biasTarget, inRef bool, threads int,
	feed func(i int, sample map[string]*runtime.Tensor) map[string]*runtime.Tensor, also func(v *graph.Value, x *runtime.Tensor)) (map[string][][]float64, error) {
	byName := map[string]*biasTarget{}
	means := map[string][][]float64{}
	for _, t := range targets {
		name := t.output
		if inRef {
			name = t.refOut
		}
		byName[name] = t
	}
	var shapeErr error
	sess, err := runtime.NewSession(m, runtime.Options{Threads: threads, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if also != nil {
			also(v, x)
		}
		t := byName[v.Name]
		if t == nil {
			return
		}
		f := x.F32()
		if f == nil || len(x.Shape) == 0 {
			return
		}
		axis := t.axis
		if axis < 0 {
			axis += len(x.Shape)
		}
		if axis < 0 || axis >= len(x.Shape) || x.Shape[axis] != t.channel {
			shapeErr = errors.New("output " + v.Name + " has an unexpected shape")
			return
		}
		inner := 1
		for _, d := range x.Shape[axis+1:] {
			inner *= d
		}
		// The clipped mean, then the share of positions inside the
		// bounds, block by block of inner positions, each channel's sums
		// in position order.
		s := make([]float64, 2*t.channel)
		lo, hi := t.lo, t.hi
		for base := 0; inner > 0 && base+inner <= len(f); {
			for c := 0; c < t.channel; c++ {
				sum, inside := s[c], s[t.channel+c]
				for _, val := range f[base : base+inner] {
					x := float64(val)
					if x > lo && x < hi {
						inside++
					}
					sum += min(max(x, lo), hi)
				}
				s[c], s[t.channel+c] = sum, inside
				base += inner
			}
		}
		per := float64(len(f) / t.channel)
		for c := range s {
			s[c] /= per
		}
		means[t.output] = append(means[t.output], s)
	}})
	if err != nil {
		return nil, err
	}
	for i := 0; i < src.Len(); i++ {
		sample, err := src.Sample(i)
		if err != nil {
			return nil, err
		}
		if feed != nil {
			sample = feed(i, sample)
		}
		if _, err := sess.Run(sample); err != nil {
			return nil, err
		}
		if shapeErr != nil {
			return nil, shapeErr
		}
	}
	for _, t := range targets {
		if len(means[t.output]) != src.Len() {
			return nil, errors.New("output " + t.output + " was not computed once per sample")
		}
	}
	return means, nil
}

// minInside is the share of positions inside the bounds below which a
// channel is left alone: its clipped mean hardly depends on the bias.
const minInside = 0.05

// meanError is the correction for one channel: the mean over samples of
// the per-sample mean error, shrunk towards 0 as its standard error grows
// (factor 1 - (se/mean)², none below one standard error), so that a
// mean the samples do not agree on is not applied. A sample whose mean
// is not finite in either model (a NaN or ±Inf reached that channel) is
// left out; with none left the correction is 0.
func meanError(got, want [][]float64, c int) float64 {
	var n, sum, sq float64
	for s := range got {
		d := got[s][c] - want[s][c]
		if math.IsNaN(d) || math.IsInf(d, 0) {
			continue
		}
		n++
		sum += d
		sq += d * d
	}
	if n == 0 {
		return 0
	}
	mean := sum / n
	if n < 2 || mean == 0 {
		return mean
	}
	variance := max(0, (sq-n*mean*mean)/(n-1))
	ratio := variance / n / (mean * mean)
	return mean * max(0, 1-ratio)
}

// levels groups targets by how many targets lie upstream of them on the
// longest path: no target is upstream of another of its level, so a level
// is corrected at once, after every level above it.
func levels(q *graph.Model, targets []*biasTarget) [][]*biasTarget {
	outs := make([]string, len(targets))
	for i, t := range targets {
		outs[i] = t.output
	}
	var out [][]*biasTarget
	for _, lv := range nodeLevels(q, outs) {
		var l []*biasTarget
		for _, i := range lv {
			l = append(l, targets[i])
		}
		out = append(out, l)
	}
	return out
}

// levelOutputs names the targets' outputs, level by level.
func levelOutputs(lv [][]*biasTarget) [][]string {
	outs := make([][]string, len(lv))
	for li, level := range lv {
		for _, t := range level {
			outs[li] = append(outs[li], t.output)
		}
	}
	return outs
}

// nodeLevels groups the nodes producing outputs (indices into outputs) by
// how many of them lie upstream on the longest path, in graph order
// within a level.
func nodeLevels(q *graph.Model, outputs []string) [][]int {
	byOutput := map[string]int{}
	for i, o := range outputs {
		byOutput[o] = i
	}
	depth := map[*graph.Value]int{} // targets upstream of a value, itself included
	maxDepth := 0
	at := map[int][]int{}
	for _, n := range q.Graph.Nodes {
		d := 0
		for _, in := range n.Inputs {
			if in != nil {
				d = max(d, depth[in])
			}
		}
		for _, o := range n.Outputs {
			if o == nil {
				continue
			}
			if i, ok := byOutput[o.Name]; ok {
				at[d] = append(at[d], i)
				maxDepth = max(maxDepth, d)
				depth[o] = d + 1
			} else {
				depth[o] = d
			}
		}
	}
	var out [][]int
	for d := 0; d <= maxDepth; d++ {
		if len(at[d]) > 0 {
			out = append(out, at[d])
		}
	}
	return out
}

// CorrectBiases moves the integer bias of every quantized Conv,
// ConvTranspose and Gemm of q so that, on the samples of src, the mean of
// each output channel equals the FP32 model's (ref, the prepared model q
// was made from). The per-channel mean error comes from rounding and
// clipping that do not average out (Relu-clipped inputs, depthwise weights
// with few taps); removing it leaves the zero-mean part of the error.
// Nodes are corrected from the inputs down, each measured with everything
// above it already corrected: correcting all at once would count an
// upstream error twice. progress, when set, is called after each level.
func CorrectBiases(ref, q *graph.Model, src *Samples, threads int, progress func(done, total int)) (*BiasReport, error) {
	rep := &BiasReport{}
	if ref == nil || q == nil || src == nil || src.Len() == 0 {
		return rep, nil
	}
	targets := biasTargets(ref, q)
	rep.Candidates = len(targets)
	if len(targets) == 0 {
		return rep, nil
	}
	want, err := channelMeans(ref, src, targets, true, threads, nil, nil)
	if err != nil {
		return nil, err
	}
	before, err := WorstOutputSQNR(ref, q, src, threads)
	if err != nil {
		return nil, err
	}
	saved := make([][]byte, len(targets))
	for i, t := range targets {
		raw, err := t.bias.Raw()
		if err != nil {
			return nil, err
		}
		saved[i] = append([]byte(nil), raw...)
	}
	corrected := 0
	lv := levels(q, targets)
	// a level measures its outputs, then moves their biases
	outs := levelOutputs(lv)
	cut := newPrefixCache(q, outs, outs)
	for li, level := range lv {
		sub, feed, observe, done, err := cut.run(q, outs[li], false, li)
		if err != nil {
			return nil, err
		}
		got, err := channelMeans(sub, src, level, false, threads, feed, observe)
		if err != nil {
			return nil, err
		}
		done(src.Len())
		for _, t := range level {
			vals, err := t.bias.Int64s()
			if err != nil {
				continue
			}
			changed := false
			for c := range vals {
				s := float64(t.scales[0])
				if len(t.scales) > 1 {
					s = float64(t.scales[c])
				}
				if s <= 0 {
					continue
				}
				// A shift of the bias moves the clipped mean only where
				// the output is inside the bounds.
				var inside float64
				for _, w := range want[t.output] {
					inside += w[t.channel+c]
				}
				inside /= float64(len(want[t.output]))
				if inside < minInside {
					continue
				}
				step := math.RoundToEven(meanError(got[t.output], want[t.output], c) / inside / s)
				nv := float64(vals[c]) - step
				if step == 0 || math.IsNaN(nv) || nv > math.MaxInt32 || nv < math.MinInt32 {
					continue
				}
				vals[c] = int64(nv)
				changed = true
			}
			if !changed {
				continue
			}
			raw := make([]byte, 4*len(vals))
			for i, v := range vals {
				binary.LittleEndian.PutUint32(raw[4*i:], uint32(int32(v)))
			}
			if err := t.bias.SetRaw(raw); err != nil {
				return nil, err
			}
			corrected++
		}
		if progress != nil {
			progress(li+1, len(lv))
		}
	}
	// Matching means is not guaranteed to help the outputs (an error in
	// a mean can offset one further down); keep the corrections only when
	// the worst output improves on the same samples.
	after, err := WorstOutputSQNR(ref, q, src, threads)
	if err != nil {
		return nil, err
	}
	rep.Before, rep.After, rep.Moved = before, after, corrected
	if !(after > before) {
		for i, t := range targets {
			if err := t.bias.SetRaw(saved[i]); err != nil {
				return nil, err
			}
		}
		return rep, nil
	}
	rep.Applied = true
	return rep, nil
}

// BiasReport says what CorrectBiases did.
type BiasReport struct {
	// Candidates counts the quantized nodes with an integer bias of their
	// own; Moved, those whose bias the correction changed.
	Candidates, Moved int
	// Before and After are the worst output SQNR, in dB, on the samples
	// without and with the corrections.
	Before, After float64
	// Applied tells whether the corrections were kept: only when After is
	// better than Before.
	Applied bool
}

// computing returns a copy of q whose outputs are the values named (each
// once), holding only the nodes they need (graph.Extract); with
// computedOnly, names of graph inputs or constants are left out. The
// values named by inputs that they need are read as graph inputs of the
// copy, under their own names, instead of being computed.
func computing(q *graph.Model, names []string, computedOnly bool, inputs []string) (*graph.Model, error) {
	var outs []string
	for _, name := range names {
		v := q.Graph.Value(name)
		if v == nil {
			return nil, errors.New("value " + name + " is missing from the model")
		}
		if (!computedOnly || v.Producer != nil) && !slices.Contains(outs, name) {
			outs = append(outs, name)
		}
	}
	return graph.Extract(q, outs, inputs)
}

// WorstOutputSQNR is the lowest SQNR of q's outputs against ref on all
// the samples of src. Outputs without one (empty, or not float: NaN) are
// left out, so they cannot turn every comparison of two models into a
// tie; with none left it is +Inf.
func WorstOutputSQNR(ref, q *graph.Model, src *Samples, threads int) (float64, error) {
	if src == nil {
		return 0, errors.New("worst output SQNR: no samples")
	}
	res, err := OutputSQNR(ref, q, src, src.Len(), threads)
	if err != nil {
		return 0, err
	}
	dbs := make([]float64, len(res))
	for i, r := range res {
		dbs[i] = r.DB
	}
	return worstOf(dbs), nil
}

// nodesByWeight maps the name of each constant read as input 1 (a weight)
// by a one-output node of g to that node; nil when several nodes read it.
func nodesByWeight(g *graph.Graph) map[string]*graph.Node {
	byWeight := map[string]*graph.Node{}
	for _, n := range g.Nodes {
		if w := n.Input(1); w != nil && w.Const != nil && len(n.Outputs) == 1 {
			if _, dup := byWeight[w.Name]; dup {
				byWeight[w.Name] = nil
			} else {
				byWeight[w.Name] = n
			}
		}
	}
	return byWeight
}
