// This file holds byte-shuffling kernels of the integer convolutions.

package kernels

import "fmt"

// DeinterleaveBytes splits src into its even-indexed bytes (even[i] =
// src[2i]) and its odd-indexed ones (odd[i] = src[2i+1]): even must hold
// (len(src)+1)/2 bytes and odd len(src)/2.
func DeinterleaveBytes(even, odd, src []byte) {
	n := len(src)
	if len(even) < (n+1)/2 || len(odd) < n/2 {
		panic(fmt.Sprintf("kernels: DeinterleaveBytes of %d bytes into %d and %d", n, len(even), len(odd)))
	}
	done := deinterleaveBytes(even, odd, src)
	for i := done; i+1 < n; i += 2 {
		even[i/2], odd[i/2] = src[i], src[i+1]
	}
	if n%2 == 1 {
		even[n/2] = src[n-1]
	}
}
