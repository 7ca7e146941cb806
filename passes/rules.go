// The per-op quantization rule table: for each op type, which inputs are
// activations, which is a weight (and its per-channel axis), which is a
// bias, whether outputs share the input's parameters, fold into the
// producer's range, or stay FP32 (and why). The quantize pass reads only
// this table to decide what to do with a node.

package passes

// OpClass is what the quantize pass does with an op.
type OpClass int

const (
	// ClassFP32: the op keeps reading and writing float.
	ClassFP32 OpClass = iota
	// ClassWeighted: activations and weight through Q/DQ, bias int32; the
	// output is quantized where a quantized consumer reads it.
	ClassWeighted
	// ClassShare: data movement (or max/min selection): the outputs take
	// the parameters of the inputs (all share-slot inputs and outputs form
	// one range, their union), so no requantization is needed; a Concat
	// input far narrower than the output keeps its own range instead.
	ClassShare
	// ClassFold: Relu/Clip: the input is left float, the output's range
	// absorbs the clipping; with FoldActivations the node is removed when
	// the output's Q saturates exactly as it clips.
	ClassFold
	// ClassQuantIO: arithmetic with its own output range: activation
	// inputs and the output get Q/DQ, constant float inputs become
	// per-tensor quantized weights.
	ClassQuantIO
)

func (c OpClass) String() string {
	return [...]string{"fp32", "weighted", "share", "fold", "quant-io"}[c]
}

// AxisRule says how the per-channel axis of a weight is found.
type AxisRule int

const (
	// AxisFixed: Rule.WeightAxis.
	AxisFixed AxisRule = iota
	// AxisGemmB: Gemm's B is [K,N] (axis 1) or, with transB=1, [N,K] (axis 0).
	AxisGemmB
	// AxisLast: the last axis of a 2-D weight (MatMul's B is [K,N]); an
	// N-D one is quantized per tensor.
	AxisLast
)

// Rule is one row of the table.
type Rule struct {
	Op    string
	Class OpClass
	// Activations are the input slots read as activations; AllInputs
	// makes every input one (Concat, Add).
	Activations []int
	AllInputs   bool
	// Weight is the slot of the weight (-1: none). When that input is not
	// a float initializer it is treated as an activation.
	Weight     int
	Axis       AxisRule
	WeightAxis int
	// ReduceAxis is the weight's reduction axis (blocked quantization runs
	// along it); -1: blocks are not supported for this op.
	ReduceAxis int
	// Bias is the slot of an additive per-output-channel bias (-1: none).
	Bias int
	// Cond names an extra check the node must pass to follow the row.
	Cond Cond
	// DefaultFP32 keeps the op in FP32 unless IncludeOps names it; Reason
	// says why it stays FP32.
	DefaultFP32 bool
	Reason      string
	// WeightOnly are the slots of large constant weights of an op that
	// stays FP32 which QuantOptions.WeightOnly stores as integers read
	// through DequantizeLinear (per channel along WeightOnlyAxis): the op
	// still computes in float, only the file shrinks. Weighted ops the
	// rules keep in FP32 (a Conv feeding a Log, one that amplifies its
	// input's rounding) keep float weights: what keeps them FP32 is their
	// sensitivity to rounding, and int8 weights cost silero_vad_v3_1's
	// spectrum Conv 12 dB.
	WeightOnly     []int
	WeightOnlyAxis int
}

// Cond is an attribute check a node must pass for its row to apply.
type Cond int

const (
	CondNone Cond = iota
	// CondPadZero: Pad in constant mode with a zero (or absent) value.
	CondPadZero
	// CondUnitGemm: Gemm with alpha = beta = 1 (else the bias scale is
	// not s_in·s_w).
	CondUnitGemm
	// CondGroupOne: ConvTranspose with group 1 (per-channel axis 1 holds
	// only C_out/group channels otherwise).
	CondGroupOne
	// CondConstDivisor: Div by a constant initializer whose elements are
	// all finite and non-zero, so that it scales like a Mul by the
	// reciprocal (hard-swish's /6); a Div by an activation stays FP32.
	CondConstDivisor
)

func share(op string, slots ...int) Rule {
	return Rule{Op: op, Class: ClassShare, Activations: slots, Weight: -1, Bias: -1, ReduceAxis: -1}
}

func shareAll(op string) Rule {
	return Rule{Op: op, Class: ClassShare, AllInputs: true, Weight: -1, Bias: -1, ReduceAxis: -1}
}

func quantIO(op string, all bool, slots ...int) Rule {
	return Rule{Op: op, Class: ClassQuantIO, AllInputs: all, Activations: slots, Weight: -1, Bias: -1, ReduceAxis: -1}
}

func fp32(op, reason string) Rule {
	return Rule{Op: op, Class: ClassFP32, Weight: -1, Bias: -1, ReduceAxis: -1, DefaultFP32: true, Reason: reason}
}

const (
	reasonRange = "output range too wide or too skewed for 8 bits (exponential/logarithmic)"
	reasonNorm  = "normalisation: small differences of large values lose precision in 8 bits"
	// ONNX Runtime's integer AveragePool divides the windows that run past
	// the padded input in ceil mode by another count than its float one
	// (and onnxq's runtime): measured 23.8 dB where 38.8 was printed.
	reasonCeilAveragePool = "AveragePool with ceil_mode and count_include_pad: ONNX Runtime's integer kernel averages the windows past the padding differently from the float op"
	// ONNX Runtime fuses DQ → AveragePool → Q into its QLinearAveragePool,
	// which has no dilations (opset 19) and refuses the model.
	reasonDilatedAveragePool = "AveragePool with dilations: ONNX Runtime's integer kernel has none and refuses the file"
	reasonFloat64            = "computes in float64: onnxq quantizes float32 values (float16 and bfloat16 models compute in float32 first)"
	reasonGELUOp             = "GELU: kept float, as runtimes run it in one float kernel"
	reasonBatchNorm          = "BatchNormalization no Conv before it absorbs: a per-channel scale and shift, kept float"
	reasonGELU               = "part of a GELU (Erf or Tanh) pattern: kept float whole, so no step cuts it and runtimes fuse it into one kernel (ONNX Runtime: Gelu, BiasGelu, FastGelu)"
	reasonRecurrent          = "recurrent state accumulates quantization error across steps"
	reasonControl            = "control flow (its body is quantized)"
	reasonReduce             = "reduction: its sum/mean needs more than 8 bits"
	// A max or min over axes is one of its input values and could share
	// their grid, but where models use it (a normalisation's scale, as
	// basic_pitch_nmp's front end) its Q/DQ cost 0.2 dB and saved nothing.
	reasonExtreme       = "max/min reduction: kept float, where it scales a normalisation"
	reasonExtremeOutput = "max/min reduction whose values reach a graph output: kept float, as outputs keep their precision"
	reasonProb          = "probability output: near-zero values lose all relative precision in 8 bits"
	// The same ops inside the network: the rule keeps them float for
	// what they are at outputs, which the reason says rather than
	// calling them outputs.
	reasonProbInner = "probabilities inside the network (as attention weights): near-zero values lose all relative precision in 8 bits"
	reasonGate      = "gate inside the network (as in SiLU or squeeze-excitation): sigmoids stay float by default for the near-zero probabilities of those at outputs; --include-op quantizes it"
	reasonNoiseGain = "its weights amplify the rounding of a quiet input channel past 64 output steps"
	reasonLogInput  = "feeds a Log through arithmetic: 8 bits lose the small values whose logarithm matters"
	reasonHardSwish = "division: quantizing it also quantizes the arithmetic before it (as in hard-swish) and loses accuracy; --include-op Div quantizes it where what reads it is quantized"
	// reasonIncludedIdle is the reason of an op --include-op quantizes
	// whose output no reader takes as 8-bit: a Q/DQ there would only round.
	reasonIncludedIdle = "included by --include-op, but what reads it stays float, so it does too"
	// reasonBetweenFloat is the reason of an op the table quantizes that
	// got no Q/DQ of its own, its neighbours being float (a residual Add
	// between layer norms).
	reasonBetweenFloat = "left float: what it reads or what reads it stays float, so a Q/DQ for it alone would only round its values"
)

// probabilityReason tells whether reason is one a probability op (a
// sigmoid or Softmax) stays float by: at an output or inside the network.
func probabilityReason(reason string) bool {
	return reason == reasonProb || reason == reasonProbInner || reason == reasonGate
}

// rules is the table, one row per op type.
var rules = []Rule{
	{Op: "Conv", Class: ClassWeighted, Activations: []int{0}, Weight: 1, WeightAxis: 0, ReduceAxis: -1, Bias: 2},
	{Op: "ConvTranspose", Class: ClassWeighted, Activations: []int{0}, Weight: 1, WeightAxis: 1, ReduceAxis: -1, Bias: 2, Cond: CondGroupOne},
	{Op: "Gemm", Class: ClassWeighted, Activations: []int{0}, Weight: 1, Axis: AxisGemmB, ReduceAxis: 0, Bias: 2, Cond: CondUnitGemm},
	{Op: "MatMul", Class: ClassWeighted, Activations: []int{0}, Weight: 1, Axis: AxisLast, ReduceAxis: 0, Bias: -1},

	share("Reshape", 0), share("Transpose", 0), share("MaxPool", 0), shareAll("Concat"),
	share("Slice", 0), share("Gather", 0), share("Resize", 0), share("Squeeze", 0),
	share("Unsqueeze", 0), share("Flatten", 0), share("Split", 0), share("Identity", 0),
	share("GlobalMaxPool", 0), share("DepthToSpace", 0), share("SpaceToDepth", 0),
	{Op: "Pad", Class: ClassShare, Activations: []int{0}, Weight: -1, Bias: -1, ReduceAxis: -1, Cond: CondPadZero},
	// max/min of values on one grid stay on that grid; against a constant
	// scalar they are a clip at one bound and fold like Clip instead
	// (clipLikeRules in quantize.go)
	shareAll("Max"), shareAll("Min"),

	{Op: "Relu", Class: ClassFold, Weight: -1, Bias: -1, ReduceAxis: -1},
	{Op: "Clip", Class: ClassFold, Weight: -1, Bias: -1, ReduceAxis: -1},

	quantIO("Add", true), quantIO("Mul", true),
	quantIO("AveragePool", false, 0), quantIO("GlobalAveragePool", false, 0),
	quantIO("LeakyRelu", false, 0),
	// Div by a constant (hard-swish's /6): the divisor stays a float
	// constant, only the dividend and the output get Q/DQ. Quantizing it
	// also quantizes the Add/Mul before it, which costs the detectors
	// more accuracy than the FP32 hard-swish; quantize it with IncludeOps.
	withFP32(Rule{Op: "Div", Class: ClassQuantIO, Activations: []int{0}, Weight: -1, Bias: -1, ReduceAxis: -1, Cond: CondConstDivisor}, reasonHardSwish),
	// Sigmoid sits mostly at detector outputs where its small
	// probabilities matter; quantize it with IncludeOps.
	withFP32(quantIO("Sigmoid", false, 0), reasonProb),
	withFP32(quantIO("HardSigmoid", false, 0), reasonProb),

	fp32("Softmax", reasonProb), fp32("LogSoftmax", reasonRange),
	fp32("LayerNormalization", reasonNorm), fp32("InstanceNormalization", reasonNorm),
	fp32("GroupNormalization", reasonNorm), fp32("BatchNormalization", reasonBatchNorm),
	fp32("Exp", reasonRange), fp32("Log", reasonRange), fp32("Pow", reasonRange),
	fp32("Sqrt", reasonRange), fp32("Reciprocal", reasonRange),
	// W [dirs, gates·hidden, input] and R [dirs, gates·hidden, hidden]:
	// one scale per gate row (axis 1). Only R goes int8: it reads the
	// hidden state, which the activations bound to [-1, 1], while W reads
	// the layer's input at any scale. Measured on dtln_stage1: int8 R kept
	// 50.2 dB; int8 W cost 20 dB on the LSTM reading a spectrum and 5 dB
	// on the one reading the first LSTM's output.
	recurrent("LSTM"), recurrent("GRU"), recurrent("RNN"),
	fp32("If", reasonControl), fp32("Loop", reasonControl), fp32("Scan", reasonControl),
	fp32("Erf", reasonRange), fp32("Gelu", reasonGELUOp),
	fp32("ReduceMean", reasonReduce), fp32("ReduceSum", reasonReduce), fp32("ReduceMax", reasonExtreme),
	fp32("ReduceMin", reasonExtreme), fp32("ReduceProd", reasonReduce), fp32("ReduceL1", reasonReduce),
	fp32("ReduceL2", reasonReduce), fp32("ReduceLogSum", reasonReduce),
	fp32("ReduceLogSumExp", reasonReduce), fp32("ReduceSumSquare", reasonReduce),
}

func recurrent(op string) Rule {
	r := fp32(op, reasonRecurrent)
	r.WeightOnly, r.WeightOnlyAxis = []int{2}, 1
	return r
}

func withFP32(r Rule, reason string) Rule {
	r.DefaultFP32, r.Reason = true, reason
	return r
}

var ruleIndex = func() map[string]*Rule {
	m := make(map[string]*Rule, len(rules))
	for i := range rules {
		m[rules[i].Op] = &rules[i]
	}
	return m
}()

// RuleFor returns the row of an op type of the default domain, or nil.
func RuleFor(op string) *Rule { return ruleIndex[op] }

// Rules returns a copy of the table, in order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// activationSlot reports whether input slot i is read as an activation.
func (r *Rule) activationSlot(i int) bool {
	if r.AllInputs {
		return true
	}
	for _, s := range r.Activations {
		if s == i {
			return true
		}
	}
	return false
}
