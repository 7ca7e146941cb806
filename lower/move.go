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
//
// With Options.Requantize the parameters may differ (a Concat of inputs
// quantized with their own scales, a Resize whose output is quantized
// anew): Q(DQ(q)) is then a function of one byte, which ai.onnxq
// Requantize computes exactly (a 256-byte table), so each data input
// quantized otherwise than the output is requantized to the output's
// parameters and the op moves those bytes. Each output element is one
// input element (or the padding), so this is the float unit's result.
// MaxPool commutes with the table too: the table is non-decreasing (DQ
// and Q are), so the largest byte of a window maps to the largest value;
// a window entirely in the padding gives the output type's smallest
// value, as Q(−∞) does. An op with one data input that shrinks it (Slice,
// Gather, MaxPool without padding) requantizes its output instead, fewer
// bytes: MaxPool only without padding or ceil_mode, where every window
// holds an input element (an empty window would give T(smallest), not the
// smallest value). The constant of a Pad is quantized with the output's
// parameters, as the float unit does.

package lower

import (
	"fmt"
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
	// in holds the parameters of each DequantizeLinear, out those of the
	// QuantizeLinear nodes.
	in  []qparams
	out qparams
	// padValue is a constant-mode Pad's float padding value c (0 when
	// absent), quantized when rewritten.
	padValue float32
}

// requantized tells whether some input's parameters differ from the
// output's.
func (u *moveUnit) requantized() bool {
	return slices.ContainsFunc(u.in, func(p qparams) bool { return p != u.out })
}

// matchMove checks n for a data-movement unit; nil when it does not fit.
// With requant the inputs and the output may be quantized differently.
func matchMove(n *graph.Node, opset int64, requant bool) *moveUnit {
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
		// tf_crop_and_resize fills the outside of its box with
		// extrapolation_value, a float: on the integers it would write
		// byte 0, not that value's code
		if n.AttrString("mode", "nearest") != "nearest" || n.AttrString("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize" {
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
				f := c.ConstFloat32s()
				if len(f) != 1 {
					return nil
				}
				u.padValue = f[0]
			}
		}
	}
	for i, in := range n.Inputs {
		if data >= 0 && i != data {
			continue
		}
		d := dq(in)
		if d == nil {
			return nil
		}
		dp, ok := nodeParams(d, d.Input(0))
		if !ok || !dp.roundTrips() || (!requant && len(u.in) > 0 && dp != u.in[0]) {
			return nil
		}
		u.in = append(u.in, dp)
		u.dqs = append(u.dqs, d)
	}
	if len(u.dqs) == 0 {
		return nil
	}
	out := n.Outputs[0]
	if len(out.Consumers) == 0 || slices.Contains(out.Graph.Outputs, out) {
		return nil
	}
	for i, c := range out.Consumers {
		if c.OpType != "QuantizeLinear" || (c.Domain != "" && c.Domain != "ai.onnx") || c.Input(0) != out || len(c.Outputs) != 1 {
			return nil
		}
		qp, ok := nodeParams(c, c.Outputs[0])
		if !ok || (i > 0 && qp != u.out) {
			return nil
		}
		u.out = qp
		u.quants = append(u.quants, c)
	}
	if !u.requantized() {
		return u
	}
	if !requant || !u.out.roundTrips() {
		return nil
	}
	// Requantize is the float unit only where the unit computes in
	// float32: the DequantizeLinear outputs and the QuantizeLinear
	// arithmetic.
	for _, d := range u.dqs {
		if dt := d.AttrInt("output_dtype", 0); dt != 0 && graph.DType(dt) != graph.Float32 {
			return nil
		}
	}
	for _, q := range u.quants {
		if p := q.AttrInt("precision", 0); p != 0 && graph.DType(p) != graph.Float32 {
			return nil
		}
	}
	return u
}

// mayRequantizeAfter tells whether u's op could take the requantization
// of its output instead of its input: one data input, not a Pad (its
// constant is a byte of the output's type, and negative pads crop), and
// a MaxPool only without padding or ceil_mode, where no window is empty.
func (u *moveUnit) mayRequantizeAfter() bool {
	n := u.node
	if moveOps[n.OpType] < 0 || len(u.dqs) != 1 || n.OpType == "Pad" {
		return false
	}
	if n.OpType == "MaxPool" {
		if a := n.AttrString("auto_pad", "NOTSET"); a != "NOTSET" && a != "VALID" {
			return false
		}
		if slices.ContainsFunc(n.AttrInts("pads"), func(p int64) bool { return p != 0 }) || n.AttrInt("ceil_mode", 0) != 0 {
			return false
		}
	}
	return true
}

// requantizeAfter tells whether u's op may requantize its output and
// makes fewer elements than it reads (both shapes known, from the values
// or from shapes by name), so that the output costs less to requantize.
func (u *moveUnit) requantizeAfter(shapes map[string]graph.Shape) bool {
	if !u.mayRequantizeAfter() {
		return false
	}
	n := u.node
	size := func(v *graph.Value) int64 {
		if v.Shape.Known() {
			return v.Shape.NumElements()
		}
		if s, ok := shapes[v.Name]; ok {
			return s.NumElements()
		}
		return -1
	}
	in, out := size(n.Inputs[moveOps[n.OpType]]), size(n.Outputs[0])
	return in > 0 && out >= 0 && out < in
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

// rewriteMove replaces u by its op on the integers; it returns the
// number of ai.onnxq Requantize nodes it added. shapes (by value name)
// help place them.
func rewriteMove(g *graph.Graph, u *moveUnit, shapes map[string]graph.Shape) (int, error) {
	n := u.node
	inputs := slices.Clone(n.Inputs)
	data := moveOps[n.OpType]
	after := u.requantized() && u.requantizeAfter(shapes)
	added := 0
	// One Requantize per DequantizeLinear, however often the op reads it.
	requantized := map[*graph.Node]*graph.Value{}
	k := 0
	for i := range inputs {
		if data >= 0 && i != data {
			continue
		}
		d, p := u.dqs[k], u.in[k]
		k++
		inputs[i] = d.Input(0)
		if after || p == u.out {
			continue
		}
		if v := requantized[d]; v != nil {
			inputs[i] = v
			continue
		}
		r, err := addRequantize(g, slices.Index(g.Nodes, n), fmt.Sprintf("%s_requantize%d", n.Name, i), d, d.Input(0), d.Outputs[0].Shape, u.quants[0])
		if err != nil {
			return 0, err
		}
		requantized[d], inputs[i] = r, r
		added++
	}
	if n.OpType == "Pad" && n.AttrString("mode", "constant") == "constant" {
		c, err := padByte(g, u)
		if err != nil {
			return 0, err
		}
		for len(inputs) < 3 {
			inputs = append(inputs, nil)
		}
		inputs[2] = c
	}
	lowered := &graph.Node{Name: n.Name, OpType: n.OpType, Domain: n.Domain, Inputs: inputs, Attrs: slices.Clone(n.Attrs)}
	if !after {
		return added, replaceUnit(g, n, lowered, u.quants, nil)
	}
	// The op moves the input's bytes; their requantization takes over
	// the quantized output.
	y := n.Outputs[0]
	if err := g.InsertNode(slices.Index(g.Nodes, n), lowered, g.UniqueName(y.Name+"_moved")); err != nil {
		return 0, err
	}
	moved := lowered.Outputs[0]
	moved.DType, moved.Shape = u.in[0].dt, y.Shape
	req, err := requantizeNode(g, n.Name+"_requantize", u.dqs[0], moved, u.quants[0])
	if err != nil {
		return 0, err
	}
	return added + 1, replaceUnit(g, n, req, u.quants, nil)
}

// requantizeNode returns an ai.onnxq Requantize node (not yet in g) that
// takes x, quantized as d's input, to q's parameters, adding the zero
// points d or q leave out.
func requantizeNode(g *graph.Graph, name string, d *graph.Node, x *graph.Value, q *graph.Node) (*graph.Node, error) {
	zx, zy := d.Input(2), q.Input(2)
	var err error
	if zx == nil {
		if zx, err = zeroPoint(g, elemType(d.Input(0)), name+"_x_zero_point"); err != nil {
			return nil, err
		}
	}
	if zy == nil {
		if zy, err = zeroPoint(g, elemType(q.Outputs[0]), name+"_y_zero_point"); err != nil {
			return nil, err
		}
	}
	return &graph.Node{Name: g.UniqueName(name), OpType: "Requantize", Domain: onnxqDomain, Inputs: []*graph.Value{x, d.Input(1), zx, q.Input(1), zy}}, nil
}

// addRequantize inserts at pos a Requantize of x (d's input) to q's
// parameters and returns its output, of q's type and the given shape.
func addRequantize(g *graph.Graph, pos int, name string, d *graph.Node, x *graph.Value, shape graph.Shape, q *graph.Node) (*graph.Value, error) {
	r, err := requantizeNode(g, name, d, x, q)
	if err != nil {
		return nil, err
	}
	// Zero points added by requantizeNode are initializers: pos stays.
	if err := g.InsertNode(pos, r, g.UniqueName(x.Name+"_requantized")); err != nil {
		return nil, err
	}
	v := r.Outputs[0]
	v.DType, v.Shape = elemType(q.Outputs[0]), shape
	return v, nil
}

// padByte adds the scalar initializer Q(c) of a constant-mode Pad unit:
// its float padding value quantized with the output's parameters.
func padByte(g *graph.Graph, u *moveUnit) (*graph.Value, error) {
	p := u.out
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
