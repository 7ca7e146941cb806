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
