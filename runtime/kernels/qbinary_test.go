package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestQLinearBinaryMatchesGo checks the vector loop against the portable
// one for Add and Mul, uint8 and int8, around the 16-wide step, with
// results past both ends of the output range, and a broadcast operand.
func TestQLinearBinaryMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, n := range []int{1, 15, 16, 17, 40, 100} {
		a, b := make([]byte, n), make([]byte, n)
		extremeBytes(rng, a)
		extremeBytes(rng, b)
		for _, mul := range []bool{false, true} {
			for _, signed := range []bool{false, true} {
				for range 4 {
					zc := int32(rng.IntN(256))
					lo, hi := float32(-zc), float32(255-zc)
					za, zb := int32(rng.IntN(256)), int32(rng.IntN(256))
					if signed {
						zc -= 128
						lo, hi = float32(-128-zc), float32(127-zc)
						za, zb = za-128, zb-128
					}
					p := QBinaryParams{ZA: za, ZB: zb, SA: float32(rng.Float64()*0.1 + 1e-3), SB: float32(rng.Float64()*0.1 + 1e-3),
						SC: float32(rng.Float64()*0.2 + 1e-3), Lo: lo, Hi: hi, ZC: zc, Mul: mul, Signed: signed}
					want := make([]byte, n)
					qLinearBinaryGo(want, a, b, p)
					for _, wide := range requantWidths() {
						restore := useRequantWidth(wide)
						got := make([]byte, n+3)
						QLinearBinary(got[:n], a, b, p)
						restore()
						for i := range n {
							if got[i] != want[i] {
								t.Fatalf("%s n %d mul %v signed %v: element %d = %d, want %d", wide, n, mul, signed, i, got[i], want[i])
							}
						}
						if got[n] != 0 || got[n+1] != 0 {
							t.Fatalf("%s: wrote past the destination", wide)
						}
					}
					// A broadcast operand is the operand repeated, but for
					// the Add's folding of it (an exact tie may then round
					// the other way).
					one := make([]byte, n)
					QLinearBinary(one, a, b[:1], p)
					rep := make([]byte, n)
					for i := range rep {
						rep[i] = b[0]
					}
					full := make([]byte, n)
					QLinearBinary(full, a, rep, p)
					for i := range n {
						if d := int(one[i]) - int(full[i]); d < -1 || d > 1 || (mul && d != 0) {
							t.Fatalf("broadcast b: element %d = %d, want %d", i, one[i], full[i])
						}
					}
				}
			}
		}
	}
}

// ONNX Runtime's QLinearAdd rounds these exact ties (x.5 before the zero
// point 127 joins) the other way from DequantizeLinear, Add and
// QuantizeLinear: its outputs, recorded from ONNX Runtime 1.30 on a
// quantized ppocr_cls, are pinned here, on the vector loop and the Go one.
func TestQLinearAddRoundsAsONNXRuntime(t *testing.T) {
	p := QBinaryParams{ZA: 127, ZB: 127, SA: 0.057291675359010696, SB: 0.04332108050584793, SC: 0.07426471263170242,
		ZC: 127, Lo: -127, Hi: 128}
	cases := []struct{ a, b, want byte }{{127, 121, 124}, {127, 133, 130}, {127, 145, 138}}
	for _, c := range cases {
		for _, n := range []int{1, 16, 33} {
			a, b, got := make([]byte, n), make([]byte, n), make([]byte, n)
			for i := range n {
				a[i], b[i] = c.a, c.b
			}
			QLinearBinary(got, a, b, p)
			for i, g := range got {
				if g != c.want {
					t.Fatalf("n %d: %d + %d gave %d at %d, want %d", n, c.a, c.b, g, i, c.want)
				}
			}
		}
	}
}
