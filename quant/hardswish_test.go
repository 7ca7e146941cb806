package quant_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
)

// normalConst adds a float32 constant of the given dims drawn from a
// normal distribution of standard deviation sd.
func normalConst(b *graph.Builder, rng *rand.Rand, name string, sd float64, dims ...int64) *graph.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(sd * rng.NormFloat64())
	}
	return b.Const(graph.FromFloat32s(name, dims, data))
}

// hardSwishNet is x → Conv → x·Clip(x+3, 0, 6)/6 → Conv at opset 11, as
// paddle2onnx writes MobileNetV3's activations.
func hardSwishNet(t *testing.T) *graph.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 1))
	b := graph.NewBuilder(11)
	c := func(name string, v float32) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
	rnd := func(name string, dims ...int64) *graph.Value { return normalConst(b, rng, name, 1, dims...) }
	x := b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 8, 8), rnd("w1", 8, 4, 3, 3), rnd("b1", 8), graph.IntsAttr("pads", 1, 1, 1, 1))
	y := b.Op("Div", b.Op("Mul", x, b.Op("Clip", b.Op("Add", x, c("three", 3)), c("zero", 0), c("six", 6))), c("six_", 6))
	b.Output(b.Op("Conv", y, rnd("w2", 4, 8, 1, 1), rnd("b2", 4)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// By default Run rewrites the hard-swish as one HardSwish node, raising
// the opset to 14 (13 for per-channel weights, 14 for the op) and saying
// so; Config.FuseHardSwish off, or Quant.Opset 13, keep the elementwise
// form at opset 13. The fused model's outputs match the unfused one's,
// and no constant of the replaced ops is left behind.
func TestRunFuseHardSwish(t *testing.T) {
	type outcome struct {
		fused int
		opset int64
	}
	for _, c := range []struct {
		name string
		edit func(*quant.Config)
		want outcome
	}{
		{"default", func(*quant.Config) {}, outcome{1, 14}},
		{"off", func(c *quant.Config) { c.FuseHardSwish = false }, outcome{0, 13}},
		{"opset 13", func(c *quant.Config) { c.Quant.Opset = 13 }, outcome{0, 13}},
	} {
		m := hardSwishNet(t)
		src := calibdata.Synthetic(calibdata.Inputs(m), 8, 3)
		cfg := quant.DefaultConfig()
		c.edit(&cfg)
		res, err := quant.Run(m, src, cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		fused := 0
		if res.HardSwish != nil {
			fused = len(res.HardSwish.Fused)
		}
		ops := map[string]int{}
		for _, n := range m.Graph.Nodes {
			ops[n.OpType]++
		}
		opset, _ := m.Opset("")
		got := outcome{fused, opset}
		if got != c.want || ops["HardSwish"] != c.want.fused || ops["Div"] != 1-c.want.fused || res.Report.OpsetTo != opset || res.Report.OpsetFrom != 11 {
			t.Errorf("%s: %+v, ops %v, report opset %d -> %d; want %+v from 11", c.name, got, ops, res.Report.OpsetFrom, res.Report.OpsetTo, c.want)
		}
		// The fused ops' constants go with them: ONNX Runtime warns about
		// every initializer nothing reads.
		for _, v := range m.Graph.Initializers {
			if len(v.Consumers) == 0 {
				t.Errorf("%s: initializer %s is read by nothing", c.name, v.Name)
			}
		}
		sqnr, err := quant.OutputSQNR(res.Reference, m, src, src.Len(), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, o := range sqnr {
			if o.DB < 25 {
				t.Errorf("%s: output %s at %.1f dB", c.name, o.Name, o.DB)
			}
		}
	}
}

// A Sigmoid its neighbours leave between a DequantizeLinear and a
// QuantizeLinear is not said to stay float for its small values: ONNX
// Runtime runs it as QLinearSigmoid, and it is counted quantized, as
// --include-op Sigmoid counts it for the same graph. One that writes a
// graph output stays float for them.
func TestSigmoidQuantizedAroundReason(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	b := graph.NewBuilder(13)
	rnd := func(name string, dims ...int64) *graph.Value { return normalConst(b, rng, name, 0.5, dims...) }
	x := b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 6, 6), rnd("w1", 4, 4, 1, 1))
	gate := b.Op("Sigmoid", x)
	gate.Producer.Name = "gate"
	y := b.Op("Conv", b.Op("Mul", x, gate), rnd("w2", 4, 4, 1, 1))
	out := b.Op("Sigmoid", y)
	out.Producer.Name = "prob"
	b.Output(out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Run(m, calibdata.Synthetic(calibdata.Inputs(m), 6, 2), quant.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, e := range res.Report.FP32 {
		reasons[e.Node] = e.Reason
	}
	if r, ok := reasons["gate"]; ok || res.Report.OpCounts["Sigmoid"] != 1 {
		t.Errorf("gate: FP32 %v (%q), %d Sigmoid quantized; want it counted quantized", ok, r, res.Report.OpCounts["Sigmoid"])
	}
	if r := reasons["prob"]; !strings.HasPrefix(r, "probability output") {
		t.Errorf("prob: %q", r)
	}
}
