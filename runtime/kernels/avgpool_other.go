//go:build !amd64 || noasm

package kernels

func avgPool3S2Rows(out, flags []byte, outStride int, src []byte, srcStride, rowStride, rows, n, count int, p *AvgParams) bool {
	return false
}
