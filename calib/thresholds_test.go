// The prefix-sum KL divergence against a direct evaluation of its
// definition.

package calib

import (
	"math"
	"math/rand/v2"
	"testing"
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
