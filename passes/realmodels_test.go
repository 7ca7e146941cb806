// This file checks the prepare pipeline on the shared real models: the
// prepared model, saved and loaded again, passes Verify and gives the same
// outputs as the original on each model's first sample.

package passes

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

const sharedDir = "../../shared"

// PREPARED_DIR, when set, keeps the prepared models there (for checking
// them with other tools).
func TestPrepareRealModels(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every shared model: not in -short mode")
	}
	models, _ := filepath.Glob(filepath.Join(sharedDir, "models", "*.onnx"))
	if len(models) == 0 {
		t.Skip("no shared models in " + sharedDir)
	}
	outDir := os.Getenv("PREPARED_DIR")
	if outDir == "" {
		outDir = t.TempDir()
	}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		t.Run(name, func(t *testing.T) {
			orig, err := graph.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := graph.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			before := countOps(orig)
			var log strings.Builder
			if err := Run(m, &Context{Log: &log}, PreparePasses(), RunOptions{}); err != nil {
				t.Fatal(err)
			}
			// The same input gives the same prepared model.
			again, err := graph.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := Run(again, nil, PreparePasses(), RunOptions{}); err != nil {
				t.Fatal(err)
			}
			a, err1 := graph.Encode(m)
			b, err2 := graph.Encode(again)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("two preparations differ (%v, %v)", err1, err2)
			}
			out := filepath.Join(outDir, name+".onnx")
			if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			saved, err := graph.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := saved.Verify(); err != nil {
				t.Fatal(err)
			}
			after := countOps(saved)

			samples, _ := filepath.Glob(filepath.Join(sharedDir, "data", name, "sample_*"))
			sort.Strings(samples)
			if len(samples) == 0 {
				t.Fatal("no samples")
			}
			ref, got := runSample(t, orig, samples[0]), runSample(t, saved, samples[0])
			worst := 0.0
			for _, v := range orig.Graph.Outputs {
				r, g := ref[v.Name], got[v.Name]
				if g == nil {
					t.Fatalf("output %q is missing from the prepared model", v.Name)
				}
				rf, err1 := r.AsFloat64()
				gf, err2 := g.AsFloat64()
				if err1 != nil || err2 != nil || len(rf) != len(gf) {
					t.Fatalf("output %q: cannot compare (%v, %v)", v.Name, err1, err2)
				}
				diff, maxRef := 0.0, 0.0
				for i := range rf {
					maxRef = math.Max(maxRef, math.Abs(rf[i]))
					if d := math.Abs(rf[i] - gf[i]); d > diff || math.IsNaN(d) {
						diff = d
					}
				}
				tol := 1e-4 * math.Max(1, maxRef)
				worst = math.Max(worst, diff/math.Max(1, maxRef))
				if !(diff <= tol) {
					t.Errorf("output %q: max abs diff %g > %g", v.Name, diff, tol)
				}
			}
			t.Logf("nodes %d -> %d (%s); initializers %d -> %d; worst rel diff %.2g\n%s", total(before), total(after),
				opDelta(before, after), countInits(orig), countInits(saved), worst, strings.TrimSpace(log.String()))
		})
	}
}

func runSample(t *testing.T, m *graph.Model, dir string) map[string]*runtime.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range s.Inputs() {
		names = append(names, v.Name)
	}
	feeds, err := tensorio.ReadSample(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func countOps(m *graph.Model) map[string]int {
	ops := map[string]int{}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			ops[n.OpType]++
		}
	})
	return ops
}

func countInits(m *graph.Model) int {
	k := 0
	m.Graph.Walk(func(g *graph.Graph) { k += len(g.Initializers) })
	return k
}

func total(ops map[string]int) int {
	k := 0
	for _, n := range ops {
		k += n
	}
	return k
}

// opDelta lists the op types whose count changed, e.g. "BatchNormalization -35".
func opDelta(before, after map[string]int) string {
	var keys []string
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if d := after[k] - before[k]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s %+d", k, d))
		}
	}
	return strings.Join(parts, ", ")
}
