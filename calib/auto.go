// The auto method's range: MinMax unless a side's extreme is a rare outlier
// far beyond the bulk of the values, in which case that side is clipped.

package calib

import "math"

// A side is clipped when its extreme exceeds by more than autoFactor the
// side's autoTail quantile q (the value beyond which at most autoTail of
// all values lie). Values beyond q are then rare, and the clip is the MSE
// threshold no lower than q, so the bulk is always kept.
const (
	autoTail   = 1.5e-3
	autoFactor = 2.5
)

// autoRange decides each side on its own. Without Signed the histogram
// holds |x|, so both sides share one threshold on |x| (for a one-sided
// tensor that is its own side), chosen by the MSE search from q up. With
// Signed each side whose extreme is an outlier is clipped at its own q.
// With fewer than 1/autoTail values nothing is rare enough to clip and the
// range is MinMax.
func (h *HistogramObserver) autoRange() (float32, float32) {
	tail := autoTail * float64(h.stats.Values)
	// top is the upper edge of the bin where the count from the top first
	// exceeds tail, so at most tail values lie above it; bottom likewise
	// from below.
	top := func() int {
		var cum uint64
		i := len(h.counts) - 1
		for ; i > 0; i-- {
			cum += h.counts[i]
			if float64(cum) > tail {
				break
			}
		}
		return i + 1
	}
	bottom := func() int {
		var cum uint64
		i := 0
		for ; i < len(h.counts)-1; i++ {
			cum += h.counts[i]
			if float64(cum) > tail {
				break
			}
		}
		return i
	}
	lo, hi := float64(h.min), float64(h.max)
	if !h.opts.Signed {
		i := top()
		if q := h.edge(i); q > 0 && math.Max(-lo, hi) > autoFactor*q {
			return h.mseRangeFrom(i)
		}
		return h.min, h.max
	}
	if q := h.edge(top()); q > 0 && hi > autoFactor*q {
		hi = q
	}
	if q := h.edge(bottom()); q < 0 && lo < autoFactor*q {
		lo = q
	}
	return h.clip(lo, hi)
}
