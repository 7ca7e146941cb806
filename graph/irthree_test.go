package graph

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// irModel is x + w with w an initializer declared as an input, as models
// before IR version 4 must, at the given IR version.
func irModel(t *testing.T, ir int64) *Model {
	t.Helper()
	s := func(v string) *string { return &v }
	f32 := int32(onnxpb.TensorProto_FLOAT)
	elem := &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32,
		Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 2}}}}}}}
	p := &onnxpb.ModelProto{
		IrVersion:   &ir,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(6)}},
		Graph: &onnxpb.GraphProto{
			Name:        s("g"),
			Node:        []*onnxpb.NodeProto{{OpType: s("Add"), Input: []string{"x", "w"}, Output: []string{"y"}}},
			Initializer: []*onnxpb.TensorProto{{Name: s("w"), DataType: &f32, Dims: []int64{2}, FloatData: []float32{1, 2}}},
			Input:       []*onnxpb.ValueInfoProto{{Name: s("x"), Type: elem}, {Name: s("w"), Type: elem}},
			Output:      []*onnxpb.ValueInfoProto{{Name: s("y"), Type: elem}},
		},
	}
	data, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// savedInputs adds an initializer to m, encodes it and returns the
// names of the saved graph's inputs.
func savedInputs(t *testing.T, m *Model) []string {
	t.Helper()
	c, err := FromFloat32s("folded", []int64{2}, []float32{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Graph.AddInitializer(c); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range encodeProto(t, m).GetGraph().GetInput() {
		names = append(names, in.GetName())
		if in.GetType().GetTensorType() == nil {
			t.Errorf("input %q saved without a tensor type", in.GetName())
		}
	}
	return names
}

// Before IR version 4 the checker wants every initializer among the
// graph inputs: one a pass adds (a folded Constant) is declared when
// saved, once; from version 4 initializers stay out of the inputs.
func TestInitializersDeclaredAsInputsBeforeIR4(t *testing.T) {
	if got, want := savedInputs(t, irModel(t, 3)), []string{"x", "w", "folded"}; !slices.Equal(got, want) {
		t.Errorf("IR 3 inputs %v, want %v", got, want)
	}
	if got, want := savedInputs(t, irModel(t, 7)), []string{"x", "w"}; !slices.Equal(got, want) {
		t.Errorf("IR 7 inputs %v, want %v", got, want)
	}
}
