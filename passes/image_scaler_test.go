package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// An ImageScaler becomes a Mul and an Add writing the value it wrote
// (name kept), with the same outputs; the prepared model holds no
// ImageScaler, which no opset from 10 on defines.
func TestImageScalerToMulAdd(t *testing.T) {
	model := func() *graph.Model {
		b := graph.NewBuilder(8)
		s := b.Op("ImageScaler", b.Input("x", graph.Float32, 1, 3, 4, 4), graph.FloatAttr("scale", 1.0/255), graph.FloatsAttr("bias", -0.5, 0.25, 1))
		if err := b.Graph().Rename(s, "scaled"); err != nil {
			t.Fatal(err)
		}
		b.Output(b.Op("Conv", s, f32(b, "w", 1, 2, 3, 1, 1)))
		return build(t, b)
	}
	m := model()
	if err := Run(m, &Context{}, PreparePasses(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range m.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	if len(ops) != 3 || ops[0] != "Mul" || ops[1] != "Add" || ops[2] != "Conv" || m.Graph.Nodes[1].Outputs[0].Name != "scaled" {
		t.Fatalf("nodes %v, the Add writes %q", ops, m.Graph.Nodes[1].Outputs[0].Name)
	}
	x := input(0, 1, 3, 4, 4)
	for i, v := range x.F32() {
		x.F32()[i] = 255 * (v + 1) / 2 // pixel values
	}
	sameOutputs(t, model(), m, map[string]*runtime.Tensor{"x": x}, 1e-5)
}
