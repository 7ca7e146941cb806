package passes

import (
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
)

// Aligned grids. A LeakyRelu between two quantized values (Conv → Q/DQ →
// LeakyRelu → Q/DQ) passes every non-negative code of its input through
// unchanged; when its output gets its own scale those values are rounded
// a second time onto a grid a few percent off the first, which doubles
// the rounding noise of the layer. Giving the output the input's scale
// (with its own zero point) maps those codes onto output codes exactly,
// so only the negative side, scaled by alpha, is rounded again.

// alignedLeakyRatio bounds how much coarser than its own grid a chain
// containing a LeakyRelu may make its output: the negative side is
// rounded on the input's grid, which must not cost more than the second
// rounding of the positive side saves.
const alignedLeakyRatio = 1.25

// alignedParams returns the parameters of v when v is the output of a
// chain of ops that are the identity on non-negative values (LeakyRelu
// with a positive slope, Relu, Max against a constant ≤ 0, Min against a
// constant ≥ 0, Clip with bounds around 0) whose input is a dequantized
// activation of the same type: the input's scale, and the zero point
// that holds r on that grid; own is the scale r would get by itself.
func (q *quantizer) alignedParams(v *graph.Value, r Range, t qdq.Type, own float32) (actParams, bool) {
	leaky := false
	x := v
	for {
		n := x.Producer
		if n == nil || n.Domain != "" || len(n.Outputs) != 1 || !q.identityOnPositives(n) {
			return actParams{}, false
		}
		if n.OpType == "LeakyRelu" {
			leaky = true
		}
		x = n.Input(0)
		if p, ok := q.dqParam[x]; ok {
			if p.t != t {
				return actParams{}, false
			}
			o := q.actOptions(t)
			zp, ok := qdq.ZeroPointForScale(r.Min, r.Max, p.scale, o)
			if !ok {
				return actParams{}, false
			}
			if leaky {
				if p.scale > own*alignedLeakyRatio {
					return actParams{}, false
				}
			}
			return actParams{p.scale, zp, t}, true
		}
		if !isFloat(x) || x.Producer == nil {
			return actParams{}, false
		}
	}
}

// identityOnPositives reports whether n maps every value in [0, c] to
// itself for some c > 0, reading its data from input 0 only.
func (q *quantizer) identityOnPositives(n *graph.Node) bool {
	switch n.OpType {
	case "LeakyRelu":
		return len(n.Inputs) == 1 && n.AttrFloat("alpha", 0.01) > 0
	case "Relu":
		return len(n.Inputs) == 1
	case "Max", "Min", "Clip":
		if n.OpType != "Clip" && !boundRule(n) {
			return false
		}
		lo, hi, ok := q.clipBounds(n)
		return ok && lo <= 0 && hi > 0
	}
	return false
}
