package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/compare"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/internal/testmodels"
	"github.com/onnxq/onnxq/quant"
)

// convnetInput compares the testmodels classifier with its per-tensor
// MinMax quantization on synthetic samples and returns the report's input.
func convnetInput(t *testing.T) Input {
	t.Helper()
	tm, ok := testmodels.ByName("convnet")
	if !ok {
		t.Fatal("no convnet test model")
	}
	m, err := tm.Decode()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 6, 3)
	q, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quant.DefaultConfig()
	cfg.Method, cfg.SelectMethods = calib.MinMax, nil
	cfg.Quant.PerChannel = false
	cfg.BiasCorrection = false
	cfg.Threads = 1
	if _, err := quant.Run(q, src, cfg); err != nil {
		t.Fatal(err)
	}
	r, err := compare.Compare(m, q, src, compare.Options{Threads: 1, Integer: true, FloatName: "convnet.onnx", QuantName: "convnet.int8.onnx", Histograms: DefaultHistograms})
	if err != nil {
		t.Fatal(err)
	}
	return Input{Compare: r, Float: m, Quant: q, FloatFile: "convnet.onnx", QuantFile: "convnet.int8.onnx", FloatSize: 2000, QuantSize: 1000}
}

func render(t *testing.T, in Input) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReportStructure checks that the page holds every section and chart,
// that each chart has a title, an aria-label and drawn marks, that the
// same inputs give the same bytes, and that nothing refers outside the
// file.
func TestReportStructure(t *testing.T) {
	in := convnetInput(t)
	if len(in.Compare.Histograms) == 0 {
		t.Fatal("compare gathered no histogram")
	}
	page := render(t, in)
	if again := render(t, in); !bytes.Equal(page, again) {
		t.Error("two renderings of the same inputs differ")
	}
	s := string(page)
	for _, want := range []string{`id="summary"`, `id="layers"`, `id="histograms"`, `id="weights"`, `id="sizes"`,
		"INT8 MAC coverage", "<code>convnet.onnx</code>", "Layers by harm", "Cumulative SQNR of the"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, o := range in.Compare.Outputs {
		if !strings.Contains(s, "<code>"+o.Name+"</code>") {
			t.Errorf("the outputs table lacks %q", o.Name)
		}
	}
	charts := chartsOf(s)
	// Layers, activations, one per histogram, at least one weight chart,
	// sizes.
	if want := 3 + len(in.Compare.Histograms) + 1; len(charts) < want {
		t.Errorf("%d charts, want at least %d", len(charts), want)
	}
	for i, c := range charts {
		if !regexp.MustCompile(`aria-label="[^"]+"`).MatchString(c) || !strings.Contains(c, "<title>") {
			t.Errorf("chart %d lacks an aria-label or a title", i)
		}
		if !regexp.MustCompile(`<(rect|path|line)\b`).MatchString(c) {
			t.Errorf("chart %d draws nothing", i)
		}
		if !strings.Contains(c, `class="label"`) {
			t.Errorf("chart %d has no axis label", i)
		}
	}
	if refs := externalRefs(s); len(refs) > 0 {
		t.Errorf("external references: %q", refs)
	}
	// Each histogram chart carries a marker per method plus the Q/DQ's.
	for _, h := range in.Compare.Histograms {
		if len(h.Methods) != len(compare.HistogramMethods) {
			t.Errorf("%s: %d method ranges, want %d", h.Name, len(h.Methods), len(compare.HistogramMethods))
		}
	}
}

// TestReportNeedsInputs: a missing model or report is an error, not a
// panic.
func TestReportNeedsInputs(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, Input{}); err == nil {
		t.Error("Write with no inputs succeeded")
	}
	if err := Write(&b, Input{Compare: &compare.Report{}, Float: &graph.Model{}, Quant: &graph.Model{}}); err == nil {
		t.Error("Write with empty models succeeded")
	}
}

var chartRE = regexp.MustCompile(`(?s)<svg[^>]*class="chart"[^>]*>.*?</svg>`)

// chartsOf returns the <svg class="chart"> elements of an HTML text.
func chartsOf(s string) []string { return chartRE.FindAllString(s, -1) }

var refRE = regexp.MustCompile(`(?i)https?:|//|@import|\bsrc\s*=|\bhref\s*=\s*"([^"]*)"|url\(`)

// externalRefs lists what in s could load something from outside the
// file: URLs, protocol-relative paths, @import, src attributes, url(),
// and href attributes other than "#..." anchors.
func externalRefs(s string) []string {
	var out []string
	for _, m := range refRE.FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(strings.ToLower(m[0]), "href") && strings.HasPrefix(m[1], "#") {
			continue
		}
		out = append(out, m[0])
	}
	return out
}

// TestExternalRefs checks the checker itself.
func TestExternalRefs(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{`<a href="#summary">x</a>`, 0},
		{`<a href="other.html">x</a>`, 1},
		{`<img src="a.png">`, 1},
		{`<style>@import "x.css";</style>`, 1},
		{`see https://example.org`, 2},
		{`<link href="//cdn/x.css">`, 1},
		{`background:url(x.png)`, 1},
	} {
		if got := externalRefs(c.s); len(got) != c.want {
			t.Errorf("%q: %q, want %d references", c.s, got, c.want)
		}
	}
}

// The MAC coverage of a model with a dynamic batch dimension counts no
// MACs from the file alone; with the samples' input shapes it counts
// every weighted node's, and the page shows them.
func TestCoverageWithSampleShapes(t *testing.T) {
	in := convnetInput(t)
	if c := macs.CoverageWithShapes(in.Quant, nil); c.TotalMACs != 0 {
		t.Fatalf("dynamic batch: %d MACs counted; the test shows nothing", c.TotalMACs)
	}
	src := calibdata.Synthetic(calibdata.Inputs(in.Float), 2, 5)
	in.InputShapes = SampleShapes(src)
	c := macs.CoverageWithShapes(in.Quant, in.InputShapes)
	if c.TotalMACs == 0 || c.CoveredMACs == 0 || c.WeightedNodes == 0 {
		t.Fatalf("with sample shapes %v: coverage %+v", in.InputShapes, c)
	}
	if page := render(t, in); !bytes.Contains(page, []byte(esc(coverageText(c)))) {
		t.Errorf("the page does not show %q", coverageText(c))
	}
	// A shape that contradicts the declared one is ignored.
	bad := map[string][]int64{}
	for k := range in.InputShapes {
		bad[k] = []int64{1, 2, 3}
	}
	if c := macs.CoverageWithShapes(in.Quant, bad); c.TotalMACs != 0 {
		t.Errorf("a shape of another rank was applied: %+v", c)
	}
}

// TestReportPastRange: activations with a peak get a table, loudest
// first; a report without one has none.
func TestReportPastRange(t *testing.T) {
	in := convnetInput(t)
	for _, a := range in.Compare.Activations {
		if a.Peak != nil {
			t.Fatalf("%s has a peak on synthetic samples calibrated on themselves", a.Name)
		}
	}
	if s := string(render(t, in)); strings.Contains(s, "Activations past their range") {
		t.Error("a table of activations past their range with none past it")
	}
	if len(in.Compare.Activations) < 2 {
		t.Fatal("convnet has fewer than 2 activations")
	}
	acts := append([]compare.ActivationStat(nil), in.Compare.Activations...)
	low, high := compare.Sig4(2.5), compare.Sig4(6.25)
	acts[0].Peak, acts[1].Peak = &low, &high
	r := *in.Compare
	r.Activations = acts
	in.Compare = &r
	s := string(render(t, in))
	i := strings.Index(s, "Activations past their range")
	if i < 0 {
		t.Fatal("no table of activations past their range")
	}
	first, second := strings.Index(s[i:], "<code>"+acts[1].Name+"</code>"), strings.Index(s[i:], "<code>"+acts[0].Name+"</code>")
	if first < 0 || second < 0 || first > second || !strings.Contains(s[i:], "6.25x") || !strings.Contains(s[i:], "2.5x") {
		t.Errorf("the table does not list %s (6.25x) before %s (2.5x)", acts[1].Name, acts[0].Name)
	}
}
