package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// Raising the opset past 10 writes Upsample (7 and 9) and Resize-10 as
// Resize with asymmetric coordinates and the nearest rounding their rule
// gives, which computes the same; scales that both up- and downsample
// cannot be written so.
func TestUpgradeResizeForms(t *testing.T) {
	cases := []struct {
		name   string
		opset  int64
		op     string
		mode   string
		scales []float32
		hw     int // input height and width
		err    bool
	}{
		{"upsample-7 nearest", 7, "Upsample", "nearest", []float32{1, 1, 2, 3}, 4, false},
		{"upsample-9 nearest", 9, "Upsample", "nearest", []float32{1, 1, 2, 2}, 4, false},
		{"upsample-9 linear", 9, "Upsample", "linear", []float32{1, 1, 2, 1.5}, 4, false},
		{"resize-10 down", 10, "Resize", "nearest", []float32{1, 1, 0.5, 0.6}, 10, false},
		{"resize-10 linear", 10, "Resize", "linear", []float32{1, 1, 1.5, 2}, 4, false},
		{"resize-10 mixed", 10, "Resize", "nearest", []float32{1, 1, 2, 0.5}, 4, true},
	}
	for _, c := range cases {
		model := func() *graph.Model {
			b := graph.NewBuilder(c.opset)
			x := b.Input("x", graph.Float32, 1, 2, int64(c.hw), int64(c.hw))
			var y *graph.Value
			if c.opset < 9 {
				y = b.Op(c.op, x, graph.StringAttr("mode", c.mode), graph.FloatsAttr("scales", c.scales...))
			} else {
				y = b.Op(c.op, x, b.Const(graph.FromFloat32s("scales", []int64{4}, c.scales)), graph.StringAttr("mode", c.mode))
			}
			b.Output(y)
			return build(t, b)
		}
		m := model()
		err := upgradeOpset(m, c.opset, 13, func(g *graph.Graph, base string) string { return g.UniqueName(base) })
		if (err != nil) != c.err {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.err {
			continue
		}
		n := m.Graph.Nodes[0]
		if n.OpType != "Resize" || n.AttrString("coordinate_transformation_mode", "") != "asymmetric" || len(n.Inputs) != 3 {
			t.Fatalf("%s: %s with %d inputs, coordinates %q", c.name, n.OpType, len(n.Inputs), n.AttrString("coordinate_transformation_mode", ""))
		}
		sameOutputs(t, model(), m, map[string]*runtime.Tensor{"x": input(0.3, 1, 2, c.hw, c.hw)}, 1e-6)
	}
}

// TopK before opset 10 takes k as an attribute; raised, it reads k as its
// second input and gives the same values and indices.
func TestUpgradeTopK(t *testing.T) {
	model := func() *graph.Model {
		b := graph.NewBuilder(9)
		outs := b.OpN("TopK", 2, b.Input("x", graph.Float32, 2, 6), graph.IntAttr("k", 3))
		b.Output(outs[0])
		b.Output(outs[1])
		return build(t, b)
	}
	m := model()
	if err := upgradeOpset(m, 9, 13, func(g *graph.Graph, base string) string { return g.UniqueName(base) }); err != nil {
		t.Fatal(err)
	}
	n := m.Graph.Nodes[0]
	if n.Attr("k") != nil || len(n.Inputs) != 2 || n.Input(1).Const == nil {
		t.Fatalf("TopK inputs %d, k attribute %v", len(n.Inputs), n.Attr("k"))
	}
	feeds := map[string]*runtime.Tensor{"x": input(0.7, 2, 6)}
	want, got := outputs(t, model(), feeds), outputs(t, m, feeds)
	for name, w := range want {
		a, _ := w.AsFloat64()
		b, _ := got[name].AsFloat64()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("output %s[%d] = %v, was %v", name, i, b[i], a[i])
			}
		}
	}
}

// Raising the opset past 18 moves the Reduce ops' axes to their second
// input, and past 21 gives GroupNormalization's per-group scale and bias
// one value per channel; outputs stay the same. GridSample's modes take
// their opset-20 names.
func TestUpgradeTo21(t *testing.T) {
	model17 := func() *graph.Model {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 1, 4, 3, 3)
		b.Output(b.Op("ReduceMean", b.Op("ReduceMax", x, graph.IntsAttr("axes", 3)), graph.IntsAttr("axes", 2), graph.IntAttr("keepdims", 0)))
		return build(t, b)
	}
	uniq := func(g *graph.Graph, base string) string { return g.UniqueName(base) }
	feeds := map[string]*runtime.Tensor{"x": input(0.4, 1, 4, 3, 3)}
	m := model17()
	if err := upgradeOpset(m, 17, 21, uniq); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		if n.Attr("axes") != nil || n.Input(1) == nil || n.Input(1).Const == nil {
			t.Errorf("%s keeps its axes attribute or has no axes input", n.OpType)
		}
	}
	sameOutputs(t, model17(), m, feeds, 1e-6)
	b := graph.NewBuilder(18)
	x := b.Input("x", graph.Float32, 1, 4, 3, 3)
	b.Output(b.Op("GroupNormalization", x, b.Const(graph.FromFloat32s("gs", []int64{2}, []float32{2, -1})), b.Const(graph.FromFloat32s("gb", []int64{2}, []float32{0.5, 1})), graph.IntAttr("num_groups", 2)))
	gm := build(t, b)
	want := outputs(t, gm, feeds)
	if err := upgradeOpset(gm, 18, 21, uniq); err != nil {
		t.Fatal(err)
	}
	n := gm.Graph.Nodes[0]
	if s, _ := n.Input(1).Const.Float32s(); len(s) != 4 || s[1] != 2 || s[2] != -1 {
		t.Errorf("per-channel scale %v, want [2 2 -1 -1]", s)
	}
	for name, w := range want {
		if d, ref := maxDiff(w.F32(), outputs(t, gm, feeds)[name].F32()); d > 1e-5*max(1, ref) {
			t.Errorf("GroupNormalization output %s differs by %g", name, d)
		}
	}
	gs := &graph.Node{OpType: "GridSample", Attrs: []*graph.Attribute{graph.StringAttr("mode", "bicubic")}}
	if err := rewriteGridSampleMode(gs, 16, 20, nil); err != nil || gs.AttrString("mode", "") != "cubic" {
		t.Errorf("GridSample mode %q (%v)", gs.AttrString("mode", ""), err)
	}
}

// A Split without sizes (equal parts, one per output) raised past opset
// 18 says num_outputs, which that opset requires in their place; one with
// sizes keeps them as its second input.
func TestUpgradeSplitTo18(t *testing.T) {
	uniq := func(g *graph.Graph, base string) string { return g.UniqueName(base) }
	feeds := map[string]*runtime.Tensor{"x": input(0.2, 1, 6, 2)}
	for _, sizes := range [][]int64{nil, {2, 4}} {
		model := func() *graph.Model {
			b := graph.NewBuilder(11)
			x := b.Input("x", graph.Float32, 1, 6, 2)
			var attrs []any
			if sizes != nil {
				attrs = append(attrs, graph.IntsAttr("split", sizes...))
			}
			for _, o := range b.OpN("Split", 2, append([]any{x, graph.IntAttr("axis", 1)}, attrs...)...) {
				b.Output(o)
			}
			return build(t, b)
		}
		m := model()
		if err := upgradeOpset(m, 11, 18, uniq); err != nil {
			t.Fatal(err)
		}
		n := m.Graph.Nodes[0]
		if sizes == nil && (n.AttrInt("num_outputs", 0) != 2 || n.Input(1) != nil) {
			t.Errorf("equal Split: num_outputs %d, sizes input %v", n.AttrInt("num_outputs", 0), n.Input(1))
		}
		if sizes != nil && (n.Attr("num_outputs") != nil || n.Input(1) == nil) {
			t.Errorf("sized Split: num_outputs %v, sizes input %v", n.Attr("num_outputs"), n.Input(1))
		}
		m.OpsetImports = []graph.OpsetImport{{Domain: "", Version: 18}}
		sameOutputs(t, model(), m, feeds, 0)
	}
}
