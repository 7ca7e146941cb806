// Tests of the reduction kernels against a plain accumulation over every
// input element (all axis subsets of several shapes, both keepdims, the
// adjacent-axes and transposed paths), integer semantics, axes given as
// attribute or input by opset, ArgMax/ArgMin ties and NaN, CumSum
// variants, thread-count independence and bad inputs.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// naiveReduce reduces x over the axes in red by visiting every element.
func naiveReduce(op string, x *Tensor, red []bool) []float64 {
	var outShape []int
	for i, d := range x.Shape {
		if red[i] {
			outShape = append(outShape, 1)
		} else {
			outShape = append(outShape, d)
		}
	}
	n := 1
	for i, d := range x.Shape {
		if red[i] {
			n *= d
		}
	}
	outStr := Strides(outShape)
	m := prodInts(outShape)
	acc := make([]float64, m)
	mx := make([]float64, m)
	for i := range acc {
		switch op {
		case "ReduceProd":
			acc[i] = 1
		case "ReduceMax":
			acc[i] = math.Inf(-1)
		case "ReduceMin":
			acc[i] = math.Inf(1)
		}
		mx[i] = math.Inf(-1)
	}
	vals, _ := x.AsFloat64()
	inStr := Strides(x.Shape)
	index := func(flat int) int {
		o := 0
		for ax := range x.Shape {
			c := flat / inStr[ax] % x.Shape[ax]
			if !red[ax] {
				o += c * outStr[ax]
			}
		}
		return o
	}
	for f, v := range vals {
		mx[index(f)] = math.Max(mx[index(f)], v)
	}
	for f, v := range vals {
		o := index(f)
		switch op {
		case "ReduceSum", "ReduceMean", "ReduceLogSum":
			acc[o] += v
		case "ReduceSumSquare", "ReduceL2":
			acc[o] += v * v
		case "ReduceL1":
			acc[o] += math.Abs(v)
		case "ReduceProd":
			acc[o] *= v
		case "ReduceMax":
			acc[o] = math.Max(acc[o], v)
		case "ReduceMin":
			acc[o] = math.Min(acc[o], v)
		case "ReduceLogSumExp":
			acc[o] += math.Exp(v - mx[o])
		}
	}
	for o := range acc {
		switch op {
		case "ReduceMean":
			acc[o] /= float64(n)
		case "ReduceL2":
			acc[o] = math.Sqrt(acc[o])
		case "ReduceLogSum":
			acc[o] = math.Log(acc[o])
		case "ReduceLogSumExp":
			acc[o] = math.Log(acc[o]) + mx[o]
		}
	}
	return acc
}

var reduceOps = []string{"ReduceSum", "ReduceMean", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceL1",
	"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}

func TestReduceMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, shape := range [][]int{{5}, {3, 4}, {2, 3, 4}, {2, 1, 3, 5}, {3, 2, 2, 2, 3}} {
		x := ewRand(r, 1, shape...)
		for i := range x.F32() {
			x.F32()[i] = 0.5 + float32(math.Abs(float64(x.F32()[i]))) // positive for Prod and LogSum
		}
		rank := len(shape)
		for mask := 0; mask < 1<<rank; mask++ {
			var axes []int64
			red := make([]bool, rank)
			for ax := 0; ax < rank; ax++ {
				if mask&(1<<ax) != 0 {
					axes = append(axes, int64(ax-rank*(ax%2))) // some negative
					red[ax] = true
				}
			}
			if len(axes) == 0 {
				for i := range red {
					red[i] = true
				}
			}
			for _, op := range reduceOps {
				for _, keep := range []int64{0, 1} {
					want := naiveReduce(op, x, red)
					axesT := FromInt64([]int{len(axes)}, axes)
					got, err := ewRun(ewNode(op, 1, ewInt("keepdims", keep)), 18, 2, x, axesT)
					if err != nil {
						t.Fatalf("%s %v axes %v: %v", op, shape, axes, err)
					}
					g := got[0]
					wantRank := rank
					if keep == 0 {
						wantRank = 0
						for _, rd := range red {
							if !rd {
								wantRank++
							}
						}
					}
					if len(g.Shape) != wantRank || g.Len() != len(want) {
						t.Fatalf("%s %v axes %v keepdims %d: shape %v", op, shape, axes, keep, g.Shape)
					}
					for i, w := range want {
						if d := math.Abs(float64(g.F32()[i]) - w); d > 1e-5*math.Max(1, math.Abs(w)) {
							t.Fatalf("%s %v axes %v: element %d is %v, want %v", op, shape, axes, i, g.F32()[i], w)
						}
					}
				}
			}
		}
	}
}

func TestReduceAxesByOpset(t *testing.T) {
	x := FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	// Opset 13: ReduceMean takes the axes attribute, ReduceSum the input.
	m := ewMust(t, ewNode("ReduceMean", 1, ewInts("axes", 1), ewInt("keepdims", 0)), 13, x)
	if !equalShape(m.Shape, []int{2}) || m.F32()[0] != 2 || m.F32()[1] != 5 {
		t.Fatalf("ReduceMean opset 13: %v %v", m.Shape, m.F32())
	}
	s := ewMust(t, ewNode("ReduceSum", 1), 13, x, FromInt64([]int{1}, []int64{0}))
	if !equalShape(s.Shape, []int{1, 3}) || s.F32()[2] != 9 {
		t.Fatalf("ReduceSum opset 13: %v %v", s.Shape, s.F32())
	}
	// No axes: everything, or nothing with noop_with_empty_axes.
	all := ewMust(t, ewNode("ReduceMax", 1, ewInt("keepdims", 0)), 18, x)
	if len(all.Shape) != 0 || all.F32()[0] != 6 {
		t.Fatalf("ReduceMax over all: %v %v", all.Shape, all.F32())
	}
	noop := ewMust(t, ewNode("ReduceSum", 1, ewInt("noop_with_empty_axes", 1)), 13, x, FromInt64([]int{0}, nil))
	if !equalShape(noop.Shape, x.Shape) || noop.F32()[5] != 6 {
		t.Fatalf("noop: %v %v", noop.Shape, noop.F32())
	}
}

func TestReduceIntegers(t *testing.T) {
	i32 := &Tensor{DType: graph.Int32, Shape: []int{2, 3}, Data: []int32{math.MaxInt32, 1, 0, -7, 2, 2}}
	sum := ewMust(t, ewNode("ReduceSum", 1, ewInt("keepdims", 0)), 13, i32, FromInt64([]int{1}, []int64{1})).Data.([]int32)
	if sum[0] != math.MinInt32 || sum[1] != -3 {
		t.Fatalf("int32 sum should wrap: %v", sum)
	}
	mean := ewMust(t, ewNode("ReduceMean", 1, ewInts("axes", 1), ewInt("keepdims", 0)), 13, i32).Data.([]int32)
	if mean[1] != -1 {
		t.Fatalf("int32 mean truncates: %v", mean)
	}
	u := &Tensor{DType: graph.Uint64, Shape: []int{3}, Data: []uint64{1 << 63, math.MaxUint64, 5}}
	mx := ewMust(t, ewNode("ReduceMax", 1), 18, u).Data.([]uint64)
	mn := ewMust(t, ewNode("ReduceMin", 1), 18, u).Data.([]uint64)
	if mx[0] != math.MaxUint64 || mn[0] != 5 {
		t.Fatalf("uint64 max/min: %v %v", mx, mn)
	}
	b := &Tensor{DType: graph.Bool, Shape: []int{2, 2}, Data: []bool{true, false, false, false}}
	bm := ewMust(t, ewNode("ReduceMax", 1), 20, b, FromInt64([]int{1}, []int64{1})).Data.([]bool)
	if !bm[0] || bm[1] {
		t.Fatalf("bool max: %v", bm)
	}
	if _, err := ewRun(ewNode("ReduceSum", 1), 20, 1, b); err == nil {
		t.Fatal("ReduceSum of bool: no error")
	}
}

func TestArgMaxArgMin(t *testing.T) {
	nan := float32(math.NaN())
	x := FromFloat32([]int{2, 4}, []float32{1, 3, 3, 2, 0, nan, 5, nan})
	check := func(name string, got *Tensor, want ...int64) {
		t.Helper()
		for i, w := range want {
			if got.I64()[i] != w {
				t.Fatalf("%s: got %v, want %v", name, got.I64(), want)
			}
		}
	}
	check("argmax", ewMust(t, ewNode("ArgMax", 1, ewInt("axis", 1)), 13, x), 1, 1)
	check("argmax last", ewMust(t, ewNode("ArgMax", 1, ewInt("axis", 1), ewInt("select_last_index", 1)), 13, x), 2, 3)
	check("argmin", ewMust(t, ewNode("ArgMin", 1, ewInt("axis", -1), ewInt("keepdims", 0)), 13, x), 0, 1)
	y := FromFloat32([]int{3, 2}, []float32{1, 5, 7, 5, 7, 0})
	got := ewMust(t, ewNode("ArgMax", 1), 13, y)
	if !equalShape(got.Shape, []int{1, 2}) {
		t.Fatalf("shape %v", got.Shape)
	}
	check("argmax axis 0", got, 1, 0)
	i8 := &Tensor{DType: graph.Int8, Shape: []int{3}, Data: []int8{-3, -9, 4}}
	check("argmin int8", ewMust(t, ewNode("ArgMin", 1), 13, i8), 1)
	if _, err := ewRun(ewNode("ArgMax", 1, ewInt("axis", 1)), 13, 1, New(graph.Float32, 2, 0)); err == nil {
		t.Fatal("ArgMax over an empty axis: no error")
	}
}

func TestCumSumVariants(t *testing.T) {
	x := FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	axis := func(a int64) *Tensor { return FromInt64([]int{}, []int64{a}) }
	for _, c := range []struct {
		ax        int64
		excl, rev int64
		want      []float32
	}{
		{1, 0, 0, []float32{1, 3, 6, 4, 9, 15}},
		{1, 1, 0, []float32{0, 1, 3, 0, 4, 9}},
		{1, 0, 1, []float32{6, 5, 3, 15, 11, 6}},
		{1, 1, 1, []float32{5, 3, 0, 11, 6, 0}},
		{0, 0, 0, []float32{1, 2, 3, 5, 7, 9}},
		{-2, 1, 1, []float32{4, 5, 6, 0, 0, 0}},
	} {
		got := ewMust(t, ewNode("CumSum", 1, ewInt("exclusive", c.excl), ewInt("reverse", c.rev)), 14, x, axis(c.ax)).F32()
		for i, w := range c.want {
			if got[i] != w {
				t.Fatalf("axis %d exclusive %d reverse %d: got %v, want %v", c.ax, c.excl, c.rev, got, c.want)
			}
		}
	}
	i32 := &Tensor{DType: graph.Int32, Shape: []int{3}, Data: []int32{math.MaxInt32, 1, 1}}
	ax32 := &Tensor{DType: graph.Int32, Shape: []int{1}, Data: []int32{0}}
	got := ewMust(t, ewNode("CumSum", 1), 14, i32, ax32).Data.([]int32)
	if got[1] != math.MinInt32 {
		t.Fatalf("int32 cumsum should wrap: %v", got)
	}
	p := ewMust(t, ewNode("CumProd", 1), 26, x, axis(1)).F32()
	if p[2] != 6 || p[5] != 120 {
		t.Fatalf("cumprod: %v", p)
	}
	for _, bad := range []*Tensor{axis(2), FromInt64([]int{2}, []int64{0, 1}), FromFloat32([]int{}, []float32{0})} {
		if _, err := ewRun(ewNode("CumSum", 1), 14, 1, x, bad); err == nil {
			t.Fatalf("CumSum with axis %v: no error", bad)
		}
	}
}

func TestReduceThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	x := ewRand(r, 1, 8, 33, 47, 21)
	for _, op := range reduceOps {
		for _, axes := range [][]int64{{3}, {1, 2}, {0}, {0, 2}, {1, 3}} {
			n := ewNode(op, 1)
			axesT := FromInt64([]int{len(axes)}, axes)
			one, err := ewRun(n, 18, 1, x, axesT)
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range []int{2, 7} {
				many, _ := ewRun(n, 18, th, x, axesT)
				if i := ewSameBits(one[0], many[0]); i >= 0 {
					t.Fatalf("%s axes %v: %d threads differ at byte %d", op, axes, th, i)
				}
			}
		}
	}
	for _, op := range []string{"ArgMax", "CumSum"} {
		in := []*Tensor{x}
		if op == "CumSum" {
			in = append(in, FromInt64([]int{}, []int64{2}))
		}
		one, _ := ewRun(ewNode(op, 1, ewInt("axis", 2)), 14, 1, in...)
		many, _ := ewRun(ewNode(op, 1, ewInt("axis", 2)), 14, 3, in...)
		if i := ewSameBits(one[0], many[0]); i >= 0 {
			t.Fatalf("%s: threads differ at byte %d", op, i)
		}
	}
}

func TestReduceBadInputs(t *testing.T) {
	x := FromFloat32([]int{2, 3}, make([]float32, 6))
	for _, c := range []struct {
		op string
		in []*Tensor
	}{
		{"ReduceSum", []*Tensor{x, FromInt64([]int{1}, []int64{2})}},
		{"ReduceMax", []*Tensor{x, FromFloat32([]int{1}, []float32{0})}},
		{"ReduceMean", []*Tensor{x, FromInt64([]int{1, 1}, []int64{0})}},
		{"ReduceL2", []*Tensor{nil}},
		{"ReduceProd", []*Tensor{{DType: graph.String, Shape: []int{1}, Data: []string{"a"}}}},
		{"ArgMax", []*Tensor{Scalar(1)}},
		{"CumSum", []*Tensor{x}},
	} {
		if _, err := ewRun(ewNode(c.op, 1), 18, 2, c.in...); err == nil {
			t.Errorf("%s %v: no error", c.op, c.in)
		}
	}
	if _, err := ewRun(ewNode("ReduceMean", 1, ewInts("axes", -3)), 13, 1, x); err == nil {
		t.Error("axes attribute out of range: no error")
	}
	if _, err := ewRun(ewNode("ArgMin", 1, ewInt("axis", 5)), 13, 1, x); err == nil {
		t.Error("ArgMin axis out of range: no error")
	}
}

func BenchmarkReduceMeanSpatial(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, axes := range [][]int64{{2, 3}, {1}, {3}} {
		b.Run(fmt.Sprint(axes), func(b *testing.B) {
			benchOp(b, ewNode("ReduceMean", 1), 18, ewRand(r, 1, 1, 64, 80, 80), FromInt64([]int{len(axes)}, axes))
		})
	}
}
