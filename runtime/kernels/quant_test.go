package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// quantizeRef is QuantizeLinear to an 8-bit type as ONNX states it,
// element by element in float64 after the float32 division.
func quantizeRef(x, scale float32, zp, qmin, qmax int32) byte {
	r := math.RoundToEven(float64(x / scale))
	if r != r {
		return byte(qmin)
	}
	return byte(int32(math.Max(float64(qmin), math.Min(float64(qmax), r+float64(zp)))))
}

// quantTestValues returns edge values (ties, huge, NaN, infinities,
// denormals, signed zeros) and random ones.
func quantTestValues(rng *rand.Rand, n int) []float32 {
	edges := []float32{0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 127.5, 128.5,
		-128.5, -127.5, 255.5, 254.5, 256.5, 1e9, -1e9, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-38, math.MaxFloat32,
		-math.MaxFloat32, 0x1p22, 0x1p23 + 1, -0x1p24, 0.49999997, -0.49999997}
	xs := make([]float32, n)
	for i := range xs {
		switch rng.IntN(4) {
		case 0:
			xs[i] = edges[rng.IntN(len(edges))]
		case 1:
			xs[i] = float32(rng.IntN(1200)-600) / 4 // many exact ties after the division by 0.5
		case 2:
			xs[i] = math.Float32frombits(rng.Uint32()) // any bits: NaNs, denormals, huge
		default:
			xs[i] = float32(rng.NormFloat64() * 60)
		}
	}
	return xs
}

// TestQuantizeBytesMatchesReference checks QuantizeBytes (and each of
// its loops alone) against the element-by-element definition at lengths around the
// 8- and 32-wide steps, for uint8 and int8 bounds, several zero points
// and scales (tiny, denormal, huge), and guards the bytes past dst.
func TestQuantizeBytesMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	scales := []float32{1, 0.5, 0.25, 0.1, 3e-5, 7.25, 1e-40, 1e30, 0.0078125, float32(rng.Float64())}
	types := [][2]int32{{0, 255}, {-128, 127}}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 39, 40, 63, 64, 65, 79, 80, 100, 1000} {
		xs := quantTestValues(rng, n)
		orig := append([]float32(nil), xs...)
		for _, typ := range types {
			for _, zp := range []int32{typ[0], typ[1], 0, 3, 128, -3, 100} {
				if zp < typ[0] || zp > typ[1] {
					continue
				}
				lo, hi := float32(typ[0]-zp), float32(typ[1]-zp)
				for _, s := range scales {
					got := make([]byte, n+40)
					for i := range got {
						got[i] = 0xA5
					}
					QuantizeBytes(got[:n], xs, s, lo, hi, zp)
					paths := map[string][]byte{"QuantizeBytes": got[:n], "go": make([]byte, n)}
					quantizeBytesGo(paths["go"], xs, s, lo, hi, zp)
					for name, f := range extraQuantizeImpls() {
						paths[name] = make([]byte, n)
						f(paths[name], xs, s, lo, hi, zp)
					}
					for i := range n {
						want := quantizeRef(xs[i], s, zp, typ[0], typ[1])
						for name, p := range paths {
							if p[i] != want {
								t.Fatalf("%s: n %d [%d,%d] zp %d scale %g: x[%d] = %g (%#x) gives %d, want %d",
									name, n, typ[0], typ[1], zp, s, i, xs[i], math.Float32bits(xs[i]), p[i], want)
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
		for i := range xs {
			if math.Float32bits(xs[i]) != math.Float32bits(orig[i]) {
				t.Fatalf("n %d: the source changed", n)
			}
		}
	}
}

// TestDequantizeBytesMatchesReference checks DequantizeBytes against
// (x − zp)·scale computed element by element, signed and unsigned, at
// lengths around the vector steps, and guards the floats past dst.
func TestDequantizeBytesMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 10))
	scales := []float32{1, 0.5, 0.1, 3e-5, 1e-40, 1e38, -0.25, float32(math.Inf(1)), float32(math.NaN())}
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 65, 300} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		if n > 2 {
			src[0], src[1], src[2] = 0, 0x80, 0xFF
		}
		for _, signed := range []bool{false, true} {
			for _, zp := range []float32{0, 128, -128, 127, 255, 3} {
				for _, s := range scales {
					got := make([]float32, n+9)
					for i := range got {
						got[i] = 42
					}
					DequantizeBytes(got[:n], src, zp, s, signed)
					for i := range n {
						v := float64(src[i])
						if signed {
							v = float64(int8(src[i]))
						}
						want := float32((v - float64(zp)) * float64(s)) // exact product, one rounding
						if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
							t.Fatalf("n %d signed %v zp %g scale %g: element %d (%d) is %g, want %g", n, signed, zp, s, i, src[i], got[i], want)
						}
					}
					for i := n; i < len(got); i++ {
						if got[i] != 42 {
							t.Fatalf("n %d: wrote past the destination at %d", n, i)
						}
					}
				}
			}
		}
	}
}

// BenchmarkQuantizeBytes times QuantizeBytes on a 3×320×320 input (a
// detector's input image), 8-bit outputs.
func BenchmarkQuantizeBytes(b *testing.B) {
	src := quantTestValues(rand.New(rand.NewPCG(1, 1)), 3*320*320)
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)) * 4)
	for b.Loop() {
		QuantizeBytes(dst, src, 0.0178, -128-3, 127-3, 3)
	}
}

// BenchmarkDequantizeBytes times DequantizeBytes on 16×160×160 uint8
// activations.
func BenchmarkDequantizeBytes(b *testing.B) {
	src := make([]byte, 16*160*160)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		DequantizeBytes(dst, src, 3, 0.0178, false)
	}
}
