//go:build !amd64 || noasm

// This file uses the portable row kernels where no assembly runs.

package kernels

func convRows(dst []float32, bias float32, src []float32, off []int, w []float32) {
	convRowsGo(dst, bias, src, off, w)
}

func maxRows(dst []float32, src []float32, off []int) { maxRowsGo(dst, src, off) }

func deinterleave(even, odd, src []float32) { deinterleaveGo(even, odd, src) }

func convRows4(dst []float32, ldd, n int, bias []float32, src []float32, off []int, w []float32) {
	convRows4Split(dst, ldd, n, bias, src, off, w)
}

func interleave(dst, even, odd []float32) { interleaveGo(dst, even, odd) }
