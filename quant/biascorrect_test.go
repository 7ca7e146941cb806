// biascorrect_test.go checks that bias correction removes the per-channel
// mean error of a depthwise network's output and keeps its promises about
// what it reports.
package quant_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// depthwiseModel is x[1,8,12,12] + 3 -> depthwise 3x3 Conv -> Relu -> 1x1 Conv
// to 4 channels, with weights whose few taps round badly.
func depthwiseModel(t *testing.T) *graph.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 5))
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 8, 12, 12)
	dw := make([]float32, 8*9)
	for i := range dw {
		dw[i] = float32(rng.NormFloat64())
	}
	for c := range 8 {
		dw[9*c] = 40 // one large tap per channel sets a coarse weight scale
	}
	db := make([]float32, 8)
	pw := make([]float32, 4*8)
	for i := range pw {
		pw[i] = float32(rng.NormFloat64())
	}
	pb := []float32{0.1, -0.2, 0.3, 0}
	// Inputs far from zero mean turn weight rounding into a mean shift.
	x = b.Op("Add", x, b.Const(graph.FromFloat32s("offset", []int64{1}, []float32{3})))
	y := b.Op("Conv", x, b.Const(graph.FromFloat32s("dw", []int64{8, 1, 3, 3}, dw)), b.Const(graph.FromFloat32s("db", []int64{8}, db)),
		graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntAttr("group", 8))
	y = b.Op("Relu", y)
	y = b.Op("Conv", y, b.Const(graph.FromFloat32s("pw", []int64{4, 8, 1, 1}, pw)), b.Const(graph.FromFloat32s("pb", []int64{4}, pb)))
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// channelMeanError is the largest |mean(q) - mean(ref)| over the output's
// channels on src, in units of the output's standard deviation.
func channelMeanError(t *testing.T, ref, q *graph.Model, src *calibdata.Source) float64 {
	t.Helper()
	a, err := runtime.NewSession(ref, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtime.NewSession(q, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var diff [4]float64
	var sq, n float64
	for i := 0; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		ra, err := a.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		out := ref.Graph.Outputs[0].Name
		fa, fb := ra[out].F32(), rb[out].F32()
		for k := range fa {
			diff[k/144] += float64(fb[k] - fa[k])
			sq += float64(fa[k]) * float64(fa[k])
			n++
		}
	}
	worst := 0.0
	for _, d := range diff {
		worst = max(worst, math.Abs(d/(n/4)))
	}
	return worst / math.Sqrt(sq/n)
}

func TestCorrectBiases(t *testing.T) {
	m := depthwiseModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 16, 9)
	cfg := quant.DefaultConfig()
	cfg.BiasCorrection = false
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := channelMeanError(t, res.Reference, m, src)
	var calls int
	rep, err := quant.CorrectBiases(res.Reference, m, src, 0, func(done, total int) {
		calls++
		if done != calls || total != 2 {
			t.Errorf("progress %d/%d at call %d; want two layer groups", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Candidates != 2 || !rep.Applied || rep.Moved == 0 || !(rep.After > rep.Before) {
		t.Fatalf("report %+v: want both biases considered and the correction applied", rep)
	}
	after := channelMeanError(t, res.Reference, m, src)
	t.Logf("worst channel mean error %.4f -> %.4f output std; worst output %.1f -> %.1f dB", before, after, rep.Before, rep.After)
	if !(after < before/2) {
		t.Errorf("worst channel mean error %.4f -> %.4f: want at least halved", before, after)
	}
	sqnr, err := quant.OutputSQNR(res.Reference, m, src, src.Len(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sqnr[0].DB-rep.After) > 1e-9 {
		t.Errorf("report says %.3f dB after, the model gives %.3f", rep.After, sqnr[0].DB)
	}

	// Run with the default config corrects too, and says so.
	m2 := depthwiseModel(t)
	res2, err := quant.Run(m2, src, quant.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if res2.Bias == nil || !res2.Bias.Applied {
		t.Errorf("quant.Run with the defaults: bias report %+v", res2.Bias)
	}
}

func TestCorrectBiasesNothingToDo(t *testing.T) {
	m := smallModel(t) // Conv without bias, MatMul
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 1)
	cfg := quant.DefaultConfig()
	cfg.BiasCorrection = false
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := quant.CorrectBiases(res.Reference, m, src, 0, nil)
	if err != nil || rep.Candidates != 0 || rep.Applied {
		t.Errorf("report %+v, error %v: want no candidates", rep, err)
	}
}
