//go:build !amd64 || noasm

// This file uses the portable requantization loop where no assembly runs.

package kernels

func requantize(dst []byte, src []int32, add int32, scale, lo, hi float32, zp int32) {
	requantizeGo(dst, src, add, scale, lo, hi, zp)
}

func requantizeSums(dst []byte, src []float32, add int32, scale, lo, hi float32, zp int32) {
	requantizeSumsGo(dst, src, add, scale, lo, hi, zp)
}

func widenBytes(dst []float32, src []byte, sub float32, signed bool) {
	widenBytesGo(dst, src, sub, signed)
}

func requantWidths() []string { return []string{"go"} }

func useRequantWidth(string) (restore func()) { return func() {} }

func scaleSums(dst []float32, src []int32, add int32, scale float32) {
	scaleSumsGo(dst, src, add, scale)
}
