package passes

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// buildLSTM makes x → Conv → LSTM(W, R, B) → Y, hidden size 16, so R
// [1,64,16] has 1024 elements and W [1,64,8] 512.
func buildLSTM(b *graph.Builder) {
	x := b.Input("x", graph.Float32, 5, 1, 8)
	w := f32(b, "lstm_W", 1, 1, 64, 8)
	r := f32(b, "lstm_R", 2, 1, 64, 16)
	bias := f32(b, "lstm_B", 3, 1, 128)
	ys := b.OpN("LSTM", 1, x, w, r, bias, graph.IntAttr("hidden_size", 16))
	b.Output(ys[0])
}

// With WeightOnly, an LSTM (which stays FP32) reads its recurrence
// weight R as int8 through a per-row DequantizeLinear; W, under
// weightOnlyMinElems, and the bias stay float, and the report names R.
// The dequantized R is the FP32 one rounded to its row's grid, and the
// outputs stay close to FP32.
func TestQuantizeWeightOnlyLSTM(t *testing.T) {
	b := graph.NewBuilder(13)
	buildLSTM(b)
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.3, 5, 1, 8)}
	want := outputs(t, m, feeds)
	rf, _ := m.Graph.Value("lstm_R").Const.Float32s()
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	g := m.Graph
	if g.Value("lstm_R").DType != graph.Int8 || g.Value("lstm_W").DType != graph.Float32 || g.Value("lstm_B").DType != graph.Float32 {
		t.Fatalf("R %v, W %v, B %v: want int8 R only", g.Value("lstm_R").DType, g.Value("lstm_W").DType, g.Value("lstm_B").DType)
	}
	dq := weightDQ(g, "lstm_R")
	if dq == nil || dq.AttrInt("axis", -1) != 1 || len(dq.Outputs[0].Consumers) != 1 || dq.Outputs[0].Consumers[0].OpType != "LSTM" {
		t.Fatalf("R's DequantizeLinear %v does not feed the LSTM per row", dq)
	}
	if len(r.WeightOnly) != 1 || !strings.HasSuffix(r.WeightOnly[0], "(LSTM): lstm_R") {
		t.Errorf("report's weight-only list %q", r.WeightOnly)
	}
	if r.WeightsQuantized != 1 || r.TensorsQuantized != 0 {
		t.Errorf("%d weights, %d activations quantized; want R only", r.WeightsQuantized, r.TensorsQuantized)
	}
	// round trip: the DQ output is each R element on its row's grid
	qv, _ := g.Value("lstm_R").Const.Raw()
	scales, _ := dq.Input(1).Const.Float32s()
	if len(scales) != 64 {
		t.Fatalf("%d scales, want one per row (64)", len(scales))
	}
	for i, f := range rf {
		s := scales[i/16]
		if got := float32(int8(qv[i])) * s; math.Abs(float64(got-f)) > float64(s)/2*1.0001 {
			t.Fatalf("R[%d] = %v dequantizes to %v (scale %v)", i, f, got, s)
		}
	}
	if db := worstSQNR(want, outputs(t, m, feeds)); db < 35 {
		t.Errorf("LSTM with int8 R: %.1f dB against FP32, want ≥ 35", db)
	}

	// off: nothing changes
	b = graph.NewBuilder(13)
	buildLSTM(b)
	m = build(t, b)
	o := DefaultQuantOptions()
	o.WeightOnly = false
	if r := quantize(t, m, fixedRanges(m, nil), o); len(r.WeightOnly) != 0 || m.Graph.Value("lstm_R").DType != graph.Float32 {
		t.Errorf("WeightOnly off still stored %q as integers", r.WeightOnly)
	}
	// an FP32 override or an exclusion keeps R float
	override, exclude := DefaultQuantOptions(), DefaultQuantOptions()
	override.Overrides = map[string]TensorOverride{"lstm_R": {FP32: true}}
	exclude.ExcludeOps = []string{"LSTM"}
	for name, o := range map[string]QuantOptions{"an FP32 override": override, "--exclude-op LSTM": exclude} {
		b = graph.NewBuilder(13)
		buildLSTM(b)
		m = build(t, b)
		quantize(t, m, fixedRanges(m, nil), o)
		if m.Graph.Value("lstm_R").DType != graph.Float32 {
			t.Errorf("R quantized despite %s", name)
		}
	}
}

// The names the pass adds do not grow with the names of the model: a
// model whose values and weights carry 200-byte names quantizes to the
// same graph, bit for bit in onnxq's runtime, as one with short names,
// and every added name is short.
func TestQuantizeGeneratedNamesShort(t *testing.T) {
	long := func(s string) string { return s + strings.Repeat("/layer", 33) }
	mk := func(name func(string) string) (*graph.Model, map[string]bool) {
		b := graph.NewBuilder(13)
		x := b.Input(name("x"), graph.Float32, 1, 2, 6, 6)
		h := b.Op("Relu", b.Op("Conv", x, convW(b, name("w1"), 1, 4, 2, 3), f32(b, name("b1"), 2, 4)))
		y := b.Op("Conv", h, convW(b, name("w2"), 3, 2, 4, 3), f32(b, name("b2"), 4, 2))
		b.Output(y)
		m := build(t, b)
		old := map[string]bool{}
		m.Graph.Walk(func(g *graph.Graph) {
			for _, n := range g.Nodes {
				old[n.Name] = true
				for _, o := range n.Outputs {
					old[o.Name] = true
				}
			}
			for _, v := range g.Initializers {
				old[v.Name] = true
			}
		})
		return m, old
	}
	short, _ := mk(func(s string) string { return s })
	lm, old := mk(long)
	feeds := func(x string) map[string]*runtime.Tensor {
		return map[string]*runtime.Tensor{x: input(0.4, 1, 2, 6, 6)}
	}
	quantize(t, short, fixedRanges(short, nil), DefaultQuantOptions())
	quantize(t, lm, fixedRanges(lm, nil), DefaultQuantOptions())
	for _, n := range lm.Graph.Nodes {
		if old[n.Name] {
			continue
		}
		names := []string{n.Name}
		for _, v := range append(slices.Clone(n.Inputs), n.Outputs...) {
			if v != nil && !old[v.Name] && v.Name != long("x") {
				names = append(names, v.Name)
			}
		}
		for _, s := range names {
			if len(s) > 6 {
				t.Errorf("added name %q (node %s) is long", s, n.OpType)
			}
		}
	}
	a, b := outputs(t, short, feeds("x")), outputs(t, lm, feeds(long("x")))
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("outputs %d, %d", len(a), len(b))
	}
	var ta, tb *runtime.Tensor
	for _, v := range a {
		ta = v
	}
	for _, v := range b {
		tb = v
	}
	fa, fb := ta.Data.([]float32), tb.Data.([]float32)
	for i := range fa {
		if math.Float32bits(fa[i]) != math.Float32bits(fb[i]) {
			t.Fatalf("output %d: %v with short names, %v with long ones", i, fa[i], fb[i])
		}
	}
}
