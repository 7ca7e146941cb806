// bench_test.go checks the bench command: its text and JSON reports, the
// ONNX Runtime comparison through a stand-in ort-run.js (and the real one
// when installed), and its errors.
package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
)

// chainModel is a few Relu/Add nodes, so intermediate tensors are freed
// before the run ends and the peak is below the total.
func chainModel(t *testing.T, dir string) string {
	return saveModel(t, dir, "chain.onnx", func(b *graph.Builder) {
		x := b.Input("x:0", graph.Float32, 1, 64)
		y := x
		for range 4 {
			y = b.Op("Add", b.Op("Relu", y), x)
		}
		b.Output(y)
	})
}

func TestBenchJSON(t *testing.T) {
	dir := t.TempDir()
	model := chainModel(t, dir)
	r := onnxq(t, dir, "bench", model, "--runs", "5", "--warmup", "1", "--threads", "1", "--json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if rep.Runs != 5 || rep.Warmup != 1 || rep.Threads != 1 || rep.MedianMS <= 0 || rep.MinMS > rep.MedianMS || rep.ORT != nil {
		t.Errorf("report %+v", rep)
	}
	// 8 intermediate float32[1,64] tensors of 256 bytes; at most 3 alive.
	if rep.TotalActivationBytes != 8*256 || rep.PeakActivationBytes <= 0 || rep.PeakActivationBytes > 3*256 {
		t.Errorf("activations: peak %d, total %d", rep.PeakActivationBytes, rep.TotalActivationBytes)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && rep.PeakRSSBytes < 1<<20 {
		t.Errorf("peak RSS %d", rep.PeakRSSBytes)
	}
}

// TestBenchOps checks --ops: one entry per op type with its node count,
// shares that sum to one, longest first, in JSON and in the text report.
func TestBenchOps(t *testing.T) {
	dir := t.TempDir()
	model := chainModel(t, dir)
	r := onnxq(t, dir, "bench", model, "--runs", "3", "--warmup", "0", "--threads", "1", "--ops", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	nodes, share := map[string]int{}, 0.0
	for i, o := range rep.Ops {
		nodes[o.Op] = o.Nodes
		share += o.Share
		if o.MS < 0 || (i > 0 && o.MS > rep.Ops[i-1].MS) {
			t.Errorf("ops not longest first: %+v", rep.Ops)
		}
	}
	if len(nodes) != 2 || nodes["Relu"] != 4 || nodes["Add"] != 4 || share < 0.999 || share > 1.001 {
		t.Errorf("ops %+v", rep.Ops)
	}
	text := onnxq(t, dir, "bench", model, "--runs", "2", "--ops")
	if text.code != 0 || !strings.Contains(text.stdout, "Relu") || !strings.Contains(text.stdout, "in 4 nodes") {
		t.Errorf("exit %d, text report:\n%s", text.code, text.stdout)
	}
	plain := onnxq(t, dir, "bench", model, "--runs", "2", "--json")
	if strings.Contains(plain.stdout, `"ops"`) {
		t.Errorf("ops reported without --ops:\n%s", plain.stdout)
	}
}

func TestBenchText(t *testing.T) {
	dir := t.TempDir()
	model := chainModel(t, dir)
	xf := filepath.Join(dir, "x.npy")
	tensorio.WriteNpy(xf, f32([]int{1, 64}, make([]float32, 64)...))
	r := onnxq(t, dir, "bench", model, "--runs", "3", "--input", "x:0="+xf)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"model        " + model, "latency      median ", "(3 runs after 3 warm-up)", "activations  peak ", "of 2,048 B (2.0 KiB) produced ("} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	// Counts past the bound are usage errors, not an allocation that
	// exhausts memory.
	for _, flag := range []string{"--runs", "--warmup"} {
		if r := onnxq(t, dir, "bench", model, flag, "99999999999"); r.code != 2 || !strings.HasPrefix(r.stderr, "onnxq: "+flag+" 99999999999: want ") {
			t.Errorf("%s 99999999999: exit %d, stderr %q", flag, r.code, r.stderr)
		}
	}
}

// fakeORT is a stand-in for ort-run.js that records its arguments and
// prints a timing as ort-run.js does.
const fakeORT = `const fs = require('fs');
fs.writeFileSync(process.env.FAKE_ORT_ARGS, JSON.stringify(process.argv.slice(2)));
console.log(JSON.stringify({model: 'm', bench: {runs: 4, median_ms: 0.5, min_ms: 0.25}}));
`

func TestBenchORT(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	model := chainModel(t, dir)
	script := filepath.Join(dir, "fake-ort.js")
	os.WriteFile(script, []byte(fakeORT), 0o644)
	argsFile := filepath.Join(dir, "args.json")
	cmd := []string{"bench", model, "--runs", "4", "--warmup", "0", "--threads", "2", "--ort", script, "--json", "--seed", "3"}
	os.Setenv("FAKE_ORT_ARGS", argsFile)
	defer os.Unsetenv("FAKE_ORT_ARGS")
	r := onnxq(t, dir, cmd...)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var rep BenchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.ORT == nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if rep.ORT.MedianMS != 0.5 || rep.ORT.MinMS != 0.25 || rep.Ratio != rep.MedianMS/0.5 {
		t.Errorf("ORT figures: %+v, ratio %v", rep.ORT, rep.Ratio)
	}
	var args []string
	if err := json.Unmarshal(mustRead(t, argsFile), &args); err != nil {
		t.Fatal(err)
	}
	if len(args) != 7 || args[0] != model || strings.Join(args[1:5], " ") != "--bench 4 --threads 2" || args[5] != "--in" || !strings.HasPrefix(args[6], "x:0=") || !strings.HasSuffix(args[6], "x_0.npy") {
		t.Fatalf("ort-run.js called with %q", args)
	}
	// The input file is removed once bench is done.
	if _, err := os.Stat(strings.TrimPrefix(args[6], "x:0=")); err == nil {
		t.Error("bench left its temporary input files")
	}

	// A failing ORT gives one error line with its message, after onnxq's
	// own figures.
	os.WriteFile(script, []byte("console.error('no data for input x'); process.exit(1);\n"), 0o644)
	r = onnxq(t, dir, cmd...)
	if r.code != 1 || !strings.Contains(r.stderr, "no data for input x") {
		t.Errorf("failing ORT: exit %d, stderr %q", r.code, r.stderr)
	}
	oneErrorLine(t, r, cmd)
	rep = BenchReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.ORT != nil || !(rep.MedianMS > 0) {
		t.Errorf("failing ORT: onnxq's figures %+v (%v) from:\n%s", rep, err, r.stdout)
	}
	// Node.js's own error line, not the source line it prints first.
	os.WriteFile(script, []byte("this is not javascript\n"), 0o644)
	r = onnxq(t, dir, cmd...)
	if r.code != 1 || !strings.Contains(r.stderr, "SyntaxError: ") {
		t.Errorf("broken script: exit %d, stderr %q", r.code, r.stderr)
	}
	// A wrong --ort is refused before any timing: a missing script, a
	// model in its place, a folder without ort-run.js. A folder holding
	// it is taken.
	for _, c := range []struct{ ort, msg string }{
		{filepath.Join(dir, "missing.js"), "--ort: "},
		{model, "--ort takes the path of ort-run.js"},
		{dir, "is a folder without ort-run.js"},
	} {
		r = onnxq(t, dir, "bench", model, "--ort", c.ort)
		if r.code != 1 || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("--ort %s: exit %d, stdout %q, stderr %q", c.ort, r.code, r.stdout, r.stderr)
		}
		oneErrorLine(t, r, []string{"bench", "--ort", c.ort})
	}
	os.WriteFile(filepath.Join(dir, "ort-run.js"), []byte(fakeORT), 0o644)
	r = onnxq(t, dir, "bench", model, "--runs", "2", "--ort", dir, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"ort"`) {
		t.Errorf("--ort FOLDER with ort-run.js: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestBenchRealORT runs bench --ort with ONNX Runtime when it is installed
// (ORT_NODE_DIR).
func TestBenchRealORT(t *testing.T) {
	script, _ := filepath.Abs("../../../shared/tools/ort/ort-run.js")
	if _, err := exec.LookPath("node"); err != nil || os.Getenv("ORT_NODE_DIR") == "" {
		t.Skip("ONNX Runtime for Node.js is not installed (ORT_NODE_DIR)")
	}
	if _, err := os.Stat(script); err != nil {
		t.Skip("no ../shared/tools/ort")
	}
	dir := t.TempDir()
	model := chainModel(t, dir)
	r := onnxq(t, dir, "bench", model, "--runs", "3", "--threads", "1", "--ort", script)
	if r.code != 0 || !strings.Contains(r.stdout, "ONNX Runtime  median ") || !strings.Contains(r.stdout, "onnxq/ORT     ") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"bench"}, "bench needs a MODEL"},
		{[]string{"bench", "m.onnx", "--runs", "0"}, "--runs 0"},
		{[]string{"bench", "m.onnx", "--warmup", "-1"}, "--warmup -1"},
		{[]string{"bench", "m.onnx", "--threads", "-2"}, "--threads -2"},
	} {
		r := onnxq(t, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) || !strings.HasSuffix(r.stderr, "(onnxq help bench shows the usage)\n") {
			t.Errorf("onnxq %q: exit %d (want 2), stderr:\n%s", c.args, r.code, r.stderr)
		}
		oneErrorLine(t, r, c.args)
	}
}

func TestMedianMin(t *testing.T) {
	m, lo := medianMin([]float64{5, 1, 3, 2})
	if m != 3 || lo != 1 {
		t.Errorf("medianMin = %v, %v", m, lo)
	}
}
