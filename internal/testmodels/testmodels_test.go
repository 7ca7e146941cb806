package testmodels

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// modelsDir is where `go generate` writes the models.
const modelsDir = "../../testdata/models"

// TestCommittedModelsUpToDate rebuilds every model in memory and compares
// it with the committed file, so the files never go stale.
func TestCommittedModelsUpToDate(t *testing.T) {
	for _, m := range All() {
		want, err := m.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(modelsDir, m.Name+".onnx"))
		if err != nil {
			t.Errorf("%v (run go generate ./internal/testmodels)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.onnx differs from what the code builds (run go generate ./internal/testmodels)", m.Name)
		}
	}
}

// TestModelsLoadAndRoundTrip loads each committed file, checks it, and
// re-encodes it to the same bytes.
func TestModelsLoadAndRoundTrip(t *testing.T) {
	for _, m := range All() {
		path := filepath.Join(modelsDir, m.Name+".onnx")
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := graph.Load(path)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if err := g.Verify(); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
		if v, _ := g.Opset(""); v != m.Opset {
			t.Errorf("%s: opset %d, want %d", m.Name, v, m.Opset)
		}
		got, err := graph.Encode(g)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: re-encoded model differs (%d bytes, want %d)", m.Name, len(got), len(want))
		}
	}
}

// TestModelsCoverIR checks that the models hold what the package promises.
func TestModelsCoverIR(t *testing.T) {
	ops := map[string]bool{}
	types := map[graph.DType]bool{}
	symbolic, subgraphReadsOuter, functions, metadata := false, false, false, false
	for _, m := range All() {
		g, err := m.Decode()
		if err != nil {
			t.Fatal(err)
		}
		functions = functions || len(g.Functions) > 0
		metadata = metadata || len(g.Metadata) > 0
		g.Graph.Walk(func(sg *graph.Graph) {
			for _, v := range sg.Inputs {
				for _, d := range v.Shape {
					symbolic = symbolic || d.Param != ""
				}
			}
			for _, v := range sg.Initializers {
				types[v.DType] = true
			}
			for _, n := range sg.Nodes {
				ops[n.OpType] = true
				for _, in := range n.Inputs {
					if in != nil && in.Graph != sg {
						subgraphReadsOuter = true
					}
				}
			}
		})
	}
	for _, op := range []string{"Conv", "Relu", "MaxPool", "Gemm", "MatMul", "Add", "Softmax", "If", "Constant", "DequantizeLinear"} {
		if !ops[op] {
			t.Errorf("no model uses %s", op)
		}
	}
	for _, dt := range []graph.DType{graph.Float32, graph.Int64, graph.Int8, graph.Uint8, graph.Float16, graph.Bool, graph.String, graph.Int4} {
		if !types[dt] {
			t.Errorf("no initializer of type %v", dt)
		}
	}
	if !symbolic || !subgraphReadsOuter || !functions || !metadata {
		t.Errorf("symbolic dims %v, subgraph reading an outer value %v, functions %v, metadata %v: want all",
			symbolic, subgraphReadsOuter, functions, metadata)
	}
}

func decoded(t *testing.T, name string) *graph.Model {
	t.Helper()
	mm, ok := ByName(name)
	if !ok {
		t.Fatalf("no model %s", name)
	}
	m, err := mm.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTypedStorage checks that typed-field tensors read back the values
// they were built from.
func TestTypedStorage(t *testing.T) {
	m := decoded(t, "dtypes")
	ints := func(name string) []int64 {
		v, err := m.Graph.Value(name).Const.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := ints("shape_typed"); got[0] != 6 || got[1] != 1 {
		t.Errorf("shape_typed = %v", got)
	}
	if got := ints("zp_i8"); got[0] != -2 {
		t.Errorf("zp_i8 = %v", got)
	}
	if got := ints("q_u8"); got[5] != 255 {
		t.Errorf("q_u8 = %v", got)
	}
	f, err := m.Graph.Value("bias_typed").Const.Float32s()
	if err != nil || f[1] != -1.25 {
		t.Errorf("bias_typed = %v, %v", f, err)
	}
	m4 := decoded(t, "int4")
	w, err := m4.Graph.Value("w_i4").Const.Int64s()
	if err != nil || len(w) != 5 || w[0] != 1 || w[1] != -2 || w[2] != 7 || w[3] != -8 || w[4] != 3 {
		t.Errorf("w_i4 = %v, %v", w, err)
	}
	zp, err := m4.Graph.Value("zp_i4").Const.Int64s()
	if err != nil || zp[0] != -1 {
		t.Errorf("zp_i4 = %v, %v", zp, err)
	}
}

// TestModelsPassONNXChecker runs onnx.checker (Debian's python3-onnx) with
// full_check on the models its version knows.
func TestModelsPassONNXChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import onnx").Run() != nil {
		t.Skip("python3-onnx not installed")
	}
	out, err := exec.Command(py, "-c", "import onnx; print(onnx.defs.onnx_opset_version())").Output()
	if err != nil {
		t.Fatal(err)
	}
	var maxOpset int64
	if _, err := fmt.Sscan(string(out), &maxOpset); err != nil {
		t.Fatal(err)
	}
	script := "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
	for _, m := range All() {
		if m.Opset > maxOpset {
			t.Logf("%s: opset %d is newer than the checker's %d", m.Name, m.Opset, maxOpset)
			continue
		}
		path := filepath.Join(modelsDir, m.Name+".onnx")
		if out, err := exec.Command(py, "-c", script, path).CombinedOutput(); err != nil {
			t.Errorf("onnx.checker rejects %s: %v\n%s", m.Name, err, out)
		}
	}
}

// TestBadWritesEveryCase checks that Bad leaves its inputs on disk.
func TestBadWritesEveryCase(t *testing.T) {
	dir := t.TempDir()
	cases, err := Bad(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.Name] {
			t.Errorf("case %s listed twice", c.Name)
		}
		names[c.Name] = true
		if _, err := os.Stat(c.Path); (err != nil) != (c.Name == "missing") {
			t.Errorf("%s: stat %s: %v", c.Name, c.Path, err)
		}
	}
	if len(cases) < 19 {
		t.Errorf("%d cases, want at least 19", len(cases))
	}
}
