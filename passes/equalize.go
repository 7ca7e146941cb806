// This file holds equalize: cross-layer equalization of consecutive Conv
// pairs. For Conv1 -> (Relu)? -> Conv2, where Conv1's output reaches only
// Conv2's data input, output channel c of Conv1 (weights and bias) is
// divided by s_c and input channel c of Conv2 multiplied by s_c, with
// s_c = sqrt(r1_c*r2_c)/r2_c (r1_c the largest |weight| of Conv1's output
// channel c, r2_c that of Conv2's input channel c), so both ranges become
// sqrt(r1_c*r2_c). Relu commutes with positive scaling and zero padding
// stays zero, so the model computes the same function; per-tensor weight
// quantization then wastes less of its range on quiet channels. Grouped
// Conv2 (depthwise included) maps its input channel to the weights of its
// group. Weights and biases must be float32 initializers read by that one
// node only; anything else is left alone. Pairs are revisited a few times
// because a Conv in a chain is the second member of one pair and the first
// of the next.
//
// The pass is not in PreparePasses: with the default per-channel weight
// quantization, balancing weight ranges buys little and the rescaled
// activations (quantized per tensor) lost up to 3.7 dB on some shared
// models (silero_vad_v5) while gaining on others (silero_vad_micro +5.4).
// Limited to pairs with a depthwise member it still lost 2.7 dB on
// ppocr_cls and 0.8 dB on silero_vad_v3.

package passes

import (
	"math"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// equalizeRounds bounds the sweeps over all pairs; ranges settle within a
// few.
const equalizeRounds = 8

// Equalize returns the equalize pass.
func Equalize() Pass {
	return Pass{
		Name: "equalize",
		Doc:  "cross-layer equalization: balance weight ranges of Conv -> (Relu) -> Conv pairs per channel",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			pairs := 0
			changed := false
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				if err != nil {
					return
				}
				var ps []clePair
				for _, n := range g.Nodes {
					if p, ok := findCLEPair(m, g, n); ok {
						ps = append(ps, p)
					}
				}
				pairs += len(ps)
				for range equalizeRounds {
					moved := 0.0
					for _, p := range ps {
						var d float64
						var sc []float64
						d, sc, err = p.equalize(g)
						if err != nil {
							return
						}
						if d > 0 {
							changed = true
							// Conv1's output channel c was divided by sc[c].
							if err = p.renameRescaled(m, g, invert(sc)); err != nil {
								return
							}
						}
						moved = math.Max(moved, d)
					}
					// Scales this close to 1 no longer change the ranges.
					if moved < 1e-3 {
						break
					}
				}
			})
			if pairs > 0 {
				ctx.Logf("equalize: %d Conv pairs equalized", pairs)
			}
			return changed, err
		},
	}
}

// clePair is one Conv1 -> Conv2 pair with the constants it rescales.
type clePair struct {
	w1, b1, w2 *graph.Value // b1 may be nil
	groups2    int
	c2         *graph.Node
}

// ownedF32 reports whether v is a float32 initializer of g that only n
// reads (so rescaling it changes nothing else).
func ownedF32(m *graph.Model, g *graph.Graph, n *graph.Node, v *graph.Value) bool {
	return isConst(m, v) && v.Graph == g && v.Const.DType == graph.Float32 && len(v.Consumers) == 1 &&
		v.Consumers[0] == n && !isGraphOutput(g, v) && !slices.Contains(g.Inputs, v)
}

// soleReader returns the one node reading v, if v is not a graph output
// and has exactly one reader in g.
func soleReader(g *graph.Graph, v *graph.Value) *graph.Node {
	if v == nil || isGraphOutput(g, v) || len(v.Consumers) != 1 || v.Consumers[0].Graph != g {
		return nil
	}
	return v.Consumers[0]
}

func isDefaultOp(n *graph.Node, op string) bool {
	return n != nil && n.OpType == op && (n.Domain == "" || n.Domain == "ai.onnx")
}

// findCLEPair returns the pair starting at c1, if there is one.
func findCLEPair(m *graph.Model, g *graph.Graph, c1 *graph.Node) (clePair, bool) {
	if !isDefaultOp(c1, "Conv") || n1(c1.Outputs) != 1 || c1.Outputs[0] == nil {
		return clePair{}, false
	}
	path := c1.Outputs[0]
	next := soleReader(g, path)
	if isDefaultOp(next, "Relu") && n1(next.Outputs) == 1 && next.Outputs[0] != nil {
		path = next.Outputs[0]
		next = soleReader(g, path)
	}
	// The path value feeds Conv2's data input, and nothing else.
	c2 := next
	if !isDefaultOp(c2, "Conv") || c2 == c1 || c2.Input(0) != path {
		return clePair{}, false
	}
	w1, w2 := c1.Input(1), c2.Input(1)
	if w1 == nil || w2 == nil || w1 == w2 || !ownedF32(m, g, c1, w1) || !ownedF32(m, g, c2, w2) {
		return clePair{}, false
	}
	b1 := c1.Input(2)
	if b1 != nil && !ownedF32(m, g, c1, b1) {
		return clePair{}, false
	}
	d1, d2 := w1.Const.Dims, w2.Const.Dims
	if len(d1) < 3 || len(d2) < 3 || d1[0] <= 0 || d2[0] <= 0 || d2[1] <= 0 {
		return clePair{}, false
	}
	groups := c2.AttrInt("group", 1)
	if groups < 1 || d2[0]%groups != 0 || d2[1]*groups != d1[0] {
		return clePair{}, false
	}
	if b1 != nil && (len(b1.Const.Dims) != 1 || b1.Const.Dims[0] != d1[0]) {
		return clePair{}, false
	}
	return clePair{w1: w1, b1: b1, w2: w2, groups2: int(groups), c2: c2}, true
}

// equalize rescales the pair once and returns the largest |log s_c| and
// the scales s_c.
func (p clePair) equalize(g *graph.Graph) (float64, []float64, error) {
	w1, err := p.w1.Const.Float32s()
	if err != nil {
		return 0, nil, nil
	}
	w2, err := p.w2.Const.Float32s()
	if err != nil {
		return 0, nil, nil
	}
	d1, d2 := p.w1.Const.Dims, p.w2.Const.Dims
	c := int(d1[0])
	per1 := len(w1) / c
	// chan2 is the Conv1 channel that element i of W2 reads.
	chan2 := readerChannel(d2, int64(p.groups2))
	r1, r2 := make([]float64, c), make([]float64, c)
	for i, v := range w1 {
		r1[i/per1] = math.Max(r1[i/per1], math.Abs(float64(v)))
	}
	for i, v := range w2 {
		k := chan2(i)
		r2[k] = math.Max(r2[k], math.Abs(float64(v)))
	}
	s := make([]float64, c)
	moved := 0.0
	for k := range c {
		s[k] = 1
		if r1[k] > 0 && r2[k] > 0 {
			if v := math.Sqrt(r1[k]*r2[k]) / r2[k]; v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
				s[k] = v
			}
		}
		moved = math.Max(moved, math.Abs(math.Log(s[k])))
	}
	if moved == 0 {
		return 0, nil, nil
	}
	var b []float32
	if p.b1 != nil {
		if b, err = p.b1.Const.Float32s(); err != nil || len(b) != c {
			return 0, nil, nil
		}
	}
	nw1 := make([]float32, len(w1))
	for i, v := range w1 {
		nw1[i] = float32(float64(v) / s[i/per1])
	}
	nw2 := make([]float32, len(w2))
	for i, v := range w2 {
		nw2[i] = float32(float64(v) * s[chan2(i)])
	}
	if err := setF32(g, p.w1, nw1); err != nil {
		return 0, nil, err
	}
	if err := setF32(g, p.w2, nw2); err != nil {
		return 0, nil, err
	}
	if p.b1 != nil {
		nb := make([]float32, c)
		for k, v := range b {
			nb[k] = float32(float64(v) / s[k])
		}
		if err := setF32(g, p.b1, nb); err != nil {
			return 0, nil, err
		}
	}
	return moved, s, nil
}

// RescaledSuffix ends the names of values whose channels an equalization
// rescaled: they no longer hold the original model's value, so they must
// not keep its name (tools match tensors between models by name).
const RescaledSuffix = "_equalized"

// renameRescaled gives the values between Conv1 and Conv2 (Conv1's
// output, and the Relu's output when there is one) new names (see
// renameRescaledValue).
func (p clePair) renameRescaled(m *graph.Model, g *graph.Graph, factors []float64) error {
	path := p.c2.Input(0)
	vals := []*graph.Value{path}
	if r := path.Producer; r != nil && isDefaultOp(r, "Relu") && r.Input(0) != nil {
		vals = append(vals, r.Input(0))
	}
	for _, v := range vals {
		if err := renameRescaledValue(m, g, v, factors); err != nil {
			return err
		}
	}
	return nil
}

// renameRescaledValue gives v, whose channels (axis 1) were multiplied
// by factors, a new name once, and records the factors in m's metadata
// (RescaledKey). Values of subgraphs are renamed only: the record speaks
// of the main graph.
func renameRescaledValue(m *graph.Model, g *graph.Graph, v *graph.Value, factors []float64) error {
	return renameRescaledAxis(m, g, v, 1, factors)
}

// renameRescaledAxis is renameRescaledValue for channels along axis.
func renameRescaledAxis(m *graph.Model, g *graph.Graph, v *graph.Value, axis int, factors []float64) error {
	before := v.Name
	if !strings.HasSuffix(v.Name, RescaledSuffix) {
		if err := g.Rename(v, g.UniqueName(v.Name+RescaledSuffix)); err != nil {
			return err
		}
	}
	if g == m.Graph {
		return recordRescale(m, before, v.Name, axis, factors)
	}
	return nil
}

// setF32 gives initializer v new float32 data of the same shape.
func setF32(g *graph.Graph, v *graph.Value, data []float32) error {
	t, err := graph.FromFloat32s(v.Name, v.Const.Dims, data)
	if err != nil {
		return err
	}
	return g.SetConst(v, t)
}
