package quant

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
)

// The climb's cap leaves room for held-out samples that read lower than
// the calibration ones, and only for that.
func TestClimbCap(t *testing.T) {
	for _, c := range []struct{ target, calib, held, want float64 }{
		{47, 48.3, 45.3, 51},       // calibration past target+1: the 3 dB gap is added
		{35, 30, 28, 38},           // both below the target: still the gap
		{35, 28, 30, 36},           // held-out higher: target+1
		{35, math.Inf(1), 30, 36},  // an infinite gap measures nothing
		{35, 40, math.Inf(-1), 36}, // nor does a broken held-out figure
		{35, math.NaN(), 30, 36},   // nor a missing one
	} {
		if got := climbCap(c.target, c.calib, c.held); got != c.want {
			t.Errorf("climbCap(%v, %v, %v) = %v; want %v", c.target, c.calib, c.held, got, c.want)
		}
	}
	// What the cap changes: an output past it scores the same, whatever
	// a layer does to it.
	if a, b := climbScore([]float64{49, 60}, 48), climbScore([]float64{50, 60}, 48); a != b {
		t.Errorf("capped scores differ: %v, %v", a, b)
	}
	if a, b := climbScore([]float64{49, 60}, climbCap(47, 48.3, 45.3)), climbScore([]float64{50, 60}, climbCap(47, 48.3, 45.3)); !(b > a) {
		t.Errorf("with the gap a gain past target+1 must count: %v, %v", a, b)
	}
}

// A Flatten after a global pooling shares the pooling's grid: dropping
// the Flatten's Q/DQ pair drops the pooling's too, or the Gemm would read
// values rounded to the same steps. The pairs before the pooling stay.
func TestDropActivationChain(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 6, 6)
	w := make([]float32, 4*4)
	for i := range w {
		w[i] = float32(i%5)/4 - 0.4
	}
	conv := b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{4, 4, 1, 1}, w))))
	flat := b.Op("Flatten", b.Op("GlobalAveragePool", conv))
	b.Output(b.Op("Gemm", flat, b.Const(graph.FromFloat32s("fc", []int64{4, 3}, w[:12]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Threads = 1
	res, err := Run(m, calibdata.Synthetic(calibdata.Inputs(m), 4, 3), cfg)
	if err != nil {
		t.Fatal(err)
	}
	quantizedInput := func(op string) bool {
		for _, n := range m.Graph.Nodes {
			if n.OpType == op {
				p := n.Input(0).Producer
				return p != nil && p.OpType == "DequantizeLinear"
			}
		}
		t.Fatalf("no %s", op)
		return false
	}
	if !quantizedInput("Gemm") || !quantizedInput("Flatten") || !quantizedInput("GlobalAveragePool") {
		t.Fatal("the quantized model reads float values already")
	}
	var q string
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" && n.Input(0).Producer != nil && n.Input(0).Producer.OpType == "Flatten" {
			q = n.Outputs[0].Name
		}
	}
	if err := dropActivationChain(res.Reference, m, q); err != nil {
		t.Fatal(err)
	}
	if quantizedInput("Gemm") || quantizedInput("Flatten") || !quantizedInput("GlobalAveragePool") {
		t.Errorf("after the drop: Gemm, Flatten, pooling read quantized values %v, %v, %v; want false, false, true",
			quantizedInput("Gemm"), quantizedInput("Flatten"), quantizedInput("GlobalAveragePool"))
	}
}
