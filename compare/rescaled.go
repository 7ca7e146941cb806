// rescaled.go relates QUANT's values that an equalization pass rescaled
// per channel (recorded under passes.RescaledKey) to FLOAT's tensors of
// their original names.

package compare

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

// rescale says that QUANT's value holds FLOAT's tensor orig with channel
// c along axis multiplied by factors[c].
type rescale struct {
	orig    string
	axis    int
	factors []float32
	bad     string // why the value cannot be compared
}

// rescales reads quant's record of rescaled values, keyed by QUANT's
// value name; entries naming no value of quant's main graph are ignored.
// When FLOAT records the same value too (FLOAT is an equalized model
// itself), QUANT's tensor is FLOAT's of the same name times the ratio of
// the two records' factors; equal factors need no rescale at all.
func rescales(float, quant *graph.Model) (map[string]*rescale, error) {
	rs, err := passes.Rescales(quant)
	if err != nil {
		return nil, fmt.Errorf("quantized model: %v", err)
	}
	frs, err := passes.Rescales(float)
	if err != nil {
		return nil, fmt.Errorf("float model: %v", err)
	}
	own := map[string]passes.Rescale{}
	for _, r := range frs {
		own[r.Value] = r
	}
	out := map[string]*rescale{}
	for _, r := range rs {
		if quant.Graph.Value(r.Value) == nil {
			continue
		}
		e := &rescale{orig: r.Original, axis: r.Axis, factors: r.Factors}
		if f, ok := own[r.Value]; ok && f.Original == r.Original && f.Axis == r.Axis && len(f.Factors) == len(r.Factors) {
			if slices.Equal(f.Factors, r.Factors) {
				continue
			}
			e.orig, e.factors = r.Value, make([]float32, len(r.Factors))
			for k, v := range r.Factors {
				e.factors[k] = float32(float64(v) / float64(f.Factors[k]))
			}
		}
		switch {
		case r.Axis < 0 || len(r.Factors) == 0:
			e.bad = fmt.Sprintf("its record in %s has no channel axis or factors", passes.RescaledKey)
		case !usableFactors(r.Factors):
			e.bad = fmt.Sprintf("its record in %s has a zero or non-finite factor", passes.RescaledKey)
		}
		out[r.Value] = e
	}
	return out, nil
}

// usableFactors reports whether every factor is finite and non-zero, so
// that dividing by it undoes the rescale.
func usableFactors(f []float32) bool {
	for _, v := range f {
		if v == 0 || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// fits reports why FLOAT's tensor of shape dims cannot be rescaled by r,
// or "" when it can (unknown dimensions are checked at run time).
func (r *rescale) fits(s graph.Shape) string {
	if len(s) == 0 {
		return "" // no shape recorded: the runtime checks the real tensor
	}
	if r.axis >= len(s) {
		return fmt.Sprintf("channel axis %d of a rank-%d tensor", r.axis, len(s))
	}
	if d := s[r.axis]; d.Known() && d.Size != int64(len(r.factors)) {
		return fmt.Sprintf("%d factors for %d channels", len(r.factors), d.Size)
	}
	return ""
}

// constant adds to g an initializer holding r's factors, shaped to
// broadcast along r.axis of a rank-rank tensor.
func (r *rescale) constant(g *graph.Graph, base string, rank int) (*graph.Value, error) {
	if r.axis >= rank {
		return nil, fmt.Errorf("channel axis %d of a rank-%d tensor", r.axis, rank)
	}
	dims := make([]int64, rank-r.axis)
	dims[0] = int64(len(r.factors))
	for i := 1; i < len(dims); i++ {
		dims[i] = 1
	}
	t, err := graph.FromFloat32s(g.UniqueName(base), dims, r.factors)
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t)
}
