//go:build amd64 && !noasm

// This file selects the amd64 INT8 assembly microkernels by CPU feature.

package kernels

import "golang.org/x/sys/cpu"

var (
	vnniIgemmKernel = igemmKernel{name: "vnni", mr: 8, nr: 32, fn: func(kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool) {
		_ = a[7*lda+4*kg-1]
		_ = b[32*4*kg-1]
		_ = c[7*ldc+31]
		_ = init[31]
		igemmKernel8x32VNNI(kg, &a[0], lda, &b[0], &init[0], &c[0], ldc, add, flip)
	}}
	vnni16IgemmKernel = igemmKernel{name: "vnni16", mr: 16, nr: 16, fn: func(kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool) {
		_ = a[15*lda+4*kg-1]
		_ = b[16*4*kg-1]
		_ = c[15*ldc+15]
		_ = init[15]
		igemmKernel16x16VNNI(kg, &a[0], lda, &b[0], &init[0], &c[0], ldc, add, flip)
	}}
	avx2IgemmKernel = igemmKernel{name: "avx2", mr: 6, nr: 8, fn: func(kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool) {
		_ = a[5*lda+4*kg-1]
		_ = b[8*4*kg-1]
		_ = c[5*ldc+7]
		_ = init[7]
		igemmKernel6x8AVX2(kg, &a[0], lda, &b[0], &init[0], &c[0], ldc, add, flip)
	}}
)

func hasVNNI() bool    { return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI }
func hasAVX2Int() bool { return cpu.X86.HasAVX2 }

// igemmKernels lists the INT8 microkernels this CPU can run, fastest first.
func igemmKernels() []igemmKernel {
	var ks []igemmKernel
	if hasVNNI() {
		ks = append(ks, vnniIgemmKernel, vnni16IgemmKernel)
	}
	if hasAVX2Int() {
		ks = append(ks, avx2IgemmKernel)
	}
	return append(ks, goIgemmKernel)
}

func bestIgemmKernel() igemmKernel { return igemmKernels()[0] }

// narrowIgemmKernel is the microkernel for a B of at most 16 columns when
// kern is selected: half of an 8×32 tile would be padding.
func narrowIgemmKernel(kern igemmKernel) igemmKernel {
	if kern.name == "vnni" {
		return vnni16IgemmKernel
	}
	return kern
}

// igemmKernel8x32VNNI computes one 8×32 tile of C (row stride ldc) from 8
// rows of A (uint8, row stride lda, 4·kg bytes each) and a packed B panel b
// (kg groups of 32 columns × 4 int8) with VPDPBUSD, every row starting from
// init (32 int32). With flip, the bytes of A are read as a^0x80 (int8 A
// plus 128). It equals this loop, with x = 0x80 if flip and 0 otherwise,
// every sum wrapping around modulo 2³²:
//
//	for i := 0; i < 8; i++ {
//		for j := 0; j < 32; j++ {
//			s := init[j]
//			for p := 0; p < 4*kg; p++ {
//				s += int32(a[i*lda+p]^x) * int32(b[((p/4)*32+j)*4+p%4])
//			}
//			if add {
//				s += c[i*ldc+j]
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
// kg must be at least 1.
//
//go:noescape
func igemmKernel8x32VNNI(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)

// igemmKernel16x16VNNI is igemmKernel8x32VNNI for a 16×16 tile: 16 rows of
// A, a packed B panel of kg groups of 16 columns × 4 int8, init of 16
// int32:
//
//	for i := 0; i < 16; i++ {
//		for j := 0; j < 16; j++ {
//			s := init[j]
//			for p := 0; p < 4*kg; p++ {
//				s += int32(a[i*lda+p]^x) * int32(b[((p/4)*16+j)*4+p%4])
//			}
//			if add {
//				s += c[i*ldc+j]
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
//go:noescape
func igemmKernel16x16VNNI(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)

// igemmKernel6x8AVX2 computes one 6×8 tile of C from 6 rows of A (uint8,
// row stride lda) and a packed B panel b (kg groups of 8 columns × 4 int8).
// A and B are widened to int16 (VPMOVZXBW, VPMOVSXBW) and pairs of products
// are summed into int32 (VPMADDWD), so no step saturates; every row starts
// from init (8 int32); with flip, the bytes of A are read as a^0x80. It
// equals this loop, with x = 0x80 if flip and 0 otherwise, every sum
// wrapping around modulo 2³²:
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 8; j++ {
//			s := init[j]
//			for p := 0; p < 4*kg; p++ {
//				s += int32(a[i*lda+p]^x) * int32(b[((p/4)*8+j)*4+p%4])
//			}
//			if add {
//				s += c[i*ldc+j]
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
// kg must be at least 1.
//
//go:noescape
func igemmKernel6x8AVX2(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)

// sumBytes32 is Σ p[i]^x with x the low byte of flip (0 or 0x80 in every
// byte); len(p) is a multiple of 32.
func sumBytes32(p []byte, flip uint64) uint64 {
	if !hasAVX2Int() || len(p) == 0 {
		return sumBytesGo(p, flip)
	}
	return sumBytesAVX2(&p[0], len(p), flip)
}

// sumBytesAVX2 sums n bytes (n a positive multiple of 32) at p, each xored
// with the low byte of flip, with VPSADBW against zero. It equals this loop:
//
//	var s uint64
//	for i := 0; i < n; i++ {
//		s += uint64(p[i] ^ byte(flip))
//	}
//	return s
//
//go:noescape
func sumBytesAVX2(p *byte, n int, flip uint64) uint64
