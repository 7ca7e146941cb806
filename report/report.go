// report.go lays out the page: the sections of doc.go, each a table or a
// chart drawn from compare's Report and the models.

package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/onnxq/onnxq/compare"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/internal/tensorio"
)

// Defaults of Input's counts.
const (
	DefaultWeightLayers = 4
	DefaultLayerBars    = 25
	// DefaultHistograms is the compare.Options.Histograms the commands
	// ask for.
	DefaultHistograms = 6
)

// Input is what the page is drawn from.
type Input struct {
	// Compare is compare's report, run with Options.Histograms for the
	// histogram section.
	Compare *compare.Report
	// Float and Quant are the models compared: Quant for the opset, the
	// coverage and the quantized weights, Float for the FP32 weights.
	// Neither is changed.
	Float, Quant *graph.Model
	// FloatFile and QuantFile name the files; FloatSize and QuantSize are
	// their sizes in bytes (0: unknown).
	FloatFile, QuantFile string
	FloatSize, QuantSize int64
	// WeightLayers is how many weighted layers get a weight chart (0:
	// DefaultWeightLayers); LayerBars bounds the layer chart's rows (0:
	// DefaultLayerBars).
	WeightLayers, LayerBars int
	// InputShapes, when set, are the shapes of Quant's inputs on the
	// samples (SampleShapes): they fix dimensions the model leaves
	// dynamic, so the MAC coverage counts every weighted node.
	InputShapes map[string][]int64
	// Coverage, when set, is Quant's MAC coverage as measured by the
	// caller (SampleCoverage), used in place of the one InputShapes give.
	Coverage *macs.Coverage
}

// SampleShapes returns the shapes of the first sample of src (a
// quant.Samples), by input.
func SampleShapes(src *calibdata.Source) map[string][]int64 {
	if src == nil || src.Len() == 0 {
		return nil
	}
	in, err := src.Sample(0)
	if err != nil {
		return nil
	}
	out := make(map[string][]int64, len(in))
	for name, t := range in {
		dims := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = int64(d)
		}
		out[name] = dims
	}
	return out
}

// WriteFile writes the page to path atomically: a reader never sees a
// partial file.
func WriteFile(path string, in Input) error {
	return tensorio.WriteAtomic(path, func(w io.Writer) error { return Write(w, in) })
}

// Write renders the page.
func Write(w io.Writer, in Input) error {
	if in.Compare == nil || in.Float == nil || in.Float.Graph == nil || in.Quant == nil || in.Quant.Graph == nil {
		return errors.New("report: a compare report and both models are needed")
	}
	if in.WeightLayers == 0 {
		in.WeightLayers = DefaultWeightLayers
	}
	if in.LayerBars == 0 {
		in.LayerBars = DefaultLayerBars
	}
	p := &page{in: in, r: in.Compare}
	if in.Coverage != nil {
		p.coverage = *in.Coverage
	} else {
		p.coverage = macs.CoverageWithShapes(in.Quant, in.InputShapes)
	}
	p.head()
	p.summary()
	p.layers()
	p.histograms()
	p.weights()
	p.sizes()
	p.b.WriteString("</main>\n</body>\n</html>\n")
	_, err := io.WriteString(w, p.b.String())
	return err
}

type page struct {
	in       Input
	r        *compare.Report
	b        strings.Builder
	coverage macs.Coverage
}

func (p *page) f(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2733;background:#fff}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #e3e7ec;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}
p.note{color:#4a5868;font-size:13px;margin:4px 0 10px;max-width:960px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border:1px solid #d5dbe2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;background:#f2f4f7;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
nav a{margin-right:14px;color:#3b6fb6}
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0 16px;background:#fff}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;font-size:12px;fill:#1d2733}
svg text.title{font-size:15px;font-weight:600}
svg text.label{font-size:13px}
svg text.small{font-size:11px;fill:#4a5868}
.bad{color:#c8302c;font-weight:600}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 24px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}`

func (p *page) head() {
	title := "onnxq accuracy report: " + baseName(p.in.QuantFile)
	p.f("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p.f("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p.f("<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n<main>\n", esc(title), css)
	p.f("<h1>%s</h1>\n", esc(title))
	p.f("<nav><a href=\"#summary\">Summary</a><a href=\"#layers\">Layers</a><a href=\"#histograms\">Activation histograms</a><a href=\"#weights\">Weight ranges</a><a href=\"#sizes\">Sizes and coverage</a></nav>\n")
}

func (p *page) summary() {
	r := p.r
	p.f("<section id=\"summary\">\n<h2>1. Model summary</h2>\n<table>\n")
	row := func(k, v string) { p.f("<tr><th>%s</th><td>%s</td></tr>\n", esc(k), v) }
	row("FP32 model", "<code>"+esc(p.in.FloatFile)+"</code> ("+esc(sizeText(p.in.FloatSize))+")")
	row("Quantized model", "<code>"+esc(p.in.QuantFile)+"</code> ("+esc(sizeText(p.in.QuantSize))+")")
	if p.in.FloatSize > 0 && p.in.QuantSize > 0 {
		row("Size ratio", fmt.Sprintf("%.2fx (quantized / FP32)", float64(p.in.QuantSize)/float64(p.in.FloatSize)))
	}
	row("Opset", esc(opsetText(p.in.Float))+" (FP32), "+esc(opsetText(p.in.Quant))+" (quantized)")
	form := "as written (Q/DQ in float)"
	if r.Integer {
		form = "onnxq's integer execution form"
	}
	row("Samples", fmt.Sprintf("%d, quantized model run in %s", r.Samples, esc(form)))
	row("INT8 MAC coverage", esc(coverageText(p.coverage)))
	row("Compared", fmt.Sprintf("%d activations (%d skipped), %d layers (%d skipped)", len(r.Activations), len(r.ActivationsSkipped), len(r.Layers), len(r.LayersSkipped)))
	p.f("</table>\n<h3>Outputs</h3>\n<table>\n<tr><th>output</th><th>shape</th><th>SQNR dB</th><th>cosine</th><th>max |error|</th><th>top-1 agreement</th></tr>\n")
	for _, o := range r.Outputs {
		if o.Skipped != "" {
			p.f("<tr><td><code>%s</code></td><td colspan=\"5\">skipped: %s</td></tr>\n", esc(o.Name), esc(o.Skipped))
			continue
		}
		if d := o.Differing; d != nil {
			p.f("<tr><td><code>%s</code></td><td>%s</td><td colspan=\"4\">integer/bool output: %d of %d elements differ from FP32's</td></tr>\n", esc(o.Name), esc(shapeText(o.Shape)), d.Count, d.Total)
			continue
		}
		t1 := "–"
		if o.Top1 != nil {
			t1 = fmt.Sprintf("%d / %d (%.1f%%)", o.Top1.Agree, o.Top1.Total, 100*float64(o.Top1.Agree)/float64(max(o.Top1.Total, 1)))
		}
		cos := "–" // no signal in one of the two
		if c := float64(o.Cosine); !math.IsNaN(c) {
			cos = fmt.Sprintf("%.6f", c)
		}
		p.f("<tr><td><code>%s</code></td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
			esc(o.Name), esc(shapeText(o.Shape)), dbText(float64(o.SQNRdB)), cos, sig(float64(o.MaxAbsError), 4), t1)
	}
	p.f("</table>\n<p class=\"note\">SQNR is 10·log10(Σref²/Σ(q−ref)²) pooled over the samples; higher is better (20 dB: the error is a tenth of the signal in amplitude). Top-1 counts the score vectors (last axis) whose argmax agrees.</p>\n</section>\n")
}

// layers draws the harm chart and the activations' cumulative SQNR.
func (p *page) layers() {
	r := p.r
	p.f("<section id=\"layers\">\n<h2>2. Per-layer SQNR</h2>\n")
	grows := fmt.Sprintf("their local noise scaled by how it grows to output <b>%s</b> (the worst, unless compare --output named another)", esc(r.AttributedOutput))
	if r.AttributedOutput == "" {
		grows = "their local noise alone: no float output has a signal to attribute to"
	}
	p.f("<p class=\"note\">Each quantized layer alone quantized (its inputs through their Q/DQ, its weights dequantized) against FP32: <b>local</b> SQNR. <b>Cumulative</b> is the quantized run's SQNR at the layer's output, all the error up to there. Layers are sorted by harm, %s; most harmful at the top.</p>\n", grows)
	if r.HarmExplained != nil {
		p.f("<p class=\"note\">The layers' harms add up to %.0f%% of that output's error: near all of it when their errors simply add, much less when the error comes from how they interact%s.</p>\n", 100*float64(*r.HarmExplained), esc(compare.OvercountNote(float64(*r.HarmExplained))))
	}
	n := min(len(r.Layers), p.in.LayerBars)
	if n == 0 {
		p.f("<p>No layer was attributed.</p>\n")
	} else {
		p.f("%s", layerChart(r.Layers[:n], len(r.Layers)))
	}
	p.f("%s", activationChart(r.Activations, worstNames(r)))
	p.pastRange(r.Activations)
	if len(r.ExcludeNode) > 0 {
		var b strings.Builder
		for _, e := range r.ExcludeNode {
			b.WriteString(" --exclude-node " + shellQuote(e))
		}
		p.f("<h3>Suggested exclusions</h3>\n<p class=\"note\">Keep the most harmful layers in FP32:</p>\n<p><code>onnxq %s -o OUT.onnx ...%s</code></p>\n", esc(shellQuote(baseName(p.in.FloatFile))), esc(b.String()))
	} else {
		p.f("<h3>Suggested exclusions</h3>\n<p class=\"note\">None suggested.</p>\n")
	}
	top := min(len(r.Layers), 15)
	if top > 0 {
		p.f("<table>\n<tr><th>#</th><th>node</th><th>op</th><th>local SQNR dB</th><th>cumulative SQNR dB</th><th>reach</th><th>harm</th><th>--exclude-node</th></tr>\n")
		for i, l := range r.Layers[:top] {
			p.f("<tr><td class=\"n\">%d</td><td><code>%s</code></td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td><code>%s</code></td></tr>\n",
				i+1, esc(compare.ShortName(l.Node, tableNameRunes)), esc(l.Op), dbText(float64(l.LocalSQNRdB)), dbText(float64(l.CumulativeSQNRdB)), sig(float64(l.Reach), 3), sig(float64(l.Harm), 3), esc(l.Exclude))
		}
		p.f("</table>\n")
	}
	p.f("</section>\n")
}

// tableNameRunes is the widest node name the layer table shows whole;
// longer ones are shortened around an ellipsis (the --exclude-node column
// keeps the full pattern, wrapped).
const tableNameRunes = 60

// pastRangeShown is the most activations the table of those driven
// furthest past their range lists.
const pastRangeShown = 10

// pastRange lists the activations whose clipped values went furthest past
// their range (compare's peak), loudest first: samples louder than the
// calibration samples show here though they clip few values.
func (p *page) pastRange(acts []compare.ActivationStat) {
	var past []compare.ActivationStat
	for _, a := range acts {
		if a.Peak != nil {
			past = append(past, a)
		}
	}
	if len(past) == 0 {
		return
	}
	sort.SliceStable(past, func(i, j int) bool { return *past[i].Peak > *past[j].Peak })
	p.f("<h3>Activations past their range</h3>\n<p class=\"note\">The loudest clipped value of each, as a multiple of the range end it passed: samples far louder than the calibration ones, which the share clipped alone can hide.</p>\n")
	p.f("<table>\n<tr><th>activation</th><th>range</th><th>clipped</th><th>peak</th><th>SQNR dB</th></tr>\n")
	for i, a := range past {
		if i == pastRangeShown {
			break
		}
		p.f("<tr><td><code>%s</code></td><td class=\"n\">[%s, %s]</td><td class=\"n\">%.3f%%</td><td class=\"n\">%sx</td><td class=\"n\">%s</td></tr>\n",
			esc(a.Name), sig(float64(a.Lo), 4), sig(float64(a.Hi), 4), 100*float64(a.Clipped), compare.PeakText(float64(*a.Peak)), dbText(float64(a.SQNRdB)))
	}
	p.f("</table>\n")
	if len(past) > pastRangeShown {
		p.f("<p class=\"note\">%d more in the JSON report.</p>\n", len(past)-pastRangeShown)
	}
}

// worstNames are the activations the page highlights: those with a
// histogram, else the six of lowest SQNR.
func worstNames(r *compare.Report) map[string]bool {
	out := map[string]bool{}
	for _, h := range r.Histograms {
		out[h.Name] = true
	}
	if len(out) > 0 {
		return out
	}
	acts := append([]compare.ActivationStat(nil), r.Activations...)
	sort.SliceStable(acts, func(i, j int) bool { return dbKey(acts[i].SQNRdB) < dbKey(acts[j].SQNRdB) })
	for i := 0; i < len(acts) && i < 6; i++ {
		out[acts[i].Name] = true
	}
	return out
}

func dbKey(d compare.Decibels) float64 {
	if math.IsNaN(float64(d)) {
		return math.Inf(1)
	}
	return float64(d)
}

// finiteDB maps a dB figure to a drawable value: +Inf (identical) to cap,
// NaN to NaN.
func finiteDB(d compare.Decibels, cap float64) float64 {
	v := float64(d)
	if math.IsInf(v, 1) {
		return cap
	}
	return v
}

// dbScale returns the x range of a dB chart over the values.
func dbScale(vals []float64) (lo, hi float64) {
	lo, hi = 0, 10
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	step := 10.0
	return math.Floor(lo/step) * step, math.Ceil(hi/step) * step
}

// layerChart is the horizontal bar chart: per layer, a local and a
// cumulative SQNR bar, harm written at the end of the row.
func layerChart(ls []compare.LayerStat, total int) string {
	const rowH, left, right = 30.0, 250.0, 110.0
	w := 1100.0
	h := 70 + rowH*float64(len(ls)) + 60
	title := fmt.Sprintf("Layers by harm: local and cumulative SQNR (top %d of %d)", len(ls), total)
	s := newSVG(w, h, "Horizontal bar chart of the quantized layers sorted by harm, with each layer's local and cumulative SQNR in dB", title)
	var vals []float64
	for _, l := range ls {
		vals = append(vals, float64(l.LocalSQNRdB), float64(l.CumulativeSQNRdB))
	}
	lo, hi := dbScale(vals)
	f := &frame{left: left, top: 52, right: w - right, bottom: 52 + rowH*float64(len(ls)), x0: lo, x1: hi}
	s.xAxis(f, "SQNR (dB), higher is better")
	s.line(f.left, f.top, f.left, f.bottom, colAxis, 1, "")
	// Legend.
	s.rect(left, 32, 12, 10, colLocal, "")
	s.text(left+16, 41, "local (layer alone quantized)", "start", "small")
	s.rect(left+210, 32, 12, 10, colCum, "")
	s.text(left+226, 41, "cumulative (quantized run)", "start", "small")
	s.text(w-right+8, 41, "harm", "start", "small")
	for i, l := range ls {
		y := f.top + rowH*float64(i)
		s.text(left-8, y+rowH/2+4, fmt.Sprintf("%d. %s (%s)", i+1, compare.ShortName(l.Node, 26), l.Op), "end", "")
		bar := func(v compare.Decibels, dy float64, col string) {
			x := finiteDB(v, hi)
			if math.IsNaN(x) {
				s.text(f.X(lo)+4, y+dy+9, "n/a", "start", "small")
				return
			}
			s.rect(f.X(0), y+dy, f.X(x)-f.X(0), 11, col, "")
			s.text(f.X(math.Max(x, 0))+4, y+dy+9, dbText(float64(v)), "start", "small")
		}
		bar(l.LocalSQNRdB, 3, colLocal)
		bar(l.CumulativeSQNRdB, 15, colCum)
		s.text(w-right+8, y+rowH/2+4, sig(float64(l.Harm), 3), "start", "small")
	}
	return s.String()
}

// activationChart draws every compared activation's cumulative SQNR as
// a bar, in graph order, the worst highlighted and named.
func activationChart(acts []compare.ActivationStat, worst map[string]bool) string {
	w, h := 1100.0, 360.0
	s := newSVG(w, h, "Bar chart of the cumulative SQNR in dB of every quantized activation in graph order, the worst highlighted", fmt.Sprintf("Cumulative SQNR of the %d quantized activations, in graph order", len(acts)))
	if len(acts) == 0 {
		s.text(w/2, h/2, "no activation compared", "middle", "label")
		return s.String()
	}
	var vals []float64
	for _, a := range acts {
		vals = append(vals, float64(a.SQNRdB))
	}
	lo, hi := dbScale(vals)
	f := &frame{left: 70, top: 50, right: w - 30, bottom: h - 70, x0: 0, x1: float64(len(acts)), y0: lo, y1: hi}
	s.yAxis(f, "cumulative SQNR (dB)")
	s.line(f.left, f.bottom, f.right, f.bottom, colAxis, 1, "")
	bw := (f.right - f.left) / float64(len(acts))
	every := max(1, int(math.Ceil(float64(len(acts))/25)))
	k := 0
	for i, a := range acts {
		x := f.X(float64(i))
		v := finiteDB(a.SQNRdB, hi)
		col := colLocal
		if worst[a.Name] {
			col = colWorst
		}
		if !math.IsNaN(v) {
			s.rect(x+bw*0.1, f.Y(0), bw*0.8, f.Y(v)-f.Y(0), col, fmt.Sprintf(` data-name="%s"`, esc(a.Name)))
		}
		if worst[a.Name] {
			k++
			s.text(x+bw/2, math.Min(f.Y(math.Max(v, 0)), f.Y(0))-4, "#"+strconv.Itoa(i+1), "middle", "small")
		}
		if i%every == 0 {
			s.text(x+bw/2, f.bottom+16, strconv.Itoa(i+1), "middle", "small")
		}
	}
	s.text((f.left+f.right)/2, f.bottom+36, "activation (graph order, numbered from 1)", "middle", "label")
	s.rect(f.left, h-22, 12, 10, colWorst, "")
	s.text(f.left+16, h-13, fmt.Sprintf("the %d worst (histograms below)", k), "start", "small")
	s.rect(f.left+230, h-22, 12, 10, colLocal, "")
	s.text(f.left+246, h-13, "other activations", "start", "small")
	return s.String()
}

func (p *page) histograms() {
	hs := p.r.Histograms
	p.f("<section id=\"histograms\">\n<h2>3. Activation histograms of the worst activations</h2>\n")
	p.f("<p class=\"note\">FP32 values over all samples (calib's histogram observer; the counts are on a log scale). The vertical lines are the clip ranges each calibration method picks on these counts, and the range the quantized model's Q/DQ actually represents (thick black). A histogram of |x| (calibration's default) shows each range by its bound farther from zero.</p>\n")
	if len(hs) == 0 {
		p.f("<p>No histogram was collected.</p>\n</section>\n")
		return
	}
	p.f("<div class=\"grid2\">\n")
	for i, h := range hs {
		p.f("<div>%s", histogramChart(i+1, h))
		p.f("<table>\n<tr><th>range</th><th>lo</th><th>hi</th></tr>\n")
		p.f("<tr><td><b>Q/DQ (used)</b></td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", sig(h.Lo, 5), sig(h.Hi, 5))
		for _, m := range h.Methods {
			p.f("<tr><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", esc(string(m.Method)), sig(float64(m.Lo), 5), sig(float64(m.Hi), 5))
		}
		p.f("</table></div>\n")
	}
	p.f("</div>\n</section>\n")
}

// displayBins is the most bars a histogram chart draws; neighbouring bins
// are summed to fit.
const displayBins = 96

// histogramChart draws one activation's histogram with the methods'
// bounds.
func histogramChart(k int, h compare.Histogram) string {
	w, ht := 560.0, 330.0
	name := compare.ShortName(h.Name, 48)
	s := newSVG(w, ht, fmt.Sprintf("Histogram of the FP32 values of activation %s with the clip ranges of the calibration methods", h.Name),
		fmt.Sprintf("%d. %s (%s dB)", k, name, dbText(h.SQNRdB)))
	group := max(1, (len(h.Counts)+displayBins-1)/displayBins)
	var xs []float64 // lower edges
	var cs []float64
	var top float64
	for i := 0; i < len(h.Counts); i += group {
		var c uint64
		for _, v := range h.Counts[i:min(i+group, len(h.Counts))] {
			c += v
		}
		xs = append(xs, h.First+float64(i)*h.Width)
		cs = append(cs, float64(c))
		top = math.Max(top, float64(c))
	}
	bw := float64(group) * h.Width
	// The markers, on the histogram's axis.
	type marker struct {
		label, col, dash string
		at               []float64
		width            float64
	}
	place := func(lo, hi float64) []float64 {
		if h.Signed {
			return []float64{lo, hi}
		}
		return []float64{math.Max(math.Abs(lo), math.Abs(hi))}
	}
	var ms []marker
	for i, m := range h.Methods {
		ms = append(ms, marker{label: string(m.Method), col: methodColours[i%len(methodColours)], at: place(float64(m.Lo), float64(m.Hi)), width: 2, dash: ` stroke-dasharray="6 3"`})
	}
	ms = append(ms, marker{label: "Q/DQ", col: "#000000", at: place(h.Lo, h.Hi), width: 3})
	x0, x1 := h.First, h.First+float64(len(h.Counts))*h.Width
	if !h.Signed {
		x0 = math.Min(x0, 0)
	}
	for _, m := range ms {
		for _, a := range m.at {
			x0, x1 = math.Min(x0, a), math.Max(x1, a)
		}
	}
	pad := (x1 - x0) * 0.03
	if pad == 0 {
		pad = 1
	}
	f := &frame{left: 70, top: 60, right: w - 20, bottom: ht - 60, x0: x0 - pad, x1: x1 + pad, y0: 0, y1: math.Max(top, 1), logY: true}
	axis := "x (FP32 value)"
	if !h.Signed {
		axis = "|x| (FP32 magnitude)"
	}
	s.yAxis(f, "count (log scale)")
	s.xAxis(f, axis)
	for i, x := range xs {
		if cs[i] == 0 {
			continue
		}
		s.rect(f.X(x), f.Y(cs[i]), math.Max(f.X(x+bw)-f.X(x), 0.5), f.Y(0)-f.Y(cs[i]), colLocal, "")
	}
	for _, m := range ms {
		for _, a := range m.at {
			s.line(f.X(a), f.top, f.X(a), f.bottom, m.col, m.width, m.dash)
		}
	}
	// Legend across the top.
	lx := f.left
	for _, m := range ms {
		s.line(lx, 40, lx+18, 40, m.col, m.width, m.dash)
		s.text(lx+22, 44, m.label, "start", "small")
		lx += 30 + 7*float64(len(m.label)) + 12
	}
	return s.String()
}

func (p *page) weights() {
	p.f("<section id=\"weights\">\n<h2>4. Per-channel weight ranges of the most harmful weighted layers</h2>\n")
	p.f("<p class=\"note\">Per output channel: the FP32 weights' minimum to maximum (dark line) inside the range the quantized weights can represent, (qmin−zp)·s to (qmax−zp)·s (light band), and below, the channel's quantization step s from the weight DequantizeLinear. A channel whose weights fill a small part of its band wastes levels; a per-tensor scale shows as one flat step.</p>\n")
	drawn := 0
	var notes []string
	for _, l := range p.r.Layers {
		if drawn >= p.in.WeightLayers {
			break
		}
		if !weightedOps[l.Op] {
			continue
		}
		wr, why := layerWeights(p.in.Float, p.in.Quant, l.Output)
		if wr == nil {
			notes = append(notes, fmt.Sprintf("%s (%s): %s", l.Node, l.Op, why))
			continue
		}
		wr.node, wr.harm = l.Node, float64(l.Harm)
		drawn++
		p.f("%s", weightChart(drawn, wr))
	}
	if drawn == 0 {
		p.f("<p>No weighted layer to draw.</p>\n")
	}
	for _, n := range notes {
		p.f("<p class=\"note\">Not drawn: %s</p>\n", esc(n))
	}
	p.f("</section>\n")
}

// weightChart draws one layer's per-channel weight ranges over its
// representable bands, with a panel of the steps below.
func weightChart(k int, wr *weightRanges) string {
	w, ht := 1100.0, 470.0
	src := "FP32 weights"
	if !wr.fp32 {
		src = "dequantized weights (FLOAT holds no matching weight)"
	}
	shown := ""
	if len(wr.min) < wr.channels {
		shown = fmt.Sprintf(", first %d of %d channels", len(wr.min), wr.channels)
	}
	s := newSVG(w, ht, fmt.Sprintf("Range plot of the per-output-channel weights of layer %s and their quantization steps", wr.node),
		fmt.Sprintf("%d. %s (%s, harm %s): %s per output channel%s", k, compare.ShortName(wr.node, 40), wr.op, sig(wr.harm, 3), src, shown))
	nc := len(wr.min)
	lo, hi := 0.0, 0.0
	for c := range nc {
		lo = math.Min(lo, math.Min(wr.min[c], wr.lo[c]))
		hi = math.Max(hi, math.Max(wr.max[c], wr.hi[c]))
	}
	if lo == hi {
		hi = lo + 1
	}
	f := &frame{left: 80, top: 50, right: w - 20, bottom: 290, x0: 0, x1: float64(nc), y0: lo, y1: hi}
	s.yAxis(f, "weight value")
	s.line(f.left, f.bottom, f.right, f.bottom, colAxis, 1, "")
	cw := (f.right - f.left) / float64(max(nc, 1))
	for c := range nc {
		x := f.X(float64(c))
		s.rect(x+cw*0.1, f.Y(wr.hi[c]), cw*0.8, f.Y(wr.lo[c])-f.Y(wr.hi[c]), colRepr, "")
	}
	s.line(f.left, f.Y(0), f.right, f.Y(0), colMuted, 1, "")
	for c := range nc {
		x := f.X(float64(c)) + cw/2
		s.line(x, f.Y(wr.max[c]), x, f.Y(wr.min[c]), colLocal, math.Max(1, math.Min(3, cw*0.5)), "")
	}
	// Steps panel.
	top := 0.0
	for _, v := range wr.scale {
		top = math.Max(top, v)
	}
	g := &frame{left: 80, top: 320, right: w - 20, bottom: 420, x0: 0, x1: float64(nc), y0: 0, y1: math.Max(top, 1e-30)}
	s.yAxis(g, "step s")
	s.line(g.left, g.bottom, g.right, g.bottom, colAxis, 1, "")
	for c := range nc {
		x := g.X(float64(c))
		s.rect(x+cw*0.1, g.Y(wr.scale[c]), cw*0.8, g.Y(0)-g.Y(wr.scale[c]), colScale, "")
	}
	every := max(1, int(math.Ceil(float64(nc)/24)))
	for c := 0; c < nc; c += every {
		s.text(g.X(float64(c))+cw/2, g.bottom+16, strconv.Itoa(c), "middle", "small")
	}
	s.text((g.left+g.right)/2, g.bottom+36, fmt.Sprintf("output channel (weight axis %d)", wr.axis), "middle", "label")
	s.line(f.left, 36, f.left+18, 36, colLocal, 3, "")
	s.text(f.left+22, 40, "FP32 min–max", "start", "small")
	s.rect(f.left+130, 31, 14, 10, colRepr, "")
	s.text(f.left+148, 40, "representable range", "start", "small")
	s.rect(f.left+290, 31, 14, 10, colScale, "")
	s.text(f.left+308, 40, "quantization step", "start", "small")
	return s.String()
}

func (p *page) sizes() {
	p.f("<section id=\"sizes\">\n<h2>5. Sizes and coverage</h2>\n")
	w, h := 1100.0, 200.0
	s := newSVG(w, h, "Bar chart of the FP32 and quantized file sizes and of the INT8 MAC coverage", "File sizes and INT8 MAC coverage")
	fs, qs := float64(p.in.FloatSize), float64(p.in.QuantSize)
	f := &frame{left: 170, top: 40, right: w - 140, bottom: 110, x0: 0, x1: math.Max(math.Max(fs, qs), 1)}
	s.xAxis(f, "file size (bytes)")
	for i, v := range []struct {
		label string
		size  float64
		col   string
	}{{"FP32 model", fs, colMuted}, {"quantized model", qs, colLocal}} {
		y := f.top + 8 + float64(i)*30
		s.text(f.left-8, y+14, v.label, "end", "")
		s.rect(f.left, y, f.X(v.size)-f.left, 20, v.col, "")
		s.text(f.X(v.size)+6, y+14, sizeText(int64(v.size)), "start", "small")
	}
	cov := p.coverage.Share
	y := 160.0
	s.text(f.left-8, y+14, "INT8 MAC coverage", "end", "")
	s.rect(f.left, y, f.right-f.left, 20, colGrid, "")
	s.rect(f.left, y, (f.right-f.left)*cov, 20, colScale, "")
	s.text(f.right+6, y+14, fmt.Sprintf("%.1f%%", 100*cov), "start", "small")
	p.f("%s", s.String())
	c := p.coverage
	p.f("<table>\n<tr><th>INT8 MAC coverage</th><td>%s</td></tr>\n", esc(coverageText(c)))
	p.f("<tr><th>FP32 file</th><td class=\"n\">%s</td></tr>\n<tr><th>quantized file</th><td class=\"n\">%s</td></tr>\n</table>\n", esc(sizeText(p.in.FloatSize)), esc(sizeText(p.in.QuantSize)))
	p.f("<p class=\"note\">Coverage: the share of the multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul in complete Q/DQ units, the form integer kernels run (as <code>onnxq inspect</code> prints it); ONNX Runtime's CPU kernels run ConvTranspose units, MatMul units whose float output an Add reads, and Gemm units whose weight has no zero point, in float all the same.</p>\n</section>\n")
}

func coverageText(c macs.Coverage) string {
	ort := ""
	if c.ORTFloatUnits > 0 {
		ort = fmt.Sprintf("; ONNX Runtime's CPU kernels run %d of these in float", c.ORTFloatUnits)
	}
	if note := c.RecurrentNote(); note != "" {
		ort += "; " + note
	}
	return fmt.Sprintf("%.1f%% (%s of %s MACs; %d of %d weighted nodes in Q/DQ units%s)", 100*c.Share, groupDigits(c.CoveredMACs), groupDigits(c.TotalMACs), c.Units, c.WeightedNodes, ort)
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sizeText(n int64) string {
	switch {
	case n <= 0:
		return "size unknown"
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func opsetText(m *graph.Model) string {
	if v, ok := m.Opset(""); ok {
		return strconv.FormatInt(v, 10)
	}
	return "?"
}

func shapeText(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func dbText(db float64) string {
	switch {
	case math.IsInf(db, 1):
		return "inf"
	case math.IsNaN(db):
		return "–"
	}
	return fmt.Sprintf("%.2f", db)
}

func sig(v float64, n int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'g', n, 64)
}

// baseName is the last element of a slash- or backslash-separated path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:=+,@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
