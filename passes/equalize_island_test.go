// This file checks the hard-swish part of equalize-activations: which
// Conv outputs are candidates, the float function kept, the choice of
// factors, and the Muls folded into the Q/DQ or back into the Conv once
// quantized.

package passes

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// swishModel is x -> 1x1 Conv (channel ranges 0.01 to 10) -> hard-swish
// written as x·Clip(x+3, 0, 6)/6 -> depthwise Conv, beside a second
// Conv -> HardSwish op -> Conv, and a Conv whose output a Relu reads
// beside its hard-swish (no candidate). It returns the model and the
// outputs of the two candidate Convs.
func swishModel(t *testing.T) (*graph.Model, []string) {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 6, 6)
	c1 := b.Op("Conv", x, skewed(b, "w1", 1, 8, 3, 1, 1), f32(b, "b1", 2, 8))
	gate := b.Op("Clip", b.Op("Add", c1, scalar(b, "three", 3)), scalar(b, "zero", 0), scalar(b, "six", 6))
	h1 := b.Op("Div", b.Op("Mul", c1, gate), scalar(b, "six2", 6))
	dw := b.Op("Conv", h1, f32(b, "w2", 3, 8, 1, 3, 3), graph.IntAttr("group", 8), graph.IntsAttr("pads", 1, 1, 1, 1))
	c2 := b.Op("Conv", x, skewed(b, "w3", 4, 8, 3, 1, 1))
	h2 := b.Op("HardSwish", c2)
	c3 := b.Op("Conv", x, skewed(b, "w4", 5, 8, 3, 1, 1))
	both := b.Op("Add", b.Op("HardSwish", c3), b.Op("Relu", c3))
	b.Output(dw, b.Op("Conv", h2, f32(b, "w5", 6, 2, 8, 1, 1)), both)
	return build(t, b), []string{c1.Name, c2.Name}
}

func scalar(b *graph.Builder, name string, v float32) *graph.Value {
	return b.Const(graph.FromFloat32s(name, nil, []float32{v}))
}

func swishFeeds() []map[string]*runtime.Tensor {
	return []map[string]*runtime.Tensor{{"x": input(0.3, 1, 3, 6, 6)}, {"x": input(1.9, 1, 3, 6, 6)}}
}

func TestEqualizeIslands(t *testing.T) {
	m, names := swishModel(t)
	if got := IslandCandidates(m); !slices.Equal(got, names) {
		t.Fatalf("candidates %v, want %v", got, names)
	}
	feeds := swishFeeds()
	ranges := channelStats(t, m, feeds, names...)
	before := clone(t, m)
	if !runPasses(t, m, EqualizeActivations(ranges, nil)) {
		t.Fatal("nothing rescaled")
	}
	for _, f := range feeds {
		sameOutputs(t, before, m, f, 1e-5)
	}
	rs, err := Rescales(m)
	if err != nil {
		t.Fatal(err)
	}
	muls := rescaleMuls(m)
	for _, name := range names {
		// the Conv writes the rescaled value, a Mul gives the hard-swish
		// the original back under its own name
		x := m.Graph.Value(name)
		if x == nil || x.Producer == nil || !muls[x.Producer] {
			t.Fatalf("%s: not made by a rescale Mul", name)
		}
		i := slices.IndexFunc(rs, func(r Rescale) bool { return r.Original == name })
		if i < 0 || rs[i].Value != x.Producer.Input(0).Name || x.Producer.Input(0).Producer.OpType != "Conv" {
			t.Fatalf("%s: no record of the Conv's rescaled output (%v)", name, rs)
		}
		// quiet channels are raised, to at most half the loudest one's
		// reach above 0
		r := ranges[name]
		top := slices.Max(r.Max)
		raised := false
		for k, f := range rs[i].Factors {
			if f < 1 || float64(f)*float64(r.Max[k]) > float64(top)/islandHeadroom*1.0001 && f > 1 {
				t.Errorf("%s channel %d: factor %g for max %g of %g", name, k, f, r.Max[k], top)
			}
			raised = raised || f > 1
		}
		if !raised {
			t.Errorf("%s: no channel raised: %v", name, rs[i].Factors)
		}
	}
	if len(muls) != 2 {
		t.Errorf("%d rescale Muls, want 2", len(muls))
	}
}

// Channels of equal reach have nothing to gain; all-negative ones no top
// to reach for.
func TestSpreadScales(t *testing.T) {
	if _, ok := spreadScales([]float64{-3, -3}, []float64{5, 5}); ok {
		t.Error("equal channels rescaled")
	}
	if _, ok := spreadScales([]float64{-1, -2}, []float64{0, 0}); ok {
		t.Error("channels with nothing above 0 rescaled")
	}
	// one loud channel among quiet ones: they are raised, the quieter
	// the more, within half the top; those reaching the gate at -3
	// alike, as far as the bottom of the range allows
	lo, hi := []float64{-3}, []float64{80}
	for k := range 15 {
		lo, hi = append(lo, -3*float64(k%2)), append(hi, float64(1+k%2))
	}
	u, ok := spreadScales(lo, hi)
	if !ok || u[0] != 1 || u[1] != equalizeMaxScale || !(u[2] > 4 && u[2] < equalizeMaxScale && u[2]*hi[2] <= 40) {
		t.Errorf("one loud channel: factors %v (%v)", u, ok)
	}
	if _, ok := spreadScales([]float64{math.NaN()}, []float64{1}); ok {
		t.Error("a NaN range rescaled")
	}
}

// Once quantized with the Conv outputs' units completed, each Mul is
// folded into the DequantizeLinear before the hard-swish (a scale per
// channel); without them, back into the Conv's weights. Either way no
// Mul is left and the model computes what it did with the Mul.
func TestFoldRescaleMuls(t *testing.T) {
	for _, complete := range []bool{true, false} {
		m, names := swishModel(t)
		feeds := swishFeeds()
		runPasses(t, m, EqualizeActivations(channelStats(t, m, feeds, names...), nil))
		o := DefaultQuantOptions()
		o.CompleteUnits = complete
		quantize(t, m, calibrate(t, m, feeds), o)
		unfolded := clone(t, m)
		folded, err := FoldRescaleMuls(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(folded) != 2 || len(rescaleMuls(m)) != 0 {
			t.Fatalf("complete %v: folded %v", complete, folded)
		}
		for _, n := range m.Graph.Nodes {
			if n.OpType == "Mul" && n.Input(1) != nil && n.Input(1).Const != nil && n.Input(1).Const.NumElements() > 1 {
				t.Errorf("complete %v: Mul %s left", complete, n.Name)
			}
		}
		perChannelDQ := 0
		for _, n := range m.Graph.Nodes {
			if n.OpType == "DequantizeLinear" && n.Input(0).Producer != nil && n.Input(0).Producer.OpType == "QuantizeLinear" && n.AttrInt("axis", 1) == 1 && n.Input(1).Const.NumElements() == 8 {
				perChannelDQ++
			}
		}
		if want := map[bool]int{true: 2, false: 0}[complete]; perChannelDQ != want {
			t.Errorf("complete %v: %d activation DequantizeLinear per channel, want %d", complete, perChannelDQ, want)
		}
		if err := m.Graph.Verify(); err != nil {
			t.Fatal(err)
		}
		for _, f := range feeds {
			sameOutputs(t, unfolded, m, f, 1e-4)
		}
	}
}

// A Mul by positive constants passes its output's bounds back divided by
// them: the widest interval over the factors.
func TestDeadBoundsThroughPositiveMul(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 3, 3)
	c := b.Op("Conv", x, f32(b, "w", 1, 2, 2, 1, 1))
	k := b.Const(graph.FromFloat32s("k", []int64{2, 1, 1}, []float32{0.5, 4}))
	b.Output(b.Op("HardSwish", b.Op("Mul", c, k)))
	m := build(t, b)
	got, ok := DeadBounds(m)[c.Name]
	if !ok || got.Lo != -6 || !math.IsInf(got.Hi, 1) {
		t.Errorf("bounds %v (%v), want [-6, +Inf)", got, ok)
	}
}
