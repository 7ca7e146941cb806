// propguard.go keeps ONNX Runtime from rewriting int8 Q/DQ at opset 21
// into a model it then refuses to load.

package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// propagatingOps are the data-movement ops ONNX Runtime's Q/DQ
// propagation moves a DequantizeLinear across (its QDQPropagation
// transformer), inserting a QuantizeLinear/DequantizeLinear pair after
// them when no QuantizeLinear reads their output.
var propagatingOps = map[string]bool{
	"MaxPool": true, "Reshape": true, "Transpose": true, "Squeeze": true, "Unsqueeze": true, "Slice": true,
}

// GuardDQPropagation gives each data-movement op that reads an int8
// DequantizeLinear and writes float readers only (a Reshape before a graph
// output, a Transpose before a Sigmoid) a Q/DQ pair of that
// DequantizeLinear's parameters after it, in models of opset 21 and up,
// and returns how many it added. Moving values between places keeps them
// on their grid, so the pair changes no value. ONNX Runtime (1.30) inserts
// such a pair itself when it loads the model, and at opset 21 with int8
// writes the QuantizeLinear with an output_dtype that contradicts its
// zero point, which fails the load ("output_dtype INT8 does not match
// y_zero_point type UINT8"); a QuantizeLinear already there stops it.
func GuardDQPropagation(m *graph.Model) (int, error) {
	if m == nil || m.Graph == nil {
		return 0, nil
	}
	if opset, _ := m.Opset(""); opset < 21 {
		return 0, nil
	}
	added := 0
	var err error
	m.Graph.Walk(func(g *graph.Graph) {
		for err == nil {
			n, e := guardOnce(g)
			added, err = added+n, e
			if n == 0 {
				break
			}
		}
	})
	return added, err
}

// guardOnce adds the pairs g needs as it stands; those it adds may need
// more after them (Reshape then Transpose), found on the next call.
func guardOnce(g *graph.Graph) (int, error) {
	added := 0
	for _, dq := range slices.Clone(g.Nodes) {
		if !int8DQ(dq) {
			continue
		}
		// ONNX Runtime first gives each reader of a DequantizeLinear a
		// copy of its own, so every reader counts
		for _, op := range slices.Clone(dq.Outputs[0].Consumers) {
			if !propagates(g, op, dq.Outputs[0]) {
				continue
			}
			if err := addPairAfter(g, op, dq); err != nil {
				return added, err
			}
			added++
		}
	}
	return added, nil
}

// int8DQ tells whether dq is a default-domain DequantizeLinear of int8
// values with one constant scale and zero point.
func int8DQ(dq *graph.Node) bool {
	if dq.OpType != "DequantizeLinear" || dq.Domain != "" && dq.Domain != "ai.onnx" || len(dq.Outputs) != 1 || dq.Outputs[0] == nil {
		return false
	}
	x, s, z := dq.Input(0), dq.Input(1), dq.Input(2)
	return x != nil && x.DType == graph.Int8 && s != nil && s.Const != nil && s.Const.NumElements() == 1 && z != nil && z.Const != nil && z.Const.NumElements() == 1
}

// propagates tells whether ONNX Runtime would move a DequantizeLinear
// whose output is v across op: a data-movement op reading v as its data
// input whose output a float op reads or is a graph output (beside any
// QuantizeLinear readers).
func propagates(g *graph.Graph, op *graph.Node, v *graph.Value) bool {
	if !propagatingOps[op.OpType] || op.Domain != "" && op.Domain != "ai.onnx" || op.Input(0) != v || len(op.Outputs) == 0 || op.Outputs[0] == nil {
		return false
	}
	y := op.Outputs[0]
	return slices.Contains(g.Outputs, y) || slices.ContainsFunc(y.Consumers, func(c *graph.Node) bool { return c.OpType != "QuantizeLinear" })
}

// addPairAfter makes the float readers of op's first output, and the
// graph outputs, read it through a Q/DQ pair of dq's scale and zero point:
// a QuantizeLinear of those parameters already reading it, or a new one.
// A graph output keeps its name, on the pair's DequantizeLinear.
func addPairAfter(g *graph.Graph, op, dq *graph.Node) error {
	y := op.Outputs[0]
	name := y.Name
	s, z := dq.Input(1), dq.Input(2)
	var floatReaders []*graph.Node
	var qn *graph.Node
	for _, c := range y.Consumers {
		switch {
		case c.OpType != "QuantizeLinear":
			floatReaders = append(floatReaders, c)
		case qn == nil && c.Input(0) == y && graph.SameConstant(c.Input(1), s) && graph.SameConstant(c.Input(2), z):
			qn = c
		}
	}
	output := slices.Contains(g.Outputs, y)
	if output {
		if err := g.Rename(y, g.UniqueName(name+"_moved")); err != nil {
			return err
		}
	}
	pos := slices.Index(g.Nodes, op) + 1
	if qn == nil {
		qn = &graph.Node{Name: g.UniqueNodeName(name + "_Q"), OpType: "QuantizeLinear", Domain: dq.Domain, Inputs: []*graph.Value{y, s, z}}
		if err := g.InsertNode(pos, qn, g.UniqueName(name+"_q")); err != nil {
			return err
		}
		qn.Outputs[0].DType, qn.Outputs[0].Shape = graph.Int8, y.Shape
	}
	pos = max(pos, slices.Index(g.Nodes, qn)+1)
	dqName := name
	if !output {
		dqName = g.UniqueName(name + "_dq")
	}
	dn := &graph.Node{Name: g.UniqueNodeName(name + "_DQ"), OpType: "DequantizeLinear", Domain: dq.Domain, Inputs: []*graph.Value{qn.Outputs[0], s, z}}
	if err := g.InsertNode(pos, dn, dqName); err != nil {
		return err
	}
	dn.Outputs[0].DType, dn.Outputs[0].Shape = y.DType, y.Shape
	for _, r := range floatReaders {
		for i, in := range r.Inputs {
			if in == y {
				r.SetInput(i, dn.Outputs[0])
			}
		}
	}
	for i, o := range g.Outputs {
		if o == y {
			g.Outputs[i] = dn.Outputs[0]
		}
	}
	return nil
}
