package compare

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
)

// The quantizer turns a rank-3 MatMul and its bias Add into a Gemm on
// rows; the Gemm's output keeps the Add's name with FLOAT's elements in
// the same order, so compare still measures it as an activation and
// attributes the Gemm as a layer.
func TestGemmRowsCompared(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 5, 8)
	w := func(name string, k, n int64) *graph.Value {
		v := make([]float32, k*n)
		for i := range v {
			v[i] = float32(math.Sin(float64(3*i+int(k)))) / float32(math.Sqrt(float64(k)))
		}
		return b.Const(graph.FromFloat32s(name, []int64{k, n}, v))
	}
	bias := func(name string, n int64) *graph.Value {
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.1 * float32(i%3)
		}
		return b.Const(graph.FromFloat32s(name, []int64{n}, v))
	}
	h := b.Op("Relu", b.Op("Add", b.Op("MatMul", x, w("w1", 8, 6)), bias("b1", 6)))
	b.Output(b.Op("Add", b.Op("MatMul", h, w("w2", 6, 4)), bias("b2", 4)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	m.Graph.Nodes[0].Name = "fc1"
	hidden := m.Graph.Nodes[1].Outputs[0].Name // the first Add's output
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 3)
	q, _ := plainlyQuantized(t, m, src)
	gemm := 0
	for _, n := range q.Graph.Nodes {
		if n.OpType == "Gemm" {
			gemm++
		}
	}
	if gemm != 2 {
		t.Fatalf("%d Gemm in the quantized model, want 2", gemm)
	}
	r, err := Compare(m, q, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range r.Layers {
		if l.Node == "fc1" {
			found = l.Op == "Gemm" && l.Output == hidden && float64(l.LocalSQNRdB) > 20
		}
	}
	if !found {
		t.Errorf("layer fc1 not attributed as a Gemm writing %s: layers %+v, skipped %+v", hidden, r.Layers, r.LayersSkipped)
	}
	compared := false
	for _, a := range r.Activations {
		compared = compared || a.Reference == hidden
	}
	if !compared {
		t.Errorf("activation %s not compared: skipped %+v", hidden, r.ActivationsSkipped)
	}
}
