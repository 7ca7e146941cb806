// golden_test.go checks the golden round trip: golden then verify passes,
// exactly, at any thread count; a flipped weight byte fails naming the
// output and its first differing element; bad input fails cleanly.
package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// sampleDir writes n samples of the convnet test model's input.
func sampleDir(t *testing.T, dir string, n int) string {
	t.Helper()
	m, err := graph.Load(convnetPath(t))
	if err != nil {
		t.Fatal(err)
	}
	in := m.Graph.Inputs[0]
	shape := []int{1}
	for _, d := range in.Shape[1:] {
		shape = append(shape, int(d.Size))
	}
	return writeSamples(t, dir, "data", n, in.Name, shape, func(s, i int) float32 { return float32((i*13+s*5)%17)/8 - 1 })
}

func TestGoldenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	data := sampleDir(t, dir, 3)
	q := filepath.Join(dir, "q.onnx")
	if r := onnxq(t, dir, convnetPath(t), "-o", q, "--calib", data); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	gold := filepath.Join(dir, "gold")
	r := onnxq(t, dir, "golden", q, "--data", data, "-o", gold)
	if r.code != 0 || !strings.Contains(r.stdout, "3 data sets") {
		t.Fatalf("golden: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, threads := range []string{"1", "2"} {
		r = onnxq(t, dir, "verify", gold, "--rtol", "0", "--atol", "0", "--threads", threads)
		if r.code != 0 || !strings.Contains(r.stdout, "PASS gold (3 data sets, worst |diff| 0)") {
			t.Errorf("verify --threads %s, exact: exit %d\n%s%s", threads, r.code, r.stdout, r.stderr)
		}
	}
	// A fixed-point recording verifies with the fixed-point requantizer,
	// exactly; a misspelt requantizer is a usage error.
	fixed := filepath.Join(dir, "fixed")
	if r := onnxq(t, dir, "golden", q, "--data", data, "-o", fixed, "--requantize", "fixed"); r.code != 0 {
		t.Fatalf("golden --requantize fixed: exit %d\n%s", r.code, r.stderr)
	}
	if r := onnxq(t, dir, "verify", fixed, "--rtol", "0", "--atol", "0", "--requantize", "fixed"); r.code != 0 {
		t.Errorf("verify --requantize fixed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := onnxq(t, dir, "verify", fixed, "--requantize", "fixd"); r.code != 2 || !strings.Contains(r.stderr, "want float or fixed") {
		t.Errorf("verify --requantize fixd: exit %d %s", r.code, r.stderr)
	}
	// The folder records its settings: without the flag verify uses them
	// and passes exactly; a flag given says otherwise and wins. The
	// recording differs from the float requantizer's somewhere, or the
	// check below would prove nothing.
	if r := onnxq(t, dir, "verify", fixed, "--rtol", "0", "--atol", "0"); r.code != 0 {
		t.Errorf("verify of a fixed-point recording, no flag: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := onnxq(t, dir, "verify", fixed, "--rtol", "0", "--atol", "0", "--requantize", "float"); r.code != 1 || !strings.Contains(r.stdout, "FAIL fixed") {
		t.Errorf("verify of a fixed-point recording with --requantize float: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A data set with a file past the model's outputs (copied from
	// another test, or edited) fails rather than passing on the rest.
	extra := filepath.Join(dir, "extra")
	if r := onnxq(t, dir, "golden", q, "--data", data, "-o", extra); r.code != 0 {
		t.Fatalf("golden: %s", r.stderr)
	}
	set := filepath.Join(extra, "test_data_set_0")
	if b, err := os.ReadFile(filepath.Join(set, "output_0.pb")); err != nil || os.WriteFile(filepath.Join(set, "output_1.pb"), b, 0o644) != nil {
		t.Fatal(err)
	}
	if r := onnxq(t, dir, "verify", extra); r.code == 0 || !strings.Contains(r.stdout, "test_data_set_0/output_1.pb: the model has 1 output") {
		t.Errorf("verify with an extra output file: exit %d\n%s", r.code, r.stdout)
	}
	// A model with external data: its data files go into the folder,
	// which then verifies on its own.
	ext := filepath.Join(dir, "ext", "q.onnx")
	os.Mkdir(filepath.Dir(ext), 0o755)
	if r := onnxq(t, dir, "convert", q, "-o", ext, "--external-data", "64"); r.code != 0 {
		t.Fatalf("convert: %s", r.stderr)
	}
	extGold := filepath.Join(dir, "extgold")
	if r := onnxq(t, dir, "golden", ext, "--data", data, "-o", extGold); r.code != 0 {
		t.Fatalf("golden of external data: %s", r.stderr)
	}
	if r := onnxq(t, dir, "verify", extGold, "--rtol", "0", "--atol", "0"); r.code != 0 {
		t.Errorf("verify of a golden folder with external data: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// -o with a trailing slash names the folder, as the README writes it.
	if r := onnxq(t, dir, "golden", q, "--data", data, "-o", filepath.Join(dir, "slash")+"/"); r.code != 0 {
		t.Errorf("golden -o DIR/: exit %d %s", r.code, r.stderr)
	} else if _, err := os.Stat(filepath.Join(dir, "slash", "model.onnx")); err != nil {
		t.Errorf("golden -o DIR/: %v", err)
	}
	// golden never replaces a folder.
	r = onnxq(t, dir, "golden", q, "--data", data, "-o", gold)
	if r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("golden over an existing folder: exit %d %s", r.code, r.stderr)
	}

	// Flip one byte of an int8 weight of the recorded model.
	m, err := graph.Load(filepath.Join(gold, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := ""
	for _, v := range m.Graph.Initializers {
		if v.Const.DType == graph.Int8 && v.Const.NumElements() > 8 {
			raw, err := v.Const.Raw()
			if err != nil {
				t.Fatal(err)
			}
			raw = append([]byte(nil), raw...)
			raw[3] ^= 0x40
			if err := v.Const.SetRaw(raw); err != nil {
				t.Fatal(err)
			}
			flipped = v.Name
			break
		}
	}
	if flipped == "" {
		t.Fatal("no int8 weight in the quantized model")
	}
	if err := graph.Save(m, filepath.Join(gold, "model.onnx"), graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	r = onnxq(t, dir, "verify", gold)
	out := m.Graph.Outputs[0].Name
	if r.code == 0 || !strings.Contains(r.stdout, "FAIL gold: test_data_set_0: output \""+out+"\": element ") {
		t.Errorf("verify after flipping a byte of %s: exit %d\n%s%s", flipped, r.code, r.stdout, r.stderr)
	}
}

func TestGoldenBadInput(t *testing.T) {
	dir := t.TempDir()
	data := sampleDir(t, dir, 1)
	gold := filepath.Join(dir, "gold")
	for _, args := range [][]string{
		{"golden", convnetPath(t), "-o", gold},
		{"golden", convnetPath(t), "--data", data},
		{"golden", "--data", data, "-o", gold},
	} {
		r := onnxq(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "(onnxq help golden shows the usage)") {
			t.Errorf("onnxq %q: exit %d, want a usage error\n%s", args, r.code, r.stderr)
		}
		oneErrorLine(t, r, args)
	}
	failsCleanly(t, dir, gold, "missing.onnx", "golden", filepath.Join(dir, "missing.onnx"), "--data", data, "-o", gold)
	failsCleanly(t, dir, gold, "--data", "golden", convnetPath(t), "--data", filepath.Join(dir, "nothing"), "-o", gold)
	// --mean is one comma-separated value: given twice it is refused, and
	// a value that is no list of numbers says what one looks like.
	failsCleanly(t, dir, gold, "given twice", "golden", convnetPath(t), "--data", data, "-o", gold, "--mean", "0.5", "--mean", "0.4")
	failsCleanly(t, dir, gold, "want numbers separated by commas", "golden", convnetPath(t), "--data", data, "-o", gold, "--mean", "abc")
	// a flag value checked once the command runs points at its usage
	failsCleanly(t, dir, gold, "(onnxq help golden shows the usage)", "golden", convnetPath(t), "--data", data, "-o", gold, "--image-size", "0x0")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed runs left files behind: %v", entries)
	}
	// A model with no outputs has nothing to record.
	none := saveModel(t, t.TempDir(), "none.onnx", func(b *graph.Builder) {
		b.Op("Relu", b.Input("image", graph.Float32, 1, 1, 8, 8))
	})
	failsCleanly(t, dir, gold, "the model has no outputs", "golden", none, "--data", data, "-o", gold)
}
