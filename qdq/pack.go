// Packing of 4-bit values, two per byte, as ONNX stores int4 and uint4
// tensors.

package qdq

import "fmt"

// PackInt4 packs 4-bit values two per byte, the first of each pair in the
// low nibble; an odd count leaves the last high nibble 0. Each value
// keeps its low 4 bits, so int4 values in [-8, 7] and uint4 values in
// [0, 15] round-trip through UnpackInt4.
func PackInt4(vals []int32) []byte {
	out := make([]byte, (len(vals)+1)/2)
	for i, v := range vals {
		out[i/2] |= byte(v&0xF) << (4 * (i % 2))
	}
	return out
}

// UnpackInt4 reads n 4-bit values packed by PackInt4, sign-extending them
// when signed.
func UnpackInt4(packed []byte, n int, signed bool) ([]int32, error) {
	if n < 0 || (n+1)/2 > len(packed) {
		return nil, fmt.Errorf("qdq: %d bytes cannot hold %d 4-bit values", len(packed), n)
	}
	out := make([]int32, n)
	for i := range out {
		v := int32(packed[i/2]>>(4*(i%2))) & 0xF
		if signed && v >= 8 {
			v -= 16
		}
		out[i] = v
	}
	return out, nil
}
