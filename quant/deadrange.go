// deadrange.go narrows calibrated ranges to the interval the graph can
// tell apart (passes.DeadBounds).

package quant

import (
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

// narrowDead intersects each range with the value's dead bounds, where
// the intersection keeps part of the range.
func narrowDead(m *graph.Model, ranges map[string]passes.Range) {
	for name, b := range passes.DeadBounds(m) {
		r, ok := ranges[name]
		if !ok {
			continue
		}
		lo, hi := math.Max(float64(r.Min), b.Lo), math.Min(float64(r.Max), b.Hi)
		if !(lo < hi) {
			continue
		}
		r.Min, r.Max = float32(lo), float32(hi)
		ranges[name] = r
	}
}

// clampedTo returns the values of f as the value name's readers see them,
// clamped to its dead bounds (f itself when it has none).
func clampedTo(f []float32, bounds map[string]passes.Bounds, name string) []float32 {
	if b, ok := bounds[name]; ok {
		return b.Clamped(f)
	}
	return f
}
