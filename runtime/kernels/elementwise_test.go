// This file checks the elementwise primitives against their Go loops, bit
// for bit, over lengths around the vector widths and special values, with
// guard elements after dst, unmodified inputs, and dst aliasing an input.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// elementwiseSpecials are values whose handling differs between careless
// implementations: signed zeros, infinities, NaN, subnormals.
var elementwiseSpecials = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), 1e-40, -1e-40, 1, -1, 3.5, -0.5, math.MaxFloat32, -math.MaxFloat32}

func randomVector(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if r.IntN(5) == 0 {
			v[i] = elementwiseSpecials[r.IntN(len(elementwiseSpecials))]
		} else {
			v[i] = float32(r.NormFloat64() * 4)
		}
	}
	return v
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func TestElementwisePrimitives(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const guard = 5
	type prim struct {
		name string
		best func(dst, a, b []float32, s, u float32)
		ref  func(dst, a, b []float32, s, u float32)
	}
	prims := []prim{
		{"Add", func(d, a, b []float32, _, _ float32) { AddF32(d, a, b) }, func(d, a, b []float32, _, _ float32) { vecBinaryGo(opAdd, d, a, b) }},
		{"Sub", func(d, a, b []float32, _, _ float32) { SubF32(d, a, b) }, func(d, a, b []float32, _, _ float32) { vecBinaryGo(opSub, d, a, b) }},
		{"Mul", func(d, a, b []float32, _, _ float32) { MulF32(d, a, b) }, func(d, a, b []float32, _, _ float32) { vecBinaryGo(opMul, d, a, b) }},
		{"Div", func(d, a, b []float32, _, _ float32) { DivF32(d, a, b) }, func(d, a, b []float32, _, _ float32) { vecBinaryGo(opDiv, d, a, b) }},
		{"AddScalar", func(d, a, _ []float32, s, _ float32) { AddScalarF32(d, a, s) }, func(d, a, _ []float32, s, _ float32) { vecScalarGo(opAddVS, d, a, s) }},
		{"MulScalar", func(d, a, _ []float32, s, _ float32) { MulScalarF32(d, a, s) }, func(d, a, _ []float32, s, _ float32) { vecScalarGo(opMulVS, d, a, s) }},
		{"DivScalar", func(d, a, _ []float32, s, _ float32) { DivScalarF32(d, a, s) }, func(d, a, _ []float32, s, _ float32) { vecScalarGo(opDivVS, d, a, s) }},
		{"ScalarSub", func(d, a, _ []float32, s, _ float32) { ScalarSubF32(d, s, a) }, func(d, a, _ []float32, s, _ float32) { vecScalarGo(opSubSV, d, a, s) }},
		{"ScalarDiv", func(d, a, _ []float32, s, _ float32) { ScalarDivF32(d, s, a) }, func(d, a, _ []float32, s, _ float32) { vecScalarGo(opDivSV, d, a, s) }},
		{"Affine", func(d, a, _ []float32, s, u float32) { AffineF32(d, a, s, u) }, func(d, a, _ []float32, s, u float32) { affineGo(d, a, s, u) }},
		{"Clamp", func(d, a, _ []float32, s, u float32) { ClampF32(d, a, min(s, u), max(s, u)) }, func(d, a, _ []float32, s, u float32) { clampGo(d, a, min(s, u), max(s, u)) }},
		{"Relu", func(d, a, _ []float32, _, _ float32) { ClampF32(d, a, 0, float32(math.Inf(1))) }, func(d, a, _ []float32, _, _ float32) {
			for i, v := range a[:len(d)] {
				if !(v < 0) {
					d[i] = v
				} else {
					d[i] = 0
				}
			}
		}},
	}
	for _, p := range prims {
		for n := 0; n < 140; n++ {
			a, b := randomVector(r, n), randomVector(r, n)
			s, u := randomVector(r, 1)[0], float32(r.NormFloat64())
			a0, b0 := append([]float32{}, a...), append([]float32{}, b...)
			got := randomVector(r, n+guard)
			tail := append([]float32{}, got[n:]...)
			want := make([]float32, n)
			p.best(got[:n], a, b, s, u)
			p.ref(want, a, b, s, u)
			if i := sameBits(got[:n], want); i >= 0 {
				t.Fatalf("%s n=%d: element %d is %v, want %v (a=%v b=%v s=%v u=%v)", p.name, n, i, got[i], want[i], a[i], b[i], s, u)
			}
			if sameBits(got[n:], tail) >= 0 {
				t.Fatalf("%s n=%d: wrote past the end of dst", p.name, n)
			}
			if sameBits(a, a0) >= 0 || sameBits(b, b0) >= 0 {
				t.Fatalf("%s n=%d: modified an input", p.name, n)
			}
			// In place: dst is the first input.
			p.best(a, a, b, s, u)
			if i := sameBits(a, want); i >= 0 {
				t.Fatalf("%s n=%d in place: element %d is %v, want %v", p.name, n, i, a[i], want[i])
			}
		}
	}
}

func BenchmarkAddF32(b *testing.B) {
	x, y, d := make([]float32, 1<<16), make([]float32, 1<<16), make([]float32, 1<<16)
	b.SetBytes(3 * 4 << 16)
	for i := 0; i < b.N; i++ {
		AddF32(d, x, y)
	}
}

func BenchmarkClampF32(b *testing.B) {
	x, d := make([]float32, 1<<16), make([]float32, 1<<16)
	b.SetBytes(2 * 4 << 16)
	for i := 0; i < b.N; i++ {
		ClampF32(d, x, 0, float32(math.Inf(1)))
	}
}

func BenchmarkAffineF32(b *testing.B) {
	x, d := make([]float32, 1<<16), make([]float32, 1<<16)
	b.SetBytes(2 * 4 << 16)
	for i := 0; i < b.N; i++ {
		AffineF32(d, x, 1.5, 0.25)
	}
}

func TestExpSigmoidF32(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	sameOrNaN := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) }
	for n := 0; n < 70; n++ {
		a := randomVector(r, n)
		for i := range a {
			if r.IntN(3) == 0 {
				a[i] = float32(r.Float64()*210 - 110) // the whole range, subnormal results included
			}
		}
		a0 := append([]float32{}, a...)
		shift := float32(0)
		if n%2 == 1 {
			shift = 0.75
		}
		got, want := make([]float32, n+3), make([]float32, n)
		got[n], got[n+1], got[n+2] = 7, 7, 7
		ExpF32(got[:n], a, shift)
		expGo(want, a, shift)
		for i := range want {
			if !sameOrNaN(got[i], want[i]) {
				t.Fatalf("Exp n=%d: element %d (x=%v) is %v, want %v", n, i, a[i], got[i], want[i])
			}
		}
		SigmoidF32(got[:n], a)
		sigmoidGo(want, a)
		for i := range want {
			if !sameOrNaN(got[i], want[i]) {
				t.Fatalf("Sigmoid n=%d: element %d (x=%v) is %v, want %v", n, i, a[i], got[i], want[i])
			}
		}
		if got[n] != 7 || got[n+1] != 7 || got[n+2] != 7 {
			t.Fatalf("n=%d: wrote past the end of dst", n)
		}
		if sameBits(a, a0) >= 0 {
			t.Fatalf("n=%d: modified the input", n)
		}
	}
	// Accuracy against float64 over float32's range.
	for x := float32(-103.9); x < 88.7; x += 0.00731 {
		got := float64(expOne(x))
		want := math.Exp(float64(x))
		tol := 2 * (float64(math.Nextafter32(float32(want), float32(math.Inf(1)))) - float64(float32(want)))
		if want < 1.2e-38 {
			tol = 1.5e-45 // subnormal results: one step
		}
		if math.Abs(got-want) > tol {
			t.Fatalf("exp(%v) = %v, want %v", x, got, want)
		}
		s := float64(SigmoidOne(x))
		ws := 1 / (1 + math.Exp(-float64(x)))
		if math.Abs(s-ws) > 3e-7*ws+1e-45 {
			t.Fatalf("sigmoid(%v) = %v, want %v", x, s, ws)
		}
	}
	for _, c := range []struct{ x, want float32 }{
		{float32(math.Inf(1)), float32(math.Inf(1))}, {89, float32(math.Inf(1))}, {float32(math.Inf(-1)), 0}, {-200, 0}, {0, 1},
	} {
		if got := expOne(c.x); got != c.want {
			t.Fatalf("exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if v := expOne(float32(math.NaN())); v == v {
		t.Fatal("exp(NaN) is not NaN")
	}
}

// SigmoidOne is the scalar sigmoid of SigmoidF32, for the accuracy check.
func SigmoidOne(x float32) float32 {
	var d [1]float32
	sigmoidGo(d[:], []float32{x})
	return d[0]
}

func BenchmarkExpF32(b *testing.B) {
	x, d := make([]float32, 1<<16), make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%200) - 100
	}
	for i := 0; i < b.N; i++ {
		ExpF32(d, x, 0)
	}
}

func BenchmarkSigmoidF32(b *testing.B) {
	x, d := make([]float32, 1<<16), make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%200)/10 - 10
	}
	for i := 0; i < b.N; i++ {
		SigmoidF32(d, x)
	}
}
