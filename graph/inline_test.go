package graph_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"github.com/onnxq/onnxq/runtime"
)

// functionModel calls Twice(x) = Scale(x, alpha 3) + Scale(x, alpha 3)
// and then Scale(·) with alpha left to the function's default 2: y = 12x.
// Scale's body holds an internal value and takes alpha from the caller.
func functionModel(t *testing.T) []byte {
	t.Helper()
	s := proto.String
	i64 := func(v int64) *int64 { return &v }
	f32 := func(v float32) *float32 { return &v }
	attrFloat := onnxpb.AttributeProto_FLOAT
	scale := &onnxpb.FunctionProto{
		Name: s("Scale"), Domain: s("t"), Input: []string{"X"}, Output: []string{"Y"}, Attribute: []string{},
		AttributeProto: []*onnxpb.AttributeProto{{Name: s("alpha"), Type: &attrFloat, F: f32(2)}},
		Node: []*onnxpb.NodeProto{
			{OpType: s("Constant"), Name: s("c"), Output: []string{"k"}, Attribute: []*onnxpb.AttributeProto{{Name: s("value_float"), Type: &attrFloat, RefAttrName: s("alpha")}}},
			{OpType: s("Mul"), Name: s("m"), Input: []string{"X", "k"}, Output: []string{"Y"}},
		},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(18)}},
	}
	twice := &onnxpb.FunctionProto{
		Name: s("Twice"), Domain: s("t"), Input: []string{"X"}, Output: []string{"Y"},
		Node: []*onnxpb.NodeProto{
			{OpType: s("Scale"), Domain: s("t"), Name: s("s"), Input: []string{"X"}, Output: []string{"a"}, Attribute: []*onnxpb.AttributeProto{{Name: s("alpha"), Type: &attrFloat, F: f32(3)}}},
			{OpType: s("Add"), Name: s("add"), Input: []string{"a", "a"}, Output: []string{"Y"}},
		},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(18)}, {Domain: s("t"), Version: i64(1)}},
	}
	elem := int32(onnxpb.TensorProto_FLOAT)
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: s(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: &elem, Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}}}}}}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   i64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: i64(18)}, {Domain: s("t"), Version: i64(1)}},
		Graph: &onnxpb.GraphProto{
			Name: s("g"),
			Node: []*onnxpb.NodeProto{
				{OpType: s("Twice"), Domain: s("t"), Name: s("call1"), Input: []string{"x"}, Output: []string{"y1"}},
				{OpType: s("Scale"), Domain: s("t"), Name: s("call2"), Input: []string{"y1"}, Output: []string{"y"}},
			},
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
		Functions: []*onnxpb.FunctionProto{scale, twice},
	}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Calls of model-local functions, nested and with attributes the body
// takes from the caller or from the function's defaults, become the
// bodies' nodes with names of their own; the model then runs.
func TestInlineFunctions(t *testing.T) {
	m, err := graph.Decode(functionModel(t), "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := graph.InlineFunctions(m)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(m.Functions) != 0 {
		t.Fatalf("%d calls inlined, %d functions left; want 3 and 0", n, len(m.Functions))
	}
	for _, node := range m.Graph.Nodes {
		if node.Domain == "t" {
			t.Fatalf("node %s still calls %s", node.Name, node.OpType)
		}
	}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(map[string]*runtime.Tensor{"x": runtime.FromFloat32([]int{3}, []float32{1, -2, 0.5})})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{12, -24, 6} {
		if got := out["y"].F32()[i]; got != want {
			t.Fatalf("y[%d] = %v, want %v", i, got, want)
		}
	}
	// A model without functions is left alone.
	if n, err := graph.InlineFunctions(m); n != 0 || err != nil {
		t.Fatalf("second pass: %d, %v", n, err)
	}
}
