//go:build !amd64 || noasm

package kernels

func depthwiseRow(dst []int32, src []byte, taps *DWTaps, stride int) {
	depthwiseRowGo(dst, src, taps.Quads, stride)
}

func depthwiseRowsQ(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant, hs bool, yScale float32) bool {
	return false
}
