package passes

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// A Pad with constant pads over named axes (negative ones too) becomes a
// Pad over every axis computing the same; one whose pads come at run time
// stays.
func TestPadFullRank(t *testing.T) {
	b := graph.NewBuilder(18)
	x := b.Input("x", graph.Float32, 1, 2, 3, 4)
	n := b.Input("n", graph.Int64, 4)
	pads := b.Const(graph.FromInt64s("pads", []int64{4}, []int64{1, 2, 3, 0}))
	axes := b.Const(graph.FromInt64s("axes", []int64{2}, []int64{-1, 1}))
	value := b.Const(graph.FromFloat32s("value", nil, []float32{0.5}))
	fixed := b.Op("Pad", x, pads, value, axes)
	runtimePads := b.Op("Pad", x, n, nil, b.Const(graph.FromInt64s("axes2", []int64{2}, []int64{2, 3})))
	b.Output(fixed, runtimePads)
	m := build(t, b)
	before := clone(t, m)
	if !runPasses(t, m, PadFullRank(), RemoveDeadNodes()) {
		t.Fatal("no change reported")
	}
	p := fixed.Producer
	got, err := p.Input(1).Const.Int64s()
	if err != nil || len(p.Inputs) != 3 {
		t.Fatalf("Pad inputs %d (pads %v, %v), want 3 and no axes", len(p.Inputs), got, err)
	}
	// axis 3 begins 1 and ends 3, axis 1 begins 2 and ends 0
	if want := []int64{0, 2, 0, 1, 0, 0, 0, 3}; !slices.Equal(got, want) {
		t.Errorf("pads %v, want %v", got, want)
	}
	if len(runtimePads.Producer.Inputs) != 4 {
		t.Error("a Pad with run-time pads was rewritten")
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{
		"x": input(1, 1, 2, 3, 4),
		"n": {DType: graph.Int64, Shape: []int{4}, Data: []int64{0, 1, 1, 0}},
	}, 0)
}
