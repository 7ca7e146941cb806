package lower_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
)

// convTransposeModel is a detector's upsampling head: x → Conv → Relu →
// ConvTranspose (k2 s2, quantized output) → Relu → ConvTranspose (k3 s2
// with padding, taps that overlap; 1 channel) → Sigmoid, whose input
// stays float.
func convTransposeModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 9, 11)
	weights := func(name string, dims ...int64) *graph.Value {
		size := int64(1)
		for _, d := range dims {
			size *= d
		}
		w := make([]float32, size)
		for i := range w {
			w[i] = float32((i*7)%13-6) / 8
		}
		return b.Const(graph.FromFloat32s(name, dims, w))
	}
	y := b.Op("Relu", b.Op("Conv", x, weights("w1", 8, 3, 3, 3), weights("b1", 8), graph.IntsAttr("pads", 1, 1, 1, 1)))
	y = b.Op("Relu", b.Op("ConvTranspose", y, weights("w2", 8, 6, 2, 2), weights("b2", 6), graph.IntsAttr("strides", 2, 2)))
	y = b.Op("ConvTranspose", y, weights("w3", 6, 1, 3, 3), weights("b3", 1), graph.IntsAttr("strides", 2, 2),
		graph.IntsAttr("pads", 1, 1, 0, 0), graph.IntsAttr("output_padding", 1, 0))
	b.Output(b.Op("Sigmoid", y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerConvTranspose checks that onnxq's execution form runs both
// ConvTranspose units as ai.onnxq QLinearConvTranspose (the second with a
// float output), that the standard form leaves them, and that the
// integers and the float output are those of the QDQ model within one
// step.
func TestLowerConvTranspose(t *testing.T) {
	m := convTransposeModel(t)
	src := quantizeSynthetic(t, m, 6, 9)
	if _, rep, _ := lowerModel(t, m); rep.Lowered["ai.onnxq.QLinearConvTranspose"] != 0 || rep.Lowered["QLinearConv"] != 1 {
		t.Fatalf("standard lowering: lowered %v", rep.Lowered)
	}
	low, rep, log := lowerModelWith(t, m, lower.Execution)
	if rep.Lowered["ai.onnxq.QLinearConvTranspose"] != 1 || rep.Lowered["ai.onnxq.QLinearConvTranspose(float output)"] != 1 || len(rep.Kept) != 0 {
		t.Fatalf("lowered %v, kept %+v; log:\n%s", rep.Lowered, rep.Kept, log)
	}
	for _, n := range low.Graph.Nodes {
		if n.OpType == "ConvTranspose" {
			t.Fatalf("a float ConvTranspose is left: %s", n.Name)
		}
	}
	total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
	t.Logf("%d integers compared, %d differ, largest difference %d", total, differ, worst)
	if total == 0 || worst > 1 || float64(differ) > 0.01*float64(total) {
		t.Errorf("lowered model: %d of %d integers differ from the QDQ model's, by up to %d", differ, total, worst)
	}
	// A sigmoid of values one quantization step apart at most.
	outputsClose(t, m, low, src, 2, func(float32) float64 { return 0.02 })
}
