package main

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/onnxq/onnxq/internal/onnxpb"
)

// One data file spelt two ways (w.data, ./w.data) is one file to copy.
func TestExternalLocationsSpelling(t *testing.T) {
	ext := func(name, loc string) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String(loc)}}}
	}
	m := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{
		ext("a", "w.data"), ext("b", "./w.data"), ext("c", "sub/x.bin"), ext("d", "sub//x.bin"),
	}}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	locs, err := externalLocationsIn("m.onnx", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"w.data", "sub/x.bin"}; !slices.Equal(locs, want) {
		t.Errorf("locations %q, want %q", locs, want)
	}
}
