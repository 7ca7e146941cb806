package graph

import (
	"path/filepath"
	"testing"
)

func arityNode(op string, nIn, nOut int) *Node {
	return &Node{OpType: op, Inputs: make([]*Value, nIn), Outputs: make([]*Value, nOut)}
}

func TestCheckArity(t *testing.T) {
	cases := []struct {
		op       string
		version  int64
		nIn, out int
		want     string // "" for no error
	}{
		{"Conv", 11, 1, 1, "Conv takes 2 to 3 inputs in opset 11, got 1"},
		{"Conv", 11, 3, 1, ""},
		{"Conv", 11, 2, 2, "Conv takes 1 output in opset 11, got 2"},
		{"Relu", 14, 1, 1, ""},
		{"Add", 7, 3, 1, "Add takes 2 inputs in opset 7, got 3"},
		// Clip's min and max became inputs in opset 11.
		{"Clip", 6, 3, 1, "Clip takes 1 input in opset 6, got 3"},
		{"Clip", 11, 3, 1, ""},
		{"Clip", 13, 1, 1, ""},
		// Slice's starts/ends became inputs in opset 10.
		{"Slice", 9, 3, 1, "Slice takes 1 input in opset 9, got 3"},
		{"Slice", 10, 3, 1, ""},
		{"Reshape", 4, 2, 1, "Reshape takes 1 input in opset 4, got 2"},
		{"Reshape", 5, 2, 1, ""},
		{"ReduceMean", 13, 2, 1, "ReduceMean takes 1 input in opset 13, got 2"},
		{"ReduceMean", 18, 2, 1, ""},
		{"ReduceSum", 13, 2, 1, ""},
		{"Pad", 18, 4, 1, ""},
		{"Pad", 13, 4, 1, "Pad takes 2 to 3 inputs in opset 13, got 4"},
		{"Concat", 13, 0, 1, "Concat takes at least 1 input in opset 13, got 0"},
		{"Concat", 13, 40, 1, ""},
		{"Split", 13, 1, 5, ""},
		{"Loop", 16, 1, 1, "Loop takes at least 2 inputs in opset 16, got 1"},
		{"BatchNormalization", 9, 5, 5, ""},
		{"BatchNormalization", 15, 5, 5, "BatchNormalization takes 1 to 3 outputs in opset 15, got 5"},
		{"Constant", 13, 0, 1, ""},
		{"Constant", 13, 1, 1, "Constant takes 0 inputs in opset 13, got 1"},
		// Unknown operators, versions before an operator exists and
		// deprecated versions are not checked.
		{"NoSuchOp", 13, 7, 7, ""},
		{"Gelu", 13, 3, 3, ""},
		{"Upsample", 10, 5, 1, ""},
		{"Upsample", 9, 1, 1, "Upsample takes 2 inputs in opset 9, got 1"},
	}
	for _, c := range cases {
		err := checkArity(arityNode(c.op, c.nIn, c.out), c.version)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s opset %d with %d/%d: got %q, want %q", c.op, c.version, c.nIn, c.out, got, c.want)
		}
	}
}

func TestCheckArityDomains(t *testing.T) {
	n := arityNode("Conv", 1, 1)
	n.Domain = "ai.onnx"
	if checkArity(n, 11) == nil {
		t.Error("ai.onnx is the default domain and must be checked")
	}
	n.Domain = "com.example"
	if err := checkArity(n, 11); err != nil {
		t.Errorf("custom domain: %v", err)
	}
}

// An omitted optional input keeps its place when a later one is present,
// so it counts; trailing ones may simply be left out.
func TestCheckArityOmittedOptional(t *testing.T) {
	x, roi := &Value{Name: "x"}, &Value{Name: "sizes"}
	n := &Node{OpType: "Resize", Inputs: []*Value{x, nil, nil, roi}, Outputs: []*Value{{Name: "y"}}}
	if err := checkArity(n, 13); err != nil {
		t.Error(err)
	}
	n.Inputs = []*Value{x, nil, nil, roi, nil}
	if err := checkArity(n, 13); err == nil {
		t.Error("five Resize inputs accepted")
	}
	bn := &Node{OpType: "Dropout", Inputs: []*Value{x}, Outputs: []*Value{{Name: "y"}, nil}}
	if err := checkArity(bn, 13); err != nil {
		t.Error(err)
	}
}

// Every conformance and shared model loads, and with it passes checkArity.
func TestArityOfConformanceModels(t *testing.T) {
	var files []string
	for _, pat := range []string{
		filepath.Join("..", "..", "shared", "onnx", "node-tests", "*", "model.onnx"),
		"/usr/share/libonnx-testdata/data/*/*/model.onnx",
		filepath.Join("..", "..", "shared", "models", "*.onnx"),
	} {
		f, _ := filepath.Glob(pat)
		files = append(files, f...)
	}
	if len(files) == 0 {
		t.Skip("no conformance models beside the repository")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d models load", len(files))
}

// An attribute of the wrong type for its operator is refused, at any
// opset version the operator's newest signature names it in, but for the
// types that changed: Cast's "to" was a string before opset 6.
func TestCheckAttrTypes(t *testing.T) {
	for _, c := range []struct {
		op      string
		attr    *Attribute
		version int64
		ok      bool
	}{
		{"Conv", IntsAttr("strides", 2, 2), 11, true},
		{"Conv", FloatAttr("strides", 2), 11, false},
		{"Conv", StringAttr("group", "abc"), 22, false},
		{"Conv", IntAttr("auto_pad", 7), 13, false},
		{"Cast", IntAttr("to", 1), 13, true},
		{"Cast", StringAttr("to", "FLOAT"), 1, true},
		{"Cast", StringAttr("to", "FLOAT"), 13, false},
		{"Conv", FloatAttr("no_such_attribute", 1), 13, true},
	} {
		n := &Node{OpType: c.op, Attrs: []*Attribute{c.attr}}
		if err := checkAttrTypes(n, c.version); (err == nil) != c.ok {
			t.Errorf("%s %s %v in opset %d: error %v, want ok %v", c.op, c.attr.Name, c.attr.Type, c.version, err, c.ok)
		}
	}
}
