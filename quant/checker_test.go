package quant

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
)

// onnxCheck runs onnx.checker.check_model(full_check=True) from Debian's
// python3-onnx (ONNX 1.12: IR <= 8, opset <= 17) and returns its error.
func onnxCheck(path string) error {
	script := "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)"
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return &checkError{lines[len(lines)-1]}
	}
	return nil
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
	if exec.Command("/usr/bin/python3", "-c", "import onnx").Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-onnx is not installed (CI installs it in .ci/run)")
		}
		t.Skip("python3-onnx not installed")
	}
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
