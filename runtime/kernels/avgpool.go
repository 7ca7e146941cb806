// This file holds the row kernel of integer average pooling over 3-wide,
// stride-2 windows (FastestDet's 3×3 stride-2 AveragePool), with its
// portable loop.

package kernels

import "math"

// AvgParams are the requantization of an integer average pool's full
// windows: a window whose bytes (read as uint8, after XOR with Flip)
// sum to s gives
//
//	v = float32(s + Bias) · M     (float32)
//	y = round_half_even(min(Hi, max(Lo, v))) + Zy
//
// Lo and Hi are the output type's range minus Zy, so y is in range. The
// window is near a tie when 0.5 − |v − round_half_even(v)| ≤ Eps: there
// the float computation this stands for (a sum of rounded dequantized
// values) may round the other way, and the caller recomputes it.
type AvgParams struct {
	Bias   int32
	M      float32 // the multiplier, x_scale / (count · y_scale)
	Lo, Hi float32
	Zy     int32
	Flip   uint32 // 0x80808080 reads int8 bytes as x+128, else 0
	Signed uint32 // 1: y is int8, else uint8
	Eps    float32
}

// Requant is the output byte of a window sum s under p, and whether the
// window is near a tie.
func (p *AvgParams) Requant(s int32) (byte, bool) {
	v := float32(s+p.Bias) * p.M
	f := v - float32(math.RoundToEven(float64(v)))
	near := 0.5-float32(math.Abs(float64(f))) <= p.Eps
	v = min(p.Hi, max(p.Lo, v))
	return byte(int32(math.RoundToEven(float64(v))) + p.Zy), near
}

// AvgPool3S2Rows computes count output rows of n full 3-wide, stride-2
// windows: for i < count and j < n, with o = i·outStride + j,
//
//	out[o], near = p.Requant(Σ_{r<rows} Σ_{t<3} (src[i·srcStride + r·rowStride + 2j + t] ^ flip))
//	flags[o] = 0xFF if near, else 0
//
// (rows input rows rowStride bytes apart per output row, output rows
// srcStride bytes apart in src).
func AvgPool3S2Rows(out, flags []byte, outStride int, src []byte, srcStride, rowStride, rows, n, count int, p *AvgParams) {
	if n <= 0 || rows <= 0 || count <= 0 {
		return
	}
	if size := (count-1)*outStride + n; len(out) < size || len(flags) < size || len(src) < (count-1)*srcStride+(rows-1)*rowStride+2*n+1 {
		panic("kernels: AvgPool3S2Rows buffer is too short")
	}
	if avgPool3S2Rows(out, flags, outStride, src, srcStride, rowStride, rows, n, count, p) {
		return
	}
	avgPool3S2RowsGo(out, flags, outStride, src, srcStride, rowStride, rows, n, count, p)
}

func avgPool3S2RowsGo(out, flags []byte, outStride int, src []byte, srcStride, rowStride, rows, n, count int, p *AvgParams) {
	f := byte(p.Flip)
	for i := range count {
		o := out[i*outStride : i*outStride+n]
		fl := flags[i*outStride : i*outStride+n]
		for j := range o {
			var s int32
			for r := range rows {
				w := src[i*srcStride+r*rowStride+2*j:]
				s += int32(w[0]^f) + int32(w[1]^f) + int32(w[2]^f)
			}
			y, near := p.Requant(s)
			o[j], fl[j] = y, 0
			if near {
				fl[j] = 0xFF
			}
		}
	}
}
