// maxtails.go holds the range adjustment for tensors whose largest values
// a max-selecting op picks out (KeepMaxTails).

package quant

import (
	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

// maxSelecting ops pass on the largest of their inputs' values.
var maxSelecting = map[string]bool{"Max": true, "MaxPool": true, "GlobalMaxPool": true, "ReduceMax": true}

// orderKeeping ops map a larger input to a larger (or equal) output, or
// only move values, so the largest values of their input stay the largest
// of their output.
var orderKeeping = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Clip": true, "Identity": true,
	"Reshape": true, "Transpose": true, "Squeeze": true, "Unsqueeze": true,
	"Flatten": true, "Concat": true, "Slice": true,
}

// MaxSelected returns the names of the values of g (main graph) whose
// largest values reach a max-selecting op (Max, MaxPool, GlobalMaxPool,
// ReduceMax), directly or through order-keeping ops (Relu, LeakyRelu,
// Clip, data movement).
func MaxSelected(g *graph.Graph) map[string]bool {
	out := map[string]bool{}
	if g == nil {
		return out
	}
	// Walk the nodes backwards: a node's outputs are decided before its
	// inputs, since nodes are stored in topological order.
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		selects := maxSelecting[n.OpType]
		if !selects && orderKeeping[n.OpType] {
			for _, o := range n.Outputs {
				if o != nil && out[o.Name] {
					selects = true
				}
			}
		}
		if !selects {
			continue
		}
		for _, in := range n.Inputs {
			if in != nil && in.Const == nil {
				out[in.Name] = true
			}
		}
	}
	return out
}

// Extremes returns the smallest and largest value observed of every
// tensor of c (calib.Collection.Extremes) as the quantize pass's
// QuantOptions.Extremes, which its 16-bit activations take as their range.
func Extremes(c *calib.Collection) map[string]passes.Range {
	out := map[string]passes.Range{}
	if c == nil {
		return out
	}
	for name, r := range c.Extremes() {
		out[name] = passes.Range{Min: r.Min, Max: r.Max}
	}
	return out
}

// RangesFor turns the statistics of c, calibrated on the prepared model
// m, into the quantize pass's ranges, applying cfg.KeepMaxTails, and
// narrows every range to the interval its readers tell apart
// (passes.DeadBounds): steps spent on values a later Relu, Clip or Max clamps
// anyway are lost to the values that matter.
func RangesFor(m *graph.Model, c *calib.Collection, cfg Config) map[string]passes.Range {
	ranges := Ranges(c)
	if m == nil || m.Graph == nil || c == nil {
		return ranges
	}
	defer narrowDead(m, ranges)
	if !cfg.KeepMaxTails {
		return ranges
	}
	ext := c.Extremes()
	for name := range MaxSelected(m.Graph) {
		r, ok := ranges[name]
		e, known := ext[name]
		if ok && known && e.Max > r.Max {
			r.Max = e.Max
			ranges[name] = r
		}
	}
	return ranges
}
