// This file holds fold-batchnorm. An inference BatchNormalization (one
// output, constant scale, bias, mean and variance) whose input is read by
// it alone and produced by a Conv or ConvTranspose with a constant float32
// weight (and bias, if any) is folded into that op: with
// s = scale/sqrt(var+eps), each output channel's weights are multiplied by
// s and its bias becomes (bias-mean)*s + B; the BN node goes away and its
// readers read the conv's output. Gemm (any transB, alpha) folds the same
// way along its output columns when its C is absent or per column or
// scalar; a rank-2 MatMul with a constant 2-D weight takes the scaled
// weight, and the BN becomes an Add of the folded bias. A BN after
// anything else is left alone for the quantizer. Names keep their
// values: the folded op's output takes the BN output's name, and a MatMul
// output that now holds the scaled product gets a new name ("_bnfold"). It needs constants as
// initializers (after fold-constants) and leaves the old weights, if
// shared, and the BN parameters for remove-dead-nodes.

package passes

import (
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// FoldBatchNorm returns the fold-batchnorm pass.
func FoldBatchNorm() Pass {
	return Pass{
		Name: "fold-batchnorm",
		Doc:  "fold inference BatchNormalization into the preceding Conv, ConvTranspose, Gemm or MatMul with constant weights",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			folded := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.Graph != g || n.OpType != "BatchNormalization" || (n.Domain != "" && n.Domain != "ai.onnx") {
						continue
					}
					var ok bool
					ok, err = foldBN(m, g, n)
					if ok {
						folded++
					}
				}
			})
			if folded > 0 {
				ctx.Logf("fold-batchnorm: %d BatchNormalization nodes folded", folded)
			}
			return folded > 0, err
		},
	}
}

// bnFactors returns, per channel, the multiplier s and the offset
// B - mean*s of an inference BatchNormalization, or nil if bn is not one
// with constant float32 parameters.
func bnFactors(m *graph.Model, bn *graph.Node) (s, off []float64) {
	if len(bn.Inputs) != 5 || n1(bn.Outputs) != 1 || bn.Outputs[0] == nil {
		return nil, nil
	}
	if bn.AttrInt("training_mode", 0) != 0 || bn.AttrInt("spatial", 1) != 1 {
		return nil, nil
	}
	var p [4][]float32
	for i := range 4 {
		v := bn.Inputs[i+1]
		if !isConst(m, v) || v.Const.DType != graph.Float32 {
			return nil, nil
		}
		d, err := v.Const.Float32s()
		if err != nil {
			return nil, nil
		}
		p[i] = d
	}
	c := len(p[0])
	if c == 0 {
		return nil, nil
	}
	for i := range 4 {
		if len(p[i]) != c {
			return nil, nil
		}
	}
	eps := float64(bn.AttrFloat("epsilon", 1e-5))
	s, off = make([]float64, c), make([]float64, c)
	for i := range c {
		if !(float64(p[3][i])+eps > 0) {
			return nil, nil // the BN itself yields NaN or Inf: keep it as it is
		}
		s[i] = float64(p[0][i]) / math.Sqrt(float64(p[3][i])+eps)
		off[i] = float64(p[1][i]) - float64(p[2][i])*s[i]
	}
	return s, off
}

func n1(vs []*graph.Value) int {
	k := 0
	for _, v := range vs {
		if v != nil {
			k++
		}
	}
	return k
}

// foldBN folds bn into the op producing its input, if it can.
func foldBN(m *graph.Model, g *graph.Graph, bn *graph.Node) (bool, error) {
	x, y := bn.Inputs[0], bn.Outputs[0]
	if x == nil || y == nil || isGraphOutput(g, y) || isGraphOutput(g, x) {
		return false, nil
	}
	p := x.Producer
	if p == nil || p.Graph != g || len(x.Consumers) != 1 || p.Outputs[0] != x || (p.Domain != "" && p.Domain != "ai.onnx") {
		return false, nil
	}
	s, off := bnFactors(m, bn)
	if s == nil {
		return false, nil
	}
	w := p.Input(1)
	if !isConst(m, w) || w.Const.DType != graph.Float32 {
		return false, nil
	}
	wd, err := w.Const.Float32s()
	if err != nil || len(wd) == 0 {
		return false, nil
	}
	dims := w.Const.Dims
	c := len(s)
	var channelOf func(i int) int // output channel of weight element i
	var biasIn int                // input index of the bias, -1 for MatMul
	switch p.OpType {
	case "Conv":
		if len(dims) < 3 || dims[0] != int64(c) {
			return false, nil
		}
		per := len(wd) / c
		channelOf = func(i int) int { return i / per }
		biasIn = 2
	case "ConvTranspose":
		group := int(p.AttrInt("group", 1))
		if len(dims) < 3 || group < 1 || int(dims[0])%group != 0 || int64(c) != dims[1]*int64(group) {
			return false, nil
		}
		inPer, outPer := int(dims[0])/group, int(dims[1])
		per := len(wd) / int(dims[0]*dims[1])
		channelOf = func(i int) int {
			ci, j := i/per/outPer, i/per%outPer
			return ci/inPer*outPer + j
		}
		biasIn = 2
	case "Gemm":
		if len(dims) != 2 {
			return false, nil
		}
		if p.AttrInt("transB", 0) != 0 {
			if dims[0] != int64(c) {
				return false, nil
			}
			k := int(dims[1])
			channelOf = func(i int) int { return i / k }
		} else {
			if dims[1] != int64(c) {
				return false, nil
			}
			channelOf = func(i int) int { return i % c }
		}
		biasIn = 2
	case "MatMul":
		a := p.Input(0)
		if len(dims) != 2 || dims[1] != int64(c) || a == nil || len(a.Shape) != 2 {
			return false, nil
		}
		channelOf = func(i int) int { return i % c }
		biasIn = -1
	default:
		return false, nil
	}
	if len(x.Shape) > 0 && x.Shape[1].Known() && x.Shape[1].Size != int64(c) {
		return false, nil
	}

	// Bias of the weighted op, per output channel.
	bias := make([]float64, c)
	if biasIn >= 0 {
		if b := p.Input(biasIn); b != nil {
			if !isConst(m, b) || b.Const.DType != graph.Float32 {
				return false, nil
			}
			bd, err := b.Const.Float32s()
			if err != nil {
				return false, nil
			}
			beta := 1.0
			if p.OpType == "Gemm" {
				beta = float64(p.AttrFloat("beta", 1))
			}
			switch len(bd) {
			case c:
				if p.OpType == "Gemm" && len(b.Const.Dims) == 2 && b.Const.Dims[0] != 1 {
					return false, nil // a column of C, not per output channel
				}
				for i := range c {
					bias[i] = beta * float64(bd[i])
				}
			case 1:
				if p.OpType != "Gemm" {
					return false, nil
				}
				for i := range c {
					bias[i] = beta * float64(bd[0])
				}
			default:
				return false, nil
			}
		}
	}

	nw := make([]float32, len(wd))
	for i, v := range wd {
		nw[i] = float32(float64(v) * s[channelOf(i)])
	}
	nb := make([]float32, c)
	for i := range c {
		nb[i] = float32(bias[i]*s[i] + off[i])
	}
	wt, err := graph.FromFloat32s(w.Name, dims, nw)
	if err != nil {
		return false, err
	}
	if _, err := ownConst(m, g, p, 1, w, wt, "_bnfold"); err != nil {
		return false, err
	}
	if biasIn < 0 {
		// MatMul has no bias: the BN becomes Add(x, bias).
		bt, err := graph.FromFloat32s(g.UniqueName(bn.Name+"_bias"), []int64{int64(c)}, nb)
		if err != nil {
			return false, err
		}
		bv, err := g.AddInitializer(bt)
		if err != nil {
			return false, err
		}
		for i := len(bn.Inputs) - 1; i >= 1; i-- {
			bn.Inputs[i].Consumers = slices.DeleteFunc(bn.Inputs[i].Consumers, func(n *graph.Node) bool { return n == bn })
		}
		bn.Inputs = bn.Inputs[:1]
		bn.SetInput(1, bv)
		bn.OpType, bn.Attrs = "Add", nil
		// x now holds the product with the scaled weight, not the
		// MatMul's FP32 value: a new name keeps equal names meaning
		// equal values between the original and the prepared model.
		if err := g.Rename(x, g.UniqueName(x.Name+"_bnfold")); err != nil {
			return false, err
		}
		return true, nil
	}
	bshape := []int64{int64(c)}
	bt, err := graph.FromFloat32s("", bshape, nb)
	if err != nil {
		return false, err
	}
	if old := p.Input(biasIn); old != nil {
		if _, err := ownConst(m, g, p, biasIn, old, bt, "_bnfold"); err != nil {
			return false, err
		}
	} else {
		bt.Name = g.UniqueName(nameOr(p.Name, p.OpType) + "_bias")
		bv, err := g.AddInitializer(bt)
		if err != nil {
			return false, err
		}
		p.SetInput(biasIn, bv)
	}
	if p.OpType == "Gemm" {
		p.SetAttr(graph.FloatAttr("beta", 1))
	}
	return true, replaceNodeBy(g, bn, x)
}

func nameOr(name, def string) string {
	if name != "" {
		return name
	}
	return def
}

// ownConst makes input i of n (currently old) hold t: old is updated in
// place when n is its only reader, otherwise n gets a new initializer
// named after old with suffix.
func ownConst(m *graph.Model, g *graph.Graph, n *graph.Node, i int, old *graph.Value, t *graph.Tensor, suffix string) (*graph.Value, error) {
	if old.Graph == g && len(old.Consumers) == 1 && !isGraphOutput(g, old) && !slices.Contains(g.Inputs, old) {
		return old, g.SetConst(old, t)
	}
	t.Name = g.UniqueName(old.Name + suffix)
	v, err := g.AddInitializer(t)
	if err != nil {
		return nil, err
	}
	n.SetInput(i, v)
	return v, nil
}
