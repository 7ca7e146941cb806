// Tests of PinFloatLayers and of the weight scales widened for biases that
// would overflow int32: both keep ONNX Runtime's optimizer from quantizing
// a float weight or bias itself.
package passes

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// floatLayersModel reads one quantized activation into a Conv with a bias,
// a Conv without one, a Gemm (transB) with a 1-D bias, a Gemm without C,
// a Gemm with a [1, N] C, a Gemm with a one-element C, a MatMul, a Conv
// after a MaxPool and one after a Relu, all with float32 weights.
func floatLayersModel(t *testing.T, opset int64) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(opset)
	x := b.Input("x", graph.Float32, 1, 3, 4, 4)
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.05}))
	z := b.Const(graph.NewTensor("z", graph.Uint8, nil, []byte{128}))
	dq := b.Op("DequantizeLinear", b.Op("QuantizeLinear", x, s, z), s, z)
	bias := b.Const(graph.FromFloat32s("bias", []int64{4}, []float32{0.3, -1e-9, 1234.5678, 0}))
	c1 := b.Op("Conv", dq, convW(b, "w1", 1, 4, 3, 3), bias, graph.IntsAttr("pads", 1, 1, 1, 1))
	c2 := b.Op("Conv", dq, convW(b, "w2", 2, 2, 3, 1))
	flat := b.Op("DequantizeLinear", b.Op("QuantizeLinear", b.Op("Flatten", c2), s, z), s, z) // [1, 32]
	g1 := b.Op("Gemm", flat, f32(b, "g1", 3, 5, 32), f32(b, "gb1", 4, 5), graph.IntAttr("transB", 1))
	g2 := b.Op("Gemm", flat, f32(b, "g2", 5, 32, 5))
	g3 := b.Op("Gemm", flat, f32(b, "g3", 6, 32, 5), f32(b, "gc3", 7, 1, 5))
	g4 := b.Op("Gemm", flat, f32(b, "g4", 11, 32, 5), f32(b, "gc4", 12, 1), graph.FloatAttr("beta", 0.5))
	mm := b.Op("MatMul", flat, f32(b, "m", 8, 32, 5))
	// ONNX Runtime moves the DequantizeLinear past the MaxPool; not past
	// the Relu
	c3 := b.Op("Conv", b.Op("MaxPool", dq, graph.IntsAttr("kernel_shape", 2, 2)), convW(b, "w3", 9, 2, 3, 1))
	c4 := b.Op("Conv", b.Op("Relu", dq), convW(b, "w4", 10, 2, 3, 1))
	b.Output(c1, g1, g2, g3, g4, mm, c3, c4)
	return build(t, b)
}

func TestPinFloatLayers(t *testing.T) {
	for _, opset := range []int64{11, 13} {
		m := floatLayersModel(t, opset)
		feeds := map[string]*runtime.Tensor{"x": input(0.7, 1, 3, 4, 4)}
		before := outputs(t, m, feeds)
		done, err := PinFloatLayers(m)
		if err != nil {
			t.Fatal(err)
		}
		// the [1, N] C, the MatMul and the Conv after the Relu are left
		// alone: ONNX Runtime does not quantize those
		if len(done) != 6 {
			t.Fatalf("opset %d: pinned %v, want 3 Convs and 3 Gemms", opset, done)
		}
		for _, n := range m.Graph.Nodes {
			b := n.Input(2)
			switch n.OpType {
			case "Conv", "Gemm":
			default:
				continue
			}
			if w := n.Input(1).Name; w == "g3" || w == "w4" {
				if b != nil && b.Producer != nil {
					t.Errorf("the node reading %s was changed", w)
				}
				continue
			}
			if b == nil || b.Producer == nil || b.Producer.OpType != "DequantizeLinear" || b.Producer.Input(0).DType != graph.Int32 {
				t.Fatalf("opset %d: %s does not read an int32 bias through DequantizeLinear", opset, n.Name)
			}
			perAxis := b.Producer.Attr("axis") != nil
			if perAxis != (opset >= 13) {
				t.Errorf("opset %d: %s: per-axis bias scale %v", opset, n.Name, perAxis)
			}
		}
		if m.Graph.Value("bias") != nil {
			t.Errorf("the float bias nothing reads any more is still an initializer")
		}
		after := outputs(t, m, feeds)
		for name, want := range before {
			got := after[name].F32()
			for i, v := range want.F32() {
				// per channel every float32 bias is an exact integer
				// times its scale; one scale for all loses the low bits
				// of the small ones only
				if opset >= 13 && got[i] != v || math.Abs(float64(got[i]-v)) > 1e-6*math.Max(1, math.Abs(float64(v))) {
					t.Fatalf("opset %d: %s[%d] = %v, was %v", opset, name, i, got[i], v)
				}
			}
		}
		if again, err := PinFloatLayers(m); err != nil || len(again) != 0 {
			t.Errorf("a second call changed %v (%v)", again, err)
		}
	}
}

// Nodes whose weight is quantized, or whose input is float, are not
// pinned.
func TestPinFloatLayersLeavesUnitsAlone(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 8, 8)
	c := b.Op("Conv", x, convW(b, "w1", 1, 4, 3, 3), f32(b, "b1", 2, 4), graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(b.Op("Conv", b.Op("Relu", c), convW(b, "w2", 3, 2, 4, 1), f32(b, "b2", 4, 2)))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if done, err := PinFloatLayers(m); err != nil || len(done) != 0 {
		t.Errorf("pinned %v (%v) in a model whose weighted ops are units or read float inputs", done, err)
	}
}

// A Conv output channel of zero weights with a bias far beyond its
// range: the weight scale of that channel widens so that the bias fits
// int32, and the unit is complete.
func TestQuantizeWidensScaleForBias(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 8, 8)
	wt, err := graph.FromFloat32s("w1", []int64{4, 3, 3, 3}, ramp(4*27, 1))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := wt.Float32s()
	clear(wd[27:54]) // output channel 1 pruned
	if wt, err = graph.FromFloat32s("w1", []int64{4, 3, 3, 3}, wd); err != nil {
		t.Fatal(err)
	}
	bias := []float32{0.1, 2, -0.3, 0.5}
	c := b.Op("Conv", x, b.Const(wt, nil), b.Const(graph.FromFloat32s("b1", []int64{4}, bias)), graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(b.Op("Conv", b.Op("Relu", c), convW(b, "w2", 3, 2, 4, 1)))
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.3, 1, 3, 8, 8)}
	want := outputs(t, m, feeds)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if r.BiasesQuantized != 1 {
		t.Fatalf("%d biases quantized, want 1", r.BiasesQuantized)
	}
	bv := m.Graph.Value("b1")
	ints, err := bv.Const.Int64s()
	if err != nil || bv.DType != graph.Int32 {
		t.Fatalf("b1 is %v (%v)", bv.DType, err)
	}
	for i, v := range ints {
		if v == math.MaxInt32 || v == math.MinInt32 || math.Abs(float64(v)) > biasHeadroom {
			t.Errorf("bias %d stored as %d: past the headroom", i, v)
		}
	}
	scale := bv.Consumers[0].Input(1).Const
	scales, _ := scale.Float32s()
	ws, _ := weightDQ(m.Graph, "w1").Input(1).Const.Float32s()
	act := float32(4) / 255 // the input's [-2, 2] range in uint8
	if need := 2 / (float64(act) * biasHeadroom); float64(ws[1]) < need*0.999 || len(scales) != 4 {
		t.Errorf("channel 1's weight scale %g, want at least %g", ws[1], need)
	}
	got := outputs(t, m, feeds)
	for name, w := range want {
		if sq := qdq.SQNR(w.F32(), got[name].F32()); !(sq >= 30) {
			t.Errorf("%s: %.1f dB against FP32", name, sq)
		}
	}
}
