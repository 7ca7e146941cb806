// This file checks equalize-activations: which values are candidates,
// equal channel ranges afterwards, unchanged outputs, the scale cap, and
// ranges that do not fit.

package passes

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// actModel is x -> Conv1x1 (channels of skewed range) -> Relu -> depthwise
// Conv (channel multiplier 2), plus a Conv1x1 -> regular Conv branch that
// is no candidate. It returns the model and the name of the Relu output.
func actModel(t *testing.T) (*graph.Model, string) {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 5, 5)
	r := b.Op("Relu", b.Op("Conv", x, skewed(b, "w1", 1, 4, 3, 1, 1), f32(b, "b1", 2, 4)))
	dw := b.Op("Conv", r, f32(b, "w2", 3, 8, 1, 3, 3), f32(b, "b2", 4, 8),
		graph.IntAttr("group", 4), graph.IntsAttr("pads", 1, 1, 1, 1))
	other := b.Op("Conv", b.Op("Conv", x, skewed(b, "u1", 5, 4, 3, 1, 1)), f32(b, "u2", 6, 2, 4, 3, 3))
	b.Output(dw, other)
	return build(t, b), r.Name
}

// channelMax runs m on feeds and returns max |x| per channel of value name.
func channelMax(t *testing.T, m *graph.Model, name string, feeds map[string]*runtime.Tensor) (lo, hi []float32) {
	t.Helper()
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if v.Name != name {
			return
		}
		c, inner := x.Shape[1], x.Shape[2]*x.Shape[3]
		lo, hi = make([]float32, c), make([]float32, c)
		for i, f := range x.F32() {
			k := i / inner % c
			lo[k], hi[k] = min(lo[k], f), max(hi[k], f)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(feeds); err != nil {
		t.Fatal(err)
	}
	return lo, hi
}

func TestEqualizeActivations(t *testing.T) {
	m, name := actModel(t)
	if got := EqualizeCandidates(m); !slices.Equal(got, []string{name}) {
		t.Fatalf("candidates %v, want [%s]", got, name)
	}
	feeds := map[string]*runtime.Tensor{"x": input(0.7, 1, 3, 5, 5)}
	lo, hi := channelMax(t, m, name, feeds)
	top := slices.Max(hi)
	if slices.Min(hi) > top/equalizeMaxScale {
		t.Fatalf("test model not skewed enough: %v", hi)
	}
	before := clone(t, m)
	if !runPasses(t, m, EqualizeActivations(map[string]ChannelRange{name: {Min: lo, Max: hi}}, nil)) {
		t.Fatal("nothing rescaled")
	}
	// The rescaled value no longer holds the original's value, so it no
	// longer has its name.
	if m.Graph.Value(name) != nil || m.Graph.Value(name+RescaledSuffix) == nil {
		t.Fatalf("%s not renamed to %s", name, name+RescaledSuffix)
	}
	// Every channel now reaches the loudest one's range, except those
	// the cap holds back (scaled by exactly equalizeMaxScale).
	_, after := channelMax(t, m, name+RescaledSuffix, feeds)
	for c := range hi {
		want := min(float64(top), equalizeMaxScale*float64(hi[c]))
		if math.Abs(float64(after[c])-want) > 1e-4*float64(top) {
			t.Errorf("channel %d: max %g, want %g (before %g)", c, after[c], want, hi[c])
		}
	}
	for _, seed := range []float64{0.7, 2.3} {
		sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(seed, 1, 3, 5, 5)}, 1e-5)
	}
	// The branch without a depthwise consumer is untouched.
	for _, w := range []string{"u1", "u2"} {
		a, _ := weights(t, m, w)
		b, _ := weights(t, before, w)
		if !slices.Equal(a, b) {
			t.Errorf("%s changed", w)
		}
	}
}

func TestEqualizeActivationsLeavesAlone(t *testing.T) {
	m, name := actModel(t)
	for _, r := range []ChannelRange{
		{Min: []float32{0, 0, 0}, Max: []float32{1, 2, 3}},                                              // wrong channel count
		{Min: []float32{0, 0, 0, 0}, Max: []float32{2, 2, 2, 2}},                                        // already equal
		{Min: []float32{0, 0, 0, 0}, Max: []float32{0, 0, 0, 0}},                                        // nothing seen
		{Min: []float32{0, 0, 0, 0}, Max: []float32{1, float32(math.Inf(1)), 1, 1}},                     // a channel never finite
		{Min: []float32{0, 0, 0, 0}, Max: []float32{1, float32(math.NaN()), 2, 1}},                      // NaN
		{Min: []float32{float32(math.Inf(1)), 0, 0, 0}, Max: []float32{float32(math.Inf(-1)), 1, 1, 1}}, // empty channel
	} {
		c := clone(t, m)
		if runPasses(t, c, EqualizeActivations(map[string]ChannelRange{name: r}, nil)) {
			t.Errorf("ranges %v: rescaled", r)
		}
	}
	// A value without ranges is left alone too.
	if runPasses(t, clone(t, m), EqualizeActivations(nil, nil)) {
		t.Error("rescaled without ranges")
	}
}

func TestEqualizeActivationsDeadChannel(t *testing.T) {
	// A channel that was always zero gets the capped scale; it stays
	// zero, nothing becomes NaN or Inf, and the outputs are unchanged.
	m, name := actModel(t)
	before := clone(t, m)
	r := ChannelRange{Min: []float32{0, 0, 0, 0}, Max: []float32{3, 0, 1, 3}}
	if !runPasses(t, m, EqualizeActivations(map[string]ChannelRange{name: r}, nil)) {
		t.Fatal("nothing rescaled")
	}
	w, _ := weights(t, m, "w1")
	o, _ := weights(t, before, "w1")
	for i := range w {
		want := o[i]
		switch i / 3 {
		case 1:
			want *= equalizeMaxScale
		case 2:
			want *= 3
		}
		if math.Abs(float64(w[i]-want)) > 1e-6*math.Abs(float64(want)) {
			t.Errorf("w1[%d] = %g, want %g", i, w[i], want)
		}
	}
	sameOutputs(t, before, m, map[string]*runtime.Tensor{"x": input(1.1, 1, 3, 5, 5)}, 1e-5)
}
