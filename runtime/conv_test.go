// This file tests Conv and ConvTranspose on random geometries against
// their plain loops in float64 (1-D to 3-D, groups, depthwise with
// multipliers, strides, dilations, asymmetric pads, auto_pad, bias), the
// bit-identity of results across thread counts, bad inputs, and a Conv
// net run end to end through a Session.

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// convCase is one random convolution.
type convCase struct {
	n, c, m, group int
	in, k, s, d    []int
	pads           []int
	autoPad        string
	bias           bool
}

func (cc convCase) String() string {
	return fmt.Sprintf("N%d C%d M%d g%d in%v k%v s%v d%v pads%v %s bias=%v",
		cc.n, cc.c, cc.m, cc.group, cc.in, cc.k, cc.s, cc.d, cc.pads, cc.autoPad, cc.bias)
}

func (cc convCase) node(op string) *graph.Node {
	toInts := func(v []int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	n := &graph.Node{OpType: op}
	n.Attrs = append(n.Attrs, graph.IntsAttr("kernel_shape", toInts(cc.k)...), graph.IntsAttr("strides", toInts(cc.s)...),
		graph.IntsAttr("dilations", toInts(cc.d)...), graph.IntAttr("group", int64(cc.group)))
	if cc.autoPad != "" {
		n.Attrs = append(n.Attrs, graph.StringAttr("auto_pad", cc.autoPad))
	} else {
		n.Attrs = append(n.Attrs, graph.IntsAttr("pads", toInts(cc.pads)...))
	}
	return n
}

func randConvCase(r *rand.Rand, rank int, depthwise bool) convCase {
	cc := convCase{n: 1 + r.IntN(2)}
	cc.group = 1 + r.IntN(3)
	cinG := 1 + r.IntN(4)
	coutG := 1 + r.IntN(5)
	if depthwise {
		cc.group = 1 + r.IntN(6)
		cinG = 1
		coutG = 1 + r.IntN(3)
	}
	cc.c, cc.m = cc.group*cinG, cc.group*coutG
	for i := 0; i < rank; i++ {
		k := 1 + r.IntN(5)
		s := 1 + r.IntN(3)
		d := 1 + r.IntN(2)
		dk := (k-1)*d + 1
		pb, pe := r.IntN(3), r.IntN(3)
		in := max(1, dk-pb-pe+r.IntN(12))
		if rank == 1 {
			in += r.IntN(40)
		}
		cc.in, cc.k, cc.s, cc.d = append(cc.in, in), append(cc.k, k), append(cc.s, s), append(cc.d, d)
		cc.pads = append(cc.pads, pb)
	}
	for i := 0; i < rank; i++ {
		cc.pads = append(cc.pads, r.IntN(3))
		if cc.in[i]+cc.pads[i]+cc.pads[rank+i] < (cc.k[i]-1)*cc.d[i]+1 {
			cc.pads[rank+i] = (cc.k[i]-1)*cc.d[i] + 1 - cc.in[i] - cc.pads[i]
		}
	}
	switch r.IntN(6) {
	case 0:
		cc.autoPad = "SAME_UPPER"
	case 1:
		cc.autoPad = "SAME_LOWER"
	}
	cc.bias = r.IntN(2) == 0
	return cc
}

func randTensorF32(r *rand.Rand, shape ...int) *Tensor {
	t := New(graph.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(r.NormFloat64())
	}
	return t
}

func toF64Tensor(t *Tensor) *Tensor {
	v, _ := t.AsFloat64()
	return &Tensor{DType: graph.Float64, Shape: t.Shape, Data: v}
}

// compareF32F64 checks a float32 result against the float64 one within
// a tolerance scaled by the size of the sums.
func compareF32F64(t *testing.T, what string, got, want *Tensor, terms int) {
	t.Helper()
	if !equalShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	g := got.F32()
	w := want.Data.([]float64)
	for i := range w {
		if d := math.Abs(float64(g[i]) - w[i]); !(d <= 1e-5*float64(terms)*(1+math.Abs(w[i]))) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, g[i], w[i])
		}
	}
}

func convRun(t *testing.T, k Kernel, threads int, in ...*Tensor) []*Tensor {
	t.Helper()
	out, err := k.Run(&Context{Threads: threads}, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameF32Bits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func TestConvRandomGeometries(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 400; iter++ {
		rank := 1 + iter%3
		cc := randConvCase(r, rank, iter%4 == 1 && rank <= 2)
		k, err := buildConv(cc.node("Conv"), 22)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{cc.n, cc.c}, cc.in...)...)
		w := randTensorF32(r, append([]int{cc.m, cc.c / cc.group}, cc.k...)...)
		in := []*Tensor{x, w}
		if cc.bias {
			in = append(in, randTensorF32(r, cc.m))
		}
		want := convRun(t, k, 1, convertAll(in, toF64Tensor)...)[0]
		for _, path := range []string{"", "gemm", "direct"} {
			convPath = path
			got := convRun(t, k, 1, in...)[0]
			compareF32F64(t, cc.String()+" path "+path, got, want, cc.c/cc.group*product(cc.k)+1)
			got3 := convRun(t, k, 3, in...)[0]
			if i := sameF32Bits(got.F32(), got3.F32()); i >= 0 {
				t.Fatalf("%v path %s: threads 3 differ from 1 at %d", cc, path, i)
			}
		}
		convPath = ""
	}
}

// TestConvHugeStride runs convolutions whose stride is far past the
// input, which give one output position: a layout by stride phases would
// need a trillion blocks (these ran out of memory before).
func TestConvHugeStride(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, cc := range []convCase{
		{n: 1, c: 3, m: 4, group: 1, in: []int{8, 8}, k: []int{3, 3}, s: []int{1000000, 1000000}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{n: 1, c: 4, m: 4, group: 4, in: []int{8, 8}, k: []int{3, 3}, s: []int{1000000, 1000000}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{n: 2, c: 2, m: 3, group: 1, in: []int{9}, k: []int{2}, s: []int{1 << 30}, d: []int{1}, pads: []int{0, 0}},
	} {
		k, err := buildConv(cc.node("Conv"), 22)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{cc.n, cc.c}, cc.in...)...)
		w := randTensorF32(r, append([]int{cc.m, cc.c / cc.group}, cc.k...)...)
		want := convRun(t, k, 1, convertAll([]*Tensor{x, w}, toF64Tensor)...)[0]
		for _, path := range []string{"", "gemm", "direct"} {
			convPath = path
			got := convRun(t, k, 2, x, w)[0]
			compareF32F64(t, cc.String()+" path "+path, got, want, cc.c/cc.group*product(cc.k)+1)
		}
		convPath = ""
	}
}

func convertAll(in []*Tensor, f func(*Tensor) *Tensor) []*Tensor {
	out := make([]*Tensor, len(in))
	for i, t := range in {
		out[i] = f(t)
	}
	return out
}

// TestConvModelShapes runs layers shaped like the shared CNNs (first
// layers, pointwise, depthwise 3×3/5×5 with strides 1 and 2) against the
// plain loop, and threads 1 against 4.
func TestConvModelShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	cases := []convCase{
		{n: 1, c: 3, m: 16, group: 1, in: []int{60, 80}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true},
		{n: 1, c: 16, m: 32, group: 1, in: []int{30, 40}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{n: 1, c: 32, m: 32, group: 32, in: []int{30, 40}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{n: 2, c: 24, m: 24, group: 24, in: []int{21, 37}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true},
		{n: 1, c: 48, m: 48, group: 48, in: []int{22, 22}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}, bias: true},
		{n: 1, c: 40, m: 40, group: 40, in: []int{23, 19}, k: []int{5, 5}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}},
		{n: 1, c: 16, m: 16, group: 1, in: []int{30, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{3, 3}, pads: []int{3, 3, 3, 3}, bias: true},
		{n: 1, c: 1, m: 8, group: 1, in: []int{28, 28}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, autoPad: "SAME_UPPER", bias: true},
		{n: 1, c: 96, m: 24, group: 1, in: []int{40, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		{n: 1, c: 64, m: 256, group: 1, in: []int{4, 5}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true},
		{n: 1, c: 8, m: 16, group: 2, in: []int{300}, k: []int{7}, s: []int{3}, d: []int{2}, pads: []int{4, 1}, bias: true},
	}
	for _, cc := range cases {
		k, err := buildConv(cc.node("Conv"), 22)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{cc.n, cc.c}, cc.in...)...)
		w := randTensorF32(r, append([]int{cc.m, cc.c / cc.group}, cc.k...)...)
		in := []*Tensor{x, w}
		if cc.bias {
			in = append(in, randTensorF32(r, cc.m))
		}
		want := convRun(t, k, 1, convertAll(in, toF64Tensor)...)[0]
		got := convRun(t, k, 1, in...)[0]
		compareF32F64(t, cc.String(), got, want, cc.c/cc.group*product(cc.k)+1)
		got4 := convRun(t, k, 4, in...)[0]
		if i := sameF32Bits(got.F32(), got4.F32()); i >= 0 {
			t.Fatalf("%v: threads 4 differ from 1 at %d", cc, i)
		}
	}
}

func TestConvTransposeRandomGeometries(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for iter := 0; iter < 300; iter++ {
		rank := 1 + iter%3
		cc := randConvCase(r, rank, false)
		n := cc.node("ConvTranspose")
		var outPad []int64
		for i := 0; i < rank; i++ {
			outPad = append(outPad, int64(r.IntN(max(cc.s[i], cc.d[i]))))
		}
		n.Attrs = append(n.Attrs, graph.IntsAttr("output_padding", outPad...))
		if iter%5 == 0 {
			var os []int64
			for i := 0; i < rank; i++ {
				os = append(os, int64(cc.in[i]*cc.s[i]+r.IntN(3)))
			}
			n.Attrs = append(n.Attrs, graph.IntsAttr("output_shape", os...))
		}
		k, err := buildConvTranspose(n, 22)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{cc.n, cc.c}, cc.in...)...)
		w := randTensorF32(r, append([]int{cc.c, cc.m / cc.group}, cc.k...)...)
		in := []*Tensor{x, w}
		if cc.bias {
			in = append(in, randTensorF32(r, cc.m))
		}
		want, err := k.Run(&Context{Threads: 1}, convertAll(in, toF64Tensor))
		if err != nil {
			// Geometries whose output would be empty are refused alike.
			if _, err2 := k.Run(&Context{Threads: 1}, in); err2 == nil {
				t.Fatalf("%v: float64 fails (%v) but float32 runs", cc, err)
			}
			continue
		}
		for _, path := range []string{"", "gemm"} {
			transposePath = path
			got := convRun(t, k, 1, in...)[0]
			compareF32F64(t, cc.String()+" path "+path, got, want[0], cc.c/cc.group*product(cc.k)+1)
			got3 := convRun(t, k, 3, in...)[0]
			if i := sameF32Bits(got.F32(), got3.F32()); i >= 0 {
				t.Fatalf("%v path %s: threads 3 differ from 1 at %d", cc, path, i)
			}
		}
		transposePath = ""
	}
}

func TestConvFloat16(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	cc := convCase{n: 1, c: 4, m: 6, group: 2, in: []int{9, 7}, k: []int{3, 3}, s: []int{2, 1}, d: []int{1, 1}, pads: []int{1, 0, 1, 2}, bias: true}
	k, err := buildConv(cc.node("Conv"), 22)
	if err != nil {
		t.Fatal(err)
	}
	in := []*Tensor{randTensorF32(r, 1, 4, 9, 7), randTensorF32(r, 6, 2, 3, 3), randTensorF32(r, 6)}
	half := make([]*Tensor, len(in))
	for i, x := range in {
		half[i] = New(graph.Float16, x.Shape...)
		storeFloats32(half[i], x.F32())
		storeFloats32(x, floatsOf32(half[i])) // same values in both
	}
	want := convRun(t, k, 1, in...)[0]
	got := convRun(t, k, 1, half...)[0]
	if got.DType != graph.Float16 {
		t.Fatalf("Conv of float16 gives %v", got.DType)
	}
	g := floatsOf32(got)
	for i, w := range want.F32() {
		if math.Abs(float64(g[i]-w)) > 1e-2*(1+math.Abs(float64(w))) {
			t.Fatalf("float16 element %d is %v, float32 gives %v", i, g[i], w)
		}
	}
}

func TestConvBadInputs(t *testing.T) {
	node := func(attrs ...*graph.Attribute) *graph.Node { return &graph.Node{OpType: "Conv", Attrs: attrs} }
	f32 := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	cases := []struct {
		n  *graph.Node
		in []*Tensor
	}{
		{node(), []*Tensor{f32(1, 3), f32(2, 3)}},
		{node(), []*Tensor{f32(1, 3, 5, 5), f32(2, 2, 3, 3)}},
		{node(), []*Tensor{f32(1, 3, 5, 5), f32(2, 3, 3)}},
		{node(), []*Tensor{f32(1, 3, 2, 2), f32(2, 3, 3, 3)}},
		{node(graph.IntAttr("group", 2)), []*Tensor{f32(1, 4, 5, 5), f32(3, 2, 3, 3)}},
		{node(graph.IntsAttr("pads", 1, 1)), []*Tensor{f32(1, 3, 5, 5), f32(2, 3, 3, 3)}},
		{node(graph.IntsAttr("strides", 1)), []*Tensor{f32(1, 3, 5, 5), f32(2, 3, 3, 3)}},
		{node(graph.IntsAttr("kernel_shape", 2, 2)), []*Tensor{f32(1, 3, 5, 5), f32(2, 3, 3, 3)}},
		{node(), []*Tensor{f32(1, 3, 5, 5), f32(2, 3, 3, 3), f32(3)}},
		{node(), []*Tensor{f32(1, 3, 5, 5), New(graph.Float64, 2, 3, 3, 3)}},
		{node(), []*Tensor{New(graph.Int32, 1, 3, 5, 5), New(graph.Int32, 2, 3, 3, 3)}},
		{node(), []*Tensor{f32(1, 3, 5, 5), nil}},
	}
	for i, c := range cases {
		k, err := buildConv(c.n, 22)
		if err != nil {
			continue
		}
		if _, err := k.Run(&Context{Threads: 2}, c.in); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	// Huge strides, dilations and pads neither crash nor allocate by them.
	for _, attrs := range [][]*graph.Attribute{
		{graph.IntsAttr("strides", 1<<30, 1<<30)},
		{graph.IntsAttr("dilations", 1<<20, 1<<20), graph.IntsAttr("pads", 1<<20, 1<<20, 1<<20, 1<<20)},
	} {
		k, err := buildConv(node(attrs...), 22)
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.Run(&Context{Threads: 2}, []*Tensor{f32(1, 2, 5, 5), f32(2, 1, 3, 3), f32(2)})
		if err == nil && out[0].Len() > 1<<24 {
			t.Errorf("%v: output of %v", attrs[0].Name, out[0].Shape)
		}
	}
	for _, bad := range []*graph.Attribute{graph.IntAttr("group", 0), graph.IntsAttr("strides", 0, 1), graph.IntsAttr("pads", -1, 0, 0, 0), graph.StringAttr("auto_pad", "SAME")} {
		if _, err := buildConv(node(bad), 22); err == nil {
			t.Errorf("attribute %s: no error", bad.Name)
		}
	}
}

// TestConvNetSession runs a small CNN (Conv, depthwise Conv, pooling,
// ConvTranspose, Gemm) through a Session and checks that 1 and 4 threads
// give the same bits.
func TestConvNetSession(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	b := graph.NewBuilder(17)
	constF := func(name string, shape ...int64) *graph.Value {
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.3)
		}
		return b.Const(graph.FromFloat32s(name, shape, v))
	}
	x := b.Input("x", graph.Float32, 1, 3, 32, 40)
	y := b.Op("Conv", x, constF("w1", 16, 3, 3, 3), constF("b1", 16),
		graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	y = b.Op("Conv", y, constF("w2", 16, 1, 3, 3), constF("b2", 16), graph.IntAttr("group", 16),
		graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Conv", y, constF("w3", 32, 16, 1, 1), constF("b3", 32), graph.IntsAttr("kernel_shape", 1, 1))
	y = b.Op("MaxPool", y, graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2))
	u := b.Op("ConvTranspose", y, constF("w4", 32, 8, 2, 2), graph.IntsAttr("strides", 2, 2))
	p := b.Op("GlobalAveragePool", y)
	p = b.Op("Flatten", p)
	p = b.Op("Gemm", p, constF("w5", 32, 10), constF("b5", 10))
	b.Output(u, p)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*Tensor{"x": randTensorF32(r, 1, 3, 32, 40)}
	var results []map[string]*Tensor
	for _, threads := range []int{1, 4} {
		s, err := NewSession(m, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, out)
	}
	for name, t1 := range results[0] {
		t4 := results[1][name]
		if !equalShape(t1.Shape, t4.Shape) {
			t.Fatalf("%s: shapes %v and %v", name, t1.Shape, t4.Shape)
		}
		if i := sameF32Bits(t1.F32(), t4.F32()); i >= 0 {
			t.Fatalf("%s: threads 4 differ from 1 at %d", name, i)
		}
		for _, v := range t1.F32() {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s: NaN in the output", name)
			}
		}
	}
	if len(results[0]) != 2 {
		t.Fatalf("%d outputs, want 2", len(results[0]))
	}
}

// TestConvEmptyTensors runs convolutions whose input has an empty axis:
// an empty output, or one made of the bias alone, never a panic.
func TestConvEmptyTensors(t *testing.T) {
	f32 := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	mk := func(op string, attrs ...*graph.Attribute) *graph.Node { return &graph.Node{OpType: op, Attrs: attrs} }
	pads := graph.IntsAttr("pads", 1, 1, 1, 1)
	cases := []struct {
		n  *graph.Node
		in []*Tensor
	}{
		{mk("Conv"), []*Tensor{f32(0, 2, 5, 5), f32(3, 2, 3, 3), f32(3)}},
		{mk("Conv", pads), []*Tensor{f32(1, 2, 0, 5), f32(3, 2, 1, 1), f32(3)}},
		{mk("Conv", pads), []*Tensor{f32(1, 0, 4, 4), f32(3, 0, 3, 3), f32(3)}},
		{mk("Conv", graph.StringAttr("auto_pad", "SAME_UPPER")), []*Tensor{f32(1, 2, 0, 0), f32(3, 2, 3, 3)}},
		{mk("ConvTranspose"), []*Tensor{f32(1, 2, 0, 3), f32(2, 3, 3, 3), f32(3)}},
		{mk("ConvTranspose"), []*Tensor{f32(0, 2, 4, 3), f32(2, 3, 3, 3)}},
		{mk("Conv", pads), []*Tensor{f32(1, 2, 0, 5, 4), f32(3, 2, 1, 1, 1)}},
		{mk("Conv", graph.IntsAttr("pads", 1, 1, 1, 1, 1, 1)), []*Tensor{f32(1, 2, 4, 5, 0), f32(3, 2, 1, 1, 1), f32(3)}},
		{mk("Conv", pads), []*Tensor{f32(1, 2, 5, 0), f32(3, 2, 1, 1), f32(3)}},
		{mk("ConvTranspose"), []*Tensor{f32(1, 2, 3, 0), f32(2, 3, 3, 3), f32(3)}},
		{mk("ConvTranspose"), []*Tensor{f32(1, 2, 3, 4, 0), f32(2, 3, 3, 3, 3), f32(3)}},
	}
	for i, c := range cases {
		var k Kernel
		var err error
		if c.n.OpType == "Conv" {
			k, err = buildConv(c.n, 22)
		} else {
			k, err = buildConvTranspose(c.n, 22)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{1, 3} {
			out, err := k.Run(&Context{Threads: threads}, c.in)
			if err != nil {
				continue
			}
			for _, v := range out[0].F32() {
				if v != 0 {
					t.Fatalf("case %d: output %v has %v", i, out[0].Shape, v)
				}
			}
		}
	}
}

// TestConvTransposeUpsampling checks the non-overlapping (scatter) path
// on the shapes of upsampling layers, fully and partly covered outputs.
func TestConvTransposeUpsampling(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	cases := []struct {
		c, m, group int
		in, k, s    []int
		attrs       []*graph.Attribute
	}{
		{24, 24, 1, []int{20, 20}, []int{2, 2}, []int{2, 2}, nil},
		{24, 1, 1, []int{17, 9}, []int{2, 2}, []int{2, 2}, nil},
		{4, 6, 2, []int{7, 5}, []int{2, 3}, []int{3, 3}, []*graph.Attribute{graph.IntsAttr("output_padding", 2, 1)}},
		{3, 5, 1, []int{9}, []int{2}, []int{4}, []*graph.Attribute{graph.IntsAttr("pads", 1, 2)}},
	}
	for _, c := range cases {
		n := &graph.Node{OpType: "ConvTranspose", Attrs: append([]*graph.Attribute{
			graph.IntsAttr("strides", ints64(c.s)...), graph.IntAttr("group", int64(c.group))}, c.attrs...)}
		k, err := buildConvTranspose(n, 22)
		if err != nil {
			t.Fatal(err)
		}
		in := []*Tensor{randTensorF32(r, append([]int{2, c.c}, c.in...)...),
			randTensorF32(r, append([]int{c.c, c.m / c.group}, c.k...)...), randTensorF32(r, c.m)}
		if !transposeScatters(mustTransposeWindow(t, k, in)) {
			t.Fatalf("%v: not a scatter case", c)
		}
		want := convRun(t, k, 1, convertAll(in, toF64Tensor)...)[0]
		got := convRun(t, k, 2, in...)[0]
		compareF32F64(t, fmt.Sprint(c), got, want, c.c+1)
	}
}

func mustTransposeWindow(t *testing.T, k Kernel, in []*Tensor) *window {
	s, err := k.(*convTransposeKernel).shape(in[0], in[1], in[2])
	if err != nil {
		t.Fatal(err)
	}
	return s.win
}
