// This file holds contrib-ops. A model ONNX Runtime has already optimized
// (offline, or saved from a session) holds its fused com.microsoft ops:
// FusedConv, Gelu, BiasGelu, FastGelu, QuickGelu, SkipLayerNormalization.
// The pass writes each as the standard ops it fuses, so that the rule
// table quantizes the Conv inside a FusedConv and keeps the GELU and
// layer-norm patterns float, and onnxq's runtime runs the model.

package passes

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// ContribOps returns the contrib-ops pass.
func ContribOps() Pass {
	return Pass{
		Name: "contrib-ops",
		Doc:  "ONNX Runtime's fused com.microsoft ops (FusedConv, Gelu, BiasGelu, FastGelu, QuickGelu, SkipLayerNormalization) become the standard ops they fuse",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			opset, _ := m.Opset("")
			count := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.Domain != "com.microsoft" {
						continue
					}
					var done bool
					if done, err = unfuseContrib(g, n, opset); err != nil {
						err = fmt.Errorf("%s %q: %v", n.OpType, n.Name, err)
						return
					}
					if done {
						count++
					}
				}
			})
			if count > 0 {
				ctx.Logf("contrib-ops: %d com.microsoft ops written as standard ops", count)
			}
			return count > 0, err
		},
	}
}

// opChain inserts nodes before a position of a graph, one after another.
type opChain struct {
	g    *graph.Graph
	pos  int
	base string
	err  error
}

func (c *opChain) op(op string, attrs []*graph.Attribute, ins ...*graph.Value) *graph.Value {
	if c.err != nil {
		return nil
	}
	name := c.base + "_" + strings.ToLower(op)
	n := &graph.Node{OpType: op, Name: c.g.UniqueNodeName(name), Inputs: ins, Attrs: attrs}
	if c.err = c.g.InsertNode(c.pos, n, c.g.UniqueName(name)); c.err != nil {
		return nil
	}
	c.pos++
	return n.Outputs[0]
}

func (c *opChain) scalar(v float32) *graph.Value {
	if c.err != nil {
		return nil
	}
	t, err := graph.FromFloat32s(c.g.UniqueName(c.base+"_k"), nil, []float32{v})
	if err != nil {
		c.err = err
		return nil
	}
	val, err := c.g.AddInitializer(t)
	c.err = err
	return val
}

// gelu is x·(1 + Erf(x/√2))/2, the pattern the rules keep float whole.
func (c *opChain) gelu(x *graph.Value) *graph.Value {
	e := c.op("Erf", nil, c.op("Div", nil, x, c.scalar(float32(math.Sqrt2))))
	return c.op("Mul", nil, c.op("Mul", nil, x, c.op("Add", nil, e, c.scalar(1))), c.scalar(0.5))
}

// tanhGelu is x·(1 + Tanh(√(2/π)·(x + 0.044715·x³)))/2.
func (c *opChain) tanhGelu(x *graph.Value) *graph.Value {
	cube := c.op("Pow", nil, x, c.scalar(3))
	inner := c.op("Add", nil, x, c.op("Mul", nil, cube, c.scalar(0.044715)))
	t := c.op("Tanh", nil, c.op("Mul", nil, inner, c.scalar(float32(math.Sqrt(2/math.Pi)))))
	return c.op("Mul", nil, c.op("Mul", nil, x, c.scalar(0.5)), c.op("Add", nil, t, c.scalar(1)))
}

// convAttrs are the attributes of FusedConv that Conv takes.
var convAttrs = []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}

// unfuseContrib replaces n by the standard ops it fuses; false when n is
// not one it knows (or uses an output it cannot give), which stays.
func unfuseContrib(g *graph.Graph, n *graph.Node, opset int64) (bool, error) {
	if len(n.Outputs) == 0 || n.Outputs[0] == nil || n.Input(0) == nil {
		return false, nil
	}
	if n.OpType != "SkipLayerNormalization" && len(n.Outputs) != 1 {
		return false, fmt.Errorf("takes one output, has %d", len(n.Outputs))
	}
	c := &opChain{g: g, pos: slices.Index(g.Nodes, n), base: n.Name}
	if c.base == "" {
		c.base = n.OpType
	}
	x := n.Input(0)
	var y *graph.Value
	switch n.OpType {
	case "FusedConv":
		var attrs []*graph.Attribute
		for _, a := range n.Attrs {
			if slices.Contains(convAttrs, a.Name) {
				attrs = append(attrs, a)
			}
		}
		act := n.AttrString("activation", "")
		var params []float32
		if a := n.Attr("activation_params"); a != nil {
			params = a.Floats
		}
		param := func(i int, def float32) float32 {
			if i < len(params) {
				return params[i]
			}
			return def
		}
		switch act {
		case "", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid":
		case "Clip":
			if opset < 11 {
				return false, nil
			}
		default:
			return false, nil
		}
		ins := []*graph.Value{x, n.Input(1)}
		if b := n.Input(2); b != nil {
			ins = append(ins, b)
		}
		y = c.op("Conv", attrs, ins...)
		if z := n.Input(3); z != nil {
			y = c.op("Add", nil, y, z)
		}
		switch act {
		case "Relu", "Sigmoid", "Tanh":
			y = c.op(act, nil, y)
		case "LeakyRelu":
			y = c.op(act, []*graph.Attribute{graph.FloatAttr("alpha", param(0, 0.01))}, y)
		case "HardSigmoid":
			y = c.op(act, []*graph.Attribute{graph.FloatAttr("alpha", param(0, 0.2)), graph.FloatAttr("beta", param(1, 0.5))}, y)
		case "Clip":
			y = c.op(act, nil, y, c.scalar(param(0, float32(math.Inf(-1)))), c.scalar(param(1, float32(math.Inf(1)))))
		}
	case "Gelu":
		y = c.gelu(x)
	case "BiasGelu":
		if n.Input(1) == nil {
			return false, nil
		}
		y = c.gelu(c.op("Add", nil, x, n.Input(1)))
	case "FastGelu":
		if b := n.Input(1); b != nil {
			x = c.op("Add", nil, x, b)
		}
		y = c.tanhGelu(x)
	case "QuickGelu":
		y = c.op("Mul", nil, x, c.op("Sigmoid", nil, c.op("Mul", nil, x, c.scalar(n.AttrFloat("alpha", 1.702)))))
	case "SkipLayerNormalization":
		return unfuseSkipLayerNorm(g, n, c, opset)
	default:
		return false, nil
	}
	if c.err != nil {
		return false, c.err
	}
	y.DType, y.Shape = n.Outputs[0].DType, n.Outputs[0].Shape
	return true, replaceNodeBy(g, n, y)
}

// unfuseSkipLayerNorm writes SkipLayerNormalization(input, skip, gamma,
// beta, bias) as LayerNormalization(input + skip + bias) over the last
// axis (from opset 17; before, as the ops it stands for); its sum output,
// when read, is the sum. The
// mean and inverse deviation outputs are not given: a node reading them
// stays as it is.
func unfuseSkipLayerNorm(g *graph.Graph, n *graph.Node, c *opChain, opset int64) (bool, error) {
	if n.Input(1) == nil || n.Input(2) == nil {
		return false, nil
	}
	read := func(i int) bool {
		if i >= len(n.Outputs) || n.Outputs[i] == nil {
			return false
		}
		v := n.Outputs[i]
		return len(v.Consumers) > 0 || isGraphOutput(g, v)
	}
	if read(1) || read(2) {
		return false, nil
	}
	sum := c.op("Add", nil, n.Input(0), n.Input(1))
	if b := n.Input(4); b != nil {
		sum = c.op("Add", nil, sum, b)
	}
	ins := []*graph.Value{sum, n.Input(2)}
	if beta := n.Input(3); beta != nil {
		ins = append(ins, beta)
	}
	eps := n.AttrFloat("epsilon", 1e-12)
	var y *graph.Value
	if opset >= 17 {
		y = c.op("LayerNormalization", []*graph.Attribute{graph.IntAttr("axis", -1), graph.FloatAttr("epsilon", eps)}, ins...)
	} else {
		// before opset 17: the ops LayerNormalization stands for, over the
		// last axis (ReduceMean takes its axes as an attribute up to 17)
		mean := func(v *graph.Value) *graph.Value {
			return c.op("ReduceMean", []*graph.Attribute{graph.IntsAttr("axes", -1), graph.IntAttr("keepdims", 1)}, v)
		}
		d := c.op("Sub", nil, sum, mean(sum))
		dev := c.op("Sqrt", nil, c.op("Add", nil, mean(c.op("Mul", nil, d, d)), c.scalar(eps)))
		y = c.op("Mul", nil, c.op("Div", nil, d, dev), n.Input(2))
		if beta := n.Input(3); beta != nil {
			y = c.op("Add", nil, y, beta)
		}
	}
	if c.err != nil {
		return false, c.err
	}
	y.DType, y.Shape = n.Outputs[0].DType, n.Outputs[0].Shape
	var sumOut *graph.Value
	if read(3) {
		sumOut = n.Outputs[3]
		sum.DType, sum.Shape = sumOut.DType, sumOut.Shape
		replaceAllUses(g, sumOut, sum)
	}
	if err := replaceNodeBy(g, n, y); err != nil {
		return false, err
	}
	if sumOut != nil {
		forgetValues(g, sumOut)
		return true, g.Rename(sum, sumOut.Name)
	}
	return true, nil
}
