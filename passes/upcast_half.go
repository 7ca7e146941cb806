// This file holds upcast-half. Q/DQ of a float16 or bfloat16 tensor
// needs half-precision scales (opset 19), and onnxq's ranges, bias
// correction and fallback read float32 values: a half-precision model
// would come out unquantized. The pass makes the model compute in float32 between its
// half-precision inputs and outputs, which keep their types through
// Casts; the weights, quantized next, are held in float32 meanwhile.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// isHalf reports whether dt is a half-precision float type.
func isHalf(dt graph.DType) bool { return dt == graph.Float16 || dt == graph.BFloat16 }

// HasHalfFloats reports whether a graph of m (subgraphs included)
// declares or computes a half-precision value: an input, initializer,
// output, value info or node output.
func HasHalfFloats(m *graph.Model) bool {
	found := false
	if m == nil || m.Graph == nil {
		return false
	}
	m.Graph.Walk(func(g *graph.Graph) {
		eachValue(g, func(v *graph.Value) { found = found || isHalf(v.DType) })
	})
	return found
}

// eachValue calls fn on each value g declares or defines: its inputs,
// initializers, outputs, value infos and node outputs (a value may come
// more than once).
func eachValue(g *graph.Graph, fn func(*graph.Value)) {
	for _, list := range [][]*graph.Value{g.Inputs, g.Initializers, g.Outputs, g.ValueInfos} {
		for _, v := range list {
			if v != nil {
				fn(v)
			}
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				fn(v)
			}
		}
	}
}

// UpcastHalf returns the upcast-half pass.
func UpcastHalf() Pass {
	return Pass{
		Name: "upcast-half",
		Doc:  "float16/bfloat16 values become float32: constants converted, Casts to half retargeted, half graph inputs and outputs kept through Casts",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			if !HasHalfFloats(m) {
				return false, nil
			}
			changed := false
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				if err == nil {
					var c bool
					c, err = upcastGraph(g)
					changed = changed || c
				}
			})
			if err != nil {
				return false, err
			}
			c, err := castMainBoundary(m.Graph)
			if err != nil {
				return false, err
			}
			if changed = changed || c; changed {
				ctx.Logf("upcast-half: the half-precision values compute in float32")
			}
			return changed, nil
		},
	}
}

// upcastGraph turns g's half-precision constants, node attributes and
// value types into float32, graph inputs and outputs of the main graph
// aside (castMainBoundary keeps those).
func upcastGraph(g *graph.Graph) (changed bool, err error) {
	for _, v := range g.Initializers {
		if v.Const != nil && isHalf(v.Const.DType) {
			t, err := upcastTensor(v.Const)
			if err != nil {
				return false, fmt.Errorf("initializer %q: %v", v.Name, err)
			}
			v.Const, changed = t, true
		}
	}
	boundary := map[*graph.Value]bool{}
	if g.Main() {
		for _, v := range g.Inputs {
			boundary[v] = true
		}
		for _, v := range g.Outputs {
			boundary[v] = true
		}
	}
	for _, n := range g.Nodes {
		if len(n.Outputs) > 0 && !slices.ContainsFunc(n.Outputs, func(v *graph.Value) bool { return !boundary[v] }) {
			continue // it writes the main graph's outputs, which keep their types
		}
		for _, a := range n.Attrs {
			c, err := upcastAttr(a)
			if err != nil {
				return false, fmt.Errorf("node %q (%s): %v", n.Name, n.OpType, err)
			}
			changed = changed || c
		}
	}
	eachValue(g, func(v *graph.Value) {
		if isHalf(v.DType) && !boundary[v] {
			v.DType, changed = graph.Float32, true
		}
	})
	return changed, nil
}

// halfTypeAttrs are the attributes that name an output element type.
var halfTypeAttrs = map[string]bool{"to": true, "dtype": true, "output_dtype": true}

// upcastAttr retargets an attribute that makes half-precision data: a
// tensor value, or an element type (Cast's to, the Random ops' and
// EyeLike's dtype). The Casts castMainBoundary adds back to half
// precision are not in the graphs it is called on.
func upcastAttr(a *graph.Attribute) (changed bool, err error) {
	switch {
	case a.Tensor != nil && isHalf(a.Tensor.DType):
		t, err := upcastTensor(a.Tensor)
		if err != nil {
			return false, err
		}
		a.Tensor, changed = t, true
	case a.Type == graph.AttrInt && halfTypeAttrs[a.Name] && isHalf(graph.DType(a.Int)):
		a.Int, changed = int64(graph.Float32), true
	}
	for i, t := range a.Tensors {
		if isHalf(t.DType) {
			u, err := upcastTensor(t)
			if err != nil {
				return false, err
			}
			a.Tensors[i], changed = u, true
		}
	}
	return changed, nil
}

// upcastTensor returns t's values as a float32 tensor of the same name
// and dims.
func upcastTensor(t *graph.Tensor) (*graph.Tensor, error) {
	rt, err := runtime.FromGraph(t)
	if err != nil {
		return nil, err
	}
	return graph.FromFloat32s(t.Name, slices.Clone(t.Dims), rt.FloatValues())
}

// castMainBoundary keeps the half-precision inputs and outputs of the
// main graph g: each input is read through a Cast to float32, each output
// written by a Cast from its float32 value, which takes a new name. An
// input that is itself an output stays as it is, and so do inputs read
// only by Casts and outputs a Cast writes.
func castMainBoundary(g *graph.Graph) (changed bool, err error) {
	isCast := func(n *graph.Node) bool { return n != nil && n.OpType == "Cast" && n.Domain == "" }
	for _, in := range g.Inputs {
		readers := slices.Clone(in.Consumers)
		if !isHalf(in.DType) || !slices.ContainsFunc(readers, func(n *graph.Node) bool { return !isCast(n) }) {
			continue
		}
		cast := &graph.Node{OpType: "Cast", Name: g.UniqueNodeName(in.Name + "_to_float"), Inputs: []*graph.Value{in}, Attrs: []*graph.Attribute{graph.IntAttr("to", int64(graph.Float32))}}
		if err := g.InsertNode(0, cast, g.UniqueName(in.Name+"_float")); err != nil {
			return false, err
		}
		f := cast.Outputs[0]
		f.DType, f.Shape = graph.Float32, in.Shape
		for _, r := range readers {
			for i, v := range r.Inputs {
				if v == in {
					r.SetInput(i, f)
				}
			}
		}
		changed = true
	}
	for i, out := range g.Outputs {
		if !isHalf(out.DType) || slices.Contains(g.Inputs, out) || isCast(out.Producer) {
			continue
		}
		half, name := out.DType, out.Name
		if err := g.Rename(out, g.UniqueName(name+"_float")); err != nil {
			return false, err
		}
		out.DType = graph.Float32
		if out.Const != nil {
			out.Const.Name = out.Name
		}
		cast := &graph.Node{OpType: "Cast", Name: g.UniqueNodeName(name + "_to_half"), Inputs: []*graph.Value{out}, Attrs: []*graph.Attribute{graph.IntAttr("to", int64(half))}}
		if err := g.AddNode(cast, name); err != nil {
			return false, err
		}
		h := cast.Outputs[0]
		h.DType, h.Shape = half, out.Shape
		for j := i; j < len(g.Outputs); j++ {
			if g.Outputs[j] == out {
				g.Outputs[j] = h
			}
		}
		changed = true
	}
	return changed, nil
}
