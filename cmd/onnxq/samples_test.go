// samples_test.go writes the sample folders the command tests feed to
// --calib, --eval and --data.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
)

// writeSamples writes n sample folders of one input under dir/name (the
// layout of --calib and --data): dir/name/sample_NNN/input.npy, a float32
// tensor of the given shape whose element i of sample s is value(s, i).
// It returns dir/name.
func writeSamples(t *testing.T, dir, name string, n int, input string, shape []int, value func(s, i int) float32) string {
	t.Helper()
	return writeSamplesOf(t, dir, name, n, input, graph.Float32, shape, value)
}

// writeSamplesOf is writeSamples with tensors of type dt (float32 or
// float16), the values rounded to it.
func writeSamplesOf(t *testing.T, dir, name string, n int, input string, dt graph.DType, shape []int, value func(s, i int) float32) string {
	t.Helper()
	root := filepath.Join(dir, name)
	for s := range n {
		folder := filepath.Join(root, fmt.Sprintf("sample_%03d", s))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		x := runtime.New(dt, shape...)
		switch d := x.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = value(s, i)
			}
		case []float16.Float16:
			for i := range d {
				d[i] = float16.Fromfloat32(value(s, i))
			}
		default:
			t.Fatalf("writeSamplesOf: no values for %v", dt)
		}
		if err := tensorio.WriteNpy(filepath.Join(folder, input+".npy"), x); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
