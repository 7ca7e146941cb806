package compare

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// quietModel is x -> Conv 1x1 (output channels of very different
// ranges) -> Relu -> depthwise Conv 3x3: activation equalization rescales
// the Conv's output.
func quietModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 6, 6)
	gain := []float32{1, 0.03, 0.2, 0.01}
	w1 := make([]float32, 12)
	for i := range w1 {
		w1[i] = gain[i/3] * float32(1+i%3) * float32(1-2*(i%2)) * 0.5
	}
	b1 := []float32{0.1, 0.002, -0.01, 0.001}
	w2 := make([]float32, 36)
	for i := range w2 {
		w2[i] = float32(math.Sin(float64(i)))
	}
	c1 := b.Op("Conv", x, b.Const(graph.FromFloat32s("w1", []int64{4, 3, 1, 1}, w1)), b.Const(graph.FromFloat32s("b1", []int64{4}, b1)))
	r := b.Op("Relu", c1)
	dw := b.Op("Conv", r, b.Const(graph.FromFloat32s("w2", []int64{4, 1, 3, 3}, w2)),
		graph.IntAttr("group", 4), graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(dw)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"c1", "r1", "dw"} {
		m.Graph.Nodes[i].Name = name
	}
	return m
}

// plainlyQuantized returns a copy of m quantized on src with the default
// method alone, no bias correction and one thread, and quant.Run's result.
func plainlyQuantized(t *testing.T, m *graph.Model, src *calibdata.Source) (*graph.Model, *quant.Result) {
	t.Helper()
	q, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.SelectMethods, cfg.BiasCorrection, cfg.Threads = nil, false, 1
	res, err := quant.Run(q, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return q, res
}

// observeAll runs m on every sample of src and passes each main-graph
// tensor to f.
func observeAll(t *testing.T, m *graph.Model, src *calibdata.Source, f func(sample int, name string, x *runtime.Tensor)) {
	t.Helper()
	i := 0
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if v.Graph == m.Graph {
			f(i, v.Name, x)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for ; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(s); err != nil {
			t.Fatal(err)
		}
	}
}

// collect returns copies of the named tensors of m, per sample.
func collect(t *testing.T, m *graph.Model, src *calibdata.Source, names ...string) map[string][][]float32 {
	t.Helper()
	out := map[string][][]float32{}
	observeAll(t, m, src, func(_ int, name string, x *runtime.Tensor) {
		for _, n := range names {
			if n == name {
				out[name] = append(out[name], append([]float32(nil), x.F32()...))
			}
		}
	})
	for _, n := range names {
		if len(out[n]) != src.Len() {
			t.Fatalf("tensor %q not seen on every sample", n)
		}
	}
	return out
}

// unscaledSQNR is 10·log10(Σref²/Σ(got/f−ref)²) over NCHW tensors whose
// channel c (of 4) got was multiplied by f[c].
func unscaledSQNR(ref, got [][]float32, f []float32, inner int) float64 {
	var sig, noise float64
	for s := range ref {
		for i, x := range ref[s] {
			d := float64(got[s][i])/float64(f[i/inner%len(f)]) - float64(x)
			sig += float64(x) * float64(x)
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}

// relued returns a copy of the samples with negatives at 0.
func relued(samples [][]float32) [][]float32 {
	out := make([][]float32, len(samples))
	for s, v := range samples {
		out[s] = make([]float32, len(v))
		for i, x := range v {
			out[s][i] = max(x, 0)
		}
	}
	return out
}

// TestRescaledValuesCompared quantizes quietModel with activation
// equalization (the Conv's output is renamed "..._equalized") and checks
// that compare relates the rescaled tensors to FLOAT's through the
// recorded factors: the activation and both layers are compared, with
// the SQNRs computed here by hand.
// bareShapes copies x without the shapes of its intermediate values, as
// many exports write models.
func bareShapes(t *testing.T, x *graph.Model) *graph.Model {
	t.Helper()
	c, err := quant.Clone(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Graph.Nodes {
		for _, o := range n.Outputs {
			if o != nil && !slices.Contains(c.Graph.Outputs, o) {
				o.Shape = nil
			}
		}
	}
	return c
}

// A Concat whose Conv-made input was rescaled (and the Conv making it)
// is attributed like any layer, also when the files record no shapes of
// intermediate values: the rank of the rescaled values is inferred.
func TestRescaledConcatAttributed(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 6, 6)
	wl := make([]float32, 24)
	for i := range wl {
		wl[i] = 30 * float32(math.Sin(float64(i)*0.7))
	}
	wc := make([]float32, 2*9*9)
	for i := range wc {
		wc[i] = float32(math.Cos(float64(i) * 0.3))
		if i/9%9 == 0 {
			wc[i] *= 30
		}
	}
	loud := b.Op("Relu", b.Op("Conv", x, b.Const(graph.FromFloat32s("wl", []int64{8, 3, 1, 1}, wl))))
	quiet := b.Op("Sigmoid", b.Op("Conv", x, b.Const(graph.FromFloat32s("ws", []int64{1, 3, 1, 1}, []float32{0.5, -0.3, 0.2}))))
	cat := b.Op("Concat", quiet, loud, graph.IntAttr("axis", 1))
	b.Output(b.Op("Conv", cat, b.Const(graph.FromFloat32s("wc", []int64{2, 9, 3, 3}, wc)), graph.IntsAttr("pads", 1, 1, 1, 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 7)
	q, _ := plainlyQuantized(t, m, src)
	rs, err := passes.Rescales(q)
	if err != nil || !slices.ContainsFunc(rs, func(r passes.Rescale) bool { return r.Original == cat.Name }) {
		t.Fatalf("recorded rescales %+v (%v), want the Concat's output", rs, err)
	}
	r, err := Compare(bareShapes(t, m), bareShapes(t, q), src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LayersSkipped) != 0 || len(r.ActivationsSkipped) != 0 {
		t.Fatalf("skipped: activations %+v, layers %+v", r.ActivationsSkipped, r.LayersSkipped)
	}
	if !slices.ContainsFunc(r.Layers, func(l LayerStat) bool { return l.Op == "Concat" }) {
		t.Errorf("no Concat among the layers %+v", r.Layers)
	}
}

func TestRescaledValuesCompared(t *testing.T) {
	m := quietModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 7)
	q, res := plainlyQuantized(t, m, src)
	rs, err := passes.Rescales(q)
	if err != nil || len(rs) != 1 {
		t.Fatalf("recorded rescales %+v (%v), want the Conv's output", rs, err)
	}
	rec := rs[0]
	conv := m.Graph.Nodes[0].Outputs[0].Name
	relu := m.Graph.Nodes[1].Outputs[0].Name
	dwOut := m.Graph.Nodes[2].Outputs[0].Name
	if rec.Original != conv || !strings.HasSuffix(rec.Value, passes.RescaledSuffix) || rec.Axis != 1 {
		t.Fatalf("record %+v, want %s renamed, axis 1", rec, conv)
	}
	quietScaled := false
	for _, f := range rec.Factors {
		quietScaled = quietScaled || f > 2
	}
	if !quietScaled {
		t.Fatalf("factors %v: the quiet channels were not scaled up", rec.Factors)
	}

	r, err := Compare(m, q, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ActivationsSkipped) != 0 || len(r.LayersSkipped) != 0 {
		t.Fatalf("skipped: activations %+v, layers %+v", r.ActivationsSkipped, r.LayersSkipped)
	}
	// Models that record no intermediate shapes (as many exports) compare
	// the same: the rescaling's rank comes from the convolution.
	rb, err := Compare(bareShapes(t, m), bareShapes(t, q), src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rb.LayersSkipped) != 0 || len(rb.ActivationsSkipped) != 0 || len(rb.Layers) != len(r.Layers) {
		t.Fatalf("without shapes: skipped activations %+v, layers %+v", rb.ActivationsSkipped, rb.LayersSkipped)
	}
	var act *ActivationStat
	for i := range r.Activations {
		if r.Activations[i].Name == rec.Value {
			act = &r.Activations[i]
		}
	}
	if act == nil || !act.Rescaled || act.Reference != relu || act.Folded != "Relu" {
		t.Fatalf("activation %s: %+v, want compared with %s (Relu folded)", rec.Value, act, relu)
	}
	layers := map[string]LayerStat{}
	for _, l := range r.Layers {
		layers[l.Node] = l
	}
	if len(layers) != 2 || layers["c1"].Output != rec.Value || layers["dw"].Output != dwOut {
		t.Fatalf("layers %+v, want c1 (writing %s) and dw", r.Layers, rec.Value)
	}

	// By hand, in the Q/DQ form: the quantized run's dequantized tensor
	// and c1's output (c1, reading the graph input, is the layer alone)
	// divided by the factors, against FLOAT's tensors.
	plain, err := Compare(m, q, src, Options{Threads: 1, Integer: false})
	if err != nil {
		t.Fatal(err)
	}
	qdqOut := q.Graph.Value(rec.Value).Consumers[0].Outputs[0]
	dqOut := qdqOut.Consumers[0].Outputs[0].Name
	fl := collect(t, m, src, conv, relu, dwOut)
	qt := collect(t, q, src, rec.Value, dqOut)
	inner := 36
	wantAct := unscaledSQNR(fl[relu], qt[dqOut], rec.Factors, inner)
	// c1's output is read by the Relu only: compared within the bounds
	// it clamps to, [0, ∞), on both sides.
	wantC1 := unscaledSQNR(relued(fl[conv]), relued(qt[rec.Value]), rec.Factors, inner)
	var gotAct, gotC1 float64
	for _, a := range plain.Activations {
		if a.Name == rec.Value {
			gotAct = float64(a.SQNRdB)
		}
	}
	for _, l := range plain.Layers {
		if l.Node == "c1" {
			gotC1 = float64(l.LocalSQNRdB)
		}
	}
	if math.Abs(gotAct-wantAct) > 1e-6 || math.Abs(gotC1-wantC1) > 1e-4 {
		t.Errorf("activation %s %.4f dB, c1 %.4f dB; by hand %.4f, %.4f", rec.Value, gotAct, gotC1, wantAct, wantC1)
	}
	// The depthwise layer fed FLOAT's tensor times the factors is the
	// layer fed the equalized FP32 model's own tensor, which compare
	// matches by name: the same figure up to float32 rounding.
	ref, err := Compare(res.Reference, q, src, Options{Threads: 1, Integer: false})
	if err != nil {
		t.Fatal(err)
	}
	var gotDW, refDW float64
	for _, l := range plain.Layers {
		if l.Node == "dw" {
			gotDW = float64(l.LocalSQNRdB)
		}
	}
	for _, l := range ref.Layers {
		if l.Node == "dw" {
			refDW = float64(l.LocalSQNRdB)
		}
	}
	if refDW == 0 || math.Abs(gotDW-refDW) > 0.05 {
		t.Errorf("dw local SQNR %.4f dB, against the equalized FP32 model %.4f dB", gotDW, refDW)
	}
	t.Logf("activation %.2f dB, c1 %.2f dB, dw %.2f dB (equalized reference %.2f)", gotAct, gotC1, gotDW, refDW)

	// Neither layer needs an op of its own for the factors: c1 divides
	// its output channels through its weight and bias scales, dw
	// quantizes FLOAT's tensor per channel.
	fv := floatValues(m)
	resc, err := rescales(m, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, integer := range []bool{false, true} {
		for _, n := range q.Graph.Nodes {
			if n.Name != "c1" && n.Name != "dw" {
				continue
			}
			_, lm, why := layerModel(q, n, fv, resc, integer)
			if lm == nil {
				t.Fatalf("layer %s: %s", n.Name, why)
			}
			var ops []string
			for _, ln := range lm.Graph.Nodes {
				ops = append(ops, ln.OpType)
			}
			if slices.Contains(ops, "Mul") || slices.Contains(ops, "Div") {
				t.Errorf("layer %s (integer %v) scales by ops of its own: %v", n.Name, integer, ops)
			}
		}
	}
}

// A quantized layer that also reads a computed integer tensor (a Reshape
// whose shape comes from Shape) is attributed, fed FLOAT's int64 tensor,
// also when neither model records the shape tensor's type.
func TestLayerWithComputedIntegerInput(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, -1, 3, 6, 6) // a free batch: Shape is not folded
	w := make([]float32, 12)
	for i := range w {
		w[i] = float32(math.Cos(float64(i)))
	}
	c := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{4, 3, 1, 1}, w)))
	r := b.Op("Relu", c)
	shape := b.Op("Shape", r)
	b.Output(b.Op("Conv", b.Op("Reshape", r, shape), b.Const(graph.FromFloat32s("w2", []int64{2, 4, 1, 1}, w[:8]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 5)
	q, _ := plainlyQuantized(t, m, src)
	untyped := func(x *graph.Model) *graph.Model {
		c, err := quant.Clone(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Graph.Nodes {
			if n.OpType == "Shape" {
				n.Outputs[0].DType, n.Outputs[0].Shape = graph.Undefined, nil
			}
		}
		return c
	}
	r2, err := Compare(untyped(m), untyped(q), src, Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	reshape := false
	for _, l := range r2.Layers {
		reshape = reshape || l.Op == "Reshape"
	}
	if len(r2.LayersSkipped) != 0 || !reshape {
		t.Fatalf("layers %+v, skipped %+v: want the Reshape attributed", r2.Layers, r2.LayersSkipped)
	}
}

// A MatMul with a bias on 3-D tokens becomes a Gemm on rows that onnxq
// reshapes; smoothed, that reshape's output is rescaled too, under a name
// FLOAT lacks. The layers reading it are compared as they are without
// the smoothing: their input is computed from the rescaled layer norm
// output.
func TestSmoothedReshapeAttributed(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 6, 16)
	gamma, beta := make([]float32, 16), make([]float32, 16)
	w := make([]float32, 16*5)
	for k := range gamma {
		gamma[k] = 1 + 0.1*float32(math.Sin(float64(k)))
		beta[k] = 0.05 * float32(math.Cos(float64(k)))
	}
	gamma[3], gamma[11], beta[11] = 40, -35, 4
	for i := range w {
		w[i] = 0.3 * float32(math.Sin(float64(i)*0.37))
	}
	y := b.Op("LayerNormalization", x, b.Const(graph.FromFloat32s("gamma", []int64{16}, gamma)),
		b.Const(graph.FromFloat32s("beta", []int64{16}, beta)), graph.IntAttr("axis", -1))
	mm := b.Op("Relu", b.Op("Add", b.Op("MatMul", y, b.Const(graph.FromFloat32s("w", []int64{16, 5}, w))),
		b.Const(graph.FromFloat32s("bias", []int64{5}, []float32{0.1, -0.2, 0.3, 0, 0.05}))))
	b.Output(b.Op("MatMul", mm, b.Const(graph.FromFloat32s("w2", []int64{5, 3}, w[:15]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 7)
	skipped := func(equalize bool) ([]string, *Report) {
		q, err := quant.Clone(m)
		if err != nil {
			t.Fatal(err)
		}
		cfg := quant.DefaultConfig()
		cfg.SelectMethods, cfg.BiasCorrection, cfg.Threads, cfg.EqualizeActivations = nil, false, 1, equalize
		if _, err := quant.Run(q, src, cfg); err != nil {
			t.Fatal(err)
		}
		if rs, err := passes.Rescales(q); err != nil || equalize != (len(rs) >= 2) {
			t.Fatalf("equalize=%v: recorded rescales %+v (%v)", equalize, rs, err)
		}
		r, err := Compare(m, q, src, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range r.LayersSkipped {
			if s.Name != "gemm_reshape" {
				names = append(names, s.Name)
			}
		}
		return names, r
	}
	on, r := skipped(true)
	off, _ := skipped(false)
	if !slices.Equal(on, off) {
		t.Errorf("layers skipped smoothed %v, not smoothed %v (%+v)", on, off, r.LayersSkipped)
	}
	if len(r.Layers) == 0 {
		t.Errorf("no layer attributed (skipped %+v)", r.LayersSkipped)
	}
}

// A Conv output a hard-swish reads, rescaled per channel (--complete-units
// on): its grid reaches below the hard-swish's gate in the loud channel,
// whose values there act as -3 in FLOAT. Compared alike, clamped to the
// gate on both sides, the rescaled activation reads as 8 bits allow;
// every layer is attributed, the hard-swish reading the DequantizeLinear
// with a scale per channel too.
func TestRescaledSwishCompared(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 8, 8)
	w := make([]float32, 16*4)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*0.61)) * 0.5
		if i < 4 {
			w[i] *= 40
		}
	}
	c := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{16, 4, 1, 1}, w)))
	h := b.Op("HardSwish", c)
	b.Output(b.Op("Conv", h, b.Const(graph.FromFloat32s("w2", []int64{2, 16, 1, 1}, w[:32]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 3)
	q, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.SelectMethods, cfg.BiasCorrection, cfg.Threads, cfg.Units = nil, false, 1, quant.UnitsOn
	if _, err := quant.Run(q, src, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Compare(m, q, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rescaled *ActivationStat
	for i, a := range r.Activations {
		if a.Rescaled && a.Reference == c.Name {
			rescaled = &r.Activations[i]
		}
	}
	if rescaled == nil {
		t.Fatalf("no rescaled activation: %+v (skipped %+v)", r.Activations, r.ActivationsSkipped)
	}
	if !(rescaled.Lo < -3.5) {
		t.Fatalf("the rescaled grid reaches only %g: nothing below the gate to compare", rescaled.Lo)
	}
	// 8 bits over a grid 4x wider than the live channels: 30 dB and more
	if rescaled.SQNRdB < 30 {
		t.Errorf("rescaled %s reads %.1f dB", rescaled.Name, rescaled.SQNRdB)
	}
	if len(r.LayersSkipped) > 0 {
		t.Errorf("layers skipped: %+v", r.LayersSkipped)
	}
}
