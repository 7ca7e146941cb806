// Range selection on a histogram: entropy (KL divergence), percentile and
// MSE. Every search is a deterministic scan over bin edges.

package calib

import (
	"math"
	"slices"
	"sort"

	"github.com/onnxq/onnxq/qdq"
)

// width is the bin width; edge(i) the value at the lower edge of bin i.
func (h *HistogramObserver) width() float64 { return math.Ldexp(1, h.exp) }

func (h *HistogramObserver) edge(i int) float64 {
	if h.opts.Signed {
		i -= len(h.counts) / 2
	}
	return math.Ldexp(float64(i), h.exp)
}

// clip clamps both ends of [lo, hi] into the observed range, so a window
// narrower than the data's distance from zero gives a degenerate range at
// the extreme nearest zero.
func (h *HistogramObserver) clip(lo, hi float64) (float32, float32) {
	clamp := func(x float64) float32 {
		return float32(math.Min(math.Max(x, float64(h.min)), float64(h.max)))
	}
	return clamp(lo), clamp(hi)
}

// window returns, for the threshold search over counts, the number of candidate
// windows: without Signed, bins [0, i) for i ≤ n; with it, bins
// [half−i, half+i) for i ≤ n, n covering every non-empty bin.
func (h *HistogramObserver) window(counts []uint64) int {
	first, last := nonEmpty(counts)
	if !h.opts.Signed {
		return last + 1
	}
	half := len(h.counts) / 2
	return max(half-first, last+1-half)
}

// span is the bin interval of candidate window i.
func (h *HistogramObserver) span(i int) (lo, hi int) {
	if !h.opts.Signed {
		return 0, i
	}
	half := len(h.counts) / 2
	return half - i, half + i
}

// entropyRange follows TensorRT's calibration: for each window of at least
// QuantBins bins, the reference distribution P is the window with the mass
// outside it added to its end bins, the candidate Q the window's own counts
// merged into QuantBins chunks and spread evenly over the bins where P is
// non-zero. Where Q is still empty but P is not (outliers folded into an
// end bin whose chunk is empty), Q gets probability qFloor, so that window
// is charged for the clipped mass rather than excluded. The window with the
// least KL(P‖Q) wins (the narrowest on ties); its edge, clipped to the
// observed extremes, is the range.
//
// Exact zeros are left out of both distributions: every range represents
// zero exactly, and the spike of a Relu output's zeros would otherwise
// dominate the first chunk and pull the threshold far down (with half the
// values zero, to about a third of the clip found without them). So are
// the values exactly at the extreme nearer zero when every window keeps
// it. Windows start past the empty bins below the data and clip at most
// maxClipFraction of the values.
func (h *HistogramObserver) entropyRange() (float32, float32) {
	counts := slices.Clone(h.counts)
	counts[h.zeroBin()] -= h.zeros
	// The same holds for a spike at the extreme nearer zero (the floor of
	// Max(x, −0.4)) as long as every window keeps it.
	near, atNear := h.min, h.atMin
	if math.Abs(float64(h.max)) < math.Abs(float64(h.min)) {
		near, atNear = h.max, h.atMax
	}
	if near != 0 {
		counts[h.index(near)] -= atNear
	}
	start := h.firstWindow(counts)
	if lo, hi := h.span(start); near != 0 && atNear > 0 && (h.index(near) < lo || h.index(near) >= hi) {
		counts[h.index(near)] += atNear
		start = h.firstWindow(counts)
	}
	if first, _ := nonEmpty(counts); first < 0 {
		return h.min, h.max
	}
	n := h.window(counts)
	nq := h.opts.QuantBins
	// Clipping more than maxClipFraction of the values is no outlier
	// removal but a range that misses the data; with few values (a
	// classifier's logits) it means no clipping at all.
	limit := maxClipFraction * float64(sumCounts(counts))
	k := newKLTable(counts)
	for start <= n {
		lo, hi := h.span(start)
		if k.cum[lo]+k.cum[len(counts)]-k.cum[hi] <= limit {
			break
		}
		start++
	}
	if n <= start {
		return h.min, h.max
	}
	best, bestKL := n, math.Inf(1)
	for i := start; i <= n; i++ {
		lo, hi := h.span(i)
		if kl := k.divergence(lo, hi, nq); kl < bestKL {
			best, bestKL = i, kl
		}
	}
	t := math.Ldexp(float64(best), h.exp)
	return h.clip(-t, t)
}

// firstWindow is the narrowest window the KL search tries over counts:
// QuantBins bins, past the empty bins between zero and the data nearest to
// it. Without the gap, data all on one side of zero and away from it (or
// |x| bounded away from zero) folds into the end bin of a window ending
// just past the gap, where P and Q agree (KL 0) though the range keeps
// almost nothing.
func (h *HistogramObserver) firstWindow(counts []uint64) int {
	start := h.opts.QuantBins
	if h.opts.Signed {
		start = (start + 1) / 2
	}
	return start + h.gap(counts)
}

// maxClipFraction bounds the share of the (non-zero) values an entropy
// range may clip.
const maxClipFraction = 0.01

// gap is the number of empty bins between zero and the non-empty bin
// nearest to it: without Signed the first non-empty bin of |x|, with it
// the nearer of the first non-empty bins either side of zero.
func (h *HistogramObserver) gap(counts []uint64) int {
	if !h.opts.Signed {
		first, _ := nonEmpty(counts)
		return max(first, 0)
	}
	half := len(counts) / 2
	g := half
	for i := half; i < len(counts) && i-half < g; i++ {
		if counts[i] != 0 {
			g = i - half
		}
	}
	for i := half - 1; i >= 0 && half-1-i < g; i-- {
		if counts[i] != 0 {
			g = half - 1 - i
		}
	}
	return g
}

func sumCounts(counts []uint64) uint64 {
	var s uint64
	for _, c := range counts {
		s += c
	}
	return s
}

// klTable holds prefix sums over the histogram so that the divergence of a
// window costs O(QuantBins) instead of O(window): inside a chunk Q is one
// value on P's non-empty bins, so Σ p·log q is a chunk sum times a log, and
// Σ p·log p comes from a prefix of c·log c.
type klTable struct {
	counts []uint64
	cum    []float64 // cum[i] = Σ counts[:i]
	clogc  []float64 // Σ c·log c over counts[:i]
	nz     []int     // non-empty bins among counts[:i]
}

func newKLTable(counts []uint64) *klTable {
	n := len(counts)
	k := &klTable{counts: counts, cum: make([]float64, n+1), clogc: make([]float64, n+1), nz: make([]int, n+1)}
	for i, c := range counts {
		f := float64(c)
		k.cum[i+1], k.clogc[i+1], k.nz[i+1] = k.cum[i]+f, k.clogc[i], k.nz[i]
		if c != 0 {
			k.clogc[i+1] += f * math.Log(f)
			k.nz[i+1]++
		}
	}
	return k
}

func xlogx(x float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(x)
}

// divergence is KL(P‖Q) for the window of bins [lo, hi), as described at
// entropyRange; +Inf when the window is empty.
//
// With ps = Σp and qs = Σ window counts, KL = (Σ p·log p − Σ p·log q)/ps −
// log ps + log qs.
func (k *klTable) divergence(lo, hi, nq int) float64 {
	n := hi - lo
	qs := k.cum[hi] - k.cum[lo]
	if qs == 0 {
		return math.Inf(1)
	}
	left, right := k.cum[lo], k.cum[len(k.counts)]-k.cum[hi]
	ps := qs + left + right
	first, last := float64(k.counts[lo]), float64(k.counts[hi-1])
	// Σ p·log p: the window's, with its end bins carrying the outliers.
	plogp := k.clogc[hi] - k.clogc[lo] - xlogx(first) - xlogx(last) + xlogx(first+left) + xlogx(last+right)
	var plogq float64
	// Bin c spans [lo+⌊c·n/nq⌋, lo+⌊(c+1)·n/nq⌋): the bounds step by
	// n/nq with the remainder carried, without a division per bin.
	step, extra := n/nq, n%nq
	e, rem := lo, 0
	for range nq {
		s := e
		e += step
		if rem += extra; rem >= nq {
			e++
			rem -= nq
		}
		sum := k.cum[e] - k.cum[s]
		psum := sum
		nz := k.nz[e] - k.nz[s]
		if s == lo {
			psum += left
			if first == 0 && left > 0 {
				nz++
			}
		}
		if e == hi {
			psum += right
			if last == 0 && right > 0 {
				nz++
			}
		}
		if psum == 0 {
			continue
		}
		q := sum / float64(nz)
		if sum == 0 {
			q = qFloor * qs
		}
		plogq += psum * fastLog(q)
	}
	return (plogp-plogq)/ps - math.Log(ps) + math.Log(qs)
}

// qFloor is the probability Q is given where it is empty and P is not.
const qFloor = 1e-4

// percentileRange clips at Options.Percentile. Without Signed, it is the
// percentile of |x| (the upper edge of the bin where the count above falls
// to at most (1−p/100)·N), applied to both sides; with Signed, the lower
// and upper bounds are the (100−p)th and pth percentiles of x. Bounds never
// leave the observed extremes, so p = 100 gives the MinMax range.
func (h *HistogramObserver) percentileRange() (float32, float32) {
	tail := (1 - h.opts.Percentile/100) * float64(h.stats.Values)
	hiBin := len(h.counts) - 1
	var cum uint64
	for ; hiBin > 0; hiBin-- {
		cum += h.counts[hiBin]
		if float64(cum) > tail {
			break
		}
	}
	hi := h.edge(hiBin + 1)
	if !h.opts.Signed {
		return h.clip(-hi, hi)
	}
	loBin := 0
	cum = 0
	for ; loBin < len(h.counts)-1; loBin++ {
		cum += h.counts[loBin]
		if float64(cum) > tail {
			break
		}
	}
	return h.clip(h.edge(loBin), hi)
}

// mseRange scans symmetric clip thresholds t at every bin edge and keeps
// the one minimising the expected squared error of quantizing the histogram
// with qdq.ParamsFromRange(clipped range, Options.Range): values inside the
// clipped range cost the rounding noise scale²/12, values beyond it their
// squared distance (bin centre) to the bound. The smallest t wins ties.
func (h *HistogramObserver) mseRange() (float32, float32) { return h.mseRangeFrom(1) }

// mseRangeFrom is mseRange over the thresholds of at least `from` bins.
func (h *HistogramObserver) mseRangeFrom(from int) (float32, float32) {
	n := h.window(h.counts)
	type bin struct {
		centre float64
		count  float64
	}
	var bins []bin
	w := h.width()
	for i, c := range h.counts {
		if c != 0 {
			bins = append(bins, bin{h.edge(i) + w/2, float64(c)})
		}
	}
	cum := make([]float64, len(bins)+1)
	for k, b := range bins {
		cum[k+1] = cum[k] + b.count
	}
	bestLo, bestHi := h.min, h.max
	bestErr := math.Inf(1)
	for i := max(from, 1); i <= n; i++ {
		t := math.Ldexp(float64(i), h.exp)
		lo, hi := h.clip(-t, t)
		scale, _ := qdq.ParamsFromRange(lo, hi, h.opts.Range)
		s := float64(scale)
		// Without Signed the bins hold |x|, clipped at the bound farther
		// from zero.
		l, r := float64(lo), float64(hi)
		if !h.opts.Signed {
			r = math.Max(-l, r)
			l = -r
		}
		// The bins run in increasing order of centre: those below l, then
		// those kept, then those above r. Only the two tails add squared
		// errors (in the same order as a pass over every bin would); the
		// kept counts come from the prefix sums, exact for integer counts.
		below := sort.Search(len(bins), func(k int) bool { return bins[k].centre >= l })
		above := sort.Search(len(bins), func(k int) bool { return bins[k].centre > r })
		var err float64
		for _, b := range bins[:below] {
			err += b.count * (l - b.centre) * (l - b.centre)
		}
		for _, b := range bins[max(above, below):] {
			err += b.count * (b.centre - r) * (b.centre - r)
		}
		inside := 0.0
		if above > below {
			inside = cum[above] - cum[below]
		}
		err += inside * s * s / 12
		if err < bestErr {
			bestErr, bestLo, bestHi = err, lo, hi
		}
	}
	return bestLo, bestHi
}
