package testmodels

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// BadCase is a malformed input that loading must refuse.
type BadCase struct {
	// Name says what is wrong, as a short identifier.
	Name string
	// Path is the input to load; it may not exist, or be a folder.
	Path string
	// Want is text the load error must contain.
	Want string
}

// Bad writes malformed inputs into dir (which must exist) and returns
// them with the text each load error must contain.
func Bad(dir string) ([]BadCase, error) {
	w := &badWriter{dir: dir}
	good, err := ConvNet()
	if err != nil {
		return nil, err
	}

	// Files that are no model at all.
	w.file("truncated", good[:len(good)/2], "not an ONNX model")
	w.file("random", randomBytes(4096, 7), "not an ONNX model")
	w.file("empty", nil, "empty file")
	folder := filepath.Join(dir, "folder.onnx")
	if w.err == nil {
		w.err = os.MkdirAll(folder, 0o755)
	}
	w.cases = append(w.cases, BadCase{Name: "folder", Path: folder, Want: "is a folder"})
	w.cases = append(w.cases, BadCase{Name: "missing", Path: filepath.Join(dir, "missing.onnx"), Want: "no such file"})

	// Graphs with broken structure.
	w.model("cycle", "nodes form a cycle", func(p *onnxpb.ModelProto) {
		p.Graph.Node = []*onnxpb.NodeProto{
			node("Add", "first", []string{"x", "b"}, "a"),
			node("Relu", "second", []string{"a"}, "b"),
			node("Identity", "last", []string{"a"}, "y"),
		}
	})
	w.model("undefined_input", `reads "nowhere", which no node, input or initializer defines`, func(p *onnxpb.ModelProto) {
		p.Graph.Node[0].Input = []string{"nowhere"}
	})
	w.model("two_producers", `value "y" is produced by two nodes`, func(p *onnxpb.ModelProto) {
		p.Graph.Node = append(p.Graph.Node, node("Neg", "again", []string{"x"}, "y"))
	})
	w.model("no_opset", "imports no operator set", func(p *onnxpb.ModelProto) {
		p.OpsetImport = nil
	})
	w.model("attribute_twice", `gives attribute "axis" twice`, func(p *onnxpb.ModelProto) {
		a := &onnxpb.AttributeProto{Name: str("axis"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}
		p.Graph.Node[0].Attribute = append(p.Graph.Node[0].Attribute, a, a)
	})
	w.model("attribute_type_mismatch", `attribute "strides": of type ints but holding a float value`, func(p *onnxpb.ModelProto) {
		a := &onnxpb.AttributeProto{Name: str("strides"), Type: onnxpb.AttributeProto_INTS.Enum(), F: proto.Float32(2)}
		p.Graph.Node[0].Attribute = append(p.Graph.Node[0].Attribute, a)
	})
	w.model("attribute_schema_type", `attribute "to" is of type float; Cast takes int in opset 17`, func(p *onnxpb.ModelProto) {
		c := node("Cast", "cast", []string{"x"}, "y")
		c.Attribute = []*onnxpb.AttributeProto{{Name: str("to"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(1)}}
		p.Graph.Node = []*onnxpb.NodeProto{c}
	})
	w.model("attribute_untyped", `attribute "group": no type and no value`, func(p *onnxpb.ModelProto) {
		p.Graph.Node[0].Attribute = append(p.Graph.Node[0].Attribute, &onnxpb.AttributeProto{Name: str("group")})
	})
	w.model("attribute_unnamed", "an attribute has no name", func(p *onnxpb.ModelProto) {
		a := &onnxpb.AttributeProto{Name: str(""), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}
		p.Graph.Node[0].Attribute = append(p.Graph.Node[0].Attribute, a)
	})
	w.model("subgraphs_too_deep", "subgraphs nested more than 256 deep", func(p *onnxpb.ModelProto) {
		var body *onnxpb.GraphProto
		for range 300 {
			n := node("If", "if", []string{"x"}, "y")
			if body != nil {
				n.Attribute = []*onnxpb.AttributeProto{{Name: str("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: body}}
			}
			body = &onnxpb.GraphProto{Name: str("level"), Node: []*onnxpb.NodeProto{n}}
		}
		p.Graph.Node = body.Node
	})
	// Versions no ONNX release has.
	w.model("opset_zero", "versions start at 1", func(p *onnxpb.ModelProto) {
		p.OpsetImport[0].Version = proto.Int64(0)
	})
	w.model("opset_future", "the model imports opset 9999; the newest ONNX defines is", func(p *onnxpb.ModelProto) {
		p.OpsetImport[0].Version = proto.Int64(9999)
	})
	w.model("opset_twice", `lists domain "" twice`, func(p *onnxpb.ModelProto) {
		p.OpsetImport = append(p.OpsetImport, p.OpsetImport[0])
	})
	w.model("ir_zero", "IR version 0: ONNX defines IR versions 1 to", func(p *onnxpb.ModelProto) {
		p.IrVersion = proto.Int64(0)
	})
	w.model("ir_future", "IR version 99: ONNX defines IR versions 1 to", func(p *onnxpb.ModelProto) {
		p.IrVersion = proto.Int64(99)
	})
	w.model("ir_one", "IR version 1 with an opset_import", func(p *onnxpb.ModelProto) {
		p.IrVersion = proto.Int64(1)
	})
	w.model("empty_op_type", `node 0 ("add") has no op_type`, func(p *onnxpb.ModelProto) {
		p.Graph.Node[0].OpType = str("")
	})
	w.model("input_no_type", `input "x": no type`, func(p *onnxpb.ModelProto) {
		p.Graph.Input[0].Type = nil
	})

	// Tensor data that disagrees with its shape.
	w.model("raw_size", "12 bytes of data for float32[4] (want 16)", func(p *onnxpb.ModelProto) {
		p.Graph.Initializer[0].RawData = make([]byte, 12)
	})
	w.model("float_data_size", "3 elements in float_data for float32[4] (want 4)", func(p *onnxpb.ModelProto) {
		t := p.Graph.Initializer[0]
		t.RawData, t.FloatData = nil, []float32{1, 2, 3}
	})
	w.model("dims_overflow", "overflow", func(p *onnxpb.ModelProto) {
		t := p.Graph.Initializer[0]
		t.Dims = []int64{1 << 40, 1 << 40, 4}
	})
	// 4 PiB of float32 with 16 bytes of data, raw and typed: refused from
	// the dims alone, before anything that size is allocated.
	w.model("dims_too_big", "more than this machine's memory", func(p *onnxpb.ModelProto) {
		p.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 20, 1 << 10}
	})
	w.model("dims_too_big_typed", "more than this machine's memory", func(p *onnxpb.ModelProto) {
		t := p.Graph.Initializer[0]
		t.Dims, t.RawData, t.FloatData = []int64{1 << 20, 1 << 20, 1 << 10}, nil, []float32{1, 2, 3, 4}
	})

	// External data. data.bin holds 16 bytes, the size of the tensor.
	data := filepath.Join(dir, "data.bin")
	if w.err == nil {
		w.err = os.WriteFile(data, make([]byte, 16), 0o644)
	}
	abs, _ := filepath.Abs(data)
	w.model("external_absolute", "outside the model's folder", external(abs, 0, 16))
	w.modelIn("escape", "external_parent", "outside the model's folder", external("../data.bin", 0, 16))
	w.model("external_missing", `external data file "absent.bin" does not exist`, external("absent.bin", 0, 16))
	w.model("external_past_end", "past the end of", external("data.bin", 8, 16))
	w.model("external_offset_past_end", "past the end of", external("data.bin", 1<<40, 16))
	if w.err != nil {
		return nil, w.err
	}
	return w.cases, nil
}

type badWriter struct {
	dir   string
	cases []BadCase
	err   error
}

func (w *badWriter) file(name string, data []byte, want string) {
	w.fileIn("", name, data, want)
}

func (w *badWriter) fileIn(sub, name string, data []byte, want string) {
	if w.err != nil {
		return
	}
	dir := filepath.Join(w.dir, sub)
	if w.err = os.MkdirAll(dir, 0o755); w.err != nil {
		return
	}
	path := filepath.Join(dir, name+".onnx")
	w.err = os.WriteFile(path, data, 0o644)
	w.cases = append(w.cases, BadCase{Name: name, Path: path, Want: want})
}

// model writes smallModel changed by edit.
func (w *badWriter) model(name, want string, edit func(*onnxpb.ModelProto)) {
	w.modelIn("", name, want, edit)
}

func (w *badWriter) modelIn(sub, name, want string, edit func(*onnxpb.ModelProto)) {
	if w.err != nil {
		return
	}
	p := smallModel()
	edit(p)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		w.err = fmt.Errorf("bad case %s: %w", name, err)
		return
	}
	w.fileIn(sub, name, data, want)
}

func str(s string) *string { return &s }

func node(op, name string, in []string, out string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: str(op), Name: str(name), Input: in, Output: []string{out}}
}

func floatType(dims ...int64) *onnxpb.TypeProto {
	elem := int32(onnxpb.TensorProto_FLOAT)
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem, Shape: shape}}}
}

// smallModel is a valid model, y = x + w, with w a float32[4] initializer
// in raw_data, built straight as a protobuf message so each bad case can
// break exactly one thing.
func smallModel() *onnxpb.ModelProto {
	ir, opset := int64(8), int64(17)
	elem := int32(onnxpb.TensorProto_FLOAT)
	raw := make([]byte, 16)
	for i := range 4 {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(i)))
	}
	return &onnxpb.ModelProto{
		IrVersion:    &ir,
		ProducerName: str("onnxq-testmodels"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: &opset}},
		Graph: &onnxpb.GraphProto{
			Name:        str("small"),
			Initializer: []*onnxpb.TensorProto{{Name: str("w"), DataType: &elem, Dims: []int64{4}, RawData: raw}},
			Input:       []*onnxpb.ValueInfoProto{{Name: str("x"), Type: floatType(4)}},
			Node:        []*onnxpb.NodeProto{node("Add", "add", []string{"x", "w"}, "y")},
			Output:      []*onnxpb.ValueInfoProto{{Name: str("y"), Type: floatType(4)}},
		},
	}
}

// external moves the initializer's data to an external file reference.
func external(location string, offset, length int64) func(*onnxpb.ModelProto) {
	return func(p *onnxpb.ModelProto) {
		t := p.Graph.Initializer[0]
		loc := onnxpb.TensorProto_EXTERNAL
		t.RawData, t.DataLocation = nil, &loc
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: str("location"), Value: str(location)},
			{Key: str("offset"), Value: str(strconv.FormatInt(offset, 10))},
			{Key: str("length"), Value: str(strconv.FormatInt(length, 10))},
		}
	}
}

// randomBytes returns n bytes from a fixed seed.
func randomBytes(n int, seed uint64) []byte {
	r := rng(seed)
	out := make([]byte, 0, n+8)
	for len(out) < n {
		out = binary.LittleEndian.AppendUint64(out, r.next())
	}
	return out[:n]
}
