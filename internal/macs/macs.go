// Package macs counts the multiply-accumulates of a graph's weighted
// nodes (Conv, ConvTranspose, Gemm, MatMul and their integer forms) from
// the shapes shape inference left on the values, and the INT8 MAC
// coverage: the share of those MACs in complete Q/DQ units, which ONNX
// Runtime runs as integer kernels. "onnxq inspect" and the HTML report
// both print it.

package macs

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// Coverage is the INT8 MAC coverage: the MACs of Conv,
// ConvTranspose, Gemm and MatMul nodes that form complete Q/DQ units
// (see QDQUnit), and of the integer weighted ops (QLinearConv,
// QLinearMatMul, ConvInteger, MatMulInteger, which count as units),
// against the MACs of all of them. Nodes with unknown
// shapes count in WeightedNodes and Units but add no MACs.
type Coverage struct {
	CoveredMACs int64 `json:"covered_macs"`
	TotalMACs   int64 `json:"total_macs"`
	// Share is CoveredMACs/TotalMACs, 0 when there are no MACs.
	Share float64 `json:"share"`
	// Units counts the weighted nodes in complete Q/DQ units,
	// WeightedNodes all weighted nodes.
	Units         int `json:"units"`
	WeightedNodes int `json:"weighted_nodes"`
	// UnknownMACs counts the weighted nodes whose MACs are unknown (a
	// shape inference could not follow): they add none to the totals.
	UnknownMACs int `json:"unknown_macs_nodes"`
	// ORTFloatUnits counts the units ONNX Runtime's CPU kernels still run
	// in float (ORTRunsInFloat); ortFloatByOp splits them by reason, in
	// the order of ortFloatKinds.
	ORTFloatUnits int `json:"ort_cpu_float_units"`
	ortFloatByOp  [len(ortFloatKinds)]int
	// InputsQuantized counts the weighted nodes whose data and weight
	// inputs both come from DequantizeLinear nodes of 8-bit integers,
	// whatever reads their output, and InputsQuantizedMACs their MACs:
	// TensorRT's rule for running a layer in INT8, which needs no
	// QuantizeLinear after it.
	InputsQuantized     int   `json:"inputs_quantized"`
	InputsQuantizedMACs int64 `json:"inputs_quantized_macs"`
	// outputWriters counts the weighted nodes outside units that write a
	// graph output (OutputWriters).
	outputWriters int
	// inBodies counts the weighted nodes outside units in subgraphs (Loop,
	// If and Scan bodies; InBodies).
	inBodies int
	// Recurrent counts the LSTM, GRU and RNN nodes, which run in float
	// and are not among the weighted nodes, and RecurrentMACs the MACs
	// of those whose shapes are known.
	Recurrent     int   `json:"recurrent_nodes"`
	RecurrentMACs int64 `json:"recurrent_macs"`
}

// RecurrentNote says, when c counted LSTM, GRU or RNN nodes, that they
// run in float beside the weighted nodes and what share of the MACs they
// take (a coverage of the weighted nodes alone would read as the whole
// model's); "" otherwise.
func (c Coverage) RecurrentNote() string {
	if c.Recurrent == 0 {
		return ""
	}
	what := "1 LSTM/GRU/RNN node runs"
	if c.Recurrent > 1 {
		what = fmt.Sprintf("%d LSTM/GRU/RNN nodes run", c.Recurrent)
	}
	if c.RecurrentMACs == 0 {
		return what + " in float beside them (MACs unknown)"
	}
	return fmt.Sprintf("%s in float beside them: %.1f%% of all the MACs counted", what, 100*c.RecurrentShare())
}

// RecurrentShare is the share of all the MACs counted (the weighted
// nodes' and the recurrent ones') that the float LSTM, GRU and RNN nodes
// take; 0 when none are counted.
func (c Coverage) RecurrentShare() float64 {
	all := float64(c.TotalMACs) + float64(c.RecurrentMACs)
	if c.RecurrentMACs == 0 || all == 0 {
		return 0
	}
	return float64(c.RecurrentMACs) / all
}

// InBodies counts the weighted nodes of If, Loop and Scan bodies outside
// units: what they read or write there stays float.
func (c Coverage) InBodies() int { return c.inBodies }

// InputsQuantizedShare is InputsQuantizedMACs/TotalMACs, 0 when there
// are no MACs: the share TensorRT runs in INT8.
func (c Coverage) InputsQuantizedShare() float64 {
	if c.TotalMACs == 0 {
		return 0
	}
	return float64(c.InputsQuantizedMACs) / float64(c.TotalMACs)
}

// OutputWriters counts the weighted nodes of the main graph outside
// complete units whose output is a graph output, directly or through the
// one op that reads it (a final Relu): the quantize pass leaves graph
// outputs float, so these run in float.
func (c Coverage) OutputWriters() int { return c.outputWriters }

// writesOutput tells whether n's one output, or that of its one reader,
// is an output of n's graph.
func writesOutput(n *graph.Node) bool {
	if len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	isOut := func(v *graph.Value) bool { return v != nil && slices.Contains(n.Graph.Outputs, v) }
	y := n.Outputs[0]
	return isOut(y) || len(y.Consumers) == 1 && len(y.Consumers[0].Outputs) == 1 && isOut(y.Consumers[0].Outputs[0])
}

// The reasons ONNX Runtime runs a unit in float, indexes of ortFloatKinds.
const (
	floatConvTranspose = iota
	floatMatMulIntoBias
	floatGemmNoZeroPoint
	floatSignedInputUnsignedWeight
	floatSignedInputKept
)

// ortFloatKinds says each reason ORTRunsInFloat finds, as ORTFloatKinds
// lists them.
var ortFloatKinds = [...]string{
	floatConvTranspose:             "ConvTranspose",
	floatMatMulIntoBias:            "MatMul into a bias Add",
	floatGemmNoZeroPoint:           "Gemm without a weight zero point",
	floatSignedInputUnsignedWeight: "with an int8 input and a uint8 weight",
	floatSignedInputKept:           "with an int8 input or output ONNX Runtime does not make uint8 (a QuantizeLinear or DequantizeLinear with other readers)",
}

// ORTFloatKinds names, with counts, the kinds of the units ORTFloatUnits
// counts, such as "2 ConvTranspose, 1 MatMul into a bias Add"; "" when
// there are none.
func (c Coverage) ORTFloatKinds() string {
	var kinds []string
	for i, k := range ortFloatKinds {
		if n := c.ortFloatByOp[i]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(kinds, ", ")
}

// coverageOps are the weighted op types of the coverage figure. Einsum
// has no quantization rule: it counts as running in float, so a model
// written with it (x·W as "bsk,kh->bsh") does not read as covered.
var coverageOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true, "Einsum": true}

// recurrentOps compute in float whatever their weights hold (the rule
// table quantizes the weights alone); their MACs are counted apart from
// the weighted ops', so that a coverage of the latter does not read as
// the whole model's.
var recurrentOps = map[string]bool{"LSTM": true, "GRU": true, "RNN": true}

// integerOps are the weighted ops of the QOperator form and of dynamic
// quantization: integer kernels already, so their MACs count as covered
// (a --format qop file has no Q/DQ units left to find).
var integerOps = map[string]bool{"QLinearConv": true, "QLinearMatMul": true, "ConvInteger": true, "MatMulInteger": true}

// Int8Coverage sums the MACs of the weighted nodes of g and its subgraphs,
// and of those that are complete Q/DQ units. It reads the shapes that
// shape inference left on the values.
func Int8Coverage(g *graph.Graph) Coverage {
	return CoverageOf(g, func(n *graph.Node) (int64, bool) {
		macs, ok, _ := NodeMACs(n)
		return macs, ok
	})
}

// CoverageOf is Int8Coverage with each weighted node's MACs from macsOf
// (false: unknown): the MACs a run executed, say, a Loop body's once per
// iteration.
func CoverageOf(g *graph.Graph, macsOf func(*graph.Node) (int64, bool)) Coverage {
	var c Coverage
	g.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if recurrentOps[n.OpType] && (n.Domain == "" || n.Domain == "ai.onnx") {
				c.Recurrent++
				if macs, ok := macsOf(n); ok && c.RecurrentMACs <= math.MaxInt64-macs {
					c.RecurrentMACs += macs
				}
				continue
			}
			if !coverageOps[n.OpType] && !integerOps[n.OpType] || (n.Domain != "" && n.Domain != "ai.onnx") {
				continue
			}
			c.WeightedNodes++
			unit := integerOps[n.OpType] || QDQUnit(n)
			quantizedIn := integerOps[n.OpType] || len(n.Inputs) >= 2 && fromDQ(n.Inputs[0], graph.Int8, graph.Uint8) && fromDQ(n.Inputs[1], graph.Int8, graph.Uint8)
			if quantizedIn {
				c.InputsQuantized++
			}
			if !unit && g.Main() && writesOutput(n) {
				c.outputWriters++
			}
			if !unit && !g.Main() {
				c.inBodies++
			}
			if unit {
				c.Units++
				if k := ortFloatKind(n); k >= 0 {
					c.ORTFloatUnits++
					c.ortFloatByOp[k]++
				}
			}
			macs, ok := macsOf(n)
			if !ok || c.TotalMACs > math.MaxInt64-macs {
				c.UnknownMACs++
				continue // unknown, or past what int64 counts
			}
			c.TotalMACs += macs
			if unit {
				c.CoveredMACs += macs
			}
			if quantizedIn {
				c.InputsQuantizedMACs += macs
			}
		}
	})
	if c.TotalMACs > 0 {
		c.Share = float64(c.CoveredMACs) / float64(c.TotalMACs)
	}
	return c
}

// CoverageWithShapes is the INT8 MAC coverage of m, measured on a copy
// (shape inference writes shapes onto the values), its inputs of the
// given shapes where it leaves dimensions dynamic.
func CoverageWithShapes(m *graph.Model, shapes map[string][]int64) Coverage {
	c, err := graph.Clone(m)
	if err != nil {
		return Coverage{}
	}
	for name, dims := range shapes {
		// a shape the model's declaration contradicts is left out
		_ = graph.FixInputShapes(c.Graph, map[string][]int64{name: dims})
	}
	_ = graph.InferShapes(c) // what it cannot follow counts no MACs
	return Int8Coverage(c.Graph)
}

// QDQUnit tells whether the weighted node n is a complete Q/DQ unit, the
// pattern ONNX Runtime's QDQ transformer fuses into an integer kernel:
//   - its data and weight inputs come from DequantizeLinear nodes of 8-bit
//     integers;
//   - its bias (Conv, ConvTranspose, Gemm input 2) is absent or comes from
//     a DequantizeLinear of an int32 constant;
//   - its output feeds only QuantizeLinear nodes, a graph output
//     counting as a float consumer (QLinearConv, QLinearMatMul, QGemm with quantized output).
//     Gemm and MatMul may instead feed no QuantizeLinear at all: ONNX
//     Runtime then runs QGemm with a float output or MatMulIntegerToFloat,
//     integer kernels too. An output read both by a QuantizeLinear and by
//     a float consumer is no unit: the fusion needs every consumer to agree.
func QDQUnit(n *graph.Node) bool {
	if len(n.Inputs) < 2 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	for i, in := range n.Inputs {
		switch {
		case i < 2:
			if !fromDQ(in, graph.Int8, graph.Uint8) {
				return false
			}
		case i == 2 && n.OpType != "MatMul":
			if in != nil && !(fromDQ(in, graph.Int32) && isConstant(in.Producer.Input(0))) {
				return false
			}
		default:
			return false
		}
	}
	out := n.Outputs[0]
	toQ, toFloat := 0, 0
	// A graph output is read as float.
	for _, o := range n.Graph.Outputs {
		if o == out {
			toFloat++
		}
	}
	for _, c := range out.Consumers {
		// A 16-bit QuantizeLinear is no integer kernel's output: ONNX
		// Runtime's CPU fusions take 8 bits.
		if c.OpType == "QuantizeLinear" && (c.Domain == "" || c.Domain == "ai.onnx") && eightBit(c) {
			toQ++
		} else {
			toFloat++
		}
	}
	switch n.OpType {
	case "Gemm", "MatMul":
		return toQ == 0 || toFloat == 0
	}
	return toQ > 0 && toFloat == 0
}

// ORTRunsInFloat tells whether ONNX Runtime's CPU kernels (1.30) run the
// complete unit n in float all the same: a ConvTranspose, which its QDQ
// transformer does not fuse; a MatMul whose float output only an Add of a
// constant reads, which its earlier MatMul+Add fusion turns into a float
// Gemm; a Gemm whose weight's DequantizeLinear has no zero-point input,
// which its QGemm fusion passes over (seen in its profiler); any unit
// with an int8 input and a uint8 weight, a pair it has no kernel for; and
// an int8 input it does not rewrite to uint8 (sharedSignedInput).
func ORTRunsInFloat(n *graph.Node) bool { return ortFloatKind(n) >= 0 }

// ortFloatKind is the index in ortFloatKinds of why ONNX Runtime runs
// unit n in float, or -1.
func ortFloatKind(n *graph.Node) int {
	switch {
	case signedInputUnsignedWeight(n):
		return floatSignedInputUnsignedWeight
	case sharedSignedInput(n), sharedSignedOutput(n):
		return floatSignedInputKept
	}
	switch n.OpType {
	case "ConvTranspose":
		return floatConvTranspose
	case "MatMul":
		if BiasAddOnly(n.Outputs[0]) {
			return floatMatMulIntoBias
		}
	case "Gemm":
		// a unit's weight comes from a DequantizeLinear
		if dq := n.Input(1).Producer; dq != nil && dq.Input(2) == nil {
			return floatGemmNoZeroPoint
		}
	}
	return -1
}

// ORTWeightOnlyKernel tells whether ONNX Runtime (1.30, from its default
// optimisation level) fuses node n, a MatMul or Gemm outside a complete
// unit whose weight is the DequantizeLinear of an 8-bit constant matrix,
// into its weight-only MatMulNBits kernel: a MatMul, or a Gemm with
// transB 0, alpha and beta 1 and at most a 1-D bias (seen in its
// optimized graphs; a transposed, scaled or 2-D-biased Gemm stays a
// float Gemm). At its default accuracy level that kernel quantizes the
// float input to int8 itself, per block along the inner dimension.
func ORTWeightOnlyKernel(n *graph.Node) bool {
	if n == nil || n.Domain != "" && n.Domain != "ai.onnx" || QDQUnit(n) {
		return false
	}
	switch n.OpType {
	case "MatMul":
	case "Gemm":
		if n.AttrInt("transB", 0) != 0 || n.AttrFloat("alpha", 1) != 1 || n.AttrFloat("beta", 1) != 1 {
			return false
		}
		if c := n.Input(2); c != nil && (c.Const == nil || len(c.Const.Dims) > 1) && !dequantized1D(c) {
			return false
		}
	default:
		return false
	}
	w := n.Input(1)
	if w == nil || w.Producer == nil || w.Producer.OpType != "DequantizeLinear" {
		return false
	}
	q := w.Producer.Input(0)
	return q != nil && q.Const != nil && len(q.Const.Dims) == 2 && (q.Const.DType == graph.Int8 || q.Const.DType == graph.Uint8)
}

// dequantized1D tells whether v is the DequantizeLinear of a 1-D
// constant (a quantized bias).
func dequantized1D(v *graph.Value) bool {
	if v.Producer == nil || v.Producer.OpType != "DequantizeLinear" {
		return false
	}
	c := v.Producer.Input(0)
	return c != nil && c.Const != nil && len(c.Const.Dims) == 1
}

// signedInputUnsignedWeight tells whether unit n reads an int8 input and
// a uint8 weight: ONNX Runtime's integer Conv and MatMul kernels take
// uint8 inputs with either weight type, int8 inputs with int8 weights.
func signedInputUnsignedWeight(n *graph.Node) bool {
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || x.Producer == nil || w.Producer == nil {
		return false
	}
	xq, wq := x.Producer.Input(0), w.Producer.Input(0)
	return xq != nil && wq != nil && xq.DType == graph.Int8 && wq.DType == graph.Uint8
}

// sharedSignedInput tells whether unit n reads an int8 input that ONNX
// Runtime (1.30, x86) leaves int8: it fuses an int8 unit only after
// rewriting its input's QuantizeLinear/DequantizeLinear pair to uint8,
// which it does when the pair feeds that unit alone (a ResNet block's
// Convs reading the residual sum, which the Add reads too, ran in float
// in its profiler; the Conv after each of them ran as QLinearConv; a
// Conv reading a quantized graph input alone ran as QLinearConv).
func sharedSignedInput(n *graph.Node) bool {
	x := n.Input(0)
	if x == nil || x.Producer == nil || x.Producer.OpType != "DequantizeLinear" {
		return false
	}
	dq := x.Producer
	qv := dq.Input(0)
	if qv == nil || qv.DType != graph.Int8 || qv.Producer == nil || qv.Producer.OpType != "QuantizeLinear" {
		return false
	}
	return len(x.Consumers) != 1 || len(qv.Consumers) != 1 || qv.Producer.Input(0) == nil
}

// sharedSignedOutput tells whether unit n writes an int8 output pair that
// ONNX Runtime leaves int8 while its input pair becomes uint8: the pair's
// QuantizeLinear or DequantizeLinear has other readers (yunet_n_320 with
// int8 activations: each Conv whose output's DequantizeLinear several
// Convs read ran in float, its input rewritten to uint8 all the same).
func sharedSignedOutput(n *graph.Node) bool {
	y := n.Outputs[0]
	if y == nil || len(y.Consumers) == 0 {
		return false
	}
	for _, q := range y.Consumers {
		if q.OpType != "QuantizeLinear" || len(q.Outputs) == 0 || q.Outputs[0] == nil || q.Outputs[0].DType != graph.Int8 {
			continue
		}
		qv := q.Outputs[0]
		if len(y.Consumers) != 1 || len(qv.Consumers) != 1 || isGraphOutput(qv) {
			return true
		}
		dq := qv.Consumers[0]
		if dq.OpType != "DequantizeLinear" || len(dq.Outputs) == 0 || dq.Outputs[0] == nil || len(dq.Outputs[0].Consumers) != 1 || isGraphOutput(dq.Outputs[0]) {
			return true
		}
	}
	return false
}

// isGraphOutput tells whether v is an output of the graph that holds it.
func isGraphOutput(v *graph.Value) bool {
	return v.Graph != nil && slices.Contains(v.Graph.Outputs, v)
}

// BiasAddOnly tells whether only an Add of a constant (a bias) reads v.
// ONNX Runtime fuses a MatMul into such an Add as a float Gemm before its
// QDQ fusion, so a MatMul unit whose float output it reads runs in float;
// with a float output read by anything else it runs MatMulIntegerToFloat.
func BiasAddOnly(v *graph.Value) bool {
	if v == nil || len(v.Consumers) != 1 {
		return false
	}
	add := v.Consumers[0]
	if add.OpType != "Add" || add.Domain != "" && add.Domain != "ai.onnx" || len(add.Inputs) != 2 {
		return false
	}
	for _, in := range add.Inputs {
		if in != v && isConstant(in) {
			return true
		}
	}
	return false
}

// fromDQ tells whether v is the output of a default-domain
// DequantizeLinear whose quantized input has one of the types (or a type
// that is not known).
func fromDQ(v *graph.Value, types ...graph.DType) bool {
	if v == nil || v.Producer == nil || v.Producer.OpType != "DequantizeLinear" {
		return false
	}
	p := v.Producer
	if p.Domain != "" && p.Domain != "ai.onnx" {
		return false
	}
	q := p.Input(0)
	if q == nil {
		return false
	}
	return !q.DType.Known() || slices.Contains(types, q.DType)
}

// eightBit tells whether QuantizeLinear q writes 8-bit integers: the type
// of its zero point, else of its output_dtype attribute (opset 21), else
// uint8, the default.
func eightBit(q *graph.Node) bool {
	t := graph.Uint8
	if zp := q.Input(2); zp != nil && zp.DType.Known() {
		t = zp.DType
	} else if a := q.AttrInt("output_dtype", 0); a != 0 {
		t = graph.DType(a)
	} else if len(q.Outputs) > 0 && q.Outputs[0] != nil && q.Outputs[0].DType.Known() {
		t = q.Outputs[0].DType
	}
	return t == graph.Int8 || t == graph.Uint8
}

// isConstant tells whether v is an initializer or a Constant node's output.
func isConstant(v *graph.Value) bool {
	if v == nil {
		return false
	}
	if v.Const != nil {
		return true
	}
	return v.Producer != nil && v.Producer.OpType == "Constant"
}

// NodeMACs returns the multiply-accumulates of one node. counted is false
// for op types that are not counted; ok is false when a shape needed is
// not known (or the count overflows).
func NodeMACs(n *graph.Node) (macs int64, ok, counted bool) {
	return NodeMACsWith(n, knownSizes)
}

// Sizes returns the dimension sizes of a value when all are known.
type Sizes func(v *graph.Value) ([]int64, bool)

// NodeMACsWith is NodeMACs with the operands' sizes taken from sizes (the
// shapes a run observed, say, where shape inference left them unknown).
func NodeMACsWith(n *graph.Node, sizes Sizes) (macs int64, ok, counted bool) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return 0, false, false
	}
	// Input positions of the data and weight operands.
	switch n.OpType {
	case "Conv":
		macs, ok = convMACs(n, 0, 1, sizes)
	case "ConvInteger":
		macs, ok = convMACs(n, 0, 1, sizes)
	case "QLinearConv":
		macs, ok = convMACs(n, 0, 3, sizes)
	case "ConvTranspose":
		macs, ok = convTransposeMACs(n, sizes)
	case "Gemm":
		macs, ok = gemmMACs(n, sizes)
	case "MatMul", "MatMulInteger":
		macs, ok = matMulMACs(n.Input(0), n.Input(1), sizes)
	case "QLinearMatMul":
		macs, ok = matMulMACs(n.Input(0), n.Input(3), sizes)
	case "LSTM", "GRU", "RNN":
		macs, ok = recurrentMACs(n, sizes)
	case "Einsum":
		var shapes [][]int64
		for _, in := range n.Inputs {
			s, known := sizes(in)
			if !known {
				return 0, false, true
			}
			shapes = append(shapes, s)
		}
		macs, ok = EinsumMACs(n.AttrString("equation", ""), shapes)
	default:
		return 0, false, false
	}
	return macs, ok, true
}

// EinsumMACs is the multiply-accumulates of an Einsum of the equation on
// operands of the given sizes: for two or more operands, the product of
// the sizes of every index (each letter, and the ellipsis's dimensions
// broadcast), one multiply-accumulate per combination; 0 for one operand
// (a transpose, trace or sum). False when the equation does not fit.
func EinsumMACs(equation string, shapes [][]int64) (int64, bool) {
	eq := strings.ReplaceAll(equation, " ", "")
	lhs, _, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if eq == "" || len(terms) != len(shapes) {
		return 0, false
	}
	if len(terms) < 2 {
		return 0, true
	}
	size := map[rune]int64{}
	var ellipsis []int64
	for i, term := range terms {
		s := shapes[i]
		pre, post, dots := strings.Cut(term, "...")
		if !dots {
			pre, post = term, ""
		}
		named := []rune(pre + post)
		if len(s) < len(named) || !dots && len(s) != len(named) {
			return 0, false
		}
		for k, r := range named {
			d := s[k]
			if k >= len([]rune(pre)) {
				d = s[len(s)-len(named)+k]
			}
			if have, seen := size[r]; seen && have != d && have != 1 && d != 1 {
				return 0, false
			}
			size[r] = max(size[r], d)
		}
		if dots {
			e := s[len([]rune(pre)) : len(s)-len([]rune(post))]
			for len(ellipsis) < len(e) {
				ellipsis = append([]int64{1}, ellipsis...)
			}
			off := len(ellipsis) - len(e)
			for k, d := range e {
				ellipsis[off+k] = max(ellipsis[off+k], d)
			}
		}
	}
	factors := slices.Clone(ellipsis)
	for _, d := range size {
		factors = append(factors, d)
	}
	return mulChecked(factors...)
}

// recurrentMACs is the multiply-accumulates of an LSTM, GRU or RNN: at
// each step of each sequence, every gate row of W [dirs, gates·hidden,
// input] and R [dirs, gates·hidden, hidden] takes one dot product, so
// steps·batch·(|W|+|R|), where X is [steps, batch, input] or, with
// layout 1, [batch, steps, input] (the same product).
func recurrentMACs(n *graph.Node, sizes Sizes) (int64, bool) {
	xs, ok := sizes(n.Input(0))
	if !ok || len(xs) != 3 {
		return 0, false
	}
	var weights int64
	for _, i := range []int{1, 2} {
		ws, ok := sizes(n.Input(i))
		if !ok {
			return 0, false
		}
		k, ok := mulChecked(ws...)
		if !ok || weights > math.MaxInt64-k {
			return 0, false
		}
		weights += k
	}
	return mulChecked(xs[0], xs[1], weights)
}

// knownSizes returns the sizes of v's shape when all are known.
func knownSizes(v *graph.Value) ([]int64, bool) {
	if v == nil || !v.Shape.Known() {
		return nil, false
	}
	return v.Shape.Sizes(), true
}

// convMACs is N·Cout·prod(output spatial) · (Cin/group)·prod(kernel):
// every output element sums over one kernel window of its group's input
// channels, which is exactly the product of Y's shape and W's shape
// without its first (Cout) axis.
func convMACs(n *graph.Node, x, w int, sizes Sizes) (int64, bool) {
	if len(n.Outputs) == 0 {
		return 0, false
	}
	y, ok := sizes(n.Outputs[0])
	if !ok || len(y) < 2 {
		return 0, false
	}
	perOutput, ok := convWindow(n, x, w, sizes)
	if !ok {
		return 0, false
	}
	out, ok := mulChecked(y...)
	if !ok {
		return 0, false
	}
	return mulChecked(out, perOutput)
}

// convWindow is (Cin/group)·prod(kernel), from W's shape or, when W has
// no known shape, from X's channels, group and kernel_shape.
func convWindow(n *graph.Node, x, w int, sizes Sizes) (int64, bool) {
	if ws, ok := sizes(n.Input(w)); ok && len(ws) >= 2 {
		return mulChecked(ws[1:]...)
	}
	xs, ok := sizes(n.Input(x))
	kernel := n.AttrInts("kernel_shape")
	group := n.AttrInt("group", 1)
	if !ok || len(xs) < 2 || kernel == nil || group <= 0 || xs[1]%group != 0 {
		return 0, false
	}
	return mulChecked(append([]int64{xs[1] / group}, kernel...)...)
}

// convTransposeMACs is N·Cin·prod(input spatial) · (Cout/group)·prod(kernel):
// every input element is scattered through one kernel into its group's
// output channels; W is [Cin, Cout/group, kernel...].
func convTransposeMACs(n *graph.Node, sizes Sizes) (int64, bool) {
	xs, ok := sizes(n.Input(0))
	if !ok || len(xs) < 2 {
		return 0, false
	}
	var window int64
	if ws, ok := sizes(n.Input(1)); ok && len(ws) >= 2 {
		if window, ok = mulChecked(ws[1:]...); !ok {
			return 0, false
		}
	} else {
		// Without W's shape, Cout comes from the output and the kernel
		// from the attribute.
		ys, ok := sizes(firstOutput(n))
		kernel := n.AttrInts("kernel_shape")
		group := n.AttrInt("group", 1)
		if !ok || len(ys) < 2 || kernel == nil || group <= 0 || ys[1]%group != 0 {
			return 0, false
		}
		if window, ok = mulChecked(append([]int64{ys[1] / group}, kernel...)...); !ok {
			return 0, false
		}
	}
	in, ok := mulChecked(xs...)
	if !ok {
		return 0, false
	}
	return mulChecked(in, window)
}

func firstOutput(n *graph.Node) *graph.Value {
	if len(n.Outputs) == 0 {
		return nil
	}
	return n.Outputs[0]
}

// gemmMACs is M·N·K, with A [M,K] and B [K,N] after transA/transB.
func gemmMACs(n *graph.Node, sizes Sizes) (int64, bool) {
	a, ok := sizes(n.Input(0))
	if !ok || len(a) != 2 {
		return 0, false
	}
	b, ok := sizes(n.Input(1))
	if !ok || len(b) != 2 {
		return 0, false
	}
	m, k := a[0], a[1]
	if n.AttrInt("transA", 0) != 0 {
		m, k = k, m
	}
	nn := b[1]
	if n.AttrInt("transB", 0) != 0 {
		nn = b[0]
	}
	return mulChecked(m, nn, k)
}

// matMulMACs is batch·M·N·K for numpy-style matrix products: a 1-D
// operand is a vector (M or N is 1), and the batch dimensions in front of
// the last two broadcast against each other.
func matMulMACs(av, bv *graph.Value, sizes Sizes) (int64, bool) {
	a, ok := sizes(av)
	if !ok || len(a) == 0 {
		return 0, false
	}
	b, ok := sizes(bv)
	if !ok || len(b) == 0 {
		return 0, false
	}
	if len(a) == 1 {
		a = []int64{1, a[0]}
	}
	if len(b) == 1 {
		b = []int64{b[0], 1}
	}
	m, k, nn := a[len(a)-2], a[len(a)-1], b[len(b)-1]
	if b[len(b)-2] != k {
		return 0, false
	}
	batchA, batchB := a[:len(a)-2], b[:len(b)-2]
	batch := int64(1)
	for i := 1; i <= max(len(batchA), len(batchB)); i++ {
		da, db := int64(1), int64(1)
		if i <= len(batchA) {
			da = batchA[len(batchA)-i]
		}
		if i <= len(batchB) {
			db = batchB[len(batchB)-i]
		}
		d := max(da, db)
		if da != db && da != 1 && db != 1 {
			return 0, false
		}
		if da == 0 || db == 0 {
			d = 0
		}
		if batch, ok = mulChecked(batch, d); !ok {
			return 0, false
		}
	}
	return mulChecked(batch, m, nn, k)
}

// mulChecked multiplies non-negative factors; ok is false on a negative
// factor or an overflow.
func mulChecked(factors ...int64) (int64, bool) {
	p := int64(1)
	for _, f := range factors {
		if f < 0 || f != 0 && p > math.MaxInt64/f {
			return 0, false
		}
		p *= f
	}
	return p, true
}
