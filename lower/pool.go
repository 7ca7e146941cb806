// pool.go matches the average-pooling units of a QDQ model,
//
//	DequantizeLinear(x) ─► AveragePool / GlobalAveragePool ─► QuantizeLinear ─► y
//
// with x and y 8-bit integers of one type and per-tensor parameters.
// With Options.Pooling each becomes ai.onnxq QLinearAveragePool (with the
// AveragePool's attributes) or QLinearGlobalAveragePool, inputs x,
// x_scale, x_zero_point, y_scale, y_zero_point, which onnxq's runtime
// computes on the integers: the window's sum exact, then one
// requantization by the divisor AveragePool uses, the few windows within
// rounding of a tie recomputed as the float unit does
// (runtime/quant_pool.go): its results are the float unit's.
//
// A constant Pad on the integers (move.go) whose padding byte is x's
// zero point, read only by the unit, pads with the real 0: it becomes the
// pooling's own pads with count_include_pad (the padded taps are then
// counted and add nothing, as the Pad's zeros did), and the Pad goes
// away. Only without pads, auto_pad and ceil_mode on the pooling: those
// count or drop windows differently.

package lower

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// poolUnit is one matched average-pooling unit.
type poolUnit struct {
	node   *graph.Node
	dq     *graph.Node
	quants []*graph.Node
}

// foldablePad returns the integer Pad producing u's input and its
// spatial pads (begins, then ends) when the pooling may take them over;
// nil when not.
func foldablePad(u *poolUnit) (*graph.Node, []int64) {
	n := u.node
	if n.OpType != "AveragePool" || n.AttrString("auto_pad", "NOTSET") != "NOTSET" || n.AttrInt("ceil_mode", 0) != 0 {
		return nil, nil
	}
	for _, p := range n.AttrInts("pads") {
		if p != 0 {
			return nil, nil
		}
	}
	x := u.dq.Input(0)
	pad := x.Producer
	if pad == nil || pad.OpType != "Pad" || (pad.Domain != "" && pad.Domain != "ai.onnx") || pad.AttrString("mode", "constant") != "constant" ||
		len(x.Consumers) != 1 || slices.Contains(x.Graph.Outputs, x) || len(u.dq.Outputs[0].Consumers) != 1 || pad.Input(3) != nil {
		return nil, nil
	}
	dt := elemType(pad.Input(0))
	c := pad.Input(2)
	if !eightBit(dt) || c == nil || c.Const == nil || c.Const.DType != dt || c.Const.NumElements() != 1 {
		return nil, nil
	}
	zx := int64(0)
	if z := u.dq.Input(2); z != nil {
		zx = constInts(z)[0]
	}
	if cv := constInts(c); len(cv) != 1 || cv[0] != zx {
		return nil, nil
	}
	pads := constInts(pad.Input(1))
	kernel := n.AttrInts("kernel_shape")
	r := len(kernel)
	if len(pads) != 2*(r+2) || r == 0 {
		return nil, nil
	}
	spatial := make([]int64, 2*r)
	for i := range r + 2 {
		b, e := pads[i], pads[i+r+2]
		if i < 2 {
			if b != 0 || e != 0 {
				return nil, nil
			}
			continue
		}
		// The pooling's pads must be smaller than its kernel.
		if b < 0 || e < 0 || b >= kernel[i-2] || e >= kernel[i-2] {
			return nil, nil
		}
		spatial[i-2], spatial[i-2+r] = b, e
	}
	return pad, spatial
}

// matchPool checks n for an average-pooling unit; nil when it does not
// fit.
func matchPool(n *graph.Node) *poolUnit {
	if (n.OpType != "AveragePool" && n.OpType != "GlobalAveragePool") || len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil
	}
	d := dq(n.Input(0))
	if d == nil {
		return nil
	}
	p, ok := nodeParams(d, d.Input(0))
	if !ok || !eightBit(p.dt) || d.AttrInt("output_dtype", 0) != 0 {
		return nil
	}
	out := n.Outputs[0]
	if len(out.Consumers) == 0 || slices.Contains(out.Graph.Outputs, out) {
		return nil
	}
	u := &poolUnit{node: n, dq: d}
	var first qparams
	for i, c := range out.Consumers {
		if c.OpType != "QuantizeLinear" || (c.Domain != "" && c.Domain != "ai.onnx") || c.Input(0) != out || len(c.Outputs) != 1 || c.AttrInt("saturate", 1) != 1 {
			return nil
		}
		qp, ok := nodeParams(c, c.Outputs[0])
		if !ok || qp.dt != p.dt || (i > 0 && qp != first) {
			return nil
		}
		first = qp
		u.quants = append(u.quants, c)
	}
	return u
}

// rewritePool replaces u by one ai.onnxq QLinearAveragePool or
// QLinearGlobalAveragePool that takes over the name of the first
// QuantizeLinear's output.
func rewritePool(g *graph.Graph, u *poolUnit) error {
	n := u.node
	zx := u.dq.Input(2)
	if zx == nil {
		var err error
		if zx, err = zeroPoint(g, elemType(u.dq.Input(0)), n.Name+"_x_zero_point"); err != nil {
			return err
		}
	}
	q0 := u.quants[0]
	zy := q0.Input(2)
	if zy == nil {
		var err error
		if zy, err = zeroPoint(g, elemType(q0.Outputs[0]), n.Name+"_y_zero_point"); err != nil {
			return err
		}
	}
	inputs := []*graph.Value{u.dq.Input(0), u.dq.Input(1), zx, q0.Input(1), zy}
	attrs := slices.Clone(n.Attrs)
	pad, pads := foldablePad(u)
	if pad != nil {
		inputs[0] = pad.Input(0)
		attrs = slices.DeleteFunc(attrs, func(a *graph.Attribute) bool { return a.Name == "pads" || a.Name == "count_include_pad" })
		attrs = append(attrs, graph.IntsAttr("pads", pads...), graph.IntAttr("count_include_pad", 1))
	}
	lowered := &graph.Node{Name: n.Name, OpType: "QLinear" + n.OpType, Domain: onnxqDomain, Inputs: inputs, Attrs: attrs}
	if err := replaceUnit(g, n, lowered, u.quants, nil); err != nil || pad == nil {
		return err
	}
	if err := g.RemoveNode(u.dq); err != nil {
		return err
	}
	return g.RemoveNode(pad)
}
