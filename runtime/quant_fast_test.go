// quant_fast_test.go checks the tight per-tensor and per-axis
// QuantizeLinear loops against the general element-by-element path.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantizeRunsMatchGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	xs := []float32{0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 127.5, 128.5, -128.5, 255.5, 1e9, -1e9,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.SmallestNonzeroFloat32, math.MaxFloat32}
	for range 5000 {
		xs = append(xs, float32(rng.NormFloat64()*100), float32(rng.IntN(600)-300)/2)
	}
	scales := []float32{1, 0.5, 0.1, 3e-5, 7.25}
	for _, zp := range []int64{0, 1, 128, 255, -128, 127, -3} {
		for _, typ := range []struct{ lo, hi int64 }{{0, 255}, {-128, 127}} {
			if zp < typ.lo || zp > typ.hi {
				continue
			}
			// Per axis: dim = len(scales), the rest inner.
			inner := len(xs) / len(scales)
			n := inner * len(scales)
			lay := &quantLayout{outer: 1, dim: len(scales), inner: inner, kind: layoutAxis}
			zps := make([]int64, len(scales))
			for i := range zps {
				zps[i] = zp
			}
			div := func(e, p int) float32 { return xs[e] / scales[p] }
			want := make([]int16, n)
			quantizeInts(want, lay, div, zps, typ.lo, typ.hi)
			check := func(got []int64) {
				t.Helper()
				for i := range want {
					if got[i] != int64(want[i]) {
						t.Fatalf("zp %d [%d,%d]: element %d (x %g, scale %g): got %d, want %d", zp, typ.lo, typ.hi, i, xs[i], scales[i/inner], got[i], want[i])
					}
				}
			}
			if typ.lo == 0 {
				got := make([]uint8, n)
				quantizeRuns(nil, got, xs[:n], lay, scales, zps, typ.lo, typ.hi)
				g := make([]int64, n)
				for i, v := range got {
					g[i] = int64(v)
				}
				check(g)
			} else {
				got := make([]int8, n)
				quantizeRuns(nil, got, xs[:n], lay, scales, zps, typ.lo, typ.hi)
				g := make([]int64, n)
				for i, v := range got {
					g[i] = int64(v)
				}
				check(g)
			}
		}
	}
}
