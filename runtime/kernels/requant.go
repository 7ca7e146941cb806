// This file holds the requantization of int32 sums to 8-bit values, the
// epilogue of the integer convolutions, and its portable loop.

package kernels

// Requantize sets, for i < len(dst),
//
//	f      = float32(src[i] + add) · scale   (int32 wrapping add, float32 product)
//	dst[i] = byte(int32(roundHalfEven(min(max(f, lo), hi))) + zp)
//
// which, with lo = qmin−zp and hi = qmax−zp, is the 8-bit value
// saturate(roundHalfEven(f) + zp) (rounding is monotone and the bounds
// are integers, so clamping before rounding gives the same integer), held
// as its byte (an int8 v as byte(v)). The caller guarantees a finite
// scale and integer lo ≤ hi of magnitude at most 2^22; then every path
// gives the same bits. len(src) must be at least len(dst).
func Requantize(dst []byte, src []int32, add int32, scale, lo, hi float32, zp int32) {
	if len(src) < len(dst) {
		panic("kernels: Requantize source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	requantize(dst, src[:len(dst)], add, scale, lo, hi, zp)
}

// requantRoundMagic is 1.5·2^23: for |f| ≤ 2^22, (f + it) − it in
// float32 is f rounded to the nearest integer, ties to even.
const requantRoundMagic = 0x1.8p23

func requantizeGo(dst []byte, src []int32, add int32, scale, lo, hi float32, zp int32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := float32(float32(v+add) * scale) // the conversion forbids fusing with the add below
		if f < lo {
			f = lo
		}
		if f > hi {
			f = hi
		}
		f = float32(f+requantRoundMagic) - requantRoundMagic
		dst[i] = byte(int32(f) + zp)
	}
}
