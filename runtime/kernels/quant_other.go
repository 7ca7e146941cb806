//go:build !amd64 || noasm

// This file uses the portable quantization loops where no assembly runs.

package kernels

func quantizeBytes(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	quantizeBytesGo(dst, src, scale, lo, hi, zp)
}

func dequantizeBytes(dst []float32, src []byte, zp, scale float32, signed bool) {
	dequantizeBytesGo(dst, src, zp, scale, signed)
}
