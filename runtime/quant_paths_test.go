// quant_paths_test.go runs the ONNX node tests of the quantization ops
// once per INT8 GEMM microkernel the CPU has (VNNI, AVX2, Go; the build
// tag noasm leaves Go alone), so that every kernel path is held to the
// exact expected outputs.
package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/runtime/kernels"
)

// quantNodeTests are the name prefixes of the quantization ops' tests.
var quantNodeTests = []string{
	"test_quantizelinear", "test_dequantizelinear", "test_qlinearconv", "test_qlinearmatmul",
	"test_convinteger", "test_matmulinteger", "test_dynamicquantizelinear",
}

func TestQuantNodeTestsEveryKernel(t *testing.T) {
	var dirs []string
	var tags []string
	for _, suite := range conformanceSuites {
		found, _ := filepath.Glob(suite.glob)
		for _, d := range found {
			name := filepath.Base(d)
			for _, p := range quantNodeTests {
				if strings.HasPrefix(name, p) {
					dirs = append(dirs, d)
					tags = append(tags, suite.tag)
					break
				}
			}
		}
	}
	if len(dirs) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no quantization node tests found")
		}
		t.Skip("no ONNX node tests here")
	}
	for _, name := range kernels.IgemmKernelNames() {
		t.Run(name, func(t *testing.T) {
			restore, ok := kernels.UseIgemmKernel(name)
			if !ok {
				t.Fatalf("kernel %s listed but not selectable", name)
			}
			defer restore()
			passed := 0
			for i, dir := range dirs {
				test := filepath.Base(dir)
				if _, ok := conformanceException(tags[i], test); ok {
					continue
				}
				for _, threads := range []int{1, 3} {
					results, err := RunNodeTest(dir, Options{Threads: threads})
					if err != nil {
						t.Errorf("%s/%s: %v", tags[i], test, err)
						continue
					}
					for _, r := range results {
						if r.Err != nil {
							t.Errorf("%s/%s (%d threads) %s: %v", tags[i], test, threads, r.DataSet, r.Err)
						}
					}
				}
				passed++
			}
			t.Logf("kernel %s: %d quantization node tests pass at 1 and 3 threads", name, passed)
		})
	}
}
