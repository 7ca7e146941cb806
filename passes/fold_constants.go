// This file holds two passes.
//
// constant-nodes-to-initializers turns every Constant node (value,
// value_float(s), value_int(s), value_string(s)) into an initializer of the
// graph it sits in, keeping the value's name. It needs nothing; it leaves
// every constant as an initializer for fold-constants and the quantizer.
// A Constant whose output is an output of its own graph stays a node, so
// graph outputs are never initializers.
//
// fold-constants evaluates, with the runtime's kernels, every deterministic
// node without subgraphs whose inputs are all constants, and replaces it
// by initializers holding its outputs (same names). Shape and Size of a
// value whose shape is fully known fold too, so it runs after infer-shapes.
// Shapes are inferred again after each sweep that folded something, and the
// sweep repeats, so chains through Reshape targets fold completely.
// An Expand whose broadcasting readers do not need it is bypassed
// (drop-broadcast-expand) when its fold shows its output shape. Outputs larger than
// MaxFoldElements elements, or many times larger than their inputs and
// not read as a weight, are not folded, nor are
// QuantizeLinear/DequantizeLinear (folding them would undo quantization)
// or nodes whose outputs are graph outputs. It leaves unread initializers
// behind for remove-dead-nodes.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// MaxFoldElements caps the element count of one folded output, so folding
// an Expand or ConstantOfShape cannot blow up the model file.
const MaxFoldElements = 64 << 20

// A fold whose outputs hold more than foldGrowthFloor elements and more
// than foldGrowth times the elements of its inputs (an Expand of a
// per-channel bias to the whole feature map, a coordinate map built with
// Range and Expand, a ConstantOfShape) is left to run, as it did in the
// model: stored, it would make the file larger than the one it came from
// (a [1,64,1,1] bias expanded to 96x96 wrote 576 KiB more). A value a
// weighted op reads as its weight still folds: it is quantized as one.
const (
	foldGrowthFloor = 4096
	foldGrowth      = 4
)

// ConstantNodesToInitializers returns the constant-nodes-to-initializers pass.
func ConstantNodesToInitializers() Pass {
	return Pass{
		Name: "constant-nodes-to-initializers",
		Doc:  "Constant nodes become initializers of their graph (names kept)",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			changed := false
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.OpType != "Constant" || (n.Domain != "" && n.Domain != "ai.onnx") {
						continue
					}
					if len(n.Outputs) != 1 || n.Outputs[0] == nil || isGraphOutput(g, n.Outputs[0]) {
						continue
					}
					var t *graph.Tensor
					t, err = constantTensor(n)
					if err != nil {
						return
					}
					if t == nil {
						continue
					}
					nodeToConsts(g, n, []*graph.Tensor{t})
					changed = true
				}
			})
			return changed, err
		},
	}
}

// constantTensor returns the value of a Constant node, or nil for forms
// left as nodes (sparse_value).
func constantTensor(n *graph.Node) (*graph.Tensor, error) {
	name := n.Outputs[0].Name
	for _, a := range n.Attrs {
		switch a.Name {
		case "value":
			if a.Tensor == nil {
				return nil, fmt.Errorf("Constant node %q: attribute value holds no tensor", n.Name)
			}
			t := *a.Tensor
			return &t, nil
		case "value_float":
			return graph.FromFloat32s(name, []int64{}, []float32{a.Float})
		case "value_floats":
			return graph.FromFloat32s(name, []int64{int64(len(a.Floats))}, a.Floats)
		case "value_int":
			return graph.FromInt64s(name, []int64{}, []int64{a.Int})
		case "value_ints":
			return graph.FromInt64s(name, []int64{int64(len(a.Ints))}, a.Ints)
		case "value_string":
			return graph.FromStrings(name, []int64{}, []string{a.String})
		case "value_strings":
			return graph.FromStrings(name, []int64{int64(len(a.Strings))}, a.Strings)
		}
	}
	return nil, nil
}

// nondeterministic ops give a different result on every run.
var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomNormalLike": true, "RandomUniform": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// neverFold are deterministic ops that must stay nodes: folding Q/DQ pairs
// would turn quantized weights back into float ones.
var neverFold = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	"Constant": true,
}

// FoldConstants returns the fold-constants pass.
func FoldConstants() Pass {
	return Pass{
		Name: "fold-constants",
		Doc:  "evaluate nodes whose inputs are all constants (and Shape/Size of static shapes) into initializers",
		Run:  foldConstants,
	}
}

func foldConstants(m *graph.Model, ctx *Context) (bool, error) {
	reg := runtime.DefaultRegistry()
	opset := mainOpset(m)
	total := 0
	// A folded Reshape target or Shape can make more shapes static, and
	// those make more Shape nodes foldable: infer again and repeat while
	// that helps (a few rounds settle every real model).
	for round := 0; round < 8; round++ {
		folded := 0
		deciding := ifConditionShapes(m)
		m.Graph.Walk(func(g *graph.Graph) {
			if !g.IsTopological() {
				// Folding in order lets a chain fold in one sweep; an
				// unordered graph is left for the runtime to sort.
				return
			}
			for _, n := range slices.Clone(g.Nodes) {
				if deciding[n] {
					continue
				}
				ts := foldNode(m, n, reg, opset, ctx)
				if ts == nil {
					continue
				}
				nodeToConsts(g, n, ts)
				folded++
			}
		})
		total += folded
		if folded == 0 {
			break
		}
		if err := graph.InferShapes(m); err != nil {
			return true, err
		}
	}
	if total > 0 {
		ctx.Logf("fold-constants: %d nodes folded", total)
	}
	return total > 0, nil
}

// foldNode evaluates n if it can be folded and returns one tensor per
// output (nil entries for omitted outputs), or nil.
func foldNode(m *graph.Model, n *graph.Node, reg *runtime.Registry, opset int64, ctx *Context) []*graph.Tensor {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil
	}
	if nondeterministic[n.OpType] || neverFold[n.OpType] || len(n.Subgraphs()) > 0 {
		return nil
	}
	outs := 0
	for _, v := range n.Outputs {
		if v == nil {
			continue
		}
		if isGraphOutput(n.Graph, v) {
			return nil
		}
		if e := v.Shape.NumElements(); e > MaxFoldElements {
			return nil
		}
		outs++
	}
	if outs == 0 {
		return nil
	}
	if t := foldShape(n); t != nil {
		return []*graph.Tensor{t}
	}
	ins := 0
	for _, v := range n.Inputs {
		if v == nil {
			continue
		}
		if !isConst(m, v) {
			return nil
		}
		ins++
	}
	if ins == 0 {
		return nil
	}
	ts, err := evaluate(n, reg, opset)
	if err != nil {
		ctx.Logf("fold-constants: node %q (%s) left unfolded: %v", n.Name, n.OpType, err)
		return nil
	}
	// An Expand its broadcasting readers do not need (its input shape is
	// known once the shape it expands to is) is bypassed rather than
	// stored at its full size; once no reader is left, remove-dead-nodes
	// drops it.
	if n.OpType == "Expand" && ts[0] != nil && bypassExpand(n, ts[0].Dims) > 0 && len(n.Outputs[0].Consumers) == 0 {
		return nil
	}
	if in, out := constElements(n.Inputs), foldedElements(ts); out > foldGrowthFloor && out > foldGrowth*in && !readAsWeight(n.Outputs) {
		ctx.Logf("fold-constants: node %q (%s) left unfolded: its outputs hold %d elements, its inputs %d", n.Name, n.OpType, out, in)
		return nil
	}
	return ts
}

// constElements counts the elements of the constant values vs.
func constElements(vs []*graph.Value) int64 {
	var n int64
	for _, v := range vs {
		if v != nil && v.Const != nil {
			n += int64(v.Const.NumElements())
		}
	}
	return n
}

// foldedElements counts the elements of the tensors a fold computed.
func foldedElements(ts []*graph.Tensor) int64 {
	var n int64
	for _, t := range ts {
		if t != nil {
			n += int64(t.NumElements())
		}
	}
	return n
}

// readAsWeight tells whether some reader of vs takes one as the weight of
// a weighted op (or a weight-only slot) by the rule table.
func readAsWeight(vs []*graph.Value) bool {
	for _, v := range vs {
		if v == nil {
			continue
		}
		for _, c := range v.Consumers {
			r := RuleFor(c.OpType)
			if r == nil || c.Domain != "" && c.Domain != "ai.onnx" {
				continue
			}
			for i, in := range c.Inputs {
				if in == v && (i == r.Weight || slices.Contains(r.WeightOnly, i)) {
					return true
				}
			}
		}
	}
	return false
}

// evaluate runs n's kernel on its constant inputs.
func evaluate(n *graph.Node, reg *runtime.Registry, opset int64) (ts []*graph.Tensor, err error) {
	in := make([]*runtime.Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		if in[i], err = runtime.FromGraph(v.Const); err != nil {
			return nil, err
		}
	}
	outs, err := runKernel(reg, n, opset, in)
	if err != nil {
		return nil, err
	}
	ts = make([]*graph.Tensor, len(n.Outputs))
	for i, v := range n.Outputs {
		if v == nil {
			continue
		}
		if i >= len(outs) || outs[i] == nil {
			return nil, fmt.Errorf("output %q was not computed", v.Name)
		}
		if outs[i].Len() > MaxFoldElements {
			return nil, fmt.Errorf("output %q has %d elements, over the folding cap", v.Name, outs[i].Len())
		}
		if ts[i], err = runtime.ToGraph(v.Name, outs[i]); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// ifConditionShapes returns the Shape and Size nodes an If's condition is
// computed from (AffineGrid's body tests the rank of its size input so).
// They stay nodes: folded, the condition is a constant, and ONNX Runtime
// then inlines the branch it picks, whose ops its shape inference may
// refuse where it loads the If as written (a Range reading a
// one-element vector where the branch left the shapes open).
func ifConditionShapes(m *graph.Model) map[*graph.Node]bool {
	out := map[*graph.Node]bool{}
	seen := map[*graph.Value]bool{}
	var walk func(v *graph.Value)
	walk = func(v *graph.Value) {
		if v == nil || seen[v] {
			return
		}
		seen[v] = true
		p := v.Producer
		if p == nil {
			return
		}
		if p.OpType == "Shape" || p.OpType == "Size" {
			out[p] = true
			return
		}
		for _, in := range p.Inputs {
			walk(in)
		}
	}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if n.OpType == "If" && (n.Domain == "" || n.Domain == "ai.onnx") {
				walk(n.Input(0))
			}
		}
	})
	return out
}

// foldShape returns the value of a Shape or Size node whose input has a
// fully known shape, or nil.
func foldShape(n *graph.Node) *graph.Tensor {
	if (n.OpType != "Shape" && n.OpType != "Size") || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil
	}
	x := n.Input(0)
	if x == nil || !x.Shape.Known() {
		return nil
	}
	sizes := x.Shape.Sizes()
	name := n.Outputs[0].Name
	if n.OpType == "Size" {
		t, err := graph.FromInt64s(name, []int64{}, []int64{x.Shape.NumElements()})
		if err != nil || x.Shape.NumElements() < 0 {
			return nil
		}
		return t
	}
	r := int64(len(sizes))
	clamp := func(i int64) int64 {
		if i < 0 {
			i += r
		}
		return min(max(i, 0), r)
	}
	start, end := clamp(n.AttrInt("start", 0)), clamp(n.AttrInt("end", r))
	if end < start {
		end = start
	}
	part := sizes[start:end]
	t, err := graph.FromInt64s(name, []int64{int64(len(part))}, part)
	if err != nil {
		return nil
	}
	return t
}
