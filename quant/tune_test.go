// tune_test.go checks the accuracy-driven search: it reaches a target
// that one layer in float reaches and says so, reports an unreachable
// target as missed with the best model still valid, leaves the model as
// it was when the timeout allows nothing, and gives the same bytes
// whatever the thread count.
package quant_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// tuneSetup quantizes chainModel(22, bad...) on the calibration part of
// 12 synthetic samples (every 4th held out) and returns the FP32
// reference, the quantized model and all the samples.
func tuneSetup(t *testing.T, bad ...int) (ref, q *graph.Model, src *calibdata.Source) {
	t.Helper()
	return tuneSetupModel(t, chainModel(t, 22, bad...))
}

// tuneSetupModel is tuneSetup on the FP32 model q, quantized in place.
func tuneSetupModel(t *testing.T, q *graph.Model) (ref, _ *graph.Model, src *calibdata.Source) {
	t.Helper()
	src = calibdata.Synthetic(calibdata.Inputs(q), 12, 3)
	calib, held := quant.TuneSamples(src.Names(), 4)
	if len(calib) != 9 || len(held) != 3 {
		t.Fatalf("split %d/%d; want 9 calibration and 3 held-out samples", len(calib), len(held))
	}
	cal, err := src.Subset(calib)
	if err != nil {
		t.Fatal(err)
	}
	ref = quantizeNoFallback(t, q, cal)
	return ref, q, src
}

func encode(t *testing.T, m *graph.Model) []byte {
	t.Helper()
	data, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTuneReachesTarget(t *testing.T) {
	ref, q, src := tuneSetup(t, 9)
	o := quant.DefaultTune()
	o.TargetSQNR = 20
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if !rep.Met || rep.Stop != quant.TuneMet || !rep.HeldOut || rep.Measured != 3 || rep.Calibration != 9 {
		t.Fatalf("met %v (%s), held out %v, measured on %d, calibrated on %d: want met on 3 held-out samples, 9 calibrating",
			rep.Met, rep.Stop, rep.HeldOut, rep.Measured, rep.Calibration)
	}
	if !(rep.Before < 20) || !(rep.After >= 20) || rep.After != rep.AfterSQNR {
		t.Errorf("%.1f -> %.1f dB (SQNR %.1f): want below 20 before, at least 20 after", rep.Before, rep.After, rep.AfterSQNR)
	}
	if len(rep.Excluded) != 1 || rep.Excluded[0].Node != "c9" || rep.Excluded[0].Activation {
		t.Fatalf("excluded %+v; want the layer c9 alone", rep.Excluded)
	}
	// One of 22 equal layers: 1/22 of the MACs, on top of the last one,
	// whose output stays float.
	if rep.FP32MACsBefore != 1.0/22 || rep.FP32MACsAfter != 2.0/22 || rep.Excluded[0].MACShare != 1.0/22 {
		t.Errorf("FP32 MACs %.4f -> %.4f, c9 %.4f; want 1/22 -> 2/22, c9 1/22", rep.FP32MACsBefore, rep.FP32MACsAfter, rep.Excluded[0].MACShare)
	}
	// The model is the one measured: the report's figure on the held-out
	// samples, c9 in float.
	_, held := quant.TuneSamples(src.Names(), 4)
	hs, err := src.Subset(held)
	if err != nil {
		t.Fatal(err)
	}
	w, err := quant.WorstOutputSQNR(ref, q, hs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := w - rep.After; d > 1e-9 || d < -1e-9 {
		t.Errorf("model gives %.3f dB on the held-out samples, report says %.3f", w, rep.After)
	}
	if weighted, covered := quant.Coverage(q); weighted != 22 || covered != 21 {
		t.Errorf("%d of %d weighted ops in Q/DQ units; want 21 of 22", covered, weighted)
	}
	// c9 computes with float weights on its quantized input.
	for _, n := range q.Graph.Nodes {
		if n.Name == "c9" && (n.Inputs[1].Const == nil || n.Inputs[0].Producer == nil || n.Inputs[0].Producer.OpType != "DequantizeLinear") {
			t.Errorf("c9 reads %v, %v: want its quantized input and float weights", n.Inputs[0].Name, n.Inputs[1].Name)
		}
	}
	if err := q.Verify(); err != nil {
		t.Error(err)
	}
}

func TestTuneUnreachable(t *testing.T) {
	ref, q, src := tuneSetup(t, 9)
	o := quant.DefaultTune()
	o.TargetSQNR = 200
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Met || rep.Stop != quant.TuneExhausted {
		t.Fatalf("met %v, stop %q: want not met, candidates exhausted", rep.Met, rep.Stop)
	}
	// The best model found is kept: c9 in float at least, far better
	// than before.
	if !(rep.After > rep.Before+10) || len(rep.Excluded) == 0 {
		t.Errorf("%.1f -> %.1f dB with %d excluded: want the best model kept", rep.Before, rep.After, len(rep.Excluded))
	}
	if err := q.Verify(); err != nil {
		t.Error(err)
	}
	if _, err := quant.WorstOutputSQNR(ref, q, src, 0); err != nil {
		t.Errorf("the model does not run: %v", err)
	}
}

func TestTuneTimeout(t *testing.T) {
	ref, q, src := tuneSetup(t, 9)
	before := encode(t, q)
	o := quant.DefaultTune()
	o.Timeout = time.Nanosecond
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Met || rep.Stop != quant.TuneTimeout || len(rep.Excluded) != 0 || rep.After != rep.Before {
		t.Errorf("met %v, stop %q, %d excluded, %.1f -> %.1f: want the starting model, stopped by the timeout", rep.Met, rep.Stop, len(rep.Excluded), rep.Before, rep.After)
	}
	if !bytes.Equal(encode(t, q), before) {
		t.Error("the model changed")
	}
}

func TestTuneDeterministic(t *testing.T) {
	var first []byte
	for _, threads := range []int{1, 2} {
		ref, q, src := tuneSetup(t, 5, 15)
		o := quant.DefaultTune()
		o.TargetSQNR = 200 // the whole search
		if _, err := quant.Tune(ref, q, src, o, threads); err != nil {
			t.Fatal(err)
		}
		data := encode(t, q)
		if first == nil {
			first = data
		} else if !bytes.Equal(first, data) {
			t.Errorf("threads %d: different bytes", threads)
		}
	}
}

func TestTuneTop1(t *testing.T) {
	// the Convs' channels moved last and read by a float 8-class MatMul:
	// a score vector per position
	head := func(b *graph.Builder, y *graph.Value) *graph.Value {
		w := make([]float32, 8*8)
		for i := range 8 {
			w[9*i] = 1
		}
		moved := b.Op("Transpose", y, graph.IntsAttr("perm", 0, 2, 3, 1))
		return b.Op("MatMul", moved, b.Const(graph.FromFloat32s("classes", []int64{8, 8}, w)))
	}
	ref, q, src := tuneSetupModel(t, chainWithHead(t, 22, head, 9))
	o := quant.DefaultTune()
	o.Metric, o.MaxTop1Drop = quant.TuneTop1, 5
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if !rep.Met || rep.Target != 95 || !(rep.After >= 95) || !(rep.Before < 95) || len(rep.Excluded) != 1 || rep.Excluded[0].Node != "c9" {
		t.Errorf("met %v, target %.1f, %.1f%% -> %.1f%%, excluded %+v: want 95%% agreement reached from below with c9", rep.Met, rep.Target, rep.Before, rep.After, rep.Excluded)
	}
}

func TestTuneOptionsValidate(t *testing.T) {
	if err := quant.DefaultTune().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*quant.TuneOptions)
		want string
	}{
		{func(o *quant.TuneOptions) { o.TargetSQNR = -3 }, "target SQNR"},
		{func(o *quant.TuneOptions) { o.Metric, o.MaxTop1Drop = quant.TuneTop1, -1 }, "top-1 drop"},
		{func(o *quant.TuneOptions) { o.Timeout = -time.Second }, "timeout"},
		{func(o *quant.TuneOptions) { o.HoldOut = 1 }, "HoldOut"},
		{func(o *quant.TuneOptions) { o.RankSamples = 0 }, "RankSamples"},
		{func(o *quant.TuneOptions) { o.Metric = 7 }, "metric"},
	} {
		o := quant.DefaultTune()
		c.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v; want one mentioning %q", o, err, c.want)
		}
	}
}

func TestTuneSamplesFew(t *testing.T) {
	calib, held := quant.TuneSamples([]string{"a", "b", "c"}, 4)
	if len(calib) != 3 || len(held) != 0 {
		t.Errorf("3 samples: %v calibrate, %v held out; want all calibrating, none held out", calib, held)
	}
}

// A MatMul whose input activation the search puts back in float is
// measured and written with its FP32 weight: ONNX Runtime would run its
// int8 one through a kernel that quantizes the float input itself.
func TestTuneMatMulInputDropped(t *testing.T) {
	b := graph.NewBuilder(13)
	w := make([]float32, 16*8)
	for i := range w {
		w[i] = float32((i*37)%17-8) / 16
	}
	x := b.Op("Tanh", b.Input("x", graph.Float32, 4, 16))
	y := b.Op("MatMul", x, b.Const(graph.FromFloat32s("w", []int64{16, 8}, w)))
	b.Output(b.Op("Tanh", y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	ref, q, src := tuneSetupModel(t, m)
	o := quant.DefaultTune()
	o.TargetSQNR = 300
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, n := range q.Graph.Nodes {
		if n.OpType != "MatMul" {
			continue
		}
		in, wt := n.Input(0).Producer, n.Input(1)
		if in != nil && in.OpType == "DequantizeLinear" {
			continue
		}
		dropped++
		if wt.Const == nil || wt.DType != graph.Float32 {
			t.Errorf("the MatMul reads a float input and a %v weight from %v", wt.DType, wt.Producer)
		}
	}
	if dropped == 0 {
		t.Fatalf("the search kept the MatMul's input quantized (excluded %v)", rep.Excluded)
	}
	t.Logf("excluded %+v float weights %q", rep.Excluded, rep.FloatWeights)
	// Unless the search excluded the MatMul layer itself, its FP32 weight
	// came from the float-weights scope, and the report names it.
	layer := false
	for _, e := range rep.Excluded {
		layer = layer || e.Op == "MatMul" && !e.Activation
	}
	if want := !layer; want != (len(rep.FloatWeights) == 1 && strings.HasSuffix(rep.FloatWeights[0], "(MatMul)")) {
		t.Errorf("FloatWeights %q with exclusions %+v; want the MatMul named: %v", rep.FloatWeights, rep.Excluded, want)
	}
}

// The search's share of MACs outside integer units counts a MatMul of two
// activations as the coverage line does, before and after.
func TestTuneMACShareCountsActivationMatMul(t *testing.T) {
	b := graph.NewBuilder(13)
	w := make([]float32, 16*16)
	for i := range w {
		w[i] = float32((i*29)%23-11) / 32
	}
	x := b.Op("Tanh", b.Input("x", graph.Float32, 8, 16))
	q := b.Op("MatMul", x, b.Const(graph.FromFloat32s("w", []int64{16, 16}, w)))
	scores := b.Op("MatMul", q, b.Op("Transpose", q, graph.IntsAttr("perm", 1, 0)))
	b.Output(b.Op("Tanh", scores))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	ref, qm, src := tuneSetupModel(t, m)
	floatShare := func() float64 {
		cv := macs.CoverageWithShapes(qm, map[string][]int64{"x": {8, 16}})
		if cv.WeightedNodes != 2 || cv.TotalMACs != 8*16*16+8*16*8 {
			t.Fatalf("coverage %+v", cv)
		}
		return 1 - cv.Share
	}
	before := floatShare()
	o := quant.DefaultTune()
	o.TargetSQNR = 42 // met by the first pick, the weighted MatMul's input
	rep, err := quant.Tune(ref, qm, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	after := floatShare()
	if math.Abs(rep.FP32MACsBefore-before) > 1e-9 || math.Abs(rep.FP32MACsAfter-after) > 1e-9 {
		t.Errorf("search's FP32 MAC share %.4f -> %.4f; coverage line's %.4f -> %.4f", rep.FP32MACsBefore, rep.FP32MACsAfter, before, after)
	}
	if after == before || after == 1 {
		t.Errorf("coverage %.4f -> %.4f (excluded %+v): the check wants some of the MACs moved to float", before, after, rep.Excluded)
	}
}

// A target below what the search reaches for a higher one is met too:
// the climb's cap follows the gap between the calibration and held-out
// samples and is lifted when nothing gains under it, where a cap set once
// from the first gap stopped the search short of a lower target. The
// held-out samples are louder than the calibration ones, so the gap
// grows as layers go back to float.
func TestTuneLowerTargetsMet(t *testing.T) {
	reach := func(target float64) *quant.TuneReport {
		q := chainModel(t, 22, 5, 9, 14)
		syn := calibdata.Synthetic(calibdata.Inputs(q), 12, 3)
		_, held := quant.TuneSamples(syn.Names(), 4)
		var samples []map[string]*runtime.Tensor
		for i := range 12 {
			s, err := syn.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(held, i) {
				x := s["x"]
				loud := runtime.New(x.DType, x.Shape...)
				for j, v := range x.F32() {
					loud.F32()[j] = 1.4 * v
				}
				s = map[string]*runtime.Tensor{"x": loud}
			}
			samples = append(samples, s)
		}
		src := calibdata.Memory(calibdata.Inputs(q), samples)
		calib, _ := quant.TuneSamples(src.Names(), 4)
		cal, err := src.Subset(calib)
		if err != nil {
			t.Fatal(err)
		}
		ref := quantizeNoFallback(t, q, cal)
		o := quant.DefaultTune()
		o.TargetSQNR = target
		rep, err := quant.Tune(ref, q, src, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	best := reach(200).After
	t.Logf("best reachable: %.2f dB", best)
	for _, below := range []float64{0.5, 1, 2, 3, 4, 6} {
		if rep := reach(best - below); !rep.Met {
			t.Errorf("target %.2f (%.1f dB below what the search reaches): NOT met at %.2f dB (%s)", best-below, below, rep.After, rep.Stop)
		}
	}
}

// With MaxFP32MACs at the model's own share (the last layer, whose output
// stays float), the search may not put c9 in float: no layer moves MACs,
// and the target is missed below the share it allows.
func TestTuneMaxFP32MACs(t *testing.T) {
	ref, q, src := tuneSetup(t, 9)
	o := quant.DefaultTune()
	o.TargetSQNR = 20
	o.MaxFP32MACs = 1.5 / 22
	rep, err := quant.Tune(ref, q, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !(rep.FP32MACsAfter <= o.MaxFP32MACs) || slices.ContainsFunc(rep.Excluded, func(e quant.TuneExclusion) bool { return e.MACShare > 0 }) {
		t.Errorf("FP32 MACs %.4f -> %.4f with excluded %+v; want no layer moved past %.4f", rep.FP32MACsBefore, rep.FP32MACsAfter, rep.Excluded, o.MaxFP32MACs)
	}
	o.MaxFP32MACs = 2
	if err := o.Validate(); err == nil {
		t.Error("MaxFP32MACs 2 accepted")
	}
}
