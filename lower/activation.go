// activation.go matches the float activation that follows a convolution
// whose output is not quantized before it: DequantizeLinear inputs →
// Conv → hard-swish → QuantizeLinear. With Options.Activations the unit
// becomes one ai.onnxq QLinearConv (activation "HardSwish"), an op of
// onnxq's runtime that other runtimes do not know: it is for execution in
// onnxq (run, bench, golden), never for files meant for ONNX Runtime.
//
// Hard-swish is recognised as the graph spells it after export,
//
//	y ─┬─► Add(·, 3) ─► Clip(·, 0, 6) ─┐
//	   └───────────────────────────────┴─► Mul ─► Div(·, 6) ─► Q
//
// or as one HardSwish node, with every intermediate value read only
// inside the pattern.

package lower

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// Options choose what the pass rewrites beyond the standard units.
type Options struct {
	// Activations fuses DQ → Conv → hard-swish → Q units into ai.onnxq
	// QLinearConv (only onnxq's runtime runs it).
	Activations bool
	// Arithmetic rewrites DQ, DQ → Add/Mul → Q units into ai.onnxq
	// QLinearAdd/QLinearMul (binary.go; only onnxq's runtime runs them).
	Arithmetic bool
	// Pooling rewrites DQ → AveragePool/GlobalAveragePool → Q units into
	// ai.onnxq QLinearAveragePool/QLinearGlobalAveragePool (pool.go; only
	// onnxq's runtime runs them).
	Pooling bool
	// FloatOutputs runs the convolutions whose inputs are dequantized
	// but whose output stays float as integer convolutions with a float32
	// output: ai.onnxq QLinearConv without y_scale, whose value is
	// float32(Σ(x−zx)(w−zw) + b)·(x_scale·w_scale[c]).
	FloatOutputs bool
	// ConvTranspose rewrites DQ → ConvTranspose → Q units (int8 weights
	// with zero points 0, per tensor or per output channel) into ai.onnxq
	// QLinearConvTranspose, which ONNX lacks (only onnxq's runtime runs
	// it); with FloatOutputs also those whose output stays float.
	ConvTranspose bool
	// Requantize runs the data-movement units whose inputs and output
	// are quantized with different parameters on the integers too, with
	// an ai.onnxq Requantize (QuantizeLinear(DequantizeLinear(x)) as a
	// 256-byte table) on each input quantized otherwise than the output,
	// or on the output of an op that shrinks its one input (move.go;
	// only onnxq's runtime runs it).
	Requantize bool
	// Gemm rewrites complete Gemm units into MatMulInteger → Add → Cast →
	// Mul (gemm.go; standard ops, for the QOperator form). Without it they
	// keep their QDQ form, which ONNX Runtime fuses into QGemm.
	Gemm bool
}

// Execution are the options of onnxq's own execution form (run, bench,
// golden, verify, compare, the quantizer's measurements): every fusion
// its runtime runs.
var Execution = Options{Activations: true, Arithmetic: true, Pooling: true, FloatOutputs: true, ConvTranspose: true, Requantize: true}

// onnxqDomain is the domain of onnxq's own integer ops.
const onnxqDomain = "ai.onnxq"

// hardSwishChain returns the nodes of the hard-swish that reads y, in
// graph order of evaluation, ending with the node whose output is then
// quantized; nil when y's readers are not exactly such a chain.
func hardSwishChain(y *graph.Value) []*graph.Node {
	g := y.Graph
	only := func(v *graph.Value, op string) *graph.Node {
		if v == nil || len(v.Consumers) != 1 || slices.Contains(g.Outputs, v) {
			return nil
		}
		n := v.Consumers[0]
		if n.OpType != op || (n.Domain != "" && n.Domain != "ai.onnx") || len(n.Outputs) != 1 {
			return nil
		}
		return n
	}
	if len(y.Consumers) == 1 {
		if h := only(y, "HardSwish"); h != nil {
			return []*graph.Node{h}
		}
		return nil
	}
	if len(y.Consumers) != 2 {
		return nil
	}
	var add, mul *graph.Node
	for _, c := range y.Consumers {
		switch c.OpType {
		case "Add":
			add = c
		case "Mul":
			mul = c
		}
	}
	if add == nil || mul == nil || !otherIsConst(add, y, 3) {
		return nil
	}
	clip := only(add.Outputs[0], "Clip")
	if clip == nil || clip.Input(0) != add.Outputs[0] || !clipBounds(clip, 0, 6) {
		return nil
	}
	if only(clip.Outputs[0], "Mul") != mul || !(mul.Input(0) == y && mul.Input(1) == clip.Outputs[0] || mul.Input(1) == y && mul.Input(0) == clip.Outputs[0]) {
		return nil
	}
	div := only(mul.Outputs[0], "Div")
	if div == nil || div.Input(0) != mul.Outputs[0] || !isConst(div.Input(1), 6) {
		return nil
	}
	return []*graph.Node{add, clip, mul, div}
}

// otherIsConst reports whether the binary node n reads v and, as its other
// input, a constant scalar equal to c.
func otherIsConst(n *graph.Node, v *graph.Value, c float32) bool {
	if len(n.Inputs) != 2 {
		return false
	}
	switch v {
	case n.Input(0):
		return isConst(n.Input(1), c)
	case n.Input(1):
		return isConst(n.Input(0), c)
	}
	return false
}

// isConst reports whether v is a float32 constant of one element equal to c.
func isConst(v *graph.Value, c float32) bool {
	f := v.ConstFloat32s()
	return len(f) == 1 && f[0] == c
}

// clipBounds reports whether the Clip n bounds to [lo, hi]: as inputs
// (opset 11 and later) or as attributes.
func clipBounds(n *graph.Node, lo, hi float32) bool {
	if len(n.Inputs) > 1 {
		return len(n.Inputs) == 3 && isConst(n.Input(1), lo) && isConst(n.Input(2), hi)
	}
	return n.AttrFloat("min", -3.4028234663852886e38) == lo && n.AttrFloat("max", 3.4028234663852886e38) == hi
}
