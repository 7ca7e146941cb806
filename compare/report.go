// report.go holds the report compare produces: its JSON form (the schema
// documented in doc.go), the fixed-precision numbers that keep it stable,
// and the text table the command prints.

package compare

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// SchemaVersion is the version of the JSON report; it changes when a field
// is renamed, removed or changes meaning (adding a field keeps it).
const SchemaVersion = 2

// Report is what Compare measured. Its JSON form is the schema of doc.go.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	FloatModel    string `json:"float_model"`
	QuantModel    string `json:"quant_model"`
	// Samples is the number of samples run through both models.
	Samples int `json:"samples"`
	// Integer tells whether QUANT ran in onnxq's integer execution form.
	Integer bool `json:"integer"`

	Outputs []OutputStat `json:"outputs"`

	Activations []ActivationStat `json:"activations"`
	// ActivationsSkipped are the activation QuantizeLinear nodes of QUANT
	// that were not compared, and why.
	ActivationsSkipped []Skipped `json:"activations_skipped"`

	// Layers are sorted by harm, most harmful first.
	Layers        []LayerStat `json:"layers"`
	LayersSkipped []Skipped   `json:"layers_skipped"`
	// AttributedOutput is the output the layers' harms are measured
	// against: the worst, or the one Options.Output names. Empty when no
	// output could be compared.
	AttributedOutput string `json:"attributed_output"`
	// HarmExplained is the layers' harms added up, over the attributed output's
	// noise-to-signal ratio: how much of that output's error the per-layer
	// figures account for (near 1 when the layers' errors add up; well
	// below when the error comes from how they interact, e.g. through a
	// saturating float op before the output). Null when unknown.
	HarmExplained *Sig4 `json:"harm_explained"`

	// ExcludeNode are --exclude-node patterns for the most harmful layers,
	// most harmful first.
	ExcludeNode []string `json:"exclude_node"`

	// Histograms are the FP32 value histograms of the worst activations
	// when Options.Histograms asks for them; not part of the JSON.
	Histograms []Histogram `json:"-"`
}

// OutputStat compares one graph output over all samples.
type OutputStat struct {
	Name string `json:"name"`
	// Shape is the output's shape in the first sample.
	Shape []int `json:"shape"`
	// SQNRdB is 10·log10(Σref²/Σ(q−ref)²) pooled over samples; null when
	// the outputs are identical (infinite) or the reference is all zero.
	SQNRdB Decibels `json:"sqnr_db"`
	// Cosine is Σref·q/√(Σref²·Σq²) pooled over samples.
	Cosine Fixed6 `json:"cosine"`
	// MaxAbsError is max |q−ref| over all elements and samples.
	MaxAbsError Sig4 `json:"max_abs_error"`
	// Top1 is present for score-like outputs (see doc.go).
	Top1 *Top1 `json:"top1,omitempty"`
	// Differing is present for integer and bool outputs (class indices,
	// masks), which have no SQNR or cosine (null): the elements that
	// differ from FLOAT's.
	Differing *Differing `json:"differing,omitempty"`
	// Skipped says why the output was not compared (then the numbers are
	// zero).
	Skipped string `json:"skipped,omitempty"`
}

// Differing counts the elements of an integer or bool output that differ
// from FLOAT's, of all its elements over the samples.
type Differing struct {
	Count int `json:"count"`
	Total int `json:"total"`
}

// Top1 counts the score vectors (along the last axis) whose argmax agrees.
type Top1 struct {
	Agree int `json:"agree"`
	Total int `json:"total"`
}

// ActivationStat compares one quantized activation of QUANT with the FP32
// tensor of the same name.
type ActivationStat struct {
	// Name is the input of the QuantizeLinear in QUANT.
	Name string `json:"name"`
	// Reference is the FLOAT tensor compared: Name (or, when Rescaled,
	// the name it had in FLOAT), or the output of the Relu/Clip the
	// quantizer folded into this QuantizeLinear (Folded).
	Reference string `json:"reference"`
	Folded    string `json:"folded,omitempty"`
	// Rescaled says an equalization pass multiplied Name's channels by
	// factors (passes.RescaledKey): the quantized tensor is divided by
	// them before it is compared, and Lo, Hi are in QUANT's rescaled
	// units.
	Rescaled bool `json:"rescaled,omitempty"`
	// Lo and Hi are the range the Q/DQ represents: (qmin−zp)·s, (qmax−zp)·s.
	Lo Sig6 `json:"lo"`
	Hi Sig6 `json:"hi"`
	// ClampedBelow and ClampedAbove, when present, are where FLOAT's
	// readers clamp the reference (a Relu, Clip or Max against a
	// constant, through LeakyRelu and data movement): values beyond are
	// compared at the bound, since nothing downstream tells them apart.
	ClampedBelow *Sig6 `json:"clamped_below,omitempty"`
	ClampedAbove *Sig6 `json:"clamped_above,omitempty"`
	// SQNRdB is the cumulative SQNR of the dequantized tensor of the
	// quantized run against FP32, pooled over samples.
	SQNRdB Decibels `json:"sqnr_db"`
	// Clipped is the share of FP32 values outside [Lo−s/2, Hi+s/2] (s the
	// scale): those the Q/DQ saturates beyond rounding.
	Clipped Sig4 `json:"clipped"`
	// Peak, when values were clipped, is how far past the range the
	// loudest of them went, as a multiple of the end it passed: y/Hi above
	// the range, y/Lo below it (in Name's units; absent when the end it
	// passed is 0). A sample far louder than any calibration sample shows
	// here even when it clips too few values to move Clipped.
	Peak *Sig4 `json:"peak,omitempty"`
	// Elements is the number of values compared (all samples).
	Elements int64 `json:"elements"`
}

// LayerStat is one quantized layer's attribution.
type LayerStat struct {
	Node string `json:"node"`
	Op   string `json:"op"`
	// Output is the node's output the figures are about.
	Output string `json:"output"`
	// LocalSQNRdB is the SQNR of the node's output when it alone is
	// quantized (its inputs through their Q/DQ, its weights dequantized
	// from QUANT) against FP32, pooled over samples; LocalNSR is the same
	// as a ratio, Σerr²/Σref².
	LocalSQNRdB Decibels `json:"local_sqnr_db"`
	LocalNSR    Sig4     `json:"local_nsr"`
	// CumulativeSQNRdB is the SQNR of the quantized run's tensor at the
	// node's output (see activations); null when that output is not a
	// quantized activation.
	CumulativeSQNRdB Decibels `json:"cumulative_sqnr_db"`
	// Reach estimates the factor a noise-to-signal ratio at the node's
	// output is multiplied by on the way to the worst output, from a
	// linear model of how noise flows through the layers below it (see
	// the package documentation); 1 when unknown.
	Reach Sig4 `json:"reach"`
	// Harm is the sort key: LocalNSR·Reach, the layer's own noise as it
	// reaches the worst output, relative to that output's signal.
	Harm Sig4 `json:"harm"`
	// Exclude is the --exclude-node pattern matching this node alone; empty
	// for an unnamed node.
	Exclude string `json:"exclude,omitempty"`
}

// Skipped is something not compared, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Decibels is a dB figure written with two decimals; ±Inf and NaN are
// written as null.
type Decibels float64

// MarshalJSON writes d with two decimals.
func (d Decibels) MarshalJSON() ([]byte, error) { return fixedJSON(float64(d), 'f', 2), nil }

// Fixed6 is a number written with six decimals.
type Fixed6 float64

// MarshalJSON writes f with six decimals.
func (f Fixed6) MarshalJSON() ([]byte, error) { return fixedJSON(float64(f), 'f', 6), nil }

// Sig4 is a number written with four significant digits.
type Sig4 float64

// MarshalJSON writes s with four significant digits.
func (s Sig4) MarshalJSON() ([]byte, error) { return fixedJSON(float64(s), 'g', 4), nil }

// Sig6 is a number written with six significant digits.
type Sig6 float64

// MarshalJSON writes s with six significant digits.
func (s Sig6) MarshalJSON() ([]byte, error) { return fixedJSON(float64(s), 'g', 6), nil }

func fixedJSON(v float64, format byte, prec int) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return []byte("null")
	}
	if v == 0 {
		v = 0 // no "-0"
	}
	s := strconv.FormatFloat(v, format, prec, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // a negative value that rounds to zero
	}
	return []byte(s)
}

// WriteJSON writes r as indented JSON with a final newline.
func (r *Report) WriteJSON(w io.Writer) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}

// Print writes the report as text: outputs, the top activations by error,
// the top layers by harm, and the exclusions to try (names longer than
// maxNameRunes shortened in the tables, whole in the patterns). top bounds the rows of
// the two tables (0: all).
func (r *Report) Print(w io.Writer, top int) error {
	if r == nil {
		return errors.New("compare: no report")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// a library caller may leave the models' names unset
	quantName, floatName := cmp.Or(r.QuantModel, "quantized model"), cmp.Or(r.FloatModel, "FP32 model")
	noun := "samples"
	if r.Samples == 1 {
		noun = "sample"
	}
	fmt.Fprintf(tw, "%d %s; %s vs %s\n", r.Samples, noun, quantName, floatName)
	fmt.Fprintln(tw, "\noutput\tSQNR dB\tcosine\tmax |err|\ttop-1")
	for _, o := range r.Outputs {
		if o.Skipped != "" {
			fmt.Fprintf(tw, "%s\tskipped: %s\t\t\t\n", shortName(o.Name), o.Skipped)
			continue
		}
		if d := o.Differing; d != nil {
			fmt.Fprintf(tw, "%s\tinteger/bool output: %d of %d elements differ\t-\t%.4g\t-\n", shortName(o.Name), d.Count, d.Total, float64(o.MaxAbsError))
			continue
		}
		if math.IsNaN(float64(o.MaxAbsError)) {
			// no element where FLOAT is finite: nothing was compared
			fmt.Fprintf(tw, "%s\tFLOAT is NaN or infinite at every element on these samples: nothing to compare\t-\t-\t-\n", shortName(o.Name))
			continue
		}
		t1 := "-"
		if o.Top1 != nil {
			t1 = fmt.Sprintf("%d/%d (%.1f%%)", o.Top1.Agree, o.Top1.Total, 100*float64(o.Top1.Agree)/float64(max(o.Top1.Total, 1)))
		}
		cos := "-" // no signal in one of the two
		if c := float64(o.Cosine); !math.IsNaN(c) {
			cos = fmt.Sprintf("%.6f", c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%s\n", shortName(o.Name), dbText(float64(o.SQNRdB)), cos, float64(o.MaxAbsError), t1)
	}
	acts := worstActivations(r.Activations)
	fmt.Fprintf(tw, "\nactivations (%d compared, %d skipped), lowest SQNR first\n", len(r.Activations), len(r.ActivationsSkipped))
	fmt.Fprintln(tw, "tensor\tSQNR dB\trange\tclipped")
	for i, a := range acts {
		if top > 0 && i >= top {
			break
		}
		name := shortName(a.Name)
		if a.Folded != "" {
			name += " (" + a.Folded + " folded)"
		}
		switch lo, hi := a.ClampedBelow, a.ClampedAbove; {
		case lo != nil && hi != nil:
			name += fmt.Sprintf(" (later clamped to [%.4g, %.4g])", float64(*lo), float64(*hi))
		case lo != nil:
			name += fmt.Sprintf(" (later clamped to ≥ %.4g)", float64(*lo))
		case hi != nil:
			name += fmt.Sprintf(" (later clamped to ≤ %.4g)", float64(*hi))
		}
		clipped := fmt.Sprintf("%.3f%%", 100*float64(a.Clipped))
		if a.Peak != nil {
			clipped += fmt.Sprintf(", up to %sx the range", PeakText(float64(*a.Peak)))
		}
		fmt.Fprintf(tw, "%s\t%s\t[%.4g, %.4g]\t%s\n", name, dbText(float64(a.SQNRdB)), float64(a.Lo), float64(a.Hi), clipped)
	}
	against := "; no float output with a signal to attribute to: harm is each layer's own error"
	if r.AttributedOutput != "" {
		against = fmt.Sprintf(", harm to output %s", r.AttributedOutput)
	}
	fmt.Fprintf(tw, "\nlayers (%d attributed, %d skipped%s), most harmful first: each quantized alone\n", len(r.Layers), len(r.LayersSkipped), against)
	if r.HarmExplained != nil {
		fmt.Fprintf(tw, "(their harms add up to %.0f%% of that output's error%s)\n", 100*float64(*r.HarmExplained), OvercountNote(float64(*r.HarmExplained)))
	}
	if n := countQOperatorSkips(r.LayersSkipped); n > 0 {
		fmt.Fprintf(tw, "(%d layers are in QOperator form, QLinearConv and the like, and are not attributed: compare the QDQ model they were lowered from, which runs the same integer arithmetic)\n", n)
	}
	// The other skips say why, a few of them here (all in the JSON).
	shown := 0
	for _, s := range r.LayersSkipped {
		if strings.HasSuffix(s.Reason, qoperatorReason) {
			continue
		}
		if shown == maxSkipsShown {
			fmt.Fprintf(tw, "(more layers skipped: --json lists them all)\n")
			break
		}
		fmt.Fprintf(tw, "(skipped %s: %s)\n", shortName(s.Name), s.Reason)
		shown++
	}
	fmt.Fprintln(tw, "node\top\tlocal SQNR dB\tcumulative dB\treach\tharm")
	for i, l := range r.Layers {
		if top > 0 && i >= top {
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3g\t%.3g\n", shortName(l.Node), l.Op, dbText(float64(l.LocalSQNRdB)), dbText(float64(l.CumulativeSQNRdB)), float64(l.Reach), float64(l.Harm))
	}
	if len(r.ExcludeNode) > 0 {
		var b strings.Builder
		for _, p := range r.ExcludeNode {
			b.WriteString(" --exclude-node " + shellQuote(p))
		}
		fmt.Fprintf(tw, "\nto try: onnxq FLOAT.onnx -o OUT.onnx ...%s\n", b.String())
	}
	return tw.Flush()
}

// worstActivations returns the activations by SQNR, lowest first (a null
// SQNR, an exact match, last).
func worstActivations(acts []ActivationStat) []ActivationStat {
	out := append([]ActivationStat(nil), acts...)
	key := func(a ActivationStat) float64 {
		if math.IsNaN(float64(a.SQNRdB)) {
			return math.Inf(1)
		}
		return float64(a.SQNRdB)
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

func dbText(db float64) string {
	switch {
	case math.IsInf(db, 1):
		return "inf"
	case math.IsNaN(db):
		return "-"
	}
	return fmt.Sprintf("%.2f", db)
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

// maxSkipsShown bounds the skipped layers the text report names.
const maxSkipsShown = 3

// countQOperatorSkips counts the layers skipped for being in QOperator
// form.
func countQOperatorSkips(skips []Skipped) int {
	n := 0
	for _, s := range skips {
		if strings.HasSuffix(s.Reason, qoperatorReason) {
			n++
		}
	}
	return n
}

// maxNameRunes bounds a name in the text tables: an exporter's names of
// thousands of characters would push every column off the screen.
const maxNameRunes = 60

// shortName returns name, or its start and end around an ellipsis when
// it is longer than maxNameRunes (as many runes on each side).
func shortName(name string) string {
	if len([]rune(name)) <= maxNameRunes {
		return name
	}
	return ShortName(name, maxNameRunes-1)
}

// PeakText writes a clipped value's multiple of its range end, above 1 by
// definition: with three significant digits, and as many decimals as keep
// it from reading 1 (1.003, not 1).
func PeakText(peak float64) string {
	t := strconv.FormatFloat(peak, 'g', 3, 64)
	for digits := 3; peak > 1 && digits < 7; digits++ {
		if v, err := strconv.ParseFloat(t, 64); err != nil || v > 1 {
			break
		}
		t = strconv.FormatFloat(peak, 'f', digits, 64)
	}
	return t
}

// ShortName cuts a name longer than n runes to n, its start and end around
// an ellipsis; the text tables and the HTML report show names so.
func ShortName(s string, n int) string {
	r := []rune(s)
	switch {
	case len(r) <= n:
		return s
	case n <= 0:
		return ""
	case n == 1:
		return "…"
	}
	h := (n - 1) / 2
	return string(r[:h]) + "…" + string(r[len(r)-(n-1-h):])
}

// OvercountNote says, when the layers' harms add up to over twice the
// output's error, why, and what to read from them instead.
func OvercountNote(explained float64) string {
	if !(explained > 2) {
		return ""
	}
	return ": the estimate follows a layer's noise along every path to the output, and paths that meet again (a residual stream, attention's queries and keys) count it more than once; read the order, not the shares"
}
