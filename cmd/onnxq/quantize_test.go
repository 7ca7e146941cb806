package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

// TestQuantizeBadInput: each bad input is one error line, a non-zero exit
// and no output file.
func TestQuantizeBadInput(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // input x: float32[1,2,8,8]
	writeSample := func(name string, tensors map[string]*runtime.Tensor) string {
		folder := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(folder, "sample_000"), 0o755); err != nil {
			t.Fatal(err)
		}
		for in, tensor := range tensors {
			if err := tensorio.WriteNpy(filepath.Join(folder, "sample_000", in+".npy"), tensor); err != nil {
				t.Fatal(err)
			}
		}
		return folder
	}
	missing := writeSample("missing", map[string]*runtime.Tensor{"other": runtime.New(graph.Float32, 1, 2, 8, 8)})
	shape := writeSample("shape", map[string]*runtime.Tensor{"x": runtime.New(graph.Float32, 1, 2, 8, 9)})
	dtype := writeSample("dtype", map[string]*runtime.Tensor{"x": runtime.New(graph.Float64, 1, 2, 8, 8)})
	images := filepath.Join(dir, "images")
	os.MkdirAll(images, 0o755)
	os.WriteFile(filepath.Join(images, "broken.png"), []byte("not a png"), 0o644)

	// An already quantized model: quantize once, then feed the result back.
	quantized := filepath.Join(dir, "q.onnx")
	if r := onnxq(t, dir, model, "-o", quantized, "--synthetic", "2"); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	convnet, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "convnet.onnx")) // 1-channel image input
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{model, "-o", out, "--calib", missing}, "x"},
		{[]string{model, "-o", out, "--calib", shape}, "shape"},
		{[]string{model, "-o", out, "--calib", dtype}, "float64"},
		{[]string{convnet, "-o", out, "--calib", images}, "broken.png"},
		{[]string{model, "-o", out, "--calib", filepath.Join(dir, "nowhere")}, "nowhere"},
		{[]string{quantized, "-o", out, "--synthetic", "2"}, "already quantized"},
		{[]string{model, "-o", model, "--synthetic", "2"}, "refusing to overwrite the input model"},
	}
	for _, c := range cases {
		r := onnxq(t, dir, c.args...)
		if r.code == 0 {
			t.Errorf("onnxq %q succeeded", c.args)
			continue
		}
		oneErrorLine(t, r, c.args)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("onnxq %q: error %q does not mention %q", c.args, r.stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("onnxq %q wrote %s", c.args, out)
		}
	}
}

// TestQuantizeDeterministic: the same inputs and flags give the same bytes,
// whatever the thread count.
func TestQuantizeDeterministic(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	var first []byte
	for i, threads := range []string{"1", "3"} {
		out := filepath.Join(dir, "q"+threads+".onnx")
		if r := onnxq(t, dir, model, "-o", out, "--synthetic", "4", "--threads", threads); r.code != 0 {
			t.Fatalf("quantize: %s", r.stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if string(data) != string(first) {
			t.Error("outputs differ between --threads 1 and 3")
		}
	}
}

// TestProgress: off a terminal, progress is at most ten plain lines, the
// last included; on one, a bar that ends at the total and on a fresh line.
func TestProgress(t *testing.T) {
	var plain bytes.Buffer
	p := newProgress(&plain, false, "calibrating")
	for i := 1; i <= 25; i++ {
		p(i, 25)
	}
	lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	if len(lines) > 10 || lines[len(lines)-1] != "calibrating 25/25 samples" || lines[0] != "calibrating 3/25 samples" {
		t.Errorf("plain progress:\n%s", plain.String())
	}
	var bar bytes.Buffer
	p = newProgress(&bar, true, "calibrating")
	for i := 1; i <= 5; i++ {
		p(i, 5)
	}
	out := bar.String()
	if !strings.Contains(out, "calibrating") || !strings.Contains(out, "(5/5") || !strings.HasSuffix(out, "\n") || strings.Contains(out, "calibrating 5/5 samples") {
		t.Errorf("bar progress: %q", out)
	}
	if isTerminal(&bar) {
		t.Error("a buffer is a terminal")
	}
}

// TestQuantizeProgressLines: the tests' stderr is a pipe, so the main job
// prints plain progress lines, no bar.
func TestQuantizeProgressLines(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--synthetic", "3")
	if r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	if !strings.Contains(r.stderr, "calibrating 3/3 samples\n") || strings.Contains(r.stderr, "\r") {
		t.Errorf("stderr: %q", r.stderr)
	}
}
