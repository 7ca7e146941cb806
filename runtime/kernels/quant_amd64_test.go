//go:build amd64 && !noasm

// This file adds the amd64 quantization loops to the tests, each on its
// own (the dispatcher hides the AVX2 loop behind the AVX-512 one).

package kernels

func extraQuantizeImpls() map[string]func(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	impls := map[string]func(dst []byte, src []float32, scale, lo, hi float32, zp int32){}
	if quantAVX512 {
		impls["avx512"] = func(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
			n := len(dst) &^ 15
			if n > 0 {
				quantizeBytesAVX512(&dst[0], &src[0], n, scale, lo, hi, zp)
			}
			quantizeBytesGo(dst[n:], src[n:], scale, lo, hi, zp)
		}
	}
	if requantAVX2 {
		impls["avx2"] = func(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
			n := len(dst) &^ 7
			if n > 0 {
				quantizeBytesAVX2(&dst[0], &src[0], n, scale, lo, hi, zp)
			}
			quantizeBytesGo(dst[n:], src[n:], scale, lo, hi, zp)
		}
	}
	return impls
}
