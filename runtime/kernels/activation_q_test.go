package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestHardSwishRequantizeMatchesGo checks the dispatched loop against the
// portable one around the 16-wide step, over sums that land on every part
// of hard-swish (below −3, between, above 3) and past the output range.
func TestHardSwishRequantizeMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{1, 15, 16, 17, 33, 100} {
		src := make([]int32, n)
		for i := range src {
			src[i] = int32(rng.IntN(4_000_001) - 2_000_000)
			if rng.IntN(5) == 0 {
				src[i] = []int32{0, 1, -1, 1<<31 - 1, -1 << 31}[rng.IntN(5)]
			}
		}
		for _, zp := range []int32{0, 128, -128, 5} {
			lo, hi := float32(-zp), float32(255-zp)
			if zp < 0 || zp == 5 {
				lo, hi = float32(-128-zp), float32(127-zp)
			}
			for _, scale := range []float32{1e-5, 3e-6, 1e-3} {
				add := int32(rng.IntN(2001) - 1000)
				yScale := float32(rng.Float64()*0.05 + 1e-3)
				want := make([]byte, n)
				hardSwishRequantizeGo(want, src, add, scale, yScale, lo, hi, zp)
				for _, wide := range requantWidths() {
					restore := useRequantWidth(wide)
					got := make([]byte, n+4)
					HardSwishRequantize(got[:n], src, add, scale, yScale, lo, hi, zp)
					restore()
					for i := range n {
						if got[i] != want[i] {
							t.Fatalf("%s: n %d zp %d scale %g: element %d (sum %d) is %d, want %d", wide, n, zp, scale, i, src[i], got[i], want[i])
						}
					}
					for _, v := range got[n:] {
						if v != 0 {
							t.Fatalf("%s: wrote past the destination", wide)
						}
					}
				}
			}
		}
	}
}
