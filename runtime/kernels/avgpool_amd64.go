//go:build amd64 && !noasm

// This file selects the AVX2 average-pooling row kernel when the CPU has
// AVX2.

package kernels

func avgPool3S2Rows(out, flags []byte, outStride int, src []byte, srcStride, rowStride, rows, n, count int, p *AvgParams) bool {
	if !requantAVX2 || n < 16 || rows > 85 {
		return false
	}
	avgPool3S2RowsAVX2(&out[0], outStride, &src[0], srcStride, rowStride, rows, n, count, p, &flags[0])
	return true
}

// avgPool3S2RowsAVX2 is avgPool3S2RowsGo for n ≥ 16 outputs a row, 16 a step
// (the last step overlaps the one before and writes the same bytes
// again): per row, the 32 bytes at 2j and at 2j+1 give the window's
// three columns as 16-bit lanes (even bytes of the first, odd and even
// bytes of the second), summed over the rows in 16 bits (at most 85
// rows: 85·3·255 < 2¹⁶), then widened, requantized in float32 (VMULPS,
// clamp, VCVTPS2DQ rounding half to even) and packed; the
// near-tie test (VROUNDPS, VSUBPS, VANDPS, VSUBPS, VCMPPS) is packed to
// flag bytes the same way:
//
//	for i := range count {
//		for j := range n {
//			var s int32
//			for r := range rows {
//				w := src[i*srcStride+r*rowStride+2*j:]
//				s += int32(w[0]^f) + int32(w[1]^f) + int32(w[2]^f)
//			}
//			y, near := p.Requant(s)
//			out[i*outStride+j], flags[i*outStride+j] = y, 0xFF if near else 0
//		}
//	}
//
//go:noescape
func avgPool3S2RowsAVX2(out *byte, outStride int, src *byte, srcStride, rowStride, rows, n, count int, p *AvgParams, flags *byte)
