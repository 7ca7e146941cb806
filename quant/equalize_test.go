package quant_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
)

// skewedDepthwise is x[1,4,10,10] -> 1x1 Conv to 8 channels whose ranges
// differ up to 1000x -> depthwise 3x3 Conv -> Relu -> 1x1 Conv to 2
// channels that weighs the channels inversely, so the quiet ones matter
// as much as the loud ones.
func skewedDepthwise(t *testing.T) *graph.Model {
	t.Helper()
	norm := normals(7, 11)
	chScale := func(c int) float64 { return math.Pow(10, float64(c%4)-2) }
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 10, 10)
	pw1 := b.Const(graph.FromFloat32s("pw1", []int64{8, 4, 1, 1}, norm(32, func(i int) float64 { return chScale(i / 4) })))
	pb1 := b.Const(graph.FromFloat32s("pb1", []int64{8}, norm(8, func(i int) float64 { return chScale(i) })))
	dw := b.Const(graph.FromFloat32s("dw", []int64{8, 1, 3, 3}, norm(72, func(int) float64 { return 1 })))
	pw2 := b.Const(graph.FromFloat32s("pw2", []int64{2, 8, 1, 1}, norm(16, func(i int) float64 { return 1 / chScale(i%8) })))
	y := b.Op("Conv", x, pw1, pb1)
	y = b.Op("Conv", y, dw, graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntAttr("group", 8))
	y = b.Op("Conv", b.Op("Relu", y), pw2)
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// equalizedSQNR quantizes a fresh build of the model with cfg and
// returns the worst output's SQNR on src against the float reference,
// after checking that reference (equalized, when cfg says so) computes
// what the original does.
func equalizedSQNR(t *testing.T, build func(*testing.T) *graph.Model, src *quant.Samples, cfg quant.Config) (float64, *quant.Result) {
	t.Helper()
	m := build(t)
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	same, err := quant.OutputSQNR(build(t), res.Reference, src, src.Len(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !(same[0].DB > 100) {
		t.Errorf("equalize=%v: the rescaled float model differs from the original: %.1f dB", cfg.EqualizeActivations, same[0].DB)
	}
	sqnr, err := quant.OutputSQNR(res.Reference, m, src, src.Len(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return sqnr[0].DB, res
}

// normals returns a generator of n normal values (seeded by a, b), value
// i of standard deviation scale(i).
func normals(a, b uint64) func(n int, scale func(i int) float64) []float32 {
	rng := rand.New(rand.NewPCG(a, b))
	return func(n int, scale func(i int) float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale(i))
		}
		return v
	}
}

// gainsFromEqualizing checks that the model build makes gains 3 dB or
// more on src with the default equalization against none.
func gainsFromEqualizing(t *testing.T, build func(*testing.T) *graph.Model, src *quant.Samples, what string) {
	t.Helper()
	db := func(equalize bool) float64 {
		cfg := quant.DefaultConfig()
		cfg.EqualizeActivations = equalize
		sqnr, _ := equalizedSQNR(t, build, src, cfg)
		return sqnr
	}
	off, on := db(false), db(true)
	t.Logf("worst output %.1f dB -> %.1f dB with %s", off, on, what)
	if !(on > off+3) {
		t.Errorf("%s: %.1f dB -> %.1f dB, want at least 3 dB better", what, off, on)
	}
}

func TestEqualizeActivations(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(skewedDepthwise(t)), 8, 3)
	db := func(equalize, perChannel bool) (float64, *quant.Result) {
		cfg := quant.DefaultConfig()
		cfg.BiasCorrection = false
		cfg.EqualizeActivations = equalize
		cfg.Quant.PerChannel = perChannel
		return equalizedSQNR(t, skewedDepthwise, src, cfg)
	}
	off, _ := db(false, true)
	on, _ := db(true, true)
	t.Logf("worst output %.1f dB -> %.1f dB with equalized activations", off, on)
	if !(on > off+6) {
		t.Errorf("equalizing activations: %.1f dB -> %.1f dB, want at least 6 dB better", off, on)
	}
	// Per-tensor weights would pay for the rescaling: the step is skipped
	// and the weights stay as they were.
	_, res := db(true, false)
	got, _ := res.Reference.Graph.Value("pw1").Const.Float32s()
	want, _ := skewedDepthwise(t).Graph.Value("pw1").Const.Float32s()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("per-tensor weights: pw1 was rescaled")
		}
	}
}

// A value a --config override names keeps its own units: it is not
// equalized (its range is the user's); an override elsewhere leaves the
// equalization as it is.
func TestEqualizeSkipsOverridden(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(skewedDepthwise(t)), 8, 3)
	for _, side := range []string{"conv1_out0", "relu1_out0"} {
		m := skewedDepthwise(t)
		if m.Graph.Value(side) == nil {
			t.Fatalf("no value %s", side)
		}
		cfg := quant.DefaultConfig()
		cfg.Quant.Overrides = map[string]passes.TensorOverride{side: {Bits: 16}}
		if err := quant.Prepare(m, cfg); err != nil {
			t.Fatal(err)
		}
		if err := quant.EqualizeActivations(m, src, cfg); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Graph.Value("pw1").Const.Float32s()
		want, _ := skewedDepthwise(t).Graph.Value("pw1").Const.Float32s()
		rescaled := !slices.Equal(got, want)
		// conv1_out0 is the value between the Conv and the depthwise one;
		// relu1_out0 comes after the depthwise Conv
		if rescaled != (side == "relu1_out0") {
			t.Errorf("override on %s: pw1 rescaled %v", side, rescaled)
		}
		if _, ok := cfg.Quant.Overrides[side]; !ok {
			t.Errorf("override on %s moved", side)
		}
	}
}

// loudConcat is x[1,3,8,8] -> 1x1 Conv to 8 channels (weights 30x) ->
// Relu, and x -> 1x1 Conv -> Sigmoid, concatenated and read by a 3x3
// Conv that weighs the sigmoid map 30x, so it matters as much as the
// loud features whose range sets the Concat's grid.
func loudConcat(t *testing.T) *graph.Model { return loudConcatBeside(t, false) }

// loudConcatBeside is loudConcat, with the quiet map a graph input "mask"
// when maskInput.
func loudConcatBeside(t *testing.T, maskInput bool) *graph.Model {
	t.Helper()
	norm := normals(3, 5)
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 8, 8)
	wl := b.Const(graph.FromFloat32s("wl", []int64{8, 3, 1, 1}, norm(24, func(int) float64 { return 30 })))
	var quiet *graph.Value
	if maskInput {
		quiet = b.Input("mask", graph.Float32, 1, 1, 8, 8)
	} else {
		ws := b.Const(graph.FromFloat32s("ws", []int64{1, 3, 1, 1}, norm(3, func(int) float64 { return 1 })))
		quiet = b.Op("Sigmoid", b.Op("Conv", x, ws))
	}
	wc := b.Const(graph.FromFloat32s("wc", []int64{2, 9, 3, 3}, norm(162, func(i int) float64 {
		if i/9%9 == 0 {
			return 30
		}
		return 1
	})))
	c := b.Op("Concat", quiet, b.Op("Relu", b.Op("Conv", x, wl)), graph.IntAttr("axis", 1))
	b.Output(b.Op("Conv", c, wc, graph.IntsAttr("pads", 1, 1, 1, 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Equalizing a Concat's inputs gives the quiet input a grid of its own
// scale; the rescaled float model computes what the original does.
func TestEqualizeConcatInputs(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(loudConcat(t)), 8, 3)
	gainsFromEqualizing(t, loudConcat, src, "the Concat's inputs equalized")
}

// An override on a value the Concat's rescaling would change keeps the
// Concat as it is; one elsewhere does not.
func TestEqualizeConcatSkipsOverridden(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(loudConcat(t)), 8, 3)
	want, _ := loudConcat(t).Graph.Value("wl").Const.Float32s()
	for _, side := range []string{"relu1_out0", "conv2_out0", "concat1_out0", "conv1_out0"} {
		m := loudConcat(t)
		if m.Graph.Value(side) == nil {
			t.Fatalf("no value %s", side)
		}
		cfg := quant.DefaultConfig()
		cfg.Quant.Overrides = map[string]passes.TensorOverride{side: {Bits: 16}}
		if err := quant.Prepare(m, cfg); err != nil {
			t.Fatal(err)
		}
		if err := quant.EqualizeActivations(m, src, cfg); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Graph.Value("wl").Const.Float32s()
		// conv1_out0 is the quiet input's Conv output, which is not rescaled
		if rescaled := !slices.Equal(got, want); rescaled != (side == "conv1_out0") {
			t.Errorf("override on %s: wl rescaled %v", side, rescaled)
		}
	}
}

// outlierNorm is x[1,16,32] -> LayerNormalization whose γ gives 3
// channels 40x the others' range -> MatMul to 32 -> Relu -> MatMul to 8,
// the shape of a pre-norm transformer's projection.
func outlierNorm(t *testing.T) *graph.Model {
	t.Helper()
	normal := normals(9, 4)
	norm := func(n int, scale float64) []float32 { return normal(n, func(int) float64 { return scale }) }
	gamma := norm(32, 0.1)
	for k := range gamma {
		gamma[k] += 1
	}
	for _, k := range []int{3, 17, 30} {
		gamma[k] *= 40
	}
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 16, 32)
	y := b.Op("LayerNormalization", x, b.Const(graph.FromFloat32s("gamma", []int64{32}, gamma)),
		b.Const(graph.FromFloat32s("beta", []int64{32}, norm(32, 0.1))), graph.IntAttr("axis", -1))
	h := b.Op("Relu", b.Op("MatMul", y, b.Const(graph.FromFloat32s("w1", []int64{32, 32}, norm(32*32, 0.2)))))
	b.Output(b.Op("MatMul", h, b.Const(graph.FromFloat32s("w2", []int64{32, 8}, norm(32*8, 0.2)))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Smoothing a layer norm's outlier channels into the MatMul reading it
// gives the other channels a finer grid; the float model is unchanged.
func TestEqualizeSmoothOutliers(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(outlierNorm(t)), 8, 3)
	gainsFromEqualizing(t, outlierNorm, src, "the layer norm smoothed")
}

// A graph input joined by the Concat is measured from the samples: the
// loud Conv input beside it is rescaled as beside a Sigmoid's output.
func TestEqualizeConcatGraphInput(t *testing.T) {
	build := func(t *testing.T) *graph.Model { return loudConcatBeside(t, true) }
	src := calibdata.Synthetic(calibdata.Inputs(build(t)), 8, 3)
	gainsFromEqualizing(t, build, src, "the Concat beside a graph input equalized")
}

// skewedSwish is x[1,4,10,10] -> 1x1 Conv to 16 channels, one of them
// 40x louder -> hard-swish (x·Clip(x+3, 0, 6)/6), the model's output: the
// quiet channels' error adds up to more than the loud one's.
func skewedSwish(t *testing.T) *graph.Model {
	t.Helper()
	norm := normals(5, 9)
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 10, 10)
	pw := b.Const(graph.FromFloat32s("pw", []int64{16, 4, 1, 1}, norm(64, func(i int) float64 {
		if i < 4 {
			return 40
		}
		return 1
	})))
	c := func(v float32, name string) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
	y := b.Op("Conv", x, pw)
	gate := b.Op("Clip", b.Op("Add", y, c(3, "three")), c(0, "zero"), c(6, "six"))
	b.Output(b.Op("Div", b.Op("Mul", y, gate), c(6, "six2")))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// With every unit completed, the Conv output before the hard-swish gets a
// Q/DQ: equalized, its quiet channels keep their precision, the factors
// end up in the DequantizeLinear before the hard-swish (no Mul is left),
// and the float model computes the same. With units chosen by the
// samples (auto) the Conv outputs are left as they are.
func TestEqualizeSwishUnits(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(skewedSwish(t)), 8, 5)
	db := func(equalize bool, units quant.UnitCompletion) (float64, *quant.Result, *graph.Model) {
		cfg := quant.DefaultConfig()
		cfg.BiasCorrection = false
		cfg.EqualizeActivations = equalize
		cfg.Units = units
		m := skewedSwish(t)
		res, err := quant.Run(m, src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		same, err := quant.OutputSQNR(skewedSwish(t), res.Reference, src, src.Len(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if !(same[0].DB > 100) {
			t.Errorf("the rescaled float model differs from the original: %.1f dB", same[0].DB)
		}
		sqnr, err := quant.OutputSQNR(res.Reference, m, src, src.Len(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return sqnr[0].DB, res, m
	}
	off, _, _ := db(false, quant.UnitsOn)
	on, _, m := db(true, quant.UnitsOn)
	t.Logf("worst output %.1f dB -> %.1f dB with the Conv output before the hard-swish equalized", off, on)
	if !(on > off+3) {
		t.Errorf("equalizing before the hard-swish: %.1f dB -> %.1f dB, want at least 3 dB better", off, on)
	}
	perChannel := false
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Mul" && n.Input(1) != nil && n.Input(1).Const != nil && n.Input(1).Const.NumElements() > 1 {
			t.Errorf("rescale Mul %s left in the quantized model", n.Name)
		}
		perChannel = perChannel || n.OpType == "DequantizeLinear" && len(n.Outputs[0].Consumers) > 0 &&
			n.Outputs[0].Consumers[0].OpType == "HardSwish" && n.Input(1).Const.NumElements() == 16
	}
	if !perChannel {
		t.Error("the hard-swish does not read a DequantizeLinear with a scale per channel")
	}
	_, res, _ := db(true, quant.UnitsAuto)
	if rs, _ := passes.Rescales(res.Reference); len(rs) != 0 {
		t.Errorf("units auto: rescaled %v", rs)
	}
}
