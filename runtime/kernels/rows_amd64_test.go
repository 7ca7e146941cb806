//go:build amd64 && !noasm

// This file adds the amd64 row kernels to the row tests.

package kernels

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
