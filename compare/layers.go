// layers.go holds the attribution: each quantized node of QUANT becomes a
// small session (its input Q/DQ pairs, its weight DequantizeLinear nodes
// and the node itself) that runs on FP32 inputs during the FP32 run.

package compare

import (
	"bytes"
	"fmt"
	"math"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// layer is one quantized node of QUANT, ready to run alone.
type layer struct {
	label, op, exclude string
	sess               *runtime.Session
	inputs             []string // FP32 tensors fed, by FLOAT name
	outputs            []string // FLOAT's tensors the session's outputs (named alike) are compared with
	output             string   // QUANT's name of the node output the figures are about
	node               *graph.Node
	// refs are the FLOAT tensors outputs[i] is compared with: outputs[i]
	// itself, or the output of the clamp that alone reads it (see
	// clampedTwin)
	refs []string
	// dead holds, by refs name, the bounds FLOAT's readers clamp the
	// output to (passes.DeadBounds): both sides are clamped, FLOAT's in a
	// copy; clampOnly the same for a clamp's output, already clamped
	dead, clampOnly map[string]passes.Bounds

	sig, noise float64
	bad        string
}

// buildLayers finds the quantized nodes of quant's main graph (nodes other
// than QuantizeLinear/DequantizeLinear that read a DequantizeLinear output)
// and builds a one-node session for each. The sessions, run one after
// another, share one buffer pool.
func buildLayers(quant *graph.Model, fv map[string]*graph.Value, resc map[string]*rescale, dead map[string]passes.Bounds, threads int, integer bool) ([]*layer, []Skipped) {
	pool := runtime.NewBufferPool()
	var layers []*layer
	var skips []Skipped
	k := 0
	for _, n := range quant.Graph.Nodes {
		qop := qoperatorLayers[n.OpType] && (n.Domain == "" || n.Domain == "ai.onnx" || n.Domain == "com.microsoft")
		flow := !qop && bodiesQuantized(n)
		// a Shape or Size reads no values: nothing of it to attribute
		if !qop && !flow && (isOp(n, "QuantizeLinear") || isOp(n, "DequantizeLinear") || passes.ReadsOnlyShape(n) || !readsDQ(n)) {
			continue
		}
		k++
		label := n.Name
		if label == "" {
			label = fmt.Sprintf("(%s #%d)", n.OpType, k)
		}
		if qop {
			skips = append(skips, Skipped{label, n.OpType + qoperatorReason})
			continue
		}
		build := buildLayer
		if flow {
			build = buildFlowLayer
		}
		l, why := build(quant, n, fv, resc, runtime.Options{Threads: threads, Pool: pool}, integer)
		if why != "" {
			skips = append(skips, Skipped{label, why})
			continue
		}
		l.label, l.op, l.node = label, n.OpType, n
		l.refs = slices.Clone(l.outputs)
		for i, o := range l.outputs {
			b, ok := dead[o]
			if !ok {
				continue
			}
			if twin := clampedTwin(fv[o], dead); twin != "" {
				l.refs[i] = twin
				if l.clampOnly == nil {
					l.clampOnly = map[string]passes.Bounds{}
				}
				l.clampOnly[twin] = b
				continue
			}
			if l.dead == nil {
				l.dead = map[string]passes.Bounds{}
			}
			l.dead[o] = b
		}
		switch {
		case flow:
			// its quantized ops are in its bodies; --exclude-node names
			// them, not the If or Loop
		case !excludable(n):
			// the Q/DQ it reads belongs to another node: excluding it
			// would leave the model as it is
		case n.Name != "":
			l.exclude = escapeGlob(n.Name)
		case len(n.Outputs) > 0 && n.Outputs[0] != nil && n.Outputs[0].Name != "":
			// --exclude-node matches an unnamed node by its output's name
			// in the FP32 model (before an equalization renamed it).
			l.exclude = escapeGlob(strings.TrimSuffix(n.Outputs[0].Name, passes.RescaledSuffix))
		}
		layers = append(layers, l)
	}
	return layers, skips
}

// bodiesQuantized tells whether n holds subgraphs (If, Loop, Scan) with a
// DequantizeLinear in them, or reading one of an enclosing graph: a layer
// whose quantized ops run inside it.
func bodiesQuantized(n *graph.Node) bool {
	found := false
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(g *graph.Graph) {
			for _, in := range g.Nodes {
				found = found || isOp(in, "DequantizeLinear")
				for _, x := range in.Inputs {
					found = found || x != nil && x.Graph != g && isOp(x.Producer, "DequantizeLinear")
				}
			}
		})
	}
	return found
}

// buildFlowLayer makes the session of n, a node whose bodies hold
// quantized ops, run alone: its inputs, and the values of the enclosing
// graph its bodies read, come from FLOAT's run, through their Q/DQ where
// QUANT quantizes them (as a layer's inputs do); the rest of what it
// reads (dequantized constants) is copied from QUANT.
func buildFlowLayer(quant *graph.Model, n *graph.Node, fv map[string]*graph.Value, resc map[string]*rescale, opts runtime.Options, integer bool) (*layer, string) {
	main := quant.Graph
	reads := slices.Clone(n.Inputs)
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(g *graph.Graph) {
			for _, in := range g.Nodes {
				reads = append(reads, in.Inputs...)
			}
			reads = append(reads, g.Outputs...)
		})
	}
	var feeds []string
	seen := map[*graph.Value]bool{}
	for _, v := range reads {
		if v == nil || v.Graph != main || seen[v] {
			continue
		}
		seen[v] = true
		x := v
		if p := x.Producer; isOp(p, "DequantizeLinear") && p.Input(0) != nil {
			if p.Input(0).Const != nil {
				continue // a dequantized constant: copied
			}
			if q := p.Input(0).Producer; isOp(q, "QuantizeLinear") && q.Input(0) != nil {
				x = q.Input(0) // fed through its Q/DQ
			}
		}
		if x.Const != nil || slices.Contains(feeds, x.Name) {
			continue
		}
		if resc[x.Name] != nil {
			return nil, fmt.Sprintf("its bodies read %q, rescaled from FLOAT's tensor", x.Name)
		}
		if f := fv[x.Name]; f == nil {
			return nil, fmt.Sprintf("its bodies read %q, which FLOAT lacks", x.Name)
		}
		feeds = append(feeds, x.Name)
	}
	l := &layer{inputs: feeds}
	var outs []string
	for _, o := range n.Outputs {
		if o == nil {
			continue
		}
		if f := fv[o.Name]; f != nil && (f.DType == graph.Float32 || f.DType == graph.Undefined) && resc[o.Name] == nil {
			outs = append(outs, o.Name)
		}
	}
	if len(outs) == 0 {
		return nil, "FLOAT has no float32 tensor named as its outputs"
	}
	l.outputs, l.output = outs, outs[0]
	m, err := graph.Extract(quant, outs, feeds)
	if err != nil {
		return nil, err.Error()
	}
	// the graph inputs it does not read need no feed
	g := m.Graph
	g.Inputs = slices.DeleteFunc(g.Inputs, func(v *graph.Value) bool {
		return !slices.Contains(feeds, v.Name) && len(v.Consumers) == 0 && !slices.Contains(g.Outputs, v)
	})
	if why := lowerLayer(m, integer); why != "" {
		return nil, why
	}
	sess, err := runtime.NewSession(m, opts)
	if err != nil {
		return nil, err.Error()
	}
	l.sess = sess
	return l, ""
}

// qoperatorReason ends the reason a QOperator-form layer is skipped.
const qoperatorReason = " is a QOperator-form layer: attribution needs the QDQ form it was lowered from (the model written without --format qop runs the same integer arithmetic)"

// qoperatorLayers are the QOperator-form ops (ONNX's and ONNX Runtime's
// com.microsoft ones) that take integer tensors in and out: compare
// matches quantized values to FP32 ones through Q/DQ pairs, which such a
// layer no longer has.
var qoperatorLayers = map[string]bool{
	"QLinearConv": true, "QLinearMatMul": true, "QGemm": true, "ConvInteger": true, "MatMulInteger": true,
	"QLinearAdd": true, "QLinearMul": true, "QLinearConcat": true, "QLinearSigmoid": true, "QLinearLeakyRelu": true,
	"QLinearAveragePool": true, "QLinearGlobalAveragePool": true,
}

// clampedTwin returns the name of FLOAT's tensor that is v clamped to its
// dead bounds, when one exists: the output of a Relu, Clip, or Max/Min
// against a constant that is v's only reader, itself unbounded (so that
// v's bounds are exactly that op's). "" otherwise.
func clampedTwin(v *graph.Value, dead map[string]passes.Bounds) string {
	if v == nil || len(v.Consumers) != 1 {
		return ""
	}
	c := v.Consumers[0]
	if !foldable[c.OpType] || c.Domain != "" && c.Domain != "ai.onnx" || c.Input(0) != v || len(c.Outputs) != 1 || c.Outputs[0] == nil {
		return ""
	}
	for _, in := range c.Inputs[1:] {
		if in == v {
			return ""
		}
	}
	if _, bounded := dead[c.Outputs[0].Name]; bounded {
		return ""
	}
	return c.Outputs[0].Name
}

// excludable tells whether --exclude-node on n changes what the quantizer
// writes: n is an op its rule table quantizes (a weighted op, one that
// shares or requantizes its inputs' parameters, a folded clamp), one kept
// FP32 by default that --include-op quantized (its outputs feed
// QuantizeLinear nodes alone), or one whose integer weight the rule
// table's weight-only column gave it (an LSTM's recurrence weights). A
// float op that only reads the DequantizeLinear of another node's output
// (a Sigmoid after a Conv's completed unit, a hard-swish, a Transpose
// whose output no QuantizeLinear reads) is not, nor a data move whose
// output is quantized again on its input's grid (requantizedOnItsGrid).
func excludable(n *graph.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	r := passes.RuleFor(n.OpType)
	switch {
	case r == nil:
		return false
	case len(r.WeightOnly) > 0:
		for _, slot := range r.WeightOnly {
			if in := n.Input(slot); in != nil && isOp(in.Producer, "DequantizeLinear") {
				return true
			}
		}
		return false
	case r.Class == passes.ClassFP32:
		return false
	case r.Class == passes.ClassWeighted:
		return true
	case r.Class == passes.ClassShare && requantizedOnItsGrid(n):
		return false
	case !r.DefaultFP32:
		// quantized only when a QuantizeLinear reads an output; otherwise
		// a float op reading another node's Q/DQ (a Transpose before a
		// float graph output)
		return slices.ContainsFunc(n.Outputs, func(o *graph.Value) bool {
			return o != nil && slices.ContainsFunc(o.Consumers, func(c *graph.Node) bool { return isOp(c, "QuantizeLinear") })
		})
	}
	if len(n.Outputs) == 0 {
		return false
	}
	for _, o := range n.Outputs {
		if o == nil || len(o.Consumers) == 0 {
			return false
		}
		for _, c := range o.Consumers {
			if !isOp(c, "QuantizeLinear") {
				return false
			}
		}
	}
	return true
}

// gridExactOps write only values their inputs hold (data movement, max/min
// selection, zero padding): on dequantized inputs their outputs stay on
// the inputs' grid.
var gridExactOps = map[string]bool{
	"Reshape": true, "Transpose": true, "MaxPool": true, "Concat": true, "Slice": true,
	"Gather": true, "Squeeze": true, "Unsqueeze": true, "Flatten": true, "Split": true,
	"Identity": true, "GlobalMaxPool": true, "DepthToSpace": true, "SpaceToDepth": true,
	"Pad": true, "Max": true, "Min": true,
}

// requantizedOnItsGrid tells whether n, a grid-exact op, reads its
// activations through DequantizeLinear and writes them only to
// QuantizeLinear nodes of the same scale and zero point. Run in float, as
// --exclude-node would leave it, its outputs would round back to the same
// codes: the error it is charged with is its input's rounding, which
// excluding it does not remove (a MaxPool between two units).
func requantizedOnItsGrid(n *graph.Node) bool {
	if !gridExactOps[n.OpType] && !(n.OpType == "Resize" && n.AttrString("mode", "nearest") == "nearest") {
		return false
	}
	var grid *graph.Node
	sameGrid := func(q *graph.Node) bool {
		if grid == nil {
			grid = q
			return true
		}
		return graph.SameConstant(grid.Input(1), q.Input(1)) && graph.SameConstant(grid.Input(2), q.Input(2))
	}
	for _, in := range n.Inputs {
		if in != nil && isOp(in.Producer, "DequantizeLinear") && !sameGrid(in.Producer) {
			return false
		}
	}
	if grid == nil || len(n.Outputs) == 0 {
		return false
	}
	for _, o := range n.Outputs {
		if o == nil || len(o.Consumers) == 0 {
			return false
		}
		for _, c := range o.Consumers {
			if !isOp(c, "QuantizeLinear") || !sameGrid(c) {
				return false
			}
		}
	}
	return true
}

func readsDQ(n *graph.Node) bool {
	for _, in := range n.Inputs {
		if in != nil && isOp(in.Producer, "DequantizeLinear") {
			return true
		}
	}
	return false
}

// subgraph collects the one-node model of a layer.
type subgraph struct {
	g      *graph.Graph
	src    *graph.Model
	fv     map[string]*graph.Value
	resc   map[string]*rescale
	inputs []string
	err    string
	// rank is the rank of the layer's data tensors when the graph does not
	// record their shapes: a convolution's, from its weight (0: unknown).
	rank int
}

// dataRank returns the rank of n's activations as its weight gives it for
// a Conv or ConvTranspose (read through a DequantizeLinear of a constant
// too), or 0.
func dataRank(n *graph.Node) int {
	if n.OpType != "Conv" && n.OpType != "ConvTranspose" {
		return 0
	}
	w := n.Input(1)
	if w != nil && w.Const == nil && w.Producer != nil && w.Producer.OpType == "DequantizeLinear" {
		w = w.Producer.Input(0)
	}
	if w == nil || w.Const == nil {
		return 0
	}
	return len(w.Const.Dims)
}

// rankOf is the rank of a value of the layer: from its shape, FLOAT's
// tensor's, or the layer's own data rank.
func (s *subgraph) rankOf(v, f *graph.Value) int {
	for _, r := range []int{len(v.Shape), len(f.Shape), s.rank} {
		if r > 0 {
			return r
		}
	}
	return 0
}

// value returns the sub-model's value for v of quant, adding what computes
// it: an initializer copy, a graph input fed from FLOAT, or the Q/DQ or
// DequantizeLinear nodes in front of the layer.
func (s *subgraph) value(v *graph.Value) *graph.Value {
	if s.err != "" || v == nil {
		return nil
	}
	if have := s.g.Value(v.Name); have != nil {
		return have
	}
	if v.Const != nil {
		return s.constant(v)
	}
	p := v.Producer
	switch {
	case isOp(p, "DequantizeLinear") && (p.Input(0) != nil && (p.Input(0).Const != nil || isOp(p.Input(0).Producer, "QuantizeLinear"))):
		return s.copyNode(p, v)
	case isOp(p, "QuantizeLinear"):
		if r := s.resc[p.Input(0).Name]; r != nil {
			if q := s.quantizeRescaled(p, r); q != nil {
				return q
			}
		}
		return s.copyNode(p, v)
	}
	if r := s.resc[v.Name]; r != nil {
		if s.fv[r.orig] == nil && isOp(p, "Reshape") && p.Input(1) != nil && p.Input(1).Const != nil {
			// a reshape QUANT added, rescaled with what feeds it:
			// computed from that
			return s.copyNode(p, v)
		}
		return s.rescaled(v, r)
	}
	// A computed tensor read as is: fed from FLOAT's run.
	f := s.fv[v.Name]
	if f == nil && isOp(p, "Reshape") && p.Input(1) != nil && p.Input(1).Const != nil {
		// a reshape QUANT added (a MatMul's input made rows for a
		// Gemm): computed from what feeds it
		return s.copyNode(p, v)
	}
	if f == nil {
		s.err = fmt.Sprintf("input %q: FLOAT has no tensor of that name", v.Name)
		return nil
	}
	// Its type as FLOAT or QUANT records it (a shape input is int64);
	// unknown, the runtime takes the tensor as it comes.
	dt := f.DType
	if dt == graph.Undefined {
		dt = v.DType
	}
	in, err := s.g.AddInput(v.Name, dt, nil)
	if err != nil {
		s.err = err.Error()
		return nil
	}
	s.inputs = append(s.inputs, v.Name)
	return in
}

// rescaled feeds v, QUANT's rescaled form of FLOAT's tensor r.orig, as
// that tensor times r's factors.
func (s *subgraph) rescaled(v *graph.Value, r *rescale) *graph.Value {
	if r.bad != "" {
		s.err = fmt.Sprintf("input %q is rescaled, but %s", v.Name, r.bad)
		return nil
	}
	f := s.fv[r.orig]
	switch {
	case f == nil:
		s.err = fmt.Sprintf("input %q is rescaled from %q, which FLOAT lacks", v.Name, r.orig)
		return nil
	case f.DType != graph.Float32 && f.DType != graph.Undefined:
		s.err = fmt.Sprintf("input %q is rescaled from %q, %v in FLOAT, not float32", v.Name, r.orig, f.DType)
		return nil
	}
	if why := r.fits(f.Shape); why != "" {
		s.err = fmt.Sprintf("input %q is rescaled from %q, but %s", v.Name, r.orig, why)
		return nil
	}
	rank := s.rankOf(v, f)
	in := s.g.Value(r.orig)
	if in == nil {
		var err error
		if in, err = s.g.AddInput(r.orig, graph.Float32, nil); err != nil {
			s.err = err.Error()
			return nil
		}
		s.inputs = append(s.inputs, r.orig)
	} else if !isInput(s.g, in) {
		s.err = fmt.Sprintf("input %q: FLOAT's %q names another value of the layer", v.Name, r.orig)
		return nil
	}
	c, err := r.constant(s.g, v.Name+"_factors", rank)
	if err != nil {
		s.err = fmt.Sprintf("input %q: %v", v.Name, err)
		return nil
	}
	mul := &graph.Node{OpType: "Mul", Inputs: []*graph.Value{in, c}}
	if err := s.g.AddNode(mul, v.Name); err != nil {
		s.err = err.Error()
		return nil
	}
	mul.Outputs[0].DType = graph.Float32
	return mul.Outputs[0]
}

func isInput(g *graph.Graph, v *graph.Value) bool {
	for _, in := range g.Inputs {
		if in == v {
			return true
		}
	}
	return false
}

func (s *subgraph) constant(v *graph.Value) *graph.Value {
	raw, err := v.Const.Raw()
	if err != nil {
		s.err = fmt.Sprintf("constant %q: %v", v.Name, err)
		return nil
	}
	t, err := graph.NewTensor(v.Name, v.Const.DType, v.Const.Dims, raw)
	if err != nil {
		s.err = fmt.Sprintf("constant %q: %v", v.Name, err)
		return nil
	}
	c, err := s.g.AddInitializer(t)
	if err != nil {
		s.err = err.Error()
		return nil
	}
	return c
}

// copyNode adds a copy of n (its inputs first) and returns the copy of
// its output out.
func (s *subgraph) copyNode(n *graph.Node, out *graph.Value) *graph.Value {
	c, ok := s.addNode(n)
	if !ok {
		return nil
	}
	for i, o := range n.Outputs {
		if o == out {
			return c.Outputs[i]
		}
	}
	s.err = fmt.Sprintf("node %q: output %q not found", n.Name, out.Name)
	return nil
}

func (s *subgraph) addNode(n *graph.Node) (*graph.Node, bool) {
	for _, a := range n.Attrs {
		if a.Graph != nil || len(a.Graphs) > 0 {
			s.err = "the node has subgraphs"
			return nil, false
		}
	}
	c := &graph.Node{Name: n.Name, OpType: n.OpType, Domain: n.Domain, Attrs: n.Attrs}
	for _, in := range n.Inputs {
		if in == nil {
			c.Inputs = append(c.Inputs, nil)
			continue
		}
		v := s.value(in)
		if v == nil {
			return nil, false
		}
		c.Inputs = append(c.Inputs, v)
	}
	names := make([]string, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != nil {
			names[i] = o.Name
		}
	}
	if err := s.g.AddNode(c, names...); err != nil {
		s.err = err.Error()
		return nil, false
	}
	for i, o := range n.Outputs {
		if o != nil {
			c.Outputs[i].DType = o.DType
		}
	}
	return c, true
}

// buildLayer makes the one-node session of n; it returns why not when it
// cannot.
func buildLayer(quant *graph.Model, n *graph.Node, fv map[string]*graph.Value, resc map[string]*rescale, opts runtime.Options, integer bool) (*layer, string) {
	l, m, why := layerModel(quant, n, fv, resc, integer)
	if l == nil {
		return nil, why
	}
	sess, err := runtime.NewSession(m, opts)
	if err != nil {
		return nil, err.Error()
	}
	l.sess = sess
	return l, ""
}

// layerModel builds the one-node model of n and its layer, without a
// session; it returns why not when it cannot.
func layerModel(quant *graph.Model, n *graph.Node, fv map[string]*graph.Value, resc map[string]*rescale, integer bool) (*layer, *graph.Model, string) {
	s := &subgraph{g: graph.NewGraph("layer"), src: quant, fv: fv, resc: resc, rank: dataRank(n)}
	c, ok := s.addNode(n)
	if !ok {
		return nil, nil, s.err
	}
	l := &layer{inputs: s.inputs}
	var why string
	for i, o := range n.Outputs {
		if o == nil {
			continue
		}
		out, fname := c.Outputs[i], o.Name
		r := resc[o.Name]
		if r != nil {
			fname = r.orig
		}
		f := fv[fname]
		if f == nil || f.DType != graph.Float32 && f.DType != graph.Undefined {
			if r != nil && why == "" {
				why = fmt.Sprintf("its output %q is rescaled from %q, which FLOAT lacks as float32", o.Name, fname)
			}
			continue
		}
		if r != nil {
			// The node's output divided by the factors is FLOAT's
			// tensor of the original name, up to the layer's error: in
			// the weights' per-channel scales when they allow it, else
			// by a Div.
			if folded := s.unscaleWeights(c, out, r, f); folded != nil {
				out = folded
			} else if out, why = s.unscale(out, o, r, f); out == nil {
				continue
			}
		}
		s.g.AddOutput(out)
		l.outputs = append(l.outputs, fname)
		if l.output == "" {
			l.output = o.Name
		}
	}
	if len(l.outputs) == 0 {
		if why != "" {
			return nil, nil, why
		}
		return nil, nil, "FLOAT has no float32 tensor named as its outputs"
	}
	m := graph.NewModel(s.g, 1)
	m.IRVersion = quant.IRVersion
	m.OpsetImports = nil
	for _, o := range quant.OpsetImports {
		m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: o.Domain, Version: o.Version})
	}
	m.Functions = quant.Functions
	if why := lowerLayer(m, integer); why != "" {
		return nil, nil, why
	}
	return l, m, ""
}

// lowerLayer gives a layer's model, with integer, the integer execution
// form: the layer runs as the quantized run runs it (QLinearConv with a
// float output, ...), the same arithmetic, and cheaper than float. It
// returns why not when it cannot.
func lowerLayer(m *graph.Model, integer bool) string {
	if !integer {
		return ""
	}
	if err := lower.ForExecution(m); err != nil {
		return err.Error()
	}
	return ""
}

// unscale adds out / r's factors, named FLOAT's r.orig; o is QUANT's
// value out copies and f FLOAT's tensor. It returns why not, with a nil
// value, when it cannot.
func (s *subgraph) unscale(out, o *graph.Value, r *rescale, f *graph.Value) (*graph.Value, string) {
	if r.bad != "" {
		return nil, fmt.Sprintf("its output %q is rescaled, but %s", o.Name, r.bad)
	}
	if why := r.fits(f.Shape); why != "" {
		return nil, fmt.Sprintf("its output %q is rescaled from %q, but %s", o.Name, r.orig, why)
	}
	if s.g.Value(r.orig) != nil {
		return nil, fmt.Sprintf("its output %q is rescaled from %q, a name the layer uses otherwise", o.Name, r.orig)
	}
	rank := s.rankOf(o, f)
	c, err := r.constant(s.g, o.Name+"_factors", rank)
	if err != nil {
		return nil, fmt.Sprintf("its output %q: %v", o.Name, err)
	}
	div := &graph.Node{OpType: "Div", Inputs: []*graph.Value{out, c}}
	if err := s.g.AddNode(div, r.orig); err != nil {
		return nil, err.Error()
	}
	div.Outputs[0].DType = graph.Float32
	return div.Outputs[0], ""
}

// unscaleWeights divides the output channels of c, the layer's Conv, by
// r's factors through its weight's per-channel scales (and its int32
// bias's, kept input scale × weight scale) instead of a Div after it, and
// names out, its output, FLOAT's r.orig; f is FLOAT's tensor. It returns
// nil, changing nothing, when c is not such a Conv.
func (s *subgraph) unscaleWeights(c *graph.Node, out *graph.Value, r *rescale, f *graph.Value) *graph.Value {
	if !isOp(c, "Conv") || r.axis != 1 || r.bad != "" || r.fits(f.Shape) != "" || s.g.Value(r.orig) != nil {
		return nil
	}
	n := len(r.factors)
	wdq := c.Input(1).Producer
	if !isOp(wdq, "DequantizeLinear") || wdq.AttrInt("axis", 1) != 0 {
		return nil
	}
	ws := wdq.Input(1).ConstFloat32s()
	if len(ws) != n {
		return nil
	}
	var bdq *graph.Node
	var sx float32
	if b := c.Input(2); b != nil {
		bdq = b.Producer
		if !isOp(bdq, "DequantizeLinear") || len(bdq.Input(1).ConstFloat32s()) != n {
			return nil
		}
		// The input's scale, as the bias scale was made from it.
		xdq := c.Input(0).Producer
		if !isOp(xdq, "DequantizeLinear") {
			return nil
		}
		xs := xdq.Input(1).ConstFloat32s()
		if len(xs) != 1 {
			return nil
		}
		sx = xs[0]
	}
	scaled := make([]float32, n)
	for i, w := range ws {
		scaled[i] = w / r.factors[i]
	}
	wsv, err := s.floats(wdq.Input(1).Name+"_unscaled", scaled)
	if err != nil {
		return nil
	}
	var bsv *graph.Value
	if bdq != nil {
		bs := make([]float32, n)
		for i, w := range scaled {
			bs[i] = sx * w
		}
		if bsv, err = s.floats(bdq.Input(1).Name+"_unscaled", bs); err != nil {
			return nil
		}
	}
	if err := s.g.Rename(out, r.orig); err != nil {
		return nil
	}
	wdq.SetInput(1, wsv)
	if bdq != nil {
		bdq.SetInput(1, bsv)
	}
	return out
}

// quantizeRescaled copies q, a per-tensor QuantizeLinear of a value
// QUANT rescaled by r, as a per-channel QuantizeLinear of FLOAT's tensor
// with the scale divided by r's factors: the codes of FLOAT's tensor
// times the factors, without the Mul. It returns nil, changing nothing,
// when q or the opset does not allow it (per-axis needs opset 13).
func (s *subgraph) quantizeRescaled(q *graph.Node, r *rescale) *graph.Value {
	if opset, _ := s.src.Opset(""); r.bad != "" || len(q.Outputs) != 1 || q.Attr("block_size") != nil || opset < 13 {
		return nil
	}
	f := s.fv[r.orig]
	if f == nil || f.DType != graph.Float32 && f.DType != graph.Undefined || r.fits(f.Shape) != "" {
		return nil
	}
	if s.rankOf(q.Input(0), f) <= r.axis || s.g.Value(r.orig) != nil || s.g.Value(q.Outputs[0].Name) != nil {
		return nil
	}
	sc := q.Input(1).ConstFloat32s()
	zp := q.Input(2)
	if len(sc) != 1 || zp == nil || zp.Const == nil || zp.Const.NumElements() != 1 {
		return nil
	}
	raw, err := zp.Const.Raw()
	if err != nil {
		return nil
	}
	n := len(r.factors)
	scales := make([]float32, n)
	for i, k := range r.factors {
		scales[i] = sc[0] / k
	}
	zps, err := graph.NewTensor(s.g.UniqueName(zp.Name+"_channels"), zp.Const.DType, []int64{int64(n)}, bytes.Repeat(raw, n))
	if err != nil {
		return nil
	}
	sv, err := s.floats(q.Input(1).Name+"_channels", scales)
	if err != nil {
		return nil
	}
	zv, err := s.g.AddInitializer(zps)
	if err != nil {
		return nil
	}
	in, err := s.g.AddInput(r.orig, graph.Float32, nil)
	if err != nil {
		return nil
	}
	s.inputs = append(s.inputs, r.orig)
	attrs := []*graph.Attribute{graph.IntAttr("axis", int64(r.axis))}
	for _, a := range q.Attrs {
		if a.Name != "axis" {
			attrs = append(attrs, a)
		}
	}
	c := &graph.Node{Name: q.Name, OpType: q.OpType, Domain: q.Domain, Inputs: []*graph.Value{in, sv, zv}, Attrs: attrs}
	if err := s.g.AddNode(c, q.Outputs[0].Name); err != nil {
		s.err = err.Error()
		return nil
	}
	return c.Outputs[0]
}

// floats adds a float32 initializer of the layer graph.
func (s *subgraph) floats(base string, v []float32) (*graph.Value, error) {
	t, err := graph.FromFloat32s(s.g.UniqueName(base), []int64{int64(len(v))}, v)
	if err != nil {
		return nil, err
	}
	return s.g.AddInitializer(t)
}

// sampleRun is the per-sample state of the FP32 run: the codes of the
// quantized run, the FP32 tensors kept for layers still to run, and the
// layer outputs waiting for their FP32 reference.
type sampleRun struct {
	main    *graph.Graph
	acts    map[string][]*activation // by reference name
	layers  []*layer
	wantIn  map[string][]int // FLOAT name -> layers reading it
	wantOut map[string]int   // FLOAT names a layer output is compared with -> that layer
	threads int

	codes   map[string]*runtime.Tensor // this sample's quantized run outputs
	have    map[string]*runtime.Tensor // FP32 tensors kept for layers
	need    map[string]int             // layers still to read each kept tensor
	missing []int                      // inputs each layer still waits for
	pending map[string][]pendingOut    // layer outputs by FLOAT name
	early   map[string]*runtime.Tensor // references seen before their layer ran
	// atEnd are what to do once the sample is done with the tensors it
	// kept: hand held ones back to the FP32 session.
	atEnd []func()
	err   error
}

type pendingOut struct {
	l *layer
	t *runtime.Tensor
}

func newSampleRun(float *graph.Model, acts []*activation, layers []*layer, threads int) *sampleRun {
	r := &sampleRun{threads: threads, main: float.Graph, acts: map[string][]*activation{}, layers: layers, wantIn: map[string][]int{}, wantOut: map[string]int{}}
	for _, a := range acts {
		r.acts[a.ref] = append(r.acts[a.ref], a)
	}
	for i, l := range layers {
		for _, in := range l.inputs {
			r.wantIn[in] = append(r.wantIn[in], i)
		}
		for _, o := range l.refs {
			r.wantOut[o] = i
		}
	}
	return r
}

// start resets the state for a sample whose quantized run gave codes.
func (r *sampleRun) start(codes map[string]*runtime.Tensor) {
	r.codes = codes
	r.have, r.need = map[string]*runtime.Tensor{}, map[string]int{}
	r.pending, r.early = map[string][]pendingOut{}, map[string]*runtime.Tensor{}
	r.missing = make([]int, len(r.layers))
	for i, l := range r.layers {
		r.missing[i] = len(l.inputs)
	}
	// Layers found bad in an earlier sample no longer run: their inputs
	// are not kept for them.
	for name, ls := range r.wantIn {
		for _, i := range ls {
			if r.layers[i].bad == "" {
				r.need[name]++
			}
		}
	}
	// Layers without computed inputs (all constant) run now.
	for i, l := range r.layers {
		if len(l.inputs) == 0 && l.bad == "" {
			r.runLayer(i)
		}
	}
}

// finish drops what the sample left.
func (r *sampleRun) finish() {
	r.codes, r.have, r.need, r.pending, r.early = nil, nil, nil, nil, nil
	for _, f := range r.atEnd {
		f()
	}
	r.atEnd = nil
}

// whenDone runs f once the sample is finished with the tensors it kept.
func (r *sampleRun) whenDone(f func()) { r.atEnd = append(r.atEnd, f) }

// relevant tells whether FLOAT's tensor name is compared or read by a
// layer. It reads only what newSampleRun built, so it may run beside
// observeName.
func (r *sampleRun) relevant(name string) bool {
	_, out := r.wantOut[name]
	return out || len(r.acts[name]) > 0 || len(r.wantIn[name]) > 0
}

// retains tells whether the run kept t, FLOAT's tensor name, for a layer
// still to run or an output still to come.
func (r *sampleRun) retains(name string, t *runtime.Tensor) bool {
	return r.have[name] == t || r.early[name] == t
}

// observeName handles FLOAT's tensor name with value t, which the run may
// keep (for a layer still waiting, or an output still to come) until the
// sample ends: see retains and whenDone.
func (r *sampleRun) observeName(name string, t *runtime.Tensor) {
	if r.err != nil {
		return
	}
	for _, a := range r.acts[name] {
		a.add(t, r.codes[a.qOut], r.threads)
	}
	if i, ok := r.wantOut[name]; ok {
		if waiting := r.pending[name]; len(waiting) > 0 {
			for _, p := range waiting {
				p.l.add(name, p.t, t, r.threads)
				p.l.recycle(p.t)
			}
			delete(r.pending, name)
		} else if r.missing[i] > 0 && r.layers[i].bad == "" {
			// Only when names mislead: the layer has not run yet.
			r.early[name] = t
		}
	}
	ls := r.wantIn[name]
	if r.need[name] == 0 {
		return
	}
	// Layers this completes run now; t stays kept for layers still
	// waiting for another input.
	r.have[name] = t
	for _, i := range ls {
		r.missing[i]--
		if r.missing[i] == 0 && r.layers[i].bad == "" {
			r.runLayer(i)
		}
	}
}

// runLayer runs layer i on the kept FP32 inputs and queues its outputs.
func (r *sampleRun) runLayer(i int) {
	l := r.layers[i]
	feeds := make(map[string]*runtime.Tensor, len(l.inputs))
	for _, in := range l.inputs {
		feeds[in] = r.have[in]
	}
	outs, err := l.sess.Run(feeds)
	l.done(r)
	if err != nil {
		l.bad = "does not run on FLOAT's tensors: " + err.Error()
		return
	}
	for k, o := range l.outputs {
		t, name := outs[o], l.refs[k]
		if ref, ok := r.early[name]; ok {
			l.add(name, t, ref, r.threads)
			l.recycle(t)
			continue
		}
		r.pending[name] = append(r.pending[name], pendingOut{l, t})
	}
}

// recycle hands a compared output back to the layer's session for its
// next run; only for one-output layers, whose output shares its buffer
// with no other.
func (l *layer) recycle(t *runtime.Tensor) {
	if len(l.outputs) == 1 {
		l.sess.Recycle(t)
	}
}

// done drops the kept inputs no other layer still needs.
func (l *layer) done(r *sampleRun) {
	for _, in := range l.inputs {
		if r.need[in]--; r.need[in] == 0 {
			delete(r.have, in)
		}
	}
}

// add pools one output of the layer against FLOAT's tensor name (a refs
// entry). Where FLOAT's readers clamp that tensor, both are compared
// clamped alike: the output is clamped in place (the layer's own buffer),
// FLOAT's in a copy unless name is the clamp's own output.
func (l *layer) add(name string, got, ref *runtime.Tensor, threads int) {
	if l.bad != "" {
		return
	}
	g, f := got.F32(), ref.F32()
	switch {
	case g == nil || f == nil:
		l.bad = fmt.Sprintf("output of type %v, FLOAT's %v: not float32 in both", got.DType, ref.DType)
		return
	case !sameRows(got.Shape, ref.Shape):
		l.bad = fmt.Sprintf("output shape %v differs from FLOAT's %v", got.Shape, ref.Shape)
		return
	}
	if b, ok := l.clampOnly[name]; ok {
		clampInto(g, g, b, threads)
	} else if b, ok := l.dead[name]; ok {
		clampInto(g, g, b, threads)
		buf := clampBuffers.Get().(*[]float32)
		defer clampBuffers.Put(buf)
		f = clampInto(grow(buf, len(f)), f, b, threads)
	}
	t := chunked(len(f), threads, func(lo, hi int) sums {
		sig, noise := energies(g[lo:hi], f[lo:hi])
		return sums{sig: sig, noise: noise}
	})
	if !finite(t.sig) || !finite(t.noise) {
		// FLOAT's tensor holds NaN or Inf (rare): the positions where it
		// is finite count, as in every SQNR onnxq measures
		t.sig, t.noise, _ = qdq.Energies(f, g)
	}
	l.sig += t.sig
	l.noise += t.noise
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// withoutNonFinite returns copies of f and codes in which each position
// where f is NaN or infinite holds 0 and the zero point zp (the code of
// 0), and how many such positions there were: compared there, they add
// nothing to any sum.
func withoutNonFinite(f []float32, codes any, zp int32) ([]float32, any, int) {
	f = slices.Clone(f)
	var at []int
	for i, x := range f {
		if !finite(float64(x)) {
			f[i] = 0
			at = append(at, i)
		}
	}
	switch c := codes.(type) {
	case []uint8:
		codes = setCodes(slices.Clone(c), at, uint8(zp))
	case []int8:
		codes = setCodes(slices.Clone(c), at, int8(zp))
	case []uint16:
		codes = setCodes(slices.Clone(c), at, uint16(zp))
	case []int16:
		codes = setCodes(slices.Clone(c), at, int16(zp))
	}
	return f, codes, len(at)
}

func setCodes[T uint8 | int8 | uint16 | int16](codes []T, at []int, v T) []T {
	for _, i := range at {
		codes[i] = v
	}
	return codes
}

// sameRows tells whether shapes a and b are equal or lay out the same
// elements in the same order as rows of one width: a Gemm's [rows, N]
// output QUANT holds under the name of FLOAT's [batch, rows, N] MatMul and
// Add.
func sameRows(a, b []int) bool {
	if slices.Equal(a, b) {
		return true
	}
	if len(a) == 0 || len(b) == 0 || a[len(a)-1] != b[len(b)-1] {
		return false
	}
	size := func(s []int) int {
		n := 1
		for _, d := range s {
			n *= d
		}
		return n
	}
	return size(a) == size(b)
}

// add pools one sample of the activation: the FP32 tensor ref against the
// dequantized codes.
func (a *activation) add(ref, codes *runtime.Tensor, threads int) {
	if a.bad != "" {
		return
	}
	f := ref.F32()
	if f == nil {
		a.bad = fmt.Sprintf("FLOAT's %s is %v, not float32", a.ref, ref.DType)
		return
	}
	if codes == nil || !slices.Equal(ref.Shape, codes.Shape) && (a.resc != nil || !sameRows(ref.Shape, codes.Shape)) {
		a.bad = fmt.Sprintf("the quantized tensor's shape differs from FLOAT's %v", ref.Shape)
		return
	}
	if a.hasDead {
		buf := clampBuffers.Get().(*[]float32)
		defer clampBuffers.Put(buf)
		f = clampInto(grow(buf, len(f)), f, a.dead, threads)
	}
	half := float64(a.scale) / 2
	// Within half a step of a bound a value rounds to the bound's code:
	// rounding, not clipping.
	b := actBounds{lo: float32(a.lo - half), hi: float32(a.hi + half), zp: a.zp, scale: a.scale, qlo: a.lo, qhi: a.hi}
	var ch channels
	if r := a.resc; r != nil {
		if r.axis >= len(ref.Shape) || ref.Shape[r.axis] != len(r.factors) {
			a.bad = fmt.Sprintf("FLOAT's %v does not have %d channels on axis %d, as its rescale says", ref.Shape, len(r.factors), r.axis)
			return
		}
		ch = channels{factors: r.factors, inner: 1, dead: a.dead, hasDead: a.hasDead}
		for _, d := range ref.Shape[r.axis+1:] {
			ch.inner *= d
		}
	}
	partFor := func(f []float32, codes any) func(lo, hi int) sums {
		switch d := codes.(type) {
		case []uint8:
			return func(lo, hi int) sums { return accumulateCh(f, d, b, ch, lo, hi) }
		case []int8:
			return func(lo, hi int) sums { return accumulateCh(f, d, b, ch, lo, hi) }
		case []uint16:
			return func(lo, hi int) sums { return accumulateCh(f, d, b, ch, lo, hi) }
		case []int16:
			return func(lo, hi int) sums { return accumulateCh(f, d, b, ch, lo, hi) }
		}
		return nil
	}
	part := partFor(f, codes.Data)
	if part == nil {
		a.bad = fmt.Sprintf("the quantized tensor is %v", codes.DType)
		return
	}
	t := chunked(len(f), threads, part)
	compared := int64(len(f))
	if !finite(t.sig) || !finite(t.noise) {
		// FLOAT's tensor holds NaN or Inf (codes are finite): those
		// positions are left out, as in every SQNR onnxq measures, by
		// comparing 0 with the code of 0 there
		cleaned, cleanCodes, skipped := withoutNonFinite(f, codes.Data, a.zp)
		t = chunked(len(f), threads, partFor(cleaned, cleanCodes))
		compared -= int64(skipped)
		f = cleaned
	}
	a.sig += t.sig
	a.noise += t.noise
	a.clipped += t.clipped
	a.peak = max(a.peak, t.peak)
	a.n += compared
	if a.typ.Bits() == 8 && a.roundingSig == 0 {
		// The rounding's noise-to-signal ratio is a property of the
		// grid and the values' spread: the first sample with signal
		// measures it, which costs no more than another comparison.
		a.rounding = chunked(len(f), threads, func(lo, hi int) sums { return roundingEnergy(f, a, ch, lo, hi) }).noise
		a.roundingSig = t.sig
	}
}

// roundingEnergy returns, in noise, the error energy of a's Q/DQ applied to
// FLOAT's values f[lo:hi] themselves (per channel of ch when rescaled):
// the rounding and clipping a's QuantizeLinear alone adds.
func roundingEnergy(f []float32, a *activation, ch channels, lo, hi int) sums {
	buf := byteBuffers.Get().(*[]byte)
	defer byteBuffers.Put(buf)
	if cap(*buf) < hi-lo {
		*buf = make([]byte, hi-lo)
	}
	codes := (*buf)[:hi-lo]
	qlo, qhi := float32(a.typ.Min()-a.zp), float32(a.typ.Max()-a.zp)
	signed := a.typ.Signed()
	var total float64
	run := func(f []float32, codes []byte, scale float32) {
		kernels.QuantizeBytes(codes, f, scale, qlo, qhi, a.zp)
		// a fresh lane set per run: CodeEnergies wants runs of
		// multiples of 8 to continue lanes, and the sum needs no lanes
		var r kernels.Energies
		kernels.CodeEnergies(&r, f, codes, signed, a.zp, scale, float32(math.Inf(-1)), float32(math.Inf(1)))
		_, noise := r.Totals()
		total += noise
	}
	if ch.factors == nil {
		run(f[lo:hi], codes, a.scale)
	} else {
		c := len(ch.factors)
		for i := lo; i < hi; {
			k := i / ch.inner % c
			n := min(ch.inner-i%ch.inner, hi-i)
			if fac := float64(ch.factors[k]); fac > 0 {
				// the codes of x·fac on a's grid are those of x on the
				// grid divided by fac, and dq/fac is compared with x
				run(f[i:i+n], codes[i-lo:i-lo+n], float32(float64(a.scale)/fac))
			}
			i += n
		}
	}
	return sums{noise: total}
}

// byteBuffers hold the codes roundingEnergy quantizes to.
var byteBuffers = sync.Pool{New: func() any { return new([]byte) }}

// sums are the partial sums of one chunk; peak is the largest multiple of
// the range's end a clipped value reaches (peakOutside), 0 without one.
type sums struct {
	sig, noise float64
	clipped    int64
	peak       float64
}

// chunkSize is the fixed chunk the sums are split into: the chunks, and
// the order their sums are added in, never depend on the thread count.
const chunkSize = 1 << 15

// chunked computes part over fixed chunks of [0, n) on up to threads
// goroutines and adds the chunks' sums in chunk order.
func chunked(n, threads int, part func(lo, hi int) sums) sums {
	k := (n + chunkSize - 1) / chunkSize
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	threads = min(threads, k)
	parts := make([]sums, k)
	if threads <= 1 {
		for c := range k {
			parts[c] = part(c*chunkSize, min(n, (c+1)*chunkSize))
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range threads {
			wg.Go(func() {
				for {
					c := int(next.Add(1) - 1)
					if c >= k {
						return
					}
					parts[c] = part(c*chunkSize, min(n, (c+1)*chunkSize))
				}
			})
		}
		wg.Wait()
	}
	var t sums
	for _, p := range parts {
		t.sig += p.sig
		t.noise += p.noise
		t.clipped += p.clipped
		t.peak = max(t.peak, p.peak)
	}
	return t
}

// actBounds are what accumulate needs of an activation's Q/DQ: lo and hi
// are its range widened by half a step (what rounds to the end codes),
// qlo and qhi the range itself.
type actBounds struct {
	lo, hi, scale float32
	zp            int32
	qlo, qhi      float64
}

// peakOutside returns, over the values x·fac of f outside [b.lo, b.hi],
// the largest multiple of the range's end they reach: y/qhi above it
// (when qhi > 0), y/qlo below it (when qlo < 0); 0 when none does. It is
// how far past its calibrated range a sample drives an activation, which
// the clipped share alone hides when few values are that loud.
func peakOutside(f []float32, fac float64, b actBounds) float64 {
	var peak float64
	lo, hi := float64(b.lo), float64(b.hi)
	for _, x := range f {
		y := float64(x) * fac
		switch {
		case y > hi && b.qhi > 0:
			peak = max(peak, y/b.qhi)
		case y < lo && b.qlo < 0:
			peak = max(peak, y/b.qlo)
		}
	}
	return peak
}

// channels are the factors a rescaled activation's channels were
// multiplied by; inner is the element count of one channel's run (the
// product of the dimensions after the axis). No factors: not rescaled.
type channels struct {
	factors []float32
	inner   int
	// dead, when set, clamps the dequantized values divided by their
	// factor too: the grid of a rescaled value may reach past the
	// bound in some channels (a channel raised by u below a hard-swish
	// is dead below -3·u, another below -3), where readers tell no
	// difference
	dead    passes.Bounds
	hasDead bool
}

// accumulateCh is accumulate over f[lo:hi] and its codes, the dequantized
// values divided by their channel's factor when ch has factors.
func accumulateCh[T uint8 | int8 | uint16 | int16](f []float32, codes []T, b actBounds, ch channels, lo, hi int) sums {
	if ch.factors == nil {
		return accumulate(f[lo:hi], codes[lo:hi], b)
	}
	return accumulateRescaled(f[lo:hi], codes[lo:hi], b, ch, lo)
}

// accumulateRescaled returns the sums of accumulate for the FP32 values
// f, starting at element off of the tensor, against codes of the tensor
// rescaled by ch: the dequantized value divided by its channel's factor
// is compared with f, and f times the factor with the bounds.
func accumulateRescaled[T uint8 | int8 | uint16 | int16](f []float32, codes []T, b actBounds, ch channels, off int) sums {
	codes = codes[:len(f)]
	c := len(ch.factors)
	var total sums
	// One run of elements per channel: its factor and bounds are hoisted,
	// and four partial sums per run keep the additions independent, in a
	// fixed order.
	for i := 0; i < len(f); {
		k := (off + i) / ch.inner % c
		n := min(ch.inner-(off+i)%ch.inner, len(f)-i)
		fac := float64(ch.factors[k])
		lo, hi := float64(b.lo), float64(b.hi)
		var s, e [4]float64
		fr, cr := f[i:i+n], codes[i:i+n]
		if b8, ok := byteCodes(cr); ok && fac > 0 && !ch.hasDead {
			// 8-bit codes: the energy kernel with the channel's factor
			// divided into the scale and the bounds (dq/fac against x,
			// x·fac against [lo, hi]).
			var e kernels.Energies
			kernels.CodeEnergies(&e, fr, b8, isSigned(cr), b.zp, float32(float64(b.scale)/fac), float32(lo/fac), float32(hi/fac))
			sig, noise := e.Totals()
			total.sig += sig
			total.noise += noise
			total.clipped += e.Outside
			if e.Outside > 0 {
				total.peak = max(total.peak, peakOutside(fr, fac, b))
			}
			i += n
			continue
		}
		dq := func(c T) float64 {
			v := float64(float32(int32(c)-b.zp)*b.scale) / fac
			if ch.hasDead {
				v = math.Min(math.Max(v, ch.dead.Lo), ch.dead.Hi)
			}
			return v
		}
		j := 0
		for ; j+4 <= n; j += 4 {
			for q := range 4 {
				x := float64(fr[j+q])
				d := dq(cr[j+q]) - x
				s[q] += x * x
				e[q] += d * d
			}
		}
		for ; j < n; j++ {
			x := float64(fr[j])
			d := dq(cr[j]) - x
			s[0] += x * x
			e[0] += d * d
		}
		outside := total.clipped
		for _, x := range fr {
			if y := float64(x) * fac; y < lo || y > hi {
				total.clipped++
			}
		}
		if total.clipped > outside {
			total.peak = max(total.peak, peakOutside(fr, fac, b))
		}
		total.sig += (s[0] + s[1]) + (s[2] + s[3])
		total.noise += (e[0] + e[1]) + (e[2] + e[3])
		i += n
	}
	return total
}

// byteCodes returns 8-bit codes as their bytes.
func byteCodes[T uint8 | int8 | uint16 | int16](codes []T) ([]byte, bool) {
	switch c := any(codes).(type) {
	case []uint8:
		return c, true
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c))), len(c)), true
	}
	return nil, false
}

// isSigned tells whether codes are int8 (or int16).
func isSigned[T uint8 | int8 | uint16 | int16](_ []T) bool {
	var z T
	switch any(z).(type) {
	case int8, int16:
		return true
	}
	return false
}

// accumulate returns, for FP32 values f and their codes, Σf², Σ(dq−f)²
// with dq as DequantizeLinear computes it (in float32), and how many f
// fall outside [b.lo, b.hi].
func accumulate[T uint8 | int8 | uint16 | int16](f []float32, codes []T, b actBounds) sums {
	codes = codes[:len(f)]
	if b8, ok := byteCodes(codes); ok {
		return accumulate8(f, b8, isSigned(codes), b)
	}
	// Four partial sums, combined in a fixed order: the additions do not
	// wait on each other, and the result does not depend on anything but
	// the data.
	var s, e [4]float64
	var clipped int64
	i := 0
	for ; i+4 <= len(f); i += 4 {
		for k := range 4 {
			x := f[i+k]
			d := float64(float32(int32(codes[i+k])-b.zp)*b.scale) - float64(x)
			s[k] += float64(x) * float64(x)
			e[k] += d * d
			if x < b.lo || x > b.hi {
				clipped++
			}
		}
	}
	for ; i < len(f); i++ {
		x := f[i]
		d := float64(float32(int32(codes[i])-b.zp)*b.scale) - float64(x)
		s[0] += float64(x) * float64(x)
		e[0] += d * d
		if x < b.lo || x > b.hi {
			clipped++
		}
	}
	t := sums{sig: (s[0] + s[1]) + (s[2] + s[3]), noise: (e[0] + e[1]) + (e[2] + e[3]), clipped: clipped}
	if clipped > 0 {
		t.peak = peakOutside(f, 1, b)
	}
	return t
}

// accumulate8 is accumulate for 8-bit codes held as bytes (int8 when
// signed), in the runtime's vector energy kernel.
func accumulate8(f []float32, codes []byte, signed bool, b actBounds) sums {
	var e kernels.Energies
	kernels.CodeEnergies(&e, f, codes, signed, b.zp, b.scale, b.lo, b.hi)
	sig, noise := e.Totals()
	t := sums{sig: sig, noise: noise, clipped: e.Outside}
	if e.Outside > 0 {
		t.peak = peakOutside(f, 1, b)
	}
	return t
}

// energies returns Σref² and Σ(got−ref)² in the runtime's vector energy
// kernel (float32 differences, float64 lane sums).
func energies(got, ref []float32) (sig, noise float64) {
	var e kernels.Energies
	kernels.FloatEnergies(&e, got, ref)
	return e.Totals()
}

// outputStats pools the graph outputs of QUANT against FLOAT's.
type outputStats struct {
	names []string
	stats map[string]*outputStat
	float *graph.Model
}

type outputStat struct {
	shape               []int
	sig, noise, dot, qq float64
	maxAbs              float64
	agree, total        int
	// counted: the elements where FLOAT's output is finite, which every
	// figure pools (none: the figures are null)
	counted int
	scores  bool
	// floatOut is FLOAT's output of the name, whose trace decides scores
	// on the first sample, its shape then known
	floatOut *graph.Value
	skipped  string
	// an integer or bool output: its elements that differ, of all
	discrete         bool
	differ, elements int
}

// newOutputStats pools quant's outputs; FLOAT's graph tells which hold
// score vectors (passes.ScoreOutputShaped, with the shapes of the first
// sample).
func newOutputStats(quant, float *graph.Model) *outputStats {
	o := &outputStats{stats: map[string]*outputStat{}}
	for _, v := range quant.Graph.Outputs {
		if _, dup := o.stats[v.Name]; dup {
			continue
		}
		o.names = append(o.names, v.Name)
		s := &outputStat{}
		for _, f := range float.Graph.Outputs {
			if f.Name == v.Name {
				s.floatOut = f
				break
			}
		}
		o.stats[v.Name] = s
	}
	o.float = float
	return o
}

// add pools one sample's outputs.
func (o *outputStats) add(float, quant map[string]*runtime.Tensor) {
	for _, name := range o.names {
		s := o.stats[name]
		if s.skipped != "" {
			continue
		}
		ref, got := float[name], quant[name]
		if s.shape == nil && got != nil {
			s.shape = append([]int{}, got.Shape...)
		}
		if ref == nil {
			s.skipped = "FLOAT has no output of that name"
			continue
		}
		f, g := ref.FloatValues(), got.FloatValues()
		if f == nil && g == nil && slices.Equal(ref.Shape, got.Shape) {
			if d, maxAbs, ok := runtime.DifferingElements(ref, got); ok {
				s.discrete = true
				s.differ += d
				s.elements += ref.Len()
				s.maxAbs = max(s.maxAbs, maxAbs)
				continue
			}
		}
		switch {
		case f == nil || g == nil:
			s.skipped = fmt.Sprintf("not a float type in both (FLOAT %v, QUANT %v)", ref.DType, got.DType)
			continue
		case !slices.Equal(ref.Shape, got.Shape):
			s.skipped = fmt.Sprintf("shapes differ: FLOAT %v, QUANT %v", ref.Shape, got.Shape)
			continue
		}
		for i, x := range f {
			xf, y := float64(x), float64(g[i])
			if !finite(xf) {
				continue // left out, as in every SQNR onnxq measures
			}
			s.counted++
			if !finite(y) {
				s.noise, s.maxAbs = math.Inf(1), math.Inf(1)
				continue
			}
			d := y - xf
			s.sig += xf * xf
			s.noise += d * d
			s.dot += xf * y
			s.qq += y * y
			s.maxAbs = math.Max(s.maxAbs, math.Abs(d))
		}
		// Score vectors: along the last axis, of two or more classes.
		if out := s.floatOut; out != nil {
			s.scores = passes.ScoreOutputShaped(o.float, out, func(v *graph.Value) []int {
				if v == out {
					return ref.Shape
				}
				return nil
			})
			s.floatOut = nil // decided
		}
		if len(ref.Shape) < 1 || ref.Shape[len(ref.Shape)-1] < 2 {
			s.scores = false
		}
		if s.scores {
			c := ref.Shape[len(ref.Shape)-1]
			for off := 0; off+c <= len(f); off += c {
				// a vector FLOAT does not hold finite scores in decides
				// nothing; a non-finite score of QUANT's is a miss
				if !allFinite(f[off : off+c]) {
					continue
				}
				if allFinite(g[off:off+c]) && argmax(f[off:off+c]) == argmax(g[off:off+c]) {
					s.agree++
				}
				s.total++
			}
		}
	}
}

// allFinite tells whether no value of v is NaN or infinite.
func allFinite(v []float32) bool {
	for _, x := range v {
		if !finite(float64(x)) {
			return false
		}
	}
	return true
}

// argmax returns the index of the largest value, the first on a tie; NaN
// never wins.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] || v[best] != v[best] && x == x {
			best = i
		}
	}
	return best
}

func (o *outputStats) report() []OutputStat {
	out := []OutputStat{}
	for _, name := range o.names {
		s := o.stats[name]
		r := OutputStat{Name: name, Shape: s.shape, Skipped: s.skipped}
		if r.Shape == nil {
			r.Shape = []int{}
		}
		if s.skipped == "" && s.discrete {
			r.SQNRdB, r.Cosine, r.MaxAbsError = Decibels(math.NaN()), Fixed6(math.NaN()), Sig4(s.maxAbs)
			r.Differing = &Differing{Count: s.differ, Total: s.elements}
		} else if s.skipped == "" {
			r.SQNRdB = Decibels(sqnrDB(s.sig, s.noise))
			cos := math.NaN()
			if s.sig > 0 && s.qq > 0 {
				cos = s.dot / math.Sqrt(s.sig*s.qq)
			}
			r.Cosine = Fixed6(cos)
			r.MaxAbsError = Sig4(s.maxAbs)
			if s.counted == 0 {
				r.MaxAbsError = Sig4(math.NaN())
			}
			if s.scores && s.total > 0 {
				r.Top1 = &Top1{Agree: s.agree, Total: s.total}
			}
		}
		out = append(out, r)
	}
	return out
}

// clampBuffers hold the clamped copies of FLOAT's tensors.
var clampBuffers = sync.Pool{New: func() any { return new([]float32) }}

// grow returns *buf resized to n elements, reallocated when too small.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// clampInto sets dst to f with every value beyond b at the bound (dst may
// be f), over fixed chunks on up to threads goroutines, and returns dst.
func clampInto(dst, f []float32, b passes.Bounds, threads int) []float32 {
	lo, hi := float32(b.Lo), float32(b.Hi)
	chunked(len(f), threads, func(i, j int) sums {
		kernels.ClampF32(dst[i:j], f[i:j], lo, hi)
		return sums{}
	})
	return dst
}
