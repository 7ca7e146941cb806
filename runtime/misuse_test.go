package runtime

import (
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// builtSession makes a session of the model b built.
func builtSession(t *testing.T, b *graph.Builder, opts Options) *Session {
	t.Helper()
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A fed tensor whose data is not of its element type is refused before
// any kernel reads it.
func TestFeedOfWrongGoType(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 64)
	b.Output(b.Op("Relu", x))
	s := builtSession(t, b, Options{Threads: 2})
	for _, data := range []any{make([]float64, 64), make([]int32, 64)} {
		_, err := s.Run(map[string]*Tensor{"x": {DType: graph.Float32, Shape: []int{64}, Data: data}})
		if err == nil || !strings.Contains(err.Error(), "float32 tensor holds") {
			t.Errorf("%T data: %v", data, err)
		}
	}
}

// A panic in one of Parallel's workers reaches the caller's goroutine
// (where the session recovers it as the node's error) instead of ending
// the process.
func TestParallelPanicReachesCaller(t *testing.T) {
	ctx := &Context{Threads: 4}
	got := func() (r any) {
		defer func() { r = recover() }()
		ctx.Parallel(100, func(lo, hi int) {
			if lo <= 60 && 60 < hi {
				panic("chunk with 60")
			}
		})
		return nil
	}()
	if got != "chunk with 60" {
		t.Fatalf("recovered %v", got)
	}
}

// Handing an output back twice gives its buffer to the pool once: the
// next run's two outputs do not share it.
func TestRecycleTwice(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 256)
	pos, neg := b.Op("Relu", x), b.Op("Neg", x)
	b.Output(pos, neg)
	s := builtSession(t, b, Options{})
	in := make([]float32, 256)
	for i := range in {
		in[i] = float32(i) - 100
	}
	feed := map[string]*Tensor{"x": FromFloat32([]int{256}, in)}
	outs, err := s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	s.Recycle(outs[pos.Name])
	s.Recycle(outs[pos.Name])
	outs, err = s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	p, n := outs[pos.Name].F32(), outs[neg.Name].F32()
	for i, v := range in {
		if p[i] != max(v, 0) || n[i] != -v {
			t.Fatalf("element %d: relu %v, neg %v of %v: the outputs share a buffer", i, p[i], n[i], v)
		}
	}
}

// A model edited after its session was made is refused by Run, not run
// with a plan that no longer fits it.
func TestRunRefusesChangedModel(t *testing.T) {
	for name, edit := range map[string]func(m *graph.Model){
		"output added":   func(m *graph.Model) { m.Graph.AddOutput(m.Graph.Inputs[0]) },
		"graph replaced": func(m *graph.Model) { m.Graph = graph.NewGraph("other") },
		"output renamed": func(m *graph.Model) {
			if err := m.Graph.Rename(m.Graph.Outputs[0], "renamed"); err != nil {
				t.Fatal(err)
			}
		},
	} {
		b := graph.NewBuilder(13)
		b.Output(b.Op("Relu", b.Input("x", graph.Float32, 4)))
		s := builtSession(t, b, Options{})
		m := s.model
		feed := map[string]*Tensor{"x": FromFloat32([]int{4}, []float32{-1, 0, 1, 2})}
		if _, err := s.Run(feed); err != nil {
			t.Fatal(err)
		}
		edit(m)
		if _, err := s.Run(feed); err == nil || !strings.Contains(err.Error(), "the model changed after its session was made") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Complex outputs compare part by part within the float tolerance, so a
// golden folder of a model with complex outputs verifies.
func TestCompareComplexTensors(t *testing.T) {
	want := &Tensor{DType: graph.Complex64, Shape: []int{2}, Data: []complex64{complex(1, 2), complex(-3, 0.5)}}
	near := &Tensor{DType: graph.Complex64, Shape: []int{2}, Data: []complex64{complex(1, 2), complex(-3, 0.5000001)}}
	far := &Tensor{DType: graph.Complex64, Shape: []int{2}, Data: []complex64{complex(1, 2), complex(-3, 0.6)}}
	if _, err := CompareTensors(near, want, NodeTestRTol, NodeTestATol); err != nil {
		t.Errorf("within tolerance: %v", err)
	}
	if _, err := CompareTensors(far, want, NodeTestRTol, NodeTestATol); err == nil || !strings.Contains(err.Error(), "element 1 (imaginary part) is 0.6") {
		t.Errorf("out of tolerance: %v", err)
	}
}
