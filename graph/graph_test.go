package graph

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// sharedDir is the folder of real models and data, beside the repository.
const sharedDir = "../../shared"

func sharedModels(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(sharedDir, "models", "*.onnx"))
	if len(files) == 0 {
		t.Skip("no shared models beside the repository")
	}
	return files
}

// onnxChecker runs onnx.checker.check_model(full_check=True) from Debian's
// python3-onnx on a saved model.
func onnxChecker(t *testing.T, path string) {
	t.Helper()
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import onnx").Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-onnx is not installed (CI installs it in .ci/run)")
		}
		t.Skip("python3-onnx not installed")
	}
	script := "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

func TestBuiltModelPassesChecker(t *testing.T) {
	b := NewBuilder(17)
	x := b.Input("x", Float32, 1, 4)
	w := b.Const(FromFloat32s("w", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}))
	y := b.Op("MatMul", x, w)
	z := b.Op("Relu", y)
	b.Output(z)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "built.onnx")
	if err := Save(m, path, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	onnxChecker(t, path)
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := DumpString(back.Graph), DumpString(m.Graph); got != want {
		t.Errorf("reloaded model differs:\n%s\nwant:\n%s", got, want)
	}
}

// TestEditedSharedModelPassesChecker changes a real model (a node added
// after an output, an initializer replaced) and checks the result with
// the ONNX checker and by reloading it.
func TestEditedSharedModelPassesChecker(t *testing.T) {
	path := filepath.Join(sharedDir, "models", "mnist_cntk.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skip("shared models not present")
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	// Replace the first initializer with a tensor of the same shape, all halves.
	init := g.Initializers[0]
	vals := make([]float32, init.Const.NumElements())
	for i := range vals {
		vals[i] = 0.5
	}
	nt, err := FromFloat32s("", init.Const.Dims, vals)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetConst(init, nt); err != nil {
		t.Fatal(err)
	}
	// Add a Relu after the model's output and make it the new output.
	out := g.Outputs[0]
	relu := &Node{Name: "extra_relu", OpType: "Relu", Inputs: []*Value{out}}
	if err := g.AddNode(relu, "relu_out"); err != nil {
		t.Fatal(err)
	}
	g.Outputs[0] = relu.Outputs[0]
	relu.Outputs[0].DType = Float32
	relu.Outputs[0].Shape = Fixed(1, 10)
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "edited.onnx")
	if err := Save(m, dst, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	onnxChecker(t, dst)
	back, err := Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	if back.Graph.Outputs[0].Name != "relu_out" || back.Graph.Outputs[0].Producer.OpType != "Relu" {
		t.Fatalf("edited output not saved: %s", DumpString(back.Graph))
	}
	got, err := back.Graph.Value(init.Name).Const.Float32s()
	if err != nil || got[0] != 0.5 || got[len(got)-1] != 0.5 {
		t.Fatalf("replaced initializer not saved: %v %v", got[:1], err)
	}
	if !strings.Contains(DumpString(back.Graph), "extra_relu: relu_out = Relu(") {
		t.Fatal("dump does not show the added node")
	}
}

// TestSharedModelsRoundTrip checks that loading and saving each real model
// gives the same bytes.
func TestSharedModelsRoundTrip(t *testing.T) {
	for _, f := range sharedModels(t) {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		got, err := Encode(m)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: re-encoded model differs (%d bytes, want %d)", f, len(got), len(want))
		}
	}
}

func TestRemoveInitializer(t *testing.T) {
	b := NewBuilder(17)
	x := b.Input("x", Float32, 2)
	w := b.Const(FromFloat32s("w", []int64{2}, []float32{1, 2}))
	unused := b.Const(FromFloat32s("unused", []int64{1}, []float32{3}))
	b.Output(b.Op("Add", x, w))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	if err := g.RemoveInitializer(w); err == nil {
		t.Fatal("removed an initializer that a node reads")
	}
	if err := g.RemoveInitializer(unused); err != nil {
		t.Fatal(err)
	}
	if g.Value("unused") != nil || len(g.Initializers) != 1 {
		t.Fatal("initializer still in scope")
	}
	if _, err := g.AddInitializer(must(FromFloat32s("unused", []int64{1}, []float32{4}))); err != nil {
		t.Fatalf("name not free again: %v", err)
	}
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
}

func must(t *Tensor, err error) *Tensor {
	if err != nil {
		panic(err)
	}
	return t
}

// A value whose shape is known but not its element type (inferred in a
// subgraph whose outputs the file left untyped) is saved without a type:
// a tensor type of elem_type 0 is invalid, and ONNX Runtime refuses the
// file.
func TestSaveOmitsTypeWithoutElementType(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, 2, 3)
	y := b.Op("Relu", x)
	b.Output(b.Op("Neg", y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	y.DType, y.Shape = Undefined, Fixed(2, 3)
	m.Graph.ValueInfos = append(m.Graph.ValueInfos, y)
	p := encodeProto(t, m)
	found := false
	for _, vi := range p.GetGraph().GetValueInfo() {
		if vi.GetName() == y.Name {
			found = true
			if vi.Type != nil {
				t.Errorf("%s saved with type %v", y.Name, vi.Type)
			}
		}
	}
	if !found {
		t.Errorf("%s not among the value infos", y.Name)
	}
}

// The outputs of an If's branches that the file leaves untyped stay
// untyped through inference and saving: ONNX Runtime infers them, and a
// one-element vector written for a value its Range reads as a scalar
// makes it refuse the file.
func TestSaveKeepsUntypedSubgraphOutputs(t *testing.T) {
	path := filepath.Join(sharedDir, "onnx", "node-tests", "test_affine_grid_2d_expanded", "model.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skip("node tests not found")
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := InferShapes(m); err != nil {
		t.Fatal(err)
	}
	inferred := 0
	m.Graph.Walk(func(g *Graph) {
		if g.Parent != nil {
			for _, v := range g.Outputs {
				if v.DType != Undefined {
					inferred++
				}
			}
		}
	})
	if inferred == 0 {
		t.Fatal("inference typed no branch output: the test shows nothing")
	}
	p := encodeProto(t, m)
	var check func(g *onnxpb.GraphProto, sub bool)
	check = func(g *onnxpb.GraphProto, sub bool) {
		for _, v := range g.GetOutput() {
			if sub && v.Type != nil {
				t.Errorf("branch output %s saved with type %v", v.GetName(), v.Type)
			}
		}
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					check(a.GetG(), true)
				}
			}
		}
	}
	check(p.GetGraph(), false)
}

// encodeProto saves m and decodes the bytes back into the schema's message.
func encodeProto(t *testing.T, m *Model) *onnxpb.ModelProto {
	t.Helper()
	data, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var p onnxpb.ModelProto
	if err := proto.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// Compatible: same rank, and the dimensions both know agree.
func TestShapeCompatible(t *testing.T) {
	sym := Shape{{Size: -1, Param: "n"}, {Size: 3}}
	for _, c := range []struct {
		a, b Shape
		want bool
	}{
		{sym, Fixed(5, 3), true},
		{sym, Fixed(5, 4), false},
		{sym, Fixed(3), false},
		{Fixed(2, 3), Fixed(2, 3), true},
		{Shape{}, Shape{}, true},
	} {
		if got := c.a.Compatible(c.b); got != c.want {
			t.Errorf("%v ~ %v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// A SequenceProto or MapProto read as a tensor (its name taken for dims,
// its field 3 for a segment) is no tensor: DecodeTensor says so instead
// of reading the name's bytes as a shape.
func TestDecodeTensorRefusesOtherValues(t *testing.T) {
	elem, err := proto.Marshal(&onnxpb.TensorProto{Dims: []int64{2}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	// SequenceProto: name 1, elem_type 2 (1: tensor), tensor_values 3;
	// MapProto: name 1, key_type 2, keys 3 (int64s, unpacked).
	named := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("Input3"))
	seq := protowire.AppendVarint(protowire.AppendTag(append([]byte{}, named...), 2, protowire.VarintType), 1)
	seq = protowire.AppendBytes(protowire.AppendTag(seq, 3, protowire.BytesType), elem)
	mp := protowire.AppendVarint(protowire.AppendTag(append([]byte{}, named...), 2, protowire.VarintType), uint64(onnxpb.TensorProto_INT64))
	for _, k := range []uint64{1, 2} {
		mp = protowire.AppendVarint(protowire.AppendTag(mp, 3, protowire.VarintType), k)
	}
	for what, data := range map[string][]byte{"sequence": seq, "map": mp} {
		if _, err := DecodeTensor(data, ""); !errors.Is(err, ErrNotTensor) {
			t.Errorf("a %s: error %v, want one saying it is not a tensor", what, err)
		}
	}
	if got, err := DecodeTensor(elem, ""); err != nil || got.NumElements() != 2 {
		t.Errorf("a tensor: %v, %v", got, err)
	}
}
