// This file checks the Concat half of equalize-activations: which Concats
// are candidates, the loud input scaled down with outputs unchanged, the
// record of rescaled values, and the cases left alone.

package passes

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// concatModel is x -> Conv (weights times loud) -> Relu and x -> Conv ->
// Sigmoid, concatenated along channels and read by a 3x3 Conv that weighs
// the sigmoid map loud times more, so that it matters as much as the Relu
// features. It returns the model with the names of the Relu and Sigmoid
// outputs.
func concatModel(t *testing.T, loud float32) (*graph.Model, string, string) {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 6, 6)
	wl := ramp(8*3, 1)
	for i := range wl {
		wl[i] *= loud
	}
	r := b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("wl", []int64{8, 3, 1, 1}, wl)), f32(b, "bl", 2, 8)))
	s := b.Op("Sigmoid", b.Op("Conv", x, f32(b, "ws", 3, 1, 3, 1, 1)))
	c := b.Op("Concat", s, r, graph.IntAttr("axis", 1))
	wc := ramp(2*9*9, 4)
	for i := range wc {
		if i/9%9 == 0 {
			wc[i] *= loud
		}
	}
	y := b.Op("Conv", c, b.Const(graph.FromFloat32s("wc", []int64{2, 9, 3, 3}, wc)), f32(b, "bc", 5, 2), graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(y)
	return build(t, b), r.Name, s.Name
}

// channelStats runs m on feeds and returns the range and mean square of
// each channel of the named values.
func channelStats(t *testing.T, m *graph.Model, feeds []map[string]*runtime.Tensor, names ...string) map[string]ChannelRange {
	t.Helper()
	out := map[string]ChannelRange{}
	counts := map[string]float64{}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if !slices.Contains(names, v.Name) {
			return
		}
		c, inner := x.Shape[1], x.Shape[2]*x.Shape[3]
		r, ok := out[v.Name]
		if !ok {
			r = ChannelRange{Min: make([]float32, c), Max: make([]float32, c), MeanSquare: make([]float64, c)}
		}
		for i, f := range x.F32() {
			k := i / inner % c
			r.Min[k], r.Max[k] = min(r.Min[k], f), max(r.Max[k], f)
			r.MeanSquare[k] += float64(f) * float64(f) / float64(inner)
		}
		counts[v.Name]++
		out[v.Name] = r
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range feeds {
		if _, err := sess.Run(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range out {
		for k := range r.MeanSquare {
			r.MeanSquare[k] /= counts[name]
		}
	}
	return out
}

func concatFeeds() []map[string]*runtime.Tensor {
	return []map[string]*runtime.Tensor{{"x": input(0.7, 1, 3, 6, 6)}, {"x": input(2.3, 1, 3, 6, 6)}}
}

func TestEqualizeConcats(t *testing.T) {
	m, relu, sig := concatModel(t, 30)
	cands := ConcatEqualizeCandidates(m)
	if len(cands) != 1 || !slices.Equal(cands[0].Inputs, []string{sig, relu}) {
		t.Fatalf("candidates %+v, want one with inputs [%s %s]", cands, sig, relu)
	}
	convOut := m.Graph.Value(relu).Producer.Input(0).Name
	concatOut := m.Graph.Value(relu).Consumers[0].Outputs[0].Name
	if want := []string{relu, convOut, concatOut}; !slices.Equal(cands[0].Rescaled, want) {
		t.Fatalf("rescaled %v, want %v", cands[0].Rescaled, want)
	}
	feeds := concatFeeds()
	stats := channelStats(t, m, feeds, sig, relu)
	before := clone(t, m)
	if !runPasses(t, m, EqualizeActivations(stats, &ReaderOptions{WeightLevels: 127})) {
		t.Fatal("nothing rescaled")
	}
	for _, f := range feeds {
		sameOutputs(t, before, m, f, 1e-5)
	}
	// The loud input came down towards the quiet one; the quiet one and
	// its Conv are as they were.
	if m.Graph.Value(relu) != nil || m.Graph.Value(concatOut) != nil || m.Graph.Value(convOut) != nil {
		t.Fatal("rescaled values kept their names")
	}
	after := channelStats(t, m, feeds, relu+RescaledSuffix)[relu+RescaledSuffix]
	if loud, now := slices.Max(stats[relu].Max), slices.Max(after.Max); !(now < loud/4) {
		t.Errorf("loud input's range %g -> %g, want it 4x smaller at least", loud, now)
	}
	if m.Graph.Value(sig) == nil {
		t.Errorf("quiet input %s renamed", sig)
	}
	a, _ := weights(t, m, "ws")
	w, _ := weights(t, before, "ws")
	if !slices.Equal(a, w) {
		t.Error("the quiet input's Conv changed")
	}
	// The record lets compare undo the factors: the Concat's channels
	// from the quiet input keep factor 1.
	rs, err := Rescales(m)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rs, func(r Rescale) bool { return r.Original == concatOut })
	if i < 0 || len(rs) != 3 {
		t.Fatalf("rescale records %+v", rs)
	}
	if f := rs[i].Factors; len(f) != 9 || f[0] != 1 || !(f[1] < 0.25) || slices.Max(f[1:]) != slices.Min(f[1:]) {
		t.Errorf("concat factors %v", f)
	}
}

func TestEqualizeConcatsLeavesAlone(t *testing.T) {
	// Inputs of like ranges: nothing to gain.
	m, relu, sig := concatModel(t, 1)
	if runPasses(t, m, EqualizeActivations(channelStats(t, m, concatFeeds(), sig, relu), &ReaderOptions{WeightLevels: 127})) {
		t.Error("rescaled inputs of like ranges")
	}
	m, relu, sig = concatModel(t, 30)
	stats := channelStats(t, m, concatFeeds(), sig, relu)
	// A value the caller keeps, a missing or non-finite statistic.
	if runPasses(t, clone(t, m), EqualizeActivations(stats, &ReaderOptions{Keep: map[string]bool{relu: true}, WeightLevels: 127})) {
		t.Error("rescaled a kept value")
	}
	if runPasses(t, clone(t, m), EqualizeActivations(map[string]ChannelRange{relu: stats[relu]}, &ReaderOptions{WeightLevels: 127})) {
		t.Error("rescaled without the quiet input's statistics")
	}
	bad := ChannelRange{Min: stats[relu].Min, Max: slices.Clone(stats[relu].Max), MeanSquare: stats[relu].MeanSquare}
	bad.Max[2] = float32(math.Inf(1))
	if runPasses(t, clone(t, m), EqualizeActivations(map[string]ChannelRange{relu: bad, sig: stats[sig]}, &ReaderOptions{WeightLevels: 127})) {
		t.Error("rescaled with an infinite range")
	}
}

// A Concat is no candidate when something other than a Conv's data input
// reads it, when it is a graph output, or when no input comes from a Conv.
func TestEqualizeConcatsCandidates(t *testing.T) {
	for name, tc := range map[string]func(b *graph.Builder, x *graph.Value) []*graph.Value{
		"read by a Relu": func(b *graph.Builder, x *graph.Value) []*graph.Value {
			c := b.Op("Concat", b.Op("Conv", x, f32(b, "w1", 1, 2, 3, 1, 1)), b.Op("Sigmoid", x), graph.IntAttr("axis", 1))
			return []*graph.Value{b.Op("Conv", b.Op("Relu", c), f32(b, "w2", 2, 2, 5, 1, 1))}
		},
		"graph output": func(b *graph.Builder, x *graph.Value) []*graph.Value {
			c := b.Op("Concat", b.Op("Conv", x, f32(b, "w1", 1, 2, 3, 1, 1)), b.Op("Sigmoid", x), graph.IntAttr("axis", 1))
			return []*graph.Value{c, b.Op("Conv", c, f32(b, "w2", 2, 2, 5, 1, 1))}
		},
		"no Conv input": func(b *graph.Builder, x *graph.Value) []*graph.Value {
			c := b.Op("Concat", b.Op("Relu", x), b.Op("Sigmoid", x), graph.IntAttr("axis", 1))
			return []*graph.Value{b.Op("Conv", c, f32(b, "w2", 2, 2, 6, 1, 1))}
		},
		"along width": func(b *graph.Builder, x *graph.Value) []*graph.Value {
			c := b.Op("Concat", b.Op("Conv", x, f32(b, "w1", 1, 3, 3, 1, 1)), b.Op("Sigmoid", x), graph.IntAttr("axis", 3))
			return []*graph.Value{b.Op("Conv", c, f32(b, "w2", 2, 2, 3, 1, 1))}
		},
		"Conv output read twice": func(b *graph.Builder, x *graph.Value) []*graph.Value {
			y := b.Op("Conv", x, f32(b, "w1", 1, 2, 3, 1, 1))
			c := b.Op("Concat", y, b.Op("Sigmoid", x), graph.IntAttr("axis", 1))
			return []*graph.Value{b.Op("Conv", c, f32(b, "w2", 2, 2, 5, 1, 1)), b.Op("Relu", y)}
		},
	} {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 1, 3, 4, 4)
		b.Output(tc(b, x)...)
		if got := ConcatEqualizeCandidates(build(t, b)); len(got) != 0 {
			t.Errorf("%s: candidates %+v", name, got)
		}
	}
}

// A Conv's output reaching the Concat through Relu, MaxPool and Resize
// (a deeper map upsampled beside a skip connection) is rescaled with
// every value on the way.
func TestEqualizeConcatsThroughResize(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 8, 8)
	wl := ramp(8*3, 1)
	for i := range wl {
		wl[i] *= 30
	}
	deep := b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("wl", []int64{8, 3, 1, 1}, wl))))
	deep = b.Op("MaxPool", deep, graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2))
	up := b.Op("Resize", deep, b.Const(graph.FromFloat32s("roi", []int64{0}, nil)),
		b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2})), graph.StringAttr("mode", "nearest"))
	skip := b.Op("Sigmoid", b.Op("Conv", x, f32(b, "ws", 3, 1, 3, 1, 1)))
	c := b.Op("Concat", skip, up, graph.IntAttr("axis", 1))
	wc := ramp(2*9*9, 4)
	for i := range wc {
		if i/9%9 == 0 {
			wc[i] *= 30
		}
	}
	b.Output(b.Op("Conv", c, b.Const(graph.FromFloat32s("wc", []int64{2, 9, 3, 3}, wc)), graph.IntsAttr("pads", 1, 1, 1, 1)))
	m := build(t, b)
	cands := ConcatEqualizeCandidates(m)
	if len(cands) != 1 || len(cands[0].Rescaled) != 5 {
		t.Fatalf("candidates %+v, want the Resize, MaxPool, Relu and Conv outputs and the Concat's", cands)
	}
	feeds := []map[string]*runtime.Tensor{{"x": input(0.7, 1, 3, 8, 8)}, {"x": input(2.3, 1, 3, 8, 8)}}
	stats := channelStats(t, m, feeds, skip.Name, up.Name)
	before := clone(t, m)
	if !runPasses(t, m, EqualizeActivations(stats, &ReaderOptions{WeightLevels: 127})) {
		t.Fatal("nothing rescaled")
	}
	for _, f := range feeds {
		sameOutputs(t, before, m, f, 1e-5)
	}
	for _, name := range cands[0].Rescaled {
		if m.Graph.Value(name) != nil {
			t.Errorf("%s kept its name", name)
		}
	}
}
