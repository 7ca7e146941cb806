// This file holds the test helpers shared by the pass tests: golden files
// of graph.Dump text (rewritten with `go test ./passes -update`), running
// one pass, and comparing a model's outputs before and after it.

package passes

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// checkGolden compares the dump of m's main graph with
// testdata/<pass>/<name>.golden.
func checkGolden(t *testing.T, pass, name string, m *graph.Model) {
	t.Helper()
	got := graph.DumpString(m.Graph)
	path := filepath.Join("testdata", pass, name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./passes -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// build returns the builder's model or fails the test.
func build(t *testing.T, b *graph.Builder) *graph.Model {
	t.Helper()
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// clone copies a model through its encoding.
func clone(t *testing.T, m *graph.Model) *graph.Model {
	t.Helper()
	data, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.Decode(data, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runPasses runs the passes with the runner (which verifies the graph
// after each) and returns whether the last one changed the model.
func runPasses(t *testing.T, m *graph.Model, list ...Pass) bool {
	t.Helper()
	changed := false
	for _, p := range list {
		inner := p.Run
		p.Run = func(m *graph.Model, ctx *Context) (bool, error) {
			c, err := inner(m, ctx)
			changed = c
			return c, err
		}
		if err := Run(m, nil, []Pass{p}, RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return changed
}

// outputs runs m on feeds.
func outputs(t *testing.T, m *graph.Model, feeds map[string]*runtime.Tensor) map[string]*runtime.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// sameOutputs checks that before and after give the same float32 outputs
// (names included) on feeds, within tol relative to the largest magnitude.
func sameOutputs(t *testing.T, before, after *graph.Model, feeds map[string]*runtime.Tensor, tol float64) {
	t.Helper()
	want, got := outputs(t, before, feeds), outputs(t, after, feeds)
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Fatalf("output %q is gone", name)
		}
		if diff, ref := maxDiff(w.F32(), g.F32()); diff > tol*math.Max(1, ref) {
			t.Errorf("output %q: max abs diff %g (max |ref| %g)", name, diff, ref)
		}
	}
}

func maxDiff(ref, got []float32) (diff, maxRef float64) {
	if len(ref) != len(got) {
		return math.Inf(1), 0
	}
	for i := range ref {
		maxRef = math.Max(maxRef, math.Abs(float64(ref[i])))
		d := math.Abs(float64(ref[i]) - float64(got[i]))
		if d > diff || math.IsNaN(d) {
			diff = d
		}
	}
	return diff, maxRef
}

// ramp returns n deterministic values in [-1, 1).
func ramp(n int, seed float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.Sin(float64(i)*0.731+seed)) * 0.99
	}
	return out
}

// f32 builds an initializer of the given shape with ramp data.
func f32(b *graph.Builder, name string, seed float64, dims ...int64) *graph.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return b.Const(graph.FromFloat32s(name, dims, ramp(int(n), seed)))
}

// input returns a runtime tensor of the given shape with ramp data.
func input(seed float64, dims ...int) *runtime.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return runtime.FromFloat32(dims, ramp(n, seed))
}
