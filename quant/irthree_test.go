package quant

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// irThreeConv is Relu(Conv(x, w, b)) saved as IR version 3 and opset 6,
// its weight and bias listed among the graph inputs as that version
// requires.
func irThreeConv(t *testing.T) *graph.Model {
	t.Helper()
	s := func(v string) *string { return &v }
	f32 := int32(onnxpb.TensorProto_FLOAT)
	typ := func(dims ...int64) *onnxpb.TypeProto {
		var shape onnxpb.TensorShapeProto
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: &shape}}}
	}
	w := make([]float32, 4*3*3*3)
	for i := range w {
		w[i] = float32(i%7-3) / 10
	}
	p := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(3),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(6)}},
		Graph: &onnxpb.GraphProto{
			Name: s("g"),
			Node: []*onnxpb.NodeProto{
				{OpType: s("Conv"), Input: []string{"x", "w", "b"}, Output: []string{"c"}},
				{OpType: s("Relu"), Input: []string{"c"}, Output: []string{"y"}},
			},
			Initializer: []*onnxpb.TensorProto{
				{Name: s("w"), DataType: &f32, Dims: []int64{4, 3, 3, 3}, FloatData: w},
				{Name: s("b"), DataType: &f32, Dims: []int64{4}, FloatData: []float32{0.1, -0.2, 0.3, 0}},
			},
			Input:  []*onnxpb.ValueInfoProto{{Name: s("x"), Type: typ(1, 3, 8, 8)}, {Name: s("w"), Type: typ(4, 3, 3, 3)}, {Name: s("b"), Type: typ(4)}},
			Output: []*onnxpb.ValueInfoProto{{Name: s("y"), Type: typ(1, 4, 6, 6)}},
		},
	}
	data, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An IR 3 model lists its weights among the graph inputs. Quantizing
// raises it to IR 7 (opset 13), where a listed initializer is an input
// the caller may override: the int8 weights and scales must not be.
func TestIRThreeWeightsStayConstants(t *testing.T) {
	m := irThreeConv(t)
	cfg := DefaultConfig()
	cfg.Threads = 1
	if _, err := Run(m, calibdata.Synthetic(calibdata.Inputs(m), 4, 1), cfg); err != nil {
		t.Fatal(err)
	}
	if m.IRVersion < 7 {
		t.Fatalf("IR version %d after quantizing to opset 13, want 7 or more", m.IRVersion)
	}
	var names []string
	for _, in := range m.Graph.Inputs {
		names = append(names, in.Name)
	}
	if len(names) != 1 || names[0] != "x" {
		t.Errorf("graph inputs %v, want only x", names)
	}
	quantized := false
	for _, n := range m.Graph.Nodes {
		if n.OpType == "DequantizeLinear" && n.Input(0) != nil && n.Input(0).Const != nil {
			quantized = true
		}
	}
	if !quantized {
		t.Error("no weight was quantized")
	}
}
