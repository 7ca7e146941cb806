// fallback_test.go checks that the budgeted FP32 fallback finds the layer
// whose quantization ruins the output, keeps within its budget, and
// leaves a model alone when no layer is worth it.
package quant_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
)

// chainModel is x[1,8,8,8] through n 1x1 Convs of 8 channels, each close
// to the identity, named c0, c1, .... Each Conv i named in bad (i >= 1)
// reads a channel 0 that Conv i-1 leaves at zero, with weight 1, and the
// other channels with weights about 0.01: the weight 1 sets the Conv's
// per-channel weight step to 1/127, so the small weights that carry all
// its signal round to a step or two and quantizing that Conv ruins the
// output, which float weights avoid.
func chainModel(t *testing.T, n int, bad ...int) *graph.Model {
	t.Helper()
	return chainWithHead(t, n, nil, bad...)
}

// chainWithHead is chainModel with head, when not nil, applied to the
// last Conv's output to make the graph's output.
func chainWithHead(t *testing.T, n int, head func(b *graph.Builder, y *graph.Value) *graph.Value, bad ...int) *graph.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	b := graph.NewBuilder(17)
	y := b.Input("x", graph.Float32, 1, 8, 8, 8)
	for i := range n {
		w := make([]float32, 8*8)
		for o := range 8 {
			for c := range 8 {
				w[8*o+c] = 0.05 * float32(rng.NormFloat64())
			}
			w[8*o+o] += 1
		}
		if slices.Contains(bad, i) {
			for o := range 8 {
				for c := range 8 {
					w[8*o+c] = 0.01 * float32(rng.NormFloat64())
				}
				w[8*o] = 1
			}
		}
		if slices.Contains(bad, i+1) {
			for c := range 8 {
				w[c] = 0
			}
		}
		wv := b.Const(graph.FromFloat32s(fmt.Sprintf("w%d", i), []int64{8, 8, 1, 1}, w))
		bv := b.Const(graph.FromFloat32s(fmt.Sprintf("b%d", i), []int64{8}, make([]float32, 8)))
		y = b.Op("Conv", y, wv, bv)
		y.Producer.Name = fmt.Sprintf("c%d", i)
	}
	if head != nil {
		y = head(b, y)
	}
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// quantizeNoFallback quantizes m with the defaults but no fallback and no
// bias correction, and returns the FP32 reference.
func quantizeNoFallback(t *testing.T, m *graph.Model, src *calibdata.Source) *graph.Model {
	t.Helper()
	cfg := quant.DefaultConfig()
	cfg.Fallback.MaxLayers = 0
	cfg.BiasCorrection = false
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res.Reference
}

func picked(rep *quant.FallbackReport) []string {
	var out []string
	for _, p := range rep.Picks {
		out = append(out, p.Node)
	}
	return out
}

func TestFallbackPicksTheBrokenLayer(t *testing.T) {
	// 22 weighted ops: 95% coverage leaves one layer to spare.
	m := chainModel(t, 22, 9)
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 1)
	ref := quantizeNoFallback(t, m, src)
	o := quant.DefaultFallback()
	o.MaxLayers = 3
	rep, err := quant.Fallback(ref, m, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if got := strings.Join(picked(rep), ","); got != "c9" {
		t.Fatalf("picked %q; want c9", got)
	}
	if rep.Weighted != 22 || rep.Covered != 22 || rep.Budget != 1 {
		t.Errorf("weighted %d, covered %d, budget %d; want 22, 22, 1", rep.Weighted, rep.Covered, rep.Budget)
	}
	if !(rep.Picks[0].GainDB > 10) || !(rep.AfterDB-rep.BeforeDB > 10) {
		t.Errorf("gain %.1f dB (%.1f -> %.1f): want the broken layer's fallback to gain over 10 dB", rep.Picks[0].GainDB, rep.BeforeDB, rep.AfterDB)
	}
	// The model reports what the fallback measured, and the layer
	// computes in float: no DequantizeLinear feeds it any more.
	w, err := quant.WorstOutputSQNR(ref, m, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := w - rep.AfterDB; d > 1e-6 || d < -1e-6 {
		t.Errorf("model gives %.3f dB, report says %.3f", w, rep.AfterDB)
	}
	weighted, covered := quant.Coverage(m)
	if weighted != 22 || covered != 21 {
		t.Errorf("after the fallback %d of %d weighted ops in Q/DQ units; want 21 of 22", covered, weighted)
	}
	for _, n := range m.Graph.Nodes {
		if n.Name != "c9" {
			continue
		}
		for i, in := range n.Inputs {
			if in != nil && in.Producer != nil && in.Producer.OpType == "DequantizeLinear" {
				t.Errorf("c9 input %d still read through DequantizeLinear", i)
			}
		}
	}
	if err := m.Verify(); err != nil {
		t.Errorf("model after the fallback: %v", err)
	}
}

func TestFallbackBudget(t *testing.T) {
	// Two broken layers, 22 weighted ops: coverage allows one.
	m := chainModel(t, 22, 5, 15)
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 2)
	ref := quantizeNoFallback(t, m, src)
	o := quant.DefaultFallback()
	o.MaxLayers = 5
	rep, err := quant.Fallback(ref, m, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := picked(rep); len(got) != 1 || (got[0] != "c5" && got[0] != "c15") {
		t.Errorf("picked %v; want one of c5, c15", got)
	}
	if _, covered := quant.Coverage(m); covered != 21 {
		t.Errorf("%d of 22 in Q/DQ units; want 21", covered)
	}

	// 44 weighted ops allow two; MaxLayers 1 allows one.
	for _, tc := range []struct{ max, want int }{{1, 1}, {5, 2}} {
		m := chainModel(t, 44, 5, 15)
		ref := quantizeNoFallback(t, m, src)
		o.MaxLayers = tc.max
		rep, err := quant.Fallback(ref, m, src, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Picks) != tc.want || rep.Budget != tc.want {
			t.Errorf("MaxLayers %d on 44 ops: budget %d, picked %v; want %d (covered %d of %d)", tc.max, rep.Budget, picked(rep), tc.want, rep.Covered, rep.Weighted)
		}
	}

	// A MAC budget below one layer's share (1/22) leaves the model alone.
	m = chainModel(t, 22, 9)
	ref = quantizeNoFallback(t, m, src)
	o = quant.DefaultFallback()
	o.MaxMACShare = 0.04
	rep, err = quant.Fallback(ref, m, src, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Picks) != 0 || rep.Candidates != 0 {
		t.Errorf("MaxMACShare 0.04 with layers of 1/22 of the MACs: %d ranked, picked %v; want none", rep.Candidates, picked(rep))
	}

	// Below 20 weighted ops no layer can leave the Q/DQ units.
	m = chainModel(t, 19, 9)
	ref = quantizeNoFallback(t, m, src)
	rep, err = quant.Fallback(ref, m, src, quant.DefaultFallback(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Budget != 0 || len(rep.Picks) != 0 {
		t.Errorf("19 weighted ops: budget %d, picked %v; want none", rep.Budget, picked(rep))
	}
}

func TestFallbackNothingHelps(t *testing.T) {
	// Errors spread evenly over 44 alike layers: none alone gains 0.3 dB.
	m := chainModel(t, 44)
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 3)
	ref := quantizeNoFallback(t, m, src)
	before, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := quant.Fallback(ref, m, src, quant.DefaultFallback(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if len(rep.Picks) != 0 || rep.Candidates != 44 || rep.AfterDB != rep.BeforeDB {
		t.Errorf("%d ranked, picked %v, %.2f -> %.2f dB; want all 44 ranked, none picked", rep.Candidates, picked(rep), rep.BeforeDB, rep.AfterDB)
	}
	after, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("the model changed although nothing was picked")
	}
}

func TestFallbackThroughRun(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(chainModel(t, 1)), 8, 4)
	worst := map[int]float64{}
	for _, max := range []int{0, 2} {
		m := chainModel(t, 22, 9)
		cfg := quant.DefaultConfig()
		cfg.Fallback = quant.DefaultFallback()
		cfg.Fallback.MaxLayers = max
		res, err := quant.Run(m, src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if max == 0 && res.Fallback != nil {
			t.Errorf("MaxLayers 0: fallback ran: %+v", res.Fallback)
		}
		if max > 0 && (res.Fallback == nil || strings.Join(picked(res.Fallback), ",") != "c9") {
			t.Fatalf("MaxLayers %d: fallback report %+v; want c9 picked", max, res.Fallback)
		}
		if max > 0 && (res.Fallback.Dropped || !(res.Fallback.Final[1] >= res.Fallback.Final[0]+0.3) || res.Selected != res.Fallback.Final[1]) {
			t.Errorf("finished model %.1f -> %.1f dB, dropped %v, selected %.1f: want the gain kept and reported", res.Fallback.Final[0], res.Fallback.Final[1], res.Fallback.Dropped, res.Selected)
		}
		checkReportCounts(t, m, res.Report)
		if max > 0 && !slices.Contains(res.Report.FP32, passes.FP32Node{Node: "c9", Op: "Conv", Reason: quant.ReasonFallback}) {
			t.Errorf("FP32 list %v: want c9 kept in FP32 by the fallback", res.Report.FP32)
		}
		if worst[max], err = quant.WorstOutputSQNR(res.Reference, m, src, 0); err != nil {
			t.Fatal(err)
		}
	}
	if !(worst[2] > worst[0]+10) {
		t.Errorf("worst output %.1f dB with the fallback, %.1f without: want over 10 dB better", worst[2], worst[0])
	}
}

// checkReportCounts checks that the quantize report counts what m holds:
// the activations with a QuantizeLinear, the weights and int32 biases
// read through a DequantizeLinear, the Convs among the quantized ops.
func checkReportCounts(t *testing.T, m *graph.Model, r *passes.QuantReport) {
	t.Helper()
	acts, weights, biases, convs := 0, 0, 0, 0
	for _, n := range m.Graph.Nodes {
		x := n.Input(0)
		switch {
		case n.OpType == "QuantizeLinear" && x.Const == nil:
			acts++
		case n.OpType == "DequantizeLinear" && x.Const != nil && x.Const.DType == graph.Int32:
			biases++
		case n.OpType == "DequantizeLinear" && x.Const != nil:
			weights++
		case n.OpType == "Conv" && n.Input(1).Producer != nil:
			convs++
		}
	}
	if r.TensorsQuantized != acts || r.WeightsQuantized != weights || r.BiasesQuantized != biases || r.OpCounts["Conv"] != convs {
		t.Errorf("report: %d activations, %d weights, %d biases, %d Convs quantized; the model holds %d, %d, %d, %d",
			r.TensorsQuantized, r.WeightsQuantized, r.BiasesQuantized, r.OpCounts["Conv"], acts, weights, biases, convs)
	}
}

func TestFallbackBadInput(t *testing.T) {
	m := chainModel(t, 2)
	src := calibdata.Synthetic(calibdata.Inputs(m), 2, 1)
	if _, err := quant.Fallback(nil, m, src, quant.DefaultFallback(), 0); err == nil {
		t.Error("no reference: want an error")
	}
	if _, err := quant.ApplyFallback(m, src, quant.DefaultConfig(), nil); err == nil {
		t.Error("ApplyFallback without a result: want an error")
	}
	for _, o := range []quant.FallbackOptions{{MaxLayers: -1}, {MaxLayers: 1, MaxMACShare: 2}, {MaxLayers: 1, MinGainDB: -1}, {MaxLayers: 1, RankSamples: -2}} {
		if _, err := quant.Fallback(m, m, src, o, 0); err == nil {
			t.Errorf("options %+v: want an error", o)
		}
	}
}
