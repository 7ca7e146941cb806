// Tests of the observers and the Collection: ranges on synthetic
// distributions, exact merges, save/load, NaN/Inf, empty and constant
// tensors.

package calib

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/qdq"
)

func uniform(r *rand.Rand, n int, lo, hi float32) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = lo + (hi-lo)*r.Float32()
	}
	return d
}

func gaussian(r *rand.Rand, n int, mean, std float64) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(mean + std*r.NormFloat64())
	}
	return d
}

func newColl(t testing.TB, m Method, o Options) *Collection {
	t.Helper()
	c, err := New(m, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func saved(t testing.TB, c *Collection) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// batches cuts data into batches of n values.
func batches(data []float32, n int) [][]float32 {
	var out [][]float32
	for len(data) > 0 {
		k := min(n, len(data))
		out = append(out, data[:k])
		data = data[k:]
	}
	return out
}

var histOptions = []struct {
	name string
	opts Options
}{
	{"abs", Options{}},
	{"signed", Options{Signed: true}},
}

func TestParseMethod(t *testing.T) {
	for _, m := range Methods {
		got, err := ParseMethod(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMethod("kl"); err == nil {
		t.Error("ParseMethod(kl) succeeded")
	}
	if _, err := New("kl", Options{}); err == nil {
		t.Error("New with an unknown method succeeded")
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Options{
		{Bins: 15}, {Bins: 2047}, {Bins: 1 << 14}, {QuantBins: 1}, {Bins: 64, QuantBins: 33},
		{Percentile: -1}, {Percentile: 100.5}, {Percentile: math.NaN()}, {EMAConstant: 2}, {EMAConstant: -0.5},
		{Range: qdq.RangeOptions{Type: 99}},
	}
	for _, o := range bad {
		if _, err := New(Entropy, o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	c := newColl(t, MSE, Options{Percentile: 99})
	if got := c.Options(); got.Bins != 2048 || got.QuantBins != 128 || got.Percentile != 99 || got.EMAConstant != 0.01 || got.Range.Type != qdq.Int8 {
		t.Errorf("defaults not filled in: %+v", got)
	}
}

// TestUniform: on uniform data no method clips much.
func TestUniform(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := uniform(r, 1<<18, -1, 3)
	for _, m := range Methods {
		for _, ho := range histOptions {
			c := newColl(t, m, ho.opts)
			for _, b := range batches(data, 4096) {
				c.Observe("x", b)
			}
			rg := c.Ranges()["x"]
			if m == MinMax && (rg.Min != minOf(data) || rg.Max != maxOf(data)) {
				t.Errorf("%s: range %v, data spans [%g, %g]", m, rg, minOf(data), maxOf(data))
			}
			if rg.Min < -1 || rg.Min > -0.9 || rg.Max > 3 || rg.Max < 2.85 {
				t.Errorf("%s %s: range %v on uniform [-1, 3]", m, ho.name, rg)
			}
		}
	}
}

func minOf(d []float32) float32 {
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}

func maxOf(d []float32) float32 {
	m := d[0]
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

// TestGaussianOutliers: a few loud values set the MinMax range; the
// histogram methods clip them and keep the bulk.
func TestGaussianOutliers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := gaussian(r, 1<<20, 0, 1)
	data[300000], data[500000], data[900000] = 100, -60, 80
	for _, m := range Methods {
		for _, ho := range histOptions {
			c := newColl(t, m, ho.opts)
			for _, b := range batches(data, 1<<14) {
				c.Observe("x", b)
			}
			rg := c.Ranges()["x"]
			t.Logf("%s %s: %v", m, ho.name, rg)
			switch m {
			case MinMax:
				if rg.Min != -60 || rg.Max != 100 {
					t.Errorf("minmax range %v, want [-60, 100]", rg)
				}
			case EMA:
				// Batch maxima of 16384 standard normals are about 4; the
				// outliers move the average by 1% of their excess only.
				if rg.Max < 3 || rg.Max > 10 || rg.Min > -3 || rg.Min < -10 {
					t.Errorf("ema range %v", rg)
				}
			case Entropy, Percentile:
				if rg.Max < 3 || rg.Max > 15 || rg.Min > -3 || rg.Min < -15 {
					t.Errorf("%s %s range %v does not clip the outliers to the bulk", m, ho.name, rg)
				}
			case MSE:
				if rg.Max < 3 || rg.Max > 50 || rg.Min > -3 || rg.Min < -50 {
					t.Errorf("mse %s range %v does not clip the outliers", ho.name, rg)
				}
			}
		}
	}
}

// TestPercentileValue: the percentile of |x| and the two-sided percentiles
// land on the bin holding the exact quantile.
func TestPercentileValue(t *testing.T) {
	data := make([]float32, 10000)
	for i := range data {
		data[i] = float32(i) / 100 // 0 .. 99.99
	}
	c := newColl(t, Percentile, Options{Percentile: 90})
	c.Observe("x", data)
	rg := c.Ranges()["x"]
	// 1000 values are ≥ 90; bins are 1/16 wide at this range.
	if rg.Min != 0 || rg.Max < 89.9 || rg.Max > 90.1 {
		t.Errorf("90th percentile range %v, want [0, ~90]", rg)
	}
	c = newColl(t, Percentile, Options{Percentile: 95, Signed: true})
	c.Observe("x", data)
	rg = c.Ranges()["x"]
	if rg.Min < 4.9 || rg.Min > 5.1 || rg.Max < 94.9 || rg.Max > 95.1 {
		t.Errorf("two-sided 5%%/95%% range %v, want ~[5, 95]", rg)
	}
	c = newColl(t, Percentile, Options{Percentile: 100})
	c.Observe("x", data)
	if rg := c.Ranges()["x"]; rg.Min != 0 || rg.Max != 99.99 {
		t.Errorf("100th percentile range %v, want the extremes", rg)
	}
}

// TestMSEPrefersFinerScale: a narrower type (int4) makes rounding noise
// dearer, so MSE clips harder than for int8.
func TestMSEPrefersFinerScale(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	data := gaussian(r, 1<<16, 0, 1)
	c8 := newColl(t, MSE, Options{})
	c4 := newColl(t, MSE, Options{Range: qdq.RangeOptions{Type: qdq.Int4}})
	c8.Observe("x", data)
	c4.Observe("x", data)
	r8, r4 := c8.Ranges()["x"], c4.Ranges()["x"]
	if !(r4.Max < r8.Max) || r4.Max < 1 {
		t.Errorf("int4 clip %v not tighter than int8 clip %v", r4, r8)
	}
}

// TestMergeEqualsWhole: for every method but EMA, merging the statistics
// of two halves (either way round, or into an empty collection) gives the
// same state, byte for byte, as calibrating on everything in one
// collection; the halves have very different ranges so the bins re-bin.
func TestMergeEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	first := append(gaussian(r, 30000, 0, 0.01), uniform(r, 5000, 0, 0.5)...)
	second := append(gaussian(r, 30000, 2, 5), 300, -1e4)
	relu := uniform(r, 20000, 0, 6)
	for _, m := range []Method{MinMax, Entropy, Percentile, MSE, Auto} {
		for _, ho := range histOptions {
			whole := newColl(t, m, ho.opts)
			a := newColl(t, m, ho.opts)
			b := newColl(t, m, ho.opts)
			for _, d := range batches(first, 1000) {
				whole.Observe("t", d)
				a.Observe("t", d)
			}
			for _, d := range batches(second, 1000) {
				whole.Observe("t", d)
				b.Observe("t", d)
			}
			for _, d := range batches(relu, 3000) {
				whole.Observe("relu", d)
				b.Observe("relu", d)
			}
			a.Observe("only_a", []float32{1, 2, 3})
			whole.Observe("only_a", []float32{1, 2, 3})
			want := saved(t, whole)

			ab := newColl(t, m, ho.opts)
			for _, p := range []*Collection{a, b} {
				if err := ab.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			ba := newColl(t, m, ho.opts)
			for _, p := range []*Collection{b, a} {
				if err := ba.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			for name, got := range map[string]string{"a+b": saved(t, ab), "b+a": saved(t, ba)} {
				if got != want {
					t.Errorf("%s %s: merged %s state differs from the whole", m, ho.name, name)
				}
			}
			if wr, mr := whole.Ranges(), ab.Ranges(); !equalRanges(wr, mr) {
				t.Errorf("%s %s: ranges %v merged, %v whole", m, ho.name, mr, wr)
			}
			// The inputs of a merge are left alone.
			if err := a.Merge(b); err != nil {
				t.Fatal(err)
			}
			if saved(t, a) != want {
				t.Errorf("%s %s: a.Merge(b) differs from the whole", m, ho.name)
			}
			if got := b.Stats()["t"].Values; got != uint64(len(second)) {
				t.Errorf("%s %s: merge modified its argument: %d values", m, ho.name, got)
			}
		}
	}
}

func equalRanges(a, b map[string]Range) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestObserveOrder: histogram states do not depend on the batch order.
func TestObserveOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	bs := [][]float32{gaussian(r, 1000, 0, 1e-3), gaussian(r, 1000, 5, 100), uniform(r, 1000, -3, 0), {7e30}, {0}}
	for _, m := range []Method{MinMax, Entropy, Percentile, MSE, Auto} {
		for _, ho := range histOptions {
			fwd := newColl(t, m, ho.opts)
			rev := newColl(t, m, ho.opts)
			for i := range bs {
				fwd.Observe("x", bs[i])
				rev.Observe("x", bs[len(bs)-1-i])
			}
			if saved(t, fwd) != saved(t, rev) {
				t.Errorf("%s %s: state depends on batch order", m, ho.name)
			}
		}
	}
}

// TestEMA checks the documented average and merge.
func TestEMA(t *testing.T) {
	c := newColl(t, EMA, Options{})
	c.Observe("x", []float32{0, 1})
	c.Observe("x", []float32{-1, 2, float32(math.NaN())})
	c.Observe("x", nil) // no finite value: not a batch
	rg := c.Ranges()["x"]
	if rg.Min != float32(-0.01) || rg.Max != float32(1.01) {
		t.Errorf("ema range %v, want [-0.01, 1.01]", rg)
	}
	if st := c.Stats()["x"]; st.Batches != 2 || st.Values != 4 || st.NaN != 1 {
		t.Errorf("ema stats %+v", st)
	}

	// Merge: weighted by batch counts, 2 and 1.
	d := newColl(t, EMA, Options{})
	d.Observe("x", []float32{-4, 4})
	if err := c.Merge(d); err != nil {
		t.Fatal(err)
	}
	wantMin := float32((2*(-0.01) + 1*(-4.0)) / 3)
	wantMax := float32((2*1.01 + 1*4.0) / 3)
	if rg := c.Ranges()["x"]; math.Abs(float64(rg.Min-wantMin)) > 1e-6 || math.Abs(float64(rg.Max-wantMax)) > 1e-6 {
		t.Errorf("merged ema range %v, want [%g, %g]", rg, wantMin, wantMax)
	}
	if st := c.Stats()["x"]; st.Batches != 3 {
		t.Errorf("merged batches %d, want 3", st.Batches)
	}
	// Commutative.
	e1, e2 := newColl(t, EMA, Options{}), newColl(t, EMA, Options{})
	e1.Observe("x", []float32{1, 3})
	e1.Observe("x", []float32{0, 5})
	e2.Observe("x", []float32{-2, 2})
	x, y := newColl(t, EMA, Options{}), newColl(t, EMA, Options{})
	mustMerge(t, x, e1, e2)
	mustMerge(t, y, e2, e1)
	if !equalRanges(x.Ranges(), y.Ranges()) {
		t.Errorf("ema merge not commutative: %v vs %v", x.Ranges(), y.Ranges())
	}
	if _, err := NewEMA(0); err == nil {
		t.Error("NewEMA(0) succeeded")
	}
}

func mustMerge(t *testing.T, dst *Collection, src ...*Collection) {
	t.Helper()
	for _, s := range src {
		if err := dst.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMergeMismatch(t *testing.T) {
	a := newColl(t, Entropy, Options{})
	if err := a.Merge(newColl(t, Percentile, Options{})); err == nil {
		t.Error("merged percentile into entropy")
	}
	if err := a.Merge(newColl(t, Entropy, Options{Bins: 1024})); err == nil {
		t.Error("merged different bin counts")
	}
	if err := a.Merge(a); err == nil {
		t.Error("merged a collection into itself")
	}
	if err := a.Merge(nil); err == nil {
		t.Error("merged nil")
	}
	h, _ := NewEntropy(Options{})
	if err := h.Merge(NewMinMax()); err == nil {
		t.Error("merged a MinMax observer into a histogram")
	}
	p, _ := NewPercentile(Options{})
	if err := h.Merge(p); err == nil {
		t.Error("merged a percentile observer into an entropy one")
	}
	e, _ := NewEMA(0.5)
	if err := NewMinMax().Merge(e); err == nil {
		t.Error("merged EMA into MinMax")
	}
	e2, _ := NewEMA(0.25)
	if err := e.Merge(e2); err == nil {
		t.Error("merged EMA observers with different constants")
	}
}

func TestSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, m := range Methods {
		for _, ho := range histOptions {
			o := ho.opts
			o.Range = qdq.RangeOptions{Type: qdq.Uint8, ReduceRange: true}
			c := newColl(t, m, o)
			c.Observe("conv/out", gaussian(r, 5000, 1, 3))
			c.Observe("conv/out", []float32{float32(math.Inf(1)), -0.5})
			c.Observe("relu", uniform(r, 100, 0, 1))
			c.Observe("empty", nil)
			c.Observe("zeros", make([]float32, 10))
			c.Observe("nan", []float32{float32(math.NaN())})
			want := saved(t, c)
			l, err := Load(strings.NewReader(want))
			if err != nil {
				t.Fatalf("%s %s: %v", m, ho.name, err)
			}
			if got := saved(t, l); got != want {
				t.Errorf("%s %s: save after load differs:\n%s\n%s", m, ho.name, got, want)
			}
			if l.Method() != m || l.Options() != c.Options() {
				t.Errorf("%s %s: loaded %s %+v", m, ho.name, l.Method(), l.Options())
			}
			if !equalRanges(l.Ranges(), c.Ranges()) {
				t.Errorf("%s %s: ranges %v after load, %v before", m, ho.name, l.Ranges(), c.Ranges())
			}
			if st := l.Stats(); st["conv/out"] != c.Stats()["conv/out"] || st["nan"].NaN != 1 {
				t.Errorf("%s %s: stats %+v after load", m, ho.name, st)
			}
			// A loaded collection keeps calibrating like the original.
			more := gaussian(r, 1000, 0, 50)
			c.Observe("relu", more)
			l.Observe("relu", more)
			if saved(t, l) != saved(t, c) {
				t.Errorf("%s %s: loaded collection diverges", m, ho.name)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	c := newColl(t, Entropy, Options{})
	c.Observe("x", []float32{1, 2, 3})
	good := saved(t, c)
	bad := map[string]string{
		"empty":          "",
		"not json":       "{",
		"trailing":       good + "{}",
		"format":         strings.Replace(good, `"onnxq-calib"`, `"other"`, 1),
		"version":        strings.Replace(good, `"version":1`, `"version":2`, 1),
		"method":         strings.Replace(good, `"method":"entropy","options"`, `"method":"kl","options"`, 1),
		"type":           strings.Replace(good, `"type":"int8"`, `"type":"int3"`, 1),
		"bins":           strings.Replace(good, `"bins":2048,"quant_bins"`, `"bins":7,"quant_bins"`, 1),
		"unknown field":  strings.Replace(good, `"signed":false,"min"`, `"signed":false,"extra":1,"min"`, 1),
		"count sum":      strings.Replace(good, `"values":3`, `"values":4`, 1),
		"count place":    strings.Replace(good, `"offset":`, `"offset":1`, 1),
		"zeros":          strings.Replace(good, `"zeros":0`, `"zeros":1`, 1),
		"range":          strings.Replace(good, `"min":1`, `"min":5`, 1),
		"state method":   strings.Replace(good, `"method":"entropy","bins"`, `"method":"mse","bins"`, 1),
		"duplicate name": strings.Replace(good, `]}`+"\n", `]},`+good[strings.Index(good, `{"name"`):len(good)-3]+`]}`+"\n", 1),
		// encoding/json alone takes these: the last of two equal keys, keys
		// in another case, absent fields as zero, a null state as empty
		"duplicate key": strings.Replace(good, `"zeros":0`, `"zeros":0,"zeros":0`, 1),
		"key case":      strings.Replace(good, `"zeros":0`, `"Zeros":0`, 1),
		"missing max":   strings.Replace(good, `"max":3,`, ``, 1),
		"missing stats": strings.Replace(good, `,"stats":{"values":3,"nan":0,"inf":0,"batches":1}`, ``, 1),
		"null state":    good[:strings.Index(good, `"state":`)] + `"state":null}]}` + "\n",
	}
	mm := newColl(t, MinMax, Options{})
	mm.Observe("x", []float32{1, 2, 3})
	goodMinMax := saved(t, mm)
	bad["minmax missing max"] = strings.Replace(goodMinMax, `,"max":3`, ``, 1)
	bad["minmax null state"] = goodMinMax[:strings.Index(goodMinMax, `"state":`)] + `"state":null}]}` + "\n"
	for name, s := range bad {
		if s == good || s == goodMinMax {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if _, err := Load(strings.NewReader(s)); err == nil {
			t.Errorf("%s: Load succeeded", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
}

// TestNaNInfIgnored: non-finite values change nothing but the counts.
func TestNaNInfIgnored(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	clean := gaussian(r, 4000, 0, 1)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	dirty := append(append(append([]float32{}, clean[:2000]...), nan, inf), clean[2000:]...)
	dirty = append(dirty, -inf, nan)
	for _, m := range Methods {
		for _, ho := range histOptions {
			a, b := newColl(t, m, ho.opts), newColl(t, m, ho.opts)
			a.Observe("x", clean)
			b.Observe("x", dirty)
			b.Observe("x", []float32{nan, inf})
			if !equalRanges(a.Ranges(), b.Ranges()) {
				t.Errorf("%s %s: %v with NaN/Inf, %v without", m, ho.name, b.Ranges(), a.Ranges())
			}
			st := b.Stats()["x"]
			if st.NaN != 3 || st.Inf != 3 || st.Values != 4000 || st.Batches != 1 {
				t.Errorf("%s %s: stats %+v", m, ho.name, st)
			}
		}
	}
}

// TestEmptyAndConstant: no values give (0, 0); constant tensors give the
// constant as both ends, for every method.
func TestEmptyAndConstant(t *testing.T) {
	for _, m := range Methods {
		for _, ho := range histOptions {
			c := newColl(t, m, ho.opts)
			c.Observe("empty", nil)
			c.Observe("empty", []float32{})
			c.Observe("nan", []float32{float32(math.NaN())})
			for range 3 {
				c.Observe("zeros", make([]float32, 100))
				c.Observe("neg", []float32{-2.5, -2.5, -2.5})
				c.Observe("pos", []float32{1e-30, 1e-30})
				c.Observe("big", []float32{3e38})
			}
			want := map[string]Range{"empty": {}, "nan": {}, "zeros": {}, "neg": {-2.5, -2.5}, "pos": {1e-30, 1e-30}, "big": {3e38, 3e38}}
			if got := c.Ranges(); !equalRanges(got, want) {
				t.Errorf("%s %s: %v, want %v", m, ho.name, got, want)
			}
			if names := c.Names(); strings.Join(names, ",") != "big,empty,nan,neg,pos,zeros" {
				t.Errorf("names %v", names)
			}
			if st := c.Stats()["empty"]; st != (Stats{}) {
				t.Errorf("%s: empty stats %+v", m, st)
			}
		}
	}
}

// TestEntropyIgnoresZeros: the zeros of a Relu output do not move the
// entropy clip, and only-zero tensors keep (0, 0).
func TestEntropyIgnoresZeros(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	pos := gaussian(r, 1<<17, 0, 1)
	for i, x := range pos {
		pos[i] = max(x, -x)
	}
	withZeros := append(make([]float32, 3*len(pos)), pos...)
	for _, ho := range histOptions {
		a, b := newColl(t, Entropy, ho.opts), newColl(t, Entropy, ho.opts)
		a.Observe("x", pos)
		b.Observe("x", withZeros)
		b.Observe("z", make([]float32, 10))
		ra, rb := a.Ranges()["x"], b.Ranges()["x"]
		if rb.Min != 0 || rb.Max != ra.Max || ra.Max < 3 {
			t.Errorf("%s: clip %v with 75%% zeros, %v without", ho.name, rb, ra)
		}
		if rz := b.Ranges()["z"]; rz != (Range{}) {
			t.Errorf("%s: zeros give %v", ho.name, rz)
		}
		// The zero count survives save/load and merge.
		l, err := Load(strings.NewReader(saved(t, b)))
		if err != nil {
			t.Fatal(err)
		}
		m := newColl(t, Entropy, ho.opts)
		mustMerge(t, m, l)
		if m.Ranges()["x"] != rb {
			t.Errorf("%s: %v after load and merge, %v before", ho.name, m.Ranges()["x"], rb)
		}
	}
}

// TestHeldBytesFlat: the memory kept per tensor does not depend on the
// number of batches.
func TestHeldBytesFlat(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, m := range Methods {
		held := map[int]int{}
		for _, n := range []int{32, 512} {
			c := newColl(t, m, Options{})
			for i := range n {
				c.Observe("a", gaussian(r, 256, 0, float64(1+i)))
				c.Observe("b", uniform(r, 256, 0, float32(1+i)))
			}
			held[n] = c.HeldBytes()
		}
		if held[32] != held[512] || held[32] == 0 {
			t.Errorf("%s: held %d bytes after 32 batches, %d after 512", m, held[32], held[512])
		}
	}
}

// TestConcurrent: observing and merging from several goroutines, merges in
// both directions at once included, neither races nor deadlocks, and the
// histogram state is the same as a serial run. (Which merge goes first
// decides whether a gets back its own values through b.)
func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	data := make([][]float32, 8)
	for i := range data {
		data[i] = gaussian(r, 500, 0, float64(i+1))
	}
	a, b := newColl(t, Percentile, Options{}), newColl(t, Percentile, Options{})
	serial := newColl(t, Percentile, Options{})
	for _, d := range data {
		serial.Observe("x", d)
	}
	done := make(chan error, 2*len(data)+2)
	for i, d := range data {
		go func() { a.Observe("x", d); done <- nil }()
		go func() { b.Observe(fmt.Sprint("y", i), d); done <- nil }()
	}
	for range 2 * len(data) {
		<-done
	}
	go func() { done <- a.Merge(b) }()
	go func() { done <- b.Merge(a) }()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if x := a.Stats()["x"].Values; (x != 4000 && x != 8000) || a.Stats()["y7"].Values != 500 {
		t.Errorf("merged stats %+v", a.Stats())
	}
	x := newColl(t, Percentile, Options{})
	for _, d := range data {
		go func() { x.Observe("x", d); done <- nil }()
	}
	for range data {
		<-done
	}
	if saved(t, x) != saved(t, serial) {
		t.Error("concurrent observation gives a different histogram from a serial run")
	}
}

func TestCollectionExtremes(t *testing.T) {
	data := make([]float32, 4096)
	for i := range data {
		data[i] = float32(i%256)/256 - 0.25
	}
	data[5] = 100
	for _, m := range []Method{MinMax, MSE, Auto} {
		c, err := New(m, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		c.Observe("t", data)
		e := c.Extremes()["t"]
		if e.Min != -0.25 || e.Max != 100 {
			t.Errorf("%s: extremes %v, want [-0.25, 100]", m, e)
		}
		if m != MinMax && !(c.Ranges()["t"].Max < 100) {
			t.Errorf("%s: range %v does not clip, so the test shows nothing", m, c.Ranges()["t"])
		}
	}
	c, err := New(EMA, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c.Observe("t", data)
	if _, ok := c.Extremes()["t"]; ok {
		t.Error("EMA has no true extremes but Extremes lists it")
	}
}

// A zero HistogramObserver observes with the default options rather than
// spinning forever looking for a bin width.
func TestZeroHistogramObserver(t *testing.T) {
	var h HistogramObserver
	h.Observe([]float32{-1, 0.5, 2})
	if lo, hi := h.Range(); !(lo <= -1 && hi >= 2) {
		t.Errorf("range [%v, %v], want to hold [-1, 2]", lo, hi)
	}
}
