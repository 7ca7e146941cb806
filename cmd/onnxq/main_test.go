package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/spf13/pflag"
)

// onnxqBin is the command built once for the tests, which run it as a
// subprocess so exit statuses and the exact output streams are checked.
var onnxqBin string

// sharedModels is where real models written by others are kept (not in
// the repository).
const sharedModels = "../../../shared/models"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "onnxq-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	onnxqBin = filepath.Join(dir, "onnxq")
	if runtime.GOOS == "windows" {
		onnxqBin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", onnxqBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building onnxq: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

type result struct {
	stdout, stderr string
	code           int
}

// onnxq runs the built command in dir ("" for the package folder).
func onnxq(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(onnxqBin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running onnxq %q: %v", args, err)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Errorf("onnxq %q printed a stack trace:\n%s", args, r.stderr)
	}
	return r
}

// oneErrorLine checks that stderr is exactly one line "onnxq: ...".
func oneErrorLine(t *testing.T, r result, args []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "onnxq: ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("onnxq %q: stderr is not one line starting \"onnxq: \":\n%s", args, r.stderr)
	}
}

// testModel writes a small generated model (Conv, Relu, MatMul with
// initializers) to dir and returns its path.
func testModel(t *testing.T, dir string) string {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 8, 8)
	// 16 output channels: 1152 bytes of weights, past the size external
	// data takes (graph.MinExternalBytes)
	wdata := make([]float32, 16*2*3*3)
	for i := range wdata {
		wdata[i] = float32(i%7) - 3
	}
	w := b.Const(graph.FromFloat32s("w", []int64{16, 2, 3, 3}, wdata))
	y := b.Op("Conv", x, w, graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	mdata := make([]float32, 8*5)
	for i := range mdata {
		mdata[i] = float32(i) / 8
	}
	mw := b.Const(graph.FromFloat32s("mw", []int64{8, 5}, mdata))
	z := b.Op("MatMul", y, mw)
	b.Output(z)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "small.onnx")
	if err := graph.Save(m, path, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "quantize"}} {
		r := onnxq(t, "", args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("onnxq %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, cmd := range commands {
			if !strings.Contains(r.stdout, "\n  "+cmd.name+" ") {
				t.Errorf("onnxq %q does not list %s:\n%s", args, cmd.name, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "onnxq MODEL -o OUT") {
			t.Errorf("onnxq %q does not show the main job:\n%s", args, r.stdout)
		}
	}
}

func TestCommandHelp(t *testing.T) {
	for _, cmd := range commands {
		for _, args := range [][]string{{"help", cmd.name}, {cmd.name, "--help"}, {cmd.name, "-h"}} {
			r := onnxq(t, "", args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("onnxq %q: exit %d, stderr %q", args, r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "Usage: onnxq "+cmd.name) || !strings.Contains(r.stdout, "--help") {
				t.Errorf("onnxq %q does not show the usage:\n%s", args, r.stdout)
			}
		}
	}
	r := onnxq(t, "", "help", "convert")
	for _, flag := range []string{"--output OUT", "--external-data SIZE", "--external-data-name NAME"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("help convert does not show %s:\n%s", flag, r.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	r := onnxq(t, "", "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "onnxq ") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestMainJobDispatch checks that a model path in any position runs the
// main job, which writes a quantized model, and that a missing model is
// one error line with no output.
func TestMainJobDispatch(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	noSuffix := filepath.Join(dir, "model-without-suffix")
	data, _ := os.ReadFile(model)
	if err := os.WriteFile(noSuffix, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	for _, args := range [][]string{
		{model, "-o", out, "--synthetic", "2"},
		{"-o", out, model, "--synthetic", "2"},
		{noSuffix, "--output", out, "--synthetic", "2"},
	} {
		os.Remove(out)
		r := onnxq(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("onnxq %q: exit %d: %s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "WARNING: no --calib samples") {
			t.Errorf("onnxq %q: no warning about synthetic calibration:\n%s", args, r.stderr)
		}
		q, err := graph.Load(out)
		if err != nil {
			t.Fatalf("onnxq %q wrote an unreadable model: %v", args, err)
		}
		dq := 0
		q.Graph.Walk(func(g *graph.Graph) {
			for _, n := range g.Nodes {
				if n.OpType == "DequantizeLinear" {
					dq++
				}
			}
		})
		if dq == 0 {
			t.Errorf("onnxq %q: output has no DequantizeLinear nodes", args)
		}
	}
	os.Remove(out)
	args := []string{"missing.onnx", "-o", out} // a .onnx path is a model even before it exists
	r := onnxq(t, dir, args...)
	if r.code != 1 {
		t.Errorf("onnxq %q: exit %d (want 1)", args, r.code)
	}
	oneErrorLine(t, r, args)
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("onnxq %q wrote %s", args, out)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":               "plain",
		"two\nlines\n":        "two; lines",
		"a\r\n\r\n  b  \n c ": "a; b; c",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunRecoversPanics checks the last line of defence: a panic inside a
// command becomes one line on stderr and exit status 1.
func TestRunRecoversPanics(t *testing.T) {
	boom := &command{
		name: "boom", args: "", summary: "panics",
		setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
			return func(*cli, []string) error { panic("kaboom\nsecond line") }
		},
	}
	saved := commands
	commands = append([]*command{boom}, commands...)
	defer func() { commands = saved }()
	var stdout, stderr bytes.Buffer
	code := run([]string{"boom"}, &stdout, &stderr)
	if code != 1 || stderr.String() != "onnxq: internal error: kaboom; second line\n" {
		t.Errorf("run(boom) = %d, stderr %q", code, stderr.String())
	}
}

// A string flag given empty (an unset shell variable) is a usage error
// rather than acting as if it were not given: --calib "" calibrated on
// random samples, --report "" wrote no report.
func TestEmptyFlagValues(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	out := filepath.Join(dir, "q.onnx")
	for _, args := range [][]string{
		{model, "-o", out, "--calib", ""},
		{model, "-o", out, "--synthetic", "2", "--report", ""},
		{"compare", model, model, "--data", dir, "--json", ""},
		{"run", model, "--random", "-o", ""},
	} {
		r := onnxq(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, ": empty value") {
			t.Errorf("onnxq %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		oneErrorLine(t, r, args)
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("onnxq %q wrote %s", args, out)
		}
	}
}

// A flag that takes one value, given twice, is refused (pflag would keep
// the last); list flags still add up.
func TestRepeatedFlags(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	a, b := filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx")
	for _, args := range [][]string{
		{model, "-o", a, "-o", b, "--synthetic", "2"},
		{model, "-o", a, "--synthetic", "2", "--method", "mse", "--method", "minmax"},
		{"bench", model, "--runs", "2", "--runs", "3"},
	} {
		r := onnxq(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "given twice") {
			t.Errorf("onnxq %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		oneErrorLine(t, r, args)
		for _, f := range []string{a, b} {
			if _, err := os.Stat(f); err == nil {
				t.Fatalf("onnxq %q wrote %s", args, f)
			}
		}
	}
	r := onnxq(t, dir, model, "-o", a, "--synthetic", "2", "--exclude-op", "Relu", "--exclude-op", "Add")
	if r.code != 0 {
		t.Errorf("repeated --exclude-op: exit %d, stderr %q", r.code, r.stderr)
	}
}
