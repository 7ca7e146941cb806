package macs

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// TestQDQUnit checks the unit rule on hand-built graphs: the consumers of
// a Conv's output and the type of its bias decide.
func TestQDQUnit(t *testing.T) {
	build := func(biasType graph.DType, consumers ...string) *graph.Node {
		b := graph.NewBuilder(17)
		one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
		x := b.Op("DequantizeLinear", b.Input("xq", graph.Uint8, 1, 1, 4, 4), one)
		w := b.Op("DequantizeLinear", b.Input("wq", graph.Int8, 2, 1, 3, 3), one)
		bias := b.Op("DequantizeLinear", b.Const(graph.NewTensor("bq", biasType, []int64{2}, make([]byte, 2*biasType.Bits()/8))), one)
		y := b.Op("Conv", x, w, bias)
		for _, op := range consumers {
			switch op {
			case "Q":
				b.Output(b.Op("QuantizeLinear", y, one))
			case "Q16":
				zp := b.Const(graph.NewTensor("zp16", graph.Uint16, nil, make([]byte, 2)))
				b.Output(b.Op("QuantizeLinear", y, one, zp))
			case "Relu":
				b.Output(b.Op("Relu", y))
			case "out":
				b.Output(y)
			}
		}
		return y.Producer
	}
	cases := []struct {
		bias      graph.DType
		consumers []string
		want      bool
	}{
		{graph.Int32, []string{"Q"}, true},
		{graph.Int32, []string{"Q", "Q"}, true},
		{graph.Int32, []string{"Q", "Relu"}, false},
		{graph.Int32, []string{"out"}, false},
		{graph.Int32, []string{"Q", "out"}, false},
		{graph.Int8, []string{"Q"}, false},
		// a 16-bit output is no integer kernel's
		{graph.Int32, []string{"Q16"}, false},
		{graph.Int32, []string{"Q", "Q16"}, false},
	}
	// A bias read from a graph input is no constant.
	b := graph.NewBuilder(17)
	one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
	x := b.Op("DequantizeLinear", b.Input("xq", graph.Uint8, 1, 1, 4, 4), one)
	w := b.Op("DequantizeLinear", b.Input("wq", graph.Int8, 2, 1, 3, 3), one)
	bias := b.Op("DequantizeLinear", b.Input("bq", graph.Int32, 2), one)
	y := b.Op("Conv", x, w, bias)
	b.Output(b.Op("QuantizeLinear", y, one))
	if QDQUnit(y.Producer) {
		t.Error("a bias from a graph input makes a unit")
	}
	for _, c := range cases {
		n := build(c.bias, c.consumers...)
		if got := QDQUnit(n); got != c.want {
			t.Errorf("bias %v, consumers %v: unit %v, want %v", c.bias, c.consumers, got, c.want)
		}
		// TensorRT's rule reads the data and weight inputs alone.
		if cv := Int8Coverage(n.Graph); cv.InputsQuantized != 1 || cv.Units != map[bool]int{true: 1}[c.want] {
			t.Errorf("bias %v, consumers %v: %d of %d with int8 inputs, %d units", c.bias, c.consumers, cv.InputsQuantized, cv.WeightedNodes, cv.Units)
		}
	}
}

// TestORTRunsInFloat: of the complete units, a ConvTranspose, and a
// MatMul whose float output only an Add of a constant reads, are the ones
// ONNX Runtime's CPU kernels run in float; Int8Coverage counts them.
func TestORTRunsInFloat(t *testing.T) {
	build := func(op, reader string) *graph.Node {
		b := graph.NewBuilder(17)
		one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
		x := b.Op("DequantizeLinear", b.Input("xq", graph.Uint8, 1, 2, 4, 4), one)
		wt, err := graph.NewTensor("wq", graph.Int8, []int64{2, 2, 1, 1}, make([]byte, 4))
		if op == "MatMul" {
			wt, err = graph.NewTensor("wq", graph.Int8, []int64{4, 4}, make([]byte, 16))
		}
		w := b.Op("DequantizeLinear", b.Const(wt, err), one)
		y := b.Op(op, x, w)
		switch reader {
		case "Q":
			b.Output(b.Op("QuantizeLinear", y, one))
		case "AddConst":
			b.Output(b.Op("Add", y, b.Const(graph.FromFloat32s("c", []int64{4}, []float32{1, 2, 3, 4}))))
		case "Relu":
			b.Output(b.Op("Relu", y))
		}
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		if c := Int8Coverage(m.Graph); c.Units != 1 {
			t.Fatalf("%s into %s: %d units, want 1", op, reader, c.Units)
		}
		return y.Producer
	}
	for _, c := range []struct {
		op, reader string
		want       bool
		kinds      string
	}{
		{"Conv", "Q", false, ""},
		{"ConvTranspose", "Q", true, "1 ConvTranspose"},
		{"MatMul", "Q", false, ""},
		{"MatMul", "Relu", false, ""},
		{"MatMul", "AddConst", true, "1 MatMul into a bias Add"},
	} {
		n := build(c.op, c.reader)
		if got := ORTRunsInFloat(n); got != c.want {
			t.Errorf("%s into %s: runs in float %v, want %v", c.op, c.reader, got, c.want)
		}
		if got := Int8Coverage(n.Graph).ORTFloatUnits; got != map[bool]int{true: 1}[c.want] {
			t.Errorf("%s into %s: coverage counts %d float units", c.op, c.reader, got)
		}
		if got := Int8Coverage(n.Graph).ORTFloatKinds(); got != c.kinds {
			t.Errorf("%s into %s: kinds %q, want %q", c.op, c.reader, got, c.kinds)
		}
	}
}

// TestMatMulBroadcast checks the batch broadcast and the shapes that
// leave the count unknown.
func TestMatMulBroadcast(t *testing.T) {
	v := func(dims ...int64) *graph.Value { return &graph.Value{Shape: graph.Fixed(dims...)} }
	cases := []struct {
		a, b *graph.Value
		want int64
		ok   bool
	}{
		{v(3, 4), v(4, 5), 3 * 4 * 5, true},
		{v(7, 3, 4), v(4, 5), 7 * 3 * 4 * 5, true},
		{v(3, 4), v(2, 7, 4, 5), 14 * 3 * 4 * 5, true},
		{v(2, 1, 3, 4), v(1, 6, 4, 5), 12 * 3 * 4 * 5, true},
		{v(0, 3, 4), v(4, 5), 0, true},
		{v(4), v(4), 4, true},
		{v(2, 3, 4), v(3, 4, 5), 0, false}, // batch 2 vs 3
		{v(3, 4), v(5, 6), 0, false},       // inner dims differ
		{v(), v(4), 0, false},              // scalar operand
		{&graph.Value{}, v(4, 5), 0, false},
	}
	for _, c := range cases {
		got, ok := matMulMACs(c.a, c.b, knownSizes)
		if got != c.want || ok != c.ok {
			t.Errorf("matMulMACs(%v, %v) = %d, %v; want %d, %v", c.a.Shape, c.b.Shape, got, ok, c.want, c.ok)
		}
	}
}

func TestMulChecked(t *testing.T) {
	if p, ok := mulChecked(2, 3, 7); p != 42 || !ok {
		t.Errorf("mulChecked(2,3,7) = %d, %v", p, ok)
	}
	if p, ok := mulChecked(0, 1<<62, 1<<62); p != 0 || !ok {
		t.Errorf("mulChecked with a zero = %d, %v", p, ok)
	}
	if _, ok := mulChecked(1<<40, 1<<40); ok {
		t.Error("mulChecked(2^40, 2^40) did not report overflow")
	}
	if _, ok := mulChecked(-1, 2); ok {
		t.Error("mulChecked accepted a negative factor")
	}
}

// TestORTRunsInFloatGemm: ONNX Runtime fuses a Gemm unit into QGemm only
// when its weight's DequantizeLinear states a zero point.
func TestORTRunsInFloatGemm(t *testing.T) {
	for _, zeroPoint := range []bool{false, true} {
		b := graph.NewBuilder(13)
		one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
		x := b.Op("DequantizeLinear", b.Input("xq", graph.Uint8, 2, 4), one)
		wq := b.Const(graph.NewTensor("wq", graph.Int8, []int64{4, 3}, make([]byte, 12)))
		w := b.Op("DequantizeLinear", wq, one)
		if zeroPoint {
			w = b.Op("DequantizeLinear", wq, one, b.Const(graph.NewTensor("wz", graph.Int8, nil, []byte{0})))
		}
		y := b.Op("Gemm", x, w)
		b.Output(b.Op("QuantizeLinear", y, one))
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		c := Int8Coverage(m.Graph)
		if c.Units != 1 || c.ORTFloatUnits != map[bool]int{false: 1}[zeroPoint] {
			t.Errorf("zero point %v: %d units, %d run in float", zeroPoint, c.Units, c.ORTFloatUnits)
		}
		want := map[bool]string{false: "1 Gemm without a weight zero point"}[zeroPoint]
		if got := c.ORTFloatKinds(); got != want {
			t.Errorf("zero point %v: kinds %q, want %q", zeroPoint, got, want)
		}
	}
}

// TestORTRunsInFloatSignedInputs: a unit with int8 inputs runs in float
// when its weight is uint8, or when the Q/DQ pair of its input or of its
// output has other readers (ONNX Runtime then leaves that pair int8); it
// fuses when both pairs feed one reader each, a quantized graph input
// included.
func TestORTRunsInFloatSignedInputs(t *testing.T) {
	build := func(weight graph.DType, computed, sharedIn, sharedOut bool) *graph.Node {
		b := graph.NewBuilder(17)
		one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
		zero := b.Const(graph.NewTensor("z", graph.Int8, nil, []byte{0}))
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		if computed {
			x = b.Op("Relu", x)
		}
		xq := b.Op("DequantizeLinear", b.Op("QuantizeLinear", x, one, zero), one, zero)
		w := b.Op("DequantizeLinear", b.Const(graph.NewTensor("wq", weight, []int64{2, 2, 1, 1}, make([]byte, 4))), one)
		y := b.Op("Conv", xq, w)
		yq := b.Op("DequantizeLinear", b.Op("QuantizeLinear", y, one, zero), one, zero)
		b.Output(b.Op("Sigmoid", yq))
		if sharedIn {
			b.Output(b.Op("Sigmoid", xq))
		}
		if sharedOut {
			b.Output(b.Op("Tanh", yq))
		}
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		return y.Producer
	}
	for _, c := range []struct {
		name                          string
		weight                        graph.DType
		computed, sharedIn, sharedOut bool
		want                          bool
	}{
		{"fused", graph.Int8, true, false, false, false},
		{"uint8 weight", graph.Uint8, true, false, false, true},
		{"shared input", graph.Int8, true, true, false, true},
		{"graph input", graph.Int8, false, false, false, false},
		{"shared output", graph.Int8, true, false, true, true},
	} {
		if got := ORTRunsInFloat(build(c.weight, c.computed, c.sharedIn, c.sharedOut)); got != c.want {
			t.Errorf("%s: runs in float %v, want %v", c.name, got, c.want)
		}
	}
}

// TestORTWeightOnlyKernel: a MatMul reading a float input and an 8-bit
// weight matrix through DequantizeLinear becomes ONNX Runtime's
// weight-only kernel, as does a plain Gemm; a transposed, scaled or
// 2-D-biased Gemm, a complete unit and a 3-D weight do not.
func TestORTWeightOnlyKernel(t *testing.T) {
	build := func(op string, quantIn bool, wdims []int64, attrs ...*graph.Attribute) *graph.Node {
		b := graph.NewBuilder(13)
		one := b.Const(graph.FromFloat32s("s", nil, []float32{1}))
		var x *graph.Value
		if quantIn {
			x = b.Op("DequantizeLinear", b.Input("xq", graph.Uint8, 2, 4), one)
		} else {
			x = b.Op("Tanh", b.Input("x", graph.Float32, 2, 4))
		}
		size := int64(1)
		for _, d := range wdims {
			size *= d
		}
		w := b.Op("DequantizeLinear", b.Const(graph.NewTensor("wq", graph.Int8, wdims, make([]byte, size))), one)
		args := []any{x, w}
		for _, a := range attrs {
			args = append(args, a)
		}
		y := b.Op(op, args...)
		b.Output(b.Op("Tanh", y))
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		return y.Producer
	}
	for _, c := range []struct {
		name string
		n    *graph.Node
		want bool
	}{
		{"MatMul", build("MatMul", false, []int64{4, 3}), true},
		{"Gemm", build("Gemm", false, []int64{4, 3}), true},
		{"Gemm transB", build("Gemm", false, []int64{3, 4}, graph.IntAttr("transB", 1)), false},
		{"Gemm alpha", build("Gemm", false, []int64{4, 3}, graph.FloatAttr("alpha", 0.5)), false},
		{"MatMul unit", build("MatMul", true, []int64{4, 3}), false},
		{"MatMul 3-D weight", build("MatMul", false, []int64{1, 4, 3}), false},
	} {
		if got := ORTWeightOnlyKernel(c.n); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestEinsumMACs: one multiply-accumulate per combination of every index
// of a contraction, the ellipsis broadcast; none for one operand.
func TestEinsumMACs(t *testing.T) {
	for _, c := range []struct {
		eq     string
		shapes [][]int64
		want   int64
		ok     bool
	}{
		{"bsk,kh->bsh", [][]int64{{2, 5, 8}, {8, 16}}, 2 * 5 * 8 * 16, true},
		{"ij,jk", [][]int64{{3, 4}, {4, 6}}, 3 * 4 * 6, true},
		{"...ij,...jk->...ik", [][]int64{{2, 1, 3, 4}, {5, 4, 6}}, 2 * 5 * 3 * 4 * 6, true},
		{"ij->ji", [][]int64{{3, 4}}, 0, true},
		{"ij,jk->ik", [][]int64{{3, 4}, {5, 6}}, 0, false},
		{"ij,jk->ik", [][]int64{{3, 4, 1}, {4, 6}}, 0, false},
	} {
		got, ok := EinsumMACs(c.eq, c.shapes)
		if got != c.want || ok != c.ok {
			t.Errorf("%s %v: %d, %v; want %d, %v", c.eq, c.shapes, got, ok, c.want, c.ok)
		}
	}
}

// TestRecurrentMACs checks the count of an LSTM and a GRU (steps·batch
// times the weights of W and R, whichever layout) and that the coverage
// keeps them apart from the weighted nodes while saying their share.
func TestRecurrentMACs(t *testing.T) {
	b := graph.NewBuilder(14)
	x := b.Input("x", graph.Float32, 5, 2, 3) // 5 steps, batch 2, 3 features
	w := b.Const(graph.FromFloat32s("w", []int64{1, 16, 3}, make([]float32, 16*3)))
	r := b.Const(graph.FromFloat32s("r", []int64{1, 16, 4}, make([]float32, 16*4)))
	y := b.Op("LSTM", x, w, r, graph.IntAttr("hidden_size", 4))
	xb := b.Input("xb", graph.Float32, 2, 5, 3) // layout 1: batch first
	wg := b.Const(graph.FromFloat32s("wg", []int64{2, 12, 3}, make([]float32, 2*12*3)))
	rg := b.Const(graph.FromFloat32s("rg", []int64{2, 12, 4}, make([]float32, 2*12*4)))
	yg := b.Op("GRU", xb, wg, rg, graph.IntAttr("hidden_size", 4), graph.IntAttr("layout", 1), graph.StringAttr("direction", "bidirectional"))
	b.Output(y)
	b.Output(yg)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := graph.InferShapes(m); err != nil {
		t.Fatal(err)
	}
	lstm, gru := y.Producer, yg.Producer
	for _, c := range []struct {
		n    *graph.Node
		want int64
	}{
		{lstm, 5 * 2 * (16*3 + 16*4)},
		{gru, 2 * 5 * (2*12*3 + 2*12*4)},
	} {
		got, ok, counted := NodeMACs(c.n)
		if got != c.want || !ok || !counted {
			t.Errorf("%s: %d MACs (ok %v, counted %v), want %d", c.n.OpType, got, ok, counted, c.want)
		}
	}
	cv := Int8Coverage(m.Graph)
	if cv.WeightedNodes != 0 || cv.TotalMACs != 0 || cv.Recurrent != 2 || cv.RecurrentMACs != 5*2*(16*3+16*4)+2*5*(2*12*3+2*12*4) {
		t.Errorf("coverage %+v: want the 2 recurrent nodes apart, 2800 MACs", cv)
	}
	if note := cv.RecurrentNote(); note != "2 LSTM/GRU/RNN nodes run in float beside them: 100.0% of all the MACs counted" {
		t.Errorf("note %q", note)
	}
}
