// shared_test.go opens the real sample folders of the shared models with
// each model's inputs (skipped where the folders are absent).
package calibdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

const (
	sharedModels = "../../../shared/models"
	sharedData   = "../../../shared/data"
)

func TestSharedData(t *testing.T) {
	models, _ := filepath.Glob(filepath.Join(sharedModels, "*.onnx"))
	if len(models) == 0 {
		t.Skip("no shared models")
	}
	for _, mp := range models {
		name := strings.TrimSuffix(filepath.Base(mp), ".onnx")
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(sharedData, name)
			if _, err := os.Stat(dir); err != nil {
				t.Skip("no data for", name)
			}
			m, err := graph.Load(mp)
			if err != nil {
				t.Fatal(err)
			}
			inputs := Inputs(m)
			s, err := Open(dir, inputs, ImageOptions{})
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := filepath.Glob(filepath.Join(dir, "sample_*"))
			if s.Len() != len(entries) || s.Len() < 10 || s.Kind() != "sample folders" {
				t.Fatalf("%d samples (%s), %d sample folders", s.Len(), s.Kind(), len(entries))
			}
			for i := 0; i < s.Len(); i++ {
				smp, err := s.Sample(i)
				if err != nil {
					t.Fatal(err)
				}
				if len(smp) != len(inputs) {
					t.Fatalf("%s: %d tensors for %d inputs", s.Names()[i], len(smp), len(inputs))
				}
				for _, in := range inputs {
					if x := smp[in.Name]; x == nil || x.DType != in.DType {
						t.Fatalf("%s: input %q is %v", s.Names()[i], in.Name, x)
					}
				}
			}
			calib, eval := Split(s.Names(), 4, 8)
			if len(eval) == 0 || len(eval) > 8 || s.Names()[eval[0]] != "sample_003" || len(calib)+len(eval) != s.Len() {
				t.Errorf("split: %d calib, %d eval", len(calib), len(eval))
			}
		})
	}
}
