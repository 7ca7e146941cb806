package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// A Gemm's alpha and beta fold into its own constant B and C, and the
// outputs stay the same; a B another node reads too keeps its alpha.
func TestFoldGemmScales(t *testing.T) {
	model := func(shared bool) *graph.Model {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 2, 4)
		w := f32(b, "w", 1, 4, 3)
		y := b.Op("Gemm", x, w, f32(b, "c", 2, 3), graph.FloatAttr("alpha", 0.25), graph.FloatAttr("beta", 2))
		b.Output(y)
		if shared {
			b.Output(b.Op("MatMul", x, w))
		}
		return build(t, b)
	}
	feeds := map[string]*runtime.Tensor{"x": input(0.3, 2, 4)}
	for _, shared := range []bool{false, true} {
		m := model(shared)
		if err := Run(m, &Context{}, []Pass{FoldGemmScales()}, RunOptions{}); err != nil {
			t.Fatal(err)
		}
		var gemm *graph.Node
		for _, n := range m.Graph.Nodes {
			if n.OpType == "Gemm" {
				gemm = n
			}
		}
		if got := gemm.Attr("alpha") != nil; got != shared {
			t.Errorf("shared B %v: alpha kept %v", shared, got)
		}
		if gemm.Attr("beta") != nil {
			t.Errorf("shared B %v: beta kept", shared)
		}
		sameOutputs(t, model(shared), m, feeds, 1e-6)
	}
}
