// Tests of the elementwise kernels: the broadcast walk against the plain
// index map, fast float32 paths against the scalar definitions, integer
// semantics (truncating Div, Mod signs, Pow, shifts), Cast bit patterns of
// the float8/float4 formats against the ONNX test data, bit-identical
// results for any thread count, and errors (never panics) on bad inputs.
// The helpers named ew* are shared by the activation, reduction and
// normalization tests.
package runtime

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// ewNode makes a node of op with the given attributes and output count.
func ewNode(op string, nOut int, attrs ...*graph.Attribute) *graph.Node {
	n := &graph.Node{OpType: op, Name: "n", Attrs: attrs}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &graph.Value{Name: "out"})
	}
	return n
}

func ewInt(name string, v int64) *graph.Attribute {
	return &graph.Attribute{Name: name, Type: graph.AttrInt, Int: v}
}

func ewFloat(name string, v float32) *graph.Attribute {
	return &graph.Attribute{Name: name, Type: graph.AttrFloat, Float: v}
}

func ewInts(name string, v ...int64) *graph.Attribute {
	return &graph.Attribute{Name: name, Type: graph.AttrInts, Ints: v}
}

func ewString(name, v string) *graph.Attribute {
	return &graph.Attribute{Name: name, Type: graph.AttrString, String: v}
}

// ewRun builds and runs the kernel of n at opset with the given threads.
func ewRun(n *graph.Node, opset int64, threads int, in ...*Tensor) ([]*Tensor, error) {
	b := DefaultRegistry().Lookup("", n.OpType)
	if b == nil {
		return nil, unsupportedError(n, opset)
	}
	k, err := buildKernel(b, n, opset)
	if err != nil {
		return nil, err
	}
	return runKernel(k, &Context{Node: n, Opset: opset, Threads: threads}, in)
}

// ewMust is ewRun that fails the test on an error and returns output 0.
func ewMust(t *testing.T, n *graph.Node, opset int64, in ...*Tensor) *Tensor {
	t.Helper()
	outs, err := ewRun(n, opset, 1, in...)
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	return outs[0]
}

// ewRand returns a float32 tensor of normal values (scaled by s).
func ewRand(r *rand.Rand, s float64, shape ...int) *Tensor {
	t := New(graph.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(r.NormFloat64() * s)
	}
	return t
}

// ewSameBits reports the first element where two tensors differ in type,
// shape or bits (-1: identical).
func ewSameBits(a, b *Tensor) int {
	if a.DType != b.DType || !equalShape(a.Shape, b.Shape) {
		return 0
	}
	x, _ := ToGraph("a", a)
	y, _ := ToGraph("b", b)
	rx, _ := x.Raw()
	ry, _ := y.Raw()
	for i := range rx {
		if i >= len(ry) || rx[i] != ry[i] {
			return i
		}
	}
	if len(rx) != len(ry) {
		return len(rx)
	}
	return -1
}

// ewShapes are broadcasting cases, including size-1 and size-0 axes.
var ewShapes = [][2][]int{
	{{2, 3, 4}, {2, 3, 4}},
	{{2, 3, 4}, {}},
	{{}, {5}},
	{{1, 3, 1, 1}, {2, 3, 5, 7}},
	{{2, 3, 5, 7}, {3, 1, 1}},
	{{2, 1, 4}, {3, 1}},
	{{4, 1}, {1, 5}},
	{{2, 3, 4, 5}, {1, 1, 4, 1}},
	{{2, 3, 4, 5}, {2, 1, 4, 1}},
	{{1}, {1}},
	{{2, 0, 3}, {3}},
	{{7, 1, 9}, {1, 8, 1}},
	{{3, 1, 2, 1, 2}, {1, 4, 1, 3, 2}},
}

func TestBroadcastWalkMatchesIndexMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range ewShapes {
		a, b := ewRand(r, 1, c[0]...), ewRand(r, 1, c[1]...)
		out, err := BroadcastShape(a.Shape, b.Shape)
		if err != nil {
			t.Fatal(err)
		}
		ia, ib := BroadcastIndex(a.Shape, out), BroadcastIndex(b.Shape, out)
		for _, op := range []string{"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"} {
			for _, threads := range []int{1, 3} {
				outs, err := ewRun(ewNode(op, 1), 17, threads, a, b)
				if err != nil {
					t.Fatalf("%s %v %v: %v", op, a.Shape, b.Shape, err)
				}
				got := outs[0]
				if !equalShape(got.Shape, out) {
					t.Fatalf("%s %v %v: shape %v, want %v", op, a.Shape, b.Shape, got.Shape, out)
				}
				for i := range ia {
					x, y := float64(a.F32()[ia[i]]), float64(b.F32()[ib[i]])
					var want float32
					switch op {
					case "Add":
						want = float32(x) + float32(y)
					case "Sub":
						want = float32(x) - float32(y)
					case "Mul":
						want = float32(x) * float32(y)
					case "Div":
						want = float32(x) / float32(y)
					case "Max":
						want = float32(math.Max(x, y))
					case "Min":
						want = float32(math.Min(x, y))
					case "Pow":
						want = float32(math.Pow(x, y))
					}
					if g := got.F32()[i]; math.Float32bits(g) != math.Float32bits(want) && !(g != g && want != want) {
						t.Fatalf("%s %v %v threads %d: element %d is %v, want %v", op, a.Shape, b.Shape, threads, i, g, want)
					}
				}
			}
		}
	}
}

func TestWhereThreeWayBroadcast(t *testing.T) {
	c := New(graph.Bool, 2, 1, 3)
	for i := range c.Data.([]bool) {
		c.Data.([]bool)[i] = i%2 == 0
	}
	x := FromFloat32([]int{4, 1}, []float32{1, 2, 3, 4})
	y := Scalar(-1)
	got := ewMust(t, ewNode("Where", 1), 16, c, x, y)
	want := []float32{1, -1, 1, 2, -1, 2, 3, -1, 3, 4, -1, 4, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1}
	if !equalShape(got.Shape, []int{2, 4, 3}) {
		t.Fatalf("shape %v", got.Shape)
	}
	for i, w := range want {
		if got.F32()[i] != w {
			t.Fatalf("element %d is %v, want %v (%v)", i, got.F32()[i], w, got.F32())
		}
	}
}

func TestIntegerSemantics(t *testing.T) {
	i32 := func(v ...int32) *Tensor { return &Tensor{DType: graph.Int32, Shape: []int{len(v)}, Data: v} }
	check := func(name string, got *Tensor, want ...int32) {
		t.Helper()
		g := got.Data.([]int32)
		for i := range want {
			if g[i] != want[i] {
				t.Fatalf("%s: got %v, want %v", name, g, want)
			}
		}
	}
	a, b := i32(-7, 7, -7, 7, 5, math.MinInt32), i32(2, 2, -2, -2, 0, -1)
	check("Div", ewMust(t, ewNode("Div", 1), 14, a, b), -3, 3, 3, -3, 0, math.MinInt32)
	check("Mod", ewMust(t, ewNode("Mod", 1), 13, a, b), 1, 1, -1, -1, 0, 0)
	check("Mod fmod", ewMust(t, ewNode("Mod", 1, ewInt("fmod", 1)), 13, a, b), -1, 1, -1, 1, 0, 0)
	check("Pow", ewMust(t, ewNode("Pow", 1), 15, i32(2, -3, 2, 1), i32(10, 3, -1, -5)), 1024, -27, 0, 1)
	u8 := &Tensor{DType: graph.Uint8, Shape: []int{3}, Data: []uint8{1, 255, 16}}
	sh := &Tensor{DType: graph.Uint8, Shape: []int{3}, Data: []uint8{7, 1, 9}}
	got := ewMust(t, ewNode("BitShift", 1, ewString("direction", "LEFT")), 11, u8, sh).Data.([]uint8)
	if got[0] != 128 || got[1] != 254 || got[2] != 0 {
		t.Fatalf("BitShift LEFT: %v", got)
	}
	i8 := &Tensor{DType: graph.Int8, Shape: []int{2}, Data: []int8{100, -100}}
	sum := ewMust(t, ewNode("Add", 1), 14, i8, i8).Data.([]int8)
	if sum[0] != -56 || sum[1] != 56 {
		t.Fatalf("int8 Add should wrap: %v", sum)
	}
	// Pow with a float exponent keeps the integer base type.
	p := ewMust(t, ewNode("Pow", 1), 15, i32(2, 3), FromFloat32([]int{2}, []float32{0.5, 2}))
	check("Pow int^float", p, 1, 9)
}

func TestFloat16Arithmetic(t *testing.T) {
	h := func(v ...float32) *Tensor {
		d := make([]float16.Float16, len(v))
		for i, x := range v {
			d[i] = float16.Fromfloat32(x)
		}
		return &Tensor{DType: graph.Float16, Shape: []int{len(v)}, Data: d}
	}
	got := ewMust(t, ewNode("Add", 1), 14, h(1, 2048, 0.1), h(2, 1, 0.2)).Data.([]float16.Float16)
	// 2048+1 is not a float16: it rounds to even (2048).
	want := []float32{3, 2048, float16.Fromfloat32(float16.Fromfloat32(0.1).Float32() + float16.Fromfloat32(0.2).Float32()).Float32()}
	for i, w := range want {
		if got[i].Float32() != w {
			t.Fatalf("element %d is %v, want %v", i, got[i].Float32(), w)
		}
	}
}

func TestUnaryMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := ewRand(r, 3, 1000)
	x.F32()[0], x.F32()[1], x.F32()[2] = float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())
	x.F32()[3], x.F32()[4] = 100, -110
	for name, f := range map[string]func(float64) float64{
		"Exp": math.Exp, "Neg": func(v float64) float64 { return -v }, "Abs": math.Abs,
		"Reciprocal": func(v float64) float64 { return 1 / v }, "Sqrt": math.Sqrt, "Round": math.RoundToEven,
		"Sigmoid": func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
	} {
		got := ewMust(t, ewNode(name, 1), 13, x).F32()
		for i, v := range x.F32() {
			want := float32(f(float64(v)))
			g := got[i]
			if want != want {
				if g == g {
					t.Fatalf("%s(%v) = %v, want NaN", name, v, g)
				}
				continue
			}
			// Within two float32 ulps of the correctly rounded value.
			if d := math.Abs(float64(g) - float64(want)); d > 0 && d > 2*ulp32(want) {
				t.Fatalf("%s(%v) = %v, want %v", name, v, g, want)
			}
		}
	}
}

func ulp32(v float32) float64 {
	a := float32(math.Abs(float64(v)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

func TestElementwiseThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a := ewRand(r, 2, 3, 64, 40, 40)
	b := ewRand(r, 1, 64, 1, 1)
	c := ewRand(r, 1, 3, 64, 40, 40)
	cases := []struct {
		op string
		in []*Tensor
	}{
		{"Add", []*Tensor{a, b}}, {"Mul", []*Tensor{a, c}}, {"Div", []*Tensor{b, a}}, {"Sub", []*Tensor{a, Scalar(0.5)}},
		{"Relu", []*Tensor{a}}, {"Sigmoid", []*Tensor{a}}, {"Exp", []*Tensor{a}}, {"Tanh", []*Tensor{a}},
		{"Max", []*Tensor{a, b, c}}, {"Mean", []*Tensor{a, c}}, {"Erf", []*Tensor{a}},
	}
	for _, c := range cases {
		one, err := ewRun(ewNode(c.op, 1), 17, 1, c.in...)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range []int{2, 3, 8} {
			many, err := ewRun(ewNode(c.op, 1), 17, th, c.in...)
			if err != nil {
				t.Fatal(err)
			}
			if i := ewSameBits(one[0], many[0]); i >= 0 {
				t.Fatalf("%s: %d threads differ from 1 at byte %d", c.op, th, i)
			}
		}
	}
}

func TestElementwiseBadInputs(t *testing.T) {
	f := FromFloat32([]int{2, 3}, make([]float32, 6))
	g := FromFloat32([]int{4}, make([]float32, 4))
	i := FromInt64([]int{2}, []int64{1, 2})
	short := &Tensor{DType: graph.Float32, Shape: []int{5}, Data: make([]float32, 2)}
	wrong := &Tensor{DType: graph.Float32, Shape: []int{2}, Data: []int64{1, 2}}
	huge := &Tensor{DType: graph.Float32, Shape: []int{1 << 20, 1}, Data: make([]float32, 1<<20)}
	huge2 := &Tensor{DType: graph.Float32, Shape: []int{1, 1 << 20}, Data: make([]float32, 1<<20)}
	cases := []struct {
		op string
		in []*Tensor
	}{
		{"Add", []*Tensor{f, g}},
		{"Add", []*Tensor{f, i}},
		{"Add", []*Tensor{f}},
		{"Add", []*Tensor{f, nil}},
		{"Mul", []*Tensor{short, short}},
		{"Mul", []*Tensor{wrong, wrong}},
		{"Mul", []*Tensor{huge, huge2}},
		{"Where", []*Tensor{f, f, f}},
		{"Equal", []*Tensor{f, i}},
		{"Sqrt", []*Tensor{i}},
		{"Not", []*Tensor{f}},
		{"BitwiseAnd", []*Tensor{f, f}},
		{"And", []*Tensor{f, f}},
		{"Sum", []*Tensor{}},
		{"Max", []*Tensor{f, i}},
		{"IsNaN", []*Tensor{i}},
		{"Exp", []*Tensor{nil}},
		{"CastLike", []*Tensor{f}},
		{"Less", []*Tensor{FromFloat32([]int{2}, []float32{1, 2}), wrong}},
	}
	for _, c := range cases {
		if _, err := ewRun(ewNode(c.op, 1), 17, 2, c.in...); err == nil {
			t.Errorf("%s with %v: no error", c.op, c.in)
		}
	}
	// Builders reject bad attributes.
	for _, n := range []*graph.Node{
		ewNode("Mod", 1, ewInt("fmod", 3)),
		ewNode("BitShift", 1, ewString("direction", "UP")),
		ewNode("Cast", 1),
		ewNode("Cast", 1, ewInt("to", 99)),
		ewNode("Cast", 1, ewInt("to", int64(graph.Float8E8M0)), ewString("round_mode", "sideways")),
	} {
		if _, err := ewRun(n, 21, 1, f); err == nil {
			t.Errorf("%s %v: no error", n.OpType, n.Attrs)
		}
	}
	// Opset 6 broadcasting needs the attribute.
	if _, err := ewRun(ewNode("Add", 1), 6, 1, f, FromFloat32([]int{3}, make([]float32, 3))); err == nil {
		t.Error("opset 6 Add of different shapes without broadcast=1: no error")
	}
	got, err := ewRun(ewNode("Add", 1, ewInt("broadcast", 1), ewInt("axis", 0)), 6, 1, f, FromFloat32([]int{2}, []float32{1, 2}))
	if err != nil || got[0].F32()[3] != 2 {
		t.Errorf("opset 6 Add with axis 0: %v %v", got, err)
	}
}

// TestCastSmallFloatBits compares Cast and CastLike outputs of the float8,
// float4 and float8e8m0 types bit for bit with the ONNX test data (the
// conformance comparison reads them only as a type and shape).
func TestCastSmallFloatBits(t *testing.T) {
	dirs, _ := filepath.Glob("../../shared/onnx/node-tests/test_cast*")
	if len(dirs) == 0 {
		t.Skip("ONNX node tests not found")
	}
	checked := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if strings.HasSuffix(name, "_expanded") {
			continue
		}
		m, err := graph.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		out := m.Graph.Outputs[0]
		switch out.DType {
		case graph.Float8E4M3FN, graph.Float8E4M3FNUZ, graph.Float8E5M2, graph.Float8E5M2FNUZ, graph.Float4E2M1, graph.Float8E8M0:
		default:
			continue
		}
		sess, err := NewSession(m, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		inputs := map[string]*Tensor{}
		for i, v := range sess.Inputs() {
			in, err := ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_"+string(rune('0'+i))+".pb"))
			if err != nil {
				t.Fatal(err)
			}
			inputs[v.Name] = in
		}
		res, err := sess.Run(inputs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := ReadTensorFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		got := res[out.Name]
		g, w := got.Data.([]uint8), want.Data.([]uint8)
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s: element %d is %#x, want %#x (input %v)", name, i, g[i], w[i], inputs)
				break
			}
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d cast tests with small float outputs found", checked)
	}
}

func TestMiniFloatRoundTrip(t *testing.T) {
	for _, dt := range []graph.DType{graph.Float8E4M3FN, graph.Float8E4M3FNUZ, graph.Float8E5M2, graph.Float8E5M2FNUZ, graph.Float4E2M1} {
		f := miniFloatOf(dt)
		n := 256
		if dt == graph.Float4E2M1 {
			n = 16
		}
		for b := 0; b < n; b++ {
			v := f.decode(uint16(b))
			if v != v {
				continue
			}
			if dt == graph.Float8E4M3FNUZ || dt == graph.Float8E5M2FNUZ {
				if b == 0x80 {
					continue
				}
			}
			if got := f.encode(v, false); got != uint16(b) {
				t.Fatalf("%v: pattern %#x decodes to %v, which encodes to %#x", dt, b, v, got)
			}
		}
	}
	// Float16 through the same encoder agrees with the float16 package.
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 100000; i++ {
		v := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-20)))
		if got, want := fmtFloat16.encode(float64(v), false), float16.Fromfloat32(v).Bits(); got != want {
			t.Fatalf("float16 of %v: %#x, want %#x", v, got, want)
		}
	}
}

func TestCastIntegersAndStrings(t *testing.T) {
	cast := func(x *Tensor, to graph.DType) *Tensor {
		t.Helper()
		return ewMust(t, ewNode("Cast", 1, ewInt("to", int64(to))), 21, x)
	}
	i16 := &Tensor{DType: graph.Int16, Shape: []int{3}, Data: []int16{200, -1, 300}}
	if got := cast(i16, graph.Int8).Data.([]int8); got[0] != -56 || got[1] != -1 || got[2] != 44 {
		t.Fatalf("int16 to int8 should wrap: %v", got)
	}
	if got := cast(i16, graph.Uint8).Data.([]uint8); got[0] != 200 || got[1] != 255 {
		t.Fatalf("int16 to uint8 should wrap: %v", got)
	}
	f := FromFloat32([]int{4}, []float32{-2.7, 2.7, float32(math.NaN()), 1e20})
	if got := cast(f, graph.Int32).Data.([]int32); got[0] != -2 || got[1] != 2 {
		t.Fatalf("float to int32 should truncate: %v", got)
	}
	if got := cast(f, graph.Bool).Data.([]bool); !got[0] || !got[2] {
		t.Fatalf("float to bool: %v", got)
	}
	big := &Tensor{DType: graph.Uint64, Shape: []int{1}, Data: []uint64{math.MaxUint64}}
	if got := cast(big, graph.Float64).Data.([]float64); got[0] != 18446744073709551615.0 {
		t.Fatalf("uint64 max to float64: %v", got)
	}
	s := &Tensor{DType: graph.String, Shape: []int{5}, Data: []string{"1.5", "-INF", "nan", "1e3", "+Inf"}}
	g := cast(s, graph.Float32).F32()
	if g[0] != 1.5 || !math.IsInf(float64(g[1]), -1) || g[2] == g[2] || g[3] != 1000 || !math.IsInf(float64(g[4]), 1) {
		t.Fatalf("string to float: %v", g)
	}
	if got := cast(FromFloat32([]int{3}, []float32{1, 0.1, 1e-5}), graph.String).Data.([]string); got[0] != "1.0" || got[1] != "0.1" || got[2] != "1e-05" {
		t.Fatalf("float to string: %q", got)
	}
	if _, err := ewRun(ewNode("Cast", 1, ewInt("to", int64(graph.Float32))), 21, 1, &Tensor{DType: graph.String, Shape: []int{1}, Data: []string{"abc"}}); err == nil {
		t.Fatal("casting \"abc\" to float: no error")
	}
	// Cast to the same type is a view, not a copy.
	same := cast(f, graph.Float32)
	if &same.F32()[0] != &f.F32()[0] {
		t.Fatal("Cast to the same type copied the data")
	}
	_ = os.Getenv
}

func BenchmarkAddPerChannel(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, c := ewRand(r, 1, 1, 64, 80, 80), ewRand(r, 1, 64, 1, 1)
	benchOp(b, ewNode("Add", 1), 14, x, c)
}

func BenchmarkMulSameShape(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := ewRand(r, 1, 1, 64, 80, 80), ewRand(r, 1, 1, 64, 80, 80)
	benchOp(b, ewNode("Mul", 1), 14, x, y)
}

func BenchmarkSigmoid(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchOp(b, ewNode("Sigmoid", 1), 13, ewRand(r, 3, 1, 64, 80, 80))
}

// benchOp times one kernel on one thread, its output recycled through a
// session-like pool so allocation does not dominate.
func benchOp(b *testing.B, n *graph.Node, opset int64, in ...*Tensor) {
	k, err := buildKernel(DefaultRegistry().Lookup("", n.OpType), n, opset)
	if err != nil {
		b.Fatal(err)
	}
	s := &Session{pool: NewBufferPool()}
	ctx := &Context{Node: n, Opset: opset, Threads: 1, ex: &execution{s: s}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		outs, err := k.Run(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			if o != nil && o.pooled {
				s.pool.put(o)
			}
		}
	}
}

func TestCastOpset1TypeName(t *testing.T) {
	got := ewMust(t, ewNode("Cast", 1, ewString("to", "INT32")), 1, FromFloat32([]int{2}, []float32{1.9, -1.9}))
	if d := got.Data.([]int32); d[0] != 1 || d[1] != -1 {
		t.Fatalf("Cast-1 to INT32: %v", d)
	}
	if _, err := ewRun(ewNode("Cast", 1, ewString("to", "QUATERNION")), 1, 1, Scalar(1)); err == nil {
		t.Fatal("an unknown type name: no error")
	}
}

// mathOps are the operators of the elementwise, activation, reduction and
// normalization kernels.
var mathOps = []string{
	"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot",
	"And", "Or", "Xor", "Not", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Where",
	"Max", "Min", "Sum", "Mean", "Neg", "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Floor", "Ceil", "Round",
	"Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf",
	"IsNaN", "IsInf", "Cast", "CastLike",
	"Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
	"Softplus", "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Clip", "Softmax", "LogSoftmax", "Hardmax",
	"Shrink", "Swish",
	"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
	"ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "CumSum", "CumProd",
	"BatchNormalization", "LayerNormalization", "RMSNormalization", "InstanceNormalization",
	"GroupNormalization", "LpNormalization", "MeanVarianceNormalization", "ImageScaler",
}

// TestMathKernelsNeverPanic feeds every kernel random mixes of types,
// shapes (scalars, empty and mismatched ones, data shorter than the shape)
// and attributes; each must return a result or an error, never panic.
func TestMathKernelsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shapes := [][]int{{}, {0}, {1}, {3}, {2, 3}, {3, 1}, {2, 0, 3}, {1, 3, 2, 2}, {2, 3, 2, 2}, {4, 3, 1, 1}}
	types := []graph.DType{graph.Float32, graph.Float64, graph.Float16, graph.Int64, graph.Int32, graph.Int8,
		graph.Uint8, graph.Uint64, graph.Bool, graph.String, graph.Float8E4M3FN, graph.Int4, graph.BFloat16}
	tensor := func() *Tensor {
		if r.IntN(12) == 0 {
			return nil
		}
		sh := shapes[r.IntN(len(shapes))]
		dt := types[r.IntN(len(types))]
		if r.IntN(3) > 0 {
			dt = graph.Float32
		}
		x := New(dt, sh...)
		if f := x.F32(); f != nil {
			for i := range f {
				f[i] = float32(r.NormFloat64() * 3)
			}
		}
		if i := x.I64(); i != nil {
			for k := range i {
				i[k] = int64(r.IntN(7) - 3)
			}
		}
		if r.IntN(25) == 0 && x.Len() > 1 {
			x.Shape = append([]int{}, sh...)
			x.Shape[0]++ // data shorter than the shape
		}
		return x
	}
	attrs := func() []*graph.Attribute {
		var as []*graph.Attribute
		pick := []*graph.Attribute{
			ewInt("axis", int64(r.IntN(9)-4)), ewInts("axes", int64(r.IntN(7)-3)), ewInt("keepdims", int64(r.IntN(2))),
			ewInt("to", int64(r.IntN(27))), ewInt("num_groups", int64(r.IntN(4))), ewInt("fmod", int64(r.IntN(2))),
			ewString("direction", []string{"LEFT", "RIGHT", "X"}[r.IntN(3)]), ewInt("p", int64(r.IntN(4))),
			ewInt("select_last_index", 1), ewInt("exclusive", 1), ewInt("reverse", 1), ewInt("training_mode", 1),
			ewInt("spatial", 0), ewInt("broadcast", 1), ewFloat("alpha", float32(r.NormFloat64())),
			ewInt("noop_with_empty_axes", 1), ewString("approximate", "tanh"), ewInt("stash_type", 1),
		}
		for i := r.IntN(4); i > 0; i-- {
			as = append(as, pick[r.IntN(len(pick))])
		}
		return as
	}
	reg := DefaultRegistry()
	for _, op := range mathOps {
		b := reg.Lookup("", op)
		if b == nil {
			t.Fatalf("no kernel for %s", op)
		}
		for trial := 0; trial < 400; trial++ {
			n := ewNode(op, 1+r.IntN(3), attrs()...)
			opset := []int64{6, 7, 11, 13, 18, 21}[r.IntN(6)]
			in := make([]*Tensor, r.IntN(6))
			for i := range in {
				in[i] = tensor()
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s opset %d attrs %v inputs %v: panic: %v", op, opset, n.Attrs, in, p)
					}
				}()
				k, err := b(n, opset)
				if err != nil {
					return
				}
				_, _ = k.Run(&Context{Node: n, Opset: opset, Threads: 2}, in)
			}()
		}
	}
}
