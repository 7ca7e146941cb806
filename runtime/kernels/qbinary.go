// This file holds the integer Add and Mul of two 8-bit tensors: each
// operand dequantized, the float32 result quantized, in one pass.

package kernels

// QBinaryParams are the quantization parameters of QLinearBinary: the
// operands' zero points and scales, the result's scale and zero point and
// its bounds relative to the zero point (lo = qmin−zc, hi = qmax−zc).
type QBinaryParams struct {
	ZA, ZB      int32
	SA, SB, SC  float32
	Lo, Hi      float32
	ZC          int32
	Mul, Signed bool
}

// QLinearBinary sets, for i < len(dst), in float32 arithmetic,
//
//	fa = float32(a[i] − ZA)·SA,  fb = float32(b[i] − ZB)·SB
//	r  = fa + fb                 (fa·fb with Mul)
//	dst[i] = byte(int32(roundHalfEven(min(max(r/SC, Lo), Hi))) + ZC)
//
// which is DequantizeLinear of each, the Add (or Mul), and QuantizeLinear,
// as a QDQ model computes them; bytes are int8 with Signed. A one-element
// a or b is broadcast. SC must be positive and finite, Lo and Hi integers
// of magnitude at most 2^22.
func QLinearBinary(dst, a, b []byte, p QBinaryParams) {
	if (len(a) != len(dst) && len(a) != 1) || (len(b) != len(dst) && len(b) != 1) {
		panic("kernels: QLinearBinary operands do not match the destination")
	}
	if len(dst) == 0 {
		return
	}
	if len(a) == 1 || len(b) == 1 {
		qLinearBinaryGo(dst, a, b, p)
		return
	}
	qLinearBinary(dst, a, b, p)
}

func qLinearBinaryGo(dst, a, b []byte, p QBinaryParams) {
	at := func(x []byte, i int) int32 {
		if len(x) == 1 {
			i = 0
		}
		if p.Signed {
			return int32(int8(x[i]))
		}
		return int32(x[i])
	}
	for i := range dst {
		fa := float32(float32(at(a, i)-p.ZA) * p.SA)
		fb := float32(float32(at(b, i)-p.ZB) * p.SB)
		r := fa + fb
		if p.Mul {
			r = fa * fb
		}
		q := min(max(r/p.SC, p.Lo), p.Hi)
		q = float32(q+requantRoundMagic) - requantRoundMagic
		dst[i] = byte(int32(q) + p.ZC)
	}
}
