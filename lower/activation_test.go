package lower_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
)

// hardSwishModel is x → Conv → hard-swish (Add 3, Clip 0..6, Mul, Div 6)
// → depthwise Conv → hard-swish → Conv → Conv (a graph output, which
// stays float), as MobileNetV3-style networks export it.
func hardSwishModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 12, 12)
	n := 0
	scalar := func(v float32) *graph.Value {
		n++
		return b.Const(graph.FromFloat32s("c"+string(rune('a'+n)), nil, []float32{v}))
	}
	hardSwish := func(y *graph.Value) *graph.Value {
		c := b.Op("Clip", b.Op("Add", y, scalar(3)), scalar(0), scalar(6))
		return b.Op("Div", b.Op("Mul", y, c), scalar(6))
	}
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
	y := b.Op("Conv", x, weights("w1", 8, 3, 3, 3), weights("b1", 8), graph.IntsAttr("pads", 1, 1, 1, 1))
	y = hardSwish(y)
	y = b.Op("Conv", y, weights("w2", 8, 1, 3, 3), weights("b2", 8), graph.IntAttr("group", 8), graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2))
	y = hardSwish(y)
	y = b.Op("Conv", y, weights("w3", 4, 8, 1, 1))
	b.Output(b.Op("Conv", y, weights("w4", 2, 4, 1, 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLowerHardSwish checks that with Options.Activations both hard-swish
// units become ai.onnxq QLinearConv, that without it they stay float, and
// that the fused model's integers are those of the QDQ model within one
// step (the float convolution rounds differently), nearly all equal.
func TestLowerHardSwish(t *testing.T) {
	m := hardSwishModel(t)
	// the hard-swish Convs' outputs stay float: no Q/DQ completes them;
	// they keep int8 weights, which the fused lowering needs
	src := quantizeSynthetic(t, m, 6, 5, func(c *quant.Config) {
		c.Units, c.FloatWeights = quant.UnitsOff, passes.FloatWeightsNone
	})
	if _, rep, _ := lowerModel(t, m); rep.Lowered["QLinearConv"] != 1 || len(rep.Kept) != 3 {
		t.Fatalf("standard lowering: lowered %v, kept %+v", rep.Lowered, rep.Kept)
	}
	low, rep, log := lowerModelWith(t, m, lower.Options{Activations: true})
	if rep.Lowered["ai.onnxq.QLinearConv(HardSwish)"] != 2 || rep.Lowered["QLinearConv"] != 1 || len(rep.Kept) != 1 {
		t.Fatalf("lowered %v, kept %+v; log:\n%s", rep.Lowered, rep.Kept, log)
	}
	ops := map[string]int{}
	for _, n := range low.Graph.Nodes {
		ops[n.Domain+"/"+n.OpType]++
	}
	if ops["ai.onnxq/QLinearConv"] != 2 || ops["/Add"]+ops["/Clip"]+ops["/Mul"]+ops["/Div"] != 0 || ops["/Conv"] != 1 {
		t.Errorf("ops after lowering: %v", ops)
	}
	if v, ok := low.Opset("ai.onnxq"); !ok || v != 1 {
		t.Error("the lowered model does not import ai.onnxq")
	}
	total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
	t.Logf("%d integers compared, %d differ, largest difference %d", total, differ, worst)
	if total == 0 || worst > 1 || float64(differ) > 0.02*float64(total) {
		t.Errorf("fused model: %d of %d integers differ from the QDQ model's, by up to %d", differ, total, worst)
	}
}

// TestLowerFloatOutputs checks that with Options.FloatOutputs the
// convolution whose output is a graph output (float) runs as an integer
// convolution with a float32 output, close to the QDQ model's float one.
func TestLowerFloatOutputs(t *testing.T) {
	m := hardSwishModel(t)
	// Convs outside units keep int8 weights, which the lowering needs
	src := quantizeSynthetic(t, m, 4, 7, func(c *quant.Config) { c.FloatWeights = passes.FloatWeightsNone })
	low, rep, _ := lowerModelWith(t, m, lower.Execution)
	if rep.Lowered["ai.onnxq.QLinearConv(float output)"] != 1 || len(rep.Kept) != 0 {
		t.Fatalf("lowered %v, kept %+v", rep.Lowered, rep.Kept)
	}
	if low.Graph.Outputs[0].Name != m.Graph.Outputs[0].Name {
		t.Fatal("the graph output was renamed")
	}
	for _, n := range low.Graph.Nodes {
		if n.OpType == "Conv" {
			t.Fatalf("a float Conv is left: %s", n.Name)
		}
	}
	// The float convolution rounds its accumulation; the integer one
	// rounds once. The hard-swish units before may also move an integer
	// by one step.
	outputsClose(t, m, low, src, 1, func(v float32) float64 { return 0.05 * (1 + math.Abs(float64(v))) })
}
