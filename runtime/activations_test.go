// Tests of the activation kernels: Softmax, LogSoftmax and Hardmax with
// the axis semantics before and from opset 13 against plain definitions,
// infinities in softmax rows, Clip bounds as attributes and inputs,
// PRelu's per-channel slope before opset 7, thread-count independence and
// bad inputs.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// naiveSoftmax computes softmax (or log-softmax) in float64 over groups of
// n elements spaced stride apart, starting at every index whose position
// along the group is 0.
func naiveSoftmax(x []float32, outer, n, inner int, log bool) []float64 {
	out := make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			m := math.Inf(-1)
			for k := 0; k < n; k++ {
				m = math.Max(m, float64(x[(o*n+k)*inner+i]))
			}
			var s float64
			for k := 0; k < n; k++ {
				s += math.Exp(float64(x[(o*n+k)*inner+i]) - m)
			}
			for k := 0; k < n; k++ {
				v := float64(x[(o*n+k)*inner+i])
				if log {
					out[(o*n+k)*inner+i] = v - m - math.Log(s)
				} else {
					out[(o*n+k)*inner+i] = math.Exp(v-m) / s
				}
			}
		}
	}
	return out
}

func TestSoftmaxAxisSemantics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := ewRand(r, 4, 2, 3, 4, 5)
	for _, c := range []struct {
		opset           int64
		axis            int64
		outer, n, inner int
		op              string
		log             bool
	}{
		{13, -1, 24, 5, 1, "Softmax", false},
		{13, 1, 2, 3, 20, "Softmax", false},
		{13, 0, 1, 2, 60, "LogSoftmax", true},
		{11, 1, 2, 60, 1, "Softmax", false}, // coerced to [2, 60]
		{11, 2, 6, 20, 1, "LogSoftmax", true},
		{11, -1, 24, 5, 1, "Softmax", false},
	} {
		got := ewMust(t, ewNode(c.op, 1, ewInt("axis", c.axis)), c.opset, x).F32()
		want := naiveSoftmax(x.F32(), c.outer, c.n, c.inner, c.log)
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-6+1e-5*math.Abs(want[i]) {
				t.Fatalf("%s opset %d axis %d: element %d is %v, want %v", c.op, c.opset, c.axis, i, got[i], want[i])
			}
		}
	}
	// Default axis: 1 before opset 13, -1 from 13.
	d11 := ewMust(t, ewNode("Softmax", 1), 11, x).F32()
	w11 := naiveSoftmax(x.F32(), 2, 60, 1, false)
	d13 := ewMust(t, ewNode("Softmax", 1), 13, x).F32()
	w13 := naiveSoftmax(x.F32(), 24, 5, 1, false)
	for i := range w11 {
		if math.Abs(float64(d11[i])-w11[i]) > 1e-6 || math.Abs(float64(d13[i])-w13[i]) > 1e-6 {
			t.Fatalf("default axis: element %d is %v/%v, want %v/%v", i, d11[i], d13[i], w11[i], w13[i])
		}
	}
}

func TestSoftmaxInfinities(t *testing.T) {
	inf := float32(math.Inf(1))
	x := FromFloat32([]int{3, 3}, []float32{1, -inf, 1, -inf, -inf, -inf, 1e30, 3, inf})
	got := ewMust(t, ewNode("Softmax", 1), 13, x).F32()
	if got[0] != 0.5 || got[1] != 0 || got[2] != 0.5 {
		t.Fatalf("masked row: %v", got[:3])
	}
	for _, v := range got[3:6] {
		if v == v {
			t.Fatalf("all -inf row should be NaN: %v", got[3:6])
		}
	}
	if got[8] == got[8] {
		t.Fatalf("a row with +inf should give NaN there: %v", got[6:])
	}
	large := FromFloat32([]int{1, 3}, []float32{10000, 10001, 10002})
	l := ewMust(t, ewNode("LogSoftmax", 1), 13, large).F32()
	if math.Abs(float64(l[2])+0.40760596) > 1e-6 {
		t.Fatalf("log-softmax of large numbers: %v", l)
	}
}

func TestHardmaxFirstMaximum(t *testing.T) {
	x := FromFloat32([]int{2, 4}, []float32{1, 3, 3, 2, -1, -1, -1, -1})
	got := ewMust(t, ewNode("Hardmax", 1), 13, x).F32()
	want := []float32{0, 1, 0, 0, 1, 0, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestClipBounds(t *testing.T) {
	x := FromFloat32([]int{5}, []float32{-2, -0.5, 0.5, 2, float32(math.NaN())})
	check := func(name string, got *Tensor, want ...float32) {
		t.Helper()
		for i, w := range want {
			g := got.F32()[i]
			if g != w && !(g != g && w != w) {
				t.Fatalf("%s: got %v, want %v", name, got.F32(), want)
			}
		}
	}
	nan := float32(math.NaN())
	check("opset 6 attributes", ewMust(t, ewNode("Clip", 1, ewFloat("min", -1), ewFloat("max", 1)), 6, x), -1, -0.5, 0.5, 1, nan)
	check("opset 11 min only", ewMust(t, ewNode("Clip", 1), 11, x, Scalar(0)), 0, 0, 0.5, 2, nan)
	check("opset 11 max only", ewMust(t, ewNode("Clip", 1), 11, x, nil, Scalar(0)), -2, -0.5, 0, 0, nan)
	check("min above max", ewMust(t, ewNode("Clip", 1), 13, x, Scalar(1), Scalar(-1)), -1, -1, -1, -1, nan)
	i8 := &Tensor{DType: graph.Int8, Shape: []int{3}, Data: []int8{-128, 0, 127}}
	lo := &Tensor{DType: graph.Int8, Shape: []int{}, Data: []int8{-5}}
	got := ewMust(t, ewNode("Clip", 1), 12, i8, lo).Data.([]int8)
	if got[0] != -5 || got[1] != 0 || got[2] != 127 {
		t.Fatalf("int8 clip: %v", got)
	}
	if _, err := ewRun(ewNode("Clip", 1), 13, 1, x, FromFloat32([]int{2}, []float32{0, 1})); err == nil {
		t.Fatal("a non-scalar min: no error")
	}
	if _, err := ewRun(ewNode("Clip", 1), 13, 1, x, lo); err == nil {
		t.Fatal("an int8 min for a float input: no error")
	}
}

func TestPReluSlopes(t *testing.T) {
	x := FromFloat32([]int{1, 2, 2}, []float32{-1, 2, -3, 4})
	slope := FromFloat32([]int{2}, []float32{0.5, 0.25})
	// Opset 6: one slope per channel (axis 1).
	got := ewMust(t, ewNode("PRelu", 1), 6, x, slope).F32()
	if got[0] != -0.5 || got[2] != -0.75 {
		t.Fatalf("opset 6 per-channel slope: %v", got)
	}
	// Opset 9: numpy broadcasting, the slope follows the last axis.
	got = ewMust(t, ewNode("PRelu", 1), 9, x, slope).F32()
	if got[0] != -0.5 || got[2] != -1.5 {
		t.Fatalf("opset 9 broadcast slope: %v", got)
	}
	if _, err := ewRun(ewNode("PRelu", 1), 9, 1, x, FromFloat32([]int{3}, make([]float32, 3))); err == nil {
		t.Fatal("a slope that does not broadcast: no error")
	}
	if _, err := ewRun(ewNode("PRelu", 1), 9, 1, slope, x); err == nil {
		t.Fatal("a slope larger than X: no error")
	}
}

func TestActivationsThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	x := ewRand(r, 3, 4, 16, 50, 50)
	for _, n := range []*graph.Node{
		ewNode("Softmax", 1), ewNode("Softmax", 1, ewInt("axis", 1)), ewNode("LogSoftmax", 1),
		ewNode("Gelu", 1), ewNode("HardSwish", 1), ewNode("LeakyRelu", 1), ewNode("Clip", 1),
	} {
		one, err := ewRun(n, 20, 1, x)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range []int{2, 5} {
			many, err := ewRun(n, 20, th, x)
			if err != nil {
				t.Fatal(err)
			}
			if i := ewSameBits(one[0], many[0]); i >= 0 {
				t.Fatalf("%s %v: %d threads differ at byte %d", n.OpType, n.Attrs, th, i)
			}
		}
	}
}

func TestActivationsBadInputs(t *testing.T) {
	x := FromFloat32([]int{2, 3}, make([]float32, 6))
	i := FromInt64([]int{2}, []int64{1, 2})
	for _, c := range []struct {
		n  *graph.Node
		in []*Tensor
	}{
		{ewNode("Softmax", 1, ewInt("axis", 2)), []*Tensor{x}},
		{ewNode("Softmax", 1), []*Tensor{i}},
		{ewNode("Hardmax", 1, ewInt("axis", -3)), []*Tensor{x}},
		{ewNode("Softmax", 1), []*Tensor{nil}},
		{ewNode("Sigmoid", 1), []*Tensor{i}},
		{ewNode("PRelu", 1), []*Tensor{x}},
		{ewNode("Clip", 1), []*Tensor{&Tensor{DType: graph.String, Shape: []int{1}, Data: []string{"a"}}}},
	} {
		if _, err := ewRun(c.n, 13, 2, c.in...); err == nil {
			t.Errorf("%s %v: no error", c.n.OpType, c.n.Attrs)
		}
	}
	for _, n := range []*graph.Node{
		ewNode("Gelu", 1, ewString("approximate", "erf")),
		ewNode("Celu", 1, ewFloat("alpha", 0)),
	} {
		if _, err := ewRun(n, 20, 1, x); err == nil {
			t.Errorf("%s %v: no error", n.OpType, n.Attrs)
		}
	}
}

func BenchmarkRelu(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchOp(b, ewNode("Relu", 1), 14, ewRand(r, 1, 1, 64, 80, 80))
}

func BenchmarkSoftmaxLastAxis(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchOp(b, ewNode("Softmax", 1), 13, ewRand(r, 3, 64, 128, 128))
}

// TestSoftmaxShortRowsMatchRows checks the blocked softmax of short rows
// against softmaxRowF32 row by row, bit for bit: row lengths 1 to 15,
// row counts around the block, rows with ±Inf and NaN, both forms.
func TestSoftmaxShortRowsMatchRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	special := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 88, -104, 1e30, -1e30, 0}
	for n := 1; n < shortSoftmaxRow; n++ {
		for _, rows := range []int{1, 3, 255, 256, 257, 600} {
			src := make([]float32, rows*n)
			for i := range src {
				src[i] = float32(rng.NormFloat64() * 8)
				if rng.IntN(40) == 0 {
					src[i] = special[rng.IntN(len(special))]
				}
			}
			orig := append([]float32(nil), src...)
			for _, log := range []bool{false, true} {
				want := make([]float32, len(src))
				for r := range rows {
					softmaxRowF32(want[r*n:(r+1)*n], src[r*n:(r+1)*n], log)
				}
				got := make([]float32, len(src)+3)
				softmaxShortRowsF32(got[:len(src)], src, n, log)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n %d rows %d log %v: element %d (x %g) is %g, want %g", n, rows, log, i, src[i], got[i], want[i])
					}
				}
				for i := len(src); i < len(got); i++ {
					if got[i] != 0 {
						t.Fatalf("n %d rows %d: wrote past the destination", n, rows)
					}
				}
			}
			for i := range src {
				if math.Float32bits(src[i]) != math.Float32bits(orig[i]) {
					t.Fatalf("n %d rows %d: the input changed", n, rows)
				}
			}
		}
	}
}

// BenchmarkSoftmaxShortRows times softmax over the last axis of
// [1, 4420, 2] (UltraFace's scores).
func BenchmarkSoftmaxShortRows(b *testing.B) {
	k, err := axisActivationBuilder(softmaxRow)(&graph.Node{OpType: "Softmax"}, 13)
	if err != nil {
		b.Fatal(err)
	}
	x := New(graph.Float32, 1, 4420, 2)
	for i, v := range x.F32() {
		x.F32()[i] = v + float32(i%7)
	}
	ctx := &Context{Threads: 1}
	for b.Loop() {
		if _, err := k.Run(ctx, []*Tensor{x}); err != nil {
			b.Fatal(err)
		}
	}
}
