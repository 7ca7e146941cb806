// hardswish.go rewrites a hard-swish written with elementwise ops
// (x·Clip(x+3, 0, 6)/6, x·HardSigmoid(x), Relu6 forms) as one HardSwish
// op, in a finished quantized model.

package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// hardSwishOps are the elementwise ops a hard-swish is written with when
// exported without a HardSwish op (opset 14): paddle2onnx writes
// x·Clip(x+3, 0, 6)/6, PyTorch before opset 14 x·HardSigmoid(x), Keras
// Relu6 as a Clip or a Min of a Relu.
var hardSwishOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Clip": true,
	"HardSigmoid": true, "Relu": true, "Min": true, "Max": true,
}

// hardSwishGates are the ops that make the gate of a hard-swish: the
// region search starts from them.
var hardSwishGates = map[string]bool{"Clip": true, "HardSigmoid": true, "Relu": true, "Min": true, "Max": true}

// maxHardSwishNodes bounds a decomposed hard-swish: x·Min(Relu(x+3), 6)/6
// takes 5 nodes.
const maxHardSwishNodes = 6

// HardSwishOpset is the opset that brought the HardSwish op.
const HardSwishOpset = 14

// HardSwishFusion says what FuseHardSwish did.
type HardSwishFusion struct {
	// Fused lists the hard-swishes replaced, in graph order.
	Fused []FusedHardSwish
	// OpsetFrom and OpsetTo are the default-domain opset before and after
	// (equal when unchanged).
	OpsetFrom, OpsetTo int64
}

// FusedHardSwish is one hard-swish FuseHardSwish replaced.
type FusedHardSwish struct {
	// Node names the HardSwish node; Replaced the elementwise nodes it
	// took the place of, and Ops their op types, in graph order.
	Node          string
	Replaced, Ops []string
}

// FuseHardSwish replaces each hard-swish of m written with elementwise
// ops by one HardSwish node; its output keeps its name. ONNX Runtime runs
// the elementwise form as one float kernel per op between the
// DequantizeLinear and QuantizeLinear around it (four for paddle2onnx's),
// the op as two (it expands it into HardSigmoid and Mul), and fuses the op
// into a float Conv before it (ppocr_cls_mobile_v2, 18 hard-swishes: 1.31
// -> 1.11 ms).
//
// A region of elementwise ops of one value x and scalar constants, with
// one exit, counts as a hard-swish when it computes x·Clip(x/6 + 1/2, 0,
// 1) on probe values across and far beyond [-3, 3]: the exporter's form
// does not matter. HardSwish needs opset 14: a model at 14 or above is
// fused as it is, one at 13 is raised to 14 when raise is set (13 to 14
// changed no op's form), an older one is left alone. m is unchanged when
// it holds no hard-swish.
func FuseHardSwish(m *graph.Model, raise bool) (*HardSwishFusion, error) {
	f := &HardSwishFusion{}
	if m == nil || m.Graph == nil {
		return f, nil
	}
	opset := mainOpset(m)
	f.OpsetFrom, f.OpsetTo = opset, opset
	if opset < HardSwishOpset-1 || opset < HardSwishOpset && !raise {
		return f, nil
	}
	var all []hardSwishRegion
	var walkErr error
	m.Graph.Walk(func(g *graph.Graph) {
		if walkErr == nil {
			var rs []hardSwishRegion
			rs, walkErr = hardSwishRegions(g, opset)
			all = append(all, rs...)
		}
	})
	if walkErr != nil || len(all) == 0 {
		return f, walkErr
	}
	if opset < HardSwishOpset {
		if err := upgradeOpset(m, opset, HardSwishOpset, func(g *graph.Graph, base string) string { return g.UniqueName(base) }); err != nil {
			return f, err
		}
		f.OpsetTo = HardSwishOpset
	}
	for _, h := range all {
		fused := FusedHardSwish{Node: h.region[len(h.region)-1].Name}
		for _, n := range h.region {
			fused.Replaced = append(fused.Replaced, n.Name)
			fused.Ops = append(fused.Ops, n.OpType)
		}
		if err := replaceByHardSwish(h.x, h.region); err != nil {
			return f, err
		}
		f.Fused = append(f.Fused, fused)
	}
	return f, nil
}

// hardSwishRegion is a hard-swish of x written with elementwise ops, the
// region's nodes in an order of evaluation, its exit last.
type hardSwishRegion struct {
	x      *graph.Value
	region []*graph.Node
}

// hardSwishRegions finds the hard-swishes of g written with elementwise
// ops: from each gate op back to the values it reads, the region of
// elementwise ops of one value and scalar constants with one exit, kept
// when it computes HardSwish (computesHardSwish).
func hardSwishRegions(g *graph.Graph, opset int64) ([]hardSwishRegion, error) {
	var found []hardSwishRegion
	taken := map[*graph.Node]bool{}
	for _, e := range g.Nodes {
		if taken[e] || e.Domain != "" || !hardSwishGates[e.OpType] {
			continue
		}
		for _, x := range smoothSources(e, hardSwishOps) {
			region := smoothRegion(x, e, hardSwishOps, maxHardSwishNodes)
			if region == nil || slices.ContainsFunc(region, func(n *graph.Node) bool { return taken[n] }) {
				continue
			}
			ok, err := computesHardSwish(x, region, opset)
			if err != nil {
				return nil, err
			}
			if ok {
				for _, n := range region {
					taken[n] = true
				}
				found = append(found, hardSwishRegion{x, region})
				break
			}
		}
	}
	return found, nil
}

// replaceByHardSwish puts one HardSwish node of x where region's exit
// (its last node) was; the exit's output keeps its name and readers.
func replaceByHardSwish(x *graph.Value, region []*graph.Node) error {
	g := x.Graph
	exit := region[len(region)-1]
	y := exit.Outputs[0]
	h := &graph.Node{OpType: "HardSwish", Name: exit.Name, Inputs: []*graph.Value{x}}
	if err := g.InsertNode(slices.Index(g.Nodes, exit), h, g.UniqueName(y.Name+"_hardswish")); err != nil {
		return err
	}
	h.Outputs[0].DType, h.Outputs[0].Shape = y.DType, y.Shape
	if err := replaceNodeBy(g, exit, h.Outputs[0]); err != nil {
		return err
	}
	var gone []*graph.Value
	for i := len(region) - 2; i >= 0; i-- {
		gone = append(gone, region[i].Outputs[0])
		if err := g.RemoveNode(region[i]); err != nil {
			return fmt.Errorf("fusing the hard-swish of %q: %v", x.Name, err)
		}
	}
	forgetValues(g, gone...)
	return nil
}

// hardSwishProbes are the values a candidate region is run on: a fine
// grid over the bends at -3 and 3, and values far out on both sides.
func hardSwishProbes() []float32 {
	var p []float32
	for i := -960; i <= 960; i++ {
		p = append(p, float32(i)/120) // [-8, 8], -3 and 3 exactly
	}
	return append(p, -1e4, -300, -17.5, 17.5, 300, 1e4)
}

// computesHardSwish reports whether region, an elementwise function of x
// whose other inputs are constants, computes HardSwish(x). Every
// constant must be one float32 value of no higher rank than x (a
// broadcast would change the output's shape or vary across elements).
func computesHardSwish(x *graph.Value, region []*graph.Node, opset int64) (bool, error) {
	// An unknown type (a copied model whose intermediate types were not
	// kept) is float32 here: the region's float32 constants type-check
	// with nothing else.
	if x.DType != graph.Float32 && x.DType != graph.Undefined {
		return false, nil
	}
	rank := -1
	if x.Shape != nil {
		rank = len(x.Shape)
	}
	probes := hardSwishProbes()
	vals := map[*graph.Value]*runtime.Tensor{x: runtime.FromFloat32([]int{len(probes)}, probes)}
	reg := runtime.DefaultRegistry()
	for _, n := range region {
		in := make([]*runtime.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if t, ok := vals[v]; ok {
				in[i] = t
				continue
			}
			c := v.Const
			if c == nil || c.DType != graph.Float32 || c.NumElements() != 1 || len(c.Dims) > max(rank, 0) {
				return false, nil
			}
			t, err := runtime.FromGraph(c)
			if err != nil {
				return false, err
			}
			in[i] = t
		}
		out, err := runKernel(reg, n, opset, in)
		if err != nil || len(out) != 1 || out[0] == nil {
			return false, nil // a kernel that cannot run here rules the region out
		}
		vals[n.Outputs[0]] = out[0]
	}
	y := vals[region[len(region)-1].Outputs[0]].FloatValues()
	if len(y) != len(probes) {
		return false, nil
	}
	for i, p := range probes {
		v := float64(p)
		want := v * math.Max(0, math.Min(1, v/6+0.5))
		if math.Abs(float64(y[i])-want) > 1e-5*(1+math.Abs(want)) {
			return false, nil
		}
	}
	return true, nil
}

// runKernel runs n's kernel on in.
func runKernel(reg *runtime.Registry, n *graph.Node, opset int64, in []*runtime.Tensor) (outs []*runtime.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("kernel panicked: %v", r)
		}
	}()
	build := reg.Lookup(n.Domain, n.OpType)
	if build == nil {
		return nil, fmt.Errorf("no kernel")
	}
	k, err := build(n, opset)
	if err != nil {
		return nil, err
	}
	return k.Run(&runtime.Context{Node: n, Opset: opset, Threads: 1}, in)
}

// reasonFusedHardSwish says why a fused HardSwish stays FP32.
const reasonFusedHardSwish = "hard-swish, its elementwise ops fused into one HardSwish op (opset 14): float between its DequantizeLinear and QuantizeLinear, as its parts were"

// NoteHardSwish brings r up to date with fusion f of the model r
// describes: the FP32 entries of the replaced nodes become one entry per
// HardSwish, and the opset is f's.
func (r *QuantReport) NoteHardSwish(f *HardSwishFusion) {
	if r == nil || f == nil || len(f.Fused) == 0 {
		return
	}
	r.OpsetTo = f.OpsetTo
	for _, h := range f.Fused {
		listed := false
		r.FP32 = slices.DeleteFunc(r.FP32, func(e FP32Node) bool {
			gone := e.Node != "" && slices.Contains(h.Replaced, e.Node)
			listed = listed || gone
			return gone
		})
		if listed {
			r.FP32 = append(r.FP32, FP32Node{Node: h.Node, Op: "HardSwish", Reason: reasonFusedHardSwish})
		}
	}
}

// reasonProbBetween replaces reasonProb for a HardSigmoid (an op runtimes
// do not run as an integer kernel) the quantized ops around it leave
// between a DequantizeLinear and a QuantizeLinear: its output is 8-bit
// all the same.
const reasonProbBetween = "kept float by its rule (near-zero probabilities lose their relative precision in 8 bits), but its reader quantizes its output all the same: float between a DequantizeLinear and a QuantizeLinear"

// reasonNoRule is the reason of an op the rule table has no row for;
// reasonNoRuleBetween replaces it where the quantized ops around such an
// op leave it between a DequantizeLinear and a QuantizeLinear.
const (
	reasonNoRule        = "no quantization rule"
	reasonNoRuleBetween = "no quantization rule, so it computes in float between the DequantizeLinear and QuantizeLinear the quantized ops around it give it"
)

// integerBetweenQDQ are the ops kept float by their rule that ONNX
// Runtime's CPU provider runs as an integer kernel when they sit between
// a DequantizeLinear and a QuantizeLinear (checked in its optimized
// graph: DQ → Sigmoid → Q becomes QLinearSigmoid; a HardSigmoid stays
// float there).
var integerBetweenQDQ = map[string]bool{"Sigmoid": true}

// NoteQuantizedAround rewords the FP32 entries of r for the probability
// ops, and the ops without a rule, of m's main graph whose activation
// inputs all come from DequantizeLinear nodes and whose outputs only
// QuantizeLinear nodes read: "stays float because 8 bits lose its small
// values" would not be true of them, nor "stays float" alone. Those a
// runtime runs as integer kernels there (integerBetweenQDQ) move to the
// quantized op counts, as --include-op would list them for the same
// graph.
func (r *QuantReport) NoteQuantizedAround(m *graph.Model) {
	if r == nil || m == nil || m.Graph == nil {
		return
	}
	byName := map[string]*graph.Node{}
	for _, n := range m.Graph.Nodes {
		if n.Name != "" {
			byName[n.Name] = n
		}
	}
	integer := map[int]bool{}
	for i, e := range r.FP32 {
		n := byName[e.Node]
		if n == nil || !quantizedAround(n) {
			continue
		}
		switch {
		case probabilityReason(e.Reason) && integerBetweenQDQ[e.Op]:
			integer[i] = true
			if r.OpCounts == nil {
				r.OpCounts = map[string]int{}
			}
			r.OpCounts[e.Op]++
		case probabilityReason(e.Reason):
			r.FP32[i].Reason = reasonProbBetween
		case e.Reason == reasonNoRule:
			r.FP32[i].Reason = reasonNoRuleBetween
		}
	}
	kept := r.FP32[:0]
	for i, e := range r.FP32 {
		if !integer[i] {
			kept = append(kept, e)
		}
	}
	r.FP32 = kept
}

// quantizedAround tells whether every input of n comes from a
// DequantizeLinear and every output of n goes to QuantizeLinear nodes
// alone.
func quantizedAround(n *graph.Node) bool {
	if len(n.Inputs) == 0 || len(n.Outputs) == 0 {
		return false
	}
	activations := 0
	for _, in := range n.Inputs {
		// a constant operand (PRelu's slope) is no activation
		if in == nil || in.Const != nil {
			continue
		}
		if in.Producer == nil || in.Producer.OpType != "DequantizeLinear" {
			return false
		}
		activations++
	}
	if activations == 0 {
		return false
	}
	for _, out := range n.Outputs {
		if out == nil || len(out.Consumers) == 0 || isGraphOutput(n.Graph, out) {
			return false
		}
		for _, c := range out.Consumers {
			if c.OpType != "QuantizeLinear" {
				return false
			}
		}
	}
	return true
}
