// floatweights.go gives the weighted ops that form no complete Q/DQ unit
// their FP32 weights back, in a finished quantized model.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/runtime"
)

// FloatWeightsScope chooses which weighted ops outside complete Q/DQ
// units FloatWeightsOutsideUnits gives their FP32 weights back.
type FloatWeightsScope int

// Float weight scopes. FloatWeightsGrouped, the default, takes the
// grouped (depthwise) Convs: their weights are small, and ONNX Runtime's
// float grouped Conv reading a DequantizeLinear weight ran several times
// slower than from a constant (a ConvNeXt-style net's two depthwise 7x7
// Convs: 0.33 ms against 0.04). It also takes the MatMul and Gemm nodes
// that ONNX Runtime would fuse with their weight's DequantizeLinear
// (macs.ORTWeightOnlyKernel): that kernel quantizes their float input on
// the fly, in blocks of its own, so the model would compute neither what
// was written nor what onnxq measured (3 dB less on a small attention
// block). FloatWeightsAll takes every one, for a larger file.
const (
	FloatWeightsGrouped FloatWeightsScope = iota
	FloatWeightsAll
	FloatWeightsNone
)

// ParseFloatWeightsScope reads "grouped", "all" or "none".
func ParseFloatWeightsScope(s string) (FloatWeightsScope, error) {
	switch s {
	case "grouped":
		return FloatWeightsGrouped, nil
	case "all":
		return FloatWeightsAll, nil
	case "none":
		return FloatWeightsNone, nil
	}
	return 0, fmt.Errorf("unknown float weights scope %q (want grouped, all or none)", s)
}

func (s FloatWeightsScope) String() string {
	return [...]string{"grouped", "all", "none"}[s]
}

// takes tells whether the scope gives node n its FP32 weights back.
func (s FloatWeightsScope) takes(n *graph.Node) bool {
	switch s {
	case FloatWeightsAll:
		return true
	case FloatWeightsGrouped:
		return n.OpType == "Conv" && n.AttrInt("group", 1) > 1 || macs.ORTWeightOnlyKernel(n)
	}
	return false
}

// FloatWeightsOutsideUnits gives each weighted node (Conv, ConvTranspose,
// Gemm, MatMul; with FloatWeightsGrouped those the scope names) of m's main
// graph that reads an 8-bit weight through DequantizeLinear but forms no
// complete Q/DQ unit (macs.QDQUnit: its output read by float ops, or its
// input float or 16-bit) its FP32 weight again, taken from ref, the
// prepared FP32 model m was quantized from (its counterpart produces an
// output of the same name), and its int32 bias as an FP32 constant of
// the same values (what bias correction put in it also makes up for the
// rounding of the input, which stays). ONNX Runtime runs such a node in
// float either way; from a DequantizeLinear it dequantizes the weight on
// every run and cannot prepack it into the layout its float kernels want
// (nor with a DequantizeLinear bias), so the int8 weight saves file bytes
// at the cost of time and of its rounding. A DequantizeLinear no node reads any more goes, with its
// integers and scales; one a unit still reads stays, and the node reads
// an FP32 copy. Block-wise weights (asked for their size) stay. It
// returns the nodes changed, as "name (op)".
func FloatWeightsOutsideUnits(m, ref *graph.Model, scope FloatWeightsScope) ([]string, error) {
	if m == nil || m.Graph == nil || ref == nil || ref.Graph == nil {
		return nil, fmt.Errorf("float weights: a model and its FP32 reference are needed")
	}
	if scope == FloatWeightsNone {
		return nil, nil
	}
	g := m.Graph
	producers := map[string]*graph.Node{}
	for _, n := range ref.Graph.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				producers[o.Name] = n
			}
		}
	}
	var done []string
	uses := map[*graph.Value][]floatUse{} // by DequantizeLinear output
	var order []*graph.Value
	reg, opset := runtime.DefaultRegistry(), mainOpset(m)
	for _, n := range Int8OutsideUnits(g) {
		if !scope.takes(n) {
			continue
		}
		r := producers[n.Outputs[0].Name]
		if r == nil || r.OpType != n.OpType || len(r.Inputs) != len(n.Inputs) {
			continue
		}
		rule := RuleFor(n.OpType)
		changed := false
		for _, slot := range []int{rule.Weight, rule.Bias} {
			in, fp32 := n.Input(slot), r.Input(slot)
			if slot < 0 || in == nil || in.Producer == nil || in.Producer.OpType != "DequantizeLinear" || in.Producer.Input(0).Const == nil ||
				fp32 == nil || fp32.Const == nil || fp32.Const.DType != graph.Float32 {
				continue
			}
			t := fp32.Const
			if slot == rule.Bias {
				// the bias as quantized, bias correction included: the
				// correction also makes up for the rounding of the input
				if ts, err := evaluate(in.Producer, reg, opset); err == nil {
					t = ts[0]
					t.Name = in.Producer.Input(0).Name
				}
			}
			if uses[in] == nil {
				order = append(order, in)
			}
			uses[in] = append(uses[in], floatUse{n, slot, t})
			changed = true
		}
		if changed {
			done = append(done, fmt.Sprintf("%s (%s)", n.Name, n.OpType))
		}
	}
	// one FP32 initializer per reference tensor, however many
	// DequantizeLinear nodes stood for it
	restored := map[*graph.Tensor]*graph.Value{}
	for _, v := range order {
		if err := restoreFP32(g, v, uses[v], restored); err != nil {
			return done, err
		}
	}
	return done, nil
}

// Int8OutsideUnits lists, in graph order, the weighted nodes of g (Conv,
// ConvTranspose, Gemm, MatMul) that read an 8-bit weight through
// DequantizeLinear but form no complete Q/DQ unit: ONNX Runtime runs them
// in float, dequantizing the weight on every run.
func Int8OutsideUnits(g *graph.Graph) []*graph.Node {
	var out []*graph.Node
	for _, n := range g.Nodes {
		if !weightedRule(n) || len(n.Outputs) != 1 || n.Outputs[0] == nil || macs.QDQUnit(n) {
			continue
		}
		if int8WeightDQ(n.Input(RuleFor(n.OpType).Weight)) {
			out = append(out, n)
		}
	}
	return out
}

// floatUse is one read of a weight's or bias's DequantizeLinear output
// that FloatWeightsOutsideUnits gives the FP32 tensor t.
type floatUse struct {
	node *graph.Node
	slot int
	t    *graph.Tensor
}

// weightedRule tells whether n is a default-domain op of the rule
// table's weighted class (Conv, ConvTranspose, Gemm, MatMul).
func weightedRule(n *graph.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	r := RuleFor(n.OpType)
	return r != nil && r.Class == ClassWeighted
}

// int8WeightDQ tells whether w is the output of a DequantizeLinear of an
// 8-bit constant that is not block-wise.
func int8WeightDQ(w *graph.Value) bool {
	if w == nil || w.Producer == nil || w.Producer.OpType != "DequantizeLinear" {
		return false
	}
	dq := w.Producer
	x := dq.Input(0)
	if x == nil || x.Const == nil || (x.DType != graph.Int8 && x.DType != graph.Uint8) {
		return false
	}
	return dq.Attr("block_size") == nil || dq.AttrInt("block_size", 0) == 0
}

// restoreFP32 makes the reads us of v, the output of a DequantizeLinear
// of a constant, read their FP32 tensor instead: the initializer already
// restored for it when there is one; else the integers themselves, under
// their name, when nothing else reads v or them; else a new initializer.
// The DequantizeLinear goes when nothing reads it any more, with the
// initializers only it read.
func restoreFP32(g *graph.Graph, v *graph.Value, us []floatUse, restored map[*graph.Tensor]*graph.Value) error {
	t := us[0].t
	dq := v.Producer
	ints := dq.Input(0)
	others := -len(us)
	for _, c := range v.Consumers {
		others += countUses(c, v)
	}
	fv := restored[t]
	var inPlace *graph.Tensor // the FP32 data the integers' value takes
	if fv == nil {
		raw, err := t.Raw()
		if err != nil {
			return fmt.Errorf("float weights: %s: %v", t.Name, err)
		}
		own := others == 0 && len(ints.Consumers) == 1 && ints.Graph == g
		name := ints.Name
		if !own {
			name = g.UniqueName(t.Name)
		}
		ft, err := graph.NewTensor(name, graph.Float32, t.Dims, raw)
		if err != nil {
			return err
		}
		if own {
			fv, inPlace = ints, ft
		} else if fv, err = g.AddInitializer(ft); err != nil {
			return err
		}
		restored[t] = fv
	}
	for _, u := range us {
		u.node.SetInput(u.slot, fv)
	}
	if len(v.Consumers) > 0 {
		return nil
	}
	if err := g.RemoveNode(dq); err != nil {
		return err
	}
	if err := removeOrphans(g, dq.Inputs); err != nil {
		return err
	}
	if inPlace != nil {
		return g.SetConst(ints, inPlace)
	}
	return nil
}

// removeOrphans takes out the initializers among vs that nothing reads.
func removeOrphans(g *graph.Graph, vs []*graph.Value) error {
	for _, in := range vs {
		if in != nil && in.Const != nil && in.Graph == g && len(in.Consumers) == 0 && !slices.Contains(g.Inputs, in) && !slices.Contains(g.Outputs, in) {
			if err := g.RemoveInitializer(in); err != nil {
				return err
			}
		}
	}
	return nil
}
