// This file holds fold-gemm-scales: a Gemm computes alpha·A·B + beta·C;
// with B and C constants of its own, alpha multiplies into B and beta
// into C, and the attributes go. The quantize pass quantizes a Gemm only
// when alpha and beta are 1 (its integer unit has no place for them), so a
// Gemm exported with a scale (alpha 1/√d in attention, beta 0.5) becomes
// quantizable at the cost of one float rounding per weight.

package passes

import (
	"github.com/onnxq/onnxq/graph"
)

// FoldGemmScales returns the fold-gemm-scales pass.
func FoldGemmScales() Pass {
	return Pass{
		Name: "fold-gemm-scales",
		Doc:  "multiply a Gemm's alpha into its constant B and its beta into its constant C",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			folded := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range g.Nodes {
					if err != nil || n.OpType != "Gemm" || (n.Domain != "" && n.Domain != "ai.onnx") {
						continue
					}
					var did bool
					did, err = foldGemmScales(m, g, n)
					if did {
						folded++
					}
				}
			})
			if folded > 0 {
				ctx.Logf("fold-gemm-scales: %d Gemm scales folded into their constants", folded)
			}
			return folded > 0, err
		},
	}
}

// foldGemmScales folds what it can of n's alpha and beta; it reports
// whether it changed n.
func foldGemmScales(m *graph.Model, g *graph.Graph, n *graph.Node) (bool, error) {
	changed := false
	scale := func(attr string, slot int) error {
		a := n.Attr(attr)
		if a == nil || a.Type != graph.AttrFloat || a.Float == 1 {
			return nil
		}
		v := n.Input(slot)
		if v == nil {
			if attr == "beta" { // no C: beta scales nothing
				removeAttr(n, attr)
				changed = true
			}
			return nil
		}
		if !ownedF32(m, g, n, v) {
			return nil
		}
		data, err := v.Const.Float32s()
		if err != nil {
			return nil
		}
		out := make([]float32, len(data))
		for i, x := range data {
			out[i] = a.Float * x
		}
		if err := setF32(g, v, out); err != nil {
			return err
		}
		removeAttr(n, attr)
		changed = true
		return nil
	}
	if err := scale("alpha", 1); err != nil {
		return changed, err
	}
	err := scale("beta", 2)
	return changed, err
}
