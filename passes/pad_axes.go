// This file holds pad-full-rank. From opset 18 a Pad may take an axes
// input naming the axes its pads cover; with constant pads and axes and a
// known input rank the pass writes the pads for every axis (0 on the
// others) and drops the axes input: the same op, in the form every opset
// since 11 has.
//
// Why: ONNX Runtime (1.30) moves Transposes across a Pad when it turns a
// quantized model's convolutions channels-last, and with an axes input it
// moves the pads but not the axes: the quantized model fails at its first
// run ("indices element out of data bounds") while the FP32 model runs.

package passes

import "github.com/onnxq/onnxq/graph"

// PadFullRank returns the pad-full-rank pass.
func PadFullRank() Pass {
	return Pass{
		Name: "pad-full-rank",
		Doc:  "write a Pad's axes input (opset 18) into pads for every axis",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			rewritten := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range g.Nodes {
					if err != nil || n.OpType != "Pad" || n.Domain != "" && n.Domain != "ai.onnx" {
						continue
					}
					var done bool
					if done, err = padFullRank(m, g, n); done {
						rewritten++
					}
				}
			})
			if err != nil {
				return false, err
			}
			if rewritten > 0 {
				ctx.Logf("pad-full-rank: %d Pad axes inputs written into full pads", rewritten)
			}
			return rewritten > 0, nil
		},
	}
}

// padFullRank rewrites one Pad when its axes and pads are constants of
// int64 and its data input's rank is known.
func padFullRank(m *graph.Model, g *graph.Graph, n *graph.Node) (bool, error) {
	x, pads, axes := n.Input(0), n.Input(1), n.Input(3)
	if x == nil || x.Shape == nil || !isConst(m, pads) || !isConst(m, axes) {
		return false, nil
	}
	p, err1 := pads.Const.Int64s()
	a, err2 := axes.Const.Int64s()
	rank := int64(len(x.Shape))
	if err1 != nil || err2 != nil || len(p) != 2*len(a) {
		return false, nil
	}
	full := make([]int64, 2*rank)
	seen := map[int64]bool{}
	for i, ax := range a {
		if ax < 0 {
			ax += rank
		}
		if ax < 0 || ax >= rank || seen[ax] {
			return false, nil // invalid: left for the runtime to report
		}
		seen[ax] = true
		full[ax], full[rank+ax] = p[i], p[len(a)+i]
	}
	t, err := graph.FromInt64s(g.UniqueName(nameOr(n.Name, n.OpType)+"_pads"), []int64{2 * rank}, full)
	if err != nil {
		return false, err
	}
	v, err := g.AddInitializer(t)
	if err != nil {
		return false, err
	}
	n.SetInput(1, v)
	n.SetInput(3, nil)
	n.Inputs = trimNilInputs(n.Inputs)
	return true, nil
}

// trimNilInputs drops trailing omitted inputs.
func trimNilInputs(ins []*graph.Value) []*graph.Value {
	for len(ins) > 0 && ins[len(ins)-1] == nil {
		ins = ins[:len(ins)-1]
	}
	return ins
}
