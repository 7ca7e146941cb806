// deadbounds.go finds, for each value, the interval the graph can tell
// apart: values beyond a bound that every reader clamps to anyway (Relu,
// Clip, Max/Min against a constant, through LeakyRelu and data movement)
// act as the bound. Calibration narrows ranges to it (no quantization
// steps for them) and compare measures errors within it.

package passes

import (
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// Bounds is an interval [Lo, Hi] outside which a value's readers see no
// difference: every x below Lo acts as Lo, every x above Hi as Hi; an
// infinite end bounds nothing.
type Bounds struct{ Lo, Hi float64 }

var noBounds = Bounds{math.Inf(-1), math.Inf(1)}

// Clamped returns the values of f clamped to b, as the value's readers
// see them: a copy when any value is outside b, else f itself. NaNs stay.
func (b Bounds) Clamped(f []float32) []float32 {
	lo, hi := float32(b.Lo), float32(b.Hi)
	i := slices.IndexFunc(f, func(x float32) bool { return x < lo || x > hi })
	if i < 0 {
		return f
	}
	out := make([]float32, len(f))
	copy(out, f[:i])
	kernels.ClampF32(out[i:], f[i:], lo, hi)
	return out
}

// boundsPassThrough ops hand each input value on unchanged (data movement) or
// commute with clamping (the max of clamped values is the clamped max),
// so a bound of their output holds for their data input.
var boundsPassThrough = map[string]bool{
	"Identity": true, "Reshape": true, "Transpose": true, "Squeeze": true,
	"Unsqueeze": true, "Flatten": true, "MaxPool": true, "GlobalMaxPool": true,
}

// DeadBounds returns, for the values of m's graphs (subgraphs too; names
// are unique across them) that every reader clamps, the interval beyond
// which the value no longer matters downstream. A Relu clamps below at 0, a Clip at its bounds, a Max (Min)
// against a constant scalar at that constant; a LeakyRelu with a positive
// slope passes a bound of its output back scaled by 1/alpha below zero;
// data movement, MaxPool and Concat pass their output's bounds to their
// data inputs. A hard-swish, v times a gate of v that is 0 below some
// point (HardSwish, v·HardSigmoid(v), v·Clip(v+c, 0, ·) scaled by
// constants), bounds v below at that point. Graph outputs are never
// bounded. Values without a finite bound are left out.
func DeadBounds(m *graph.Model) map[string]Bounds {
	out := map[string]Bounds{}
	if m == nil || m.Graph == nil {
		return out
	}
	opset, _ := m.Opset("")
	known := map[*graph.Value]Bounds{}
	get := func(v *graph.Value) Bounds {
		if b, ok := known[v]; ok {
			return b
		}
		return noBounds
	}
	// A subgraph's nodes read values of the graphs around it, never the
	// other way: the innermost graphs go first (Walk lists a graph before
	// its subgraphs), so the bounds of a body's values are known when an
	// outer value that body reads is decided.
	var graphs []*graph.Graph
	m.Graph.Walk(func(g *graph.Graph) { graphs = append(graphs, g) })
	for _, g := range slices.Backward(graphs) {
		deadBoundsOf(g, known, get, opset, out)
	}
	return out
}

// deadBoundsOf decides the bounds of the values g's nodes produce, into
// known and, by name, out.
func deadBoundsOf(g *graph.Graph, known map[*graph.Value]Bounds, get func(*graph.Value) Bounds, opset int64, out map[string]Bounds) {
	isOutput := map[*graph.Value]bool{}
	for _, v := range g.Outputs {
		isOutput[v] = true
	}
	// Nodes are in topological order: walking them backwards decides
	// every reader of a value before the value's producer.
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		for _, v := range g.Nodes[i].Outputs {
			if v == nil || v.Const != nil || isOutput[v] || len(v.Consumers) == 0 {
				continue
			}
			b := Bounds{math.Inf(1), math.Inf(-1)} // the hull over readers
			for _, c := range v.Consumers {
				r := readerBounds(c, v, get, opset)
				b.Lo, b.Hi = math.Min(b.Lo, r.Lo), math.Max(b.Hi, r.Hi)
			}
			if zero, ok := swishGateZero(v, opset); ok {
				b = Bounds{zero, math.Inf(1)}
			}
			if b.Lo > math.Inf(-1) || b.Hi < math.Inf(1) {
				known[v] = b
				out[v.Name] = b
			}
		}
	}
}

// readerBounds is the interval beyond which reader c does not tell
// values of its input v apart, given the bounds of c's outputs.
func readerBounds(c *graph.Node, v *graph.Value, get func(*graph.Value) Bounds, opset int64) Bounds {
	if c.Domain != "" || len(c.Outputs) != 1 || c.Outputs[0] == nil {
		return noBounds
	}
	after := get(c.Outputs[0])
	if c.OpType == "Concat" {
		return after // every input is data, moved unchanged
	}
	// Other readers must read v as their data input, and only there (not
	// as a shape, an axis or a second operand).
	if c.Input(0) != v {
		return noBounds
	}
	for _, in := range c.Inputs[1:] {
		if in == v {
			return noBounds
		}
	}
	switch c.OpType {
	case "HardSwish":
		// 0 below -3, v itself above 3
		b := Bounds{-3, math.Inf(1)}
		if after.Hi >= 3 {
			b.Hi = after.Hi
		}
		return b
	case "Relu":
		return Bounds{math.Max(0, after.Lo), math.Max(0, after.Hi)}
	case "LeakyRelu":
		alpha := float64(c.AttrFloat("alpha", 0.01))
		if !(alpha > 0) {
			return noBounds
		}
		inv := func(y float64) float64 {
			if y < 0 {
				return y / alpha
			}
			return y
		}
		return Bounds{inv(after.Lo), inv(after.Hi)}
	case "Clip":
		lo, hi, ok := clipLimits(c, opset)
		if !ok {
			return noBounds
		}
		return Bounds{math.Max(lo, after.Lo), math.Min(hi, after.Hi)}
	case "Mul":
		// by positive constants (equalize-activations' factors before a
		// hard-swish): each element's bound is the output's over its factor
		f, ok := positiveConsts(c.Input(1))
		if !ok || len(c.Inputs) != 2 {
			return noBounds
		}
		b := Bounds{math.Inf(1), math.Inf(-1)}
		for _, k := range f {
			b.Lo, b.Hi = math.Min(b.Lo, after.Lo/k), math.Max(b.Hi, after.Hi/k)
		}
		return b
	case "Max", "Min":
		if len(c.Inputs) != 2 {
			return noBounds
		}
		k, ok := scalarConst(c.Input(1))
		if !ok {
			return noBounds
		}
		if c.OpType == "Max" {
			return Bounds{math.Max(k, after.Lo), math.Max(k, after.Hi)}
		}
		return Bounds{math.Min(k, after.Lo), math.Min(k, after.Hi)}
	}
	if boundsPassThrough[c.OpType] {
		return after
	}
	return noBounds
}

// positiveConsts returns the values of v, a float32 constant whose values
// are all finite and positive.
func positiveConsts(v *graph.Value) ([]float64, bool) {
	if v == nil || v.Const == nil || v.Const.DType != graph.Float32 {
		return nil, false
	}
	f, err := v.Const.Float32s()
	if err != nil || len(f) == 0 {
		return nil, false
	}
	out := make([]float64, len(f))
	for i, x := range f {
		if !(x > 0) || math.IsInf(float64(x), 0) {
			return nil, false
		}
		out[i] = float64(x)
	}
	return out, true
}

// swishGateZero recognises x's readers as one hard-swish, x·gate(x) with
// a gate that is exactly 0 for every x at or below some point, and returns
// that point: below it the product is 0 whatever x is. The gate is
// HardSigmoid(x) (0 below -beta/alpha) or Clip(x + c, 0, ·) (0 below -c),
// optionally times or over positive constants, read by the same Mul that
// reads x.
func swishGateZero(x *graph.Value, opset int64) (float64, bool) {
	if len(x.Consumers) != 2 {
		return 0, false
	}
	for i, mul := range x.Consumers {
		gate := x.Consumers[1-i]
		if mul == gate || mul.OpType != "Mul" || mul.Domain != "" || len(mul.Inputs) != 2 {
			continue
		}
		other := mul.Input(0)
		if other == x {
			other = mul.Input(1)
		}
		if other == x || other == nil {
			continue
		}
		zero, g, ok := gateStart(gate, x, opset)
		if !ok {
			continue
		}
		// positive constant factors between the gate and the Mul keep
		// its zero where it is
		for g != other {
			next, ok := constFactor(g)
			if !ok {
				break
			}
			g = next
		}
		if g == other && len(other.Consumers) == 1 {
			return zero, true
		}
	}
	return 0, false
}

// constFactor follows v into its only reader when that reader multiplies
// or divides it by a positive scalar constant, and returns the result.
func constFactor(v *graph.Value) (*graph.Value, bool) {
	if v == nil || len(v.Consumers) != 1 {
		return nil, false
	}
	c := v.Consumers[0]
	k, isConst := scalarConst(c.Input(1))
	if (c.OpType != "Mul" && c.OpType != "Div") || c.Domain != "" || c.Input(0) != v || !isConst || !(k > 0) || len(c.Outputs) != 1 || c.Outputs[0] == nil {
		return nil, false
	}
	return c.Outputs[0], true
}

// gateStart reads node n as the first step of a gate of x: the gate's
// zero point, and its value.
func gateStart(n *graph.Node, x *graph.Value, opset int64) (float64, *graph.Value, bool) {
	if n.Domain != "" || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return 0, nil, false
	}
	switch n.OpType {
	case "HardSigmoid":
		alpha, beta := float64(n.AttrFloat("alpha", 0.2)), float64(n.AttrFloat("beta", 0.5))
		if n.Input(0) != x || !(alpha > 0) {
			return 0, nil, false
		}
		return -beta / alpha, n.Outputs[0], true
	case "Add":
		if len(n.Inputs) != 2 {
			return 0, nil, false
		}
		k, ok := scalarConst(n.Input(1))
		if n.Input(0) != x {
			k, ok = scalarConst(n.Input(0))
			ok = ok && n.Input(1) == x
		}
		sum := n.Outputs[0]
		if !ok || len(sum.Consumers) != 1 || sum.Consumers[0].OpType != "Clip" || sum.Consumers[0].Domain != "" {
			return 0, nil, false
		}
		clip := sum.Consumers[0]
		lo, _, ok := clipLimits(clip, opset)
		if !ok || lo != 0 || clip.Input(0) != sum || len(clip.Outputs) != 1 {
			return 0, nil, false
		}
		return -k, clip.Outputs[0], true
	}
	return 0, nil, false
}
