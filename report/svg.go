// svg.go holds the drawing primitives: an SVG builder with fixed-precision
// coordinates, linear and log axes with round ticks, and the colours.

package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Colours of the series, chosen to stay apart in print and for the
// common colour-vision deficiencies.
const (
	colLocal  = "#3b6fb6" // local SQNR, histogram bars, FP32 weights
	colCum    = "#e08a2c" // cumulative SQNR
	colWorst  = "#c8302c" // highlighted worst items, the Q/DQ's range
	colMuted  = "#9aa7b5"
	colGrid   = "#e3e7ec"
	colAxis   = "#333333"
	colRepr   = "#cfe0f3" // representable range of quantized weights
	colScale  = "#5a9b5a"
	chartFont = 12
)

// methodColours colour the calibration methods' markers, in
// compare.HistogramMethods order.
var methodColours = []string{"#7b4fa0", "#2a9d8f", "#e08a2c", "#3b6fb6", "#8c564b"}

// svg accumulates one chart.
type svg struct {
	b    strings.Builder
	w, h float64
}

// newSVG opens a chart of w×h user units titled title; label is its
// aria-label. Inline SVG in HTML needs no namespace attribute, so the
// page holds no URL at all.
func newSVG(w, h float64, label, title string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %s %s" width="%s" height="%s">`,
		esc(label), num(w), num(h), num(w), num(h))
	s.b.WriteString("\n")
	fmt.Fprintf(&s.b, "<title>%s</title>\n", esc(title))
	s.text(w/2, 20, title, "middle", "title")
	return s
}

// String closes the chart.
func (s *svg) String() string { return s.b.String() + "</svg>\n" }

func (s *svg) rect(x, y, w, h float64, fill, extra string) {
	if w < 0 {
		x, w = x+w, -w
	}
	if h < 0 {
		y, h = y+h, -h
	}
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n", num(x), num(y), num(w), num(h), fill, extra)
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, width float64, extra string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`+"\n", num(x1), num(y1), num(x2), num(y2), stroke, num(width), extra)
}

// text writes t at (x, y); anchor is start, middle or end; class a CSS
// class of the page (title, label, small) or "".
func (s *svg) text(x, y float64, t, anchor, class string) {
	c := ""
	if class != "" {
		c = ` class="` + class + `"`
	}
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`+"\n", num(x), num(y), anchor, c, esc(t))
}

// vtext writes t rotated a quarter turn anticlockwise, centred on (x, y):
// a y axis label.
func (s *svg) vtext(x, y float64, t string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" class="label" transform="rotate(-90 %s %s)">%s</text>`+"\n", num(x), num(y), num(x), num(y), esc(t))
}

// frame is a plot area inside a chart: the data window [x0, x1]×[y0, y1]
// mapped onto the rectangle (left, top)–(right, bottom).
type frame struct {
	left, top, right, bottom float64
	x0, x1, y0, y1           float64
	logY                     bool // y holds log10(1+count)
}

func (f *frame) X(v float64) float64 {
	if f.x1 == f.x0 {
		return f.left
	}
	return f.left + (v-f.x0)/(f.x1-f.x0)*(f.right-f.left)
}

func (f *frame) Y(v float64) float64 {
	if f.logY {
		v = math.Log10(1 + math.Max(v, 0))
	}
	y0, y1 := f.y0, f.y1
	if f.logY {
		y0, y1 = math.Log10(1+y0), math.Log10(1+y1)
	}
	if y1 == y0 {
		return f.bottom
	}
	return f.bottom - (v-y0)/(y1-y0)*(f.bottom-f.top)
}

// xAxis draws the x axis with round ticks, grid lines and its label.
func (s *svg) xAxis(f *frame, label string) {
	s.line(f.left, f.bottom, f.right, f.bottom, colAxis, 1, "")
	for _, t := range ticks(f.x0, f.x1, 8) {
		x := f.X(t)
		s.line(x, f.top, x, f.bottom, colGrid, 1, "")
		s.line(x, f.bottom, x, f.bottom+4, colAxis, 1, "")
		s.text(x, f.bottom+17, tickText(t), "middle", "small")
	}
	s.text((f.left+f.right)/2, f.bottom+36, label, "middle", "label")
}

// yAxis draws the y axis; on a log frame the ticks are powers of ten.
func (s *svg) yAxis(f *frame, label string) {
	s.line(f.left, f.top, f.left, f.bottom, colAxis, 1, "")
	var ts []float64
	if f.logY {
		for p := 1.0; p <= f.y1*1.0001; p *= 10 {
			ts = append(ts, p)
		}
		ts = append([]float64{0}, ts...)
	} else {
		ts = ticks(f.y0, f.y1, 6)
	}
	for _, t := range ts {
		y := f.Y(t)
		s.line(f.left, y, f.right, y, colGrid, 1, "")
		s.line(f.left-4, y, f.left, y, colAxis, 1, "")
		s.text(f.left-7, y+4, tickText(t), "end", "small")
	}
	s.vtext(f.left-48, (f.top+f.bottom)/2, label)
}

// ticks returns round values (1, 2 or 5 times a power of ten apart)
// covering [lo, hi] with about n of them.
func ticks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || math.IsInf(hi-lo, 0) || math.IsNaN(hi-lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	var out []float64
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// tickText prints a tick value briefly.
func tickText(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e6 || a < 1e-3:
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// num prints a coordinate with two decimals, trailing zeros trimmed.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		s = "0"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
