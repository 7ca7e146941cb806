//go:build amd64 && !noasm

// This file adds the amd64 row and dot kernels to the tests.

package kernels

import "testing"

func extraRowImpls() []rowImpl {
	var impls []rowImpl
	if hasAVX512() {
		impls = append(impls, rowImpl{name: "avx512", fused: true,
			conv: func(dst []float32, bias float32, src []float32, off []int, w []float32) {
				convRowsAVX512(&dst[0], len(dst), bias, &src[0], &off[0], &w[0], len(off))
			},
			max: func(dst []float32, src []float32, off []int) {
				maxRowsAVX512(&dst[0], len(dst), &src[0], &off[0], len(off))
			}})
	}
	if hasAVX2() {
		impls = append(impls, rowImpl{name: "avx2", fused: true,
			conv: func(dst []float32, bias float32, src []float32, off []int, w []float32) {
				convRowsAVX2(&dst[0], len(dst), bias, &src[0], &off[0], &w[0], len(off))
			},
			max: func(dst []float32, src []float32, off []int) {
				maxRowsAVX2(&dst[0], len(dst), &src[0], &off[0], len(off))
			}})
	}
	return impls
}

// TestSdotAVX2 checks the AVX2 dot product, which the AVX-512 one hides
// on CPUs that have both.
func TestSdotAVX2(t *testing.T) {
	if !hasAVX2() {
		t.Skip("no AVX2")
	}
	for n := 1; n < 300; n++ {
		x := make([]float32, n)
		y := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = float32(i%7) - 3
			y[i] = float32(i%5)*0.5 - 1
			want += float64(x[i]) * float64(y[i])
		}
		if got := sdotAVX2(&x[0], &y[0], n); float64(got) != want {
			t.Fatalf("n=%d: %v, want %v", n, got, want)
		}
	}
}
