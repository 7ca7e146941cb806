// This file holds the byte table lookup: every byte of a row replaced by
// its entry in a 256-byte table (ai.onnxq Requantize maps 8-bit values
// through the table of QuantizeLinear(DequantizeLinear(q))).

package kernels

// LookupBytes sets dst[i] = table[src[i]] for i < len(dst). src must be
// at least as long as dst; dst may be src, but must not overlap it
// otherwise.
func LookupBytes(dst, src []byte, table *[256]byte) {
	if len(src) < len(dst) {
		panic("kernels: LookupBytes source is shorter than its destination")
	}
	if len(dst) == 0 {
		return
	}
	lookupBytes(dst, src[:len(dst)], table)
}

func lookupBytesGo(dst, src []byte, table *[256]byte) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = table[v]
	}
}
