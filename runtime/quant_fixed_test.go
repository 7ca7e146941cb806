// quant_fixed_test.go checks the fixed-point requantizer: its rounding
// steps against exact rational arithmetic, the multiplier's accuracy, and
// QLinearConv with it against the float requantizer.
package runtime

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// roundHalfUp rounds the rational r to the nearest integer, ties up.
func roundHalfUp(r *big.Rat) int64 {
	v := new(big.Rat).Add(r, big.NewRat(1, 2))
	q := new(big.Int).Div(v.Num(), v.Denom()) // Euclidean: the floor, the denominator being positive
	return q.Int64()
}

// roundHalfAway rounds the rational r half away from zero.
func roundHalfAway(r *big.Rat) int64 {
	abs := new(big.Rat).Abs(r)
	abs.Add(abs, big.NewRat(1, 2))
	q := new(big.Int).Quo(abs.Num(), abs.Denom())
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return q.Int64()
}

func TestFixedPointRoundingSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	edges := []int32{0, 1, -1, 2, -2, 3, -3, 1 << 30, -1 << 30, math.MaxInt32, math.MinInt32, 12345, -12345}
	pick := func() int32 {
		if rng.IntN(3) == 0 {
			return edges[rng.IntN(len(edges))]
		}
		return int32(rng.Uint32())
	}
	for range 20000 {
		a, b := pick(), pick()
		want := roundHalfUp(big.NewRat(int64(a)*int64(b), 1<<31))
		if a == math.MinInt32 && b == math.MinInt32 {
			want = math.MaxInt32
		}
		if got := roundingHighMul(a, b); int64(got) != want {
			t.Fatalf("roundingHighMul(%d, %d) = %d, want %d", a, b, got, want)
		}
		n := rng.IntN(32)
		if got, want := roundingShift(a, n), roundHalfAway(big.NewRat(int64(a), 1<<n)); int64(got) != want {
			t.Fatalf("roundingShift(%d, %d) = %d, want %d", a, n, got, want)
		}
	}
}

func TestFixedMultiplier(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for range 5000 {
		s := float32(math.Exp(rng.Float64()*40 - 30))
		f, err := newFixedMultiplier(s)
		if err != nil {
			t.Fatal(err)
		}
		if f.m0 < 1<<30 {
			t.Fatalf("scale %g: multiplier %d below 2^30", s, f.m0)
		}
		got := float64(f.m0) * math.Pow(2, float64(f.exp-31))
		if math.Abs(got-float64(s)) > float64(s)*0x1p-30 {
			t.Fatalf("scale %g: %d·2^(%d−31) = %g", s, f.m0, f.exp, got)
		}
	}
	for _, bad := range []float32{-1, float32(math.NaN()), float32(math.Inf(1))} {
		if _, err := newFixedMultiplier(bad); err == nil {
			t.Errorf("scale %g accepted", bad)
		}
	}
	if f, _ := newFixedMultiplier(0); f.apply(12345, 7, 0, 255) != 7 {
		t.Error("a zero scale does not give the zero point")
	}
	// The two roundings of apply against exact arithmetic, with saturation.
	for range 20000 {
		s := float32(math.Exp(rng.Float64()*12 - 12))
		f, _ := newFixedMultiplier(s)
		acc := int32(rng.IntN(2000001) - 1000000)
		hm := roundHalfUp(new(big.Rat).SetFrac(big.NewInt(int64(acc)*int64(f.m0)), big.NewInt(1<<31)))
		v := hm
		if f.exp < 0 {
			v = roundHalfAway(big.NewRat(hm, 1<<(-f.exp)))
		}
		want := min(max(v+3, -128), 127)
		if got := f.apply(acc, 3, -128, 127); got != want {
			t.Fatalf("scale %g, sum %d: %d, want %d", s, acc, got, want)
		}
	}
}

// constMakers returns builders of b's constants: float32 values (a scalar
// for one value, else a vector) and raw tensors of a type and shape.
func constMakers(b *graph.Builder) (f32 func(name string, v ...float32) *graph.Value, bytesOf func(name string, dt graph.DType, dims []int64, raw []byte) *graph.Value) {
	f32 = func(name string, v ...float32) *graph.Value {
		dims := []int64{}
		if len(v) > 1 {
			dims = []int64{int64(len(v))}
		}
		return b.Const(graph.FromFloat32s(name, dims, v))
	}
	bytesOf = func(name string, dt graph.DType, dims []int64, raw []byte) *graph.Value {
		return b.Const(graph.NewTensor(name, dt, dims, raw))
	}
	return f32, bytesOf
}

// TestFixedPointQLinearConv runs a QLinearConv model
// with both requantizers: every output within one step, nearly all equal,
// and the fixed-point results reproducible.
func TestFixedPointQLinearConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Uint8, 1, 4, 9, 9)
	f32, bytesOf := constMakers(b)
	w := make([]byte, 6*4*3*3)
	for i := range w {
		w[i] = byte(int8(rng.IntN(255) - 127))
	}
	y := b.Op("QLinearConv", x, f32("xs", 0.04), bytesOf("xz", graph.Uint8, nil, []byte{120}),
		bytesOf("w", graph.Int8, []int64{6, 4, 3, 3}, w), f32("ws", 0.01, 0.02, 0.005, 0.013, 0.007, 0.011),
		bytesOf("wz", graph.Int8, []int64{6}, make([]byte, 6)), f32("ys", 0.3), bytesOf("yz", graph.Uint8, nil, []byte{128}))
	b.Graph().AddOutput(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}

	in := New(graph.Uint8, 1, 4, 9, 9)
	for i := range in.Data.([]uint8) {
		in.Data.([]uint8)[i] = uint8(rng.IntN(256))
	}
	run := func(r Requantizer) []uint8 {
		s, err := NewSession(m, Options{Threads: 1, Requantizer: r})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(map[string]*Tensor{"x": in})
		if err != nil {
			t.Fatal(err)
		}
		return out[m.Graph.Outputs[0].Name].Data.([]uint8)
	}
	fl, fx, fx2 := run(RequantizeFloat), run(RequantizeFixedPoint), run(RequantizeFixedPoint)
	same := 0
	for i := range fl {
		if d := int(fl[i]) - int(fx[i]); d < -1 || d > 1 {
			t.Fatalf("element %d: float %d, fixed %d", i, fl[i], fx[i])
		}
		if fl[i] == fx[i] {
			same++
		}
		if fx[i] != fx2[i] {
			t.Fatal("fixed-point results differ between runs")
		}
	}
	if same < len(fl)*95/100 {
		t.Errorf("only %d of %d outputs equal", same, len(fl))
	}
}
