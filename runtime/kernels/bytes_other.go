//go:build !amd64 || noasm

// This file uses the portable byte row loops where no assembly runs.

package kernels

func maxBytes(dst, a, b []byte, signed bool)  { maxBytesGo(dst, a, b, signed) }
func deinterleaveBytes(even, odd, src []byte) { deinterleaveBytesGo(even, odd, src) }
func interleaveBytes(dst, even, odd []byte)   { interleaveBytesGo(dst, even, odd) }

func copyRows(dst []byte, dstStride int, src []byte, srcStride int, rows, n int, x byte) bool {
	return false
}

func maxPool2x2(out, in []byte, iw, rows, n int, signed bool) bool { return false }

func maxPool3x3S2Row(out, a, b, c, buf []byte, signed bool) bool { return false }
