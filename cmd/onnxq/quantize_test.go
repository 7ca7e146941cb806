package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/internal/testmodels"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
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
	// A model whose weights live in an external data file.
	external := filepath.Join(dir, "ext.onnx")
	if r := onnxq(t, dir, "convert", model, "-o", external, "--external-data", "64"); r.code != 0 {
		t.Fatalf("convert: %s", r.stderr)
	}
	externalData, err := os.ReadFile(external + ".data")
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
		{[]string{model, "-o", out, "--synthetic", "2", "--report", model}, "refusing to overwrite the input model"},
		{[]string{model, "-o", out, "--synthetic", "2", "--opset", "99"}, "the newest opset ONNX defines"},
		{[]string{model, "-o", out, "--synthetic", "2", "--report", filepath.Join(dir, "nowhere", "r.html")}, "folder " + filepath.Join(dir, "nowhere") + " does not exist"},
		{[]string{external, "-o", external + ".data", "--synthetic", "2"}, "refusing to overwrite the external data"},
		{[]string{model, "-o", filepath.Join(dtype, "sample_000", "x.npy"), "--calib", dtype}, "refusing to overwrite --calib"},
		{[]string{model, "-o", out, "--synthetic", "2", "--report", out}, "-o and --report both name"},
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
	if data, err := os.ReadFile(external + ".data"); err != nil || !bytes.Equal(data, externalData) {
		t.Errorf("the input's external data changed (%v)", err)
	}
	// Flags that cannot do what they say: usage errors and warnings.
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--reduce-range", "--weight-type", "int4"}, "with int4 weights it does nothing", 2},
		{[]string{"--target", "tensorrt", "--activation-type", "uint8"}, "TensorRT takes int8 activations", 2},
		{[]string{"--calib", images, "--image-size", "48x192junk"}, `--image-size "48x192junk": want HxW`, 2},
		{[]string{"--calib", images, "--image-size", "48x192x3"}, `--image-size "48x192x3": want HxW`, 2},
	} {
		r := onnxq(t, dir, append([]string{model, "-o", out, "--synthetic", "2"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
		os.Remove(out)
	}
	softmaxData, err := testmodels.MatMulSoftmax()
	if err != nil {
		t.Fatal(err)
	}
	softmax := filepath.Join(dir, "softmax.onnx")
	if err := os.WriteFile(softmax, softmaxData, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := onnxq(t, dir, softmax, "-o", out, "--synthetic", "2", "--include-op", "Softmax"); r.code != 0 || !strings.Contains(r.stderr, `--include-op "Softmax": Softmax has no quantized form`) {
		t.Errorf("--include-op Softmax: exit %d, stderr %q", r.code, r.stderr)
	}
	os.Remove(out)
	// A pattern that matches nothing is said, and the model still written.
	if r := onnxq(t, dir, model, "-o", out, "--synthetic", "2", "--exclude-node", "Cnov*"); r.code != 0 || !strings.Contains(r.stderr, `--exclude-node "Cnov*" matches no node`) {
		t.Errorf("unmatched --exclude-node: exit %d, stderr %q", r.code, r.stderr)
	}
	os.Remove(out)
	// Statistics of another model match none of this one's tensors.
	stats := filepath.Join(dir, "other.json")
	os.WriteFile(stats, []byte(`{"format":"onnxq-calib","version":1,"method":"minmax","options":{"bins":2048,"quant_bins":128,"percentile":99.999,"ema_constant":0.01,"signed":false,"type":"int8","symmetric":false,"restricted":false,"reduce_range":false},"tensors":[{"name":"elsewhere","state":{"min":0,"max":1,"stats":{"values":4,"nan":0,"inf":0,"batches":1}}}]}`), 0o644)
	if r := onnxq(t, dir, model, "-o", out, "--load-calib", stats, "--method", "minmax"); r.code != 1 || !strings.Contains(r.stderr, "none of its 1 tensors") {
		t.Errorf("--load-calib of another model: exit %d, stderr %q", r.code, r.stderr)
	}
	// No statistics at all is an error; statistics of some tensors only,
	// or of tensors the model lacks, are named.
	empty := strings.Replace(string(must(os.ReadFile(stats))), `[{"name":"elsewhere","state":{"min":0,"max":1,"stats":{"values":4,"nan":0,"inf":0,"batches":1}}}]`, `[]`, 1)
	os.WriteFile(stats, []byte(empty), 0o644)
	if r := onnxq(t, dir, model, "-o", out, "--load-calib", stats, "--method", "minmax"); r.code != 1 || !strings.Contains(r.stderr, "holds no tensor statistics") {
		t.Errorf("--load-calib with no tensors: exit %d, stderr %q", r.code, r.stderr)
	}
	partial := strings.Replace(empty, `[]`, `[{"name":"elsewhere","state":{"min":0,"max":1,"stats":{"values":4,"nan":0,"inf":0,"batches":1}}},{"name":"x","state":{"min":0,"max":1,"stats":{"values":4,"nan":0,"inf":0,"batches":1}}}]`, 1)
	os.WriteFile(stats, []byte(partial), 0o644)
	r := onnxq(t, dir, model, "-o", out, "--load-calib", stats, "--method", "minmax")
	if r.code != 0 || !strings.Contains(r.stderr, `1 of its 2 tensors is not a float activation of this model (ignored): "elsewhere"`) || !strings.Contains(r.stderr, "has no statistics for") {
		t.Errorf("--load-calib of some tensors: exit %d, stderr %q", r.code, r.stderr)
	}
	os.Remove(out)
	// The size before counts the external data too.
	r = onnxq(t, dir, external, "-o", filepath.Join(dir, "ext-q.onnx"), "--synthetic", "2")
	if want := " " + formatBytes(fileSize(external)+int64(len(externalData))) + " -> "; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("external data model: exit %d, summary %q; want a line starting %q", r.code, r.stdout, want)
	}
	// Usage errors: one line, the message and where the usage is.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{model, "-o", out, "--synthetic", "2", "--method", "minmax,bogus"}, `unknown method "bogus"`},
		{[]string{model, "-o", out, "--synthetic", "2", "--method", "minmax,mse", "--save-calib", filepath.Join(dir, "c.json")}, "give one"},
		{[]string{model, "-o", out, "--synthetic", "2", "--stop-after", "fold-batchnrom"}, `"fold-batchnrom": no such pass`},
		{[]string{model, "-o", out, "--synthetic", "2", "--threads", "-3"}, "--threads -3"},
		{[]string{model, "-o", out, "--synthetic", "2", "--percentile", "150"}, "--percentile 150"},
		{[]string{model, "-o", out, "--synthetic", "2147483647"}, "--synthetic 2147483647: want 1 to 100000 samples"},
		{[]string{model, "-o", out, "--synthetic", "2", "--exclude-node", "conv["}, `pattern "conv["`},
	} {
		r := onnxq(t, dir, c.args...)
		if r.code == 0 || !strings.HasPrefix(r.stderr, "onnxq: ") || !strings.Contains(strings.SplitN(r.stderr, "\n", 2)[0], c.want) {
			t.Errorf("onnxq %q: exit %d, stderr %q: want a first line mentioning %q", c.args, r.code, r.stderr, c.want)
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
	p := newProgress(&plain, false, "calibrating", "samples")
	for i := 1; i <= 25; i++ {
		p(i, 25)
	}
	lines := strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n")
	if len(lines) > 10 || lines[len(lines)-1] != "calibrating 25/25 samples" || lines[0] != "calibrating 3/25 samples" {
		t.Errorf("plain progress:\n%s", plain.String())
	}
	var bar bytes.Buffer
	p = newProgress(&bar, true, "calibrating", "samples")
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

// convnetPath is the small checked-in CNN: image [batch,1,8,8] → conv →
// relu → pool → flatten → logits (Gemm with fc.weight).
func convnetPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "convnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// failsCleanly checks that onnxq args fails with one error line
// mentioning want and writes no out.
func failsCleanly(t *testing.T, dir, out, want string, args ...string) {
	t.Helper()
	r := onnxq(t, dir, args...)
	switch r.code {
	case 1:
		oneErrorLine(t, r, args)
	case 2: // a usage error: its line, then the usage
		if !strings.HasPrefix(r.stderr, "onnxq: ") {
			t.Errorf("onnxq %q: stderr does not start \"onnxq: \":\n%s", args, r.stderr)
		}
	default:
		t.Errorf("onnxq %q: exit %d, want 1 or 2", args, r.code)
	}
	if first := strings.SplitN(r.stderr, "\n", 2)[0]; !strings.Contains(first, want) {
		t.Errorf("onnxq %q: error %q does not mention %q", args, first, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("onnxq %q wrote %s", args, out)
		os.Remove(out)
	}
}

// TestQuantizeConfig: overrides reach the quantize pass (an FP32 tensor
// loses its Q/DQ, a fixed range sets the scale), and every bad file is one
// error line with no output.
func TestQuantizeConfig(t *testing.T) {
	dir := t.TempDir()
	convnet := convnetPath(t)
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	quantize := func(out string, extra ...string) *graph.Model {
		t.Helper()
		args := append([]string{convnet, "-o", out, "--synthetic", "2"}, extra...)
		if r := onnxq(t, dir, args...); r.code != 0 {
			t.Fatalf("onnxq %q: %s", args, r.stderr)
		}
		m, err := graph.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// qOf is the QuantizeLinear reading the value named name, if any.
	qOf := func(m *graph.Model, name string) *graph.Node {
		for _, n := range m.Graph.Nodes {
			if n.OpType == "QuantizeLinear" && n.Input(0).Name == name {
				return n
			}
		}
		return nil
	}
	plain := quantize(filepath.Join(dir, "plain.onnx"))
	if qOf(plain, "image") == nil || qOf(plain, "pool") == nil {
		t.Fatal("the plain quantized convnet has no Q on image or pool")
	}
	cfg := write("ok.json", `{"tensors": {"pool": {"fp32": true}, "image": {"min": -2, "max": 2}, "fc.weight": {"per_tensor": true}}}`)
	m := quantize(filepath.Join(dir, "cfg.onnx"), "--config", cfg)
	if qOf(m, "pool") != nil {
		t.Error(`"pool": {"fp32": true} still has a QuantizeLinear`)
	}
	q := qOf(m, "image")
	if q == nil || q.Input(1).Const == nil {
		t.Fatal("no QuantizeLinear with a constant scale on image")
	}
	// uint8 asymmetric over [-2, 2]: scale 4/255.
	if s, err := q.Input(1).Const.Float32s(); err != nil || len(s) != 1 || math.Abs(float64(s[0])-4.0/255) > 1e-6 {
		t.Errorf("image scale %v, want %v", s, 4.0/255)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "DequantizeLinear" && strings.HasPrefix(n.Input(0).Name, "fc.weight") {
			if s := n.Input(1).Const; s == nil || s.NumElements() != 1 {
				t.Errorf("fc.weight is not per tensor: scale %v", s)
			}
		}
	}

	// "bits": 16 puts 16-bit Q/DQ on pool, and the summary says why.
	bits := write("bits.json", `{"tensors": {"pool": {"bits": 16}}}`)
	r := onnxq(t, dir, convnet, "-o", filepath.Join(dir, "bits.onnx"), "--synthetic", "2", "--config", bits)
	if r.code != 0 {
		t.Fatalf("--config bits.json: %s", r.stderr)
	}
	wm, err := graph.Load(filepath.Join(dir, "bits.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if q := qOf(wm, "pool"); q == nil || q.Input(2) == nil || q.Input(2).DType != graph.Uint16 {
		t.Errorf(`"pool": {"bits": 16}: Q of pool is %v`, q)
	}
	if q := qOf(wm, "image"); q == nil || q.Input(2) == nil || q.Input(2).DType != graph.Uint8 {
		t.Errorf("image is not 8-bit beside a 16-bit pool: %v", q)
	}
	if !strings.Contains(r.stdout, `"bits": 16 in --config`) {
		t.Errorf("the summary does not say why pool is 16-bit:\n%s", r.stdout)
	}

	// A model whose BatchNormalization preparation folds into the Conv.
	bnModel := saveModel(t, dir, "bn.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		w := b.Const(graph.FromFloat32s("w", []int64{2, 2, 1, 1}, []float32{1, 2, 3, 4}))
		c := b.Op("Conv", x, w)
		p := func(name string, v ...float32) *graph.Value {
			return b.Const(graph.FromFloat32s(name, []int64{2}, v))
		}
		bn := b.Op("BatchNormalization", c, p("scale", 1, 2), p("bias", 0, 1), p("mean", 0, 0.5), p("var", 1, 4))
		namedOutput(t, b, b.Op("Relu", bn), "y")
		write("bn_conv.json", `{"tensors": {"`+c.Name+`": {"fp32": true}}}`)
		write("bn_bn.json", `{"tensors": {"`+bn.Name+`": {"fp32": true}}}`)
	})
	folded := 0
	for _, f := range []string{"bn_conv.json", "bn_bn.json"} {
		r := onnxq(t, dir, bnModel, "-o", filepath.Join(dir, "bn_q.onnx"), "--synthetic", "2", "--config", filepath.Join(dir, f))
		if strings.Contains(r.stderr, "folded away when onnxq prepares the model") {
			oneErrorLine(t, r, []string{f})
			folded++
		}
	}
	if folded != 1 {
		t.Errorf("%d of the Conv and BatchNormalization outputs reported as folded away, want 1", folded)
	}

	out := filepath.Join(dir, "out.onnx")
	bad := []struct{ text, want string }{
		{`{"tensors": {"nope": {"fp32": true}}}`, `"nope" is not in the model`},
		{`{"tensor": {}}`, `unknown key "tensor"`},
		{`{"tensors": {"pool": {"fp32": true, "mni": 1}}}`, `unknown key "mni"`},
		{`{"tensors": {"pool": {"min": 1}}}`, "both min and max"},
		{`{"tensors": {"pool": {"min": 2, "max": 1}}}`, "above max"},
		{`{"tensors": {"pool": {"min": -1, "max": 1, "fp32": true}}}`, "contradict"},
		{`{"tensors": {"pool": {}}}`, "no override"},
		{`{"tensors": {"pool": {"per_tensor": true}}}`, "not a weight"},
		{`{"tensors": {"conv.weight": {"min": -1, "max": 1}}}`, "is a weight"},
		{`{"tensors": {"pool": {"fp32": "yes"}}}`, `tensor "pool": "fp32" holds a JSON string, want true or false`},
		{`{"tensors": {"pool": {"bits": 12}}}`, "bits 12 (want 8 or 16)"},
		{`{"tensors": {"pool": {"bits": 16, "fp32": true}}}`, "bits and fp32 contradict"},
		{`{"tensors": {"conv.weight": {"bits": 16}}}`, "is a weight: bits"},
		{`{"tensors": {"pool": {"fp32": true}}} {}`, "trailing data after the JSON value"},
		{`{"tensors": {"pool": {"fp32": true}, "pool": {"min": 0, "max": 1}}}`, `key "pool" appears twice`},
		{`{"tensors": {"pool": {"min": 0, "max": 1, "min": 0.5}}}`, `field "min" appears twice`},
		{`{"Tensors": {"pool": {"fp32": true}}}`, `unknown key "Tensors"`},
		{`{"tensors": {"pool": {"FP32": true}}}`, `unknown key "FP32"`},
		{`{"tensors": {"pool": null}}`, "is null"},
		{`{"tensors": {"pool": {"min": 0, "max": 0}}}`, "a range of no width"},
		{`{"tensors": {"pool": {"min": 1, "max": 1}}}`, "min and max are both 1, a range of no width"},
		{``, "the file is empty"},
		{`[1]`, "want an object"},
		{`{}`, `no field "tensors"`},
		{`{"tensors": `, "ends early"},
	}
	for i, b := range bad {
		path := write(fmt.Sprintf("bad%d.json", i), b.text)
		failsCleanly(t, dir, out, b.want, convnet, "-o", out, "--synthetic", "2", "--config", path)
	}
	failsCleanly(t, dir, out, "missing.json", convnet, "-o", out, "--synthetic", "2", "--config", filepath.Join(dir, "missing.json"))

	// Overrides that change nothing are named, each with the reason: the
	// Conv output a folded Relu reads, a bias, the float graph output.
	idle := write("idle.json", `{"tensors": {"conv": {"min": -1, "max": 1}, "conv.bias": {"fp32": true}, "logits": {"min": -1, "max": 1}}}`)
	r = onnxq(t, dir, convnet, "-o", out, "--synthetic", "2", "--config", idle)
	if r.code != 0 {
		t.Fatalf("--config idle.json: %s", r.stderr)
	}
	for name, why := range map[string]string{"conv": "folded into the Q/DQ", "conv.bias": "it is a bias", "logits": "gets no Q/DQ"} {
		if !strings.Contains(r.stderr, fmt.Sprintf("tensor %q: the override changes nothing: ", name)) || !strings.Contains(r.stderr, why) {
			t.Errorf("no warning that %s's override changes nothing (%s):\n%s", name, why, r.stderr)
		}
	}
	if strings.Count(r.stderr, "changes nothing") != 3 {
		t.Errorf("want 3 idle overrides:\n%s", r.stderr)
	}
}

// TestQuantizeOpset: --opset raises the output's opset and says so; below
// the model's opset or below what the options need is one error line.
func TestQuantizeOpset(t *testing.T) {
	dir := t.TempDir()
	convnet := convnetPath(t) // opset 17
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, convnet, "-o", out, "--synthetic", "2", "--opset", "19")
	if r.code != 0 {
		t.Fatalf("--opset 19: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "raised from 17 to 19 (--opset)") {
		t.Errorf("summary does not tell the opset was raised:\n%s", r.stdout)
	}
	m, err := graph.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Opset(""); v != 19 {
		t.Errorf("output opset %d, want 19", v)
	}
	// Equal to the model's: nothing to raise.
	r = onnxq(t, dir, convnet, "-o", filepath.Join(dir, "q17.onnx"), "--synthetic", "2", "--opset", "17")
	if r.code != 0 || strings.Contains(r.stdout, "raised") {
		t.Errorf("--opset 17: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// int4 weights need 21.
	r = onnxq(t, dir, convnet, "-o", filepath.Join(dir, "q4.onnx"), "--synthetic", "2", "--weight-type", "int4")
	if r.code != 0 || !strings.Contains(r.stdout, "raised from 17 to 21 (the options need it") {
		t.Errorf("int4: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "below the opset the model imports (17)", convnet, "-o", bad, "--synthetic", "2", "--opset", "13")
	failsCleanly(t, dir, bad, "--opset 19 is too low: these options need opset 21", convnet, "-o", bad, "--synthetic", "2", "--opset", "19", "--weight-type", "int4")
	failsCleanly(t, dir, bad, "opset", convnet, "-o", bad, "--synthetic", "2", "--opset", "-3")
}

// TestQuantizeEval: --eval samples drive the closing SQNR summary, all of
// them unless --eval-samples caps them; bad ones fail before any output.
func TestQuantizeEval(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // x: float32[1,2,8,8]
	eval := writeSamples(t, dir, "eval", 3, "x", []int{1, 2, 8, 8}, func(s, i int) float32 { return float32((i*7+s)%11) / 5 })
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--synthetic", "2", "--eval", eval)
	if r.code != 0 {
		t.Fatalf("--eval: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "(3 samples of --eval,") {
		t.Errorf("summary does not run the 3 --eval samples:\n%s", r.stdout)
	}
	r = onnxq(t, dir, model, "-o", out, "--synthetic", "2", "--eval", eval, "--eval-samples", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "(1 sample of --eval,") {
		t.Errorf("--eval-samples 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "\nnote ") {
		t.Errorf("--eval: a note on few calibration samples\n%s", r.stdout)
	}
	// Without --eval the summary runs the calibration samples, and says
	// that so few of them, fitted to, tell little.
	r = onnxq(t, dir, model, "-o", out, "--synthetic", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "(2 samples,") || !strings.Contains(r.stdout, "the sqnr lines measure the 2 calibration samples the ranges and biases were fitted to") {
		t.Errorf("without --eval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--eval", model, "-o", bad, "--synthetic", "2", "--eval", filepath.Join(dir, "nowhere"))
}

// TestQuantizeEvalLouder: --eval samples five times louder than the
// calibration ones are named in the summary, with the factor they reach;
// samples like the calibration ones are not.
func TestQuantizeEvalLouder(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // x: float32[1,2,8,8]
	shape := []int{1, 2, 8, 8}
	value := func(s, i int) float32 { return float32((i*7+s)%11) / 10 }
	cal := writeSamples(t, dir, "cal", 4, "x", shape, value)
	loud := writeSamples(t, dir, "loud", 2, "x", shape, func(s, i int) float32 { return 5 * value(s, i) })
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--calib", cal, "--eval", loud)
	if r.code != 0 {
		t.Fatalf("--eval: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "louder") || !strings.Contains(r.stdout, "5x at x") {
		t.Errorf("summary does not name x as 5x past the calibration samples:\n%s", r.stdout)
	}
	r = onnxq(t, dir, model, "-o", out, "--calib", cal, "--eval", cal)
	if r.code != 0 || strings.Contains(r.stdout, "louder") {
		t.Errorf("--eval like --calib: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// 1.5x past: named only because the held-out figure falls far below
	// the calibration one, which the line gives
	near := writeSamples(t, dir, "near", 2, "x", shape, func(s, i int) float32 { return 1.5 * value(s, i) })
	r = onnxq(t, dir, model, "-o", out, "--calib", cal, "--eval", near)
	if r.code != 0 || !regexp.MustCompile(`louder +the --eval samples read [0-9.]+ dB where the calibration samples read [0-9.]+ and drive activations past the calibration samples. extremes: [^\n]*1.5x at x`).MatchString(r.stdout) {
		t.Errorf("1.5x louder --eval samples: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestQuantizeFormatQOp: --format qop writes QLinearConv nodes in place of
// the Q/DQ units, the model runs, and the summary says what was lowered.
func TestQuantizeFormatQOp(t *testing.T) {
	dir := t.TempDir()
	convnet := convnetPath(t)
	out := filepath.Join(dir, "qop.onnx")
	r := onnxq(t, dir, convnet, "-o", out, "--synthetic", "2", "--format", "qop")
	if r.code != 0 {
		t.Fatalf("--format qop: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "qop        QLinearConv") {
		t.Errorf("summary does not say what was lowered:\n%s", r.stdout)
	}
	m, err := graph.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range m.Graph.Nodes {
		ops[n.OpType]++
	}
	if ops["QLinearConv"] == 0 || ops["Conv"] != 0 {
		t.Errorf("ops of the qop model: %v", ops)
	}
	if r := onnxq(t, dir, "run", out, "--random"); r.code != 0 {
		t.Errorf("the qop model does not run: %s", r.stderr)
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--format", convnet, "-o", bad, "--synthetic", "2", "--format", "qlinear")
}

// lstmModel writes x → LSTM (hidden 16, so R has 1024 elements) to dir.
func lstmModel(t *testing.T, dir string) string {
	t.Helper()
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 5, 1, 8)
	c := func(name string, dims ...int64) *graph.Value {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32((i*37)%23-11) / 40
		}
		return b.Const(graph.FromFloat32s(name, dims, data))
	}
	ys := b.OpN("LSTM", 1, x, c("W", 1, 64, 8), c("R", 1, 64, 16), graph.IntAttr("hidden_size", 16))
	b.Output(ys[0])
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lstm.onnx")
	if err := graph.Save(m, path, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestQuantizeWeightOnly: by default (ort-cpu) an LSTM's R is stored as
// int8 and the summary names it; --weight-only=false and the tensorrt
// target keep it float; --weight-only turns it on for tensorrt.
func TestQuantizeWeightOnly(t *testing.T) {
	dir := t.TempDir()
	model := lstmModel(t, dir)
	for _, c := range []struct {
		args []string
		int8 bool
	}{
		{nil, true},
		{[]string{"--weight-only=false"}, false},
		{[]string{"--target", "tensorrt"}, false},
		{[]string{"--target", "tensorrt", "--weight-only"}, true},
	} {
		out := filepath.Join(dir, "q.onnx")
		r := onnxq(t, dir, append([]string{model, "-o", out, "--synthetic", "2"}, c.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: %s", c.args, r.stderr)
		}
		m, err := graph.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Graph.Value("R").DType == graph.Int8
		listed := strings.Contains(r.stdout, "weight-only") && strings.Contains(r.stdout, "(LSTM): R")
		if got != c.int8 || listed != c.int8 {
			t.Errorf("%v: R int8 %v, listed %v; want %v\n%s", c.args, got, listed, c.int8, r.stdout)
		}
		if m.Graph.Value("W").DType != graph.Float32 {
			t.Errorf("%v: W is %v, want float32", c.args, m.Graph.Value("W").DType)
		}
	}
}

// lossyChain saves a chain of 22 1x1 Convs whose c9's quantized weights
// lose its signal (a weight of 1 on a channel that is always zero sets the
// step; the small weights that matter round away) to dir, with n samples
// in dir/calib, and returns the model's and the samples' paths.
func lossyChain(t *testing.T, dir string, n int) (model, calib string) {
	t.Helper()
	model = saveModel(t, dir, "chain.onnx", func(b *graph.Builder) {
		y := b.Input("x", graph.Float32, 1, 8, 4, 4)
		for i := range 22 {
			w := make([]float32, 64)
			for o := range 8 {
				for c := range 8 {
					w[8*o+c] = 0.05 * float32((o*5+c*3+i)%7-3)
				}
				w[8*o+o] += 1
				if i == 9 {
					for c := range 8 {
						w[8*o+c] = 0.01 * float32((o*5+c*3)%7-3)
					}
					w[8*o] = 1
				}
				if i == 8 && o == 0 {
					clear(w[:8])
				}
			}
			y = b.Op("Conv", y, b.Const(graph.FromFloat32s(fmt.Sprintf("w%d", i), []int64{8, 8, 1, 1}, w)))
			y.Producer.Name = fmt.Sprintf("c%d", i)
		}
		b.Output(y)
	})
	calib = writeSamples(t, dir, "calib", n, "x", []int{1, 8, 4, 4}, func(s, i int) float32 { return float32(math.Sin(float64(i*(s+3)) * 0.37)) })
	return model, calib
}

// TestQuantizeFallback: a chain of 22 1x1 Convs where c9's quantized
// weights lose its signal (a weight of 1 on a channel that is always zero
// sets the step; the small weights that matter round away). The summary
// names c9 as kept in FP32 with its gain under --fallback-budget 3; by
// default and with --fallback-budget 0 every layer stays quantized; a
// negative budget is an error.
func TestQuantizeFallback(t *testing.T) {
	dir := t.TempDir()
	model, calib := lossyChain(t, dir, 6)
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--calib", calib, "--fallback-budget", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "c9 (Conv) kept in FP32: worst output on the calibration samples +") {
		t.Errorf("summary does not name c9 as kept in FP32:\n%s", r.stdout)
	}
	if strings.Count(r.stdout, ") kept in FP32: worst output") != 1 || !strings.Contains(r.stdout, "fp32       1 x Conv: kept in FP32 by the fallback") {
		t.Errorf("want exactly one layer kept in FP32 (22 weighted ops leave one to spare), on its fp32 line too:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"--fallback-budget", "0"}, nil} {
		r = onnxq(t, dir, append([]string{model, "-o", out, "--calib", calib}, args...)...)
		if r.code != 0 || strings.Contains(r.stdout, "kept in FP32") {
			t.Errorf("%q (the fallback is off by default): exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--fallback-budget", model, "-o", bad, "--calib", calib, "--fallback-budget", "-1")
}

// TestQuantizeTarget: on the chain of TestQuantizeFallback's kind, with 8
// samples (2 held out), --target-sqnr reaches a target that c9 in float
// reaches and the summary says so; an unreachable target is reported as
// not met with the model written (exit 0, or 1 with --require-target);
// bad values are one error line.
func TestQuantizeTarget(t *testing.T) {
	dir := t.TempDir()
	model, calib := lossyChain(t, dir, 8)
	out := filepath.Join(dir, "q.onnx")
	// Rounding to nearest leaves the search a layer to put in float (by
	// default the search first tries the error-compensating rounding).
	r := onnxq(t, dir, model, "-o", out, "--calib", calib, "--target-sqnr", "20", "--weight-rounding", "nearest")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"met: worst output SQNR", "on 2 held-out samples", "c9 (Conv) layer in FP32"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "with every activation 16-bit") {
		t.Errorf("a met target measured 16-bit activations:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"--target-sqnr", "300"}, {"--target-sqnr", "300", "--tune-timeout", "1ns"}} {
		os.Remove(out)
		r = onnxq(t, dir, append([]string{model, "-o", out, "--calib", calib}, args...)...)
		if !strings.Contains(r.stdout, "rounding   hessian") {
			t.Errorf("%q: the search did not round weights with hessian by default:\n%s", args, r.stdout)
		}
		if r.code != 0 || !strings.Contains(r.stdout, "NOT met: ") {
			t.Errorf("%q: exit %d, want 0 and the target reported as not met:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		// How far 16-bit activations take it: below 300 dB, so the
		// summary puts the miss on the weights.
		if !strings.Contains(r.stdout, "with every activation 16-bit") || !strings.Contains(r.stdout, "below the target, so finer activations alone cannot reach it") {
			t.Errorf("%q: summary does not say how far 16-bit activations go:\n%s", args, r.stdout)
		}
		if _, err := graph.Load(out); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	os.Remove(out)
	r = onnxq(t, dir, model, "-o", out, "--calib", calib, "--target-sqnr", "300", "--require-target")
	if r.code != 1 || !strings.Contains(r.stderr, "not met") {
		t.Errorf("--require-target: exit %d, stderr %q; want 1 and the target named as not met", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("--require-target: the model is not written: %v", err)
	}
	bad := filepath.Join(dir, "bad.onnx")
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--target-sqnr", []string{"--target-sqnr", "-3"}},
		{"--max-drop", []string{"--max-drop", "-1"}},
		{"--tune-timeout", []string{"--target-sqnr", "35", "--tune-timeout", "-1s"}},
		{"--max-fp32-macs", []string{"--target-sqnr", "35", "--max-fp32-macs", "120"}},
		{"--max-fp32-macs", []string{"--max-fp32-macs", "10"}},
		{"give one target", []string{"--target-sqnr", "35", "--max-drop", "1"}},
		{"--fallback-budget", []string{"--target-sqnr", "35", "--fallback-budget", "2"}},
	} {
		failsCleanly(t, dir, bad, c.want, append([]string{model, "-o", bad, "--calib", calib}, c.args...)...)
	}
	failsCleanly(t, dir, bad, "--calib", model, "-o", bad, "--target-sqnr", "35")
	// A duration pflag cannot read is a usage error: the message first.
	r = onnxq(t, dir, model, "-o", bad, "--calib", calib, "--target-sqnr", "35", "--tune-timeout", "soon")
	if first := strings.SplitN(r.stderr, "\n", 2)[0]; r.code == 0 || !strings.HasPrefix(first, "onnxq: ") || !strings.Contains(first, "--tune-timeout") {
		t.Errorf("--tune-timeout soon: exit %d, first line %q", r.code, first)
	}
}

// TestQuantizeWeightRounding: --weight-rounding hessian rounds the chain's
// weights against their output error and the summary says how it went on
// the calibration samples (kept only when it beats nearest); by default
// the summary has no such line; a bad value is one error line, no file.
// With --target-sqnr the line adds the held-out samples' figures.
func TestQuantizeWeightRounding(t *testing.T) {
	dir := t.TempDir()
	model, calib := lossyChain(t, dir, 6)
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--calib", calib, "--weight-rounding", "hessian")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "rounding") {
			line = l
		}
	}
	if !strings.Contains(line, "hessian on ") || !strings.Contains(line, "dB nearest") ||
		!(strings.HasSuffix(line, "hessian: kept") || strings.HasSuffix(line, "not kept, weights rounded to nearest")) {
		t.Errorf("no rounding line saying what was kept:\n%s", r.stdout)
	}
	r = onnxq(t, dir, model, "-o", out, "--calib", calib)
	if r.code != 0 || strings.Contains(r.stdout, "rounding") {
		t.Errorf("default: exit %d, a rounding line:\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--weight-rounding", model, "-o", bad, "--calib", calib, "--weight-rounding", "bogus")

	// With a target, the rounding (the default there) that wins on the
	// calibration samples is measured on the held-out ones too, and kept
	// only when it does not lose there.
	model, calib = lossyChain(t, t.TempDir(), 8)
	r = onnxq(t, dir, model, "-o", out, "--calib", calib, "--target-sqnr", "99", "--tune-timeout", "1s")
	var calNear, calHess, heldNear, heldHess float64
	var kept string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "rounding") {
			i := strings.Index(l, "worst output")
			if i < 0 {
				break
			}
			fmt.Sscanf(l[i:], "worst output on the calibration samples %g dB nearest, %g dB hessian, on the held-out samples %g dB nearest, %g dB hessian: %s", &calNear, &calHess, &heldNear, &heldHess, &kept)
		}
	}
	if r.code != 0 || !(calHess > calNear) || heldNear == 0 || kept != map[bool]string{true: "kept", false: "not"}[heldHess >= heldNear] {
		t.Errorf("--target-sqnr: exit %d; want a rounding line with held-out figures, kept as they say:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestQuantizeWideFrontEnd: a filterbank Conv whose output a Log reads
// through the magnitude ops gets 16-bit Q/DQ on its input, in the
// com.microsoft domain at opset 17 (no opset raised), and the summary
// says so; --wide-front-end=false leaves every activation 8-bit.
func TestQuantizeWideFrontEnd(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "fb.onnx", func(b *graph.Builder) {
		x := b.Input("wav", graph.Float32, 1, 1, 1, 256)
		w := make([]float32, 8*32)
		for i := range w {
			w[i] = float32(math.Cos(float64((i/32+1)*(i%32)) * 0.19))
		}
		spec := b.Op("Conv", x, b.Const(graph.FromFloat32s("fb", []int64{8, 1, 1, 32}, w)), graph.IntsAttr("strides", 1, 16))
		// Far enough from the Log (eight arithmetic ops: the magnitude and
		// a gain stage) that the rule keeping a Conv that feeds a Log
		// closely in FP32 does not apply.
		perm := graph.IntsAttr("perm", 0, 1, 3, 2)
		back := b.Op("Transpose", b.Op("Transpose", b.Op("Neg", spec), perm), perm)
		flat := b.Op("Reshape", back, b.Const(graph.FromInt64s("shape", []int64{4}, []int64{1, 8, 1, 15})))
		sum := b.Op("ReduceSum", b.Op("Mul", flat, flat), b.Const(graph.FromInt64s("axes", []int64{1}, []int64{2})), graph.IntAttr("keepdims", 1))
		mag := b.Op("Abs", b.Op("Sqrt", sum))
		mag = b.Op("Mul", b.Op("Mul", mag, b.Const(graph.FromFloat32s("g1", nil, []float32{4}))), b.Const(graph.FromFloat32s("g2", nil, []float32{0.25})))
		lg := b.Op("Log", b.Op("Add", mag, b.Const(graph.FromFloat32s("eps", nil, []float32{1e-6}))))
		head := make([]float32, 4*8)
		for i := range head {
			head[i] = float32(i%5) - 2
		}
		b.Output(b.Op("Conv", lg, b.Const(graph.FromFloat32s("w2", []int64{4, 8, 1, 1}, head))))
	})
	calib := writeSamples(t, dir, "calib", 4, "wav", []int{1, 1, 1, 256}, func(s, i int) float32 {
		return float32(math.Pow(10, -3*float64(i)/256) * math.Sin(float64(i)*(0.3+0.2*float64(s))))
	})
	wide := func(path string) (n16, n8 int, domains []string) {
		m, err := graph.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.Graph.Nodes {
			if n.OpType != "QuantizeLinear" || n.Input(0).Const != nil {
				continue
			}
			zp := n.Input(2)
			if zp == nil || zp.Const == nil {
				t.Fatalf("%s: QuantizeLinear %s has no constant zero point", path, n.Name)
			}
			switch zp.Const.DType {
			case graph.Uint16, graph.Int16:
				n16++
				domains = append(domains, n.Domain)
			default:
				n8++
			}
		}
		if v, _ := m.Opset(""); v != 17 {
			t.Errorf("%s: opset %d, want 17 kept", path, v)
		}
		return n16, n8, domains
	}
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--calib", calib)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	n16, n8, domains := wide(out)
	if n16 == 0 || n8 == 0 || slices.ContainsFunc(domains, func(d string) bool { return d != "com.microsoft" }) {
		t.Errorf("%d 16-bit activations in domains %q, %d 8-bit: want the filterbank input 16-bit in com.microsoft, the rest 8-bit", n16, domains, n8)
	}
	if !strings.Contains(r.stdout, "16-bit") || !strings.Contains(r.stdout, "--wide-front-end=false") {
		t.Errorf("the summary does not say which activations are 16-bit:\n%s", r.stdout)
	}
	r = onnxq(t, dir, model, "-o", out, "--calib", calib, "--wide-front-end=false", "--float-idle-inputs=false")
	if r.code != 0 {
		t.Fatalf("--wide-front-end=false: exit %d: %s", r.code, r.stderr)
	}
	if n16, n8, _ := wide(out); n16 != 0 || n8 == 0 || strings.Contains(r.stdout, "16-bit") {
		t.Errorf("--wide-front-end=false: %d 16-bit and %d 8-bit activations:\n%s", n16, n8, r.stdout)
	}
}

// A model with nothing the rules quantize is written, with a warning that
// says so, and keeps its opset.
func TestQuantizeNothingToQuantize(t *testing.T) {
	dir := t.TempDir()
	b := graph.NewBuilder(11)
	b.Output(b.Op("Sigmoid", b.Input("x", graph.Float32, 1, 4)))
	in := saveBuilt(t, b, filepath.Join(dir, "sigmoid.onnx"))
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, in, "-o", out, "--synthetic", "2")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING: nothing was quantized") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	q, err := graph.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := q.Opset(""); v != 11 || strings.Contains(r.stdout, "raised") {
		t.Errorf("opset %d, want 11 kept\n%s", v, r.stdout)
	}
	// A model with something to quantize has no such warning.
	r = onnxq(t, dir, testModel(t, dir), "-o", filepath.Join(dir, "q2.onnx"), "--synthetic", "2")
	if r.code != 0 || strings.Contains(r.stderr, "nothing was quantized") {
		t.Errorf("small model: exit %d\n%s", r.code, r.stderr)
	}
}

// convSigmoid saves to path a 3x3 Conv of a [1,2,6,6] input x to out
// channels in the given number of groups (2 and 2: depthwise), read by a
// Sigmoid, the model's output.
func convSigmoid(t *testing.T, path string, out, group int64) string {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	w := make([]float32, out*(2/group)*3*3)
	for i := range w {
		w[i] = float32(i%5)/4 - 0.5
	}
	y := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{out, 2 / group, 3, 3}, w)), graph.IntAttr("group", group))
	b.Output(b.Op("Sigmoid", y))
	return saveBuilt(t, b, path)
}

// --complete-units on gives a Conv read by a float Sigmoid its output
// Q/DQ and says so, as auto does on synthetic samples; a bad mode is one
// clear line and no file.
func TestQuantizeCompleteUnitsFlag(t *testing.T) {
	dir := t.TempDir()
	in := convSigmoid(t, filepath.Join(dir, "head.onnx"), 3, 1)
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, in, "-o", out, "--synthetic", "2", "--complete-units", "on")
	if r.code != 0 || !strings.Contains(r.stdout, "units      1 Conv/MatMul outputs given a Q/DQ") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The coverage line counts the unit, and the Conv left outside one
	// with units off.
	if !strings.Contains(r.stdout, "coverage   1 of 1 weighted ops (100.0% of the MACs) in complete Q/DQ units") {
		t.Errorf("coverage line missing:\n%s", r.stdout)
	}
	// auto without real samples to weigh the cost completes the unit too,
	// and says so.
	r = onnxq(t, dir, in, "-o", out, "--synthetic", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "units      1 Conv/MatMul outputs given a Q/DQ to complete their unit (integer kernels); no real samples to weigh") ||
		!strings.Contains(r.stdout, "coverage   1 of 1 weighted ops") {
		t.Errorf("auto on synthetic samples: exit %d\n%s", r.code, r.stdout)
	}
	r = onnxq(t, dir, in, "-o", out, "--synthetic", "2", "--complete-units", "off")
	if r.code != 0 || !strings.Contains(r.stdout, "coverage   0 of 1 weighted ops (0.0% of the MACs) in complete Q/DQ units, which ONNX Runtime runs as integer kernels; the other 1 run in float") {
		t.Errorf("units off: exit %d\n%s", r.code, r.stdout)
	}
	// With units off the Conv runs in float in ONNX Runtime: on real
	// samples the Q/DQ of its input x is idle and goes when that is no
	// worse; --float-idle-inputs=false keeps it.
	data := writeSamples(t, dir, "data", 4, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return float32((i*5+s*3)%9)/4 - 1 })
	r = onnxq(t, dir, in, "-o", out, "--calib", data, "--complete-units", "off")
	if r.code != 0 || !strings.Contains(r.stdout, "idle       1 activations only Convs outside integer units read stay float") || quantizesInput(t, out, "x") {
		t.Errorf("idle input: exit %d\n%s", r.code, r.stdout)
	}
	r = onnxq(t, dir, in, "-o", out, "--calib", data, "--complete-units", "off", "--float-idle-inputs=false")
	if r.code != 0 || strings.Contains(r.stdout, "idle ") || !quantizesInput(t, out, "x") {
		t.Errorf("--float-idle-inputs=false: exit %d\n%s", r.code, r.stdout)
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--complete-units", in, "-o", bad, "--synthetic", "2", "--complete-units", "sometimes")
}

// TestQuantizeTensorRTTarget: TensorRT runs a layer in INT8 from its
// quantized inputs, so --target tensorrt adds no output Q/DQ to complete
// a unit and keeps the int8 weights of a depthwise Conv that ort-cpu
// gives back in FP32 when its unit stays open; its coverage line counts
// the layers reading int8 activations and weights. Either flag given
// explicitly still applies.
func TestQuantizeTensorRTTarget(t *testing.T) {
	dir := t.TempDir()
	in := convSigmoid(t, filepath.Join(dir, "dw.onnx"), 2, 2)
	out := filepath.Join(dir, "q.onnx")
	// what the Conv reads and what reads it
	shape := func() (weight graph.DType, outputQ bool) {
		m, err := graph.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.Graph.Nodes {
			if n.OpType != "Conv" {
				continue
			}
			weight = n.Input(1).DType
			if p := n.Input(1).Producer; p != nil && p.OpType == "DequantizeLinear" {
				weight = p.Input(0).DType
			}
			outputQ = slices.ContainsFunc(n.Outputs[0].Consumers, func(c *graph.Node) bool { return c.OpType == "QuantizeLinear" })
		}
		return weight, outputQ
	}
	for _, c := range []struct {
		args    []string
		weight  graph.DType
		outputQ bool
		line    string
	}{
		{[]string{"--complete-units", "off"}, graph.Float32, false, "coverage   0 of 1 weighted ops (0.0% of the MACs) in complete Q/DQ units"},
		{[]string{"--target", "tensorrt"}, graph.Int8, false, "coverage   1 of 1 weighted ops (100.0% of the MACs) read int8 activations and weights, which TensorRT runs in INT8\n"},
		{[]string{"--target", "tensorrt", "--complete-units", "on"}, graph.Int8, true, "units      1 Conv/MatMul outputs given a Q/DQ"},
		{[]string{"--target", "tensorrt", "--float-weights-outside-units", "grouped"}, graph.Float32, false, "run in float"},
	} {
		r := onnxq(t, dir, append([]string{in, "-o", out, "--synthetic", "2"}, c.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, r.code, r.stderr)
		}
		if weight, outputQ := shape(); weight != c.weight || outputQ != c.outputQ || !strings.Contains(r.stdout, c.line) {
			t.Errorf("%v: weight %v, output Q %v; want %v, %v and %q in\n%s", c.args, weight, outputQ, c.weight, c.outputQ, c.line, r.stdout)
		}
	}
}

// When completing both units of testmodels.TwoHeads costs too much, auto
// completes the one that costs least, and the summary says which share it
// kept and what all of them would have cost.
func TestQuantizeCompleteUnitsPartial(t *testing.T) {
	dir := t.TempDir()
	heads, err := testmodels.TwoHeads()
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "heads.onnx")
	if err := graph.Save(heads, in, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "q.onnx")
	data := writeSamples(t, dir, "data", 6, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return float32((i*7+s*5)%11)/5 - 1 })
	r := onnxq(t, dir, in, "-o", out, "--calib", data)
	if r.code != 0 || !strings.Contains(r.stdout, "units      1 of 2 Conv/MatMul outputs read by float ops given a Q/DQ to complete their unit") ||
		!strings.Contains(r.stdout, "coverage   1 of 2 weighted ops") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	q, err := graph.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range q.Graph.Nodes {
		if n.OpType == "Sigmoid" || n.OpType == "Exp" {
			p := n.Input(0).Producer
			if got, want := p.OpType, map[string]string{"Sigmoid": "DequantizeLinear", "Exp": "Conv"}[n.OpType]; got != want {
				t.Errorf("%s reads %s, want %s", n.OpType, got, want)
			}
		}
	}
}

// saveBuilt writes the builder's model to path and returns path.
func saveBuilt(t *testing.T, b *graph.Builder, path string) string {
	t.Helper()
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := graph.Save(m, path, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// quantizesInput tells whether the model at path has a QuantizeLinear
// reading its value name.
func quantizesInput(t *testing.T, path, name string) bool {
	t.Helper()
	m, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" && n.Input(0) != nil && n.Input(0).Name == name {
			return true
		}
	}
	return false
}

// TestQuantizeFloatWeightsOutsideUnits: the last Conv of the chain writes
// a graph output, so it forms no complete unit. By default (grouped
// Convs only) it reads int8 weights and the coverage line points to the
// flag; with --float-weights-outside-units all it reads the FP32 weight
// of the model, and the summary says so with the worst output of that
// model on the calibration samples, while the Conv before it stays
// a unit. An unknown scope is a clean error.
func TestQuantizeFloatWeightsOutsideUnits(t *testing.T) {
	dir := t.TempDir()
	model, calib := lossyChain(t, dir, 4)
	fp32, err := graph.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fp32.Graph.Value("w21").Const.Float32s()
	for _, on := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("q%v.onnx", on))
		args := []string{model, "-o", out, "--calib", calib}
		if on {
			args = append(args, "--float-weights-outside-units", "all")
		}
		r := onnxq(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		line := "1 weighted ops outside complete Q/DQ units have their FP32 weights"
		hint := "1 of them dequantizing int8 weights on every run; --float-weights-outside-units all gives them FP32 ones"
		if strings.Contains(r.stdout, line) != on || strings.Contains(r.stdout, hint) == on {
			t.Errorf("flag %v: summary:\n%s", on, r.stdout)
		}
		// the model the choices lead to, with its FP32 weights, measured too
		if then := regexp.MustCompile(`FP32 weights .*; the worst output on the calibration samples is then -?\d+\.\d dB`); then.MatchString(r.stdout) != on {
			t.Errorf("flag %v: no figure of the model with FP32 weights:\n%s", on, r.stdout)
		}
		q, err := graph.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		var last, before *graph.Node
		for _, n := range q.Graph.Nodes {
			switch n.Name {
			case "c21":
				last = n
			case "c20":
				before = n
			}
		}
		if last == nil || before == nil || !macs.QDQUnit(before) || macs.QDQUnit(last) {
			t.Fatalf("flag %v: c20 and c21 not found as a unit and a Conv outside one", on)
		}
		isFP32 := false
		if w := last.Input(1); w.Const != nil && w.DType == graph.Float32 {
			got, err := w.Const.Float32s()
			isFP32 = err == nil && slices.Equal(got, want)
		}
		if isFP32 != on {
			t.Errorf("flag %v: c21 reads the FP32 weight: %v", on, isFP32)
		}
	}
	bad := filepath.Join(dir, "bad.onnx")
	failsCleanly(t, dir, bad, "--float-weights-outside-units", model, "-o", bad, "--calib", calib, "--float-weights-outside-units", "some")
}

// TestQuantizeWarnsWithoutUnits: a Conv read only by a Tanh that ends
// the graph forms no complete unit with --complete-units off, so the
// quantized model only gains int8 weights; the command warns that ONNX
// Runtime runs it in float. A model with units gets no such warning.
func TestQuantizeWarnsWithoutUnits(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "tanh.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 4, 6, 6)
		w := make([]float32, 4*4*3*3)
		for i := range w {
			w[i] = 0.1 * float32(i%7-3)
		}
		b.Output(b.Op("Tanh", b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{4, 4, 3, 3}, w)), graph.IntsAttr("pads", 1, 1, 1, 1))))
	})
	calib := writeSamples(t, dir, "calib", 4, "x", []int{1, 4, 6, 6}, func(s, i int) float32 { return float32(math.Sin(float64(i*(s+2)) * 0.3)) })
	warning := "none of the 1 weighted ops is in a complete Q/DQ unit"
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", calib, "--complete-units", "off")
	if r.code != 0 || !strings.Contains(r.stderr, warning) || !strings.Contains(r.stderr, "slower than FP32") {
		t.Errorf("exit %d, stderr lacks the warning:\n%s", r.code, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", filepath.Join(dir, "q2.onnx"), "--calib", calib, "--complete-units", "off", "--float-weights-outside-units", "all")
	if r.code != 0 || !strings.Contains(r.stderr, warning) || !strings.Contains(r.stderr, "no faster than FP32") {
		t.Errorf("with FP32 weights: exit %d, stderr lacks the warning:\n%s", r.code, r.stderr)
	}
	chain, chainCalib := lossyChain(t, dir, 4)
	r = onnxq(t, dir, chain, "-o", filepath.Join(dir, "q3.onnx"), "--calib", chainCalib)
	if r.code != 0 || strings.Contains(r.stderr, "complete Q/DQ unit") {
		t.Errorf("a model with units: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestQuantizeFuseHardSwish: an opset-13 model with a hard-swish written
// as x·Clip(x+3, 0, 6)/6 between two Convs comes out at opset 14 with one
// HardSwish node, and the summary says both; --fuse-hard-swish=false and
// --opset 13 keep the elementwise form at opset 13.
func TestQuantizeFuseHardSwish(t *testing.T) {
	dir := t.TempDir()
	b := graph.NewBuilder(13)
	c := func(name string, v float32) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
	weight := func(name string, dims ...int64) *graph.Value {
		data := make([]float32, dims[0]*dims[1])
		for i := range data {
			data[i] = float32(math.Sin(float64(3*i+len(name)))) * 0.8
		}
		return b.Const(graph.FromFloat32s(name, dims, data))
	}
	x := b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 6, 6), weight("w1", 8, 4, 1, 1))
	y := b.Op("Div", b.Op("Mul", x, b.Op("Clip", b.Op("Add", x, c("three", 3)), c("zero", 0), c("six", 6))), c("six_", 6))
	b.Output(b.Op("Conv", y, weight("w2", 4, 8, 1, 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "hswish.onnx")
	if err := graph.Save(m, model, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	calib := writeSamples(t, dir, "calib", 4, "x", []int{1, 4, 6, 6}, func(s, i int) float32 { return 3 * float32(math.Sin(float64(i*(s+2))*0.41)) })
	for _, c := range []struct {
		flags []string
		fused bool
	}{{nil, true}, {[]string{"--fuse-hard-swish=false"}, false}, {[]string{"--opset", "13"}, false}} {
		out := filepath.Join(dir, "q.onnx")
		r := onnxq(t, dir, append([]string{model, "-o", out, "--calib", calib}, c.flags...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", c.flags, r.code, r.stderr)
		}
		q, err := graph.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		hs := 0
		for _, n := range q.Graph.Nodes {
			if n.OpType == "HardSwish" {
				hs++
			}
		}
		opset, _ := q.Opset("")
		lines := []string{"fused      1 hard-swish written with elementwise ops (Add 1, Clip 1, Div 1, Mul 1) is now one HardSwish op", "raised from 13 to 14", "the HardSwish ops 14", "1 x HardSwish: hard-swish"}
		for _, l := range lines {
			if strings.Contains(r.stdout, l) != c.fused {
				t.Errorf("%v: summary has %q: %v, want %v:\n%s", c.flags, l, !c.fused, c.fused, r.stdout)
			}
		}
		if want := map[bool]int{true: 1}[c.fused]; hs != want || (opset == 14) != c.fused {
			t.Errorf("%v: %d HardSwish nodes at opset %d", c.flags, hs, opset)
		}
	}
}

// TestQuantizeHalfModel: a float16 model with float16 samples comes out
// quantized (integer Convs) with its float16 input and output, says so,
// reports its output's SQNR and runs; compare and --target-sqnr measure
// its float16 output.
func TestQuantizeHalfModel(t *testing.T) {
	dir := t.TempDir()
	half := func(name string, dims []int64, vals []float32) *graph.Tensor {
		raw := make([]byte, 2*len(vals))
		for i, v := range vals {
			bits := float16.Fromfloat32(v).Bits()
			raw[2*i], raw[2*i+1] = byte(bits), byte(bits>>8)
		}
		h := &graph.Tensor{Name: name, DType: graph.Float16, Dims: dims}
		if err := h.SetRaw(raw); err != nil {
			t.Fatal(err)
		}
		return h
	}
	weights := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(math.Sin(float64(7*i+1))) * 0.5
		}
		return w
	}
	b := graph.NewBuilder(17)
	y := b.Op("Relu", b.Op("Conv", b.Input("x", graph.Float16, 1, 4, 6, 6), b.Const(half("w1", []int64{8, 4, 3, 3}, weights(288)), nil), graph.IntsAttr("pads", 1, 1, 1, 1)))
	y = b.Op("Conv", y, b.Const(half("w2", []int64{4, 8, 1, 1}, weights(32)), nil))
	if err := b.Graph().Rename(y, "y"); err != nil {
		t.Fatal(err)
	}
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "half.onnx")
	if err := graph.Save(m, model, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	calib := writeSamplesOf(t, dir, "calib", 4, "x", graph.Float16, []int{1, 4, 6, 6}, func(s, i int) float32 { return 2 * float32(math.Sin(float64(i*(s+2))*0.37)) })
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--calib", calib)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"half       float16/bfloat16 model", "int8 ops   Conv 2", "sqnr       y "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	q, err := graph.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if in, o := q.Graph.Inputs[0], q.Graph.Outputs[0]; in.DType != graph.Float16 || o.DType != graph.Float16 || o.Name != "y" {
		t.Errorf("input %v, output %s %v; want float16 x and y", in.DType, o.Name, o.DType)
	}
	if r := onnxq(t, dir, "run", out, "--input", filepath.Join(calib, "sample_000")); r.code != 0 {
		t.Errorf("the quantized model does not run: %s", r.stderr)
	}
	// compare and the --target-sqnr search measure the float16 output too
	r = onnxq(t, dir, "compare", model, out, "--data", calib)
	if r.code != 0 || strings.Contains(r.stdout, "skipped:") || !strings.Contains(r.stdout, "activations (2 compared, 0 skipped)") {
		t.Errorf("compare: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", out, "--calib", calib, "--target-sqnr", "99")
	if r.code != 0 || !strings.Contains(r.stdout, "target     NOT met") || strings.Contains(r.stdout, "inf") {
		t.Errorf("--target-sqnr: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A data file in a sample folder that no input reads (a renamed or
// mistyped input) is named in one warning; the samples still calibrate.
func TestQuantizeUnmatchedSampleFile(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // input x: float32[1,2,8,8]
	folder := filepath.Join(dir, "calib")
	for s := range 3 {
		x := runtime.New(graph.Float32, 1, 2, 8, 8)
		for i := range x.F32() {
			x.F32()[i] = float32(math.Sin(float64(i*(s+3)) * 0.37))
		}
		sample := filepath.Join(folder, fmt.Sprintf("sample_%03d", s))
		if err := os.MkdirAll(sample, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"x.npy", "x_old.npy"}[:1+s/2] {
			if err := tensorio.WriteNpy(filepath.Join(sample, name), x); err != nil {
				t.Fatal(err)
			}
		}
		if s == 1 { // beside x.npy, which comes first
			if err := tensorio.WritePb(filepath.Join(sample, "x.pb"), "x", x); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", folder)
	if r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	for _, want := range []string{
		`WARNING: --calib ` + folder + `: 1 data file in the sample folders matches no model input (x) and is not read: "` + filepath.Join("sample_002", "x_old.npy") + `"`,
		`WARNING: --calib ` + folder + `: 1 .pb file in the sample folders is not read, the .npy of the same input beside it coming first: "` + filepath.Join("sample_001", "x.pb") + `"`,
	} {
		if n := strings.Count(r.stderr, want); n != 1 {
			t.Errorf("%d warnings %q in:\n%s", n, want, r.stderr)
		}
	}
}

// TestQuantizeNonFiniteSamples: a NaN and an Inf in one calibration sample
// give one warning naming the input and counts; the ranges, the choices
// measured on the outputs and the summary's SQNR leave them out, so the
// SQNR stays finite.
func TestQuantizeNonFiniteSamples(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // input x: float32[1,2,8,8]
	folder := filepath.Join(dir, "calib")
	for s := 0; s < 6; s++ {
		x := runtime.New(graph.Float32, 1, 2, 8, 8)
		f := x.F32()
		for i := range f {
			f[i] = float32(math.Sin(float64(i*(s+3)) * 0.37))
		}
		if s == 2 {
			f[5], f[77] = float32(math.NaN()), float32(math.Inf(1))
		}
		sample := filepath.Join(folder, fmt.Sprintf("sample_%03d", s))
		if err := os.MkdirAll(sample, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tensorio.WriteNpy(filepath.Join(sample, "x.npy"), x); err != nil {
			t.Fatal(err)
		}
	}
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", folder)
	if r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	if n := strings.Count(r.stderr, "WARNING: the calibration samples hold NaN or infinite values: x (1 NaN, 1 infinite, of 768 values)"); n != 1 {
		t.Errorf("%d warnings naming x and its counts in:\n%s", n, r.stderr)
	}
	var sqnr string
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "sqnr") {
			sqnr = line
		}
	}
	var db float64
	if f := strings.Fields(sqnr); len(f) < 3 {
		t.Fatalf("no sqnr line in:\n%s", r.stdout)
	} else if _, err := fmt.Sscan(f[2], &db); err != nil || !(db > 20) {
		t.Errorf("sqnr line %q: want a finite SQNR above 20 dB", sqnr)
	}
}

// The coverage line says why a Conv writing a graph output runs in
// float: that output stays float, as every graph output does.
func TestQuantizeCoverageGraphOutput(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "two.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 6, 6)
		h := b.Op("Relu", b.Op("Conv", x, patternWeight(b, "w1", 1, 4, 2, 3, 3)))
		b.Output(b.Op("Conv", h, patternWeight(b, "w2", 2, 3, 4, 1, 1)))
	})
	data := writeSamples(t, dir, "data", 4, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return float32((i*5+s*3)%9)/4 - 1 })
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", data)
	if r.code != 0 || !strings.Contains(r.stdout, "the other 1 run in float (1 of them writing a graph output, which stays float") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// An output that FP32 leaves all zeros on the samples reads "inf dB" and
// the summary says that those samples measure nothing there.
func TestQuantizeSilentOutput(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "silent.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		pos := make([]float32, 3*2*3*3)
		neg := make([]float32, len(pos))
		for i := range pos {
			pos[i] = float32(i%5+1) / 10
			neg[i] = -pos[i]
		}
		b.Output(b.Op("Conv", x, b.Const(graph.FromFloat32s("wp", []int64{3, 2, 3, 3}, pos))))
		b.Output(b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("wn", []int64{3, 2, 3, 3}, neg)))))
	})
	data := writeSamples(t, dir, "data", 4, "x", []int{1, 2, 4, 4}, func(s, i int) float32 { return float32((i*7+s*3)%10) / 10 })
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", data)
	silent := 0
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "sqnr") && strings.Contains(line, "the FP32 output is all zeros on them") {
			silent++
		}
	}
	if r.code != 0 || silent != 1 {
		t.Fatalf("exit %d, %d silent outputs, want 1\n%s%s", r.code, silent, r.stdout, r.stderr)
	}
}

// An integer output (ArgMax) gets a count of the elements that differ,
// and an empty one says it measures nothing; neither is a dB figure.
func TestQuantizeDiscreteAndEmptyOutputs(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "kinds.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		y := b.Op("Conv", x, patternWeight(b, "w", 1, 3, 2, 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1))
		i64 := func(name string, v int64) *graph.Value {
			return b.Const(graph.FromInt64s(name, []int64{1}, []int64{v}))
		}
		b.Output(y, b.Op("ArgMax", y, graph.IntAttr("axis", 1)), b.Op("Slice", y, i64("s", 0), i64("e", 0), i64("a", 1)))
	})
	data := writeSamples(t, dir, "data", 4, "x", []int{1, 2, 4, 4}, func(s, i int) float32 { return float32((i*7+s*3)%10) / 10 })
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", data)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	discrete := regexp.MustCompile(`(?m)^sqnr +\S+: \d+ of 64 elements differ from FP32's \(an integer or bool output; 4 samples`)
	empty := regexp.MustCompile(`(?m)^sqnr +\S+: no elements on these samples, nothing to measure`)
	if !discrete.MatchString(r.stdout) || !empty.MatchString(r.stdout) || strings.Contains(r.stdout, "NaN") {
		t.Fatalf("summary:\n%s", r.stdout)
	}
}

// depthwiseModel saves x[1,2,6,6] -> 1x1 Conv to 4 channels -> Relu ->
// depthwise 3x3 Conv, whose Relu output equalization rescales, as dw.onnx
// in dir.
func depthwiseModel(t *testing.T, dir string) string {
	t.Helper()
	return saveModel(t, dir, "dw.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 6, 6)
		h := b.Op("Relu", b.Op("Conv", x, patternWeight(b, "w1", 1, 4, 2, 1, 1)))
		b.Output(b.Op("Conv", h, patternWeight(b, "w2", 2, 4, 1, 3, 3), graph.IntAttr("group", 4)))
	})
}

// Statistics saved from two halves of the samples and merged (by
// repeating --load-calib, in either order) equal those of the whole, and
// so do the models built from them, on a model whose depthwise Conv
// would be equalized: equalization is off when statistics are saved or
// loaded, its factors coming from one run's samples.
func TestQuantizeMergedStatistics(t *testing.T) {
	dir := t.TempDir()
	model := depthwiseModel(t, dir)
	value := func(s, i int) float32 { return float32((i*7+s*5)%11)/5 - 1 + float32(s%3) }
	whole := writeSamples(t, dir, "whole", 8, "x", []int{1, 2, 6, 6}, value)
	halfA := writeSamples(t, dir, "a", 4, "x", []int{1, 2, 6, 6}, value)
	halfB := writeSamples(t, dir, "b", 4, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return value(s+4, i) })
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, args := range [][]string{
		{model, "-o", path("w.onnx"), "--calib", whole, "--save-calib", path("w.json")},
		{model, "-o", path("a.onnx"), "--calib", halfA, "--save-calib", path("a.json")},
		{model, "-o", path("b.onnx"), "--calib", halfB, "--save-calib", path("b.json")},
		{model, "-o", path("ab.onnx"), "--load-calib", path("a.json"), "--load-calib", path("b.json"), "--save-calib", path("ab.json")},
		{model, "-o", path("ba.onnx"), "--load-calib", path("b.json"), "--load-calib", path("a.json")},
		{model, "-o", path("lw.onnx"), "--load-calib", path("w.json")},
	} {
		if r := onnxq(t, dir, args...); r.code != 0 {
			t.Fatalf("onnxq %q: exit %d\n%s", args, r.code, r.stderr)
		} else if strings.Contains(strings.Join(args, " "), "--calib") && !strings.Contains(r.stdout, "equalize   off") {
			t.Errorf("onnxq %q: no line says equalization is off\n%s", args, r.stdout)
		}
	}
	same := func(a, b string) {
		t.Helper()
		x, err1 := os.ReadFile(path(a))
		y, err2 := os.ReadFile(path(b))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s and %s differ (%v, %v)", a, b, err1, err2)
		}
	}
	same("ab.json", "w.json")
	same("ab.onnx", "lw.onnx")
	same("ba.onnx", "lw.onnx")
	r := onnxq(t, dir, model, "-o", path("x.onnx"), "--calib", whole, "--save-calib", path("x.json"), "--equalize-activations")
	if r.code != 2 || !strings.Contains(r.stderr, "--equalize-activations with --save-calib or --load-calib") {
		t.Errorf("--equalize-activations with --save-calib: exit %d, stderr %q", r.code, r.stderr)
	}
}

// The summary says what the equalization rescaled, and says nothing when
// it is off.
func TestQuantizeEqualizeLine(t *testing.T) {
	dir := t.TempDir()
	model := depthwiseModel(t, dir)
	calib := writeSamples(t, dir, "c", 8, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return float32((i*7+s*5)%11)/5 - 1 + float32(s%3) })
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "on.onnx"), "--calib", calib)
	if want := "equalize   rescaled 1 value in front of depthwise Convs"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, no line %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", filepath.Join(dir, "off.onnx"), "--calib", calib, "--equalize-activations=false")
	if r.code != 0 || strings.Contains(r.stdout, "equalize") {
		t.Errorf("exit %d, equalization off but said\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", filepath.Join(dir, "pt.onnx"), "--calib", calib, "--per-channel=false", "--equalize-activations")
	if r.code != 0 || !strings.Contains(r.stderr, "--equalize-activations does nothing with per-tensor weights") {
		t.Errorf("asked for with per-tensor weights: exit %d, no warning\n%s", r.code, r.stderr)
	}
	// Stopped after it, the pipeline writes the equalized float model.
	stopped := filepath.Join(dir, "stop.onnx")
	if r = onnxq(t, dir, model, "-o", stopped, "--calib", calib, "--stop-after", "equalize-activations"); r.code != 0 {
		t.Fatalf("--stop-after equalize-activations: exit %d\n%s", r.code, r.stderr)
	}
	m, err := graph.Load(stopped)
	if err != nil {
		t.Fatal(err)
	}
	rescaled := false
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" || n.OpType == "DequantizeLinear" {
			t.Fatalf("--stop-after equalize-activations wrote a quantized model (%s)", n.OpType)
		}
		rescaled = rescaled || strings.HasSuffix(n.Outputs[0].Name, "_equalized")
	}
	if !rescaled {
		t.Error("--stop-after equalize-activations: no value rescaled")
	}
}

// patternWeight adds a constant of the given shape holding a fixed
// pattern of values in [-6/13, 6/13] that seed shifts.
func patternWeight(b *graph.Builder, name string, seed int, dims ...int64) *graph.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((seed*31+i*17)%13-6) / 13
	}
	return b.Const(graph.FromFloat32s(name, dims, v))
}

// The 16-bit line draws no conclusion from a figure below the 8-bit
// model's own: on the same footing finer activations do no worse.
func TestWideSummary(t *testing.T) {
	for _, c := range []struct {
		db   float64
		want string
	}{
		{50, "the 8-bit activations cost the rest"},
		{38, "below the target, so finer activations alone cannot reach it"},
		{30, "below the 8-bit model's own 35.0 dB, so this check"},
	} {
		var buf bytes.Buffer
		wideSummary(&buf, &quant.TuneReport{Target: 40, BeforeSQNR: 35}, c.db)
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("%v dB: %q; want %q", c.db, buf.String(), c.want)
		}
	}
}

// A bad value of an enumerated or numeric flag is a usage error (exit 2)
// with one line, whatever the model.
func TestQuantizeBadFlagValues(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	for _, args := range [][]string{
		{"--complete-units", "maybe"},
		{"--float-weights-outside-units", "some"},
		{"--weight-rounding", "best"},
		{"--opset", "0"},
		{"--opset", "-1"},
		{"--opset", "9999"},
		{"--opset", "12"}, // per-channel weights need 13
		{"--target", "tensorrt", "--weight-type", "uint8"},
		{"--target", "tensorrt", "--format", "qop"},
	} {
		r := onnxq(t, dir, append([]string{model, "-o", filepath.Join(dir, "q.onnx"), "--synthetic", "2"}, args...)...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "q.onnx")); err == nil {
			t.Errorf("%q: an output was written", args)
		}
	}
}

// A model whose worst output reads under 10 dB gets a warning naming it.
func TestQuantizeRuinedModelWarns(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	data := writeSamples(t, dir, "data", 4, "x", []int{1, 2, 8, 8}, func(s, i int) float32 { return float32((i*7+s*3)%10) - 5 })
	cfg := filepath.Join(dir, "c.json")
	os.WriteFile(cfg, []byte(`{"tensors": {"x": {"min": -0.01, "max": 0.01}}}`), 0o644)
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "q.onnx"), "--calib", data, "--config", cfg)
	if r.code != 0 || !regexp.MustCompile(`WARNING: output \S+ reads -?\d+\.\d dB against FP32`).MatchString(r.stderr) {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", filepath.Join(dir, "q2.onnx"), "--calib", data)
	if strings.Contains(r.stderr, "against FP32") {
		t.Errorf("a good model warned:\n%s", r.stderr)
	}
}

// A model with no outputs computes nothing a caller sees: refused, with
// no output file.
func TestQuantizeNoOutputs(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "none.onnx", func(b *graph.Builder) {
		b.Op("Relu", b.Input("x", graph.Float32, 1, 4))
	})
	out := filepath.Join(dir, "out.onnx")
	failsCleanly(t, dir, out, "the model has no outputs", model, "-o", out, "--synthetic", "2")
}

// NaN weights are named in a warning: the FP32 model computes NaN where
// they reach.
func TestQuantizeNaNWeightsWarn(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "nan.onnx", func(b *graph.Builder) {
		w := []float32{1, float32(math.NaN()), 0.5, -1}
		b.Output(b.Op("MatMul", b.Input("x", graph.Float32, 1, 2), b.Const(graph.FromFloat32s("w", []int64{2, 2}, w))))
	})
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "out.onnx"), "--synthetic", "2")
	if want := "initializers hold NaN or infinite values: w (1 of 4 values)"; !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, no warning %q\n%s", r.code, want, r.stderr)
	}
}

// A folder that takes no new file is refused before any work: a
// read-only folder, or, for root, who writes in those, /proc.
func TestQuantizeReadOnlyFolder(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	takesFiles := func(folder string) bool {
		f, err := os.CreateTemp(folder, "probe")
		if err != nil {
			return false
		}
		f.Close()
		os.Remove(f.Name())
		return true
	}
	if takesFiles(ro) {
		ro = "/proc"
		if _, err := os.Stat(ro); err != nil || takesFiles(ro) {
			t.Skip("no folder here refuses this user's files")
		}
	}
	out := filepath.Join(ro, "out.onnx")
	failsCleanly(t, dir, out, "cannot write in folder", convnetPath(t), "-o", out, "--synthetic", "2")
}

// With --complete-units on, a Conv output a hard-swish reads is rescaled
// and the summary says so; auto leaves it. Once the units are forced, the
// warning about none being complete no longer suggests forcing them.
func TestQuantizeEqualizeSwishLine(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "swish.onnx", func(b *graph.Builder) {
		x := b.Input("x", graph.Float32, 1, 2, 6, 6)
		w := make([]float32, 16)
		for i := range w {
			w[i] = float32((i*5)%7)/7 - 0.4
		}
		w[0], w[1] = 20, -15
		c := b.Op("Conv", x, b.Const(graph.FromFloat32s("w1", []int64{8, 2, 1, 1}, w)))
		b.Output(b.Op("Conv", b.Op("HardSwish", c), patternWeight(b, "w2", 2, 2, 8, 1, 1)))
	})
	calib := writeSamples(t, dir, "c", 8, "x", []int{1, 2, 6, 6}, func(s, i int) float32 { return float32((i*7+s*5)%11)/5 - 1 })
	const want = "1 Conv output read by hard-swishes, undone by the DequantizeLinear in front of each"
	r := onnxq(t, dir, model, "-o", filepath.Join(dir, "on.onnx"), "--calib", calib, "--complete-units", "on")
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("--complete-units on: exit %d, no %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	r = onnxq(t, dir, model, "-o", filepath.Join(dir, "auto.onnx"), "--calib", calib)
	if r.code != 0 || strings.Contains(r.stdout, "hard-swishes") {
		t.Errorf("auto: exit %d, rescaled\n%s%s", r.code, r.stdout, r.stderr)
	}
	// a Conv writing a graph output is no unit, forced or not
	single := saveModel(t, dir, "single.onnx", func(b *graph.Builder) {
		b.Output(b.Op("Conv", b.Input("x", graph.Float32, 1, 2, 6, 6), patternWeight(b, "w", 1, 2, 2, 1, 1)))
	})
	for _, units := range []string{"auto", "on"} {
		r = onnxq(t, dir, single, "-o", filepath.Join(dir, "single-"+units+".onnx"), "--calib", calib, "--complete-units", units)
		if forces := strings.Contains(r.stderr, "--complete-units on forces them"); r.code != 0 || !strings.Contains(r.stderr, "none of the 1 weighted ops") || forces != (units == "auto") {
			t.Errorf("--complete-units %s: exit %d, stderr %q", units, r.code, r.stderr)
		}
	}
}

// --synthetic samples take size 1 where the model leaves a size open; a
// filter longer than that fails with a line naming the size and --shape,
// and --shape makes samples the model runs on. --shape beside --calib, or
// not fitting the input, is one clear line and no file.
func TestQuantizeSyntheticShape(t *testing.T) {
	dir := t.TempDir()
	model := saveModel(t, dir, "filter.onnx", func(b *graph.Builder) {
		x, _ := b.Graph().AddInput("x", graph.Float32, graph.Shape{{Param: "batch", Size: -1}, {Size: 2}, {Param: "samples", Size: -1}})
		b.Output(b.Op("Relu", b.Op("Conv", x, patternWeight(b, "w", 1, 4, 2, 9))))
	})
	out := filepath.Join(dir, "q.onnx")
	r := onnxq(t, dir, model, "-o", out, "--synthetic", "2")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if want := "the synthetic samples took size 1 for samples: give real sizes with --shape NAME=DIMS"; r.code != 1 || len(lines) != 2 || !strings.Contains(lines[1], want) {
		t.Errorf("size 1 for samples: exit %d, want 1 and the warning, then an error saying %q:\n%s", r.code, want, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed calibration wrote %s", out)
	}
	r = onnxq(t, dir, model, "-o", out, "--synthetic", "2", "--shape", "x=1,2,64")
	if r.code != 0 {
		t.Fatalf("--shape x=1,2,64: exit %d\n%s", r.code, r.stderr)
	}
	if !quantizesInput(t, out, "x") {
		t.Errorf("--shape x=1,2,64: the Conv's input is not quantized")
	}
	if strings.Contains(r.stderr, "size 1 for") {
		t.Errorf("--shape x=1,2,64: the warning still names sizes of 1:\n%s", r.stderr)
	}
	os.Remove(out)
	calib := filepath.Join(dir, "calib", "sample_000")
	if err := os.MkdirAll(calib, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNpy(t, filepath.Join(calib, "x.npy"), f32([]int{1, 2, 16}, make([]float32, 32)...))
	for _, c := range []struct {
		want string
		args []string
	}{
		{"--shape sets the shapes of --synthetic samples", []string{"--calib", filepath.Dir(calib), "--shape", "x=1,2,64"}},
		{"not of rank 2", []string{"--shape", "x=1,64"}},
		{"does not fit [1 3 64]", []string{"--shape", "x=1,3,64"}},
		{`the model has no input "y" (inputs: x)`, []string{"--shape", "y=1"}},
		{`--shape given twice for "x"`, []string{"--shape", "x=1,2,64", "--shape", "x=1,2,32"}},
	} {
		failsCleanly(t, dir, out, c.want, append([]string{model, "-o", out}, c.args...)...)
	}
}
