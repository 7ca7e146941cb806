// narrowconcat.go finds the Concat inputs one 8-bit grid cannot carry.

package quant

import (
	"slices"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
)

// NarrowInput is a Concat input whose calibrated values span only a few
// steps of the Concat's quantized output: quantized with the other
// inputs it is all but constant.
type NarrowInput struct {
	Concat, Input string
	// Output is the Concat's output, the value a --config "fp32" keeps
	// float.
	Output string
	// Steps is the input's range (0 included) over the output's scale.
	Steps float64
	// Range and OutputRange are the input's range and the output grid's
	// span (255 steps).
	Range, OutputRange float64
}

// narrowSteps: an input spanning fewer steps than this keeps less than
// 3 bits of its values.
const narrowSteps = 8

// NarrowConcatInputs lists, in graph order, the inputs of q's quantized
// Concats (output read by a per-tensor QuantizeLinear) whose calibrated
// extremes span fewer than 8 steps of that output's grid: normalised
// features joined to raw ones, a quiet branch beside a loud one.
func NarrowConcatInputs(q *graph.Model, extremes map[string]calib.Range) []NarrowInput {
	if q == nil || q.Graph == nil {
		return nil
	}
	var out []NarrowInput
	for _, n := range q.Graph.Nodes {
		if n.OpType != "Concat" || len(n.Outputs) != 1 || n.Outputs[0] == nil {
			continue
		}
		scale := 0.0
		for _, c := range n.Outputs[0].Consumers {
			if c.OpType != "QuantizeLinear" {
				continue
			}
			if s := c.Input(1); s != nil && s.Const != nil {
				if v, err := s.Const.Float32s(); err == nil && len(v) == 1 && v[0] > 0 {
					scale = float64(v[0])
				}
			}
		}
		if scale == 0 {
			continue
		}
		seen := map[string]bool{}
		for _, in := range n.Inputs {
			x := floatSource(in)
			if x == nil || seen[x.Name] {
				continue
			}
			seen[x.Name] = true
			r, ok := extremes[x.Name]
			if !ok {
				continue
			}
			span := float64(max(r.Max, 0) - min(r.Min, 0))
			if steps := span / scale; span > 0 && steps < narrowSteps {
				out = append(out, NarrowInput{Concat: nodeLabel(n), Input: x.Name, Output: n.Outputs[0].Name, Steps: steps, Range: span, OutputRange: 255 * scale})
			}
		}
	}
	return slices.Clip(out)
}

// floatSource is the float value a Concat input carries: through its
// DequantizeLinear and QuantizeLinear, the value quantized.
func floatSource(v *graph.Value) *graph.Value {
	if v == nil {
		return nil
	}
	if p := v.Producer; p != nil && p.OpType == "DequantizeLinear" {
		if q := p.Input(0).Producer; q != nil && q.OpType == "QuantizeLinear" {
			return q.Input(0)
		}
		return nil // a dequantized constant
	}
	return v
}
