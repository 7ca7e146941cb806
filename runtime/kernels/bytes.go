// This file holds the 8-bit row kernels of integer max pooling: the
// elementwise maximum of two byte rows (as uint8 or int8) and the split
// of a byte row into its even and odd elements, with their portable loops.

package kernels

import "fmt"

// MaxBytes sets dst[i] = max(a[i], b[i]) for i < len(dst), comparing the
// bytes as uint8, or as int8 when signed. dst may be a or b, but must not
// overlap them otherwise; a and b must be at least as long as dst.
func MaxBytes(dst, a, b []byte, signed bool) {
	if len(a) < len(dst) || len(b) < len(dst) {
		panic("kernels: MaxBytes source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	maxBytes(dst, a[:len(dst)], b[:len(dst)], signed)
}

func maxBytesGo(dst, a, b []byte, signed bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	if signed {
		for i := range dst {
			dst[i] = byte(max(int8(a[i]), int8(b[i])))
		}
		return
	}
	for i := range dst {
		dst[i] = max(a[i], b[i])
	}
}

// DeinterleaveBytes sets even[i] = src[2i] and odd[i] = src[2i+1]; even
// holds (len(src)+1)/2 bytes and odd len(src)/2.
func DeinterleaveBytes(even, odd, src []byte) {
	if len(even) != (len(src)+1)/2 || len(odd) != len(src)/2 {
		panic("kernels: DeinterleaveBytes lengths do not match")
	}
	deinterleaveBytes(even, odd, src)
}

func deinterleaveBytesGo(even, odd, src []byte) { deinterleaveAny(even, odd, src) }

// InterleaveBytes sets dst[2i] = even[i] and dst[2i+1] = odd[i]; even
// holds (len(dst)+1)/2 bytes and odd len(dst)/2.
func InterleaveBytes(dst, even, odd []byte) {
	if len(even) != (len(dst)+1)/2 || len(odd) != len(dst)/2 {
		panic("kernels: InterleaveBytes lengths do not match")
	}
	interleaveBytes(dst, even, odd)
}

func interleaveBytesGo(dst, even, odd []byte) { interleaveAny(dst, even, odd) }

// CopyRows copies rows rows of n bytes, row r from src[r·srcStride:] to
// dst[r·dstStride:], each byte xored with 0x80 when flip is set (int8
// values read as uint8 plus 128): one call for a whole plane instead of a
// copy per row.
func CopyRows(dst []byte, dstStride int, src []byte, srcStride int, rows, n int, flip bool) {
	if rows <= 0 || n <= 0 {
		return
	}
	if n > dstStride || n > srcStride || len(dst) < (rows-1)*dstStride+n || len(src) < (rows-1)*srcStride+n {
		panic(fmt.Sprintf("kernels: CopyRows of %d rows of %d bytes (strides %d, %d) between %d and %d bytes", rows, n, dstStride, srcStride, len(dst), len(src)))
	}
	var x byte
	if flip {
		x = 0x80
	}
	if copyRows(dst, dstStride, src, srcStride, rows, n, x) {
		return
	}
	for r := range rows {
		d := dst[r*dstStride:][:n]
		copy(d, src[r*srcStride:][:n])
		if x != 0 {
			for i := range d {
				d[i] ^= x
			}
		}
	}
}

// MaxPool2x2 sets out[r·n + o] = the maximum of in[2r·iw + 2o + {0, 1}]
// and in[(2r+1)·iw + 2o + {0, 1}] for r < rows and o < n, comparing bytes
// as uint8, or as int8 when signed: a plane's 2×2, stride-2 max pooling
// (iw ≥ 2n).
func MaxPool2x2(out, in []byte, iw, rows, n int, signed bool) {
	if rows <= 0 || n <= 0 {
		return
	}
	if iw < 2*n || len(out) < rows*n || len(in) < (2*rows-1)*iw+2*n {
		panic("kernels: MaxPool2x2 planes are too small")
	}
	if maxPool2x2(out, in, iw, rows, n, signed) {
		return
	}
	for r := range rows {
		r0, r1, dst := in[2*r*iw:][:2*n], in[(2*r+1)*iw:][:2*n], out[r*n:][:n]
		for o := range dst {
			a, b, c, d := r0[2*o], r0[2*o+1], r1[2*o], r1[2*o+1]
			if signed {
				dst[o] = byte(max(int8(a), int8(b), int8(c), int8(d)))
			} else {
				dst[o] = max(a, b, c, d)
			}
		}
	}
}

// MaxPool3x3S2 max-pools one plane (ih×iw bytes, uint8 or int8 with
// signed) with a 3×3 window, stride 2 and one row and column of padding
// on each side into out (oh×ow): out[oy, ox] is the largest input in rows
// 2oy−1…2oy+1 and columns 2ox−1…2ox+1 that exist (padding never wins).
// oh must be at most (ih+1)/2+... as the pooling defines: every window
// holds at least one input. buf is scratch of at least iw+66 bytes.
func MaxPool3x3S2(out, in []byte, ih, iw, oh, ow int, signed bool, buf []byte) {
	if oh <= 0 || ow <= 0 {
		return
	}
	if len(in) < ih*iw || len(out) < oh*ow || len(buf) < iw+66 || 2*(oh-1)-1 >= ih || 2*(ow-1)-1 >= iw {
		panic("kernels: MaxPool3x3S2 sizes do not fit")
	}
	mx := func(a, b byte) byte {
		if signed {
			return byte(max(int8(a), int8(b)))
		}
		return max(a, b)
	}
	for oy := range oh {
		// Rows outside the input are replaced by the nearest inside one:
		// a repeated row does not change a maximum.
		r0, r1, r2 := max(2*oy-1, 0), min(2*oy, ih-1), min(2*oy+1, ih-1)
		a, b, c := in[r0*iw:][:iw], in[r1*iw:][:iw], in[r2*iw:][:iw]
		if maxPool3x3S2Row(out[oy*ow:][:ow], a, b, c, buf, signed) {
			continue
		}
		// buf[1+x] is the column maximum of x; buf[0] and buf[1+iw]
		// repeat the edge columns.
		for x := range iw {
			buf[1+x] = mx(mx(a[x], b[x]), c[x])
		}
		buf[0], buf[1+iw] = buf[1], buf[iw]
		for ox := range ow {
			out[oy*ow+ox] = mx(mx(buf[2*ox], buf[2*ox+1]), buf[2*ox+2])
		}
	}
}
