// This file holds the 8-bit row kernels of integer max pooling: the
// elementwise maximum of two byte rows (as uint8 or int8) and the split
// of a byte row into its even and odd elements, with their portable loops.

package kernels

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

func deinterleaveBytesGo(even, odd, src []byte) {
	for i := range odd {
		even[i] = src[2*i]
		odd[i] = src[2*i+1]
	}
	if len(even) > len(odd) {
		even[len(odd)] = src[len(src)-1]
	}
}
