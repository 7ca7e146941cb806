package calib

import (
	"math/rand/v2"
	"testing"
)

// TestRangeOf checks that one histogram gives every method's range as an
// observer of that method would, and that Bins holds every value.
func TestRangeOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	data := make([]float32, 20000)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	data[5] = 40 // an outlier for the clipping methods
	for _, signed := range []bool{false, true} {
		opts := Options{Signed: signed}
		probe, err := NewMSE(opts)
		if err != nil {
			t.Fatal(err)
		}
		probe.Observe(data)
		for _, m := range []Method{Entropy, Percentile, MSE, Auto} {
			own, err := newHistObserver(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			own.Observe(data)
			wlo, whi := own.Range()
			lo, hi, err := probe.RangeOf(m)
			if err != nil || lo != wlo || hi != whi {
				t.Errorf("signed %v, %s: RangeOf = [%g, %g] %v, want [%g, %g]", signed, m, lo, hi, err, wlo, whi)
			}
		}
		mm := NewMinMax()
		mm.Observe(data)
		wlo, whi := mm.Range()
		if lo, hi, err := probe.RangeOf(MinMax); err != nil || lo != wlo || hi != whi {
			t.Errorf("signed %v, minmax: RangeOf = [%g, %g] %v, want [%g, %g]", signed, lo, hi, err, wlo, whi)
		}
		if _, _, err := probe.RangeOf(EMA); err == nil {
			t.Error("RangeOf(EMA) gave a range")
		}
		lo, w, counts := probe.Bins()
		var n uint64
		for _, c := range counts {
			n += c
		}
		if n != uint64(len(data)) || counts[0] == 0 || counts[len(counts)-1] == 0 {
			t.Errorf("signed %v: Bins hold %d values (want %d), ends %d, %d", signed, n, len(data), counts[0], counts[len(counts)-1])
		}
		top := lo + w*float64(len(counts))
		if min, max := probe.Extremes(); float64(max) >= top || (signed && float64(min) < lo) {
			t.Errorf("signed %v: extremes [%g, %g] outside the bins [%g, %g)", signed, min, max, lo, top)
		}
	}
}
