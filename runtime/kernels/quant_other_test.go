//go:build !amd64 || noasm

// This file has no extra quantization loops to test.

package kernels

func extraQuantizeImpls() map[string]func(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	return nil
}
