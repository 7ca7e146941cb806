// The prefix-sum KL divergence against a direct evaluation of its
// definition.

package calib

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/qdq"
)

// naiveKL evaluates KL(P‖Q) for the window [lo, hi) bin by bin, as
// entropyRange describes it.
func naiveKL(counts []uint64, lo, hi, nq int) float64 {
	bins := counts[lo:hi]
	n := len(bins)
	var left, right uint64
	for _, c := range counts[:lo] {
		left += c
	}
	for _, c := range counts[hi:] {
		right += c
	}
	p := make([]float64, n)
	q := make([]float64, n)
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

func TestKLTable(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for trial := range 200 {
		n := 16 + r.IntN(300)
		counts := make([]uint64, n)
		for i := range counts {
			switch r.IntN(4) {
			case 0: // empty
			case 1:
				counts[i] = uint64(r.IntN(5))
			default:
				counts[i] = uint64(r.IntN(100000))
			}
		}
		if trial%3 == 0 {
			counts[0] = 1 << 30 // a spike, as Relu zeros make
		}
		k := newKLTable(counts)
		nq := 2 + r.IntN(min(n/2, 64))
		for range 20 {
			lo := r.IntN(n - nq + 1)
			hi := lo + nq + r.IntN(n-lo-nq+1)
			got, want := k.divergence(lo, hi, nq), naiveKL(counts, lo, hi, nq)
			if math.IsInf(want, 1) != math.IsInf(got, 1) || (!math.IsInf(want, 1) && math.Abs(got-want) > 1e-9*(1+math.Abs(want))) {
				t.Fatalf("counts %v window [%d, %d) nq %d: KL %g, direct %g", counts, lo, hi, nq, got, want)
			}
		}
	}
}

// TestHistogramRangesKeepTheData: data all on one side of zero and far
// from it (a HardSigmoid output in [0.1, 0.8]) and a handful of values (a
// classifier's logits) keep close to their whole range under every
// histogram method. The KL search used to end the range just past the
// data's near edge (all mass folded into one bin, KL 0) and to clip 64
// logits to an eighth of their spread.
func TestHistogramRangesKeepTheData(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	// Two-class logits: |x| in [2, 17], either sign.
	logits := uniform(r, 64, 2, 17)
	for i := range logits {
		if r.IntN(2) == 0 {
			logits[i] = -logits[i]
		}
	}
	cases := []struct {
		name string
		data []float32
		keep float64 // least share of the observed spread the range keeps
	}{
		{"positive offset", uniform(r, 1<<16, 5, 10), 0.95},
		{"negative offset", uniform(r, 1<<16, -10, -5), 0.95},
		{"small offset", uniform(r, 1<<16, 0.1, 0.8), 0.95},
		{"logits", logits, 0.7},
	}
	for _, m := range []Method{Entropy, Percentile, MSE} {
		for _, ho := range histOptions {
			for _, tc := range cases {
				c := newColl(t, m, ho.opts)
				c.Observe("x", tc.data)
				lo, hi := tc.data[0], tc.data[0]
				for _, x := range tc.data {
					lo, hi = min(lo, x), max(hi, x)
				}
				got := c.Ranges()["x"]
				if got.Min < lo || got.Max > hi || float64(got.Max-got.Min) < tc.keep*float64(hi-lo) {
					t.Errorf("%s/%s/%s: range %v of data in [%g, %g]", m, ho.name, tc.name, got, lo, hi)
				}
				if m == Entropy && tc.name == "logits" && got != (Range{lo, hi}) {
					t.Errorf("%s/%s: 64 values clipped to %v of [%g, %g]", ho.name, tc.name, got, lo, hi)
				}
			}
		}
	}
}

// TestEntropyIgnoresFloorSpike: the values of Max(x, −0.4) at their floor
// move the entropy clip no more than a Relu's zeros do, however the values
// arrive (one batch, two, saved, loaded and merged).
func TestEntropyIgnoresFloorSpike(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	x := gaussian(r, 1<<17, 0, 3)
	var above []float32
	floored := make([]float32, len(x))
	for i, v := range x {
		floored[i] = max(v, -0.4)
		if v > -0.4 {
			above = append(above, v)
		}
	}
	for _, ho := range histOptions {
		a, b := newColl(t, Entropy, ho.opts), newColl(t, Entropy, ho.opts)
		a.Observe("x", above)
		a.Observe("x", []float32{-0.4})
		b.Observe("x", floored)
		ra, rb := a.Ranges()["x"], b.Ranges()["x"]
		if rb != ra || ra.Max < 6 {
			t.Errorf("%s: clip %v with the floor's spike, %v without", ho.name, rb, ra)
		}
		h := newColl(t, Entropy, ho.opts)
		h.Observe("x", floored[len(x)/2:])
		h.Observe("x", floored[:len(x)/2])
		l, err := Load(strings.NewReader(saved(t, h)))
		if err != nil {
			t.Fatal(err)
		}
		m := newColl(t, Entropy, ho.opts)
		mustMerge(t, m, l)
		if got := m.Ranges()["x"]; got != rb {
			t.Errorf("%s: %v in halves, saved and merged, %v in one batch", ho.name, got, rb)
		}
	}
}

// naiveMSERange is mseRangeFrom as a pass over every bin per threshold.
func naiveMSERange(h *HistogramObserver, from int) (float32, float32) {
	n := h.window(h.counts)
	w := h.width()
	bestLo, bestHi := h.min, h.max
	bestErr := math.Inf(1)
	for i := max(from, 1); i <= n; i++ {
		t := math.Ldexp(float64(i), h.exp)
		lo, hi := h.clip(-t, t)
		scale, _ := qdq.ParamsFromRange(lo, hi, h.opts.Range)
		s := float64(scale)
		l, r := float64(lo), float64(hi)
		if !h.opts.Signed {
			r = math.Max(-l, r)
			l = -r
		}
		var err, inside float64
		for k, c := range h.counts {
			if c == 0 {
				continue
			}
			x, cf := h.edge(k)+w/2, float64(c)
			switch {
			case x > r:
				err += cf * (x - r) * (x - r)
			case x < l:
				err += cf * (l - x) * (l - x)
			default:
				inside += cf
			}
		}
		err += inside * s * s / 12
		if err < bestErr {
			bestErr, bestLo, bestHi = err, lo, hi
		}
	}
	return bestLo, bestHi
}

// TestMSERangeMatchesNaive: the MSE search over the tails alone picks
// exactly the range a pass over every bin picks.
func TestMSERangeMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for trial := range 24 {
		opts := Options{Signed: trial%2 == 0}
		h, err := NewMSE(opts)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]float32, 2000+r.IntN(5000))
		for i := range data {
			switch r.IntN(5) {
			case 0:
				data[i] = 0
			case 1:
				data[i] = float32(r.ExpFloat64() * 10) // a long tail
			default:
				data[i] = float32(r.NormFloat64() + float64(trial%3))
			}
		}
		h.Observe(data)
		for _, from := range []int{1, 7} {
			lo, hi := h.mseRangeFrom(from)
			wlo, whi := naiveMSERange(h, from)
			if lo != wlo || hi != whi {
				t.Fatalf("trial %d from %d: range [%v, %v], a pass over every bin gives [%v, %v]", trial, from, lo, hi, wlo, whi)
			}
		}
	}
}
