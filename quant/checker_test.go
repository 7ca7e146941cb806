package quant

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
)

// onnxCheck runs onnx.checker.check_model(full_check=True) from Debian's
// python3-onnx (ONNX 1.12: IR <= 8, opset <= 17) and returns its error.
func onnxCheck(path string) error {
	failed, err := onnxCheckAll([]string{path})
	if err != nil {
		return err
	}
	if msg, bad := failed[path]; bad {
		return &checkError{msg}
	}
	return nil
}

// needChecker skips t without Debian's python3-onnx, and fails it on CI,
// which installs it.
func needChecker(t *testing.T) {
	t.Helper()
	if exec.Command("/usr/bin/python3", "-c", "import onnx").Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-onnx is not installed (CI installs it in .ci/run)")
		}
		t.Skip("python3-onnx not installed")
	}
}

type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

// TestQuantizedModelsPassChecker quantizes every shared model on a few of
// its samples and checks that the output passes the ONNX checker whenever
// the input does: onnxq raises the IR version and opset only as far as a
// feature in use needs.
func TestQuantizedModelsPassChecker(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes every shared model")
	}
	needChecker(t)
	models, _ := filepath.Glob("../../shared/models/*.onnx")
	if len(models) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no shared models beside the repository (CI has ../shared)")
		}
		t.Skip("no shared models beside the repository")
	}
	dir := t.TempDir()
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		t.Run(name, func(t *testing.T) {
			m, err := graph.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			src, err := calibdata.Open(filepath.Join("../../shared/data", name), calibdata.Inputs(m), calibdata.ImageOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if src, err = src.Subset([]int{0, 1, 2}); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Threads = 2
			if _, err := Run(m, src, cfg); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, name+".int8.onnx")
			if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := onnxCheck(path); err != nil {
				t.Logf("the FP32 model fails the checker too (%v); not required", err)
				return
			}
			if err := onnxCheck(out); err != nil {
				t.Errorf("the quantized model fails onnx.checker: %v", err)
			}
		})
	}
}

// onnxCheckAll runs the checker on each file in one Python process and
// returns the last line of each failure by file.
func onnxCheckAll(paths []string) (map[string]string, error) {
	script := `import onnx,sys
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
    except Exception as e:
        print(p + "\t" + (str(e).strip().splitlines() or ["error"])[-1])
`
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", script}, paths...)...).Output()
	if err != nil {
		return nil, err
	}
	failed := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if path, msg, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			failed[path] = msg
		}
	}
	return failed, nil
}

// TestQuantizedCorpusPassesChecker quantizes the small models of Debian's
// libonnx-testdata (PyTorch exports and simple graphs, IR 3 to 8, each
// calibrated on its own test data) and checks that every output passes
// the ONNX checker whenever its input does: folding a Constant into an
// initializer, for one, must keep an IR 3 model valid.
func TestQuantizedCorpusPassesChecker(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes a corpus of models")
	}
	needChecker(t)
	var dirs []string
	for _, kind := range []string{"pytorch-converted", "pytorch-operator", "simple"} {
		found, _ := filepath.Glob(filepath.Join("/usr/share/libonnx-testdata/data", kind, "test_*"))
		dirs = append(dirs, found...)
	}
	if len(dirs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("libonnx-testdata is not installed (CI installs it in .ci/run)")
		}
		t.Skip("libonnx-testdata not installed")
	}
	tmp := t.TempDir()
	var inputs, outputs []string
	for i, dir := range dirs {
		m, err := graph.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue
		}
		src, err := calibdata.Open(dir, calibdata.Inputs(m), calibdata.ImageOptions{})
		if err != nil {
			continue
		}
		cfg := DefaultConfig()
		cfg.Threads = 2
		if _, err := Run(m, src, cfg); err != nil {
			// ops the runtime does not cover (sequences, strings) are
			// refused with an error, which the command's tests check
			continue
		}
		out := filepath.Join(tmp, fmt.Sprintf("%03d.onnx", i))
		if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
			t.Errorf("%s: %v", filepath.Base(dir), err)
			continue
		}
		inputs = append(inputs, filepath.Join(dir, "model.onnx"))
		outputs = append(outputs, out)
	}
	if len(outputs) < len(dirs)*3/4 {
		t.Fatalf("only %d of %d models quantized", len(outputs), len(dirs))
	}
	failed, err := onnxCheckAll(append(slices.Clone(inputs), outputs...))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i, out := range outputs {
		if _, bad := failed[inputs[i]]; bad {
			continue
		}
		checked++
		if msg, bad := failed[out]; bad {
			t.Errorf("%s: the quantized model fails onnx.checker: %s", filepath.Base(filepath.Dir(inputs[i])), msg)
		}
	}
	if checked < len(outputs)/2 {
		t.Fatalf("only %d of the %d quantized models pass the checker as input: too few to check", checked, len(outputs))
	}
	t.Logf("%d of %d models quantized; %d of them pass the checker as input, so must as output", len(outputs), len(dirs), checked)
}
