package compare

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/quant"
)

// A filterbank whose output a Log reads gets a 16-bit input through
// com.microsoft Q/DQ (opset 13); compare decodes its uint16 codes like
// any others: the waveform is listed among the activations, 16 bits
// close to FP32, and the Conv reading it is attributed as a layer.
func TestWideActivationCompared(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 1, 1, 64)
	w := make([]float32, 4*8)
	for i := range w {
		w[i] = float32(math.Cos(float64(i) * 0.7))
	}
	spec := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{4, 1, 1, 8}, w)), graph.IntsAttr("strides", 1, 4))
	// Eight arithmetic ops (the magnitude and a gain stage) put the Log
	// past the depth at which a Conv feeding a Log stays FP32
	perm := graph.IntsAttr("perm", 0, 1, 3, 2)
	y := b.Op("Transpose", b.Op("Transpose", b.Op("Neg", spec), perm), perm)
	y = b.Op("Reshape", y, b.Const(graph.FromInt64s("s", []int64{4}, []int64{1, 4, 1, 15})))
	sum := b.Op("ReduceSum", b.Op("Mul", y, y), b.Const(graph.FromInt64s("axes", []int64{1}, []int64{2})))
	mag := b.Op("Abs", b.Op("Sqrt", sum))
	mag = b.Op("Mul", b.Op("Mul", mag, b.Const(graph.FromFloat32s("g1", nil, []float32{4}))), b.Const(graph.FromFloat32s("g2", nil, []float32{0.25})))
	b.Output(b.Op("Log", b.Op("Add", mag, b.Const(graph.FromFloat32s("eps", nil, []float32{1e-6})))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 5)
	q, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.Method, cfg.SelectMethods, cfg.BiasCorrection = calib.MinMax, nil, false
	if _, err := quant.Run(q, src, cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(q.Graph.Nodes, func(n *graph.Node) bool { return n.Domain == "com.microsoft" && n.OpType == "QuantizeLinear" }) {
		t.Fatal("no com.microsoft QuantizeLinear in the quantized model")
	}
	r, err := Compare(m, q, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.Activations, func(a ActivationStat) bool { return a.Name == "x" })
	if i < 0 {
		t.Fatalf("the 16-bit input is not compared: %+v (skipped %+v)", r.Activations, r.ActivationsSkipped)
	}
	if a := r.Activations[i]; !(float64(a.SQNRdB) > 70) || a.Lo > -0.5 || a.Hi < 0.5 {
		t.Errorf("16-bit input: %.1f dB over [%v, %v], want > 70 dB over the samples' range", float64(a.SQNRdB), a.Lo, a.Hi)
	}
	if !slices.ContainsFunc(r.Layers, func(l LayerStat) bool { return l.Op == "Conv" }) {
		t.Errorf("the Conv reading the 16-bit input is not attributed: %+v (skipped %+v)", r.Layers, r.LayersSkipped)
	}
}
