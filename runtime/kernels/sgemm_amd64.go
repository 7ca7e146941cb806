//go:build amd64 && !noasm

// This file selects the amd64 assembly microkernels by CPU feature.

package kernels

import "golang.org/x/sys/cpu"

var (
	avx512Kernel = sgemmKernel{name: "avx512", mr: 8, nr: 32, fn: func(k int, a, b, c []float32, ldc int, add bool) {
		sgemmKernel8x32AVX512(k, &a[0], &b[0], &c[0], ldc, add)
	}}
	avx2Kernel = sgemmKernel{name: "avx2", mr: 6, nr: 16, fn: func(k int, a, b, c []float32, ldc int, add bool) {
		sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, add)
	}}
)

func hasAVX512() bool { return cpu.X86.HasAVX512F }
func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// kernels lists the microkernels this CPU can run, fastest first.
func kernels() []sgemmKernel {
	var ks []sgemmKernel
	if hasAVX512() {
		ks = append(ks, avx512Kernel)
	}
	if hasAVX2() {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel)
}

func bestKernel() sgemmKernel { return kernels()[0] }

// sgemmKernel8x32AVX512 computes one 8×32 tile of C (row stride ldc) from
// a packed A panel a (k steps of 8 values) and a packed B panel b (k steps
// of 32 values). It equals this loop, with each step a fused multiply-add:
//
//	for i := 0; i < 8; i++ {
//		for j := 0; j < 32; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s = fma(a[p*8+i], b[p*32+j], s)
//			}
//			if add {
//				s = c[i*ldc+j] + s
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
// k must be at least 1.
//
//go:noescape
func sgemmKernel8x32AVX512(k int, a, b, c *float32, ldc int, add bool)

// sgemmKernel6x16AVX2 is the same for a 6×16 tile (a holds k steps of 6
// values, b k steps of 16):
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s = fma(a[p*6+i], b[p*16+j], s)
//			}
//			if add {
//				s = c[i*ldc+j] + s
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, add bool)
