// move.go lowers the data-movement units of a QDQ graph:
//
//	DequantizeLinear(x) ─► Reshape / Transpose / Concat … ─► QuantizeLinear ─► y
//
// where every DequantizeLinear feeding the op's data inputs and every
// QuantizeLinear reading its output use the same per-tensor scale, zero
// point and 8-bit type. Such an op only moves, copies or selects elements
// (Resize in nearest mode copies), so it may run on the integers themselves: QuantizeLinear(DequantizeLinear(q))
// is q again for every 8-bit q when the scale is a normal float32 (k·s/s
// rounds back to the integer k for |k| ≤ 255). The rewrite reads the
// DequantizeLinear inputs and writes the QuantizeLinear's output name; the
// DequantizeLinear nodes left unread are removed by lowerGraph. This keeps
// the float islands, their conversions and their float buffers out of the
// run. Ops with other inputs (shapes, indices, scales, pads) take them as
// they were, except the constant_value of a constant-mode Pad: the float
// unit pads with c and then quantizes, so the integer Pad pads with the
// byte Q(c) (round_half_even(c/s) + zp, saturated), a new scalar
// initializer of the 8-bit type; edge, reflect and wrap Pads only move.
package lower

import (
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
)

// moveOps lists the data-movement ops lowered, with the indices of their
// data inputs (-1: all of them).
var moveOps = map[string]int{
	"Reshape": 0, "Transpose": 0, "Flatten": 0, "Squeeze": 0, "Unsqueeze": 0,
	"Slice": 0, "Gather": 0, "Resize": 0, "Concat": -1,
	// Dequantization is increasing, so the largest integer of a window is
	// its largest value (padding takes the type's smallest integer, as
	// −∞ would after saturation).
	"MaxPool": 0,
	"Pad":     0,
}

// qparams are a Q or DQ node's per-tensor parameters.
type qparams struct {
	scale float32
	zp    int64
	dt    graph.DType
}

// roundTrips reports whether Q(DQ(q)) = q for every 8-bit q under p: a
// positive normal scale whose products with the integers stay finite.
func (p qparams) roundTrips() bool {
	s := float64(p.scale)
	return eightBit(p.dt) && s >= 0x1p-100 && s*512 < math.MaxFloat32
}

// moveUnit is one matched data-movement unit.
type moveUnit struct {
	node   *graph.Node
	dqs    []*graph.Node // the DequantizeLinear of each data input
	quants []*graph.Node
	// padValue is a constant-mode Pad's float padding value c (0 when
	// absent), quantized when rewritten.
	padValue float32
}

// matchMove checks n for a data-movement unit; nil when it does not fit.
func matchMove(n *graph.Node, opset int64) *moveUnit {
	data, ok := moveOps[n.OpType]
	if !ok || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil
	}
	switch n.OpType {
	case "MaxPool":
		// uint8/int8 MaxPool is defined from opset 12; the Indices output
		// must be absent (checked above).
		if opset < 12 {
			return nil
		}
	case "Resize":
		if n.AttrString("mode", "nearest") != "nearest" {
			return nil
		}
	}
	u := &moveUnit{node: n}
	if n.OpType == "Pad" {
		// Before opset 11 Pad takes its pads and value as attributes and
		// only floats.
		if opset < 11 {
			return nil
		}
		if n.AttrString("mode", "constant") == "constant" {
			if c := n.Input(2); c != nil {
				f := constFloats(c)
				if len(f) != 1 {
					return nil
				}
				u.padValue = f[0]
			}
		}
	}
	var p qparams
	for i, in := range n.Inputs {
		if data >= 0 && i != data {
			continue
		}
		d := dq(in)
		if d == nil {
			return nil
		}
		dp, ok := nodeParams(d, d.Input(0))
		if !ok || (len(u.dqs) > 0 && dp != p) {
			return nil
		}
		p = dp
		u.dqs = append(u.dqs, d)
	}
	if len(u.dqs) == 0 || !p.roundTrips() {
		return nil
	}
	out := n.Outputs[0]
	if len(out.Consumers) == 0 || slices.Contains(out.Graph.Outputs, out) {
		return nil
	}
	for _, c := range out.Consumers {
		if c.OpType != "QuantizeLinear" || (c.Domain != "" && c.Domain != "ai.onnx") || c.Input(0) != out || len(c.Outputs) != 1 {
			return nil
		}
		qp, ok := nodeParams(c, c.Outputs[0])
		if !ok || qp != p {
			return nil
		}
		u.quants = append(u.quants, c)
	}
	return u
}

// nodeParams returns a Q or DQ node's per-tensor parameters, the type
// taken from its integer side v.
func nodeParams(n *graph.Node, v *graph.Value) (qparams, bool) {
	if n.AttrInt("block_size", 0) != 0 {
		return qparams{}, false
	}
	s, zp, ok := perTensorParams(n)
	if !ok {
		return qparams{}, false
	}
	return qparams{scale: s, zp: zp, dt: elemType(v)}, true
}

// rewriteMove replaces u by its op on the integers.
func rewriteMove(g *graph.Graph, u *moveUnit) error {
	n := u.node
	inputs := slices.Clone(n.Inputs)
	k := 0
	data := moveOps[n.OpType]
	for i := range inputs {
		if data >= 0 && i != data {
			continue
		}
		inputs[i] = u.dqs[k].Input(0)
		k++
	}
	if n.OpType == "Pad" && n.AttrString("mode", "constant") == "constant" {
		c, err := padByte(g, u)
		if err != nil {
			return err
		}
		for len(inputs) < 3 {
			inputs = append(inputs, nil)
		}
		inputs[2] = c
	}
	lowered := &graph.Node{Name: n.Name, OpType: n.OpType, Domain: n.Domain, Inputs: inputs, Attrs: slices.Clone(n.Attrs)}
	return replaceUnit(g, n, lowered, u.quants, nil)
}

// padByte adds the scalar initializer Q(c) of a constant-mode Pad unit:
// its float padding value quantized with the unit's parameters.
func padByte(g *graph.Graph, u *moveUnit) (*graph.Value, error) {
	p, _ := nodeParams(u.dqs[0], u.dqs[0].Input(0))
	t := qdq.Uint8
	if p.dt == graph.Int8 {
		t = qdq.Int8
	}
	q := qdq.QuantizeValue(u.padValue, p.scale, int32(p.zp), t)
	t8, err := graph.NewTensor(g.UniqueName(u.node.Name+"_constant_value"), p.dt, nil, []byte{byte(q)})
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t8)
}
