//go:build !amd64 || noasm

package kernels

func hardSwishRequantize(dst []byte, src []int32, add int32, scale, yScale, lo, hi float32, zp int32) {
	hardSwishRequantizeGo(dst, src, add, scale, yScale, lo, hi, zp)
}
