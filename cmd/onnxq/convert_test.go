package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// sharedModelFiles lists ../shared/models/*.onnx, skipping the test when
// the folder is not there.
func sharedModelFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedModels, "*.onnx"))
	if len(files) == 0 {
		t.Skipf("no models in %s", sharedModels)
	}
	return files
}

func TestConvertRoundTripSharedModels(t *testing.T) {
	dir := t.TempDir()
	for _, in := range sharedModelFiles(t) {
		out := filepath.Join(dir, filepath.Base(in))
		r := onnxq(t, "", "convert", in, "-o", out)
		if r.code != 0 || r.stderr != "" || r.stdout != "" {
			t.Errorf("convert %s: exit %d, stdout %q, stderr %q", in, r.code, r.stdout, r.stderr)
			continue
		}
		want, _ := os.ReadFile(in)
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("convert %s: output differs from the input (%d vs %d bytes, %v)", in, len(got), len(want), err)
		}
		// Nothing but the output: no temporary or data files left over.
		os.Remove(out)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left in the output folder: %v", left)
	}
}

func TestConvertRefusesToOverwriteInput(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	orig, _ := os.ReadFile(model)
	if err := os.Symlink(model, filepath.Join(dir, "link.onnx")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(model, filepath.Join(dir, "hard.onnx")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"convert", "small.onnx", "-o", "small.onnx"},
		{"convert", "small.onnx", "-o", "./small.onnx"},
		{"convert", "small.onnx", "-o", "sub/../small.onnx"},
		{"convert", "small.onnx", "-o", model},
		{"convert", "link.onnx", "-o", "small.onnx"},
		{"convert", "small.onnx", "-o", "link.onnx"},
		{"convert", "small.onnx", "-o", "hard.onnx"},
		// The external data file may not land on the input either.
		{"convert", "small.onnx", "-o", "out.onnx", "--external-data", "1", "--external-data-name", "small.onnx"},
		{"convert", "small.onnx", "-o", "out.onnx", "--external-data", "1", "--external-data-name", "out.onnx"},
	} {
		r := onnxq(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "overwrite") {
			t.Errorf("onnxq %q: exit %d, stderr %q; want a refusal to overwrite", args, r.code, r.stderr)
		}
		oneErrorLine(t, r, args)
		if got, _ := os.ReadFile(model); !bytes.Equal(got, orig) {
			t.Fatalf("onnxq %q changed the input model", args)
		}
		if _, err := os.Stat(filepath.Join(dir, "out.onnx")); err == nil {
			t.Fatalf("onnxq %q wrote out.onnx", args)
		}
	}
}

// TestConvertRefusesToOverwriteInputData checks that the output cannot
// replace the external data file the input model reads.
func TestConvertRefusesToOverwriteInputData(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	if r := onnxq(t, dir, "convert", model, "-o", "ext.onnx", "--external-data", "64"); r.code != 0 {
		t.Fatalf("convert --external-data: %s", r.stderr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "ext.onnx.data"))
	for _, args := range [][]string{
		{"convert", "ext.onnx", "-o", "ext.onnx.data"},
		{"convert", "ext.onnx", "-o", "other.onnx", "--external-data", "1", "--external-data-name", "ext.onnx.data"},
	} {
		r := onnxq(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "external data of the input") {
			t.Errorf("onnxq %q: exit %d, stderr %q; want a refusal", args, r.code, r.stderr)
		}
		oneErrorLine(t, r, args)
		if got, _ := os.ReadFile(filepath.Join(dir, "ext.onnx.data")); !bytes.Equal(got, data) {
			t.Fatalf("onnxq %q changed the input's external data", args)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "other.onnx")); err == nil {
		t.Errorf("a refused conversion wrote other.onnx")
	}
}

// TestConvertErrorsLeaveNoOutput feeds bad inputs: each gives one error
// line and exit 1, and nothing appears in the output folder.
func TestConvertErrorsLeaveNoOutput(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	good, _ := os.ReadFile(model)
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(bad, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name, input, msg string
	}{
		{"missing", filepath.Join(bad, "missing.onnx"), "no such file"},
		{"folder", bad, "is a folder"},
		{"empty", write("empty.onnx", nil), "empty file"},
		{"random", write("random.onnx", random), "not an ONNX model"},
		{"truncated", write("truncated.onnx", good[:len(good)/2]), ""},
		{"text", write("text.onnx", []byte("this is not a model\n")), ""},
	}
	outDir := t.TempDir()
	for _, c := range cases {
		out := filepath.Join(outDir, c.name+".onnx")
		args := []string{"convert", c.input, "-o", out, "--external-data", "1"}
		r := onnxq(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", c.name, r.code, r.stderr, c.msg)
		}
		oneErrorLine(t, r, args)
	}
	// Output paths that cannot be written.
	for _, c := range []struct{ out, msg string }{
		{filepath.Join(outDir, "no", "such", "dir.onnx"), "does not exist"},
		{outDir, "is a folder"},
	} {
		args := []string{"convert", model, "-o", c.out}
		r := onnxq(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("onnxq %q: exit %d, stderr %q; want %q", args, r.code, r.stderr, c.msg)
		}
		oneErrorLine(t, r, args)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Errorf("failed conversions left files: %v", left)
	}
}

func TestConvertExternalData(t *testing.T) {
	dir := t.TempDir()
	inputs := []string{testModel(t, dir)}
	if files, _ := filepath.Glob(filepath.Join(sharedModels, "*.onnx")); len(files) > 0 {
		inputs = append(inputs, files[0], filepath.Join(sharedModels, "ppocr_cls_mobile_v2.onnx")) // Constant-node weights
	}
	for i, in := range inputs {
		if _, err := os.Stat(in); err != nil {
			continue
		}
		sub := filepath.Join(dir, "out"+string(rune('a'+i)))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(sub, "model.onnx")
		r := onnxq(t, "", "convert", in, "-o", out, "--external-data", "128B")
		if r.code != 0 {
			t.Fatalf("convert %s --external-data: %s", in, r.stderr)
		}
		dataFile := out + ".data"
		st, err := os.Stat(dataFile)
		if err != nil || st.Size() == 0 {
			t.Fatalf("convert %s: no external data file (%v)", in, err)
		}
		inSt, _ := os.Stat(in)
		outSt, _ := os.Stat(out)
		if outSt.Size() >= inSt.Size() {
			t.Errorf("convert %s: model with external data is %d bytes, the input %d", in, outSt.Size(), inSt.Size())
		}
		orig, err := graph.Load(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := graph.Load(out)
		if err != nil {
			t.Fatalf("loading %s: %v", out, err)
		}
		sameTensors(t, orig, back, true)

		// A chosen data file name, and back to one self-contained file.
		out2 := filepath.Join(sub, "named.onnx")
		if r := onnxq(t, "", "convert", in, "-o", out2, "--external-data", "100B", "--external-data-name", "weights.bin"); r.code != 0 {
			t.Fatalf("convert --external-data-name: %s", r.stderr)
		}
		if _, err := os.Stat(filepath.Join(sub, "weights.bin")); err != nil {
			t.Errorf("--external-data-name weights.bin: %v", err)
		}
		inline := filepath.Join(sub, "inline.onnx")
		if r := onnxq(t, "", "convert", out, "-o", inline); r.code != 0 {
			t.Fatalf("convert back to inline: %s", r.stderr)
		}
		back2, err := graph.Load(inline)
		if err != nil {
			t.Fatal(err)
		}
		sameTensors(t, orig, back2, false)
	}
}

// sameTensors compares every constant tensor of two models, in order.
func sameTensors(t *testing.T, a, b *graph.Model, wantExternal bool) {
	t.Helper()
	var ta, tb []*graph.Tensor
	forEachTensor(a, func(x *graph.Tensor) { ta = append(ta, x) })
	forEachTensor(b, func(x *graph.Tensor) { tb = append(tb, x) })
	if len(ta) != len(tb) {
		t.Fatalf("%d tensors, want %d", len(tb), len(ta))
	}
	external := 0
	for i := range ta {
		x, y := ta[i], tb[i]
		if y.External() {
			external++
		}
		if x.Name != y.Name || x.DType != y.DType || !slices.Equal(x.Dims, y.Dims) {
			t.Errorf("tensor %d: %s %v%v, want %s %v%v", i, y.Name, y.DType, y.Dims, x.Name, x.DType, x.Dims)
			continue
		}
		if x.DType == graph.String {
			continue
		}
		rx, err1 := x.Raw()
		ry, err2 := y.Raw()
		if err1 != nil || err2 != nil || !bytes.Equal(rx, ry) {
			t.Errorf("tensor %q: data differs (%v, %v)", x.Name, err1, err2)
		}
	}
	if wantExternal && external == 0 {
		t.Errorf("no tensor was read from external data")
	}
	if !wantExternal && external != 0 {
		t.Errorf("%d tensors still external", external)
	}
}
