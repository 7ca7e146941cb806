// Range selection on a histogram: entropy (KL divergence), percentile and
// MSE. Every search is a deterministic scan over bin edges.

package calib

import (
	"math"

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

// window returns, for the threshold search, the number of candidate
// windows: without Signed, bins [0, i) for i ≤ n; with it, bins
// [half−i, half+i) for i ≤ n, n covering every non-empty bin.
func (h *HistogramObserver) window() int {
	first, last := h.nonEmpty()
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
// outside it added to its end bins, the candidate Q is the window merged
// into QuantBins levels and spread back over its non-empty bins; the window
// with the least KL(P‖Q) wins (the narrowest on ties). Its edge, clipped to
// the observed extremes, is the range.
func (h *HistogramObserver) entropyRange() (float32, float32) {
	n := h.window()
	nq := h.opts.QuantBins
	start := nq
	if h.opts.Signed {
		start = (nq + 1) / 2
	}
	if n <= start {
		return h.min, h.max
	}
	prefix := make([]uint64, len(h.counts)+1)
	for i, c := range h.counts {
		prefix[i+1] = prefix[i] + c
	}
	total := prefix[len(h.counts)]
	p := make([]float64, 2*n)
	q := make([]float64, 2*n)
	best, bestKL := n, math.Inf(1)
	for i := start; i <= n; i++ {
		lo, hi := h.span(i)
		kl := klDivergence(h.counts[lo:hi], prefix[lo], total-prefix[hi], nq, p, q)
		if kl < bestKL {
			best, bestKL = i, kl
		}
	}
	t := math.Ldexp(float64(best), h.exp)
	return h.clip(-t, t)
}

// klDivergence is KL(P‖Q) for the window bins with left and right outlier
// counts folded into its end bins (P). Q merges the window's own counts
// into nq chunks and spreads each chunk's sum evenly over the bins where P
// is non-zero. Where Q is still empty but P is not (the outliers folded
// into an end bin whose chunk is empty), Q gets probability qFloor, so
// that window is charged for the clipped mass rather than excluded.
func klDivergence(bins []uint64, left, right uint64, nq int, p, q []float64) float64 {
	n := len(bins)
	p, q = p[:n], q[:n]
	var qs float64
	for j, c := range bins {
		p[j] = float64(c)
		qs += float64(c)
	}
	p[0] += float64(left)
	p[n-1] += float64(right)
	ps := qs + float64(left) + float64(right)
	if qs == 0 {
		return math.Inf(1)
	}
	for k := range nq {
		s, e := k*n/nq, (k+1)*n/nq
		var sum float64
		nz := 0
		for j := s; j < e; j++ {
			sum += float64(bins[j])
			if p[j] != 0 {
				nz++
			}
		}
		for j := s; j < e; j++ {
			q[j] = 0
			if p[j] != 0 {
				q[j] = sum / float64(nz)
			}
		}
	}
	var kl float64
	for j := range n {
		if p[j] == 0 {
			continue
		}
		pj, qj := p[j]/ps, q[j]/qs
		if qj == 0 {
			qj = qFloor
		}
		kl += pj * math.Log(pj/qj)
	}
	return kl
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
func (h *HistogramObserver) mseRange() (float32, float32) {
	n := h.window()
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
	bestLo, bestHi := h.min, h.max
	bestErr := math.Inf(1)
	for i := 1; i <= n; i++ {
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
		var err, inside float64
		for _, b := range bins {
			switch x := b.centre; {
			case x > r:
				err += b.count * (x - r) * (x - r)
			case x < l:
				err += b.count * (l - x) * (l - x)
			default:
				inside += b.count
			}
		}
		err += inside * s * s / 12
		if err < bestErr {
			bestErr, bestLo, bestHi = err, lo, hi
		}
	}
	return bestLo, bestHi
}
