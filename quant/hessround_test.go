// hessround_test.go checks the Hessian weight rounding: it lowers a
// layer's output error on its calibration inputs below round-to-nearest's,
// keeps the weights on the quantize pass's grid, and gives the same bits
// for any thread count.
package quant_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// The grouped Conv of roundModel: 6 inputs and 4 outputs in 2 groups,
// 3x3, stride 2, pads 1.
const (
	gcIn, gcOut, gcGroups, gcK, gcHW = 6, 4, 2, 3, 9
	gcOutHW                          = (gcHW+2-gcK)/2 + 1
)

// roundModel is x[1,3,9,9] -> 1x1 Conv to 6 channels (their mixes of the
// same three inputs are strongly correlated, which is what gives the
// Hessian rounding something to exploit) -> grouped 3x3 Conv, stride 2
// -> Flatten -> Gemm to 5 values.
func roundModel(t *testing.T) *graph.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 13))
	randn := func(n int, s float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(s * rng.NormFloat64())
		}
		return v
	}
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, gcHW, gcHW)
	y := b.Op("Conv", x, b.Const(graph.FromFloat32s("w1", []int64{gcIn, 3, 1, 1}, randn(gcIn*3, 1))))
	y = b.Op("Conv", y, b.Const(graph.FromFloat32s("w2", []int64{gcOut, gcIn / gcGroups, gcK, gcK}, randn(gcOut*gcIn/gcGroups*gcK*gcK, 1))),
		graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2), graph.IntAttr("group", gcGroups))
	y = b.Op("Flatten", y)
	k := gcOut * gcOutHW * gcOutHW
	y = b.Op("Gemm", y, b.Const(graph.FromFloat32s("w3", []int64{int64(k), 5}, randn(k*5, 0.3))), b.Const(graph.FromFloat32s("b3", []int64{5}, randn(5, 0.1))))
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// roundQuantize quantizes roundModel with one method, no bias correction
// and the given rounding.
func roundQuantize(t *testing.T, src *calibdata.Source, r quant.WeightRounding, threads int) (*graph.Model, *quant.Result) {
	t.Helper()
	m := roundModel(t)
	cfg := quant.DefaultConfig()
	cfg.SelectMethods, cfg.BiasCorrection, cfg.WeightRounding, cfg.Threads = nil, false, r, threads
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, res
}

// groupedConvError runs q on src and returns the summed per-channel
// variance, over positions and samples, of the grouped Conv's output
// minus the FP32 weights w applied to the same (quantized) input: the
// error the weights' rounding adds, without its mean, which bias
// correction removes.
func groupedConvError(t *testing.T, q *graph.Model, w []float32, src *calibdata.Source) float64 {
	t.Helper()
	var conv *graph.Node
	for _, n := range q.Graph.Nodes {
		if n.OpType == "Conv" && n.AttrInt("group", 1) == gcGroups {
			conv = n
		}
	}
	if conv == nil {
		t.Fatal("no grouped Conv in the quantized model")
	}
	var in, out []float32
	sess, err := runtime.NewSession(q, runtime.Options{Observer: func(v *graph.Value, x *runtime.Tensor) {
		switch v {
		case conv.Input(0):
			in = append([]float32(nil), x.F32()...)
		case conv.Outputs[0]:
			out = append([]float32(nil), x.F32()...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var sum, sq [gcOut]float64
	n := 0.0
	for i := 0; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(s); err != nil {
			t.Fatal(err)
		}
		if len(in) != gcIn*gcHW*gcHW || len(out) != gcOut*gcOutHW*gcOutHW {
			t.Fatalf("observed %d inputs and %d outputs", len(in), len(out))
		}
		cpg, opg := gcIn/gcGroups, gcOut/gcGroups
		for co := 0; co < gcOut; co++ {
			g := co / opg
			for oy := 0; oy < gcOutHW; oy++ {
				for ox := 0; ox < gcOutHW; ox++ {
					var want float64
					for ci := 0; ci < cpg; ci++ {
						for ky := 0; ky < gcK; ky++ {
							for kx := 0; kx < gcK; kx++ {
								y, x := 2*oy-1+ky, 2*ox-1+kx
								if y < 0 || y >= gcHW || x < 0 || x >= gcHW {
									continue
								}
								want += float64(w[((co*cpg+ci)*gcK+ky)*gcK+kx]) * float64(in[((g*cpg+ci)*gcHW+y)*gcHW+x])
							}
						}
					}
					d := float64(out[(co*gcOutHW+oy)*gcOutHW+ox]) - want
					sum[co] += d
					sq[co] += d * d
				}
			}
		}
		n += gcOutHW * gcOutHW
	}
	var total float64
	for co := range sum {
		total += sq[co] - sum[co]*sum[co]/n
	}
	return total
}

// int8Weights returns the int8 data and scales of the weight a node of
// op type op (and group count group) reads.
func int8Weights(t *testing.T, m *graph.Model, op string, group int64) (q []int64, scales []float32) {
	t.Helper()
	for _, n := range m.Graph.Nodes {
		if n.OpType != op || n.AttrInt("group", 1) != group {
			continue
		}
		dq := n.Input(1).Producer
		if dq == nil || dq.OpType != "DequantizeLinear" {
			t.Fatalf("%s weight is not read through DequantizeLinear", op)
		}
		q, err := dq.Input(0).Const.Int64s()
		if err != nil {
			t.Fatal(err)
		}
		s, err := dq.Input(1).Const.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		return q, s
	}
	t.Fatalf("no %s node", op)
	return nil, nil
}

func TestRoundWeightsLowersLayerError(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(roundModel(t)), 6, 3)
	near, nres := roundQuantize(t, src, quant.RoundNearest, 0)
	hess, hres := roundQuantize(t, src, quant.RoundHessian, 0)
	if nres.Rounding != nil {
		t.Errorf("round-to-nearest ran the Hessian rounding: %+v", nres.Rounding)
	}
	rep := hres.Rounding
	if rep == nil || rep.Layers != 3 || rep.Skipped != 0 || rep.Changed == 0 || !rep.Applied || !(rep.After > rep.Before) {
		t.Fatalf("report %+v: want all three weighted layers rounded, some weights changed, the rounding kept for a better worst output", rep)
	}
	w2, err := hres.Reference.Graph.Value("w2").Const.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	en, eh := groupedConvError(t, near, w2, src), groupedConvError(t, hess, w2, src)
	t.Logf("grouped Conv output error (zero-mean part): nearest %.4g, hessian %.4g", en, eh)
	if !(eh < 0.8*en) {
		t.Errorf("Hessian rounding error %.4g, round-to-nearest %.4g: want at least 20%% lower", eh, en)
	}
	// Same grid: scales unchanged, integers in [-127, 127], each within a
	// few steps of nearest (the compensation moves a weight by its
	// neighbours' errors, not by whole ranges).
	for _, c := range []struct {
		op    string
		group int64
	}{{"Conv", 1}, {"Conv", gcGroups}, {"Gemm", 1}} {
		qn, sn := int8Weights(t, near, c.op, c.group)
		qh, sh := int8Weights(t, hess, c.op, c.group)
		if len(sn) != len(sh) || len(qn) != len(qh) {
			t.Fatalf("%s: shapes differ", c.op)
		}
		for i := range sn {
			if sn[i] != sh[i] {
				t.Errorf("%s: scale %d is %g, nearest's %g", c.op, i, sh[i], sn[i])
			}
		}
		for i := range qh {
			if qh[i] < -127 || qh[i] > 127 {
				t.Errorf("%s: weight %d is %d, outside [-127, 127]", c.op, i, qh[i])
			}
			if d := qh[i] - qn[i]; d < -8 || d > 8 {
				t.Errorf("%s: weight %d is %d, nearest %d", c.op, i, qh[i], qn[i])
			}
		}
	}
}

func TestRoundWeightsThreads(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(roundModel(t)), 4, 7)
	one, _ := roundQuantize(t, src, quant.RoundHessian, 1)
	three, _ := roundQuantize(t, src, quant.RoundHessian, 3)
	if !bytes.Equal(encode(t, one), encode(t, three)) {
		t.Error("the Hessian-rounded models differ between 1 and 3 threads")
	}
}

func TestParseWeightRounding(t *testing.T) {
	for _, r := range []quant.WeightRounding{quant.RoundNearest, quant.RoundHessian} {
		got, err := quant.ParseWeightRounding(r.String())
		if err != nil || got != r {
			t.Errorf("ParseWeightRounding(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := quant.ParseWeightRounding("gptq"); err == nil {
		t.Error("ParseWeightRounding(\"gptq\") gave no error")
	}
	if quant.DefaultConfig().WeightRounding != quant.RoundNearest {
		t.Error("DefaultConfig rounds weights with their Hessian; measured, it does not help")
	}
}

// A weight read by two Convs is rounded once, from both Convs' inputs.
func TestRoundWeightsSharedWeight(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	w := make([]float32, 4*4*3*3)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 8, 8)
	wv := b.Const(graph.FromFloat32s("w", []int64{4, 4, 3, 3}, w))
	y := b.Op("Conv", x, wv, graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	y = b.Op("Conv", y, wv, graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 2)
	cfg := quant.DefaultConfig()
	cfg.SelectMethods, cfg.BiasCorrection, cfg.WeightRounding = nil, false, quant.RoundHessian
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep := res.Rounding; rep == nil || rep.Layers != 1 || rep.Skipped != 0 || rep.Changed == 0 {
		t.Errorf("report %+v: want the shared weight rounded once, some of it changed", rep)
	}
}

// The rounding wins on the calibration samples; samples held out of
// calibration that it loses on keep round-to-nearest.
func TestRoundGuardedHeldOut(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(roundModel(t)), 6, 3)
	near, nres := roundQuantize(t, src, quant.RoundNearest, 0)
	allWeights := func(m *graph.Model) []int64 {
		a, _ := int8Weights(t, m, "Conv", 1)
		b, _ := int8Weights(t, m, "Conv", gcGroups)
		c, _ := int8Weights(t, m, "Gemm", 1)
		return slices.Concat(a, b, c)
	}
	wantQ := allWeights(near)
	for _, c := range []struct {
		name            string
		rounded, nearDB float64
		kept            bool
	}{{"held-out loses", 10, 20, false}, {"held-out ties", 20, 20, true}, {"held-out gains", 30, 20, true}} {
		t.Run(c.name, func(t *testing.T) {
			q, err := quant.Clone(near)
			if err != nil {
				t.Fatal(err)
			}
			cfg := quant.DefaultConfig()
			calls := 0
			held := func(x *graph.Model) (float64, error) {
				calls++
				if calls == 1 {
					return c.rounded, nil // RoundGuarded measures the rounded model first
				}
				return c.nearDB, nil
			}
			finish := func(x *graph.Model, rounded bool) (float64, error) {
				return quant.WorstOutputSQNR(nres.Reference, x, src, 1)
			}
			rep, err := quant.RoundGuarded(nres.Reference, q, src, cfg, held, finish)
			if err != nil {
				t.Fatal(err)
			}
			if !(rep.After > rep.Before) {
				t.Fatalf("report %+v: the rounding should win on the calibration samples", rep)
			}
			if calls != 2 || rep.HeldAfter != c.rounded || rep.HeldBefore != c.nearDB || rep.Applied != c.kept {
				t.Fatalf("report %+v after %d held-out measurements: want %v dB hessian, %v nearest, kept %v", rep, calls, c.rounded, c.nearDB, c.kept)
			}
			if same := slices.Equal(allWeights(q), wantQ); same == c.kept {
				t.Errorf("kept %v, but the weights equal round-to-nearest's: %v", c.kept, same)
			}
		})
	}
	// Without held-out samples nothing is measured there.
	q, err := quant.Clone(near)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := quant.RoundGuarded(nres.Reference, q, src, quant.DefaultConfig(), nil, func(x *graph.Model, rounded bool) (float64, error) {
		return quant.WorstOutputSQNR(nres.Reference, x, src, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(rep.HeldBefore) || !math.IsNaN(rep.HeldAfter) || !rep.Applied {
		t.Errorf("report %+v: want no held-out figures and the rounding kept", rep)
	}
}
