// Histogram observer: a fixed number of bins of power-of-two width anchored
// at zero, re-binned by pairs as the range grows, shared by the entropy,
// percentile and MSE methods.

package calib

import (
	"encoding/json"
	"fmt"
	"math"
	"unsafe"
)

// minExp is the smallest bin-width exponent: 2^minExp times any bin count
// is far below the smallest float32, so every tensor of zeros fits it.
const minExp = -200

// HistogramObserver counts values in a histogram of Options.Bins bins of
// width 2^exp. Without Options.Signed, bin i holds |x| in [i·w, (i+1)·w);
// with it, bin i holds x in [(i−Bins/2)·w, (i−Bins/2+1)·w).
//
// exp is always the least exponent (not below minExp) at which the observed
// minimum and maximum fit, so the bins are a function of the multiset of
// values seen: doubling the width merges bins pairwise without loss, and
// merging two observers, in either order, gives exactly the histogram of
// calibrating on all their values. The data then fills between half and all
// of the bins. The exact minimum and maximum are kept too; ranges never
// leave them.
type HistogramObserver struct {
	method   Method
	opts     Options
	exp      int
	counts   []uint64
	zeros    uint64 // exact zeros, also counted in their bin
	min, max float32
	// Values exactly at min and at max, also counted in their bins: the
	// spike of a floor such as Max(x, −0.4) or Relu6's ceiling.
	atMin, atMax uint64
	stats        Stats
}

// newHistogram returns an empty histogram observer for method, which must be
// Entropy, Percentile, MSE or Auto; opts must be valid.
func newHistogram(method Method, opts Options) *HistogramObserver {
	return &HistogramObserver{method: method, opts: opts, exp: minExp, counts: make([]uint64, opts.Bins)}
}

// NewEntropy returns an observer choosing the clip threshold that minimises
// the KL divergence between the histogram and its quantized form.
func NewEntropy(opts Options) (*HistogramObserver, error) { return newHistObserver(Entropy, opts) }

// NewPercentile returns an observer clipping at Options.Percentile.
func NewPercentile(opts Options) (*HistogramObserver, error) {
	return newHistObserver(Percentile, opts)
}

// NewMSE returns an observer choosing the clip that minimises the expected
// squared quantization error for Options.Range.
func NewMSE(opts Options) (*HistogramObserver, error) { return newHistObserver(MSE, opts) }

// NewAuto returns an observer keeping the MinMax range unless the
// extremes are rare outliers, which it clips.
func NewAuto(opts Options) (*HistogramObserver, error) { return newHistObserver(Auto, opts) }

func newHistObserver(m Method, opts Options) (*HistogramObserver, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return newHistogram(m, opts), nil
}

// fits reports whether values in [lo, hi] fall inside the bins at width 2^k.
func (h *HistogramObserver) fits(lo, hi float32, k int) bool {
	n := float64(len(h.counts))
	if !h.opts.Signed {
		m := math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
		return m < math.Ldexp(n, k)
	}
	edge := math.Ldexp(n/2, k)
	return float64(hi) < edge && float64(lo) >= -edge
}

// needExp is the least exponent, not below minExp, at which [lo, hi] fits.
func (h *HistogramObserver) needExp(lo, hi float32) int {
	m := math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
	if m == 0 {
		return minExp
	}
	_, e := math.Frexp(m)
	// m < 2^e and Bins ≥ 2^(bits−1), so e−bits+1 fits; start below it.
	bits := 0
	for b := len(h.counts); b > 1; b >>= 1 {
		bits++
	}
	k := max(e-bits-3, minExp)
	for !h.fits(lo, hi, k) {
		k++
	}
	return k
}

// index is the bin of the finite value x at the current width.
func (h *HistogramObserver) index(x float32) int {
	if !h.opts.Signed {
		return int(math.Ldexp(math.Abs(float64(x)), -h.exp))
	}
	return int(math.Floor(math.Ldexp(float64(x), -h.exp))) + len(h.counts)/2
}

// grow widens the bins to 2^k, k ≥ h.exp, merging 2^(k−exp) neighbours in
// place: each bin moves towards zero, onto a bin already moved.
func (h *HistogramObserver) grow(k int) {
	d := k - h.exp
	if d <= 0 {
		return
	}
	h.exp = k
	if h.stats.Values == 0 {
		return
	}
	d = min(d, 62)
	if !h.opts.Signed {
		for i, c := range h.counts {
			if c != 0 {
				h.counts[i] = 0
				h.counts[i>>d] += c
			}
		}
		return
	}
	half := len(h.counts) / 2
	for i := half; i < len(h.counts); i++ {
		if c := h.counts[i]; c != 0 {
			h.counts[i] = 0
			h.counts[(i-half)>>d+half] += c
		}
	}
	for i := half - 1; i >= 0; i-- {
		if c := h.counts[i]; c != 0 {
			h.counts[i] = 0
			h.counts[(i-half)>>d+half] += c
		}
	}
}

// Observe counts the finite values of data, widening the bins first if they
// do not fit. A zero HistogramObserver (not made by New) takes the default
// options first.
func (h *HistogramObserver) Observe(data []float32) {
	if len(h.counts) < 2 {
		*h = *newHistogram(h.method, DefaultOptions())
	}
	if h.stats.Values > 0 && onePass && h.observeFitting(data) {
		return
	}
	lo, hi, st := scan(data)
	if st.Values == 0 {
		h.stats.add(st)
		return
	}
	blo, bhi := lo, hi
	if h.stats.Values > 0 {
		lo, hi = min(lo, h.min), max(hi, h.max)
	}
	h.grow(h.needExp(lo, hi))
	// Scaling by a power of two is exact, so this matches index. One pass
	// counts the bins, the zeros and the values at the batch's extremes;
	// the finiteness test is skipped when scan found every value finite.
	inv := math.Ldexp(1, -h.exp)
	all := st.NaN == 0 && st.Inf == 0
	half := 0
	if h.opts.Signed {
		half = len(h.counts) / 2
	}
	var bAtLo, bAtHi, zeros uint64
	if all {
		bAtLo, bAtHi, zeros = countFinite(h.counts, data, inv, half, h.opts.Signed, blo, bhi)
	} else {
		// NaN and ±Inf are left out: the finite values are counted a
		// block at a time.
		var block [1024]float32
		for len(data) > 0 {
			k := 0
			for len(data) > 0 && k < len(block) {
				if x := data[0]; finite32(x) {
					block[k] = x
					k++
				}
				data = data[1:]
			}
			l, u, z := countFinite(h.counts, block[:k], inv, half, h.opts.Signed, blo, bhi)
			bAtLo, bAtHi, zeros = bAtLo+l, bAtHi+u, zeros+z
		}
	}
	h.zeros += zeros
	h.addExtremes(lo, hi, blo, bhi, bAtLo, bAtHi)
	h.min, h.max = lo, hi
	h.stats.add(st)
}

// onePass lets Observe take observeFitting; tests turn it off to compare
// with the two passes.
var onePass = true

// observeFitting is Observe in one pass over data, for the usual batch
// once the first ones set the bins: every value finite and inside the
// current bins, so that nothing widens. It finds the batch's extremes and
// their counts as it goes (the first of equal extremes kept, as scan
// does) and counts the bins as countFinite does. At the first value that
// is not finite or falls outside, it takes back the counts it added and
// returns false, h unchanged, for Observe's two passes.
func (h *HistogramObserver) observeFitting(data []float32) bool {
	if len(data) == 0 || !finite32(data[0]) {
		return false
	}
	counts := h.counts
	inv := math.Ldexp(1, -h.exp)
	signed := h.opts.Signed
	half := 0
	if signed {
		half = len(counts) / 2
	}
	bin := func(x float32) int {
		if signed {
			return int(math.Floor(float64(x)*inv)) + half
		}
		return int(math.Abs(float64(x)) * inv)
	}
	undo := func(done []float32) {
		for _, x := range done {
			if x != 0 {
				counts[bin(x)]--
			}
		}
	}
	blo, bhi := data[0], data[0]
	var atLo, atHi, zeros uint64
	for p, x := range data {
		if !finite32(x) {
			undo(data[:p])
			return false
		}
		if x < blo {
			blo, atLo = x, 0
		}
		if x == blo {
			atLo++
		}
		if x > bhi {
			bhi, atHi = x, 0
		}
		if x == bhi {
			atHi++
		}
		if x == 0 {
			zeros++
			continue
		}
		i := bin(x)
		if uint(i) >= uint(len(counts)) {
			undo(data[:p])
			return false
		}
		counts[i]++
	}
	if zeros > 0 {
		counts[half] += zeros
	}
	lo, hi := min(blo, h.min), max(bhi, h.max)
	h.zeros += zeros
	h.addExtremes(lo, hi, blo, bhi, atLo, atHi)
	h.min, h.max = lo, hi
	h.stats.add(Stats{Values: uint64(len(data)), Batches: 1})
	return true
}

// addExtremes updates the counts at the extremes for the new extremes lo
// and hi, given values with extremes blo and bhi, atLo of them at blo and
// atHi at bhi, joining h's; h.min and h.max are still h's own.
func (h *HistogramObserver) addExtremes(lo, hi, blo, bhi float32, atLo, atHi uint64) {
	var am, ax uint64
	if h.stats.Values > 0 {
		if h.min == lo {
			am = h.atMin
		}
		if h.max == hi {
			ax = h.atMax
		}
	}
	if blo == lo {
		am += atLo
	}
	if bhi == hi {
		ax += atHi
	}
	h.atMin, h.atMax = am, ax
}

// Stats reports what the observer has seen.
func (h *HistogramObserver) Stats() Stats { return h.stats }

// Method is the method that turns the histogram into a range.
func (h *HistogramObserver) Method() Method { return h.method }

// Merge adds another histogram observer's counts to h; both must have the
// same method and options.
func (h *HistogramObserver) Merge(other Observer) error {
	p, ok := other.(*HistogramObserver)
	if !ok {
		return fmt.Errorf("calib: cannot merge %T into a %s observer", other, h.method)
	}
	if p.method != h.method || p.opts != h.opts {
		return fmt.Errorf("calib: cannot merge a %s observer with options %+v into a %s observer with options %+v", p.method, p.opts, h.method, h.opts)
	}
	if p.stats.Values == 0 {
		h.stats.add(p.stats)
		return nil
	}
	lo, hi := p.min, p.max
	if h.stats.Values > 0 {
		lo, hi = min(lo, h.min), max(hi, h.max)
	}
	h.grow(h.needExp(lo, hi))
	h.addExtremes(lo, hi, p.min, p.max, p.atMin, p.atMax)
	d := min(h.exp-p.exp, 62)
	half := len(h.counts) / 2
	for i, c := range p.counts {
		if c == 0 {
			continue
		}
		if h.opts.Signed {
			h.counts[(i-half)>>d+half] += c
		} else {
			h.counts[i>>d] += c
		}
	}
	h.min, h.max = lo, hi
	h.zeros += p.zeros
	h.stats.add(p.stats)
	return nil
}

// HeldBytes is the memory the observer keeps, which does not depend on the
// number of values observed.
func (h *HistogramObserver) HeldBytes() int {
	return int(unsafe.Sizeof(*h)) + cap(h.counts)*int(unsafe.Sizeof(uint64(0)))
}

// Range returns the clipped range chosen by the observer's method, inside
// the observed [min, max]; (0, 0) before any finite value.
func (h *HistogramObserver) Range() (float32, float32) {
	if h.stats.Values == 0 {
		return 0, 0
	}
	switch h.method {
	case Entropy:
		return h.entropyRange()
	case Percentile:
		return h.percentileRange()
	case Auto:
		return h.autoRange()
	default:
		return h.mseRange()
	}
}

// histState is the JSON form: the counts from the first to the last
// non-empty bin. The width follows from min and max.
type histState struct {
	Method Method   `json:"method"`
	Bins   int      `json:"bins"`
	Signed bool     `json:"signed"`
	Min    float32  `json:"min"`
	Max    float32  `json:"max"`
	Offset int      `json:"offset"`
	Counts []uint64 `json:"counts"`
	Zeros  uint64   `json:"zeros"`
	AtMin  uint64   `json:"at_min,omitempty"`
	AtMax  uint64   `json:"at_max,omitempty"`
	Stats  Stats    `json:"stats"`
}

// MarshalJSON writes the observer's state. The options other than the bin
// layout belong to the Collection that holds the observer.
func (h *HistogramObserver) MarshalJSON() ([]byte, error) {
	s := histState{Method: h.method, Bins: len(h.counts), Signed: h.opts.Signed, Min: h.min, Max: h.max, Counts: []uint64{}, Zeros: h.zeros, AtMin: h.atMin, AtMax: h.atMax, Stats: h.stats}
	if h.stats.Values > 0 {
		first, last := h.nonEmpty()
		s.Offset, s.Counts = first, h.counts[first:last+1]
	}
	return json.Marshal(s)
}

// UnmarshalJSON restores a state written by MarshalJSON into h, whose
// method and options (set by its constructor) must match the state's.
func (h *HistogramObserver) UnmarshalJSON(b []byte) error {
	var s histState
	if err := StrictUnmarshal(b, &s); err != nil {
		return fmt.Errorf("calib: histogram state: %v", err)
	}
	if h.counts == nil {
		return fmt.Errorf("calib: histogram state: unmarshal into an observer made by its constructor")
	}
	if s.Method != h.method || s.Bins != len(h.counts) || s.Signed != h.opts.Signed {
		return fmt.Errorf("calib: histogram state of a %s observer with %d bins (signed %v) does not fit a %s observer with %d bins (signed %v)",
			s.Method, s.Bins, s.Signed, h.method, len(h.counts), h.opts.Signed)
	}
	if err := checkExtremes(s.Min, s.Max, s.Stats); err != nil {
		return fmt.Errorf("calib: histogram state: %v", err)
	}
	n := &HistogramObserver{method: h.method, opts: h.opts, exp: minExp, counts: make([]uint64, len(h.counts)), min: s.Min, max: s.Max, stats: s.Stats}
	if s.Stats.Values == 0 {
		if len(s.Counts) != 0 || s.Offset != 0 || s.Zeros != 0 || s.AtMin != 0 || s.AtMax != 0 {
			return fmt.Errorf("calib: histogram state: counts without values")
		}
		*h = *n
		return nil
	}
	n.exp = n.needExp(s.Min, s.Max)
	first, last := s.Offset, s.Offset+len(s.Counts)-1
	if len(s.Counts) == 0 || first < 0 || last >= len(n.counts) || s.Counts[0] == 0 || s.Counts[len(s.Counts)-1] == 0 {
		return fmt.Errorf("calib: histogram state: counts must run from a non-empty bin to a non-empty bin inside %d bins", len(n.counts))
	}
	// The extremes' bins bound the non-empty ones; without Signed a range
	// across zero says nothing of the lowest |x|.
	ia, ib := n.index(s.Min), n.index(s.Max)
	ok := first == ia && last == ib
	if !n.opts.Signed {
		ok = last == max(ia, ib) && first == min(ia, ib)
		if s.Min < 0 && s.Max > 0 {
			ok = last == max(ia, ib) && first <= min(ia, ib)
		}
	}
	if !ok {
		return fmt.Errorf("calib: histogram state: counts in bins [%d, %d] do not fit the range [%g, %g]", first, last, s.Min, s.Max)
	}
	var total uint64
	for _, c := range s.Counts {
		if total+c < total {
			return fmt.Errorf("calib: histogram state: counts overflow")
		}
		total += c
	}
	if total != s.Stats.Values {
		return fmt.Errorf("calib: histogram state: counts sum to %d, stats say %d values", total, s.Stats.Values)
	}
	copy(n.counts[s.Offset:], s.Counts)
	if s.Zeros > 0 && (s.Min > 0 || s.Max < 0 || s.Zeros > n.counts[n.zeroBin()]) {
		return fmt.Errorf("calib: histogram state: %d zeros do not fit the range and counts", s.Zeros)
	}
	n.zeros = s.Zeros
	// Counts at the extremes (absent from older states) must fit their
	// bins, beside each other and the zeros when they share one.
	if s.Min == s.Max && s.AtMin != s.AtMax {
		return fmt.Errorf("calib: histogram state: %d values at the minimum and %d at the equal maximum", s.AtMin, s.AtMax)
	}
	if (s.Min == 0 && s.AtMin != 0 && s.AtMin != s.Zeros) || (s.Max == 0 && s.AtMax != 0 && s.AtMax != s.Zeros) {
		return fmt.Errorf("calib: histogram state: values at an extreme of 0 are not the %d zeros", s.Zeros)
	}
	type at struct {
		v float32
		c uint64
	}
	ats := []at{{0, s.Zeros}}
	if s.Min != 0 {
		ats = append(ats, at{s.Min, s.AtMin})
	}
	if s.Max != 0 && s.Max != s.Min {
		ats = append(ats, at{s.Max, s.AtMax})
	}
	for _, a := range ats {
		var c uint64
		for _, b := range ats {
			if n.index(b.v) == n.index(a.v) {
				if c+b.c < c {
					return fmt.Errorf("calib: histogram state: counts overflow")
				}
				c += b.c
			}
		}
		if c > n.counts[n.index(a.v)] {
			return fmt.Errorf("calib: histogram state: %d values at the extremes and zero do not fit their bin's %d", c, n.counts[n.index(a.v)])
		}
	}
	n.atMin, n.atMax = s.AtMin, s.AtMax
	*h = *n
	return nil
}

// zeroBin is the bin holding zero.
func (h *HistogramObserver) zeroBin() int {
	if h.opts.Signed {
		return len(h.counts) / 2
	}
	return 0
}

// nonEmpty returns the first and last non-empty bins; h must hold values.
func (h *HistogramObserver) nonEmpty() (first, last int) { return nonEmpty(h.counts) }

// nonEmpty returns the first and last non-empty bins of counts, -1 if none.
func nonEmpty(counts []uint64) (first, last int) {
	first, last = -1, -1
	for i, c := range counts {
		if c != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// countFinite is Observe's counting loop for data without NaN or ±Inf:
// it adds every value's bin to counts and returns how many values equal
// blo, bhi and zero. Zeros, often most of a Relu's output, skip the
// loop's store (one bin hit again and again makes every increment wait
// for the last) and are added to their bin at the end.
func countFinite(counts []uint64, data []float32, inv float64, half int, signed bool, blo, bhi float32) (atLo, atHi, zeros uint64) {
	for _, x := range data {
		if x == blo {
			atLo++
		}
		if x == bhi {
			atHi++
		}
		if x == 0 {
			zeros++
			continue
		}
		var i int
		if signed {
			i = int(math.Floor(float64(x)*inv)) + half
		} else {
			i = int(math.Abs(float64(x)) * inv)
		}
		counts[i]++
	}
	if zeros > 0 {
		counts[half] += zeros
	}
	return atLo, atHi, zeros
}
