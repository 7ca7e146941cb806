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
