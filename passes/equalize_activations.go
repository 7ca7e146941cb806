// This file holds equalize-activations: activation range equalization in
// front of depthwise convolutions. For Conv1 -> (Relu)? -> Conv2 where
// Conv2 reads each input channel alone (depthwise, any channel
// multiplier) and Conv1's output reaches only Conv2's data input, output
// channel c of Conv1 (weights and bias) is multiplied by s_c and Conv2's
// weights reading channel c divided by s_c. Relu commutes with positive
// scaling and zero padding stays zero, so the model computes the same
// function. The scales come from the calibrated range of each channel of
// the value between the two: s_c = R/r_c, with r_c the channel's largest
// |x| and R the largest r_c, so every channel spans the whole per-tensor
// activation range instead of a sliver of it. The rescaled values
// (Conv1's output, and the Relu's) take new names ending "_equalized", so
// that a name never denotes different values in the original model and
// the quantized one.
//
// Unlike weight equalization (equalize.go) this costs the weights
// nothing when they are quantized per channel: both rescaled weight
// slices are whole quantization channels (Conv1 along its output axis,
// Conv2 one input channel per output channel), whose scales absorb s_c
// exactly. It is meant for per-channel weights only; the quant facade
// runs it after a calibration pass that measured the per-channel ranges
// of EqualizeCandidates.
//
// The pass also rescales the Conv outputs before hard-swishes whose
// ranges it is given (equalize_island.go; IslandCandidates names them),
// and, given ReaderOptions, the inputs of Concats that Convs read
// (equalize_concat.go) and layer norm outputs into the MatMuls reading
// them (equalize_smooth.go).
//
// It needs prepared graphs (BatchNormalization folded, initializers as
// constants) and leaves a float graph for calibration and quantization.

package passes

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
)

// equalizeMaxScale bounds s_c: a channel quieter than R/equalizeMaxScale
// (a dead or nearly constant channel) is scaled by at most this much, so
// its noise is not blown up to the size of the loud channels.
const equalizeMaxScale = 32

// EqualizeCandidates returns the names of the values of m's main graph
// that equalize-activations can rescale, with the channel axis 1 (NCHW).
// Their per-channel ranges are what EqualizeActivations needs.
func EqualizeCandidates(m *graph.Model) []string {
	var out []string
	for _, n := range m.Graph.Nodes {
		if p, ok := findActPair(m, m.Graph, n); ok {
			out = append(out, p.path.Name)
		}
	}
	return out
}

// ChannelRange is the calibrated range of each channel of one value, and
// the mean of its squares (which the Concat case reads).
type ChannelRange struct {
	Min, Max   []float32
	MeanSquare []float64
}

// ReaderOptions selects the parts of equalize-activations that pay with
// the readers' weight precision: Concats that Convs read
// (equalize_concat.go) and layer norm outputs that MatMuls read
// (equalize_smooth.go). Keep names values that must keep their values (a
// --config override speaks of the model's own units); WeightLevels is the
// largest weight code (127 for int8); LastAxis holds the statistics of
// SmoothCandidates along their last axis.
type ReaderOptions struct {
	Keep         map[string]bool
	WeightLevels float64
	LastAxis     map[string]ChannelRange
}

// EqualizeActivations returns the equalize-activations pass, rescaling
// the candidates whose per-channel ranges are given: the values in front
// of depthwise Convs, the Conv outputs before hard-swishes and, unless
// readers is nil, the inputs of Concats that Convs read and the layer
// norm outputs MatMuls read.
func EqualizeActivations(ranges map[string]ChannelRange, readers *ReaderOptions) Pass {
	return Pass{
		Name: "equalize-activations",
		Doc:  "scale the channels of Conv -> (Relu) -> depthwise Conv values to equal calibrated ranges, Conv outputs before hard-swishes (undone by a Mul the Q/DQ absorbs), the Conv inputs of Concats that Convs read to suit one grid, and layer norm outputs' outlier channels into the MatMuls reading them",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			g := m.Graph
			done := 0
			for _, n := range g.Nodes {
				p, ok := findActPair(m, g, n)
				if !ok {
					continue
				}
				r, ok := ranges[p.path.Name]
				if !ok {
					continue
				}
				changed, err := p.rescale(m, g, r)
				if err != nil {
					return done > 0, fmt.Errorf("%s: %v", p.path.Name, err)
				}
				if changed {
					done++
				}
			}
			if done > 0 {
				ctx.Logf("equalize-activations: %d values in front of depthwise Convs rescaled", done)
			}
			var keep map[string]bool
			if readers != nil {
				keep = readers.Keep
			}
			islands, err := equalizeIslands(m, ranges, keep)
			if islands > 0 {
				ctx.Logf("equalize-activations: %d values beside hard-swishes rescaled", islands)
			}
			done += islands
			if err != nil {
				return true, err
			}
			if readers == nil {
				return done > 0, nil
			}
			joined, err := equalizeConcats(m, ranges, *readers)
			if joined > 0 {
				ctx.Logf("equalize-activations: %d Concats read by Convs rescaled", joined)
			}
			if err != nil {
				return true, err
			}
			smoothed, err := equalizeSmooth(m, *readers)
			if smoothed > 0 {
				ctx.Logf("equalize-activations: %d layer norm outputs read by MatMuls smoothed", smoothed)
			}
			return done+joined+smoothed > 0, err
		},
	}
}

// actPair is one Conv1 -> (Relu) -> depthwise Conv2 pair.
type actPair struct {
	clePair
	path *graph.Value // the value Conv2 reads
}

// findActPair returns the pair starting at c1 whose Conv2 is depthwise.
func findActPair(m *graph.Model, g *graph.Graph, c1 *graph.Node) (actPair, bool) {
	p, ok := findCLEPair(m, g, c1)
	if !ok {
		return actPair{}, false
	}
	// One input channel per group: each weight slice of Conv2 reads one
	// channel, so s_c folds into Conv2's per-output-channel scales.
	if p.w2.Const.Dims[1] != 1 {
		return actPair{}, false
	}
	return actPair{clePair: p, path: p.c2.Input(0)}, true
}

// rescale applies the scales derived from r; it reports false when every
// scale is 1 or r does not fit the pair.
func (p actPair) rescale(m *graph.Model, g *graph.Graph, r ChannelRange) (bool, error) {
	w1, err := p.w1.Const.Float32s()
	if err != nil {
		return false, nil
	}
	w2, err := p.w2.Const.Float32s()
	if err != nil {
		return false, nil
	}
	c := int(p.w1.Const.Dims[0])
	if len(r.Min) != c || len(r.Max) != c || c == 0 || len(w1)%c != 0 || len(w2)%c != 0 {
		return false, nil
	}
	mag := make([]float64, c)
	top := 0.0
	for k := range c {
		mag[k] = math.Max(math.Abs(float64(r.Min[k])), math.Abs(float64(r.Max[k])))
		if math.IsNaN(mag[k]) || math.IsInf(mag[k], 0) {
			return false, nil
		}
		top = math.Max(top, mag[k])
	}
	if !(top > 0) {
		return false, nil
	}
	s := make([]float64, c)
	moved := false
	for k := range c {
		s[k] = 1
		if mag[k] > 0 {
			s[k] = math.Min(top/mag[k], equalizeMaxScale)
		} else {
			s[k] = equalizeMaxScale
		}
		// Powers of two would be exact, but any positive scale keeps
		// the function; tiny moves are not worth rounding noise.
		if s[k] < 1.01 {
			s[k] = 1
		}
		if s[k] != 1 {
			moved = true
		}
	}
	if !moved {
		return false, nil
	}
	per1 := len(w1) / c
	nw1 := make([]float32, len(w1))
	for i, v := range w1 {
		nw1[i] = float32(float64(v) * s[i/per1])
	}
	// Conv2's output channel o reads input channel o/mult, mult being the
	// channel multiplier; its weights are contiguous per output channel.
	out2 := int(p.w2.Const.Dims[0])
	per2 := len(w2) / out2
	mult := out2 / c
	nw2 := make([]float32, len(w2))
	for i, v := range w2 {
		nw2[i] = float32(float64(v) / s[i/per2/mult])
	}
	if p.b1 != nil {
		b, err := p.b1.Const.Float32s()
		if err != nil || len(b) != c {
			return false, nil
		}
		nb := make([]float32, c)
		for k, v := range b {
			nb[k] = float32(float64(v) * s[k])
		}
		if err := setF32(g, p.b1, nb); err != nil {
			return false, err
		}
	}
	if err := setF32(g, p.w1, nw1); err != nil {
		return false, err
	}
	if err := setF32(g, p.w2, nw2); err != nil {
		return false, err
	}
	if err := p.renameRescaled(m, g, s); err != nil {
		return false, err
	}
	return true, nil
}
