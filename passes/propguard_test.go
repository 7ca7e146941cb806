package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// An int8 DequantizeLinear read by a Reshape that feeds a graph output,
// and a Transpose read by a QuantizeLinear and a float Relu, get Q/DQ
// pairs after them at opset 21 (the graph output keeps its name, the
// existing QuantizeLinear serves the Relu); below opset 21 nothing changes.
func TestGuardDQPropagation(t *testing.T) {
	build := func(opset int64) *graph.Model {
		b := graph.NewBuilder(opset)
		x := b.Input("x", graph.Int8, 1, 4)
		s := b.Const(graph.FromFloat32s("s", nil, []float32{0.5}))
		z := b.Const(graph.NewTensor("z", graph.Int8, nil, []byte{3}))
		dq := b.Op("DequantizeLinear", x, s, z)
		shape := b.Const(graph.FromInt64s("shape", []int64{2}, []int64{2, 2}))
		reshaped := b.Op("Reshape", dq, shape)
		transposed := b.Op("Transpose", b.Op("DequantizeLinear", x, s, z))
		requantized := b.Op("QuantizeLinear", transposed, s, z)
		b.Output(reshaped, requantized, b.Op("Relu", transposed))
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := build(21)
	out := m.Graph.Outputs[0].Name
	n, err := GuardDQPropagation(m)
	if err != nil || n != 2 {
		t.Fatalf("added %d pairs (%v), want 2", n, err)
	}
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	o := m.Graph.Outputs[0]
	if o.Name != out || o.Producer.OpType != "DequantizeLinear" || o.Producer.Input(0).Producer.OpType != "QuantizeLinear" || o.Producer.Input(0).Producer.Input(0).Producer.OpType != "Reshape" {
		t.Errorf("graph output %s is not the Reshape's value through a Q/DQ pair", o.Name)
	}
	relu := m.Graph.Outputs[2].Producer
	if dq := relu.Input(0).Producer; dq.OpType != "DequantizeLinear" || dq.Input(0) != m.Graph.Outputs[1] {
		t.Errorf("the Relu does not read the DequantizeLinear of the existing QuantizeLinear")
	}
	quantizeLinear := 0
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" {
			quantizeLinear++
		}
	}
	if quantizeLinear != 2 {
		t.Errorf("%d QuantizeLinear nodes, want 2 (one added, one reused)", quantizeLinear)
	}
	if again, _ := GuardDQPropagation(m); again != 0 {
		t.Errorf("a second pass added %d more", again)
	}
	if n, _ := GuardDQPropagation(build(19)); n != 0 {
		t.Errorf("opset 19: added %d pairs", n)
	}
}
