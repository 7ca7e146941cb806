// deadrange_test.go checks that RangesFor narrows ranges to the bounds
// passes.DeadBounds derives from clamping readers.
package quant_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
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
