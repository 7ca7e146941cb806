// This file checks the record of rescaled values (RescaledKey): its
// factors relate each rescaled value to the original tensor, two
// equalizations compose, the bytes are deterministic and survive saving,
// and the quantize pass drops entries of values it removed.

package passes

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// allValues runs m on feeds and returns a copy of every main-graph tensor.
func allValues(t *testing.T, m *graph.Model, feeds map[string]*runtime.Tensor) map[string]*runtime.Tensor {
	t.Helper()
	out := map[string]*runtime.Tensor{}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) {
		if v.Graph == m.Graph {
			out[v.Name] = x.Clone()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Run(feeds); err != nil {
		t.Fatal(err)
	}
	return out
}

func rescaleRecord(t *testing.T, m *graph.Model) string {
	t.Helper()
	for _, p := range m.Metadata {
		if p.Key == RescaledKey {
			return p.Value
		}
	}
	return ""
}

func TestRescalesRecorded(t *testing.T) {
	m, name := actModel(t)
	feeds := map[string]*runtime.Tensor{"x": input(0.7, 1, 3, 5, 5)}
	lo, hi := channelMax(t, m, name, feeds)
	orig := clone(t, m)
	conv := m.Graph.Value(name).Producer.Input(0).Name // the Relu's input
	// Weight equalization first, then activation equalization of the
	// renamed value: the record composes both.
	if !runPasses(t, m, Equalize()) {
		t.Fatal("equalize changed nothing")
	}
	once, err := Rescales(m)
	if err != nil || len(once) != 3 {
		// Both pairs (the depthwise one and the other branch) rescale
		// a Conv output; the first also its Relu's.
		t.Fatalf("after equalize: %v entries (%v), want 3", len(once), err)
	}
	ranges := map[string]ChannelRange{name + RescaledSuffix: {Min: lo, Max: hi}}
	// The ranges are those of the original value: not the equalized one's,
	// but any ranges give a valid rescale to record.
	if !runPasses(t, m, EqualizeActivations(ranges, nil)) {
		t.Fatal("equalize-activations changed nothing")
	}
	rs, err := Rescales(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(rs), rs)
	}
	if !slices.IsSortedFunc(rs, func(a, b Rescale) int { return strings.Compare(a.Value, b.Value) }) {
		t.Errorf("entries not sorted by value: %+v", rs)
	}
	composed := false
	for _, r := range rs {
		i := slices.IndexFunc(once, func(o Rescale) bool { return o.Value == r.Value })
		if i >= 0 && !slices.Equal(once[i].Factors, r.Factors) {
			composed = true
		}
	}
	if !composed {
		t.Error("the second equalization did not change any recorded factors")
	}
	want := map[string]bool{name: true, conv: true}
	// Each value is the original tensor times its factors along the axis.
	before, after := allValues(t, orig, feeds), allValues(t, m, feeds)
	for _, r := range rs {
		delete(want, r.Original)
		x, y := before[r.Original], after[r.Value]
		if x == nil || y == nil || r.Axis != 1 || len(r.Factors) != x.Shape[1] {
			t.Fatalf("entry %+v does not fit the models", r)
		}
		inner := x.Shape[2] * x.Shape[3]
		xf, yf := x.F32(), y.F32()
		top := 0.0
		for _, v := range yf {
			top = math.Max(top, math.Abs(float64(v)))
		}
		for i, v := range xf {
			w := float64(v) * float64(r.Factors[i/inner%x.Shape[1]])
			if math.Abs(w-float64(yf[i])) > 1e-5*top {
				t.Fatalf("%s[%d] = %g, want %s[%d]·f = %g", r.Value, i, yf[i], r.Original, i, w)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("not recorded: %v", want)
	}
	// Saved and loaded, the record is kept byte for byte, and the same
	// passes on a fresh model give the same bytes.
	if got, rec := rescaleRecord(t, clone(t, m)), rescaleRecord(t, m); got != rec || rec == "" {
		t.Errorf("record after save/load %q, want %q", got, rec)
	}
	again := clone(t, orig)
	runPasses(t, again, Equalize())
	runPasses(t, again, EqualizeActivations(ranges, nil))
	if a, b := rescaleRecord(t, again), rescaleRecord(t, m); a != b {
		t.Errorf("record not deterministic:\n%s\n%s", a, b)
	}
}

func TestPruneRescales(t *testing.T) {
	m, name := actModel(t)
	if err := recordRescale(m, name, name+RescaledSuffix, 1, []float64{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := recordRescale(m, "y", "y"+RescaledSuffix, 1, []float64{2}); err != nil {
		t.Fatal(err)
	}
	if err := pruneRescales(m); err != nil {
		t.Fatal(err)
	}
	// Neither value exists in m: the record goes entirely.
	if rec := rescaleRecord(t, m); rec != "" {
		t.Errorf("record %q kept for missing values", rec)
	}
	m.Metadata = append(m.Metadata, graph.StringPair{Key: RescaledKey, Value: "{"})
	if _, err := Rescales(m); err == nil {
		t.Error("malformed record accepted")
	}
}
