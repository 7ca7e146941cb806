package kernels

import (
	"math/rand/v2"
	"testing"
)

func TestDeinterleaveBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := range 131 {
		src := make([]byte, n)
		extremeBytes(rng, src)
		even := make([]byte, (n+1)/2+3)
		odd := make([]byte, n/2+3)
		for i := range even {
			even[i] = 0x5a
		}
		for i := range odd {
			odd[i] = 0x5a
		}
		DeinterleaveBytes(even, odd, src)
		for i, v := range src {
			got := even[i/2]
			if i%2 == 1 {
				got = odd[i/2]
			}
			if got != v {
				t.Fatalf("n=%d: byte %d = %#x, want %#x", n, i, got, v)
			}
		}
		for _, v := range append(even[(n+1)/2:], odd[n/2:]...) {
			if v != 0x5a {
				t.Fatalf("n=%d: wrote past the halves", n)
			}
		}
	}
}
