// deadrange_test.go checks that RangesFor narrows ranges to the bounds
// passes.DeadBounds derives from clamping readers.
package quant_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
)

// clampedChain: x -> Conv -> a -> LeakyRelu(0.2) -> l -> Max(-0.4) ->
// Clip(-1, 6) -> output; y -> Sigmoid -> output.
func clampedChain(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	y := b.Input("y", graph.Float32, 1, 4)
	a := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{1})))
	l := b.Op("LeakyRelu", a, graph.FloatAttr("alpha", 0.2))
	mx := b.Op("Max", l, b.Const(graph.FromFloat32s("floor", nil, []float32{-0.4})))
	c := b.Op("Clip", mx, b.Const(graph.FromFloat32s("lo", nil, []float32{-1})), b.Const(graph.FromFloat32s("hi", nil, []float32{6})))
	b.Output(c, b.Op("Sigmoid", y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRangesForNarrowsDeadRanges(t *testing.T) {
	m := clampedChain(t)
	var conv, leaky string
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			conv = n.Outputs[0].Name
		case "LeakyRelu":
			leaky = n.Outputs[0].Name
		}
	}
	coll, err := calib.New(calib.MinMax, calib.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	coll.Observe(conv, []float32{-40, 3, 30})
	coll.Observe(leaky, []float32{-8, 0.5, 30})
	coll.Observe("y", []float32{-5, 5})
	got := quant.RangesFor(m, coll, quant.DefaultConfig())
	if r := got[conv]; math.Abs(float64(r.Min)+2) > 1e-6 || r.Max != 6 {
		t.Errorf("%s: range %v, want [-2, 6]", conv, r)
	}
	if r := got[leaky]; math.Abs(float64(r.Min)+0.4) > 1e-6 || r.Max != 6 {
		t.Errorf("%s: range %v, want [-0.4, 6]", leaky, r)
	}
	if r := got["y"]; r.Min != -5 || r.Max != 5 {
		t.Errorf("y: range %v, want [-5, 5] unchanged", r)
	}
}

// Calibrate observes a value with dead bounds clamped to them: the Conv
// output a hard-swish reads never shows values below -3 to its observer,
// while the model's output, which nothing clamps, keeps its negative tail.
func TestCalibrateObservesClampedValues(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	a := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{10})))
	b.Output(b.Op("HardSwish", a), b.Op("Neg", x))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	conv, neg := m.Graph.Nodes[0].Outputs[0].Name, m.Graph.Outputs[1].Name
	cfg := quant.DefaultConfig()
	cfg.Threads = 1
	coll, err := calib.New(calib.MSE, cfg.CalibOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := quant.Calibrate(m, calibdata.Synthetic(calibdata.Inputs(m), 8, 1), cfg, coll); err != nil {
		t.Fatal(err)
	}
	ext := coll.Extremes()
	if e := ext[conv]; e.Min != -3 || !(e.Max > 3) {
		t.Errorf("%s observed in [%v, %v], want a minimum of exactly -3 and values above 3", conv, e.Min, e.Max)
	}
	if e := ext[neg]; !(e.Min < -1) {
		t.Errorf("%s observed from %v, want its own negative values", neg, e.Min)
	}
	if r := coll.Ranges()[conv]; r.Min < -3 {
		t.Errorf("%s: MSE range %v reaches below the clamp", conv, r)
	}
}
