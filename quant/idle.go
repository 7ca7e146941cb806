// idle.go keeps in float the activations whose Q/DQ no integer kernel
// reads (passes.QuantOptions.FloatIdleInputs).

package quant

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/passes"
)

// IdleReport says what keeping idle inputs in float did.
type IdleReport struct {
	// Activations is how many activations only Convs outside complete
	// Q/DQ units read.
	Activations int
	// Before and After are the worst output SQNR on the calibration
	// samples, in dB, with their Q/DQ and without.
	Before, After float64
	// Kept tells whether the model without them was kept.
	Kept bool
}

// IdleActivations returns, sorted, the names of the activations of the
// quantized model m whose Q/DQ no integer kernel reads: every reader of
// every DequantizeLinear of every QuantizeLinear of the activation is a
// Conv or ConvTranspose that is not a complete Q/DQ unit (macs.QDQUnit),
// which ONNX Runtime runs in float, and those Q/DQ are 8-bit: a 16-bit
// one (WideFrontEnd) keeps the activation. An activation a weighted op or a
// quantized op (one reading a DequantizeLinear) produces is never idle:
// its Q is what keeps that op, and the units before it, in integers.
func IdleActivations(m *graph.Model) []string {
	if m == nil || m.Graph == nil {
		return nil
	}
	// an activation is idle when every Q reading it is
	idleQ := map[string]bool{}
	for _, q := range m.Graph.Nodes {
		if q.OpType != "QuantizeLinear" || len(q.Outputs) != 1 || q.Outputs[0] == nil {
			continue
		}
		x := q.Input(0)
		if x == nil || x.Const != nil || x.Producer != nil && (integerOp(x.Producer) || readsDQ(x.Producer)) {
			continue
		}
		if t := q.Outputs[0].DType; (t != graph.Int8 && t != graph.Uint8) || q.Domain != "" && q.Domain != "ai.onnx" {
			idleQ[x.Name] = false // 16 bits, set on purpose (WideFrontEnd)
			continue
		}
		readers := 0
		idle := true
		for _, dq := range q.Outputs[0].Consumers {
			if dq.OpType != "DequantizeLinear" || len(dq.Outputs) != 1 || dq.Outputs[0] == nil || slices.Contains(m.Graph.Outputs, dq.Outputs[0]) {
				idle = false
				break
			}
			for _, c := range dq.Outputs[0].Consumers {
				readers++
				if (c.OpType != "Conv" && c.OpType != "ConvTranspose") || c.Domain != "" && c.Domain != "ai.onnx" || c.Input(0) != dq.Outputs[0] || macs.QDQUnit(c) {
					idle = false
				}
			}
		}
		prev, seen := idleQ[x.Name]
		idleQ[x.Name] = idle && readers > 0 && (prev || !seen)
	}
	var out []string
	for name, idle := range idleQ {
		if idle {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// readsDQ tells whether n reads a DequantizeLinear output: a quantized
// op (an Add, a pool, a data move) that its output's Q/DQ keeps in
// integers, and whose integer readers upstream keep their units through it.
func readsDQ(n *graph.Node) bool {
	for _, in := range n.Inputs {
		if in != nil && in.Producer != nil && in.Producer.OpType == "DequantizeLinear" {
			return true
		}
	}
	return false
}

// integerOp tells whether n is an op whose output Q can complete an
// integer unit: a Conv, ConvTranspose, Gemm or MatMul.
func integerOp(n *graph.Node) bool {
	switch n.OpType {
	case "Conv", "ConvTranspose", "Gemm", "MatMul":
		return n.Domain == "" || n.Domain == "ai.onnx"
	}
	return false
}

// ChooseFloatIdle tries the quantized model m again with its idle
// activations (IdleActivations, less those cfg.Quant.Overrides names)
// kept in float: quantize gets a freshly prepared copy of ref and cfg
// with those overrides (and CompleteUnits set when m completed units,
// completed). It returns that copy when its worst output on src is no
// worse than m's, before (measured here when NaN), and the report; a nil
// report when there is nothing to try.
func ChooseFloatIdle(ref, m *graph.Model, src *Samples, cfg Config, completed bool, before float64,
	quantize func(cand *graph.Model, c Config) error) (*graph.Model, *IdleReport, error) {
	if src == nil || src.Len() == 0 || cfg.stopsBeforeQuantize() {
		return nil, nil, nil
	}
	var idle []string
	for _, name := range IdleActivations(m) {
		if _, set := cfg.Quant.Overrides[name]; !set { // the user's word stands
			idle = append(idle, name)
		}
	}
	if len(idle) == 0 {
		return nil, nil, nil
	}
	if math.IsNaN(before) {
		var err error
		if before, err = WorstOutputSQNR(ref, m, src, cfg.Threads); err != nil {
			return nil, nil, err
		}
	}
	c := cfg
	c.Quant.CompleteUnits = cfg.Quant.CompleteUnits || completed
	c.Quant.Overrides = maps.Clone(cfg.Quant.Overrides)
	if c.Quant.Overrides == nil {
		c.Quant.Overrides = map[string]passes.TensorOverride{}
	}
	for _, name := range idle {
		c.Quant.Overrides[name] = passes.TensorOverride{FP32: true}
	}
	cand, err := preparedCopy(ref, c)
	if err != nil {
		return nil, nil, err
	}
	if err := quantize(cand, c); err != nil {
		return nil, nil, fmt.Errorf("float idle inputs: %v", err)
	}
	after, err := WorstOutputSQNR(ref, cand, src, cfg.Threads)
	if err != nil {
		return nil, nil, err
	}
	rep := &IdleReport{Activations: len(idle), Before: before, After: after, Kept: after >= before}
	if !rep.Kept {
		return nil, rep, nil
	}
	return cand, rep, nil
}

// floatIdleInputs is ChooseFloatIdle for Run: res describes m, whose
// worst output on src is db (NaN when not measured). It returns the
// result kept and its worst output (NaN when still not measured).
func floatIdleInputs(m, ref *graph.Model, src *Samples, cfg Config, res *Result, db float64) (*Result, float64, error) {
	var r *Result
	c := cfg
	c.Method = res.Method
	cand, rep, err := ChooseFloatIdle(ref, m, src, c, res.Report.UnitsCompleted > 0, db, func(cand *graph.Model, c Config) error {
		var err error
		r, err = quantizeCollected(cand, ref, src, c, res.Collection)
		return err
	})
	if err != nil || rep == nil {
		return res, db, err
	}
	if cand == nil {
		res.Idle = rep
		return res, rep.Before, nil
	}
	r.Method, r.Selected, r.Idle = res.Method, rep.After, rep
	*m = *cand
	return r, rep.After, nil
}
