// binary.go matches the two-input arithmetic units of a QDQ model,
//
//	DequantizeLinear(a) ─┐
//	                     ├─► Add / Mul ─► QuantizeLinear ─► c
//	DequantizeLinear(b) ─┘
//
// with both operands and the result 8-bit integers of one type and
// per-tensor parameters (residual connections, scalings).
// With Options.Arithmetic each becomes ai.onnxq QLinearAdd or QLinearMul,
// which onnxq's runtime computes in one pass as ONNX Runtime's kernels of
// those names do: the unit's results, but for exact rounding ties, which
// go ONNX Runtime's way (kernels.QLinearBinary).

package lower

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// binaryUnit is one matched Add/Mul unit.
type binaryUnit struct {
	node   *graph.Node
	dqs    [2]*graph.Node
	quants []*graph.Node
}

// matchBinary checks n for a two-input arithmetic unit; nil when it does
// not fit.
func matchBinary(n *graph.Node) *binaryUnit {
	if (n.OpType != "Add" && n.OpType != "Mul") || len(n.Inputs) != 2 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil
	}
	u := &binaryUnit{node: n}
	var dt graph.DType
	for i, in := range n.Inputs {
		d := dq(in)
		if d == nil {
			return nil
		}
		p, ok := nodeParams(d, d.Input(0))
		if !ok || !eightBit(p.dt) || (i > 0 && p.dt != dt) || !(p.scale > 0) {
			return nil
		}
		dt = p.dt
		u.dqs[i] = d
	}
	out := n.Outputs[0]
	if len(out.Consumers) == 0 || slices.Contains(out.Graph.Outputs, out) {
		return nil
	}
	var first qparams
	for i, c := range out.Consumers {
		if c.OpType != "QuantizeLinear" || (c.Domain != "" && c.Domain != "ai.onnx") || c.Input(0) != out || len(c.Outputs) != 1 || c.AttrInt("saturate", 1) != 1 {
			return nil
		}
		qp, ok := nodeParams(c, c.Outputs[0])
		if !ok || qp.dt != dt || !(qp.scale > 0) || (i > 0 && qp != first) {
			return nil
		}
		first = qp
		u.quants = append(u.quants, c)
	}
	return u
}

// rewriteBinary replaces u by one ai.onnxq QLinearAdd or QLinearMul that
// takes over the name of the first QuantizeLinear's output.
func rewriteBinary(g *graph.Graph, u *binaryUnit) error {
	n := u.node
	var inputs []*graph.Value
	for _, d := range u.dqs {
		z := d.Input(2)
		if z == nil {
			var err error
			if z, err = zeroPoint(g, elemType(d.Input(0)), n.Name+"_zero_point"); err != nil {
				return err
			}
		}
		inputs = append(inputs, d.Input(0), d.Input(1), z)
	}
	q0 := u.quants[0]
	zc := q0.Input(2)
	if zc == nil {
		var err error
		if zc, err = zeroPoint(g, elemType(q0.Outputs[0]), n.Name+"_y_zero_point"); err != nil {
			return err
		}
	}
	inputs = append(inputs, q0.Input(1), zc)
	lowered := &graph.Node{Name: n.Name, OpType: "QLinear" + n.OpType, Domain: onnxqDomain, Inputs: inputs}
	return replaceUnit(g, n, lowered, u.quants, nil)
}
