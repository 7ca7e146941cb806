//go:build amd64 && !noasm

// This file selects the AVX-512 and AVX2 quantization loops when the CPU
// has them.

package kernels

import "golang.org/x/sys/cpu"

var quantAVX512 = hasAVX512() && cpu.X86.HasAVX512BW

func quantizeBytes(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	if quantAVX512 && len(dst) >= 16 {
		n := len(dst) &^ 15
		quantizeBytesAVX512(&dst[0], &src[0], n, scale, lo, hi, zp)
		dst, src = dst[n:], src[n:]
	}
	n := len(dst) &^ 7
	if !requantAVX2 || n == 0 {
		quantizeBytesGo(dst, src, scale, lo, hi, zp)
		return
	}
	quantizeBytesAVX2(&dst[0], &src[0], n, scale, lo, hi, zp)
	quantizeBytesGo(dst[n:], src[n:], scale, lo, hi, zp)
}

// quantizeBytesAVX512 is quantizeBytesAVX2 sixteen lanes wide, n a
// multiple of 16 (VRNDSCALEPS with mode 0 rounds half to even; VPMOVDB
// keeps the low byte of each int32, the value's byte).
//
//go:noescape
func quantizeBytesAVX512(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)

// quantizeBytesAVX2 is quantizeBytesGo on n elements, n a multiple of 8,
// 32 then 8 at a time:
//
//	for i := range n {
//		f := src[i] / scale          // VDIVPS
//		if f != f { f = lo }         // VMAXPS gives lo for NaN
//		f = min(max(f, lo), hi)      // VMAXPS, VMINPS
//		dst[i] = byte(int32(roundHalfEven(f)) + zp)
//	}
//
// (VROUNDPS with mode 0 rounds half to even, the same integer as the Go
// loop's 1.5·2^23 addition; VCVTTPS2DQ of it is exact.)
//
//go:noescape
func quantizeBytesAVX2(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)

func dequantizeBytes(dst []float32, src []byte, zp, scale float32, signed bool) {
	n := len(dst) &^ 7
	if !requantAVX2 || n == 0 {
		dequantizeBytesGo(dst, src, zp, scale, signed)
		return
	}
	dequantizeBytesAVX2(&dst[0], &src[0], n, zp, scale, signed)
	dequantizeBytesGo(dst[n:], src[n:], zp, scale, signed)
}

// dequantizeBytesAVX2 is dequantizeBytesGo on n elements, n a multiple of
// 8, 32 then 8 at a time:
//
//	for i := range n {
//		v := float32(src[i])          // or float32(int8(src[i])) when signed
//		dst[i] = (v - zp) * scale     // VSUBPS, VMULPS
//	}
//
//go:noescape
func dequantizeBytesAVX2(dst *float32, src *byte, n int, zp, scale float32, signed bool)
