// This file holds the QuantizeLinear and DequantizeLinear loops of 8-bit
// integers with one scale and zero point, and their portable versions.

package kernels

// QuantizeBytes sets, for i < len(dst),
//
//	f      = src[i] / scale                  (a float32 division)
//	f      = lo when f is NaN
//	dst[i] = byte(int32(roundHalfEven(min(max(f, lo), hi))) + zp)
//
// which, with lo = qmin−zp and hi = qmax−zp, is ONNX QuantizeLinear's
// saturate(roundHalfEven(x/scale) + zp) to an 8-bit type (clamping before
// rounding gives the same integer: the bounds are integers and rounding is
// monotone), held as its byte (an int8 v as byte(v)); NaN becomes qmin,
// as in ONNX Runtime. The caller guarantees integer bounds lo ≤ 0 ≤ hi of magnitude at
// most 2^22; then every path gives the same bits. len(src) must be at
// least len(dst).
func QuantizeBytes(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	if len(src) < len(dst) {
		panic("kernels: QuantizeBytes source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	quantizeBytes(dst, src[:len(dst)], scale, lo, hi, zp)
}

func quantizeBytesGo(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := v / scale
		if f != f {
			f = lo // NaN: the type's minimum, as ONNX Runtime gives
		}
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

// DequantizeBytes sets dst[i] = (float32(src[i]) − zp) · scale for
// i < len(dst), reading each byte as a uint8, or as an int8 when signed:
// ONNX DequantizeLinear of 8-bit integers (the difference is exact for an
// integer zp of magnitude below 2^24, so the product is the one rounding).
func DequantizeBytes(dst []float32, src []byte, zp, scale float32, signed bool) {
	if len(src) < len(dst) {
		panic("kernels: DequantizeBytes source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	dequantizeBytes(dst, src[:len(dst)], zp, scale, signed)
}

func dequantizeBytesGo(dst []float32, src []byte, zp, scale float32, signed bool) {
	src = src[:len(dst)]
	if signed {
		for i, v := range src {
			dst[i] = (float32(int8(v)) - zp) * scale
		}
		return
	}
	for i, v := range src {
		dst[i] = (float32(v) - zp) * scale
	}
}
