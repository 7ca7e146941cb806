// lower.go holds the lower-qdq pass. It needs a QDQ model (the quantize
// pass's output, or any model in that form) and rewrites each complete
// node unit
//
//	DequantizeLinear(x) ─┐
//	DequantizeLinear(w) ─┼─► Conv / MatMul ─► QuantizeLinear ─► y
//	DequantizeLinear(b) ─┘   (b: Conv only)
//
// into one QLinearConv or QLinearMatMul reading the integer tensors and
// their scales directly, so that the runtime (or ONNX Runtime) computes it
// with integer kernels: acc = Σ(x−zx)(w−zw) + b in int32, then
// round(acc·sx·sw/sy) + zy, saturated. A unit is lowered only when that is
// what ONNX defines for the QDQ form up to the rounding of the float
// accumulation: x per tensor, w per tensor or per output channel, an int32
// bias whose scale is exactly sx·sw (as the quantize pass writes it), and
// every consumer of the float output a QuantizeLinear with the same
// per-tensor parameters. Anything else stays as it is and runs in float
// with its DequantizeLinear/QuantizeLinear nodes. Data-movement units
// (DQ → Reshape/Transpose/Concat… → Q with one set of parameters) run on
// the integers (move.go), and with Options.Requantize also those whose
// parameters differ, through ai.onnxq Requantize. With
// Options.ConvTranspose a ConvTranspose unit of int8 weights with zero
// points 0 (per tensor, or per output channel, axis 1, when ungrouped)
// becomes ai.onnxq QLinearConvTranspose (the same inputs as QLinearConv,
// ConvTranspose's attributes). DequantizeLinear nodes left without
// readers are removed. It leaves a graph that Verify accepts,
// with the graph's input and output names unchanged.

package lower

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/passes"
)

// ReportKey is the passes.Context key under which the pass leaves its
// *Report.
const ReportKey = "lower.report"

// Report counts what the pass did.
type Report struct {
	// Lowered counts the rewritten units by the integer op they became.
	Lowered map[string]int
	// Moved counts the data-movement units that run on the integers, by
	// op type.
	Moved map[string]int
	// Requantized counts the ai.onnxq Requantize nodes added to
	// data-movement units whose inputs and output are quantized
	// differently (Options.Requantize), by the unit's op type.
	Requantized map[string]int
	// Kept lists the weighted nodes left in float and why, in graph order.
	Kept []Kept
}

// Kept is one weighted node the pass did not lower.
type Kept struct {
	Node, Op, Reason string
}

// Pass returns the lower-qdq pass, which writes standard ONNX ops only:
// the QOperator form (Gemm units as MatMulInteger and their rescaling).
func Pass() passes.Pass { return PassWith(Options{Gemm: true}) }

// ForExecution lowers m in place to the execution form: its complete
// Q/DQ units become the integer ops onnxq's runtime, like ONNX Runtime,
// runs them as.
func ForExecution(m *graph.Model) error {
	return passes.Run(m, &passes.Context{}, []passes.Pass{PassWith(Execution)}, passes.RunOptions{})
}

// ExecutionCopy returns a copy of m in the execution form (ForExecution);
// m is left as it is.
func ExecutionCopy(m *graph.Model) (*graph.Model, error) {
	c, err := graph.Clone(m)
	if err != nil {
		return nil, err
	}
	if err := ForExecution(c); err != nil {
		return nil, err
	}
	return c, nil
}

// PassWith returns the lower-qdq pass with opts.
func PassWith(opts Options) passes.Pass {
	return passes.Pass{
		Name: "lower-qdq",
		Doc:  "rewrite DQ→Conv/MatMul→Q units into QLinearConv/QLinearMatMul",
		Run: func(m *graph.Model, ctx *passes.Context) (bool, error) {
			rep := &Report{Lowered: map[string]int{}, Moved: map[string]int{}, Requantized: map[string]int{}}
			opset, ok := m.Opset("")
			if !ok {
				opset, _ = m.Opset("ai.onnx")
			}
			// Shapes are inferred (on a copy, before anything is
			// rewritten) only when a Requantize's place depends on one
			// that the model does not declare.
			var shapes map[string]graph.Shape
			if opts.Requantize && needsShapes(m, opset) {
				shapes = inferredShapes(m)
			}
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				if err == nil {
					err = lowerGraph(g, rep, opset, opts, shapes)
				}
			})
			if err != nil {
				return false, err
			}
			if _, ok := m.Opset(onnxqDomain); !ok && (len(rep.Requantized) > 0 || slices.ContainsFunc(slices.Collect(maps.Keys(rep.Lowered)), func(op string) bool {
				return strings.HasPrefix(op, onnxqDomain+".")
			})) {
				m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: onnxqDomain, Version: 1})
			}
			if ctx != nil {
				ctx.Values[ReportKey] = rep
			}
			total := 0
			for op, n := range rep.Lowered {
				total += n
				ctx.Logf("lower-qdq: %d units lowered to %s", n, op)
			}
			for op, n := range rep.Moved {
				total += n
				ctx.Logf("lower-qdq: %d %s units run on the integers", n, op)
			}
			for op, n := range rep.Requantized {
				ctx.Logf("lower-qdq: %d ai.onnxq.Requantize for %s units", n, op)
			}
			for _, k := range rep.Kept {
				ctx.Logf("lower-qdq: %s %s stays float: %s", k.Op, k.Node, k.Reason)
			}
			return total > 0, nil
		},
	}
}

// unit is one matched node unit.
type unit struct {
	node       *graph.Node
	x, w, bias *graph.Node // the DequantizeLinear nodes (bias may be nil)
	quants     []*graph.Node
	op         string
	// chain is the fused activation's nodes (activation.go), act its name.
	chain []*graph.Node
	act   string
	// floatOut: the output stays float32 (Options.FloatOutputs).
	floatOut bool
}

// floatConvOp names the float-output units in Report.Lowered.
const floatConvOp = "ai.onnxq.QLinearConv(float output)"

// convTransposeOp and floatConvTransposeOp name the ConvTranspose units
// in Report.Lowered.
const (
	convTransposeOp      = onnxqDomain + ".QLinearConvTranspose"
	floatConvTransposeOp = convTransposeOp + "(float output)"
)

// hardSwishOp names the fused unit in Report.Lowered.
const hardSwishOp = "ai.onnxq.QLinearConv(HardSwish)"

// needsShapes tells whether a data-movement unit of m with one data
// input would be requantized and lacks a shape of its input or output.
func needsShapes(m *graph.Model, opset int64) bool {
	need := false
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if need || (n.Domain != "" && n.Domain != "ai.onnx") {
				continue
			}
			if u := matchMove(n, opset, true); u != nil && u.requantized() && u.mayRequantizeAfter() {
				need = !n.Inputs[moveOps[n.OpType]].Shape.Known() || !n.Outputs[0].Shape.Known()
			}
		}
	})
	return need
}

// inferredShapes returns the shapes graph.InferShapes finds for m's
// values, by name, worked out on a copy so that m keeps the types its
// file declares; nil when m does not copy. They only choose where a
// Requantize goes (the side with fewer elements), never what is computed.
func inferredShapes(m *graph.Model) map[string]graph.Shape {
	c, err := graph.Clone(m)
	if err != nil {
		return nil
	}
	_ = graph.InferShapes(c) // what it could infer is filled in even on error
	shapes := map[string]graph.Shape{}
	c.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				if v != nil && v.Shape.Known() {
					shapes[v.Name] = v.Shape
				}
			}
		}
	})
	return shapes
}

// reasonGemm says why a complete Gemm unit keeps its QDQ form.
const reasonGemm = "the standard ops have no integer Gemm (ONNX Runtime fuses the QDQ form into its own QGemm)"

// lowerGraph lowers the units of g (not of its subgraphs: Walk visits
// those); shapes are inferred shapes of values by name (may be nil).
func lowerGraph(g *graph.Graph, rep *Report, opset int64, opts Options, shapes map[string]graph.Shape) error {
	unreadBefore := map[*graph.Value]bool{}
	for _, v := range g.Initializers {
		if len(v.Consumers) == 0 {
			unreadBefore[v] = true
		}
	}
	var units []*unit
	var gemms []*gemmUnit
	for _, n := range g.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		if n.OpType == "Gemm" && macs.QDQUnit(n) {
			if !opts.Gemm {
				rep.Kept = append(rep.Kept, Kept{Node: n.Name, Op: n.OpType, Reason: reasonGemm})
				continue
			}
			if u, why := matchGemm(n); u != nil {
				gemms = append(gemms, u)
			} else {
				rep.Kept = append(rep.Kept, Kept{Node: n.Name, Op: n.OpType, Reason: why})
			}
			continue
		}
		if n.OpType != "Conv" && n.OpType != "MatMul" && (n.OpType != "ConvTranspose" || !opts.ConvTranspose) {
			continue
		}
		u, why := match(n, opts)
		if u == nil {
			rep.Kept = append(rep.Kept, Kept{Node: n.Name, Op: n.OpType, Reason: why})
			continue
		}
		units = append(units, u)
	}
	var moves []*moveUnit
	var binaries []*binaryUnit
	var pools []*poolUnit
	for _, n := range g.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		if u := matchMove(n, opset, opts.Requantize); u != nil {
			moves = append(moves, u)
		}
		if opts.Arithmetic {
			if u := matchBinary(n); u != nil {
				binaries = append(binaries, u)
			}
		}
		if opts.Pooling {
			if u := matchPool(n); u != nil {
				pools = append(pools, u)
			}
		}
	}
	for _, u := range units {
		if err := rewrite(g, u); err != nil {
			return err
		}
		rep.Lowered[u.op]++
	}
	for _, u := range gemms {
		if err := rewriteGemm(g, u); err != nil {
			return err
		}
		rep.Lowered[gemmOp]++
	}
	for _, u := range moves {
		added, err := rewriteMove(g, u, shapes)
		if err != nil {
			return err
		}
		rep.Moved[u.node.OpType]++
		if added > 0 {
			rep.Requantized[u.node.OpType] += added
		}
	}
	for _, u := range binaries {
		op := u.node.OpType
		if err := rewriteBinary(g, u); err != nil {
			return err
		}
		rep.Lowered[onnxqDomain+".QLinear"+op]++
	}
	for _, u := range pools {
		op := u.node.OpType
		if err := rewritePool(g, u); err != nil {
			return err
		}
		rep.Lowered[onnxqDomain+".QLinear"+op]++
	}
	if len(units)+len(gemms)+len(moves)+len(binaries)+len(pools) == 0 {
		return nil
	}
	if err := removeUnread(g, unreadBefore); err != nil {
		return err
	}
	// Value infos of values that left the graph would describe nothing.
	g.ValueInfos = slices.DeleteFunc(g.ValueInfos, func(v *graph.Value) bool { return g.Value(v.Name) != v })
	return nil
}

// dq returns the DequantizeLinear producing v, or nil.
func dq(v *graph.Value) *graph.Node {
	if v == nil || v.Producer == nil || v.Producer.OpType != "DequantizeLinear" || (v.Producer.Domain != "" && v.Producer.Domain != "ai.onnx") {
		return nil
	}
	return v.Producer
}

// constInts returns the integer data of a constant input, or nil.
func constInts(v *graph.Value) []int64 {
	if v == nil || v.Const == nil {
		return nil
	}
	d, err := v.Const.Int64s()
	if err != nil {
		return nil
	}
	return d
}

// eightBit tells whether dt is an 8-bit integer type.
func eightBit(dt graph.DType) bool { return dt == graph.Uint8 || dt == graph.Int8 }

// elemType is v's element type, from its declared type or, for a
// QuantizeLinear output, from the operator's rule: output_dtype, else the
// zero point's type, else uint8.
func elemType(v *graph.Value) graph.DType {
	if v == nil {
		return graph.Undefined
	}
	if v.DType != graph.Undefined {
		return v.DType
	}
	if c := v.Const; c != nil {
		return c.DType
	}
	q := v.Producer
	if q == nil || q.OpType != "QuantizeLinear" {
		return graph.Undefined
	}
	if dt := graph.DType(q.AttrInt("output_dtype", 0)); dt != graph.Undefined {
		return dt
	}
	if z := q.Input(2); z != nil {
		if z.Const != nil {
			return z.Const.DType
		}
		return z.DType
	}
	return graph.Uint8
}

// perTensorParams checks a Q or DQ node's scale and zero point: constant,
// one value each, and returns them.
func perTensorParams(n *graph.Node) (scale float32, zp int64, ok bool) {
	s := n.Input(1).ConstFloat32s()
	if len(s) != 1 || !(s[0] > 0) || math.IsInf(float64(s[0]), 0) {
		return 0, 0, false
	}
	if z := n.Input(2); z != nil {
		zs := constInts(z)
		if len(zs) != 1 {
			return 0, 0, false
		}
		zp = zs[0]
	}
	return s[0], zp, true
}

// match checks n's unit; it returns nil and the reason when n stays float.
func match(n *graph.Node, opts Options) (*unit, string) {
	u := &unit{node: n, op: "QLinearMatMul"}
	switch n.OpType {
	case "Conv":
		u.op = "QLinearConv"
	case "ConvTranspose":
		u.op = convTransposeOp
	}
	if len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return nil, "unexpected outputs"
	}
	if u.x = dq(n.Input(0)); u.x == nil {
		return nil, "its input is not dequantized"
	}
	if u.w = dq(n.Input(1)); u.w == nil {
		return nil, "its weight is not dequantized"
	}
	xq, wq := u.x.Input(0), u.w.Input(0)
	if !eightBit(elemType(xq)) {
		return nil, "its input is not 8-bit"
	}
	if _, _, ok := perTensorParams(u.x); !ok {
		return nil, "its input's scale is not one constant"
	}
	// A MatMul of two activations (attention's Q·Kᵀ and P·V) is a unit
	// too: QLinearMatMul takes any second operand, quantized per tensor,
	// and ONNX Runtime fuses it so.
	dynamic := wq != nil && wq.Const == nil && n.OpType == "MatMul" && eightBit(elemType(wq))
	if !dynamic && (wq == nil || wq.Const == nil || !eightBit(wq.Const.DType)) {
		return nil, "its weight is not a constant 8-bit tensor"
	}
	if elemType(xq) == graph.Int8 && elemType(wq) == graph.Uint8 {
		// ONNX Runtime registers its integer Conv and MatMul kernels for
		// uint8 inputs with uint8 or int8 weights and for int8 with int8
		return nil, "its input is int8 and its weight uint8, a pair ONNX Runtime's integer kernels do not take"
	}
	if dynamic {
		if _, _, ok := perTensorParams(u.w); !ok {
			return nil, "its second operand's scale is not one constant"
		}
	} else if why := checkWeightParams(u); why != "" {
		return nil, why
	}
	if n.OpType == "Conv" || n.OpType == "ConvTranspose" {
		if b := n.Input(2); b != nil {
			if u.bias = dq(b); u.bias == nil {
				return nil, "its bias is not a dequantized int32 constant"
			}
			if why := checkBias(u); why != "" {
				return nil, why
			}
		}
	}
	why := u.matchOutput(n.Outputs[0], opts)
	if why == "" && len(u.quants) > 0 && elemType(u.quants[0].Outputs[0]) != elemType(xq) {
		why = "its output is quantized to another type than its input (the integer ops write their input's type)"
	}
	if why == "" {
		return u, ""
	}
	// The convolution computes in its input's type: the x scale's, float32
	// unless DequantizeLinear says otherwise (output_dtype, opset 21).
	sx := u.x.Input(1)
	if opts.FloatOutputs && (n.OpType == "Conv" || n.OpType == "ConvTranspose") && sx != nil && sx.Const != nil && sx.Const.DType == graph.Float32 && u.x.AttrInt("output_dtype", 0) == 0 {
		// The output stays float: an integer convolution whose sums are
		// scaled back to float32 (ai.onnxq QLinearConv or
		// QLinearConvTranspose without y_scale).
		u.chain, u.act, u.quants = nil, "", nil
		u.floatOut, u.op = true, floatConvOp
		if n.OpType == "ConvTranspose" {
			u.op = floatConvTransposeOp
		}
		return u, ""
	}
	return nil, why
}

// matchOutput checks that y, the output of u's node, is quantized: read
// only by QuantizeLinear nodes with one set of 8-bit parameters, after a
// hard-swish with opts.Activations. It returns why not, or "".
func (u *unit) matchOutput(y *graph.Value, opts Options) string {
	n := u.node
	if slices.Contains(n.Graph.Outputs, y) {
		return "its float output is a graph output"
	}
	if len(y.Consumers) == 0 {
		return "its output is not quantized"
	}
	if opts.Activations && n.OpType == "Conv" && !slices.ContainsFunc(y.Consumers, func(c *graph.Node) bool { return c.OpType == "QuantizeLinear" }) {
		if chain := hardSwishChain(y); chain != nil {
			u.chain, u.act, u.op = chain, "HardSwish", hardSwishOp
			y = chain[len(chain)-1].Outputs[0]
			if slices.Contains(n.Graph.Outputs, y) || len(y.Consumers) == 0 {
				return "its hard-swish output is not quantized"
			}
		}
	}
	var s0 float32
	var z0 int64
	var t0 graph.DType
	for i, q := range y.Consumers {
		if q.OpType != "QuantizeLinear" || (q.Domain != "" && q.Domain != "ai.onnx") || q.Input(0) != y {
			return "its output is read by " + q.OpType + ", not only QuantizeLinear"
		}
		s, z, ok := perTensorParams(q)
		if !ok {
			return "its output's scale is not one constant"
		}
		out := q.Outputs[0]
		if !eightBit(elemType(out)) {
			return "its output is not quantized to 8 bits"
		}
		if q.AttrInt("saturate", 1) != 1 {
			return "its QuantizeLinear has attributes the integer ops lack"
		}
		if i == 0 {
			s0, z0, t0 = s, z, elemType(out)
		} else if s != s0 || z != z0 || elemType(out) != t0 {
			return "its output is quantized with different parameters"
		}
		u.quants = append(u.quants, q)
	}
	return ""
}

// checkWeightParams accepts per-tensor weight parameters, or per output
// channel: axis 0 of a Conv weight, axis 1 of an ungrouped ConvTranspose
// weight (whose zero points must be 0 and type int8: the runtime's GEMM
// takes symmetric weights only), the last axis (columns) of a 2-D MatMul
// weight.
func checkWeightParams(u *unit) string {
	w := u.w.Input(0).Const
	if u.node.OpType == "ConvTranspose" {
		if w.DType != graph.Int8 {
			return "its weight is not int8"
		}
		if slices.ContainsFunc(constInts(u.w.Input(2)), func(z int64) bool { return z != 0 }) {
			return "its weight zero point is not 0"
		}
	}
	s := u.w.Input(1).ConstFloat32s()
	if len(s) == 0 {
		return "its weight scale is not constant"
	}
	for _, v := range s {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return "its weight scale is not positive and finite"
		}
	}
	if z := u.w.Input(2); z != nil && len(constInts(z)) != len(s) {
		return "its weight zero point is not constant"
	}
	if u.w.AttrInt("block_size", 0) != 0 {
		return "its weight is quantized block-wise"
	}
	if len(s) == 1 {
		return ""
	}
	rank := len(w.Dims)
	axis := u.w.AttrInt("axis", 1)
	if axis < 0 {
		axis += int64(rank)
	}
	switch u.node.OpType {
	case "Conv":
		if axis != 0 || int64(len(s)) != w.Dims[0] {
			return "its weight is quantized along an axis other than the output channels"
		}
	case "MatMul":
		if rank != 2 || axis != 1 || int64(len(s)) != w.Dims[1] {
			return "its weight is quantized along an axis other than the columns"
		}
	case "ConvTranspose":
		if rank < 3 || axis != 1 || int64(len(s)) != w.Dims[1] {
			return "its weight is quantized along an axis other than the output channels"
		}
		if u.node.AttrInt("group", 1) != 1 {
			return "its grouped weight is quantized per channel"
		}
	}
	return ""
}

// checkBias accepts an int32 constant bias with zero point 0 whose scale
// is exactly sx·sw, per channel as the weight: the integer op assumes it.
func checkBias(u *unit) string {
	bq := u.bias.Input(0)
	if bq == nil || bq.Const == nil || bq.Const.DType != graph.Int32 {
		return "its bias is not an int32 constant"
	}
	if z := u.bias.Input(2); z != nil {
		for _, v := range constInts(z) {
			if v != 0 {
				return "its bias has a zero point"
			}
		}
	}
	bs := u.bias.Input(1).ConstFloat32s()
	ws := u.w.Input(1).ConstFloat32s()
	sx, _, _ := perTensorParams(u.x)
	channels := int(bq.Const.NumElements())
	if len(bs) != 1 && len(bs) != channels || len(ws) != 1 && len(ws) != channels {
		return "its bias scale does not match the weight's channels"
	}
	for c := range channels {
		b, w := bs[0], ws[0]
		if len(bs) > 1 {
			b = bs[c]
		}
		if len(ws) > 1 {
			w = ws[c]
		}
		if b != sx*w {
			return "its bias scale is not input scale × weight scale"
		}
	}
	return ""
}

// rewrite replaces u by one integer node that takes over the name of the
// first QuantizeLinear's output.
func rewrite(g *graph.Graph, u *unit) error {
	if u.floatOut {
		return rewriteFloatOut(g, u)
	}
	n := u.node
	inputs, err := u.integerInputs(g)
	if err != nil {
		return err
	}
	q0 := u.quants[0]
	sy, zy := q0.Input(1), q0.Input(2)
	if zy == nil {
		if zy, err = zeroPoint(g, elemType(q0.Outputs[0]), n.Name+"_y_zero_point"); err != nil {
			return err
		}
	}
	inputs = append(inputs, sy, zy)
	if u.bias != nil {
		inputs = append(inputs, u.bias.Input(0))
	}
	lowered := &graph.Node{Name: n.Name, OpType: u.op, Inputs: inputs}
	if u.act != "" {
		lowered.OpType, lowered.Domain = "QLinearConv", onnxqDomain
	}
	if n.OpType == "ConvTranspose" {
		lowered.OpType, lowered.Domain = "QLinearConvTranspose", onnxqDomain
		lowered.Attrs = slices.Clone(n.Attrs)
	}
	if n.OpType == "Conv" {
		lowered.Attrs = slices.Clone(n.Attrs)
		if u.act != "" {
			lowered.Attrs = append(lowered.Attrs, graph.StringAttr("activation", u.act))
		}
	}
	return replaceUnit(g, n, lowered, u.quants, u.chain)
}

// rewriteFloatOut replaces the convolution of u by ai.onnxq QLinearConv
// (or QLinearConvTranspose) without y_scale and y_zero_point, whose
// float32 output takes over the convolution's.
func rewriteFloatOut(g *graph.Graph, u *unit) error {
	n := u.node
	inputs, err := u.integerInputs(g)
	if err != nil {
		return err
	}
	inputs = append(inputs, nil, nil)
	if u.bias != nil {
		inputs = append(inputs, u.bias.Input(0))
	}
	y := n.Outputs[0]
	op := "QLinearConv"
	if n.OpType == "ConvTranspose" {
		op = "QLinearConvTranspose"
	}
	lowered := &graph.Node{Name: n.Name, OpType: op, Domain: onnxqDomain, Inputs: inputs, Attrs: slices.Clone(n.Attrs)}
	if err := g.InsertNode(slices.Index(g.Nodes, n), lowered, g.UniqueName(y.Name+"_lowered")); err != nil {
		return err
	}
	result := lowered.Outputs[0]
	result.DType, result.Shape = graph.Float32, y.Shape
	g.ReplaceUses(y, result)
	name := y.Name
	if err := g.RemoveNode(n); err != nil {
		return err
	}
	return g.Rename(result, name)
}

// replaceUnit puts lowered in the place of n: it is inserted before n,
// reads what it was given, and its output, of the 8-bit type of the first
// QuantizeLinear's, takes over every quantized output (and the first's
// name); the QuantizeLinear nodes and n are removed. extra lists nodes
// between n and the quantizations (a fused activation) to remove too.
func replaceUnit(g *graph.Graph, n, lowered *graph.Node, quants, extra []*graph.Node) error {
	out := quants[0].Outputs[0]
	if err := g.InsertNode(slices.Index(g.Nodes, n), lowered, g.UniqueName(out.Name+"_lowered")); err != nil {
		return err
	}
	result := lowered.Outputs[0]
	result.DType, result.Shape = elemType(out), out.Shape
	name := out.Name
	for _, q := range quants {
		g.ReplaceUses(q.Outputs[0], result)
		if err := g.RemoveNode(q); err != nil {
			return err
		}
	}
	for i := len(extra) - 1; i >= 0; i-- {
		if err := g.RemoveNode(extra[i]); err != nil {
			return err
		}
	}
	if err := g.RemoveNode(n); err != nil {
		return err
	}
	return g.Rename(result, name)
}

// integerInputs returns x, its scale and zero point, w, its scales and
// zero points of u, adding the zero points the integer ops require where
// the DequantizeLinear nodes leave them out.
func (u *unit) integerInputs(g *graph.Graph) ([]*graph.Value, error) {
	n := u.node
	xq, sx, zx := u.x.Input(0), u.x.Input(1), u.x.Input(2)
	wq, sw, zw := u.w.Input(0), u.w.Input(1), u.w.Input(2)
	var err error
	if zx == nil {
		if zx, err = zeroPoint(g, elemType(xq), n.Name+"_x_zero_point"); err != nil {
			return nil, err
		}
	}
	if zw == nil {
		// Per channel, the zero point has the scale's shape.
		if zw, err = zeroPoints(g, elemType(wq), sw.Const.Dims, n.Name+"_w_zero_point"); err != nil {
			return nil, err
		}
	}
	return []*graph.Value{xq, sx, zx, wq, sw, zw}, nil
}

// zeroPoint adds a scalar zero of type dt, for an omitted zero point the
// integer ops require.
func zeroPoint(g *graph.Graph, dt graph.DType, base string) (*graph.Value, error) {
	return zeroPoints(g, dt, nil, base)
}

// zeroPoints adds zeros of type dt (8-bit) and shape dims.
func zeroPoints(g *graph.Graph, dt graph.DType, dims []int64, base string) (*graph.Value, error) {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v, err := addConstant(g, base, dt, dims, make([]byte, n))
	if err != nil {
		return nil, fmt.Errorf("lower-qdq: %v", err)
	}
	return v, nil
}

// removeUnread removes DequantizeLinear nodes whose output nothing reads
// any more, then the constants that lost their last reader (those unread
// before the pass stay: not this pass's business).
func removeUnread(g *graph.Graph, unreadBefore map[*graph.Value]bool) error {
	for changed := true; changed; {
		changed = false
		for i := len(g.Nodes) - 1; i >= 0; i-- {
			n := g.Nodes[i]
			if n.OpType != "DequantizeLinear" || len(n.Outputs) != 1 || n.Outputs[0] == nil {
				continue
			}
			if out := n.Outputs[0]; len(out.Consumers) > 0 || slices.Contains(g.Outputs, out) {
				continue
			}
			if err := g.RemoveNode(n); err != nil {
				return err
			}
			changed = true
		}
	}
	for _, v := range slices.Clone(g.Initializers) {
		if len(v.Consumers) == 0 && !unreadBefore[v] && !slices.Contains(g.Outputs, v) && !slices.Contains(g.Inputs, v) {
			if err := g.RemoveInitializer(v); err != nil {
				return err
			}
		}
	}
	return nil
}
