// This file holds the integer Add and Mul of two 8-bit tensors: each
// operand dequantized, the float32 result quantized, in one pass.

package kernels

import "math"

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

// QLinearBinary sets dst[i] to the quantized sum (or product, with Mul)
// of the 8-bit codes a[i] and b[i] (int8 with Signed), in the float32
// arithmetic of ONNX Runtime's QLinearAdd and QLinearMul kernels on x86,
// so that onnxq and ONNX Runtime agree on every element:
//
//	Add: rA = SA/SC, rB = SB/SC, f = float32(ZC) − fma(rA, ZA, rB·ZB)
//	     t = fma(a, rA, fma(b, rB, f))
//	Mul: r = SA·SB/SC,  t = float32((a−ZA)·(b−ZB))·r + float32(ZC)
//	dst[i] = byte(roundHalfEven(min(max(t, ZC+Lo), ZC+Hi)))
//
// with fma a fused multiply-add of float32 values. This is DequantizeLinear
// of each, the Add (or Mul), and QuantizeLinear of the result, except
// where the exact value is a rounding tie: the zero point joins before the
// rounding here, after it in QuantizeLinear. A one-element a or b is
// broadcast, folded into f for Add as ONNX Runtime folds it. SC must be
// positive and finite, Lo and Hi integers of magnitude at most 2^22.
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

// fma32 is the float32 fused multiply-add x·y+z, rounded once: the
// float64 product of two float32 values is exact, and for the codes and
// scale ratios here the sum fits float64's 53 bits, so the float64 fma
// rounds only at the conversion.
func fma32(x, y, z float32) float32 { return float32(math.FMA(float64(x), float64(y), float64(z))) }

// addRatios are the scale ratios and the constant part of the Add.
func addRatios(p QBinaryParams) (rA, rB, fixed float32) {
	rA, rB = p.SA/p.SC, p.SB/p.SC
	fixed = float32(p.ZC) - fma32(rA, float32(p.ZA), float32(rB*float32(p.ZB)))
	return rA, rB, fixed
}

// mulRatio is the scale of the Mul's integer product.
func mulRatio(p QBinaryParams) float32 { return float32(p.SA*p.SB) / p.SC }

// quantizeT clamps t to the output range and rounds it half to even.
func quantizeT(t float32, p QBinaryParams) byte {
	zc := float32(p.ZC)
	t = min(max(t, zc+p.Lo), zc+p.Hi)
	return byte(int32(math.RoundToEven(float64(t))))
}

func qLinearBinaryGo(dst, a, b []byte, p QBinaryParams) {
	code := func(x []byte, i int) int32 {
		if len(x) == 1 {
			i = 0
		}
		if p.Signed {
			return int32(int8(x[i]))
		}
		return int32(x[i])
	}
	if p.Mul {
		r := mulRatio(p)
		for i := range dst {
			prod := float32((code(a, i) - p.ZA) * (code(b, i) - p.ZB))
			dst[i] = quantizeT(float32(prod*r)+float32(p.ZC), p)
		}
		return
	}
	rA, rB, fixed := addRatios(p)
	switch {
	case len(a) == 1 && len(b) != 1:
		f := fixed + float32(float32(code(a, 0))*rA)
		for i := range dst {
			dst[i] = quantizeT(fma32(float32(code(b, i)), rB, f), p)
		}
	case len(b) == 1 && len(a) != 1:
		f := fixed + float32(float32(code(b, 0))*rB)
		for i := range dst {
			dst[i] = quantizeT(fma32(float32(code(a, i)), rA, f), p)
		}
	default:
		for i := range dst {
			t := fma32(float32(code(b, i)), rB, fixed)
			dst[i] = quantizeT(fma32(float32(code(a, i)), rA, t), p)
		}
	}
}
