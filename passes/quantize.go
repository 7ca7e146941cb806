// The quantize pass: inserts QuantizeLinear/DequantizeLinear pairs as the
// rule table (rules.go) says, stores weights as integer initializers read
// through DequantizeLinear (per channel by default), biases as int32 with
// scale s_in·s_w, and folds Relu/Clip into the range of the producer's
// output.
//
// Needs: calibrated ranges per value name of the FP32 graph (subgraph
// values included) and, for the best result, the prepare passes (constant
// folding, BatchNormalization folded into Conv). Leaves: a QDQ model that
// ONNX Runtime runs and that the lower package can turn into integer ops;
// a *QuantReport in Context.Values[QuantReportKey].
//
// Which values get Q/DQ: a float value gets one pair when some consumer
// reads it quantized: a weighted op (always), or a share/quant-io op that
// is itself active, that is, one of whose outputs is read quantized. So
// values that only feed FP32 ops stay float, and graph outputs keep their
// exact FP32 value (their readers inside the graph may still get a DQ).
// The exception is QuantOptions.CompleteUnits: the output of a quantized
// Conv/ConvTranspose read only by float ops gets a pair too, and those
// readers read its DQ, as do the float readers of one quantized for other
// readers, so that the Conv is a complete unit.

package passes

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/qdq"
)

// Range is the calibrated range of one value.
type Range struct{ Min, Max float32 }

// QuantReportKey is the Context.Values key of the quantize pass's report.
const QuantReportKey = "quantize.report"

// QuantReport says what the quantize pass did.
type QuantReport struct {
	// TensorsQuantized counts activation values given a Q/DQ pair.
	TensorsQuantized int
	// WeightsQuantized counts weight initializers stored as integers
	// (constant inputs of quant-io ops included); BiasesQuantized the
	// int32 biases.
	WeightsQuantized int
	BiasesQuantized  int
	// TablesQuantized counts the constant tables of Gathers (embeddings)
	// stored on their outputs' grids (quantize_gather.go).
	TablesQuantized int
	// ActivationsFolded counts Relu/Clip nodes removed because the
	// saturation of the following Q does their clipping.
	ActivationsFolded int
	// UnitsCompleted counts the Conv outputs given a Q/DQ pair, or whose
	// float readers were moved onto it, only to complete their unit
	// (QuantOptions.CompleteUnits).
	UnitsCompleted int
	// CompletedUnits names those outputs, in graph order.
	CompletedUnits []string
	// OpCounts are the quantized nodes per op type.
	OpCounts map[string]int
	// FP32 lists the nodes with float inputs that stay FP32, and why.
	FP32 []FP32Node
	// OpsetFrom and OpsetTo are the default-domain opset before and after
	// (equal when unchanged).
	OpsetFrom, OpsetTo int64
	// WeightOnly lists the weights of FP32 nodes stored as integers read
	// through DequantizeLinear (QuantOptions.WeightOnly), as "node (op):
	// weight".
	WeightOnly []string
	// Wide counts the activations quantized with 16 bits
	// (QuantOptions.WideFrontEnd), WideByConfig those an override's Bits
	// made 16-bit, WideType is their type and WideDomain the domain of
	// their Q/DQ ("" for the default one, else "com.microsoft").
	Wide         int
	WideByConfig int
	WideType     qdq.Type
	WideDomain   string
	// UnusedOverrides names the QuantOptions.Overrides that changed
	// nothing, sorted: a range or bits on a value given no Q/DQ (read by
	// FP32 ops only, a graph output, the input of a folded Relu), fp32 on a
	// value or weight that stays float anyway (a bias), per_tensor on a
	// weight not quantized.
	UnusedOverrides []string
	// UnmatchedPatterns are the ExcludeNodes, ExcludeOps and IncludeOps
	// patterns that match nothing in the model quantized (or only op
	// types with no quantized form): see UnmatchedPatterns.
	UnmatchedPatterns []PatternMiss
}

// ReasonWide says why QuantOptions.WideFrontEnd quantizes an activation
// with 16 bits.
const ReasonWide = "read by a filterbank (a weighted op whose output reaches a Log through non-weighted ops only) or by the weighted op resampling its input: 8 bits lose the small values whose logarithm matters"

// msDomain is the domain of ONNX Runtime's contrib operators, whose
// QuantizeLinear/DequantizeLinear (version 1) take 16-bit zero points
// before the default domain's do (opset 21).
const msDomain = "com.microsoft"

// FP32Node is one node left in FP32. Output names its first output,
// which identifies a node without a name (where the report fills it).
type FP32Node struct {
	Node, Op, Reason string
	Output           string
}

// QuantizePass returns the quantize pass for the given ranges and options.
func QuantizePass(ranges map[string]Range, opts QuantOptions) Pass {
	return Pass{
		Name: "quantize",
		Doc:  "insert QuantizeLinear/DequantizeLinear by the rule table; integer weights, int32 biases, Relu/Clip folded",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			if err := opts.Validate(); err != nil {
				return false, err
			}
			q := newQuantizer(m, ctx, ranges, opts)
			changed, err := q.run()
			if err != nil {
				return changed, err
			}
			shapesReadDQ(m)
			// Folds remove values (a Relu's output): their record of
			// rescale goes with them.
			return changed, pruneRescales(m)
		},
	}
}

type nodeInfo struct {
	rule     *Rule
	enabled  bool
	excluded bool   // by ExcludeOps/ExcludeNodes
	reason   string // why not enabled
	// floatReason, for an enabled op that may end without a Q/DQ of its
	// own, is the pattern that leaves it float (a layer norm's epsilon
	// Add); empty gives reasonBetweenFloat.
	floatReason string
}

type weightKey struct {
	v     *graph.Value
	axis  int
	block int
	// operand, when set, is the type a constant operand of a quant-io op
	// (the bias of an Add after a MatMul, a Mul's constant factor) takes:
	// its activations' type and range rules, as ONNX Runtime fuses such
	// ops (QLinearAdd, QLinearMul) only when every input and the output
	// share one type.
	operand qdq.Type
}

type weightQ struct {
	dq     *graph.Value
	params qdq.Params
}

type actParams struct {
	scale float32
	zp    int32
	t     qdq.Type
}

type quantizer struct {
	m      *graph.Model
	ctx    *Context
	ranges map[string]Range
	opts   QuantOptions
	// rescaleMuls are the Muls equalize-activations put before
	// hard-swishes, which stay float with them
	rescaleMuls map[*graph.Node]bool
	graphs      []*graph.Graph // pre-order

	info    map[*graph.Node]*nodeInfo
	wanted  map[*graph.Value]bool
	active  map[*graph.Node]bool
	parent  map[*graph.Value]*graph.Value // union-find over shared ranges
	dqOf    map[*graph.Value]*graph.Value // activation → its DQ output
	qNode   map[*graph.Value]*graph.Node  // activation → its Q node
	dqParam map[*graph.Value]actParams    // DQ output → parameters
	weights map[weightKey]*weightQ
	front   map[*graph.Graph]int
	names   map[string]bool
	// seq numbers the names the pass generates, per prefix (see gen)
	seq    map[string]int
	report *QuantReport

	groupRanges map[*graph.Value]*Range
	// alignedGroups holds the parameters alignedParams gave a group (by
	// root), for its other members; paramsSet the groups that have
	// parameters already, which alignment must not change
	alignedGroups map[*graph.Value]actParams
	paramsSet     map[*graph.Value]bool
	// completes holds the Conv outputs wanted only to complete their
	// unit (QuantOptions.CompleteUnits)
	completes map[*graph.Value]bool
	weightOf  map[*graph.Value]*weightQ // DQ output → its weight
	// actInits holds one scale/zero-point initializer pair per graph and
	// parameters, shared by every activation Q/DQ with those parameters
	actInits map[actInitKey][2]*graph.Value
	// wide holds the group roots (find) of the 16-bit activations
	wide map[*graph.Value]bool
	// wideByConfig holds the groups a TensorOverride's Bits made 16-bit.
	wideByConfig map[*graph.Value]bool
	// members lists each group's values by root, for the extremes of a
	// wide group
	members map[*graph.Value][]*graph.Value
	// overrideUsed records the overrides (by name) that changed what the
	// pass writes; quantizedRoots the groups (by root) given a Q/DQ
	overrideUsed   map[string]bool
	quantizedRoots map[*graph.Value]bool
}

type actInitKey struct {
	g *graph.Graph
	actParams
}

func newQuantizer(m *graph.Model, ctx *Context, ranges map[string]Range, opts QuantOptions) *quantizer {
	if len(opts.Overrides) > 0 {
		merged := maps.Clone(ranges)
		if merged == nil {
			merged = map[string]Range{}
		}
		for name, o := range opts.Overrides {
			if o.Range != nil {
				merged[name] = *o.Range
			}
		}
		ranges = merged
	}
	q := &quantizer{
		m: m, ctx: ctx, ranges: ranges, opts: opts,
		info: map[*graph.Node]*nodeInfo{}, wanted: map[*graph.Value]bool{}, active: map[*graph.Node]bool{},
		parent: map[*graph.Value]*graph.Value{}, dqOf: map[*graph.Value]*graph.Value{},
		qNode: map[*graph.Value]*graph.Node{}, dqParam: map[*graph.Value]actParams{},
		weights: map[weightKey]*weightQ{}, weightOf: map[*graph.Value]*weightQ{}, actInits: map[actInitKey][2]*graph.Value{}, front: map[*graph.Graph]int{}, names: map[string]bool{}, seq: map[string]int{},
		wide:         map[*graph.Value]bool{},
		overrideUsed: map[string]bool{}, quantizedRoots: map[*graph.Value]bool{},
		wideByConfig:  map[*graph.Value]bool{},
		alignedGroups: map[*graph.Value]actParams{}, paramsSet: map[*graph.Value]bool{}, completes: map[*graph.Value]bool{},
		report:      &QuantReport{OpCounts: map[string]int{}},
		rescaleMuls: rescaleMuls(m),
	}
	m.Graph.Walk(func(g *graph.Graph) {
		q.graphs = append(q.graphs, g)
		for _, v := range g.Inputs {
			q.names[v.Name] = true
		}
		for _, v := range g.Initializers {
			q.names[v.Name] = true
		}
		for _, n := range g.Nodes {
			q.names[n.Name] = true
			for _, o := range n.Outputs {
				if o != nil {
					q.names[o.Name] = true
				}
			}
		}
	})
	return q
}

// uniq returns a name not used anywhere in the model (subgraphs included,
// so no subgraph shadows it) and reserves it.
func (q *quantizer) uniq(g *graph.Graph, base string) string {
	name := base
	for i := 1; q.names[name] || g.Value(name) != nil; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	q.names[name] = true
	return name
}

// gen returns the next number of a generated-name prefix. The names the
// pass adds are short (q3, dq3, s2, dw7…) rather than derived from the
// quantized value's name: every Q/DQ repeats its name in up to six places
// (node name, output, each reader), and exported names of 50-300 bytes
// then outweigh the int8 weights. Nothing is lost to a reader of the
// graph: the original name stays on the quantized value and on the
// integer weight, one edge away. Numbers follow the order in which the
// pass visits values, so the output is deterministic.
func (q *quantizer) gen(prefix string) int {
	q.seq[prefix]++
	return q.seq[prefix]
}

func (q *quantizer) run() (bool, error) {
	if ctx := q.ctx; ctx != nil {
		if ctx.Values == nil {
			ctx.Values = map[string]any{}
		}
		ctx.Values[QuantReportKey] = q.report
	}
	if already := QuantizationNodes(q.m); len(already) > 0 {
		n := already[0]
		return false, fmt.Errorf("the model is already quantized (node %q is %s)", n.Name, n.OpType)
	}
	q.report.UnmatchedPatterns = UnmatchedPatterns(q.m, q.opts)
	from, _ := q.m.Opset("")
	q.report.OpsetFrom, q.report.OpsetTo = from, from
	weights, activations := q.plan()
	need := max(from, q.opts.Opset)
	if weights || activations {
		need = q.opts.neededOpset(weights, activations)
	}
	changed := false
	if from < need {
		if err := upgradeOpset(q.m, from, need, q.uniq); err != nil {
			return false, err
		}
		q.report.OpsetTo = need
		q.ctx.Logf("quantize: raised the default opset from %d to %d (Q/DQ with these options need %d)", from, need, need)
		changed = true
		// the raise rewrote nodes: the plan's decisions are taken again
		clear(q.info)
		clear(q.wanted)
		clear(q.active)
		clear(q.completes)
		q.decideAll()
	}
	q.buildGroups()
	q.markWide()
	for _, g := range q.graphs {
		if err := q.insertActivations(g); err != nil {
			return false, err
		}
	}
	for _, g := range q.graphs {
		if err := q.quantizeGatherTables(g); err != nil {
			return false, err
		}
	}
	q.noteGroupOverrides()
	for _, g := range q.graphs {
		if err := q.quantizeWeights(g); err != nil {
			return false, err
		}
	}
	for _, g := range q.graphs {
		if err := q.foldActivations(g); err != nil {
			return false, err
		}
	}
	q.summarize()
	q.report.UnusedOverrides = q.unusedOverrides()
	r := q.report
	return changed || r.TensorsQuantized+r.WeightsQuantized+r.BiasesQuantized > 0, nil
}

// decideAll applies the rule table to every node.
func (q *quantizer) decideAll() {
	for _, g := range q.graphs {
		ln, gelu := layerNormNodes(g), geluNodes(g)
		parts := layerNormParts(ln)
		for _, n := range g.Nodes {
			inf := q.decide(n, ln, gelu)
			// the statistics a layer norm computes stay float by their
			// own rules; the summary names the pattern, as for its
			// other ops
			if parts[n] && !inf.excluded {
				if inf.reason != "" {
					inf.reason = reasonLayerNorm
				} else {
					inf.floatReason = reasonLayerNorm
				}
			}
			q.info[n] = inf
		}
	}
}

// plan decides the nodes on the model as it is and tells whether any
// weight (weighted op or weight-only slot) and any activation would be
// quantized, so that the opset rises only for features in use. run takes
// the decisions again when it raises the opset.
func (q *quantizer) plan() (weights, activations bool) {
	q.decideAll()
	for _, g := range q.graphs {
		for _, n := range g.Nodes {
			inf := q.info[n]
			if inf.enabled && inf.rule.Class == ClassWeighted && isFloatConst(n.Input(inf.rule.Weight)) {
				weights = true
			}
			for _, o := range n.Outputs {
				activations = activations || q.isWanted(o)
			}
		}
		for _, v := range g.RealInputs() {
			activations = activations || q.isWanted(v)
		}
		weights = weights || len(q.weightOnlyUses(g)) > 0
	}
	return weights, activations
}

// QuantizationNodes returns the nodes of m and its subgraphs that mark it
// as quantized already (QuantizeLinear, DequantizeLinear, the integer ops
// of the standard domain, ONNX Runtime's QLinear ops), in graph order: the
// quantize pass refuses such a model.
func QuantizationNodes(m *graph.Model) []*graph.Node {
	if m == nil || m.Graph == nil {
		return nil
	}
	var out []*graph.Node
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if (n.Domain == "" || n.Domain == "ai.onnx") && isQuantizedOp(n.OpType) || n.Domain == msDomain && strings.HasPrefix(n.OpType, "QLinear") {
				out = append(out, n)
			}
		}
	})
	return out
}

func isQuantizedOp(op string) bool {
	switch op {
	case "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
		"MatMulInteger", "ConvInteger":
		return true
	}
	return false
}

// decide applies the rule table and the options to one node.
func (q *quantizer) decide(n *graph.Node, layerNorm, gelu map[*graph.Node]bool) *nodeInfo {
	inf := &nodeInfo{}
	if n.Domain != "" && n.Domain != "ai.onnx" {
		inf.reason = "operator of domain " + n.Domain
		return inf
	}
	r := RuleFor(n.OpType)
	if r == nil {
		inf.reason = reasonNoRule
		switch {
		case gelu[n]:
			inf.reason = reasonGELU
		case layerNorm[n]:
			inf.reason = reasonLayerNorm
		}
		return inf
	}
	if boundRule(n) {
		r = clipLikeRules[n.OpType]
	}
	inf.rule = r
	switch {
	case excludedNode(q.opts.ExcludeNodes, n):
		inf.reason, inf.excluded = "excluded by node pattern", true
	case matchAny(q.opts.ExcludeOps, n.OpType):
		inf.reason, inf.excluded = "excluded by op pattern", true
	case readsFloat64(n):
		inf.reason = reasonFloat64
	case q.rescaleMuls[n]:
		inf.reason = reasonRescaleMul
	case layerNorm[n]:
		inf.reason = reasonLayerNorm
	case gelu[n] && !matchAny(q.opts.IncludeOps, n.OpType):
		inf.reason = reasonGELU
	case r.Class == ClassFP32:
		inf.reason = contextReason(n, r.Reason)
	case r.DefaultFP32 && !matchAny(q.opts.IncludeOps, n.OpType):
		inf.reason = contextReason(n, r.Reason)
	case n.OpType == "Conv" && q.inputNoiseGain(n) > maxInputNoiseGain:
		inf.reason = reasonNoiseGain
	case r.Class == ClassWeighted && feedsLog(n):
		inf.reason = reasonLogInput
	case r.Cond == CondPadZero && !padZero(n) && n.AttrString("mode", "constant") != "constant":
		inf.reason = "Pad in " + n.AttrString("mode", "") + " mode: kept float (its copies of values would share its input's grid, but the Q/DQ measured worse)"
	case r.Cond == CondPadZero && !padZero(n):
		inf.reason = "Pad with a constant other than 0, which may lie outside its input's range"
	case r.Cond == CondUnitGemm && (n.AttrFloat("alpha", 1) != 1 || n.AttrFloat("beta", 1) != 1):
		inf.reason = "Gemm with alpha or beta other than 1"
	case r.Class == ClassWeighted && r.Weight == 1 && isFloatConst(n.Input(0)) && !isFloatConst(n.Input(1)):
		inf.reason = "its constant is the first operand (W·x): onnxq takes the second as the weight"
	case r.Cond == CondGroupOne && n.AttrInt("group", 1) != 1 && q.opts.PerChannel:
		inf.reason = "grouped ConvTranspose: per-channel axis 1 does not cover the output channels"
	case n.OpType == "AveragePool" && n.AttrInt("ceil_mode", 0) != 0 && n.AttrInt("count_include_pad", 0) != 0:
		inf.reason = reasonCeilAveragePool
	case n.OpType == "AveragePool" && slices.ContainsFunc(n.AttrInts("dilations"), func(d int64) bool { return d != 1 }):
		inf.reason = reasonDilatedAveragePool
	case r.Cond == CondConstDivisor && !constDivisor(n):
		inf.reason = reasonRange
	default:
		inf.enabled = true
	}
	return inf
}

// maxInputNoiseGain bounds how many output quantization steps the
// rounding error of a Conv's input may become: past it, the Conv reads a
// channel far quieter than its input's range, with weights large enough to
// amplify that channel's rounding (typical of a depthwise Conv after a
// folded BatchNormalization), and stays FP32.
const maxInputNoiseGain = 64

// inputNoiseGain is the input's quantization step times the largest L2
// norm of an output channel's weights, in steps of the output: the
// rounding error of the input as it reaches the output (0 when unknown).
func (q *quantizer) inputNoiseGain(n *graph.Node) float64 {
	w, x, y := n.Input(1), n.Input(0), n.Outputs[0]
	if !isFloatConst(w) || len(w.Const.Dims) < 2 || x == nil || y == nil || !q.hasRange(x) || !q.hasRange(y) {
		return 0
	}
	data, err := w.Const.Float32s()
	co := int(w.Const.Dims[0])
	if err != nil || co <= 0 || len(data)%co != 0 {
		return 0
	}
	per := len(data) / co
	worst := 0.0
	for c := range co {
		s := 0.0
		for _, v := range data[c*per : (c+1)*per] {
			s += float64(v) * float64(v)
		}
		worst = math.Max(worst, s)
	}
	width := func(r Range) float64 { return float64(max(r.Max, 0)) - float64(min(r.Min, 0)) }
	wx, wy := width(q.ranges[x.Name]), width(q.ranges[y.Name])
	if wy <= 0 {
		return 0
	}
	// the same number of steps on both sides, so the ratio of the widths
	return math.Sqrt(worst) * wx / wy
}

// logPath are the arithmetic ops through which an error of a value
// reaches a later Log unchanged in kind, linear maps among them.
var logPath = map[string]bool{
	"Pow": true, "Mul": true, "Add": true, "Sub": true, "Div": true, "Neg": true,
	"Sqrt": true, "Abs": true, "Max": true, "Clip": true, "ReduceSum": true, "ReduceSumSquare": true,
	"ReduceL2": true, "ReduceMean": true, "MatMul": true, "Gemm": true, "Conv": true,
}

// logPathMoves only move or copy values on the way to a Log: they carry
// an error as it is and do not count against logPathDepth (a constant-Q
// front end joins its octaves through a dozen Concats and Transposes).
var logPathMoves = map[string]bool{
	"Slice": true, "Split": true, "Reshape": true, "Transpose": true, "Squeeze": true, "Unsqueeze": true,
	"Concat": true, "Identity": true, "Gather": true, "Pad": true, "Flatten": true, "Expand": true, "Tile": true,
}

// logPathDepth bounds the search: a front end's spectrum reaches its Log
// within a few arithmetic ops.
const logPathDepth = 8

// contextReason narrows reasonProb for a Softmax or sigmoid whose
// values reach no graph output (through data-movement ops, Concat or
// Mul): attention weights and gates are not outputs; and reasonExtreme
// for a max/min reduction whose values do. Other reasons pass through.
func contextReason(n *graph.Node, reason string) string {
	if reason == reasonExtreme && len(n.Outputs) > 0 && reachesGraphOutput(n.Outputs[0]) {
		// not the normalisation's scale the reason names
		return reasonExtremeOutput
	}
	if reason != reasonProb || len(n.Outputs) == 0 || reachesGraphOutput(n.Outputs[0]) {
		return reason
	}
	if n.OpType == "Softmax" {
		return reasonProbInner
	}
	return reasonGate
}

// reachesGraphOutput reports whether v, or what data-movement ops, Concat
// or Mul (a detector's objectness times its class scores) make of it, is
// an output of its graph.
func reachesGraphOutput(v *graph.Value) bool {
	seen := map[*graph.Value]bool{}
	stack := []*graph.Value{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == nil || seen[x] {
			continue
		}
		seen[x] = true
		if x.Graph != nil && isGraphOutput(x.Graph, x) {
			return true
		}
		for _, c := range x.Consumers {
			if c.Domain != "" && c.Domain != "ai.onnx" {
				continue
			}
			if r := RuleFor(c.OpType); c.OpType != "Mul" && (r == nil || r.Class != ClassShare) {
				continue
			}
			stack = append(stack, c.Outputs...)
		}
	}
	return false
}

// feedsLog reports whether a Log reads n's output through fewer than
// logPathDepth arithmetic ops (and any data movement): a spectrum
// computed in 8 bits loses its quiet bins, whose logarithm the rest of
// the model then reads.
func feedsLog(n *graph.Node) bool {
	// the most arithmetic ops still allowed on reaching each node
	left := map[*graph.Node]int{}
	var walk func(x *graph.Node, budget int) bool
	walk = func(x *graph.Node, budget int) bool {
		for _, o := range x.Outputs {
			if o == nil {
				continue
			}
			for _, c := range o.Consumers {
				if c.Domain != "" && c.Domain != "ai.onnx" {
					continue
				}
				if c.OpType == "Log" {
					return true
				}
				b := budget
				switch {
				case logPathMoves[c.OpType]:
				case logPath[c.OpType]:
					b--
				default:
					continue
				}
				if prev, ok := left[c]; b < 1 || ok && prev >= b {
					continue
				}
				left[c] = b
				if walk(c, b) {
					return true
				}
			}
		}
		return false
	}
	return walk(n, logPathDepth)
}

// constDivisor reports whether n divides by a constant whose elements are
// all finite and non-zero: its output range is then a fixed scaling of
// its input's.
func constDivisor(n *graph.Node) bool {
	d := n.Input(1)
	if !isFloatConst(d) {
		return false
	}
	f, err := d.Const.Float32s()
	if err != nil || len(f) == 0 {
		return false
	}
	for _, x := range f {
		if x == 0 || math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
			return false
		}
	}
	return true
}

// padZero tells whether Pad n adds a constant 0, which every range holds
// exactly. A reflect, edge or wrap Pad adds copies of its input's values,
// also on its grid, but sharing that grid put two more activations of
// basic_pitch_nmp's 16-bit front end under Q/DQ and cost it 0.2 dB: such
// a Pad stays float.
func padZero(n *graph.Node) bool {
	if n.AttrString("mode", "constant") != "constant" {
		return false
	}
	if a := n.Attr("value"); a != nil && a.Float != 0 {
		return false
	}
	if v := n.Input(2); v != nil {
		if v.Const == nil {
			return false
		}
		f, err := v.Const.Float32s()
		if err != nil {
			return false
		}
		for _, x := range f {
			if x != 0 {
				return false
			}
		}
	}
	return true
}

// isFloat reports whether v is a float activation (not a constant).
func isFloat(v *graph.Value) bool {
	return v != nil && v.Const == nil && (v.DType == graph.Float32 || v.DType == graph.Undefined)
}

func (q *quantizer) hasRange(v *graph.Value) bool {
	r, ok := q.ranges[v.Name]
	// an inverted or NaN range is no range: the value stays float
	return ok && r.Min <= r.Max
}

// wants reports whether node c reads input slot i quantized.
func (q *quantizer) wants(c *graph.Node, i int) bool {
	inf := q.info[c]
	if inf == nil || !inf.enabled {
		return false
	}
	r := inf.rule
	switch r.Class {
	case ClassWeighted:
		return r.activationSlot(i) || i == r.Weight && isFloat(c.Inputs[i])
	case ClassShare, ClassQuantIO:
		return r.activationSlot(i) && q.isActive(c)
	}
	return false
}

// isWanted reports whether some consumer reads v quantized.
func (q *quantizer) isWanted(v *graph.Value) bool {
	if v == nil {
		return false // an omitted optional output
	}
	if w, ok := q.wanted[v]; ok {
		return w
	}
	q.wanted[v] = false // a DAG has no cycle; this only guards bad input
	w := false
	fp32 := q.opts.Overrides[v.Name].FP32
	if isFloat(v) {
	consumers:
		for _, c := range v.Consumers {
			for i, in := range c.Inputs {
				if in == v && q.wants(c, i) {
					w = true
					break consumers
				}
			}
		}
	}
	if fp32 {
		// kept float by the override: it counts when v would have been
		// read quantized or completed a unit
		if w || isFloat(v) && q.unitOutput(v) && !q.foldedInto(v) {
			q.overrideUsed[v.Name] = true
		}
		return false
	}
	if isFloat(v) && q.unitOutput(v) && !(q.foldedInto(v) && q.foldsActivations()) && (!w || q.floatReaders(v)) {
		w = true
		q.completes[v] = true
	}
	q.wanted[v] = w
	return w
}

// floatReaders tells whether v, which some reader wants quantized, is also
// read as it is by float ops (the Sigmoid of a SiLU beside its Mul): the
// Conv producing v then feeds more than its QuantizeLinear and no runtime
// fuses it. None of them may be a node the user excluded, which keeps
// reading v itself.
func (q *quantizer) floatReaders(v *graph.Value) bool {
	found := false
	for _, c := range v.Consumers {
		for i, in := range c.Inputs {
			if in != v || q.wants(c, i) {
				continue
			}
			if inf := q.info[c]; inf != nil && inf.excluded || c.Graph != v.Graph {
				return false
			}
			found = true
		}
	}
	return found
}

// foldsActivations tells whether a Relu or Clip can fold into the
// QuantizeLinear after it: not when the options keep them, nor with
// symmetric activations, whose grid reaches below the clip's 0 (the
// Conv before such a Relu needs a Q/DQ of its own to complete its unit).
func (q *quantizer) foldsActivations() bool {
	return q.opts.FoldActivations && !q.opts.SymmetricActivations
}

// foldedInto reports whether a Relu/Clip reading v has its output
// quantized, the Q/DQ that v's unit then ends in.
func (q *quantizer) foldedInto(v *graph.Value) bool {
	for _, c := range v.Consumers {
		if inf := q.info[c]; inf != nil && inf.enabled && inf.rule.Class == ClassFold && c.Inputs[0] == v && q.isWanted(c.Outputs[0]) {
			return true
		}
	}
	return false
}

// outQuantized reports whether v ends up quantized: read quantized, or
// read by a Relu/Clip whose output is.
func (q *quantizer) outQuantized(v *graph.Value) bool {
	if v == nil || !isFloat(v) {
		return false
	}
	return q.isWanted(v) || q.foldedInto(v)
}

// isActive reports whether a node is quantized: weighted nodes always,
// share and quant-io nodes when an output is quantized.
func (q *quantizer) isActive(n *graph.Node) bool {
	if a, ok := q.active[n]; ok {
		return a
	}
	q.active[n] = false
	inf := q.info[n]
	a := false
	if inf != nil && inf.enabled {
		switch inf.rule.Class {
		case ClassWeighted:
			a = true
		case ClassShare, ClassQuantIO:
			for _, o := range n.Outputs {
				if q.outQuantized(o) {
					a = true
					break
				}
			}
		}
	}
	q.active[n] = a
	return a
}

func (q *quantizer) find(v *graph.Value) *graph.Value {
	for {
		p, ok := q.parent[v]
		if !ok || p == v {
			return v
		}
		if gp, ok := q.parent[p]; ok {
			q.parent[v] = gp
		}
		v = p
	}
}

func (q *quantizer) union(a, b *graph.Value) {
	for _, v := range []*graph.Value{a, b} {
		if _, ok := q.parent[v]; !ok {
			q.parent[v] = v
		}
	}
	ra, rb := q.find(a), q.find(b)
	if ra != rb {
		q.parent[rb] = ra
	}
}

// buildGroups joins the inputs and outputs of active share nodes into one
// range each.
func (q *quantizer) buildGroups() {
	for _, g := range q.graphs {
		for _, n := range g.Nodes {
			inf := q.info[n]
			if !inf.enabled || inf.rule.Class != ClassShare || !q.isActive(n) {
				continue
			}
			var members []*graph.Value
			for _, o := range n.Outputs {
				if isFloat(o) {
					members = append(members, o)
				}
			}
			for i, in := range n.Inputs {
				if isFloat(in) && inf.rule.activationSlot(i) && !q.narrowInput(n, in) {
					members = append(members, in)
				}
			}
			for _, m := range members[min(1, len(members)):] {
				q.union(members[0], m)
			}
		}
	}
}

// concatSplitRatio: a Concat input whose calibrated range is this many
// times narrower than the Concat's output keeps its own parameters
// (requantized by the Concat's output Q) instead of joining the output's
// range, so that the union range of a wide branch does not spread through
// the share ops upstream of a narrow one.
const concatSplitRatio = 6

// narrowInput reports whether input in of a Concat keeps its own range.
func (q *quantizer) narrowInput(n *graph.Node, in *graph.Value) bool {
	if n.OpType != "Concat" || len(n.Outputs) != 1 || !q.hasRange(in) || !q.hasRange(n.Outputs[0]) {
		return false
	}
	r, o := q.ranges[in.Name], q.ranges[n.Outputs[0].Name]
	return (r.Max-min(r.Min, 0))*concatSplitRatio < o.Max-min(o.Min, 0)
}

// groupRange is the union of the ranges of v's group.
func (q *quantizer) groupRange(v *graph.Value) (Range, bool) {
	if q.groupRanges == nil {
		q.groupRanges = map[*graph.Value]*Range{}
		members := slices.Collect(maps.Keys(q.parent))
		// A range the user set is the group's: the calibrated ranges of
		// the values sharing its grid do not widen it (several set ranges
		// join).
		set := map[*graph.Value]bool{}
		for _, m := range members {
			if q.opts.Overrides[m.Name].Range != nil {
				set[q.find(m)] = true
			}
		}
		for _, m := range members {
			root := q.find(m)
			if !q.hasRange(m) || set[root] && q.opts.Overrides[m.Name].Range == nil {
				continue
			}
			rr := q.ranges[m.Name]
			if r := q.groupRanges[root]; r != nil {
				r.Min, r.Max = min(r.Min, rr.Min), max(r.Max, rr.Max)
			} else {
				q.groupRanges[root] = &rr
			}
		}
	}
	if _, grouped := q.parent[v]; grouped {
		if r := q.groupRanges[q.find(v)]; r != nil {
			return *r, true
		}
		return Range{}, false
	}
	if !q.hasRange(v) {
		return Range{}, false
	}
	return q.ranges[v.Name], true
}

func (q *quantizer) actOptions(t qdq.Type) qdq.RangeOptions {
	return qdq.RangeOptions{Type: t, Symmetric: q.opts.SymmetricActivations}
}

func (q *quantizer) weightOptions() qdq.RangeOptions {
	return qdq.RangeOptions{Type: q.opts.WeightType, Symmetric: q.opts.SymmetricWeights,
		Restricted: q.opts.RestrictedWeights && q.opts.WeightType == qdq.Int8, ReduceRange: q.opts.ReduceRange}
}

// insertActivations puts Q/DQ after every value of g that is read
// quantized and makes those readers read the DQ output.
func (q *quantizer) insertActivations(g *graph.Graph) error {
	var vals []*graph.Value
	vals = append(vals, g.RealInputs()...)
	for _, n := range slices.Clone(g.Nodes) {
		for _, o := range n.Outputs {
			if o != nil {
				vals = append(vals, o)
			}
		}
	}
	for _, v := range vals {
		if !q.isWanted(v) {
			continue
		}
		r, ok := q.groupRange(v)
		if !ok {
			q.ctx.Logf("quantize: %s has no calibrated range; left in FP32", v.Name)
			continue
		}
		t := q.actType(v)
		if t != q.opts.ActivationType {
			r = q.widenToExtremes(v, r)
		}
		scale, zp := qdq.ParamsFromRange(r.Min, r.Max, q.actOptions(t))
		root, grouped := v, false
		if _, grouped = q.parent[v]; grouped {
			root = q.find(v)
		}
		if p, ok := q.alignedGroups[root]; ok {
			scale, zp = p.scale, p.zp
		} else if p, ok := q.scaledParams(v, t); ok {
			scale, zp = p.scale, p.zp
		} else if p, ok := q.alignedParams(v, r, t, scale); ok && !q.paramsSet[root] {
			scale, zp = p.scale, p.zp
			q.alignedGroups[root] = p
		}
		q.paramsSet[root] = true
		q.quantizedRoots[root] = true
		if _, ok := q.opts.Overrides[v.Name]; ok {
			// (an fp32 one never gets here: isWanted refused it)
			q.overrideUsed[v.Name] = true
		}
		dq, err := q.addQDQ(g, v, actParams{scale, zp, t})
		if err != nil {
			return err
		}
		for _, c := range slices.Clone(v.Consumers) {
			for i, in := range c.Inputs {
				if in == v && (q.wants(c, i) || c != q.qNode[v] && q.completes[v]) {
					c.SetInput(i, dq)
				}
			}
		}
		q.report.TensorsQuantized++
		if q.completes[v] {
			q.report.UnitsCompleted++
			q.report.CompletedUnits = append(q.report.CompletedUnits, v.Name)
		}
		if t != q.opts.ActivationType {
			if q.wideByConfig[q.find(v)] {
				q.report.WideByConfig++
			} else {
				q.report.Wide++
			}
		}
	}
	return nil
}

// scaledParams gives the output of a quantized Div by a positive scalar c
// its dividend's grid divided by c: the Div then maps every code of its
// input onto a code of its output, so it adds no rounding of its own.
func (q *quantizer) scaledParams(v *graph.Value, t qdq.Type) (actParams, bool) {
	n := v.Producer
	if n == nil || n.OpType != "Div" || n.Domain != "" || !q.isActive(n) {
		return actParams{}, false
	}
	c, ok := scalarConst(n.Input(1))
	if !ok || c <= 0 {
		return actParams{}, false
	}
	p, ok := q.dqParam[n.Input(0)] // already rewired to its DQ
	if !ok || p.t != t {
		return actParams{}, false
	}
	s := float32(float64(p.scale) / c)
	if s == 0 || math.IsInf(float64(s), 0) {
		return actParams{}, false
	}
	return actParams{s, p.zp, t}, true
}

func (q *quantizer) addQDQ(g *graph.Graph, v *graph.Value, p actParams) (*graph.Value, error) {
	t, scale, zp := p.t, p.scale, p.zp
	key := actInitKey{g, p}
	sv, zv := q.actInits[key][0], q.actInits[key][1]
	if sv == nil {
		var err error
		i := q.gen("s")
		if sv, err = q.addInit(g, fmt.Sprintf("s%d", i), graph.Float32, nil, f32Bytes([]float32{scale})); err != nil {
			return nil, err
		}
		if zv, err = q.addInit(g, fmt.Sprintf("z%d", i), dtypeOf(t), nil, intBytes([]int32{zp}, t)); err != nil {
			return nil, err
		}
		q.actInits[key] = [2]*graph.Value{sv, zv}
	}
	pos := q.front[g]
	if v.Producer != nil {
		pos = slices.Index(g.Nodes, v.Producer) + 1
	}
	i := q.gen("q")
	domain := q.qdqDomain(t)
	qn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("Q%d", i)), OpType: "QuantizeLinear", Domain: domain, Inputs: []*graph.Value{v, sv, zv}}
	if err := g.InsertNode(pos, qn, q.uniq(g, fmt.Sprintf("q%d", i))); err != nil {
		return nil, err
	}
	dn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("DQ%d", i)), OpType: "DequantizeLinear", Domain: domain, Inputs: []*graph.Value{qn.Outputs[0], sv, zv}}
	if err := g.InsertNode(pos+1, dn, q.uniq(g, fmt.Sprintf("dq%d", i))); err != nil {
		return nil, err
	}
	if v.Producer == nil {
		q.front[g] += 2
	}
	qn.Outputs[0].DType, qn.Outputs[0].Shape = dtypeOf(t), v.Shape
	dn.Outputs[0].DType, dn.Outputs[0].Shape = graph.Float32, v.Shape
	q.dqOf[v], q.qNode[v] = dn.Outputs[0], qn
	q.dqParam[dn.Outputs[0]] = p
	return dn.Outputs[0], nil
}

func (q *quantizer) addInit(g *graph.Graph, base string, dt graph.DType, dims []int64, raw []byte) (*graph.Value, error) {
	t, err := graph.NewTensor(q.uniq(g, base), dt, dims, raw)
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t)
}

// weightUse is one read of a constant float input as a weight.
type weightUse struct {
	node *graph.Node
	slot int
	key  weightKey
}

// weightAxis returns the per-channel axis of n's weight w (-1: per
// tensor) and the block size.
func (q *quantizer) weightAxis(n *graph.Node, r *Rule, w *graph.Value) (axis, block int) {
	rank := len(w.Const.Dims)
	if q.opts.BlockSize > 0 && r.ReduceAxis >= 0 && rank == 2 {
		ax := 0 // MatMul [K,N] and Gemm B [K,N]
		if r.Axis == AxisGemmB && n.AttrInt("transB", 0) != 0 {
			ax = 1
		}
		return ax, q.opts.BlockSize
	}
	return q.channelAxis(n, r, w), 0
}

// channelAxis returns the per-channel axis of n's weight w (-1: per
// tensor).
func (q *quantizer) channelAxis(n *graph.Node, r *Rule, w *graph.Value) int {
	rank := len(w.Const.Dims)
	if !q.opts.PerChannel || rank < 1 {
		return -1
	}
	switch r.Axis {
	case AxisGemmB:
		if n.AttrInt("transB", 0) != 0 {
			return 0
		}
		return 1
	case AxisLast:
		// One scale per column of a 2-D B only: ONNX Runtime fuses the
		// unit into a QLinearMatMul, which takes a 1-D scale for an N-D B
		// (per-head weights [H, K, N]) as an error when the session is
		// created.
		if rank != 2 {
			return -1
		}
		return rank - 1
	}
	if r.WeightAxis >= rank {
		return -1
	}
	return r.WeightAxis
}

// quantizeWeights stores the weights (and biases) of g's quantized nodes
// as integers read through DequantizeLinear.
func (q *quantizer) quantizeWeights(g *graph.Graph) error {
	var uses []weightUse
	for _, n := range g.Nodes {
		inf := q.info[n]
		if inf == nil || !inf.enabled || !q.isActive(n) {
			continue // inserted by this pass, or FP32
		}
		r := inf.rule
		switch r.Class {
		case ClassWeighted:
			if w := n.Input(r.Weight); isFloatConst(w) && !q.keptFloat(w) {
				axis, block := q.weightAxis(n, r, w)
				if q.opts.Overrides[w.Name].PerTensor {
					q.overrideUsed[w.Name] = true
					axis, block = -1, 0
				}
				uses = append(uses, weightUse{n, r.Weight, weightKey{v: w, axis: axis, block: block}})
			}
		case ClassQuantIO:
			for i, in := range n.Inputs {
				if isFloatConst(in) && r.activationSlot(i) && !q.keptFloat(in) {
					uses = append(uses, weightUse{n, i, weightKey{in, -1, 0, q.actType(n.Outputs[0])}})
				}
			}
		}
	}
	active := len(uses)
	uses = append(uses, q.weightOnlyUses(g)...)
	for i, u := range uses {
		wq, err := q.weight(u.key, uses)
		if err != nil {
			return err
		}
		if wq == nil {
			continue
		}
		u.node.SetInput(u.slot, wq.dq)
		if i >= active {
			q.report.WeightOnly = append(q.report.WeightOnly, fmt.Sprintf("%s (%s): %s", u.node.Name, u.node.OpType, u.key.v.Name))
		}
	}
	for _, u := range uses[:active] {
		if r := q.info[u.node].rule; r.Class == ClassWeighted && r.Bias >= 0 {
			if err := q.bias(u.node, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// keptFloat tells whether an fp32 override keeps weight w float, and
// records that the override counted.
func (q *quantizer) keptFloat(w *graph.Value) bool {
	if q.opts.Overrides[w.Name].FP32 {
		q.overrideUsed[w.Name] = true
		return true
	}
	return false
}

// noteGroupOverrides records the range and bits overrides of activations
// that got a Q/DQ: on the value itself or on a value sharing its grid.
func (q *quantizer) noteGroupOverrides() {
	for v := range q.parent {
		if q.quantizedRoots[q.find(v)] {
			q.overrideUsed[v.Name] = true
		}
	}
}

// unusedOverrides lists, sorted, the overrides nothing used.
func (q *quantizer) unusedOverrides() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(q.opts.Overrides)) {
		if !q.overrideUsed[name] {
			out = append(out, name)
		}
	}
	return out
}

// weightOnlyMinElems is the smallest weight QuantOptions.WeightOnly
// stores as integers: below it the DequantizeLinear node and the scales
// cost about what the int8 storage saves.
const weightOnlyMinElems = 1024

// weightOnlyUses lists the weights of g's FP32 nodes that
// QuantOptions.WeightOnly stores as integers: the WeightOnly slots of
// their rule. Nodes excluded by pattern and weights with an FP32 override
// stay float.
func (q *quantizer) weightOnlyUses(g *graph.Graph) []weightUse {
	if !q.opts.WeightOnly {
		return nil
	}
	var uses []weightUse
	for _, n := range g.Nodes {
		inf := q.info[n]
		if inf == nil || inf.rule == nil || inf.excluded || inf.enabled {
			continue
		}
		r := inf.rule
		for _, i := range r.WeightOnly {
			w := n.Input(i)
			if !isFloatConst(w) || w.Const.NumElements() < weightOnlyMinElems || q.keptFloat(w) {
				continue
			}
			axis := r.WeightOnlyAxis
			if q.opts.Overrides[w.Name].PerTensor {
				q.overrideUsed[w.Name] = true
				axis = -1
			}
			if !q.opts.PerChannel || axis >= len(w.Const.Dims) {
				axis = -1
			}
			uses = append(uses, weightUse{n, i, weightKey{v: w, axis: axis}})
		}
	}
	return uses
}

func isFloatConst(v *graph.Value) bool {
	return v != nil && v.Const != nil && v.DType == graph.Float32
}

// weight quantizes one initializer for one key, once. The initializer is
// replaced in place when every reader reads it with this key; otherwise a
// new integer initializer is added and the float one stays for the others.
func (q *quantizer) weight(k weightKey, uses []weightUse) (*weightQ, error) {
	if wq, ok := q.weights[k]; ok {
		return wq, nil
	}
	w := k.v
	g := w.Graph
	data, err := w.Const.Float32s()
	if err != nil {
		return nil, fmt.Errorf("weight %s: %v", w.Name, err)
	}
	shape := make([]int, len(w.Const.Dims))
	for i, d := range w.Const.Dims {
		shape[i] = int(d)
	}
	opts, t := q.weightOptions(), q.opts.WeightType
	if k.operand != 0 {
		opts, t = q.actOptions(k.operand), k.operand
	}
	p, err := qdq.WeightParams(data, shape, k.axis, k.block, opts)
	if err != nil {
		return nil, fmt.Errorf("weight %s: %v", w.Name, err)
	}
	if k.operand == 0 {
		q.widenForBiases(p, k, uses)
	}
	// A NaN weight is stored as 0, as its range took it: QuantizeLinear
	// would make it the type's minimum, outside a restricted range.
	if slices.ContainsFunc(data, func(x float32) bool { return x != x }) {
		data = slices.Clone(data)
		for i, x := range data {
			if x != x {
				data[i] = 0
			}
		}
	}
	qv, err := qdq.Quantize(data, shape, p)
	if err != nil {
		return nil, fmt.Errorf("weight %s: %v", w.Name, err)
	}
	sshape, err := p.ScaleShape(shape)
	if err != nil {
		return nil, fmt.Errorf("weight %s: %v", w.Name, err)
	}
	raw := intBytes(qv, t)
	inPlace := !slices.Contains(g.Outputs, w)
	readers := 0
	for _, c := range w.Consumers {
		for i, in := range c.Inputs {
			if in != w {
				continue
			}
			readers++
			if !slices.ContainsFunc(uses, func(u weightUse) bool { return u.node == c && u.slot == i && u.key == k }) {
				inPlace = false
			}
		}
	}
	var iv *graph.Value
	wi := q.gen("w")
	if inPlace && readers > 0 {
		nt, err := graph.NewTensor(w.Name, dtypeOf(t), w.Const.Dims, raw)
		if err != nil {
			return nil, err
		}
		if err := g.SetConst(w, nt); err != nil {
			return nil, err
		}
		iv = w
	} else if iv, err = q.addInit(g, fmt.Sprintf("wi%d", wi), dtypeOf(t), w.Const.Dims, raw); err != nil {
		return nil, err
	}
	dims := make([]int64, len(sshape))
	for i, d := range sshape {
		dims[i] = int64(d)
	}
	sv, err := q.addInit(g, fmt.Sprintf("ws%d", wi), graph.Float32, dims, f32Bytes(p.Scale))
	if err != nil {
		return nil, err
	}
	dn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("DW%d", wi)), OpType: "DequantizeLinear", Inputs: []*graph.Value{iv, sv}}
	// zero points all 0 (symmetric weights) are the default of an omitted
	// input; the output stays float32, the scale's type. A Gemm's weight
	// states them all the same: ONNX Runtime fuses a Gemm unit into QGemm
	// only when its weight's DequantizeLinear has a zero-point input (it
	// ran such Gemms in float, dequantizing the weight on every run).
	gemm := slices.ContainsFunc(uses, func(u weightUse) bool { return u.key == k && u.node.OpType == "Gemm" })
	if gemm || slices.ContainsFunc(p.ZeroPoint, func(z int32) bool { return z != 0 }) {
		zv, err := q.addInit(g, fmt.Sprintf("wz%d", wi), dtypeOf(t), dims, intBytes(p.ZeroPoint, t))
		if err != nil {
			return nil, err
		}
		dn.Inputs = append(dn.Inputs, zv)
	}
	if len(sshape) > 0 {
		dn.Attrs = append(dn.Attrs, graph.IntAttr("axis", int64(k.axis)))
	}
	if k.block > 0 {
		dn.Attrs = append(dn.Attrs, graph.IntAttr("block_size", int64(k.block)))
	}
	if err := g.InsertNode(q.front[g], dn, q.uniq(g, fmt.Sprintf("dw%d", wi))); err != nil {
		return nil, err
	}
	q.front[g]++
	dn.Outputs[0].DType, dn.Outputs[0].Shape = graph.Float32, graph.Fixed(iv.Const.Dims...)
	wq := &weightQ{dq: dn.Outputs[0], params: p}
	q.weights[k] = wq
	q.weightOf[wq.dq] = wq
	q.report.WeightsQuantized++
	return wq, nil
}

// biasHeadroom is the largest |bias|/(s_in·s_w) widenForBiases lets a
// weight scale give: half the int32 range, the rest left for bias
// correction's moves.
const biasHeadroom = 1 << 30

// widenForBiases raises the scales of p, the parameters of weight key k,
// where a bias read with it (by a use in uses, on a quantized input) would
// not fit int32 at scale s_in·s_w: a channel of near-zero weights (pruned,
// or dead) gets a scale near the smallest the range guard allows, and its
// bias, far larger, would overflow. The wider scale costs that channel
// nothing its bias does not swamp. A bias left float instead would keep the
// unit from fusing, and ONNX Runtime's optimizer would quantize it itself
// at s_in·s_w, overflowing (a Conv with one zero channel read 20.7 dB
// there against 42.0 in onnxq's runtime).
func (q *quantizer) widenForBiases(p qdq.Params, k weightKey, uses []weightUse) {
	if k.block > 0 {
		return
	}
	for _, u := range uses {
		inf := q.info[u.node]
		if u.key != k || inf == nil || inf.rule == nil || inf.rule.Class != ClassWeighted || inf.rule.Bias < 0 {
			continue
		}
		b := u.node.Input(inf.rule.Bias)
		act, ok := q.dqParam[u.node.Input(0)]
		if !isFloatConst(b) || !ok || act.scale <= 0 {
			continue
		}
		data, err := b.Const.Float32s()
		if err != nil || len(p.Scale) != 1 && len(p.Scale) != len(data) {
			continue
		}
		for c, v := range data {
			need := float32(math.Abs(float64(v)) / (float64(act.scale) * biasHeadroom))
			i := 0
			if len(p.Scale) > 1 {
				i = c
			}
			if need > p.Scale[i] && !math.IsInf(float64(need), 0) {
				p.Scale[i] = need
			}
		}
	}
}

// bias stores a Conv/Gemm bias as int32 with scale s_in·s_w when the
// activation and the weight of n are quantized. A bias that would
// overflow int32 stays float.
func (q *quantizer) bias(n *graph.Node, r *Rule) error {
	b := n.Input(r.Bias)
	if !isFloatConst(b) {
		return nil
	}
	dims1 := b.Const.Dims
	// A Gemm's C of shape [1, N] broadcasts as [N] does: it becomes the
	// 1-D int32 bias of an integer unit.
	if n.OpType == "Gemm" && len(dims1) == 2 && dims1[0] == 1 {
		dims1 = dims1[1:]
	}
	if len(dims1) != 1 {
		return nil
	}
	act, ok := q.dqParam[n.Input(0)]
	if !ok {
		return nil
	}
	wq := q.weightOf[n.Input(r.Weight)]
	if wq == nil || wq.params.BlockSize > 0 {
		return nil
	}
	data, err := b.Const.Float32s()
	if err != nil {
		return fmt.Errorf("bias %s: %v", b.Name, err)
	}
	if len(wq.params.Scale) != 1 && len(wq.params.Scale) != len(data) {
		return nil
	}
	qv, scales, clipped := qdq.QuantizeBias(data, act.scale, wq.params.Scale)
	if clipped != 0 {
		q.ctx.Logf("quantize: bias %s of %s would overflow int32 (%d values); left in FP32", b.Name, n.Name, clipped)
		return nil
	}
	g := b.Graph
	raw := intBytes32(qv)
	var iv *graph.Value
	bi := q.gen("b")
	if len(b.Consumers) == 1 && countUses(n, b) == 1 && !slices.Contains(g.Outputs, b) {
		nt, err := graph.NewTensor(b.Name, graph.Int32, dims1, raw)
		if err != nil {
			return err
		}
		if err := g.SetConst(b, nt); err != nil {
			return err
		}
		iv = b
	} else if iv, err = q.addInit(g, fmt.Sprintf("bi%d", bi), graph.Int32, dims1, raw); err != nil {
		return err
	}
	var dims []int64
	if len(scales) > 1 {
		dims = []int64{int64(len(scales))}
	}
	sv, err := q.addInit(g, fmt.Sprintf("bs%d", bi), graph.Float32, dims, f32Bytes(scales))
	if err != nil {
		return err
	}
	dn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("DB%d", bi)), OpType: "DequantizeLinear", Inputs: []*graph.Value{iv, sv}}
	if len(scales) > 1 {
		dn.Attrs = append(dn.Attrs, graph.IntAttr("axis", 0))
	}
	if err := g.InsertNode(q.front[g], dn, q.uniq(g, fmt.Sprintf("db%d", bi))); err != nil {
		return err
	}
	q.front[g]++
	dn.Outputs[0].DType, dn.Outputs[0].Shape = graph.Float32, graph.Fixed(iv.Const.Dims...)
	n.SetInput(r.Bias, dn.Outputs[0])
	q.report.BiasesQuantized++
	return nil
}

func countUses(n *graph.Node, v *graph.Value) int {
	c := 0
	for _, in := range n.Inputs {
		if in == v {
			c++
		}
	}
	return c
}

// foldActivations removes Relu/Clip nodes whose clipping the following
// QuantizeLinear already does by saturation: the producer's output then
// goes straight into that Q.
func (q *quantizer) foldActivations(g *graph.Graph) error {
	if !q.opts.FoldActivations {
		return nil
	}
	for _, f := range slices.Clone(g.Nodes) {
		inf := q.info[f]
		if inf == nil || !inf.enabled || inf.rule.Class != ClassFold || len(f.Outputs) != 1 {
			continue
		}
		y, r := f.Input(0), f.Outputs[0]
		qn := q.qNode[r]
		if y == nil || r == nil || qn == nil || y.Producer == nil || y.Graph != g {
			continue
		}
		pinf := q.info[y.Producer]
		if pinf == nil || !pinf.enabled || !q.isActive(y.Producer) ||
			(pinf.rule.Class != ClassWeighted && pinf.rule.Class != ClassQuantIO) {
			continue
		}
		// a Shape or Size beside them reads the DequantizeLinear instead
		if otherReaders(y, f) || otherReaders(r, qn) || slices.Contains(g.Outputs, y) || slices.Contains(g.Outputs, r) {
			continue
		}
		lo, hi, ok := q.clipBounds(f)
		if !ok {
			continue
		}
		p := q.dqParam[q.dqOf[r]]
		t := p.t
		repLo := float64(t.Min()-p.zp) * float64(p.scale)
		repHi := float64(t.Max()-p.zp) * float64(p.scale)
		// values within half a step of a bound round to the same code
		if half := float64(p.scale) / 2; repLo < lo-half || repHi > hi+half {
			continue
		}
		qn.SetInput(0, y)
		if dq := q.dqOf[r]; dq != nil {
			g.ReplaceUses(r, dq)
		}
		if err := g.RemoveNode(f); err != nil {
			return err
		}
		q.report.ActivationsFolded++
	}
	return nil
}

// clipLikeRules are the rows of Max and Min against a constant scalar:
// a clip at one bound, folded like Clip rather than sharing a range with
// their input (whose range the clip would otherwise widen again).
var clipLikeRules = map[string]*Rule{
	"Max": {Op: "Max", Class: ClassFold, Weight: -1, Bias: -1, ReduceAxis: -1},
	"Min": {Op: "Min", Class: ClassFold, Weight: -1, Bias: -1, ReduceAxis: -1},
}

// boundRule reports whether n is Max or Min of an activation (input 0)
// and a constant scalar (input 1).
func boundRule(n *graph.Node) bool {
	if n.OpType != "Max" && n.OpType != "Min" || len(n.Inputs) != 2 || !isFloat(n.Inputs[0]) {
		return false
	}
	_, ok := scalarConst(n.Inputs[1])
	return ok
}

// scalarConst returns the value of a float scalar constant: an
// initializer, or the output of a Constant node (models not yet prepared,
// as compare reads FLOAT).
func scalarConst(v *graph.Value) (float64, bool) {
	if v == nil {
		return 0, false
	}
	c := v.Const
	if c == nil && v.Producer != nil && v.Producer.OpType == "Constant" && (v.Producer.Domain == "" || v.Producer.Domain == "ai.onnx") && len(v.Producer.Outputs) == 1 {
		c, _ = constantTensor(v.Producer)
	}
	if c == nil || c.DType != graph.Float32 {
		return 0, false
	}
	d, err := c.Float32s()
	if err != nil || len(d) != 1 {
		return 0, false
	}
	return float64(d[0]), true
}

// clipBounds returns the clipping interval of a Relu, Clip, or Max/Min
// against a constant.
func (q *quantizer) clipBounds(f *graph.Node) (lo, hi float64, ok bool) {
	switch f.OpType {
	case "Relu":
		return 0, math.Inf(1), true
	case "Max", "Min":
		c, ok := scalarConst(f.Input(1))
		if !ok {
			return 0, 0, false
		}
		if f.OpType == "Max" {
			return c, math.Inf(1), true
		}
		return math.Inf(-1), c, true
	}
	opset, _ := q.m.Opset("")
	return clipLimits(f, opset)
}

// clipLimits returns a Clip's bounds: attributes before opset 11, constant
// scalar inputs from it (an absent one bounds nothing).
func clipLimits(c *graph.Node, opset int64) (lo, hi float64, ok bool) {
	if opset < 11 {
		return float64(c.AttrFloat("min", -math.MaxFloat32)), float64(c.AttrFloat("max", math.MaxFloat32)), true
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	for i, dst := range []*float64{&lo, &hi} {
		v := c.Input(i + 1)
		if v == nil {
			continue
		}
		k, ok := scalarConst(v)
		if !ok {
			return 0, 0, false
		}
		*dst = k
	}
	return lo, hi, true
}

// summarize fills the per-op counts and the FP32 list.
func (q *quantizer) summarize() {
	if q.report.Wide > 0 || q.report.WideByConfig > 0 {
		q.report.WideType = q.opts.wideType()
		q.report.WideDomain = q.qdqDomain(q.report.WideType)
	}
	for _, g := range q.graphs {
		for _, n := range g.Nodes {
			inf := q.info[n]
			if inf == nil {
				continue // inserted by this pass
			}
			if inf.enabled {
				active := q.isActive(n) || inf.rule.Class == ClassFold && q.qNode[n.Outputs[0]] != nil
				if active {
					q.report.OpCounts[n.OpType]++
				} else if inf.rule.DefaultFP32 {
					// --include-op asked for it, and nothing came of it:
					// say so rather than drop it from both lists
					q.listFP32(n, reasonIncludedIdle)
				} else if (inf.rule.Class != ClassShare || interpolates(n)) && readsFloat(n) {
					// arithmetic between float ops: in neither list, the
					// summary would not show it computes in float
					q.listFP32(n, cmp.Or(inf.floatReason, reasonBetweenFloat))
				}
				continue
			}
			if !readsFloat(n) || n.OpType == "Shape" || n.OpType == "Size" {
				continue // no float arithmetic: reads only a shape
			}
			q.listFP32(n, inf.reason)
		}
	}
	for n, inf := range q.info {
		// folded activations are no longer in the graph
		if inf.enabled && inf.rule.Class == ClassFold && n.Graph == nil {
			q.report.OpCounts[n.OpType]++
		}
	}
}

// listFP32 adds n to the report's FP32 list, named by its first output
// present too.
func (q *quantizer) listFP32(n *graph.Node, reason string) {
	e := FP32Node{Node: n.Name, Op: n.OpType, Reason: reason}
	if i := slices.IndexFunc(n.Outputs, func(o *graph.Value) bool { return o != nil }); i >= 0 {
		e.Output = n.Outputs[i].Name
	}
	q.report.FP32 = append(q.report.FP32, e)
}

// interpolates reports whether a data-movement op computes new values
// (a Resize other than nearest): float, it does arithmetic.
func interpolates(n *graph.Node) bool {
	return n.OpType == "Resize" && n.AttrString("mode", "nearest") != "nearest"
}

func readsFloat(n *graph.Node) bool {
	for _, in := range n.Inputs {
		if isFloat(in) {
			return true
		}
	}
	return readsFloat64(n)
}

// readsFloat64 reports whether n reads a float64 value or constant:
// onnxq's ranges and integer biases are float32's, so such a node stays
// as it is.
func readsFloat64(n *graph.Node) bool {
	for _, in := range n.Inputs {
		if in != nil && in.DType == graph.Float64 {
			return true
		}
	}
	return false
}

func dtypeOf(t qdq.Type) graph.DType {
	switch t {
	case qdq.Int8:
		return graph.Int8
	case qdq.Uint8:
		return graph.Uint8
	case qdq.Int16:
		return graph.Int16
	case qdq.Uint16:
		return graph.Uint16
	case qdq.Int4:
		return graph.Int4
	case qdq.Uint4:
		return graph.Uint4
	}
	return graph.Undefined
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func intBytes32(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

// intBytes packs quantized values in the raw layout of type t.
func intBytes(v []int32, t qdq.Type) []byte {
	switch t.Bits() {
	case 4:
		return qdq.PackInt4(v)
	case 16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
		}
		return b
	}
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// layerNormNodes finds decomposed layer normalizations
// ((x-mean)/Sqrt(var+eps), then ·gamma and +beta) so that their Div, Sub
// and affine Mul/Add stay FP32 with the reductions around them.
func layerNormNodes(g *graph.Graph) map[*graph.Node]bool {
	set := map[*graph.Node]bool{}
	for _, d := range g.Nodes {
		if d.OpType != "Div" || d.Domain != "" {
			continue
		}
		den := d.Input(1)
		if den == nil || den.Producer == nil || den.Producer.OpType != "Sqrt" {
			continue
		}
		set[d] = true
		if num := d.Input(0); num != nil && num.Producer != nil && num.Producer.OpType == "Sub" {
			set[num.Producer] = true
		}
		cur := d.Outputs[0]
		for _, op := range []string{"Mul", "Add"} {
			if cur == nil || len(cur.Consumers) != 1 {
				break
			}
			c := cur.Consumers[0]
			if c.OpType != op || !slices.ContainsFunc(c.Inputs, isFloatConst) {
				break
			}
			set[c] = true
			cur = c.Outputs[0]
		}
	}
	return set
}

// reasonLayerNorm is the FP32 reason of every op of a decomposed layer
// normalization.
const reasonLayerNorm = "part of a layer-normalization pattern: " + reasonNorm

// layerNormParts are the ops that compute the statistics of the layer
// norms core holds (layerNormNodes): the Sqrt of the denominator, the
// Add of its epsilon, the ReduceMeans of the mean and the variance and
// the Pow or Mul that squares. They stay float by their own rules; only
// the reason the summary gives them changes.
func layerNormParts(core map[*graph.Node]bool) map[*graph.Node]bool {
	parts := map[*graph.Node]bool{}
	producer := func(n *graph.Node, i int, ops ...string) *graph.Node {
		if v := n.Input(i); v != nil && v.Producer != nil && slices.Contains(ops, v.Producer.OpType) {
			return v.Producer
		}
		return nil
	}
	for d := range core {
		if d.OpType == "Sub" {
			if mean := producer(d, 1, "ReduceMean"); mean != nil {
				parts[mean] = true
			}
			continue
		}
		if d.OpType != "Div" {
			continue
		}
		sqrt := producer(d, 1, "Sqrt")
		if sqrt == nil {
			continue
		}
		parts[sqrt] = true
		variance := producer(sqrt, 0, "ReduceMean", "Add")
		if variance != nil && variance.OpType == "Add" {
			parts[variance] = true
			variance = producer(variance, 0, "ReduceMean")
		}
		if variance == nil {
			continue
		}
		parts[variance] = true
		if sq := producer(variance, 0, "Pow", "Mul"); sq != nil {
			parts[sq] = true
		}
	}
	return parts
}

// opsetChanges lists ops of the default domain whose inputs or meaning
// changed at a version, with how the pass rewrites an older node.
// opsetRewrite rewrites node n, written for opset from, into the form of
// opset to; addConst adds a constant to n's graph.
type opsetRewrite func(n *graph.Node, from, to int64, addConst func(base string, t *graph.Tensor) (*graph.Value, error)) error

var opsetChanges = []struct {
	op      string
	version int64
	rewrite opsetRewrite
}{
	{"Add", 7, rewriteLegacyBroadcast}, {"Sub", 7, rewriteLegacyBroadcast},
	{"Mul", 7, rewriteLegacyBroadcast}, {"Div", 7, rewriteLegacyBroadcast},
	{"Pow", 7, rewriteLegacyBroadcast}, {"And", 7, rewriteLegacyBroadcast},
	{"Or", 7, rewriteLegacyBroadcast}, {"Xor", 7, rewriteLegacyBroadcast},
	{"Equal", 7, rewriteLegacyBroadcast}, {"Greater", 7, rewriteLegacyBroadcast},
	{"Less", 7, rewriteLegacyBroadcast},
	{"Gemm", 7, dropAttrs("broadcast")},
	{"PRelu", 7, rewriteLegacyPRelu},
	{"Clip", 11, rewriteClip},
	{"Slice", 10, rewriteAttrsToInputs("starts", "ends", "axes")},
	{"Squeeze", 13, rewriteAttrsToInputs("axes")},
	{"Unsqueeze", 13, rewriteAttrsToInputs("axes")},
	{"ReduceSum", 13, rewriteAttrsToInputs("axes")},
	{"Split", 13, rewriteAttrsToInputs("split")},
	{"Split", 18, rewriteSplitNumOutputs},
	{"Pad", 11, rewritePad},
	{"Softmax", 13, rewriteSoftmax},
	{"LogSoftmax", 13, rewriteSoftmax},
	{"Hardmax", 13, rewriteSoftmax},
	{"Dropout", 12, dropAttrs("ratio", "is_test")},
	{"BatchNormalization", 9, dropAttrs("spatial", "is_test")},
	{"ReduceMean", 18, rewriteAttrsToInputs("axes")}, {"ReduceMax", 18, rewriteAttrsToInputs("axes")},
	{"ReduceMin", 18, rewriteAttrsToInputs("axes")}, {"ReduceProd", 18, rewriteAttrsToInputs("axes")},
	{"ReduceL1", 18, rewriteAttrsToInputs("axes")}, {"ReduceL2", 18, rewriteAttrsToInputs("axes")},
	{"ReduceLogSum", 18, rewriteAttrsToInputs("axes")}, {"ReduceLogSumExp", 18, rewriteAttrsToInputs("axes")},
	{"ReduceSumSquare", 18, rewriteAttrsToInputs("axes")},
	{"GroupNormalization", 21, rewriteGroupNormScale},
	{"GridSample", 20, rewriteGridSampleMode},
	{"DFT", 20, nil},
	{"Resize", 11, rewriteToResize11},
	{"Upsample", 10, rewriteUpsample},
	{"TopK", 10, rewriteAttrsToInputs("k")},
	{"Scan", 9, nil},
}

// upgradeOpset raises the default-domain opset of m from from to to,
// rewriting the nodes of ops whose form changed in between; an op it
// cannot rewrite is an error, and m is then left unchanged.
func upgradeOpset(m *graph.Model, from, to int64, uniq func(*graph.Graph, string) string) error {
	type job struct {
		n       *graph.Node
		rewrite opsetRewrite
	}
	var jobs []job
	var err error
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if err != nil || n.Domain != "" && n.Domain != "ai.onnx" {
				continue
			}
			for _, c := range opsetChanges {
				if c.op != n.OpType || from >= c.version || to < c.version {
					continue
				}
				if c.rewrite == nil {
					err = fmt.Errorf("cannot raise the opset from %d to %d: node %q (%s) changed form at opset %d", from, to, n.Name, n.OpType, c.version)
					return
				}
				if c.version == 7 {
					if why := legacyBroadcastFits(n); why != "" {
						err = fmt.Errorf("cannot raise the opset from %d to %d: %s %q %s", from, to, n.OpType, n.Name, why)
						return
					}
				}
				jobs = append(jobs, job{n, c.rewrite})
			}
		}
	})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		g := j.n.Graph
		add := func(base string, t *graph.Tensor) (*graph.Value, error) {
			t.Name = uniq(g, base)
			return g.AddInitializer(t)
		}
		if err := j.rewrite(j.n, from, to, add); err != nil {
			return fmt.Errorf("raising the opset of node %q (%s): %v", j.n.Name, j.n.OpType, err)
		}
	}
	for i := range m.OpsetImports {
		if d := m.OpsetImports[i].Domain; d == "" || d == "ai.onnx" {
			m.OpsetImports[i].Version = to
		}
	}
	ir := int64(7) // opset 13
	if to >= 21 {
		ir = 10
	} else if to >= 19 {
		ir = 9
	} else if to >= 15 {
		ir = 8
	}
	if m.IRVersion < 4 && ir >= 4 {
		// Before IR 4 every initializer is listed as an input; from 4 such
		// an input is a default the caller may override, which would
		// make the int8 weights and the scales overridable, and not
		// constants a runtime can fold into integer kernels.
		dropInitializerInputs(m.Graph)
	}
	m.IRVersion = max(m.IRVersion, ir)
	return nil
}

func removeAttr(n *graph.Node, name string) *graph.Attribute {
	for i, a := range n.Attrs {
		if a.Name == name {
			n.Attrs = slices.Delete(n.Attrs, i, i+1)
			return a
		}
	}
	return nil
}

func dropAttrs(names ...string) opsetRewrite {
	return func(n *graph.Node, _, _ int64, _ func(string, *graph.Tensor) (*graph.Value, error)) error {
		for _, name := range names {
			removeAttr(n, name)
		}
		return nil
	}
}

// rewriteSplitNumOutputs gives a Split without a split input the
// num_outputs attribute opset 18 requires in its place: earlier opsets
// split such a node into equal parts, one per output, which is what
// num_outputs says when the axis divides evenly (it had to before).
func rewriteSplitNumOutputs(n *graph.Node, _, _ int64, _ func(string, *graph.Tensor) (*graph.Value, error)) error {
	if n.Input(1) != nil || n.Attr("num_outputs") != nil {
		return nil
	}
	n.SetAttr(graph.IntAttr("num_outputs", int64(len(n.Outputs))))
	return nil
}

// rewriteAttrsToInputs moves int-list attributes to int64 inputs 1, 2, …
// in the given order (a single int, as TopK's k, to a one-element one);
// an absent attribute becomes an omitted input.
func rewriteAttrsToInputs(names ...string) opsetRewrite {
	return func(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
		for i, name := range names {
			a := removeAttr(n, name)
			if a == nil {
				continue
			}
			ints := a.Ints
			if a.Type == graph.AttrInt {
				ints = []int64{a.Int}
			}
			t, err := graph.FromInt64s("", []int64{int64(len(ints))}, ints)
			if err != nil {
				return err
			}
			v, err := add(n.Name+"_"+name, t)
			if err != nil {
				return err
			}
			n.SetInput(1+i, v)
		}
		return nil
	}
}

// legacyTrailing returns how many trailing 1-dimensions the second
// operand of an opset < 7 node needs to broadcast as it did then: a binary
// op with broadcast=1 and an axis aligns it with the first operand from
// that axis, a PRelu takes a 1-D slope of C values per channel (axis 1).
// ok is false when that cannot be told (an unknown rank).
func legacyTrailing(n *graph.Node) (pad int, ok bool) {
	a, b := n.Input(0), n.Input(1)
	if a == nil || b == nil {
		return 0, true
	}
	if n.OpType == "PRelu" {
		if len(b.Shape) != 1 || !b.Shape[0].Known() || b.Shape[0].Size == 1 {
			return 0, b.Shape != nil
		}
		if len(a.Shape) < 2 {
			return 0, a.Shape != nil
		}
		if len(a.Shape) == 2 || !a.Shape[1].Known() || a.Shape[1].Size != b.Shape[0].Size {
			return 0, a.Shape[1].Known()
		}
		return len(a.Shape) - 2, true
	}
	if n.AttrInt("broadcast", 0) == 0 || n.Attr("axis") == nil {
		return 0, true
	}
	if a.Shape == nil || b.Shape == nil {
		return 0, false
	}
	axis := int(n.AttrInt("axis", 0))
	if axis < 0 {
		axis += len(a.Shape)
	}
	pad = len(a.Shape) - axis - len(b.Shape)
	return pad, axis >= 0 && pad >= 0
}

// legacyBroadcastFits says why an opset < 7 node cannot be rewritten for
// opset 7's broadcasting ("" when it can): its second operand must be a
// constant when it needs reshaping.
func legacyBroadcastFits(n *graph.Node) string {
	if n.OpType == "Gemm" {
		return ""
	}
	pad, ok := legacyTrailing(n)
	switch {
	case !ok:
		return "broadcasts by the rules before opset 7 over operands of unknown rank"
	case pad > 0 && (n.Input(1) == nil || n.Input(1).Const == nil):
		return "broadcasts a computed operand by the rules before opset 7"
	}
	return ""
}

// rewriteLegacyBroadcast gives a binary op of opset < 7 the operands that
// broadcast alike under opset 7's rules: the constant second operand
// reshaped with trailing 1-dimensions, the broadcast and axis attributes
// dropped.
func rewriteLegacyBroadcast(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	pad, _ := legacyTrailing(n)
	removeAttr(n, "broadcast")
	removeAttr(n, "axis")
	return padOperand(n, pad, add)
}

// rewriteLegacyPRelu reshapes an opset < 7 PRelu's per-channel slope of C
// values to [C, 1, …] for opset 7's broadcasting.
func rewriteLegacyPRelu(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	pad, _ := legacyTrailing(n)
	return padOperand(n, pad, add)
}

// padOperand replaces n's constant input 1 with a copy of pad more
// trailing 1-dimensions.
func padOperand(n *graph.Node, pad int, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	if pad <= 0 {
		return nil
	}
	b := n.Input(1)
	raw, err := b.Const.Raw()
	if err != nil {
		return err
	}
	dims := slices.Clone(b.Const.Dims)
	for range pad {
		dims = append(dims, 1)
	}
	t, err := graph.NewTensor("", b.Const.DType, dims, raw)
	if err != nil {
		return err
	}
	v, err := add(b.Name+"_broadcast", t)
	if err != nil {
		return err
	}
	n.SetInput(1, v)
	return nil
}

// rewriteGroupNormScale gives a GroupNormalization of opset 18, whose
// scale and bias hold one value per group, the per-channel ones opset 21
// reads: each group's value repeated over its channels. Both must be
// constants and the channel count known.
func rewriteGroupNormScale(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	groups := int(n.AttrInt("num_groups", 0))
	x := n.Input(0)
	if groups <= 0 || x == nil || len(x.Shape) < 2 || !x.Shape[1].Known() {
		return fmt.Errorf("its channel count is unknown: per-group scale and bias cannot become per-channel ones")
	}
	c := int(x.Shape[1].Size)
	if c%groups != 0 {
		return fmt.Errorf("%d channels in %d groups", c, groups)
	}
	for i, name := range []string{"scale", "bias"} {
		v := n.Input(1 + i)
		if v == nil || v.Const == nil {
			return fmt.Errorf("its %s is not a constant: it cannot become per-channel", name)
		}
		vals, err := v.Const.Float32s()
		if err != nil || len(vals) != groups {
			return fmt.Errorf("its %s has %d values for %d groups", name, len(vals), groups)
		}
		per := make([]float32, c)
		for ch := range per {
			per[ch] = vals[ch/(c/groups)]
		}
		t, err := graph.FromFloat32s("", []int64{int64(c)}, per)
		if err != nil {
			return err
		}
		nv, err := add(n.Name+"_"+name, t)
		if err != nil {
			return err
		}
		n.SetInput(1+i, nv)
	}
	return nil
}

// rewriteGridSampleMode renames GridSample's modes as opset 20 spells
// them: bilinear is linear, bicubic cubic.
func rewriteGridSampleMode(n *graph.Node, _, _ int64, _ func(string, *graph.Tensor) (*graph.Value, error)) error {
	switch n.AttrString("mode", "bilinear") {
	case "bilinear":
		n.SetAttr(graph.StringAttr("mode", "linear"))
	case "bicubic":
		n.SetAttr(graph.StringAttr("mode", "cubic"))
	}
	return nil
}

// upsampleScalesInput makes an Upsample-7's scales attribute its second
// input, a constant, as the later forms take them.
func upsampleScalesInput(n *graph.Node, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	a := removeAttr(n, "scales")
	if a == nil {
		return nil
	}
	t, err := graph.FromFloat32s("", []int64{int64(len(a.Floats))}, a.Floats)
	if err != nil {
		return err
	}
	scales, err := add(n.Name+"_scales", t)
	if err != nil {
		return err
	}
	n.SetInput(1, scales)
	return nil
}

// rewriteUpsample writes an Upsample (7, 9) as the Resize of the opset it
// is raised to: Resize-10 below opset 11, Resize-11's form from it.
func rewriteUpsample(n *graph.Node, from, to int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	if to < 11 {
		return rewriteToResize10(n, from, to, add)
	}
	return rewriteToResize11(n, from, to, add)
}

// rewriteToResize10 writes an Upsample (7, 9) as the Resize of opset 10,
// the same op under its new name: inputs X and the scales (Upsample-7's
// attribute made a constant), the mode ("bilinear" is "linear" there).
func rewriteToResize10(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	if err := upsampleScalesInput(n, add); err != nil {
		return err
	}
	if n.Input(0) == nil || n.Input(1) == nil {
		return fmt.Errorf("no scales")
	}
	if n.AttrString("mode", "nearest") == "bilinear" {
		n.SetAttr(graph.StringAttr("mode", "linear"))
	}
	n.OpType = "Resize"
	return nil
}

// rewriteToResize11 writes an Upsample (7, 9) or a Resize-10 as the Resize
// of opset 11 on that computes the same: inputs X, an empty roi and the
// scales (Upsample-7's attribute made a constant); coordinates
// "asymmetric", as those ops map them; nearest rounding "floor" when every
// scale that is not 1 upsamples, "ceil" when every one downsamples, as
// their rule does (ONNX Runtime's); other scales are an error, and so are
// scales only known at run time, except for an Upsample, taken to
// upsample.
func rewriteToResize11(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	if err := upsampleScalesInput(n, add); err != nil {
		return err
	}
	x, scales := n.Input(0), n.Input(1)
	if x == nil || scales == nil {
		return fmt.Errorf("no scales")
	}
	mode := n.AttrString("mode", "nearest")
	if mode == "bilinear" {
		mode = "linear"
	}
	nearest := "floor"
	if mode == "nearest" {
		var vals []float32
		if scales.Const != nil {
			vals, _ = scales.Const.Float32s()
		}
		up, down := false, false
		for _, v := range vals {
			up, down = up || v > 1, down || v < 1
		}
		switch {
		case up && down:
			return fmt.Errorf("scales %v both up- and downsample: no nearest_mode of Resize rounds as this op does", vals)
		case down:
			nearest = "ceil"
		case vals == nil && n.OpType != "Upsample":
			return fmt.Errorf("scales %q are only known at run time: the rounding of nearest resizing depends on them", scales.Name)
		}
	}
	roi, err := graph.FromFloat32s("", []int64{0}, nil)
	if err != nil {
		return err
	}
	r, err := add(n.Name+"_roi", roi)
	if err != nil {
		return err
	}
	n.OpType = "Resize"
	n.SetInput(2, scales)
	n.SetInput(1, r)
	n.SetAttr(graph.StringAttr("mode", mode))
	n.SetAttr(graph.StringAttr("coordinate_transformation_mode", "asymmetric"))
	if mode == "nearest" {
		n.SetAttr(graph.StringAttr("nearest_mode", nearest))
	}
	return nil
}

func rewriteClip(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	for i, name := range []string{"min", "max"} {
		a := removeAttr(n, name)
		if a == nil {
			continue
		}
		t, err := graph.FromFloat32s("", nil, []float32{a.Float})
		if err != nil {
			return err
		}
		v, err := add(n.Name+"_"+name, t)
		if err != nil {
			return err
		}
		n.SetInput(1+i, v)
	}
	return nil
}

func rewritePad(n *graph.Node, _, _ int64, add func(string, *graph.Tensor) (*graph.Value, error)) error {
	pads := removeAttr(n, "pads")
	if pads == nil {
		pads = removeAttr(n, "paddings")
	}
	if pads == nil {
		return fmt.Errorf("no pads")
	}
	t, err := graph.FromInt64s("", []int64{int64(len(pads.Ints))}, pads.Ints)
	if err != nil {
		return err
	}
	v, err := add(n.Name+"_pads", t)
	if err != nil {
		return err
	}
	n.SetInput(1, v)
	if a := removeAttr(n, "value"); a != nil && a.Float != 0 {
		t, err := graph.FromFloat32s("", nil, []float32{a.Float})
		if err != nil {
			return err
		}
		v, err := add(n.Name+"_value", t)
		if err != nil {
			return err
		}
		n.SetInput(2, v)
	}
	return nil
}

// rewriteSoftmax gives a Softmax, LogSoftmax or Hardmax of an opset
// before 13, which coerces its input to 2-D at axis and normalises each
// row, the same meaning at 13: Flatten(axis) → op(axis=1) → Reshape to
// the input's shape. The last-axis case, which 13 could express as is,
// takes this form too: it keeps ONNX Runtime from moving the Transposes
// an exporter put around the op (a channel softmax) onto a non-last
// axis, which its kernel runs several times slower.
func rewriteSoftmax(n *graph.Node, opset, _ int64, _ func(string, *graph.Tensor) (*graph.Value, error)) error {
	g, x, y := n.Graph, n.Input(0), n.Outputs[0]
	if x == nil || y == nil || len(n.Outputs) != 1 {
		return fmt.Errorf("needs one input and one output")
	}
	axis := n.AttrInt("axis", 1)
	if rank := int64(len(x.Shape)); x.Shape != nil && rank == 2 && (axis == 1 || axis == -1) {
		n.SetAttr(graph.IntAttr("axis", 1)) // already 2-D, on its rows
		return nil
	}
	pos := slices.Index(g.Nodes, n)
	if pos < 0 {
		return fmt.Errorf("not in its graph")
	}
	base := y.Name
	named := func(op string) string { return g.UniqueName(base + "_" + op) }
	shape := &graph.Node{OpType: "Shape", Name: named("shape"), Inputs: []*graph.Value{x}}
	flatten := &graph.Node{OpType: "Flatten", Name: named("flatten"), Inputs: []*graph.Value{x}, Attrs: []*graph.Attribute{graph.IntAttr("axis", axis)}}
	for i, m := range []*graph.Node{shape, flatten} {
		if err := g.InsertNode(pos+i, m, g.UniqueName(m.Name)); err != nil {
			return err
		}
	}
	rows := &graph.Node{OpType: n.OpType, Name: n.Name, Domain: n.Domain, Inputs: []*graph.Value{flatten.Outputs[0]}, Attrs: []*graph.Attribute{graph.IntAttr("axis", 1)}}
	reshape := &graph.Node{OpType: "Reshape", Name: named("reshape"), Inputs: nil}
	if err := g.InsertNode(pos+2, rows, g.UniqueName(base+"_rows")); err != nil {
		return err
	}
	reshape.Inputs = []*graph.Value{rows.Outputs[0], shape.Outputs[0]}
	if err := g.InsertNode(pos+3, reshape, g.UniqueName(base+"_shaped")); err != nil {
		return err
	}
	out := reshape.Outputs[0]
	out.DType, out.Shape = y.DType, y.Shape
	if err := graph.InferNodes(opset, shape, flatten, rows, reshape); err != nil {
		return err
	}
	g.ReplaceUses(y, out)
	if err := g.RemoveNode(n); err != nil {
		return err
	}
	return g.Rename(out, base)
}

// NodeMatches tells whether one of the --exclude-node style patterns
// matches n, as QuantOptions.ExcludeNodes does.
func NodeMatches(patterns []string, n *graph.Node) bool { return excludedNode(patterns, n) }

// excludedNode tells whether one of the node patterns matches n: its name,
// or, for a node without a name (common in exported models), the name of
// one of its outputs as the FP32 model has it (before an equalization
// pass renamed it), so that every node can be addressed.
func excludedNode(patterns []string, n *graph.Node) bool {
	if n.Name != "" {
		return matchAny(patterns, n.Name)
	}
	for _, o := range n.Outputs {
		if o != nil && o.Name != "" && (matchAny(patterns, o.Name) || matchAny(patterns, strings.TrimSuffix(o.Name, RescaledSuffix))) {
			return true
		}
	}
	return false
}

// unitOutput tells whether v is the output of a quantized Conv,
// ConvTranspose or MatMul (see macs.BiasAddOnly) that QuantOptions.CompleteUnits
// gives a Q/DQ of its own: not a graph output, read by something, with a
// calibrated range.
func (q *quantizer) unitOutput(v *graph.Value) bool {
	if !q.opts.CompleteUnits || q.opts.OpenUnits[v.Name] {
		return false
	}
	p := v.Producer
	if p == nil || (p.OpType != "Conv" && p.OpType != "ConvTranspose" && !(p.OpType == "MatMul" && macs.BiasAddOnly(v))) ||
		p.Domain != "" && p.Domain != "ai.onnx" || len(p.Outputs) == 0 || p.Outputs[0] != v {
		return false
	}
	inf := q.info[p]
	return inf != nil && inf.enabled && len(v.Consumers) > 0 && !slices.Contains(v.Graph.Outputs, v) && q.hasRange(v)
}
