// pool.go matches the average-pooling units of a QDQ model,
//
//	DequantizeLinear(x) ─► AveragePool / GlobalAveragePool ─► QuantizeLinear ─► y
//
// with x and y 8-bit integers of one type and per-tensor parameters.
// With Options.Pooling each becomes ai.onnxq QLinearAveragePool (with the
// AveragePool's attributes) or QLinearGlobalAveragePool, inputs x,
// x_scale, x_zero_point, y_scale, y_zero_point, which onnxq's runtime
// computes on the integers: the window's sum exact, then one
// requantization by the divisor AveragePool uses (runtime/quant_pool.go).
// Its results are the float unit's up to that unit's float32 rounding of
// each dequantized value and partial sum: at most one step apart, equal
// on nearly every element (they may differ where a value is a half step
// to within that rounding).
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
	lowered := &graph.Node{Name: n.Name, OpType: "QLinear" + n.OpType, Domain: onnxqDomain, Inputs: inputs, Attrs: slices.Clone(n.Attrs)}
	return replaceUnit(g, n, lowered, u.quants, nil)
}
