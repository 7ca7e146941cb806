// This file holds image-scaler. ImageScaler (scale·x + a per-channel
// bias) was an experimental op that opset 10 dropped; older exported
// vision models still begin with it (the ONNX model zoo's Tiny YOLOv2).
// No opset the quantized model needs (13 for per-channel weights) holds
// it, so the pass writes it as the Mul and Add it stands for.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// ImageScalerToMulAdd returns the image-scaler pass.
func ImageScalerToMulAdd() Pass {
	return Pass{
		Name: "image-scaler",
		Doc:  "ImageScaler nodes (dropped at opset 10) become a Mul by the scale and an Add of the per-channel bias",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			count := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.OpType != "ImageScaler" || n.Domain != "" && n.Domain != "ai.onnx" {
						continue
					}
					if err = rewriteImageScaler(g, n); err != nil {
						err = fmt.Errorf("ImageScaler %q: %v", n.Name, err)
						return
					}
					count++
				}
			})
			if count > 0 {
				ctx.Logf("image-scaler: %d ImageScaler nodes written as Mul and Add", count)
			}
			return count > 0, err
		},
	}
}

// rewriteImageScaler replaces n, ImageScaler(x; scale, bias), by
// Add(Mul(x, scale), bias as [1, C, 1, ...]); the Add writes n's output.
func rewriteImageScaler(g *graph.Graph, n *graph.Node) error {
	x, y := n.Input(0), n.Outputs[0]
	if x == nil || y == nil || len(n.Outputs) != 1 {
		return fmt.Errorf("takes one input and one output")
	}
	rank := len(x.Shape)
	if x.Shape == nil {
		rank = 4 // the op is defined on NCHW images
	}
	if rank < 2 {
		return fmt.Errorf("input %q has rank %d; the op scales NCHW images", x.Name, rank)
	}
	var bias []float32
	if a := n.Attr("bias"); a != nil {
		bias = slices.Clone(a.Floats)
	}
	if c := x.Shape; len(bias) > 1 && c != nil && c[1].Known() && int(c[1].Size) != len(bias) {
		return fmt.Errorf("%d biases for %d channels", len(bias), c[1].Size)
	}
	add := func(base string, dims []int64, vals []float32) (*graph.Value, error) {
		t, err := graph.FromFloat32s(g.UniqueName(base), dims, vals)
		if err != nil {
			return nil, err
		}
		return g.AddInitializer(t)
	}
	scale, err := add(n.Name+"_scale", nil, []float32{n.AttrFloat("scale", 1)})
	if err != nil {
		return err
	}
	dims := make([]int64, rank)
	for i := range dims {
		dims[i] = 1
	}
	if len(bias) == 0 {
		bias = []float32{0}
	}
	dims[1] = int64(len(bias))
	b, err := add(n.Name+"_bias", dims, bias)
	if err != nil {
		return err
	}
	pos := slices.Index(g.Nodes, n)
	mul := &graph.Node{OpType: "Mul", Name: g.UniqueNodeName(n.Name + "_mul"), Inputs: []*graph.Value{x, scale}}
	if err := g.InsertNode(pos, mul, g.UniqueName(y.Name+"_scaled")); err != nil {
		return err
	}
	mul.Outputs[0].DType, mul.Outputs[0].Shape = x.DType, x.Shape
	sum := &graph.Node{OpType: "Add", Name: n.Name, Inputs: []*graph.Value{mul.Outputs[0], b}}
	if err := g.InsertNode(pos+1, sum, g.UniqueName(y.Name+"_biased")); err != nil {
		return err
	}
	sum.Outputs[0].DType, sum.Outputs[0].Shape = y.DType, y.Shape
	return replaceNodeBy(g, n, sum.Outputs[0])
}
