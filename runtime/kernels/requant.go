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

// RequantizeSums is Requantize of int32(src[i]): src holds integer sums
// below 2^31 in magnitude computed in float32 (the exact depthwise path).
func RequantizeSums(dst []byte, src []float32, add int32, scale, lo, hi float32, zp int32) {
	if len(src) < len(dst) {
		panic("kernels: RequantizeSums source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	requantizeSums(dst, src[:len(dst)], add, scale, lo, hi, zp)
}

func requantizeSumsGo(dst []byte, src []float32, add int32, scale, lo, hi float32, zp int32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := float32(float32(int32(v)+add) * scale)
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

// WidenBytes sets dst[i] = float32(src[i]) − sub for i < len(dst), reading
// each byte as a uint8, or as an int8 when signed: 8-bit activations
// minus their zero point, for the float32 depthwise path (exact for an
// integer sub of magnitude below 2^24).
func WidenBytes(dst []float32, src []byte, sub float32, signed bool) {
	if len(src) < len(dst) {
		panic("kernels: WidenBytes source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	widenBytes(dst, src[:len(dst)], sub, signed)
}

func widenBytesGo(dst []float32, src []byte, sub float32, signed bool) {
	src = src[:len(dst)]
	if signed {
		for i, v := range src {
			dst[i] = float32(int8(v)) - sub
		}
		return
	}
	for i, v := range src {
		dst[i] = float32(v) - sub
	}
}

// ScaleSums sets dst[i] = float32(src[i] + add) · scale for i < len(dst)
// (int32 wrapping add, float32 product): int32 sums back to float32 with
// one rounding each. len(src) must be at least len(dst).
func ScaleSums(dst []float32, src []int32, add int32, scale float32) {
	if len(src) < len(dst) {
		panic("kernels: ScaleSums source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	scaleSums(dst, src[:len(dst)], add, scale)
}

func scaleSumsGo(dst []float32, src []int32, add int32, scale float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = float32(v+add) * scale
	}
}
