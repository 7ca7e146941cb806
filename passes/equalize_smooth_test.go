// This file checks the layer norm half of equalize-activations: which
// outputs are candidates, outlier channels moved into the readers'
// weights with outputs unchanged, the record along the last axis, and the
// cases left alone.

package passes

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// lastAxisStats runs m on feeds and returns the range and mean square of
// each channel along the last axis of value name.
func lastAxisStats(t *testing.T, m *graph.Model, feeds []map[string]*runtime.Tensor, name string) ChannelRange {
	t.Helper()
	var r ChannelRange
	count := 0.0
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if v.Name != name {
			return
		}
		c := x.Shape[len(x.Shape)-1]
		if r.Min == nil {
			r = ChannelRange{Min: make([]float32, c), Max: make([]float32, c), MeanSquare: make([]float64, c)}
		}
		for i, f := range x.F32() {
			k := i % c
			r.Min[k], r.Max[k] = min(r.Min[k], f), max(r.Max[k], f)
			r.MeanSquare[k] += float64(f) * float64(f)
		}
		count += float64(len(x.F32()) / c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range feeds {
		if _, err := sess.Run(f); err != nil {
			t.Fatal(err)
		}
	}
	for k := range r.MeanSquare {
		r.MeanSquare[k] /= count
	}
	return r
}

// normModel is x[1,6,8] -> a layer norm whose γ and β give channels 2 and
// 5 ranges about outlier times the others -> a MatMul, and a Reshape to [6,8]
// read by a Gemm with a transposed weight. written makes the layer norm
// of ops ending in x·γ + β; otherwise it is one LayerNormalization. It
// returns the model and the layer norm's output.
func normModel(t *testing.T, outlier float32, written bool) (*graph.Model, string) {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 6, 8)
	gamma, beta := ramp(8, 1), ramp(8, 2)
	for k := range gamma {
		gamma[k] = 1 + gamma[k]/4
		beta[k] /= 10
	}
	gamma[2], gamma[5], beta[5] = gamma[2]*outlier, gamma[5]*outlier, beta[5]*outlier
	var y *graph.Value
	if written {
		mean := b.Op("ReduceMean", x, graph.IntsAttr("axes", -1))
		d := b.Op("Sub", x, mean)
		v := b.Op("ReduceMean", b.Op("Mul", d, d), graph.IntsAttr("axes", -1))
		eps := b.Const(graph.FromFloat32s("eps", []int64{}, []float32{1e-5}))
		n := b.Op("Div", d, b.Op("Sqrt", b.Op("Add", v, eps)))
		y = b.Op("Add", b.Op("Mul", n, b.Const(graph.FromFloat32s("gamma", []int64{8}, gamma))),
			b.Const(graph.FromFloat32s("beta", []int64{1, 1, 8}, beta)))
	} else {
		y = b.Op("LayerNormalization", x, b.Const(graph.FromFloat32s("gamma", []int64{8}, gamma)),
			b.Const(graph.FromFloat32s("beta", []int64{8}, beta)), graph.IntAttr("axis", -1))
	}
	mm := b.Op("MatMul", y, f32(b, "w1", 3, 8, 5))
	flat := b.Op("Reshape", y, b.Const(graph.FromInt64s("shape", []int64{2}, []int64{6, 8})))
	gm := b.Op("Gemm", flat, f32(b, "w2", 4, 4, 8), graph.IntAttr("transB", 1))
	b.Output(mm, gm)
	return build(t, b), y.Name
}

func normFeeds() []map[string]*runtime.Tensor {
	return []map[string]*runtime.Tensor{{"x": input(0.3, 1, 6, 8)}, {"x": input(1.9, 1, 6, 8)}}
}

func TestEqualizeSmooth(t *testing.T) {
	for _, written := range []bool{false, true} {
		m, y := normModel(t, 30, written)
		cands := SmoothCandidates(m)
		if len(cands) != 1 || !slices.Equal(cands[0].Inputs, []string{y}) || len(cands[0].Rescaled) != 2 {
			t.Fatalf("written=%v: candidates %+v, want one reading %s and rescaling it and the Reshape's output", written, cands, y)
		}
		feeds := normFeeds()
		stats := lastAxisStats(t, m, feeds, y)
		before := clone(t, m)
		if !runPasses(t, m, EqualizeActivations(nil, &ReaderOptions{WeightLevels: 127, LastAxis: map[string]ChannelRange{y: stats}})) {
			t.Fatalf("written=%v: nothing smoothed", written)
		}
		for _, f := range feeds {
			sameOutputs(t, before, m, f, 1e-5)
		}
		// The outlier channels came down: their share of the range is
		// smaller than it was.
		after := lastAxisStats(t, m, feeds, y+RescaledSuffix)
		spread := func(r ChannelRange) float32 { return slices.Max(r.Max) / r.Max[0] }
		if !(spread(after) < spread(stats)/3) {
			t.Errorf("written=%v: outlier channel %gx channel 0 before, %gx after", written, spread(stats), spread(after))
		}
		rs, err := Rescales(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 {
			t.Errorf("written=%v: records %+v, want the output's and the Reshape's", written, rs)
		}
		for _, r := range rs {
			if v := m.Graph.Value(r.Value); v == nil || r.Axis != len(v.Shape)-1 || len(r.Factors) != 8 {
				t.Errorf("written=%v: record %+v not along the last axis", written, r)
			}
		}
	}
}

func TestEqualizeSmoothLeavesAlone(t *testing.T) {
	// No outlier channels: nothing to gain.
	m, y := normModel(t, 1, false)
	if runPasses(t, m, EqualizeActivations(nil, &ReaderOptions{WeightLevels: 127, LastAxis: map[string]ChannelRange{y: lastAxisStats(t, m, normFeeds(), y)}})) {
		t.Error("smoothed a layer norm without outliers")
	}
	m, y = normModel(t, 30, false)
	stats := lastAxisStats(t, m, normFeeds(), y)
	if runPasses(t, clone(t, m), EqualizeActivations(nil, &ReaderOptions{WeightLevels: 127, Keep: map[string]bool{y: true}, LastAxis: map[string]ChannelRange{y: stats}})) {
		t.Error("smoothed a kept value")
	}
	short := ChannelRange{Min: stats.Min[:4], Max: stats.Max[:4], MeanSquare: stats.MeanSquare[:4]}
	if runPasses(t, clone(t, m), EqualizeActivations(nil, &ReaderOptions{WeightLevels: 127, LastAxis: map[string]ChannelRange{y: short}})) {
		t.Error("smoothed with statistics of the wrong channel count")
	}
	// A residual Add reading the output too (a post-LN transformer), or a
	// Reshape folding the last axis, keeps it from being a candidate.
	for name, extra := range map[string]func(b *graph.Builder, y *graph.Value) *graph.Value{
		"residual Add": func(b *graph.Builder, y *graph.Value) *graph.Value { return b.Op("Add", y, y) },
		"Reshape folding the last axis": func(b *graph.Builder, y *graph.Value) *graph.Value {
			return b.Op("MatMul", b.Op("Reshape", y, b.Const(graph.FromInt64s("s2", []int64{2}, []int64{12, 4}))), f32(b, "w3", 5, 4, 2))
		},
	} {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 1, 6, 8)
		y := b.Op("LayerNormalization", x, f32(b, "gamma", 1, 8), f32(b, "beta", 2, 8), graph.IntAttr("axis", -1))
		b.Output(b.Op("MatMul", y, f32(b, "w1", 3, 8, 5)), extra(b, y))
		if got := SmoothCandidates(build(t, b)); len(got) != 0 {
			t.Errorf("%s: candidates %+v", name, got)
		}
	}
}

// On a dynamic batch a MatMul made a Gemm reads the layer norm's output
// through a Reshape of unknown output shape, beside the Shape that puts
// the rows back: the constant shape keeps the last axis, and the Shape
// reads only the shape, so the output is smoothed still.
func TestEqualizeSmoothDynamicRows(t *testing.T) {
	m, y := normModel(t, 30, false)
	v := m.Graph.Value(y)
	for _, r := range v.Consumers {
		if r.OpType == "Reshape" {
			r.Outputs[0].Shape = nil
		}
	}
	b := len(m.Graph.Nodes)
	shape := &graph.Node{OpType: "Shape", Inputs: []*graph.Value{v}}
	if err := m.Graph.AddNode(shape, m.Graph.UniqueName("rows")); err != nil {
		t.Fatal(err)
	}
	m.Graph.Outputs = append(m.Graph.Outputs, m.Graph.Nodes[b].Outputs[0])
	if got := SmoothCandidates(m); len(got) != 1 {
		t.Fatalf("candidates %+v, want the layer norm's output", got)
	}
	feeds := normFeeds()
	before := clone(t, m)
	if !runPasses(t, m, EqualizeActivations(nil, &ReaderOptions{WeightLevels: 127, LastAxis: map[string]ChannelRange{y: lastAxisStats(t, m, feeds, y)}})) {
		t.Fatal("nothing smoothed")
	}
	for _, f := range feeds {
		sameOutputs(t, before, m, f, 1e-5)
	}
	rs, err := Rescales(m)
	if err != nil || len(rs) != 2 {
		t.Fatalf("records %+v (%v)", rs, err)
	}
	for _, r := range rs {
		if r.Axis < 1 {
			t.Errorf("record %+v: no last axis", r)
		}
	}
}
