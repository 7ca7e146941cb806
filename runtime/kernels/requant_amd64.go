//go:build amd64 && !noasm

// This file selects the AVX2 requantization loop when the CPU has it.

package kernels

import "golang.org/x/sys/cpu"

var (
	requantAVX2   = hasAVX2()
	requantAVX512 = cpu.X86.HasAVX512F
)

func requantize(dst []byte, src []int32, add int32, scale, lo, hi float32, zp int32) {
	if n := len(dst) &^ 15; requantAVX512 && n > 0 {
		requantizeAVX512(&dst[0], &src[0], n, add, scale, lo, hi, zp)
		requantizeGo(dst[n:], src[n:], add, scale, lo, hi, zp)
		return
	}
	n := len(dst) &^ 7
	if !requantAVX2 || n == 0 {
		requantizeGo(dst, src, add, scale, lo, hi, zp)
		return
	}
	requantizeAVX2(&dst[0], &src[0], n, add, scale, lo, hi, zp)
	requantizeGo(dst[n:], src[n:], add, scale, lo, hi, zp)
}

// requantizeAVX2 is requantizeGo on n elements, n a multiple of 8, eight
// at a time:
//
//	for i := range n {
//		f := float32(float32(src[i]+add) * scale)
//		f = min(max(f, lo), hi)
//		dst[i] = byte(int32(roundHalfEven(f)) + zp)
//	}
//
// (VROUNDPS with mode 0 rounds half to even; the clamped values are small
// integers plus fractions, so VCVTTPS2DQ of the rounded value is exact.)
//
//go:noescape
func requantizeAVX2(dst *byte, src *int32, n int, add int32, scale, lo, hi float32, zp int32)

// requantizeAVX512 is requantizeAVX2 sixteen at a time (n a multiple of
// 16): VCVTPS2DQ with round-to-nearest-even embedded rounding and a
// truncating VPMOVDB (the clamped values fit the byte).
//
//go:noescape
func requantizeAVX512(dst *byte, src *int32, n int, add int32, scale, lo, hi float32, zp int32)

func requantizeSums(dst []byte, src []float32, add int32, scale, lo, hi float32, zp int32) {
	n := len(dst) &^ 7
	if !requantAVX2 || n == 0 {
		requantizeSumsGo(dst, src, add, scale, lo, hi, zp)
		return
	}
	requantizeSumsAVX2(&dst[0], &src[0], n, add, scale, lo, hi, zp)
	requantizeSumsGo(dst[n:], src[n:], add, scale, lo, hi, zp)
}

// requantizeSumsAVX2 is requantizeAVX2 of int32(src[i]) (VCVTTPS2DQ,
// exact for the integers src holds).
//
//go:noescape
func requantizeSumsAVX2(dst *byte, src *float32, n int, add int32, scale, lo, hi float32, zp int32)

func widenBytes(dst []float32, src []byte, sub float32, signed bool) {
	n := len(dst) &^ 7
	if !requantAVX2 || n == 0 {
		widenBytesGo(dst, src, sub, signed)
		return
	}
	widenBytesAVX2(&dst[0], &src[0], n, sub, signed)
	widenBytesGo(dst[n:], src[n:], sub, signed)
}

// widenBytesAVX2 is widenBytesGo on n elements, n a multiple of 8:
//
//	for i := range n {
//		v := float32(src[i])            // or float32(int8(src[i])) when signed
//		dst[i] = v - sub
//	}
//
//go:noescape
func widenBytesAVX2(dst *float32, src *byte, n int, sub float32, signed bool)

// requantWidths names the vector loops Requantize can take on this CPU,
// for tests; useRequantWidth selects one until restore is called.
func requantWidths() []string {
	w := []string{"go"}
	if hasAVX2() {
		w = append(w, "avx2")
	}
	if cpu.X86.HasAVX512F {
		w = append(w, "avx512")
	}
	return w
}

func useRequantWidth(name string) (restore func()) {
	a2, a5 := requantAVX2, requantAVX512
	requantAVX2, requantAVX512 = name != "go", name == "avx512"
	return func() { requantAVX2, requantAVX512 = a2, a5 }
}

func scaleSums(dst []float32, src []int32, add int32, scale float32) {
	n := len(dst) &^ 15
	if !requantAVX512 || n == 0 {
		scaleSumsGo(dst, src, add, scale)
		return
	}
	scaleSumsAVX512(&dst[0], &src[0], n, add, scale)
	scaleSumsGo(dst[n:], src[n:], add, scale)
}

// scaleSumsAVX512 is scaleSumsGo on n elements, n a multiple of 16.
//
//go:noescape
func scaleSumsAVX512(dst *float32, src *int32, n int, add int32, scale float32)
