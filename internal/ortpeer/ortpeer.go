// ortpeer.go holds the ONNX Runtime runner: finding and checking
// ort-run.js and the shared models, running one sample through it and reading its outputs.

package ortpeer

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

// Script finds ort-run.js under the shared folder and checks that Node.js
// and onnxruntime-node are there, by asking the script for its help (it
// loads the package first). It returns the script's absolute path.
func Script(shared string) (string, error) {
	script, err := filepath.Abs(filepath.Join(shared, "tools", "ort", "ort-run.js"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("no %s", script)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not on PATH")
	}
	out, err := exec.Command("node", script, "--help").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ONNX Runtime for Node.js is not available (ORT_NODE_DIR=%q): %s", os.Getenv("ORT_NODE_DIR"), strings.TrimSpace(string(out)))
	}
	return script, nil
}

// Unavailable skips the test, or fails it under CI, where everything it
// needs must be installed.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// SampledModel is a shared model with samples in the shared data folder.
type SampledModel struct {
	Name string // the file name without .onnx
	Path string // the model file
	Data string // shared/data/<Name>
}

// WithSamples returns those of models (paths of .onnx files) that have a
// folder of samples under shared/data and whose name holds filter (any
// name when filter is empty), in the order given.
func WithSamples(shared string, models []string, filter string) []SampledModel {
	var out []SampledModel
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		data := filepath.Join(shared, "data", name)
		if filter != "" && !strings.Contains(name, filter) {
			continue
		}
		if _, err := os.Stat(data); err != nil {
			continue
		}
		out = append(out, SampledModel{Name: name, Path: path, Data: data})
	}
	return out
}

// Setup returns the shared models (shared/models/*.onnx) and the path of
// ort-run.js, or stops the test through Unavailable when either is
// missing.
func Setup(t testing.TB, shared string) (models []string, script string) {
	t.Helper()
	models, _ = filepath.Glob(filepath.Join(shared, "models", "*.onnx"))
	if len(models) == 0 {
		Unavailable(t, "no models in %s/models", shared)
	}
	script, err := Script(shared)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return models, script
}

// Run runs model in ONNX Runtime on the sample folder's .npy files for
// the inputs names, writing the outputs into dir. The error carries
// node's standard error.
func Run(script, model, sample string, names []string, dir string) error {
	files, err := tensorio.SampleFiles(sample, names)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(model)
	if err != nil {
		return err
	}
	args := []string{script, abs, "--threads", "1", "--out", dir}
	for _, n := range names {
		f, ok := files[n]
		if !ok {
			return fmt.Errorf("no file for input %q in %s", n, sample)
		}
		if f, err = filepath.Abs(f); err != nil {
			return err
		}
		args = append(args, "--in", n+"="+f)
	}
	cmd := exec.Command("node", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Output reads the output name that Run wrote into dir.
func Output(dir, name string) (*runtime.Tensor, error) {
	return tensorio.ReadNpy(filepath.Join(dir, tensorio.SafeName(name)+".npy"))
}

//go:embed optimize.js
var optimizeJS []byte

// Optimized writes to out the graph ONNX Runtime runs for model on its CPU
// provider after all its optimizations (fusions included), one thread:
// which integer kernels it actually formed. It needs Node.js and
// onnxruntime-node as Script does.
func Optimized(model, out string) error {
	dir, err := os.MkdirTemp("", "ortpeer")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "optimize.js")
	if err := os.WriteFile(script, optimizeJS, 0o644); err != nil {
		return err
	}
	abs, err := filepath.Abs(model)
	if err != nil {
		return err
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	cmd := exec.Command("node", script, abs, out)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
