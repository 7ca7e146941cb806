// Read-only views of a histogram observer for reports: its bins, its
// extremes, and the range each method would pick on the same counts.

package calib

import "fmt"

// Bins returns the histogram from its first to its last non-empty bin:
// the lower edge of the first bin, the common bin width, and the counts
// (a copy). Without Options.Signed the bins count |x|. Before any finite
// value it returns no counts.
func (h *HistogramObserver) Bins() (lo, width float64, counts []uint64) {
	if h.stats.Values == 0 {
		return 0, h.width(), nil
	}
	first, last := h.nonEmpty()
	return h.edge(first), h.width(), append([]uint64(nil), h.counts[first:last+1]...)
}

// Extremes returns the observed minimum and maximum finite values; (0, 0)
// before any.
func (h *HistogramObserver) Extremes() (min, max float32) { return h.min, h.max }

// Options returns the options the observer was made with (defaults
// filled in).
func (h *HistogramObserver) Options() Options { return h.opts }

// RangeOf returns the range method m would pick on h's counts, whatever
// method h was made for: MinMax gives the observed extremes, Entropy,
// Percentile, MSE and Auto their searches (the same code as Range). EMA
// depends on the order of batches, which a histogram does not keep.
func (h *HistogramObserver) RangeOf(m Method) (float32, float32, error) {
	if h.stats.Values == 0 {
		return 0, 0, nil
	}
	switch m {
	case MinMax:
		return h.min, h.max, nil
	case Entropy:
		lo, hi := h.entropyRange()
		return lo, hi, nil
	case Percentile:
		lo, hi := h.percentileRange()
		return lo, hi, nil
	case MSE:
		lo, hi := h.mseRange()
		return lo, hi, nil
	case Auto:
		lo, hi := h.autoRange()
		return lo, hi, nil
	}
	return 0, 0, fmt.Errorf("calib: method %q has no range on a histogram", m)
}
