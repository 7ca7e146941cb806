package calib

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveScan is scan written plainly: the first finite value starts both
// extremes, strictly smaller or larger ones replace them.
func naiveScan(data []float32) (lo, hi float32, st Stats) {
	first := true
	for _, x := range data {
		switch {
		case math.IsNaN(float64(x)):
			st.NaN++
			continue
		case math.IsInf(float64(x), 0):
			st.Inf++
			continue
		}
		st.Values++
		if first {
			lo, hi, first = x, x, false
		}
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	if st.Values > 0 {
		st.Batches = 1
	}
	return lo, hi, st
}

// TestScanMatchesNaive: the fast path gives the same extremes, down to
// the sign of a zero extreme, and the same counts as the plain loop, on
// data with and without NaN and ±Inf, of odd and even lengths.
func TestScanMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	negZero := float32(math.Copysign(0, -1))
	specials := []float32{0, negZero, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32}
	for trial := range 2000 {
		n := r.IntN(40)
		data := make([]float32, n)
		for i := range data {
			switch r.IntN(6) {
			case 0:
				data[i] = specials[r.IntN(len(specials))]
			case 1:
				data[i] = specials[r.IntN(2)] // zeros of either sign
			default:
				data[i] = float32(r.NormFloat64())
				if trial%3 == 0 {
					data[i] = float32(math.Abs(float64(data[i])))
				}
			}
		}
		lo, hi, st := scan(data)
		wlo, whi, wst := naiveScan(data)
		same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
		if !same(lo, wlo) || !same(hi, whi) || st != wst {
			t.Fatalf("trial %d %v: scan = %v %v %+v, want %v %v %+v", trial, data, lo, hi, st, wlo, whi, wst)
		}
	}
}

// TestCountFiniteMatchesIndex: the counting loop puts every finite value
// in the bin index gives and counts the values at both extremes and at
// zero, for signed and |x| histograms, with NaN and ±Inf among the values
// or not.
func TestCountFiniteMatchesIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for trial, signed := range []bool{false, true, false, true} {
		data := make([]float32, 5000)
		for i := range data {
			switch {
			case i%3 == 0: // zeros
			case trial >= 2 && i%7 == 1: // not counted
				data[i] = float32(math.NaN())
			case trial >= 2 && i%11 == 2:
				data[i] = float32(math.Inf(1 - 2*(i%2)))
			default:
				data[i] = float32(r.NormFloat64())
			}
		}
		h, err := NewEntropy(Options{Signed: signed})
		if err != nil {
			t.Fatal(err)
		}
		h.Observe(data)
		want := make([]uint64, len(h.counts))
		var zeros uint64
		for _, x := range data {
			if !finite32(x) {
				continue
			}
			want[h.index(x)]++
			if x == 0 {
				zeros++
			}
		}
		for i := range want {
			if want[i] != h.counts[i] {
				t.Fatalf("signed=%v: bin %d holds %d, want %d", signed, i, h.counts[i], want[i])
			}
		}
		if h.zeros != zeros || h.atMin != 1 || h.atMax != 1 {
			t.Fatalf("signed=%v: zeros %d atMin %d atMax %d, want %d 1 1", signed, h.zeros, h.atMin, h.atMax, zeros)
		}
	}
}

// TestObserveOnePassMatchesTwo: batch after batch, some widening the bins,
// some with NaN, ±Inf or signed zeros, the one-pass count leaves an
// observer exactly as the two passes (scan, then count) do.
func TestObserveOnePassMatchesTwo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	negZero := float32(math.Copysign(0, -1))
	for trial := range 40 {
		opts := Options{Signed: trial%2 == 0}
		one, err := NewMSE(opts)
		if err != nil {
			t.Fatal(err)
		}
		two, _ := NewMSE(opts)
		scale := 1.0
		for batch := range 12 {
			if batch%4 == 3 {
				scale *= 3 // widens the bins
			}
			data := make([]float32, 1+r.IntN(300))
			for i := range data {
				switch r.IntN(12) {
				case 0:
					data[i] = 0
				case 1:
					data[i] = negZero
				case 2:
					if trial%3 == 0 {
						data[i] = float32(math.NaN())
					}
				case 3:
					if trial%5 == 0 {
						data[i] = float32(math.Inf(1 - 2*r.IntN(2)))
					}
				default:
					data[i] = float32(r.NormFloat64() * scale)
					if !opts.Signed && trial%4 == 1 {
						data[i] = float32(math.Abs(float64(data[i])))
					}
				}
			}
			one.Observe(data)
			onePass = false
			two.Observe(data)
			onePass = true
			same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
			if !slices.Equal(one.counts, two.counts) || one.exp != two.exp || one.zeros != two.zeros ||
				!same(one.min, two.min) || !same(one.max, two.max) || one.atMin != two.atMin || one.atMax != two.atMax || one.stats != two.stats {
				t.Fatalf("trial %d batch %d: one pass gives exp %d zeros %d [%v %v] at %d/%d %+v; two passes exp %d zeros %d [%v %v] at %d/%d %+v",
					trial, batch, one.exp, one.zeros, one.min, one.max, one.atMin, one.atMax, one.stats,
					two.exp, two.zeros, two.min, two.max, two.atMin, two.atMax, two.stats)
			}
		}
	}
}
