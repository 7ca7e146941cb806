// Tests of the loss kernels against hand-computed values (reductions,
// class weights, ignore_index), SoftmaxCrossEntropyLoss against
// LogSoftmax followed by NegativeLogLikelihoodLoss, BitCast bit patterns,
// and bad inputs.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestNegativeLogLikelihoodLoss(t *testing.T) {
	// N=2, C=3, d1=2: the doc's example.
	x := FromFloat32([]int{2, 3, 2}, []float32{1, 2, 2, 2, 3, 2, 0, 1, 2, 2, 1, 2})
	target := FromInt64([]int{2, 2}, []int64{2, 1, 0, 2})
	w := FromFloat32([]int{3}, []float32{0.2, 0.3, 0.1})
	for _, c := range []struct {
		red    string
		weight bool
		ignore int64 // -100: none
		want   []float64
	}{
		{"none", false, -100, []float64{-3, -2, -0, -2}},
		{"sum", false, -100, []float64{-7}},
		{"mean", false, -100, []float64{-7.0 / 4}},
		{"sum", true, -100, []float64{-3*0.1 - 2*0.3 - 0 - 2*0.1}},
		{"mean", true, -100, []float64{(-3*0.1 - 2*0.3 - 0 - 2*0.1) / (0.1 + 0.3 + 0.2 + 0.1)}},
		// ignore_index 2 drops the samples of class 2.
		{"none", false, 2, []float64{0, -2, -0, 0}},
		{"mean", false, 2, []float64{-2.0 / 2}},
		{"mean", true, 2, []float64{(-2 * 0.3) / (0.3 + 0.2)}},
	} {
		attrs := []*graph.Attribute{ewString("reduction", c.red)}
		if c.ignore != -100 {
			attrs = append(attrs, ewInt("ignore_index", c.ignore))
		}
		in := []*Tensor{x, target}
		if c.weight {
			in = append(in, w)
		}
		y := ewMust(t, ewNode("NegativeLogLikelihoodLoss", 1, attrs...), 13, in...)
		if d := maxAbsDiff(f64s(y), c.want); d > 1e-6 || y.Len() != len(c.want) {
			t.Errorf("%s weight=%v ignore=%d: got %v, want %v", c.red, c.weight, c.ignore, y.F32(), c.want)
		}
	}
	for i, in := range [][]*Tensor{
		{x, FromInt64([]int{2, 2}, []int64{2, 3, 0, 2})},
		{x, FromInt64([]int{2, 2}, []int64{-1, 1, 0, 2})},
		{x, FromInt64([]int{2}, []int64{1, 1})},
		{x, target, FromFloat32([]int{2}, []float32{1, 1})},
		{FromFloat32([]int{3}, []float32{1, 2, 3}), FromInt64([]int{1}, []int64{0})},
		{x, FromFloat32([]int{2, 2}, []float32{2, 1, 0, 2})},
	} {
		if _, err := ewRun(ewNode("NegativeLogLikelihoodLoss", 1), 13, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
	if _, err := ewRun(ewNode("NegativeLogLikelihoodLoss", 1, ewString("reduction", "max")), 13, 1, x, target); err == nil {
		t.Error("reduction max: no error")
	}
}

func TestSoftmaxCrossEntropyIsNLLOfLogSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	x := ewRand(r, 2, 3, 5, 2, 2)
	labels := New(graph.Int64, 3, 2, 2)
	for i := range labels.I64() {
		labels.I64()[i] = int64(r.IntN(5))
	}
	labels.I64()[3] = -1
	w := ewRand(r, 1, 5)
	logp := ewMust(t, ewNode("LogSoftmax", 1, ewInt("axis", 1)), 13, x)
	for _, red := range []string{"none", "sum", "mean"} {
		for _, weighted := range []bool{false, true} {
			attrs := []*graph.Attribute{ewString("reduction", red), ewInt("ignore_index", -1)}
			in := []*Tensor{x, labels}
			nin := []*Tensor{logp, labels}
			if weighted {
				in, nin = append(in, w), append(nin, w)
			}
			outs, err := ewRun(ewNode("SoftmaxCrossEntropyLoss", 2, attrs...), 13, 2, in...)
			if err != nil {
				t.Fatal(err)
			}
			want := ewMust(t, ewNode("NegativeLogLikelihoodLoss", 1, attrs...), 13, nin...)
			if d := maxAbsDiff(f64s(outs[0]), f64s(want)); d > 1e-5 || !equalShape(outs[0].Shape, want.Shape) {
				t.Errorf("%s weighted=%v: loss differs by %g (shape %v)", red, weighted, d, outs[0].Shape)
			}
			if d := maxAbsDiff(f64s(outs[1]), f64s(logp)); d > 1e-5 {
				t.Errorf("%s: log_prob differs from LogSoftmax by %g", red, d)
			}
		}
	}
	// Without the second output only the loss is returned.
	outs, err := ewRun(ewNode("SoftmaxCrossEntropyLoss", 1), 13, 1, x, FromInt64([]int{3, 2, 2}, make([]int64, 12)))
	if err != nil || len(outs) != 1 {
		t.Errorf("one output: %d outputs, %v", len(outs), err)
	}
	if _, err := ewRun(ewNode("SoftmaxCrossEntropyLoss", 1), 13, 1, x, labels); err == nil {
		t.Error("label -1 without ignore_index: no error")
	}
}

func TestBitCast(t *testing.T) {
	x := FromFloat32([]int{3}, []float32{1, -2.5, float32(math.Inf(1))})
	y := ewMust(t, ewNode("BitCast", 1, ewInt("to", int64(graph.Int32))), 26, x)
	for i, v := range y.Data.([]int32) {
		if uint32(v) != math.Float32bits(x.F32()[i]) {
			t.Errorf("element %d: %#x, want %#x", i, uint32(v), math.Float32bits(x.F32()[i]))
		}
	}
	back := ewMust(t, ewNode("BitCast", 1, ewInt("to", int64(graph.Float32))), 26, y)
	if i := ewSameBits(back, x); i >= 0 {
		t.Errorf("round trip differs at byte %d", i)
	}
	i4 := &Tensor{DType: graph.Int4, Shape: []int{4}, Data: []int8{-8, -1, 0, 7}}
	u4 := ewMust(t, ewNode("BitCast", 1, ewInt("to", int64(graph.Uint4))), 26, i4)
	want := []uint8{8, 15, 0, 7}
	for i, v := range u4.Data.([]uint8) {
		if v != want[i] {
			t.Errorf("int4 to uint4: %v, want %v", u4.Data, want)
			break
		}
	}
	if _, err := ewRun(ewNode("BitCast", 1, ewInt("to", int64(graph.Int64))), 26, 1, x); err == nil {
		t.Error("float32 to int64: no error")
	}
	for _, n := range []*graph.Node{
		ewNode("BitCast", 1),
		ewNode("BitCast", 1, ewInt("to", int64(graph.String))),
		ewNode("BitCast", 1, ewInt("to", 999)),
	} {
		if _, err := ewRun(n, 26, 1, x); err == nil {
			t.Errorf("%v: no error", n.Attrs)
		}
	}
}
