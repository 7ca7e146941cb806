package quant_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// Outputs with no SQNR do not blind the comparisons of models: an empty
// output, or one FP32 computes as NaN everywhere, is left out of the worst
// output, and an integer one (ArgMax) is counted element by element.
func TestOutputSQNRKinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	w := make([]float32, 8*4*3*3)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	b := graph.NewBuilder(13)
	y := b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 8, 8), b.Const(graph.FromFloat32s("w", []int64{8, 4, 3, 3}, w)), graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	cls := b.Op("ArgMax", y, graph.IntAttr("axis", 1))
	i64 := func(name string, v int64) *graph.Value {
		return b.Const(graph.FromInt64s(name, []int64{1}, []int64{v}))
	}
	empty := b.Op("Slice", y, i64("start", 0), i64("end", 0), i64("axis", 1))
	zero := b.Op("Sub", y, y)
	nan := b.Op("Div", zero, zero)
	b.Output(y, cls, empty, nan)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 6, 4)
	ref := quantizeNoFallback(t, m, src)
	res, err := quant.OutputSQNR(ref, m, src, src.Len(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	yr, cr, er, nr := res[0], res[1], res[2], res[3]
	if yr.Discrete || !(yr.DB > 20 && yr.DB < 100) || yr.Elements != 6*8*64 || yr.NonFinite != 0 {
		t.Errorf("float output: %+v", yr)
	}
	if nr.Discrete || !math.IsNaN(nr.DB) || nr.Elements != 6*8*64 || nr.NonFinite != nr.Elements {
		t.Errorf("all-NaN output: %+v; want NaN dB, every element counted as non-finite", nr)
	}
	if !cr.Discrete || cr.Elements != 6*64 || cr.Differ < 0 || cr.Differ > cr.Elements/4 || !math.IsNaN(cr.DB) {
		t.Errorf("ArgMax output: %+v; want 384 elements counted, few differing", cr)
	}
	if er.Discrete || !math.IsNaN(er.DB) {
		t.Errorf("empty output: %+v; want NaN", er)
	}
	worst, err := quant.WorstOutputSQNR(ref, m, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if worst != yr.DB {
		t.Errorf("worst output %v; want the float output's %v", worst, yr.DB)
	}
}

// Samples with no values are an error, as on the command line: ranges
// from nothing would quantize nothing.
func TestRunRefusesEmptySamples(t *testing.T) {
	b := graph.NewBuilder(13)
	b.Output(b.Op("Conv", b.Input("x", graph.Float32, 0, 2, 4, 4), b.Const(graph.FromFloat32s("w", []int64{3, 2, 1, 1}, make([]float32, 6)))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src, err := quant.MemorySamples(m, []map[string]*runtime.Tensor{{"x": runtime.New(graph.Float32, 0, 2, 4, 4)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quant.Run(m, src, quant.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "no values") {
		t.Fatalf("error %v", err)
	}
}

// A quiet input joined to a loud one spans a fraction of a step of the
// Concat's grid: NarrowConcatInputs names it; the loud one is fine.
func TestNarrowConcatInputs(t *testing.T) {
	b := graph.NewBuilder(13)
	quiet, loud := b.Input("quiet", graph.Float32, 1, 4), b.Input("loud", graph.Float32, 1, 4)
	cat := b.Op("Concat", b.Op("Relu", quiet), b.Op("Relu", loud), graph.IntAttr("axis", 1))
	cat.Producer.Name = "join"
	w := make([]float32, 8*3)
	for i := range w {
		w[i] = float32(i%5-2) / 4
	}
	b.Output(b.Op("MatMul", cat, b.Const(graph.FromFloat32s("w", []int64{8, 3}, w))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	var samples []map[string]*runtime.Tensor
	for s := range 6 {
		q, l := make([]float32, 4), make([]float32, 4)
		for i := range q {
			q[i] = float32((i+s)%4) / 4
			l[i] = float32((i*3+s)%5) * 300
		}
		samples = append(samples, map[string]*runtime.Tensor{"quiet": runtime.FromFloat32([]int{1, 4}, q), "loud": runtime.FromFloat32([]int{1, 4}, l)})
	}
	src, err := quant.MemorySamples(m, samples)
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Run(m, src, quant.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got := quant.NarrowConcatInputs(m, res.Collection.Extremes())
	if len(got) != 1 || got[0].Concat != "join" || got[0].Steps >= 1 || got[0].Output != cat.Name {
		t.Fatalf("narrow inputs %+v; want the quiet branch of join alone", got)
	}
}
