package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestRequantizeMatchesGo checks the dispatched Requantize against the
// portable loop at every length around the 8-wide step, with extreme sums
// (wrapping adds included), exact ties, tiny and huge scales, uint8 and
// int8 bounds, and guards the bytes past the destination.
func TestRequantizeMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 8))
	scales := []float32{0.5, -0.5, 1, 0.25, 1e-9, 3e4, -3e4, 1e30, 7.25e-5}
	bounds := [][3]int32{{0, 0, 255}, {128, 0, 255}, {0, -128, 127}, {-128, -128, 127}, {127, -128, 127}}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 65, 100} {
		src := make([]int32, n)
		for i := range src {
			switch rng.IntN(4) {
			case 0:
				src[i] = []int32{1<<31 - 1, -1 << 31, 0, 1, -1, 3, -3}[rng.IntN(7)]
			case 1:
				src[i] = int32(rng.Uint32())
			default:
				src[i] = int32(rng.IntN(2001) - 1000)
			}
		}
		orig := append([]int32(nil), src...)
		for _, b := range bounds {
			zp, lo, hi := b[0], float32(b[1]-b[0]), float32(b[2]-b[0])
			for _, s := range append(scales, float32(rng.Float64()*0.1)) {
				for _, add := range []int32{0, 1, -7, 1<<31 - 1} {
					want := make([]byte, n)
					requantizeGo(want, src, add, s, lo, hi, zp)
					got := make([]byte, n+8)
					for i := range got {
						got[i] = 0xA5
					}
					for _, wide := range requantWidths() {
						restore := useRequantWidth(wide)
						Requantize(got[:n], src, add, s, lo, hi, zp)
						restore()
						for i := range n {
							if got[i] != want[i] {
								t.Fatalf("%s: n %d scale %g add %d zp %d: element %d (sum %d) is %d, want %d", wide, n, s, add, zp, i, src[i], got[i], want[i])
							}
						}
					}
					for i := n; i < len(got); i++ {
						if got[i] != 0xA5 {
							t.Fatalf("n %d: wrote past the destination at %d", n, i)
						}
					}
				}
			}
		}
		for i := range src {
			if src[i] != orig[i] {
				t.Fatalf("n %d: the source changed", n)
			}
		}
	}
}

// TestRequantizeSumsAndWidenBytesMatchGo checks the float-sum
// requantization and the byte widening against their portable loops.
func TestRequantizeSumsAndWidenBytesMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 40} {
		src := make([]float32, n)
		bytes := make([]byte, n)
		for i := range src {
			src[i] = float32(rng.IntN(1<<25) - 1<<24)
			if rng.IntN(5) == 0 {
				src[i] = float32(rng.IntN(7) - 3)
			}
			bytes[i] = byte(rng.IntN(256))
		}
		for _, s := range []float32{0.5, -0.25, 1e-6, 3e4} {
			for _, add := range []int32{0, -5, 1<<31 - 1} {
				want := make([]byte, n)
				requantizeSumsGo(want, src, add, s, -128, 127, 0)
				got := make([]byte, n+8)
				RequantizeSums(got[:n], src, add, s, -128, 127, 0)
				for i := range n {
					if got[i] != want[i] {
						t.Fatalf("n %d scale %g add %d: sum %g gives %d, want %d", n, s, add, src[i], got[i], want[i])
					}
				}
				for _, b := range got[n:] {
					if b != 0 {
						t.Fatalf("n %d: wrote past the destination", n)
					}
				}
			}
		}
		for _, signed := range []bool{false, true} {
			for _, sub := range []float32{0, 128, -128, 255} {
				want := make([]float32, n)
				widenBytesGo(want, bytes, sub, signed)
				got := make([]float32, n+8)
				WidenBytes(got[:n], bytes, sub, signed)
				for i := range n {
					if got[i] != want[i] {
						t.Fatalf("n %d signed %v sub %g: byte %d gives %g, want %g", n, signed, sub, bytes[i], got[i], want[i])
					}
				}
				for _, v := range got[n:] {
					if v != 0 {
						t.Fatalf("n %d: widened past the destination", n)
					}
				}
			}
		}
	}
}

func TestScaleSumsMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 15, 16, 17, 40, 100} {
		src := make([]int32, n)
		for i := range src {
			src[i] = int32(rng.Uint32())
		}
		for _, add := range []int32{0, -5, 1<<31 - 1} {
			scale := float32(rng.Float64() * 1e-3)
			want := make([]float32, n)
			scaleSumsGo(want, src, add, scale)
			for _, wide := range requantWidths() {
				restore := useRequantWidth(wide)
				got := make([]float32, n+1)
				ScaleSums(got[:n], src, add, scale)
				restore()
				for i := range n {
					if got[i] != want[i] {
						t.Fatalf("%s n %d: element %d = %v, want %v", wide, n, i, got[i], want[i])
					}
				}
				if got[n] != 0 {
					t.Fatalf("%s: wrote past the destination", wide)
				}
			}
		}
	}
}
