package compare

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/testmodels"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// htmlWriter renders the HTML report; html_test.go sets it (the report
// package imports compare, so only the external test package can).
var htmlWriter func(w io.Writer, r *Report, float, quant *graph.Model) error

// convnet returns the testmodels classifier, its poorly quantized form and
// synthetic samples.
func convnet(t *testing.T) (*graph.Model, *graph.Model, *calibdata.Source) {
	t.Helper()
	tm, ok := testmodels.ByName("convnet")
	if !ok {
		t.Fatal("no convnet test model")
	}
	m, err := tm.Decode()
	if err != nil {
		t.Fatal(err)
	}
	q, src := poorlyQuantized(t, m)
	return m, q, src
}

// compareBuilt quantizes the model b built (poorlyQuantized) and
// compares it with its FP32 form.
func compareBuilt(t *testing.T, b *graph.Builder) (m, q *graph.Model, src *calibdata.Source, r *Report) {
	t.Helper()
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	q, src = poorlyQuantized(t, m)
	if r, err = Compare(m, q, src, Options{Threads: 1}); err != nil {
		t.Fatal(err)
	}
	return m, q, src, r
}

// poorlyQuantized returns m quantized with poorConfig on six synthetic
// samples, and the samples.
func poorlyQuantized(t *testing.T, m *graph.Model) (*graph.Model, *calibdata.Source) {
	t.Helper()
	src := calibdata.Synthetic(calibdata.Inputs(m), 6, 3)
	q, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quant.Run(q, src, poorConfig()); err != nil {
		t.Fatal(err)
	}
	return q, src
}

// TestGoldenReport keeps the JSON schema stable: the report of a small
// model against testdata/convnet.json (go test ./compare -update rewrites
// it).
func TestGoldenReport(t *testing.T) {
	m, q, src := convnet(t)
	for _, integer := range []bool{true, false} {
		r, err := Compare(m, q, src, Options{Threads: 1, Integer: integer, FloatName: "convnet.onnx", QuantName: "convnet.int8.onnx"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		name := "convnet_qdq.json"
		if integer {
			name = "convnet.json"
		}
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from the report:\n%s", path, buf.String())
		}
	}
}

// TestReportContents checks what the golden file only records: the folded
// Relu is compared with its output, every layer is attributed, and the
// figures agree with each other.
func TestReportContents(t *testing.T) {
	m, q, src := convnet(t)
	r, err := Compare(m, q, src, Options{Threads: 2, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 6 || len(r.Outputs) != 1 || r.Outputs[0].Top1 == nil || r.Outputs[0].Top1.Total != 6 {
		t.Fatalf("outputs %+v over %d samples, want one score output over 6", r.Outputs, r.Samples)
	}
	o := r.Outputs[0]
	if db := float64(o.SQNRdB); !(db > 5 && db < 80) || !(o.Cosine > 0.9) {
		t.Errorf("output SQNR %.2f dB, cosine %.4f: not a quantized model's figures", db, float64(o.Cosine))
	}
	folded := false
	for _, a := range r.Activations {
		if a.Name == "conv" {
			folded = a.Reference == "relu" && a.Folded == "Relu" && a.Lo <= 0 && a.Hi > 0
		}
		if a.Clipped != 0 { // MinMax ranges hold every calibration value
			t.Errorf("%s: %.4g of the values clipped by MinMax ranges of the same samples", a.Name, float64(a.Clipped))
		}
	}
	if !folded {
		t.Errorf("conv's Q/DQ (Relu folded) not compared with relu: %+v", r.Activations)
	}
	ops := map[string]bool{}
	for i, l := range r.Layers {
		ops[l.Op] = true
		if i > 0 && l.Harm > r.Layers[i-1].Harm {
			t.Errorf("layers not sorted by harm: %v after %v", l.Harm, r.Layers[i-1].Harm)
		}
		if got := float64(l.LocalNSR) * float64(l.Reach); math.Abs(got-float64(l.Harm)) > 1e-3*math.Abs(got) {
			t.Errorf("%s: harm %v is not local_nsr·reach %v", l.Node, l.Harm, got)
		}
	}
	for _, op := range []string{"Conv", "MaxPool", "Gemm"} {
		if !ops[op] {
			t.Errorf("no %s layer attributed: %+v (skipped %+v)", op, r.Layers, r.LayersSkipped)
		}
	}
	if len(r.ExcludeNode) == 0 || r.ExcludeNode[0] != r.Layers[0].Exclude {
		t.Errorf("exclusions %q do not start with the top layer %q", r.ExcludeNode, r.Layers[0].Node)
	}
	// Thread count never changes a figure.
	r1, err := Compare(m, q, src, Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	r.WriteJSON(&a)
	r1.WriteJSON(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the report depends on the thread count")
	}
}

// TestSkipsMismatchedNames renames a tensor of the quantized model: its
// activation and the layers reading it are skipped, never compared.
func TestSkipsMismatchedNames(t *testing.T) {
	m, q, src := convnet(t)
	v := q.Graph.Value("conv")
	if v == nil {
		t.Fatal("no conv value")
	}
	if err := q.Graph.Rename(v, "conv_renamed"); err != nil {
		t.Fatal(err)
	}
	r, err := Compare(m, q, src, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range r.ActivationsSkipped {
		found = found || s.Name == "conv_renamed"
	}
	if !found {
		t.Errorf("conv_renamed not among the skipped activations: %+v", r.ActivationsSkipped)
	}
	for _, a := range r.Activations {
		if a.Name == "conv_renamed" {
			t.Error("conv_renamed compared")
		}
	}
	for _, l := range r.Layers {
		if l.Node == "conv" || l.Node == "pool" {
			t.Errorf("layer %s attributed though its tensors have no FP32 match", l.Node)
		}
	}
}

// A QUANT whose outputs FLOAT does not have is not a quantized FLOAT:
// refused with both lists of names, not compared.
func TestRefusesUnrelatedModels(t *testing.T) {
	m, q, src := convnet(t)
	for _, v := range q.Graph.Outputs {
		if err := q.Graph.Rename(v, v.Name+"_other"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Compare(m, q, src, Options{Threads: 1})
	if err == nil || !strings.Contains(err.Error(), "the models share no output name") {
		t.Fatalf("error %v", err)
	}
}

// Integer and bool outputs are compared element by element; an output
// named with Options.Output that is all zeros has nothing to attribute,
// and with no float output to attribute to no exclusion is suggested.
func TestDiscreteAndSilentOutputs(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 4, 8, 8)
	w := make([]float32, 6*4*3*3)
	for i := range w {
		w[i] = float32((i*37)%19-9) / 12
	}
	y := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{6, 4, 3, 3}, w)), graph.IntsAttr("pads", 1, 1, 1, 1))
	y.Producer.Name = "conv"
	cls := b.Op("ArgMax", y, graph.IntAttr("axis", 1))
	zero := b.Op("Mul", y, b.Const(graph.FromFloat32s("zero", nil, []float32{0})))
	b.Output(cls, zero)
	m, q, src, r := compareBuilt(t, b)
	var am *OutputStat
	for i := range r.Outputs {
		if r.Outputs[i].Name == cls.Name {
			am = &r.Outputs[i]
		}
	}
	if am == nil || am.Differing == nil || am.Differing.Total != 6*64 || am.Skipped != "" || am.Differing.Count > am.Differing.Total/2 {
		t.Fatalf("ArgMax output %+v; want its 384 elements counted", am)
	}
	if r.AttributedOutput != "" || len(r.ExcludeNode) != 0 || len(r.Layers) == 0 {
		t.Errorf("attributed to %q, exclusions %v, %d layers; want the layers listed, no output, no exclusion", r.AttributedOutput, r.ExcludeNode, len(r.Layers))
	}
	if _, err := Compare(m, q, src, Options{Threads: 1, Output: zero.Name}); err == nil || !strings.Contains(err.Error(), "no error to attribute") {
		t.Errorf("attributing to an all-zero output: %v", err)
	}
}

func TestEscapeGlob(t *testing.T) {
	for name, want := range map[string]string{
		"conv1":          "conv1",
		"/backbone/Conv": "/backbone/Conv",
		"a*b?[c]":        `a\*b\?\[c\]`,
	} {
		if got := escapeGlob(name); got != want {
			t.Errorf("escapeGlob(%q) = %q, want %q", name, got, want)
		}
	}
}

// BenchmarkCompare times Compare on a shared model against running both
// models on the same samples (sub-benchmark "both"); the ratio of their
// times is compare's overhead (target below 2). Sub-benchmark "html"
// adds the histograms and the HTML page of the report package (same
// target).
func BenchmarkCompare(b *testing.B) {
	name := envOr("COMPARE_BENCH_MODEL", "yunet_n_320")
	m, src := sharedModel(b, name)
	if src.Len() > 8 {
		var err error
		if src, err = src.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7}); err != nil {
			b.Fatal(err)
		}
	}
	q, err := quant.Clone(m)
	if err != nil {
		b.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.SelectMethods = nil
	if _, err := quant.Run(q, src, cfg); err != nil {
		b.Fatal(err)
	}
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compare(m, q, src, Options{Integer: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The HTML report: compare with the worst activations' histograms,
	// then the page.
	b.Run("html", func(b *testing.B) {
		if htmlWriter == nil {
			b.Skip("no HTML writer")
		}
		for b.Loop() {
			r, err := Compare(m, q, src, Options{Integer: true, Histograms: 6})
			if err != nil {
				b.Fatal(err)
			}
			if err := htmlWriter(io.Discard, r, m, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("both", func(b *testing.B) {
		for b.Loop() {
			if err := runBoth(m, q, src); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// runBoth runs m and q (in the integer execution form Compare uses) on
// every sample of src, sessions built once per call as Compare builds
// its own.
func runBoth(m, q *graph.Model, src *calibdata.Source) error {
	exec, err := quantRunModel(q, true, nil)
	if err != nil {
		return err
	}
	fs, err := runtimeSession(m)
	if err != nil {
		return err
	}
	qs, err := runtimeSession(exec)
	if err != nil {
		return err
	}
	for i := range src.Len() {
		sample, err := src.Sample(i)
		if err != nil {
			return err
		}
		if _, err := fs.Run(sample); err != nil {
			return err
		}
		if _, err := qs.Run(sample); err != nil {
			return err
		}
	}
	return nil
}

func runtimeSession(m *graph.Model) (*runtime.Session, error) {
	return runtime.NewSession(m, runtime.Options{})
}

// TestHistograms: the histograms are those of the worst activations,
// lowest SQNR first, count every value of every sample, and carry each
// method's range inside the observed extremes; asking for none changes
// nothing else in the report.
func TestHistograms(t *testing.T) {
	m, q, src := convnet(t)
	plain, err := Compare(m, q, src, Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compare(m, q, src, Options{Threads: 1, Integer: true, Histograms: 2})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := plain.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the histograms changed the JSON report")
	}
	if len(plain.Histograms) != 0 {
		t.Errorf("%d histograms without asking", len(plain.Histograms))
	}
	want := min(2, len(r.Activations))
	if len(r.Histograms) != want {
		t.Fatalf("%d histograms, want %d", len(r.Histograms), want)
	}
	worst := worstActivations(r.Activations)
	for i, h := range r.Histograms {
		if h.Name != worst[i].Name {
			t.Errorf("histogram %d is of %s, want the %d-th worst %s", i, h.Name, i+1, worst[i].Name)
		}
		var n uint64
		for _, c := range h.Counts {
			n += c
		}
		if int64(n) != worst[i].Elements {
			t.Errorf("%s: %d values counted, %d compared", h.Name, n, worst[i].Elements)
		}
		if len(h.Methods) != len(HistogramMethods) {
			t.Errorf("%s: %d method ranges", h.Name, len(h.Methods))
		}
		for _, mr := range h.Methods {
			if mr.Lo < h.Min || mr.Hi > h.Max || mr.Lo > mr.Hi {
				t.Errorf("%s: %s range [%g, %g] outside the extremes [%g, %g]", h.Name, mr.Method, mr.Lo, mr.Hi, h.Min, h.Max)
			}
		}
	}
}

// BenchmarkCompareMemory reports the largest live heap of compare with the
// histograms on yunet_n_320 fed 4, 16 and 48 samples: activations and
// layers are compared as they are produced, so it does not grow with the
// samples. The live heap is what each garbage collection (made frequent
// here) found reachable; live-MiB is its largest value during the call,
// added-MiB that less the live heap before it (the model and samples).
func BenchmarkCompareMemory(b *testing.B) {
	m, real := sharedModel(b, "yunet_n_320")
	q, err := quant.Clone(m)
	if err != nil {
		b.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.SelectMethods = nil
	if _, err := quant.Run(q, real, cfg); err != nil {
		b.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	for _, n := range []int{4, 16, 48} {
		src := calibdata.Synthetic(calibdata.Inputs(m), n, 5)
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			var peak, added uint64
			for b.Loop() {
				goruntime.GC()
				before := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
				metrics.Read(before)
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var top uint64
					sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
					for {
						metrics.Read(sample)
						top = max(top, sample[0].Value.Uint64())
						select {
						case <-stop:
							sampled <- top
							return
						case <-time.After(100 * time.Microsecond):
						}
					}
				}()
				if _, err := Compare(m, q, src, Options{Integer: true, Histograms: 6}); err != nil {
					b.Fatal(err)
				}
				close(stop)
				top := <-sampled
				peak = max(peak, top)
				added = max(added, top-min(top, before[0].Value.Uint64()))
			}
			b.ReportMetric(float64(peak)/(1<<20), "live-MiB")
			b.ReportMetric(float64(added)/(1<<20), "added-MiB")
		})
	}
}

// Options.Output ranks the layers by their harm to the named output: the
// report says which output that is, and a name that is not an output is
// an error naming the outputs.
func TestAttributedOutput(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	w := func(name string, vals ...float32) *graph.Value {
		return b.Const(graph.FromFloat32s(name, []int64{int64(len(vals) / 2), 2, 1, 1}, vals))
	}
	a := b.Op("Relu", b.Op("Conv", x, w("w1", 1, -0.5, 0.3, 0.8)))
	// fine: a wide sum; coarse: a near-cancelling difference, whose
	// error is large against its signal
	fine := b.Op("Conv", a, w("w2", 1, 1))
	coarse := b.Op("Conv", a, w("w3", 1, -0.97))
	b.Output(fine, coarse)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	q, src := poorlyQuantized(t, m)
	worst, err := Compare(m, q, src, Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	sqnr := map[string]float64{}
	for _, o := range worst.Outputs {
		sqnr[o.Name] = float64(o.SQNRdB)
		if o.Top1 != nil {
			// a Conv's map: its last axis is a width, not classes
			t.Errorf("%s: top-1 %+v counted on a feature map", o.Name, *o.Top1)
		}
	}
	if !(sqnr[coarse.Name] < sqnr[fine.Name]) || worst.AttributedOutput != coarse.Name {
		t.Fatalf("attributed to %q with SQNRs %v, want the worst, %q", worst.AttributedOutput, sqnr, coarse.Name)
	}
	chosen, err := Compare(m, q, src, Options{Threads: 1, Integer: true, Output: fine.Name})
	if err != nil {
		t.Fatal(err)
	}
	if chosen.AttributedOutput != fine.Name || chosen.HarmExplained == nil || worst.HarmExplained == nil {
		t.Fatalf("attributed to %q (harm explained %v), want %q", chosen.AttributedOutput, chosen.HarmExplained, fine.Name)
	}
	// the same layers, measured against an output with less error: each
	// layer's harm is a share of a smaller error
	harm := func(r *Report, node string) float64 {
		for _, l := range r.Layers {
			if l.Node == node {
				return float64(l.Harm)
			}
		}
		return math.NaN()
	}
	first := worst.Layers[0].Node
	if !(harm(chosen, first) < harm(worst, first)) {
		t.Errorf("%s: harm %.3g to %s, %.3g to the worst output", first, harm(chosen, first), fine.Name, harm(worst, first))
	}
	if _, err := Compare(m, q, src, Options{Threads: 1, Output: "nope"}); err == nil || !strings.Contains(err.Error(), fine.Name) {
		t.Errorf("Output nope: error %v, want one listing the outputs", err)
	}
}

// Only nodes whose exclusion changes what the quantizer writes get an
// --exclude-node pattern: a float Sigmoid reading a Conv's completed unit
// does not; an included one (its output quantized) and the Conv do; a
// MaxPool whose output is quantized again on its input's grid does not,
// one requantized on another grid does, and so does a linear Resize (its
// outputs fall between the grid's points).
func TestExcludable(t *testing.T) {
	b, x, w, qdq := qdqNet()
	y := qdq(b.Op("Conv", qdq(x), w))
	float := b.Op("Sigmoid", y)
	included := qdq(b.Op("Sigmoid", y))
	swish := b.Op("HardSwish", y)
	pool := b.Op("MaxPool", y, graph.IntsAttr("kernel_shape", 2, 2))
	pooled := qdq(pool)
	coarse := b.Const(graph.FromFloat32s("coarse", nil, []float32{0.2}))
	repool := b.Op("MaxPool", y, graph.IntsAttr("kernel_shape", 2, 2))
	requantized := b.Op("DequantizeLinear", b.Op("QuantizeLinear", repool, coarse), coarse)
	scales := b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
	roi := b.Const(graph.FromFloat32s("roi", []int64{0}, nil))
	linear := b.Op("Resize", y, roi, scales, graph.StringAttr("mode", "linear"))
	nearest := b.Op("Resize", y, roi, scales)
	transposed := b.Op("Transpose", y)
	b.Output(float, included, swish, pooled, requantized, qdq(linear), qdq(nearest), transposed)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	want := map[*graph.Node]bool{
		pool.Producer:    false,
		repool.Producer:  true,
		linear.Producer:  true,
		nearest.Producer: false,
		// read by a float graph output: a float op reading the Conv's Q/DQ
		transposed.Producer: false,
		x.Consumers[0].Outputs[0].Consumers[0].Outputs[0].Consumers[0]: true, // the Conv
		float.Producer: false,
		included.Producer.Input(0).Producer.Input(0).Producer: true,
		swish.Producer: false,
	}
	for n, w := range want {
		if got := excludable(n); got != w {
			t.Errorf("%s %s: excludable %v, want %v", n.OpType, n.Name, got, w)
		}
	}
}

// A long name is shortened around an ellipsis in the text tables.
func TestShortName(t *testing.T) {
	long := strings.Repeat("a", 40) + strings.Repeat("b", 40)
	got := shortName(long)
	if len([]rune(got)) != maxNameRunes-1 || !strings.HasPrefix(got, "aaaa") || !strings.HasSuffix(got, "bbbb") || !strings.Contains(got, "…") {
		t.Errorf("shortName: %q", got)
	}
	if shortName("conv1") != "conv1" {
		t.Error("a short name changed")
	}
	for n, want := range map[int]string{-1: "", 0: "", 1: "…", 3: "a…b"} {
		if got := ShortName("abcdef"+"b", n); got != want {
			t.Errorf("ShortName(%d) = %q, want %q", n, got, want)
		}
	}
}

// NaN in FLOAT's tensors is left out position by position, as in every
// SQNR onnxq measures: with one NaN pixel per sample the activations and
// the Conv, which the NaN reaches in a few positions, keep finite
// figures (the logits, every one of which it reaches, have none).
func TestNonFiniteLeftOut(t *testing.T) {
	m, q, src := convnet(t)
	var samples []map[string]*runtime.Tensor
	for i := 0; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		x := s["image"]
		dirty := runtime.New(x.DType, x.Shape...)
		copy(dirty.F32(), x.F32())
		dirty.F32()[0] = float32(math.NaN())
		samples = append(samples, map[string]*runtime.Tensor{"image": dirty})
	}
	r, err := Compare(m, q, calibdata.Memory(calibdata.Inputs(m), samples), Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	finite := func(what string, db Decibels) {
		if math.IsNaN(float64(db)) || math.IsInf(float64(db), 0) {
			t.Errorf("%s: %v dB", what, db)
		}
	}
	if len(r.Activations) == 0 {
		t.Fatal("no activation compared")
	}
	for _, a := range r.Activations {
		finite("activation "+a.Name, a.SQNRdB)
	}
	for _, l := range r.Layers {
		if l.Op == "Conv" {
			finite("layer "+l.Node, l.LocalSQNRdB)
		}
	}
}

// A peak just past the range end does not read as 1.
func TestPeakText(t *testing.T) {
	for peak, want := range map[float64]string{1.003: "1.003", 1.2: "1.2", 2.345: "2.35", 1.0004: "1.0004", 12.5: "12.5"} {
		if got := PeakText(peak); got != want {
			t.Errorf("PeakText(%v) = %q, want %q", peak, got, want)
		}
	}
}

// An If whose branches hold quantized Convs is a layer of its own: run
// alone on FLOAT's tensors (the values of the main graph its branches
// read included), its error is measured at its output; no exclusion
// names it, its quantized ops being inside.
func TestIfBodyLayer(t *testing.T) {
	b := graph.NewBuilder(13)
	h := b.Op("Relu", b.Input("x", graph.Float32, 1, 4, 6, 6))
	cond := b.Input("cond", graph.Bool)
	weight := func(name string, seed int) *graph.Value {
		w := make([]float32, 4*4*3*3)
		for i := range w {
			w[i] = float32((i*seed)%17-8) / 24
		}
		return b.Const(graph.FromFloat32s(name, []int64{4, 4, 3, 3}, w))
	}
	branch := func(name string, w *graph.Value) *graph.Graph {
		g := graph.NewGraph(name)
		g.Parent = b.Graph()
		n := &graph.Node{Name: name + "_conv", OpType: "Conv", Inputs: []*graph.Value{h, w},
			Attrs: []*graph.Attribute{graph.IntsAttr("pads", 1, 1, 1, 1)}}
		if err := g.AddNode(n, name+"_out"); err != nil {
			t.Fatal(err)
		}
		g.AddOutput(n.Outputs[0])
		return g
	}
	y := b.Op("If", cond, graph.GraphAttr("then_branch", branch("then", weight("w1", 7))), graph.GraphAttr("else_branch", branch("else", weight("w2", 11))))
	y.Producer.Name = "choose"
	b.Output(b.Op("Relu", y))
	_, _, _, r := compareBuilt(t, b)
	var got *LayerStat
	for i := range r.Layers {
		if r.Layers[i].Node == "choose" {
			got = &r.Layers[i]
		}
	}
	if got == nil {
		t.Fatalf("no layer for the If: layers %+v, skipped %+v", r.Layers, r.LayersSkipped)
	}
	if db := float64(got.LocalSQNRdB); got.Op != "If" || !(db > 10 && db < 80) || got.Exclude != "" {
		t.Errorf("If layer %+v; want a finite local SQNR and no exclusion", *got)
	}
}

// A classifier exported as torch does (opset 13: Softmax over axis 1, an
// Identity to the output) holds class scores even where shape inference
// leaves its values without shapes: the first sample's shape decides.
func TestTop1SoftmaxAxisOne(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 16)
	w := make([]float32, 16*10)
	for i := range w {
		w[i] = float32((i*7)%11)/10 - 0.5
	}
	logits := b.Op("Gemm", x, b.Const(graph.FromFloat32s("w", []int64{16, 10}, w)))
	b.Output(b.Op("Identity", b.Op("Softmax", logits, graph.IntAttr("axis", 1))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	q, src := poorlyQuantized(t, m)
	for _, g := range []*graph.Model{m, q} {
		g.Graph.Walk(func(g *graph.Graph) {
			for _, n := range g.Nodes {
				for _, v := range n.Outputs {
					v.Shape = nil // as a model without value_info reads
				}
			}
		})
	}
	r, err := Compare(m, q, src, Options{Threads: 1, Integer: true})
	if err != nil {
		t.Fatal(err)
	}
	if o := r.Outputs[0]; o.Top1 == nil || o.Top1.Total != src.Len() {
		t.Errorf("output %s: top-1 %+v, want it counted on %d samples", o.Name, o.Top1, src.Len())
	}
}

// An output FLOAT computes as NaN everywhere (a mean over an empty mask)
// compares nothing: no top-1 agreement between NaN vectors, no max error,
// and the text says why; a finite output beside it is compared as usual.
func TestOutputNeverFinite(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 4)
	zero := b.Op("Sub", x, x)
	b.Output(b.Op("Softmax", b.Op("Div", zero, zero)), b.Op("Softmax", x))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	var samples []map[string]*runtime.Tensor
	for i := range 3 {
		v := runtime.New(graph.Float32, 2, 4)
		for j := range v.F32() {
			v.F32()[j] = float32((i*7+j*3)%5) - 2
		}
		samples = append(samples, map[string]*runtime.Tensor{"x": v})
	}
	r, err := Compare(m, m, calibdata.Memory(calibdata.Inputs(m), samples), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Outputs) != 2 {
		t.Fatalf("%d outputs", len(r.Outputs))
	}
	nan, fine := r.Outputs[0], r.Outputs[1]
	if nan.Top1 != nil {
		t.Errorf("top-1 %+v counted on NaN vectors", *nan.Top1)
	}
	if !math.IsNaN(float64(nan.MaxAbsError)) || !math.IsNaN(float64(nan.SQNRdB)) {
		t.Errorf("all-NaN output: max error %v, SQNR %v; want both null", nan.MaxAbsError, nan.SQNRdB)
	}
	if fine.Top1 == nil || fine.Top1.Agree != 6 || fine.Top1.Total != 6 {
		t.Errorf("finite output: top-1 %+v, want 6 of 6", fine.Top1)
	}
	var text strings.Builder
	if err := r.Print(&text, 5); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "NaN or infinite at every element") {
		t.Errorf("text report does not say why nothing was compared:\n%s", text.String())
	}
	// the models' names are the caller's to set; unset, the first line
	// still reads
	if first, _, _ := strings.Cut(text.String(), "\n"); r.QuantModel == "" && first != fmt.Sprintf("%d samples; quantized model vs FP32 model", r.Samples) && first != "1 sample; quantized model vs FP32 model" {
		t.Errorf("first line %q", first)
	}
}

// Harms that add up to over twice the output's error get a note on why
// and how to read them; sums near all of it or below get none.
func TestOvercountNote(t *testing.T) {
	for _, c := range []struct {
		explained float64
		note      bool
	}{{0.4, false}, {1.08, false}, {2, false}, {14.78, true}} {
		if got := OvercountNote(c.explained) != ""; got != c.note {
			t.Errorf("%.0f%%: note %v, want %v", 100*c.explained, got, c.note)
		}
	}
}
