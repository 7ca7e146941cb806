// This file holds fold-conv-add. An Add of a constant float32 tensor that
// is the same for every position of an output channel (shape [M,1,...,1],
// [1,M,1,...,1] or a scalar, any rank up to the output's, with the
// constant as either input) whose other input is the only output of a
// Conv or ConvTranspose, read by the Add alone and not a graph output, is
// folded into that op's bias: the bias (created as zeros of shape [M] when
// absent) gains the constant and the Add goes away; if the Add's output is
// a graph output, the conv's output takes its name. A constant that would
// broadcast the output to another shape (higher rank, or a dimension other
// than 1 off the channel axis) is left alone, as is a bias that is not a
// constant of M float32 values. The sum is rounded to float32 once, so the
// results change by float32 rounding only. It runs before fold-batchnorm so
// that a conv, Add, BatchNormalization chain folds completely, needs
// constants as initializers (after fold-constants) and leaves an old bias
// or constant no longer read for remove-dead-nodes.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// FoldConvAdd returns the fold-conv-add pass.
func FoldConvAdd() Pass {
	return Pass{
		Name: "fold-conv-add",
		Doc:  "fold an Add of a per-output-channel constant into the bias of the preceding Conv or ConvTranspose",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			folded := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.Graph != g || n.OpType != "Add" || (n.Domain != "" && n.Domain != "ai.onnx") {
						continue
					}
					var ok bool
					ok, err = foldConvAdd(m, g, n)
					if ok {
						folded++
					}
				}
			})
			if folded > 0 {
				ctx.Logf("fold-conv-add: %d Add nodes folded into a bias", folded)
			}
			return folded > 0, err
		},
	}
}

// convOutChannels returns the number of output channels of a Conv or
// ConvTranspose p and the rank of its output, or 0, 0 when they are not
// known.
func convOutChannels(p *graph.Node, out *graph.Value) (ch int64, rank int) {
	w := p.Input(1)
	if w == nil {
		return 0, 0
	}
	var wdims []int64
	switch {
	case w.Const != nil:
		wdims = w.Const.Dims
	case w.Shape.Known():
		wdims = w.Shape.Sizes()
	}
	rank = len(out.Shape)
	if rank == 0 {
		rank = len(wdims)
	}
	if len(wdims) > 0 && len(wdims) != rank {
		return 0, 0
	}
	switch {
	case len(wdims) >= 2 && p.OpType == "Conv":
		ch = wdims[0]
	case len(wdims) >= 2 && p.OpType == "ConvTranspose":
		ch = wdims[1] * p.AttrInt("group", 1)
	}
	if len(out.Shape) >= 2 && out.Shape[1].Known() {
		if ch > 0 && ch != out.Shape[1].Size {
			return 0, 0
		}
		ch = out.Shape[1].Size
	}
	if rank < 3 || ch <= 0 {
		return 0, 0
	}
	return ch, rank
}

// channelConst returns the M per-channel values of c if adding c to a
// conv output of the given rank with M channels leaves its shape as it is
// and adds the same value to every position of a channel, or nil.
func channelConst(m *graph.Model, c *graph.Value, rank int, ch int64) []float64 {
	if !isConst(m, c) || c.Const.DType != graph.Float32 {
		return nil
	}
	dims := c.Const.Dims
	if len(dims) > rank {
		return nil // broadcasting would raise the output's rank
	}
	perChannel := false
	for i, d := range dims {
		axis := rank - len(dims) + i
		switch {
		case d == 1:
		case axis == 1 && d == ch:
			perChannel = true
		default:
			return nil
		}
	}
	data, err := c.Const.Float32s()
	if err != nil {
		return nil
	}
	out := make([]float64, ch)
	switch {
	case perChannel && int64(len(data)) == ch:
		for i := range out {
			out[i] = float64(data[i])
		}
	case !perChannel && len(data) == 1:
		for i := range out {
			out[i] = float64(data[0])
		}
	default:
		return nil
	}
	return out
}

// foldConvAdd folds add into the bias of the conv producing one of its
// inputs, if it can.
func foldConvAdd(m *graph.Model, g *graph.Graph, add *graph.Node) (bool, error) {
	if len(add.Inputs) != 2 || n1(add.Outputs) != 1 || add.Outputs[0] == nil {
		return false, nil
	}
	if add.Attr("broadcast") != nil || add.Attr("axis") != nil {
		return false, nil // before opset 7 a constant may align at another axis
	}
	for side := range 2 {
		x, c := add.Inputs[side], add.Inputs[1-side]
		if x == nil || c == nil || x == c {
			continue
		}
		p := x.Producer
		if p == nil || p.Graph != g || (p.OpType != "Conv" && p.OpType != "ConvTranspose") ||
			(p.Domain != "" && p.Domain != "ai.onnx") || n1(p.Outputs) != 1 || p.Outputs[0] != x ||
			len(x.Consumers) != 1 || isGraphOutput(g, x) {
			continue
		}
		if x.DType != graph.Float32 && x.DType != graph.Undefined {
			continue
		}
		ch, rank := convOutChannels(p, x)
		if ch == 0 {
			continue
		}
		extra := channelConst(m, c, rank, ch)
		if extra == nil {
			continue
		}
		bias := make([]float64, ch)
		b := p.Input(2)
		if b != nil {
			if !isConst(m, b) || b.Const.DType != graph.Float32 {
				continue
			}
			bd, err := b.Const.Float32s()
			if err != nil || int64(len(bd)) != ch {
				continue
			}
			for i, v := range bd {
				bias[i] = float64(v)
			}
		}
		return true, foldIntoBias(m, g, p, add, extra, bias)
	}
	return false, nil
}

// foldIntoBias gives conv p the bias bias+extra and removes add, which
// reads p's output.
func foldIntoBias(m *graph.Model, g *graph.Graph, p *graph.Node, add *graph.Node, extra, bias []float64) error {
	nb := make([]float32, len(bias))
	for i := range nb {
		nb[i] = float32(bias[i] + extra[i])
	}
	bt, err := graph.FromFloat32s("", []int64{int64(len(nb))}, nb)
	if err != nil {
		return err
	}
	if old := p.Input(2); old != nil {
		if _, err := ownConst(m, g, p, 2, old, bt, "_addfold"); err != nil {
			return err
		}
	} else {
		bt.Name = g.UniqueName(nameOr(p.Name, p.OpType) + "_bias")
		bv, err := g.AddInitializer(bt)
		if err != nil {
			return err
		}
		p.SetInput(2, bv)
	}
	x, y := p.Outputs[0], add.Outputs[0]
	wasOutput := isGraphOutput(g, y)
	replaceAllUses(g, y, x)
	if err := g.RemoveNode(add); err != nil {
		return fmt.Errorf("removing Add %q: %v", add.Name, err)
	}
	forgetValues(g, y)
	if wasOutput {
		// The graph output keeps its name.
		forgetValues(g, x)
		if err := g.Rename(x, y.Name); err != nil {
			return err
		}
	}
	return nil
}
