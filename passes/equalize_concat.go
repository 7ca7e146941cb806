// This file holds the Concat half of equalize-activations. A Concat along
// the channel axis whose output only Convs read puts values of different
// producers on one activation grid: a sigmoid map in [0, 1] concatenated
// with Relu features reaching 21 keeps about a dozen of the 256 levels.
// Where an input of the Concat comes from a Conv, through ops a factor per
// channel passes through (Relu, the pools, Resize: an upsampled deeper
// feature map beside a skip connection), and nothing else reads those
// values, that Conv's output channels (weights and bias) can be divided
// by a factor s and the reading Convs' weights for those input channels
// multiplied by s: the model computes the same function, and the loud
// input stops setting the grid for the quiet one.
//
// Unlike the depthwise case, the factor costs the reading Conv weight
// precision: its per-output-channel weight scale now spans weights
// multiplied by s. So s is chosen, per rescalable input, to minimise an
// estimate of the noise both kinds of quantization add at the reading
// Convs' outputs, relative to their signal: activation noise Δa²/12 per
// element (Δa the Concat's step over its rescaled range) through the
// squared weights, and weight noise Δw²/12 per weight (Δw the output
// channel's step over its rescaled weights) through each input channel's
// mean square, measured on the calibration samples; the reader it is worst
// for counts. The factors are powers of √2, searched one input at a time;
// they are applied only when the estimate gains concatEqualizeMinGainDB,
// since it is an estimate.
//
// The same trade made per channel of a Conv -> (Relu)? output that regular
// Convs read (activation equalization in front of pointwise Convs) gained
// on some shared models and lost up to 3 dB on others (yunet_n_320's
// stride-32 objectness, silero_vad_v3_1), with factors bounded to 2 as
// well: a per-tensor grid shared by channels of one producer is not what
// costs there.

package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// concatEqualizeMinGainDB is the estimated gain below which a Concat is
// left alone.
const concatEqualizeMinGainDB = 1.0

// concatEqualizeSteps bounds the factors to √2^±concatEqualizeSteps
// (1/32 to 32, as equalizeMaxScale bounds the depthwise case).
const concatEqualizeSteps = 10

// concatPair is one Concat with the inputs it may rescale and the Convs
// reading it.
type concatPair struct {
	concat  *graph.Node
	inputs  []concatSource
	readers []*graph.Node
}

// concatSource is one input of a concatPair: conv is nil when the input
// cannot be rescaled.
type concatSource struct {
	value *graph.Value
	conv  *graph.Node
	w, b  *graph.Value   // Conv weights and bias (b may be nil)
	chain []*graph.Value // the values from the Conv's output to value, which the factor rescales
}

// concatChannelAxis reports whether Concat n joins along axis 1 of values
// of rank 3 or more (NCHW-like: the axis Conv reads as channels).
func concatChannelAxis(n *graph.Node) bool {
	out := n.Outputs[0]
	axis := n.AttrInt("axis", 0)
	if axis < 0 {
		if out.Shape == nil {
			return false
		}
		axis += int64(len(out.Shape))
	}
	return axis == 1 && (out.Shape == nil || len(out.Shape) >= 3)
}

// findConcatPair returns the pair of Concat n, if it has one: an output
// only Convs read as their data input (with float32 weights of their
// own), distinct inputs, and at least one input a Conv produces for the
// Concat alone (see concatProducer).
func findConcatPair(m *graph.Model, g *graph.Graph, n *graph.Node) (concatPair, bool) {
	if !isDefaultOp(n, "Concat") || n1(n.Outputs) != 1 || n.Outputs[0] == nil || len(n.Inputs) < 2 {
		return concatPair{}, false
	}
	out := n.Outputs[0]
	if isGraphOutput(g, out) || len(out.Consumers) == 0 || !concatChannelAxis(n) {
		return concatPair{}, false
	}
	p := concatPair{concat: n}
	for _, r := range out.Consumers {
		if isDefaultOp(r, "Shape") || isDefaultOp(r, "Size") {
			continue // reads the shape alone, which stays
		}
		if !isDefaultOp(r, "Conv") || r.Graph != g || r.Input(0) != out || r.Input(1) == out || r.Input(2) == out {
			return concatPair{}, false
		}
		w := r.Input(1)
		if w == nil || !ownedF32(m, g, r, w) || len(w.Const.Dims) < 3 || w.Const.Dims[0] <= 0 || w.Const.Dims[1] <= 0 {
			return concatPair{}, false
		}
		if groups := r.AttrInt("group", 1); groups < 1 || w.Const.Dims[0]%groups != 0 {
			return concatPair{}, false
		}
		p.readers = append(p.readers, r)
	}
	if len(p.readers) == 0 {
		return concatPair{}, false
	}
	seen := map[*graph.Value]bool{}
	rescalable := false
	for _, v := range n.Inputs {
		if v == nil || seen[v] {
			return concatPair{}, false
		}
		seen[v] = true
		src := concatSource{value: v}
		if c, chain, ok := concatProducer(g, n, v); ok {
			w, b := c.Input(1), c.Input(2)
			if w != nil && ownedF32(m, g, c, w) && len(w.Const.Dims) >= 3 && w.Const.Dims[0] > 0 &&
				(b == nil || (ownedF32(m, g, c, b) && len(b.Const.Dims) == 1 && b.Const.Dims[0] == w.Const.Dims[0])) {
				src.conv, src.w, src.b, src.chain = c, w, b, chain
				rescalable = true
			}
		}
		p.inputs = append(p.inputs, src)
	}
	return p, rescalable
}

// scaleCommuting are the ops between a Conv and a Concat that a positive
// factor per channel passes through unchanged: positively homogeneous
// (Relu, LeakyRelu, the max pools) or linear per channel (the average
// pools, Resize and Upsample, whose interpolation weighs values of one
// channel).
var scaleCommuting = map[string]bool{
	"Relu": true, "LeakyRelu": true, "MaxPool": true, "GlobalMaxPool": true,
	"AveragePool": true, "GlobalAveragePool": true, "Resize": true, "Upsample": true,
}

// concatProducer returns the Conv producing v for concat alone, through
// ops that commute with a factor per channel (each value read by the next
// op alone), with the values from the Conv's output to v.
func concatProducer(g *graph.Graph, concat *graph.Node, v *graph.Value) (*graph.Node, []*graph.Value, bool) {
	if soleReader(g, v) != concat {
		return nil, nil, false
	}
	chain := []*graph.Value{v}
	for {
		p := v.Producer
		if isDefaultOp(p, "Conv") && n1(p.Outputs) == 1 && p.Outputs[0] == v {
			return p, chain, true
		}
		if p == nil || (p.Domain != "" && p.Domain != "ai.onnx") || !scaleCommuting[p.OpType] || n1(p.Outputs) != 1 || p.Outputs[0] != v {
			return nil, nil, false
		}
		in := p.Input(0)
		if in == nil || soleReader(g, in) != p || slices.Contains(p.Inputs[1:], in) {
			return nil, nil, false
		}
		v = in
		chain = append(chain, v)
	}
}

// equalizeConcats rescales the inputs of the Concats of m's main graph
// whose inputs' statistics are in ranges, except those that would
// rescale a value opts keeps; it returns how many it rescaled.
func equalizeConcats(m *graph.Model, ranges map[string]ChannelRange, opts ReaderOptions) (int, error) {
	g := m.Graph
	done := 0
	for _, n := range g.Nodes {
		p, ok := findConcatPair(m, g, n)
		if !ok || p.candidate().Keeps(opts.Keep) {
			continue
		}
		changed, err := p.rescale(m, g, ranges, opts.WeightLevels)
		if err != nil {
			return done, fmt.Errorf("%s: %v", n.Name, err)
		}
		if changed {
			done++
		}
	}
	return done, nil
}

// candidate names p's values (see ConcatEqualizeCandidates).
func (p concatPair) candidate() ReaderCandidate {
	var c ReaderCandidate
	for _, src := range p.inputs {
		c.Inputs = append(c.Inputs, src.value.Name)
		if src.conv != nil {
			for _, v := range src.chain {
				c.Rescaled = append(c.Rescaled, v.Name)
			}
		}
	}
	c.Rescaled = append(c.Rescaled, p.concat.Outputs[0].Name)
	return c
}

// ConcatEqualizeCandidates returns, for each Concat of m's main graph that
// equalize-activations may rescale, the names of the values it rescales
// (every value from each rescaled input's Conv to the Concat, and the
// Concat's output) in Rescaled and of the Concat's inputs, whose
// per-channel statistics the pass needs, in Inputs.
func ConcatEqualizeCandidates(m *graph.Model) []ReaderCandidate {
	var out []ReaderCandidate
	for _, n := range m.Graph.Nodes {
		if p, ok := findConcatPair(m, m.Graph, n); ok {
			out = append(out, p.candidate())
		}
	}
	return out
}

// ReaderCandidate names the values one site equalize-activations may
// rescale for the weights reading it (see ConcatEqualizeCandidates and
// SmoothCandidates).
type ReaderCandidate struct {
	Inputs, Rescaled []string
}

// Keeps reports whether c would rescale a value named in keep (whose
// values must stay as they are).
func (c ReaderCandidate) Keeps(keep map[string]bool) bool {
	return slices.ContainsFunc(c.Rescaled, func(name string) bool { return keep[name] })
}

// concatStats is what the noise estimate reads of the Concat's output
// channels: the range and mean square of each, and the input it comes
// from.
type concatStats struct {
	lo, hi, meanSq []float64
	source         []int
}

// stats gathers the per-channel statistics of p's inputs from ranges; it
// reports false when one is missing, not finite or does not fit.
func (p concatPair) stats(ranges map[string]ChannelRange) (concatStats, bool) {
	var st concatStats
	for i, src := range p.inputs {
		r, ok := ranges[src.value.Name]
		if !ok || len(r.Min) == 0 || len(r.Max) != len(r.Min) || len(r.MeanSquare) != len(r.Min) {
			return concatStats{}, false
		}
		if src.conv != nil && int64(len(r.Min)) != src.w.Const.Dims[0] {
			return concatStats{}, false
		}
		for k := range r.Min {
			lo, hi, ms := float64(r.Min[k]), float64(r.Max[k]), r.MeanSquare[k]
			if !finite(lo) || !finite(hi) || !finite(ms) || lo > hi {
				return concatStats{}, false
			}
			st.lo, st.hi, st.meanSq = append(st.lo, lo), append(st.hi, hi), append(st.meanSq, ms)
			st.source = append(st.source, i)
		}
	}
	for _, r := range p.readers {
		d := r.Input(1).Const.Dims
		if d[1]*r.AttrInt("group", 1) != int64(len(st.lo)) {
			return concatStats{}, false
		}
	}
	return st, true
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// readerChannel returns, for reader Conv weights of dims d and groups,
// the Concat channel that weight element i reads.
func readerChannel(d []int64, groups int64) func(i int) int {
	inPer := int(d[1])
	outPer := int(d[0] / groups)
	kernel := 1
	for _, k := range d[2:] {
		kernel *= int(k)
	}
	return func(i int) int {
		o, j := i/kernel/inPer, i/kernel%inPer
		return o/outPer*inPer + j
	}
}

// relativeNoise estimates the quantization noise at the readers' outputs
// relative to their signal, averaged over each reader's output channels,
// for the worst reader (a head of one channel beside wide ones is not
// outvoted), with input i
// of the Concat divided by scale[i] and the weights reading it
// multiplied by it. weightLevels is the largest weight code (127 for
// int8).
func (p concatPair) relativeNoise(st concatStats, weights [][]float32, scale []float64, weightLevels float64) float64 {
	lo, hi := 0.0, 0.0
	for c := range st.lo {
		lo = math.Min(lo, st.lo[c]/scale[st.source[c]])
		hi = math.Max(hi, st.hi[c]/scale[st.source[c]])
	}
	stepA := (hi - lo) / 255
	var est worstReader
	for ri, r := range p.readers {
		w := weights[ri]
		d := r.Input(1).Const.Dims
		channel := readerChannel(d, r.AttrInt("group", 1))
		per := len(w) / int(d[0])
		for o := range int(d[0]) {
			var row noiseRow
			for i := o * per; i < (o+1)*per; i++ {
				c := channel(i)
				row.add(float64(w[i]), scale[st.source[c]], st.meanSq[c])
			}
			est.row(row.relative(stepA, weightLevels))
		}
		est.endReader()
	}
	return est.worst
}

// noiseRow sums what the noise estimate reads of one output channel of a
// reader.
type noiseRow struct{ sumW2, maxW, sumMS, signal float64 }

// add takes weight w reading an input channel of mean square ms, the
// channel divided by s and the weight multiplied by it.
func (r *noiseRow) add(w, s, ms float64) {
	x := w * s
	r.sumW2 += x * x
	r.maxW = math.Max(r.maxW, math.Abs(x))
	r.sumMS += ms / (s * s)
	r.signal += w * w * ms
}

// relative returns the row's estimated noise relative to its signal
// (activation step stepA; weights on a grid of ±weightLevels steps over
// their largest), false when it has no signal.
func (r noiseRow) relative(stepA, weightLevels float64) (float64, bool) {
	if !(r.signal > 0) {
		return 0, false
	}
	stepW := r.maxW / weightLevels
	return (stepA*stepA*r.sumW2 + stepW*stepW*r.sumMS) / 12 / r.signal, true
}

// worstReader keeps the largest of the readers' mean row noises.
type worstReader struct {
	worst, total float64
	rows         int
}

func (w *worstReader) row(n float64, ok bool) {
	if ok {
		w.total += n
		w.rows++
	}
}

func (w *worstReader) endReader() {
	if w.rows > 0 {
		w.worst = math.Max(w.worst, w.total/float64(w.rows))
	}
	w.total, w.rows = 0, 0
}

// chooseScales searches the factors of the rescalable inputs, one input
// at a time over powers of √2, and returns them with the estimated gain
// in dB.
func (p concatPair) chooseScales(st concatStats, weights [][]float32, weightLevels float64) ([]float64, float64) {
	scale := make([]float64, len(p.inputs))
	for i := range scale {
		scale[i] = 1
	}
	before := p.relativeNoise(st, weights, scale, weightLevels)
	if !(before > 0) {
		return scale, 0
	}
	best := before
	for range 4 {
		improved := false
		for i, src := range p.inputs {
			if src.conv == nil {
				continue
			}
			keep := scale[i]
			for k := -concatEqualizeSteps; k <= concatEqualizeSteps; k++ {
				scale[i] = math.Pow(math.Sqrt2, float64(k))
				// A strict gain of a thousandth keeps the first
				// of equal choices, whatever the order.
				if n := p.relativeNoise(st, weights, scale, weightLevels); n < best*(1-1e-3) {
					best, keep, improved = n, scale[i], true
				}
			}
			scale[i] = keep
		}
		if !improved {
			break
		}
	}
	return scale, 10 * math.Log10(before/best)
}

// rescale applies the chosen factors to p; it reports false when the
// estimated gain is too small.
func (p concatPair) rescale(m *graph.Model, g *graph.Graph, ranges map[string]ChannelRange, weightLevels float64) (bool, error) {
	st, ok := p.stats(ranges)
	if !ok {
		return false, nil
	}
	weights := make([][]float32, len(p.readers))
	for i, r := range p.readers {
		w, err := r.Input(1).Const.Float32s()
		if err != nil {
			return false, nil
		}
		weights[i] = w
	}
	scale, gain := p.chooseScales(st, weights, weightLevels)
	if gain < concatEqualizeMinGainDB {
		return false, nil
	}
	for i, r := range p.readers {
		channel := readerChannel(r.Input(1).Const.Dims, r.AttrInt("group", 1))
		if err := mapF32(g, weights[i], r.Input(1), func(k int, x float64) float64 { return x * scale[st.source[channel(k)]] }); err != nil {
			return false, err
		}
	}
	for i, src := range p.inputs {
		if src.conv == nil || scale[i] == 1 {
			continue
		}
		for _, v := range []*graph.Value{src.w, src.b} {
			if err := mapF32(g, nil, v, func(_ int, x float64) float64 { return x / scale[i] }); err != nil {
				return false, err
			}
		}
		factors := make([]float64, src.w.Const.Dims[0])
		for k := range factors {
			factors[k] = 1 / scale[i]
		}
		for _, v := range src.chain {
			if err := renameRescaledValue(m, g, v, factors); err != nil {
				return false, err
			}
		}
	}
	factors := make([]float64, len(st.source))
	for c, i := range st.source {
		factors[c] = 1 / scale[i]
	}
	return true, renameRescaledValue(m, g, p.concat.Outputs[0], factors)
}

// mapF32 gives float32 initializer v (nil: nothing to do) the values
// f(i, x) of its values x, read from data when given (already decoded),
// else from v.
func mapF32(g *graph.Graph, data []float32, v *graph.Value, f func(i int, x float64) float64) error {
	if v == nil {
		return nil
	}
	if data == nil {
		var err error
		if data, err = v.Const.Float32s(); err != nil {
			return err
		}
	}
	nd := make([]float32, len(data))
	for i, x := range data {
		nd[i] = float32(f(i, float64(x)))
	}
	return setF32(g, v, nd)
}
