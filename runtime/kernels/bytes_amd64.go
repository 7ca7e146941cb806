//go:build amd64 && !noasm

// This file selects the AVX2 byte row loops when the CPU has them.

package kernels

import "golang.org/x/sys/cpu"

func maxBytes(dst, a, b []byte, signed bool) {
	if !requantAVX2 || len(dst) < 16 {
		maxBytesGo(dst, a, b, signed)
		return
	}
	maxBytesAVX2(&dst[0], &a[0], &b[0], len(dst), signed)
}

// maxBytesAVX2 is maxBytesGo on n ≥ 16 bytes (VPMAXUB, or VPMAXSB when
// signed; the last block overlaps the one before, which max tolerates
// even in place):
//
//	for i := range n {
//		dst[i] = max(a[i], b[i])     // as int8 when signed
//	}
//
//go:noescape
func maxBytesAVX2(dst, a, b *byte, n int, signed bool)

func deinterleaveBytes(even, odd, src []byte) {
	n := len(odd)
	if !requantAVX2 || n < 32 {
		deinterleaveBytesGo(even, odd, src)
		return
	}
	deinterleaveBytesAVX2(&even[0], &odd[0], &src[0], n)
	if len(even) > n {
		even[n] = src[2*n]
	}
}

// deinterleaveBytesAVX2 is deinterleaveBytesGo on 2n bytes, n ≥ 32, 32
// pairs a step (the last step overlaps the one before):
//
//	for i := range n {
//		even[i], odd[i] = src[2*i], src[2*i+1]
//	}
//
//go:noescape
func deinterleaveBytesAVX2(even, odd, src *byte, n int)

func interleaveBytes(dst, even, odd []byte) {
	n := len(odd)
	if !requantAVX2 || n < 32 {
		interleaveBytesGo(dst, even, odd)
		return
	}
	interleaveBytesAVX2(&dst[0], &even[0], &odd[0], n)
	if len(even) > n {
		dst[2*n] = even[n]
	}
}

// interleaveBytesAVX2 is interleaveBytesGo on 2n bytes, n ≥ 32, 32 pairs
// a step (the last step overlaps the one before):
//
//	for i := range n {
//		dst[2*i], dst[2*i+1] = even[i], odd[i]
//	}
//
//go:noescape
func interleaveBytesAVX2(dst, even, odd *byte, n int)

// copyRows copies rows of 16 or more bytes with AVX2 and reports whether
// it did.
func copyRows(dst []byte, dstStride int, src []byte, srcStride int, rows, n int, x byte) bool {
	if !requantAVX2 || n < 16 {
		return false
	}
	copyRowsAVX2(&dst[0], dstStride, &src[0], srcStride, rows, n, x)
	return true
}

// copyRowsAVX2 is CopyRows' loop for n ≥ 16: 32-byte blocks, then one
// last block (32 or 16 bytes) ending at the row's last byte, overlapping
// bytes already written with the same values.
//
//go:noescape
func copyRowsAVX2(dst *byte, dstStride int, src *byte, srcStride int, rows, n int, x byte)

// maxPool2x2 pools the plane with AVX-512 and reports whether it did.
func maxPool2x2(out, in []byte, iw, rows, n int, signed bool) bool {
	if !cpu.X86.HasAVX512BW {
		return false
	}
	// The last block of a row reads and writes under masks.
	rem := n % 32
	tail := uint64(1)<<(2*rem) - 1
	maxPool2x2AVX512(&out[0], &in[0], iw, rows, n/32, tail, signed)
	return true
}

// maxPool2x2AVX512 pools rows rows of blocks blocks of 32 outputs, then,
// when tail (the byte mask of the last block's input, two bits per
// output) is not 0, one masked block: the byte maximum of the two rows'
// 64 bytes, then of each byte pair (a word shifted right by 8 against
// itself), narrowed to the low bytes.
//
//go:noescape
func maxPool2x2AVX512(out, in *byte, iw, rows, blocks int, tail uint64, signed bool)

// maxPool3x3S2Row computes one output row with AVX-512 and reports
// whether it did.
func maxPool3x3S2Row(out, a, b, c, buf []byte, signed bool) bool {
	if !cpu.X86.HasAVX512BW {
		return false
	}
	iw, ow := len(a), len(out)
	// The column maxima into buf[1:], 64 bytes a step, the last step
	// under a mask.
	colTail := uint64(1)<<(iw%64) - 1
	maxRows3AVX512(&buf[1], &a[0], &b[0], &c[0], iw/64, colTail, signed)
	buf[0], buf[1+iw] = buf[1], buf[iw]
	outTail := uint32(1)<<(ow%32) - 1
	maxPairs3AVX512(&out[0], &buf[0], ow/32, outTail, signed)
	return true
}

// maxRows3AVX512 sets dst[x] = max(a[x], b[x], c[x]) for blocks blocks of
// 64 bytes, then for the bytes of the next block set in tail.
//
//go:noescape
func maxRows3AVX512(dst, a, b, c *byte, blocks int, tail uint64, signed bool)

// maxPairs3AVX512 sets out[o] = max(buf[2o], buf[2o+1], buf[2o+2]) for
// blocks blocks of 32 outputs, then for the outputs of the next block set
// in tail: the maxima of the byte pairs at offsets 0 and 1 (words shifted
// right by 8 against themselves), narrowed to their low bytes.
//
//go:noescape
func maxPairs3AVX512(out, buf *byte, blocks int, tail uint32, signed bool)
