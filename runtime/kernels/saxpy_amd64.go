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
