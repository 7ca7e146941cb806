//go:build amd64 && !noasm

// This file selects the assembly row kernels by CPU feature.

package kernels

var (
	rowsAVX512 = hasAVX512()
	rowsAVX2   = hasAVX2()
)

func convRows(dst []float32, bias float32, src []float32, off []int, w []float32) {
	switch {
	case rowsAVX512:
		convRowsAVX512(&dst[0], len(dst), bias, &src[0], &off[0], &w[0], len(off))
	case rowsAVX2:
		convRowsAVX2(&dst[0], len(dst), bias, &src[0], &off[0], &w[0], len(off))
	default:
		convRowsGo(dst, bias, src, off, w)
	}
}

func convRows4(dst []float32, ldd, n int, bias []float32, src []float32, off []int, w []float32) {
	if rowsAVX512 {
		convRows4AVX512(&dst[0], ldd, n, &bias[0], &src[0], &off[0], &w[0], len(off))
		return
	}
	convRows4Split(dst, ldd, n, bias, src, off, w)
}

func maxRows(dst []float32, src []float32, off []int) {
	switch {
	case rowsAVX512:
		maxRowsAVX512(&dst[0], len(dst), &src[0], &off[0], len(off))
	case rowsAVX2:
		maxRowsAVX2(&dst[0], len(dst), &src[0], &off[0], len(off))
	default:
		maxRowsGo(dst, src, off)
	}
}

func deinterleave(even, odd, src []float32) {
	if rowsAVX512 && len(odd) >= 16 {
		n := len(odd) &^ 15
		deinterleaveAVX512(&even[0], &odd[0], &src[0], n)
		deinterleaveGo(even[n:], odd[n:], src[2*n:])
		return
	}
	deinterleaveGo(even, odd, src)
}

func interleave(dst, even, odd []float32) {
	if rowsAVX512 && len(odd) >= 16 {
		n := len(odd) &^ 15
		interleaveAVX512(&dst[0], &even[0], &odd[0], n)
		interleaveGo(dst[2*n:], even[n:], odd[n:])
		return
	}
	interleaveGo(dst, even, odd)
}

// interleaveAVX512 computes, with n a positive multiple of 16,
//
//	for i := 0; i < n; i++ {
//		dst[2*i] = even[i]
//		dst[2*i+1] = odd[i]
//	}
//
//go:noescape
func interleaveAVX512(dst, even, odd *float32, n int)

// convRowsAVX512 computes, with n >= 1 and taps >= 1 (element offsets),
//
//	for i := 0; i < n; i++ {
//		acc := bias
//		for t := 0; t < taps; t++ {
//			acc = fma(w[t], src[off[t]+i], acc)
//		}
//		dst[i] = acc
//	}
//
// The last n%16 elements use masked loads and stores.
//
//go:noescape
func convRowsAVX512(dst *float32, n int, bias float32, src *float32, off *int, w *float32, taps int)

// convRowsAVX2 is convRowsAVX512 on YMM registers, with a scalar
// fused multiply-add loop for the last n%8 elements.
//
//go:noescape
func convRowsAVX2(dst *float32, n int, bias float32, src *float32, off *int, w *float32, taps int)

// convRows4AVX512 computes, with n >= 1 and taps >= 1,
//
//	for j := 0; j < 4; j++ {
//		for i := 0; i < n; i++ {
//			acc := bias[j]
//			for t := 0; t < taps; t++ {
//				acc = fma(w[4*t+j], src[off[t]+i], acc)
//			}
//			dst[j*ldd+i] = acc
//		}
//	}
//
//go:noescape
func convRows4AVX512(dst *float32, ldd, n int, bias, src *float32, off *int, w *float32, taps int)

// maxRowsAVX512 computes, with n >= 1 and taps >= 1,
//
//	for i := 0; i < n; i++ {
//		m := src[off[0]+i]
//		for t := 1; t < taps; t++ {
//			if v := src[off[t]+i]; !(m > v) {
//				m = v
//			}
//		}
//		dst[i] = m
//	}
//
//go:noescape
func maxRowsAVX512(dst *float32, n int, src *float32, off *int, taps int)

// maxRowsAVX2 is maxRowsAVX512 on YMM registers with a scalar tail.
//
//go:noescape
func maxRowsAVX2(dst *float32, n int, src *float32, off *int, taps int)

// deinterleaveAVX512 computes, with n a positive multiple of 16,
//
//	for i := 0; i < n; i++ {
//		even[i] = src[2*i]
//		odd[i] = src[2*i+1]
//	}
//
//go:noescape
func deinterleaveAVX512(even, odd, src *float32, n int)
