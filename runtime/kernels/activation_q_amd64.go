//go:build amd64 && !noasm

package kernels

func hardSwishRequantize(dst []byte, src []int32, add int32, scale, yScale, lo, hi float32, zp int32) {
	n := len(dst) &^ 15
	if requantAVX512 && n > 0 {
		hardSwishRequantizeAVX512(&dst[0], &src[0], n, add, scale, yScale, lo, hi, zp)
	} else {
		n = 0
	}
	hardSwishRequantizeGo(dst[n:], src[n:], add, scale, yScale, lo, hi, zp)
}

// hardSwishRequantizeAVX512 is hardSwishRequantizeGo on n elements, n a
// multiple of 16, sixteen at a time (true divisions, embedded
// round-to-nearest-even).
//
//go:noescape
func hardSwishRequantizeAVX512(dst *byte, src *int32, n int, add int32, scale, yScale, lo, hi float32, zp int32)
