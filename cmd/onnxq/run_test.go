// run_test.go checks the run command: inputs from .npy, .npz, .pb files
// and sample folders, --random, output files with file-safe names, and one
// line errors for missing or mismatched inputs and unsupported ops.
package main

import (
	"archive/zip"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

// saveModel builds a model with build and saves it as dir/name.
func saveModel(t *testing.T, dir, name string, build func(b *graph.Builder)) string {
	t.Helper()
	b := graph.NewBuilder(17)
	build(b)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := graph.Save(m, path, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// namedOutput adds Identity(v) named name as a graph output.
func namedOutput(t *testing.T, b *graph.Builder, v *graph.Value, name string) {
	t.Helper()
	n := &graph.Node{OpType: "Identity", Name: "id_" + name, Inputs: []*graph.Value{v}}
	if err := b.Graph().AddNode(n, name); err != nil {
		t.Fatal(err)
	}
	b.Output(n.Outputs[0])
}

// addReluModel computes "z:0" = Relu(x:0 + y) and "z/0" = x:0 + y, whose
// file-safe names clash.
func addReluModel(t *testing.T, dir string) string {
	return saveModel(t, dir, "addrelu.onnx", func(b *graph.Builder) {
		x := b.Input("x:0", graph.Float32, 2, 3)
		y := b.Input("y", graph.Float32, 2, 3)
		s := b.Op("Add", x, y)
		namedOutput(t, b, b.Op("Relu", s), "z:0")
		namedOutput(t, b, s, "z/0")
	})
}

func f32(shape []int, vals ...float32) *runtime.Tensor { return runtime.FromFloat32(shape, vals) }

var (
	xData = f32([]int{2, 3}, 1, -2, 3, -4, 5, -6)
	yData = f32([]int{2, 3}, 0.5, 0.5, -5, 5, 0, 0)
)

func writeNpy(t *testing.T, path string, x *runtime.Tensor) string {
	t.Helper()
	if err := tensorio.WriteNpy(path, x); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkReluOutputs reads the two outputs of addReluModel from dir.
func checkReluOutputs(t *testing.T, dir string) {
	t.Helper()
	want := map[string][]float32{
		"z_0.npy":   {1.5, 0, 0, 1, 5, 0},
		"z_0_2.npy": {1.5, -1.5, -2, 1, 5, -6},
	}
	for file, w := range want {
		got, err := tensorio.ReadNpy(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != "float32[2,3]" {
			t.Fatalf("%s: %s", file, got)
		}
		for i, v := range got.F32() {
			if v != w[i] {
				t.Fatalf("%s = %v, want %v", file, got.F32(), w)
			}
		}
	}
}

func TestRunInputForms(t *testing.T) {
	dir := t.TempDir()
	model := addReluModel(t, dir)
	xf := writeNpy(t, filepath.Join(dir, "x.npy"), xData)
	yf := writeNpy(t, filepath.Join(dir, "y.npy"), yData)

	npz := filepath.Join(dir, "both.npz")
	if err := tensorio.WriteNpz(npz, []tensorio.Named{{Name: "x:0", Tensor: xData}, {Name: "y", Tensor: yData}}, true); err != nil {
		t.Fatal(err)
	}
	safeNpz := filepath.Join(dir, "safe.npz")
	if err := tensorio.WriteNpz(safeNpz, []tensorio.Named{{Name: "x_0", Tensor: xData}}, false); err != nil {
		t.Fatal(err)
	}
	positional := filepath.Join(dir, "positional.npz")
	if err := tensorio.WriteNpz(positional, []tensorio.Named{{Name: "arr_0", Tensor: xData}, {Name: "arr_1", Tensor: yData}}, false); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "x.pb")
	if err := tensorio.WritePb(pb, "x:0", xData); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(dir, "sample_000")
	os.Mkdir(sample, 0o755)
	writeNpy(t, filepath.Join(sample, "x_0.npy"), xData)
	writeNpy(t, filepath.Join(sample, "y.npy"), yData)
	mapped := filepath.Join(dir, "mapped", "sample_000")
	os.MkdirAll(mapped, 0o755)
	os.WriteFile(filepath.Join(dir, "mapped", "inputs.json"), []byte(`{"x:0": "first.npy"}`), 0o644)
	writeNpy(t, filepath.Join(mapped, "first.npy"), xData)
	writeNpy(t, filepath.Join(mapped, "y.npy"), yData)

	for _, inputs := range [][]string{
		{"--input", "x:0=" + xf, "--input", "y=" + yf},
		{"-i", "y=" + yf, "-i", "x:0=" + xf},
		{"--input", npz},
		{"--input", positional},                         // numpy.savez without names
		{"--input", "y=" + npz, "--input", "x:0=" + xf}, // the array named y
		{"--input", safeNpz, "--input", yf},             // by file-safe name; y.npy by its name
		{"--input", pb, "--input", "y=" + yf},           // the .pb's stored name
		{"--input-dir", sample},
		{"--input", sample},
		{"--input-dir", mapped},
		{"--input", "x:0=" + xf, "--input-dir", mapped},
	} {
		out := filepath.Join(t.TempDir(), "out")
		args := append([]string{"run", model, "-o", out}, inputs...)
		r := onnxq(t, dir, args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("onnxq %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		checkReluOutputs(t, out)
		for _, want := range []string{"input   x:0", "output  z:0", "min 0  max 5  mean 1.25", "-> " + filepath.Join(out, "z_0_2.npy"), "ran 4 nodes in"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("onnxq %q: stdout lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
}

func TestRunSummaryWithoutOutput(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "relu.onnx", func(b *graph.Builder) {
		b.Output(b.Op("Relu", b.Input("x", graph.Float32, 4)))
	})
	xf := writeNpy(t, filepath.Join(dir, "in.npy"), f32([]int{4}, float32(math.NaN()), -1, 2, 4))
	r := onnxq(t, dir, "run", model, "--input", xf, "--threads", "1") // the only input
	if r.code != 0 || !strings.Contains(r.stdout, "min 0  max 4  mean 2  NaN 1") || !strings.Contains(r.stdout, "on 1 thread,") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("run without -o wrote files: %v", entries)
	}
}

func TestRunRandom(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "dyn.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, -1, 3)
		namedOutput(t, b, b.Op("Relu", x), "r")
		namedOutput(t, b, b.Input("n", graph.Int64, 5), "n_out")
		namedOutput(t, b, b.Input("flag", graph.Bool, 4), "flag_out")
	})
	read := func(out, name string) *runtime.Tensor {
		x, err := tensorio.ReadNpy(filepath.Join(out, name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	run := func(args ...string) string {
		out := t.TempDir()
		args = append([]string{"run", model, "--random", "-o", out}, args...)
		r := onnxq(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("onnxq %q: exit %d, stderr %s", args, r.code, r.stderr)
		}
		return out
	}
	a, b, c := run("--seed", "7"), run("--seed", "7"), run("--seed", "8", "--shape", "x=4,3")
	if got := read(a, "r"); got.String() != "float32[1,3]" {
		t.Errorf("symbolic dimension not 1: %s", got)
	}
	if got := read(c, "r"); got.String() != "float32[4,3]" {
		t.Errorf("--shape not applied: %s", got)
	}
	if read(a, "r").F32()[2] != read(b, "r").F32()[2] || read(a, "n_out").I64()[4] != read(b, "n_out").I64()[4] {
		t.Error("the same seed made different inputs")
	}
	for _, v := range read(a, "n_out").I64() {
		if v < 0 || v > 20 {
			t.Errorf("made-up integers not small: %v", read(a, "n_out").Data)
		}
	}
	if read(a, "flag_out").DType != graph.Bool {
		t.Error("bool input not made up as bool")
	}
	// An input given by file is not made up; the others are.
	xf := writeNpy(t, filepath.Join(dir, "x.npy"), f32([]int{2, 3}, 1, 2, 3, 4, 5, 6))
	d := run("--input", "x="+xf)
	if got := read(d, "r"); got.F32()[5] != 6 {
		t.Errorf("file input replaced by random data: %v", got.F32())
	}
}

// TestNormalSourceMatchesORT pins the generator to the numbers ort-run.js
// draws (node -e with its rng function) for seeds 1 and 42.
func TestNormalSourceMatchesORT(t *testing.T) {
	for seed, want := range map[int64][]float64{
		1:  {0.9659740590135758, 1.1231041937508899, -0.04922786278570801, -0.1808915033141504, 1.306054829122388},
		42: {-0.9561622293825863, -0.27302610488160717, -1.8416271847805765, -1.1408820709524148, -0.5294337937142983},
		-1: {0.17357398762023046, 0.7679884283507272, -0.5624472353151019, -0.8671028727240552, 1.992808504897968},
	} {
		s := newNormalSource(seed)
		for i, w := range want {
			if got := s.normal(); math.Abs(got-w) > 1e-15 {
				t.Errorf("seed %d: draw %d is %.17g, ort-run.js draws %.17g", seed, i, got, w)
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	model := addReluModel(t, dir)
	xf := writeNpy(t, filepath.Join(dir, "x.npy"), xData)
	yf := writeNpy(t, filepath.Join(dir, "y.npy"), yData)
	f64 := writeNpy(t, filepath.Join(dir, "f64.npy"), &runtime.Tensor{DType: graph.Float64, Shape: []int{2, 3}, Data: make([]float64, 6)})
	rank := writeNpy(t, filepath.Join(dir, "rank.npy"), f32([]int{6}, 1, 2, 3, 4, 5, 6))
	dim := writeNpy(t, filepath.Join(dir, "dim.npy"), f32([]int{2, 2}, 1, 2, 3, 4))
	bad := filepath.Join(dir, "bad.npy")
	os.WriteFile(bad, []byte("\x93NUMPY\x01\x00\x04\x00{}  "), 0o644)
	npz := filepath.Join(dir, "other.npz")
	tensorio.WriteNpz(npz, []tensorio.Named{{Name: "w", Tensor: xData}}, false)
	two := filepath.Join(dir, "two.npz")
	tensorio.WriteNpz(two, []tensorio.Named{{Name: "a", Tensor: xData}, {Name: "b", Tensor: xData}}, false)
	// A member whose header declares 10^9 values and holds none: its
	// shape is refused from the header, before any data is read.
	huge := filepath.Join(dir, "huge.npz")
	writeHeaderOnlyNpz(t, huge, "y", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }")
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	// an input file where -o would write output z:0
	os.Mkdir(filepath.Join(dir, "clash"), 0o755)
	clash := writeNpy(t, filepath.Join(dir, "clash", "z_0.npy"), yData)
	// An op of a custom domain, which no kernel implements.
	g := graph.NewGraph("custom")
	x, _ := g.AddInput("x", graph.Float32, graph.Fixed(2))
	n := &graph.Node{OpType: "Frobnicate", Domain: "com.example", Name: "frob", Inputs: []*graph.Value{x}}
	if err := g.AddNode(n, "y"); err != nil {
		t.Fatal(err)
	}
	g.AddOutput(n.Outputs[0])
	m := graph.NewModel(g, 17)
	m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: "com.example", Version: 1})
	unsupported := filepath.Join(dir, "custom.onnx")
	if err := graph.Save(m, unsupported, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Conv of kernel 3 over a signal of symbolic length: made up, the
	// length is 1 and the Conv fails; the error says why.
	sg := graph.NewGraph("signal")
	sx, _ := sg.AddInput("x", graph.Float32, graph.Shape{{Size: 1}, {Size: 1}, {Size: -1, Param: "samples"}})
	kernel, err := graph.FromFloat32s("k", []int64{1, 1, 3}, []float32{1, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	kv, _ := sg.AddInitializer(kernel)
	conv := &graph.Node{OpType: "Conv", Name: "filter", Inputs: []*graph.Value{sx, kv}}
	if err := sg.AddNode(conv, "y"); err != nil {
		t.Fatal(err)
	}
	sg.AddOutput(conv.Outputs[0])
	signal := filepath.Join(dir, "signal.onnx")
	if err := graph.Save(graph.NewModel(sg, 17), signal, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Two inputs of one named batch size, fed different ones.
	batched := saveModel(t, dir, "batched.onnx", func(b *graph.Builder) {
		a, _ := b.Graph().AddInput("a", graph.Float32, graph.Shape{{Param: "batch", Size: -1}, {Size: 2}})
		c, _ := b.Graph().AddInput("c", graph.Float32, graph.Shape{{Param: "batch", Size: -1}, {Size: 2}})
		b.Output(b.Op("Add", a, c))
	})
	batch1 := writeNpy(t, filepath.Join(dir, "batch1.npy"), f32([]int{1, 2}, 1, 2))
	batch2 := writeNpy(t, filepath.Join(dir, "batch2.npy"), f32([]int{2, 2}, 1, 2, 3, 4))
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"run", batched, "-i", "a=" + batch1, "-i", "c=" + batch2}, `dimension "batch" of input "c" is 2 here but 1 in ` + batch1},
		{[]string{"run", signal, "--random"}, "the made-up inputs took size 1 for x's samples: give real sizes with --shape NAME=DIMS"},
		{[]string{"run", model, "--input", "x:0=" + xf}, `missing input "y" (float32[2,3]): give --input y=FILE, or --random`},
		{[]string{"run", model, "--input", "x:0=" + f64, "-i", "y=" + yf}, `f64.npy: input "x:0" is float32[2,3], the file holds float64[2,3] (convert the array to float32)`},
		{[]string{"run", model, "--input", "x:0=" + rank, "-i", "y=" + yf}, `input "x:0" is float32[2,3] (rank 2), the file holds float32[6] (rank 1)`},
		{[]string{"run", model, "--input", "x:0=" + dim, "-i", "y=" + yf}, `dimension 1 differs`},
		{[]string{"run", model, "--input", "x:0=" + bad, "-i", "y=" + yf}, `bad.npy: .npy header has no 'descr'`},
		{[]string{"run", model, "--input", "nope=" + xf}, `--input nope=` + xf + `: the model has no input "nope" (inputs: x:0, y)`},
		{[]string{"run", model, "--input", "y=" + yf, "--input", "y=" + yf}, `input "y" is given twice`},
		{[]string{"run", model, "--input", "x:0=" + filepath.Join(dir, "missing.npy")}, "no such file"},
		{[]string{"run", model, "--input", npz}, `array "w" matches no input of the model`},
		{[]string{"run", model, "--input", "y=" + two}, `holds 2 arrays, none named "y"`},
		{[]string{"run", model, "--input", "y=" + huge}, `input "y" is float32[2,3] (rank 2), the file holds float32[1000000000] (rank 1)`},
		{[]string{"run", model, "--input", huge}, `array "y": input "y" is float32[2,3] (rank 2)`},
		{[]string{"run", model, "--input", xf}, `file "x" matches no input of the model (inputs: x:0, y); use NAME=FILE`},
		{[]string{"run", model, "--random", "--shape", "q=1"}, `--shape q: the model has no input "q"`},
		{[]string{"run", model, "--random", "--shape", "y=3,3"}, `input "y" is float32[2,3], which does not fit [3 3]`},
		{[]string{"run", model, "--input-dir", filepath.Join(dir, "nowhere")}, "--input-dir: " + filepath.Join(dir, "nowhere") + ": no such file"},
		{[]string{"run", model, "--input-dir", empty, "--input", "x:0=" + xf}, `missing input "y" (float32[2,3]): give a file for it in ` + empty + `, --input y=FILE, or --random`},
		{[]string{"run", unsupported, "--random"}, `no kernel for op Frobnicate (domain com.example`},
		{[]string{"run", model, "-i", "x:0=" + xf, "-i", "y=" + clash, "-o", filepath.Join(dir, "clash")}, "refusing to overwrite the file of input y"},
		{[]string{"run", filepath.Join(dir, "missing.onnx"), "--random"}, "missing.onnx"},
	}
	for _, c := range cases {
		r := onnxq(t, dir, c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("onnxq %q: exit %d (want 1), stderr %q, want %q", c.args, r.code, r.stderr, c.msg)
		}
		oneErrorLine(t, r, c.args)
	}
}

func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	model := addReluModel(t, dir)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"run"}, "run needs a MODEL"},
		{[]string{"run", model, model}, "run takes one model"},
		{[]string{"run", model, "--threads", "-1"}, "--threads -1"},
		{[]string{"run", model, "--shape", "x"}, "want NAME=DIMS"},
		{[]string{"run", model, "--seed", "pi"}, "invalid argument"},
	} {
		r := onnxq(t, dir, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) || !strings.HasSuffix(r.stderr, "(onnxq help run shows the usage)\n") {
			t.Errorf("onnxq %q: exit %d (want 2), stderr:\n%s", c.args, r.code, r.stderr)
		}
		oneErrorLine(t, r, c.args)
	}
}

// TestRunWritesPbForOtherTypes checks that outputs NumPy has no type for
// are written as TensorProto files.
func TestRunWritesPbForOtherTypes(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "bf16.onnx", func(b *graph.Builder) {
		namedOutput(t, b, b.Input("x", graph.BFloat16, 2), "y:0")
	})
	out := filepath.Join(dir, "out")
	r := onnxq(t, dir, "run", model, "--random", "-o", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	_, arrays, err := tensorio.ReadFile(filepath.Join(out, "y_0.pb"))
	if err != nil || arrays[0].Name != "y:0" || arrays[0].Tensor.String() != "bfloat16[2]" {
		t.Errorf("y_0.pb: %v %v", arrays, err)
	}
}

// writeHeaderOnlyNpz writes a .npz whose one stored member, array name,
// is a .npy header (dict, padded as NumPy pads it) without data.
func writeHeaderOnlyNpz(t *testing.T, path, name, dict string) {
	t.Helper()
	header := dict + strings.Repeat(" ", 63-(10+len(dict))%64) + "\n"
	member := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	member = append(member, header...)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
	if err == nil {
		_, err = w.Write(member)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// run -o writes all the outputs or none: a folder where the second goes
// fails the command before the first is written, and a second run over a
// complete folder replaces every file.
func TestRunOutputsAllOrNone(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "two.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 3)
		b.Output(b.Op("Neg", x), b.Op("Abs", x))
	})
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "abs1_out0.npy"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := onnxq(t, dir, "run", model, "--random", "-o", out)
	entries, _ := os.ReadDir(out)
	if r.code != 1 || len(entries) != 1 || !strings.Contains(r.stderr, "is a folder") {
		t.Fatalf("exit %d, %v in the output folder, stderr %q: want 1, only the folder there, and a line saying it is a folder", r.code, entries, r.stderr)
	}
	os.Remove(filepath.Join(out, "abs1_out0.npy"))
	if r := onnxq(t, dir, "run", model, "--random", "-o", out); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	entries, _ = os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("output folder holds %q, want the two outputs alone (no staging folder left)", names)
	}
}
