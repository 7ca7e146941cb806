//go:build amd64 && !noasm

// This file selects the assembly Saxpy by CPU feature.

package kernels

var saxpyImpl = func() func(a float32, x, y []float32) {
	switch {
	case hasAVX512():
		return func(a float32, x, y []float32) { saxpyAVX512(a, &x[0], &y[0], len(y)) }
	case hasAVX2():
		return func(a float32, x, y []float32) { saxpyAVX2(a, &x[0], &y[0], len(y)) }
	}
	return saxpyGo
}()

func saxpy(a float32, x, y []float32) { saxpyImpl(a, x, y) }

// saxpyAVX512 computes, with n >= 1,
//
//	for i := 0; i < n; i++ {
//		y[i] = fma(a, x[i], y[i])
//	}
//
//go:noescape
func saxpyAVX512(a float32, x, y *float32, n int)

// saxpyAVX2 is saxpyAVX512 on YMM registers.
//
//go:noescape
func saxpyAVX2(a float32, x, y *float32, n int)

var sdotImpl = func() func(x, y []float32) float32 {
	switch {
	case hasAVX512():
		return func(x, y []float32) float32 { return sdotAVX512(&x[0], &y[0], len(x)) }
	case hasAVX2():
		return func(x, y []float32) float32 { return sdotAVX2(&x[0], &y[0], len(x)) }
	}
	return sdotGo
}()

func sdot(x, y []float32) float32 { return sdotImpl(x, y) }

// sdotAVX512 returns, with n >= 1, the sum of x[i]·y[i] kept in four
// accumulators of 16 lanes by fused multiply-add, in order of i: the
// 64-element steps send element i to lane i%16 of accumulator (i/16)%4,
// the following 16-element steps to accumulator 0, the masked last n%16
// elements to accumulator 1; then acc0+acc1, acc2+acc3, their sum, and
// the lanes halved pairwise (8, 4, 2, 1).
//
//go:noescape
func sdotAVX512(x, y *float32, n int) float32

// sdotAVX2 is sdotAVX512 with accumulators of 8 lanes (32-element steps,
// then 8-element steps to accumulator 0), the lanes halved pairwise, and
// the last n%8 elements added to the sum by scalar fused multiply-add.
//
//go:noescape
func sdotAVX2(x, y *float32, n int) float32
