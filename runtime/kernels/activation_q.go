// This file holds the epilogue of integer convolutions with a fused
// float activation: int32 sums to the activation's 8-bit output.

package kernels

// HardSwishRequantize sets, for i < len(dst), in float32 arithmetic,
//
//	v = float32(src[i] + add) · scale          (the convolution's value)
//	h = v · min(max(v + 3, 0), 6) / 6          (hard-swish, as Add, Clip, Mul, Div)
//	dst[i] = byte(int32(roundHalfEven(min(max(h / yScale, lo), hi))) + zp)
//
// the QuantizeLinear of the hard-swish of the dequantized sum, with lo =
// qmin−zp and hi = qmax−zp (integers of magnitude at most 2^22); scale and
// yScale must be finite and yScale positive. len(src) must be at least
// len(dst).
func HardSwishRequantize(dst []byte, src []int32, add int32, scale, yScale, lo, hi float32, zp int32) {
	if len(src) < len(dst) {
		panic("kernels: HardSwishRequantize source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	hardSwishRequantize(dst, src[:len(dst)], add, scale, yScale, lo, hi, zp)
}

func hardSwishRequantizeGo(dst []byte, src []int32, add int32, scale, yScale, lo, hi float32, zp int32) {
	src = src[:len(dst)]
	for i, s := range src {
		v := float32(float32(s+add) * scale)
		t := min(max(v+3, 0), 6)
		h := float32(v*t) / 6
		q := min(max(h/yScale, lo), hi)
		q = float32(q+requantRoundMagic) - requantRoundMagic
		dst[i] = byte(int32(q) + zp)
	}
}
