// hessround_internal_test.go checks the linear algebra under the Hessian
// rounding against its definition.
package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// invCholUpper's U is upper triangular with UᵀU·H = I.
func TestInvCholUpper(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	for _, d := range []int{1, 2, 3, 17, 40} {
		// H = AᵀA + I, symmetric positive definite.
		a := make([]float64, 2*d*d)
		for i := range a {
			a[i] = rng.NormFloat64()
		}
		h := make([]float64, d*d)
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				for k := 0; k < 2*d; k++ {
					h[i*d+j] += a[k*d+i] * a[k*d+j]
				}
			}
			h[i*d+i]++
		}
		orig := append([]float64(nil), h...)
		u := invCholUpper(h, d, 1)
		if u == nil {
			t.Fatalf("d=%d: no factor of a positive definite matrix", d)
		}
		worst := 0.0
		for i := 0; i < d; i++ {
			for j := 0; j < i; j++ {
				if u[i*d+j] != 0 {
					t.Fatalf("d=%d: U[%d,%d] = %g below the diagonal", d, i, j, u[i*d+j])
				}
			}
			for j := 0; j < d; j++ {
				// (UᵀU·H)[i,j]
				var s float64
				for k := 0; k < d; k++ {
					var uu float64
					for l := 0; l < d; l++ {
						uu += u[l*d+i] * u[l*d+k]
					}
					s += uu * orig[k*d+j]
				}
				if i == j {
					s--
				}
				worst = max(worst, math.Abs(s))
			}
		}
		if worst > 1e-9 {
			t.Errorf("d=%d: UᵀU·H differs from I by %g", d, worst)
		}
	}
	if invCholUpper([]float64{1, 2, 2, 1}, 2, 1) != nil {
		t.Error("an indefinite matrix was factored")
	}
}

// Spread over goroutines, the factor is the same to the bit.
func TestInvCholUpperThreads(t *testing.T) {
	saved := parallelWork
	parallelWork = 1
	defer func() { parallelWork = saved }()
	rng := rand.New(rand.NewPCG(4, 1))
	const d = 60
	h := make([]float64, d*d)
	for k := 0; k < 2*d; k++ {
		x := make([]float64, d)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				h[i*d+j] += x[i] * x[j]
			}
		}
	}
	one := invCholUpper(append([]float64(nil), h...), d, 1)
	four := invCholUpper(append([]float64(nil), h...), d, 4)
	if one == nil || four == nil {
		t.Fatal("no factor of a positive definite matrix")
	}
	for i := range one {
		if math.Float64bits(one[i]) != math.Float64bits(four[i]) {
			t.Fatalf("entry %d: %v with one goroutine, %v with four", i, one[i], four[i])
		}
	}
}
