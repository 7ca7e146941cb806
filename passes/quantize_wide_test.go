package passes

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// filterbankModel is a constant-Q front end in small: a waveform through
// a Reshape into a filterbank Conv, then Neg, two Transposes and a
// Reshape (a layout change, as in basic_pitch), Mul(y,y), ReduceSum, Sqrt,
// a gain stage of three more ops (Abs, two Muls: eight arithmetic ops in
// all, which puts the Log past feedsLog's depth, so the Conv is quantized
// rather than kept FP32), +eps and Log, then a 1x1 Conv.
func filterbankModel(t *testing.T, opset int64) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(opset)
	x := b.Input("wav", graph.Float32, 1, 1, 1, 256)
	shape := b.Const(graph.FromInt64s("shape", []int64{4}, []int64{1, 1, 1, 256}))
	b.Output(filterbank(b, b.Op("Reshape", x, shape), true))
	return build(t, b)
}

// filterbank adds the Conv and the rest of filterbankModel after xr, a
// [1,1,1,256] waveform; without gain, the Log is five arithmetic ops
// from the Conv.
func filterbank(b *graph.Builder, xr *graph.Value, gain bool) *graph.Value {
	w := make([]float32, 8*32)
	for c := range 8 {
		for k := range 32 {
			w[c*32+k] = float32(math.Cos(float64((c+1)*k) * 0.19))
		}
	}
	fb := b.Const(graph.FromFloat32s("fb", []int64{8, 1, 1, 32}, w))
	spec := b.Op("Conv", xr, fb, f32(b, "fbias", 2, 8), graph.IntsAttr("strides", 1, 16))
	neg := b.Op("Neg", spec)
	perm := graph.IntsAttr("perm", 0, 1, 3, 2)
	back := b.Op("Transpose", b.Op("Transpose", neg, perm), perm)
	flat := b.Op("Reshape", back, b.Const(graph.FromInt64s("shape2", []int64{4}, []int64{1, 8, 1, 15})))
	pow := b.Op("Mul", flat, flat)
	axes := b.Const(graph.FromInt64s("axes", []int64{1}, []int64{2}))
	sum := b.Op("ReduceSum", pow, axes, graph.IntAttr("keepdims", 1))
	mag := b.Op("Sqrt", sum)
	if gain {
		mag = b.Op("Abs", mag)
		mag = b.Op("Mul", mag, b.Const(graph.FromFloat32s("g1", nil, []float32{4})))
		mag = b.Op("Mul", mag, b.Const(graph.FromFloat32s("g2", nil, []float32{0.25})))
	}
	lg := b.Op("Log", b.Op("Add", mag, b.Const(graph.FromFloat32s("eps", nil, []float32{1e-6}))))
	return b.Op("Conv", lg, convW(b, "w2", 4, 4, 8, 1), f32(b, "b2", 5, 4))
}

// A filterbank whose spectrum reaches the Log through data movement (any
// amount: a constant-Q front end joins its octaves through a dozen
// Concats) and a few arithmetic ops stays FP32: its 8-bit output would
// lose the quiet bins. basic_pitch_nmp read 12.9 dB in ONNX Runtime with
// 16-bit filterbank inputs and 8-bit spectra, 32.4 with them in float.
func TestQuantizeFilterbankThroughMovesStaysFloat(t *testing.T) {
	model := func() *graph.Model {
		b := graph.NewBuilder(13)
		x := b.Input("wav", graph.Float32, 1, 1, 1, 256)
		shape := b.Const(graph.FromInt64s("shape", []int64{4}, []int64{1, 1, 1, 256}))
		b.Output(filterbank(b, b.Op("Reshape", x, shape), false))
		return build(t, b)
	}
	m := model()
	r := quantize(t, m, calibrate(t, model(), waveforms()), DefaultQuantOptions())
	if r.OpCounts["Conv"] != 1 {
		t.Fatalf("want only the Conv after the Log quantized, got %v", r.OpCounts)
	}
	if !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Conv" && f.Reason == reasonLogInput }) {
		t.Errorf("the filterbank Conv is not FP32 for its Log: %v", r.FP32)
	}
	if r.Wide != 0 {
		t.Errorf("%d 16-bit activations around a float filterbank, want none", r.Wide)
	}
}

// A low-pass Conv whose output only moves (Reshape, a reflecting Pad)
// into the filterbank's input resamples the same signal: its input is
// 16-bit too; the Conv reading the Log stays 8-bit.
func TestQuantizeWideResampler(t *testing.T) {
	model := func() *graph.Model {
		b := graph.NewBuilder(13)
		x := b.Input("wav", graph.Float32, 1, 1, 1, 512)
		low := b.Op("Conv", x, f32(b, "lp", 1, 1, 1, 1, 4), graph.IntsAttr("strides", 1, 2))
		r := b.Op("Reshape", low, b.Const(graph.FromInt64s("s1", []int64{4}, []int64{1, 1, 1, 255})))
		pad := b.Op("Pad", r, b.Const(graph.FromInt64s("pads", []int64{8}, []int64{0, 0, 0, 0, 0, 0, 0, 1})), graph.StringAttr("mode", "reflect"))
		b.Output(filterbank(b, pad, true))
		return build(t, b)
	}
	var feeds []map[string]*runtime.Tensor
	for _, f := range waveforms() {
		x := append(slices.Clone(f["wav"].F32()), f["wav"].F32()...)
		feeds = append(feeds, map[string]*runtime.Tensor{"wav": runtime.FromFloat32([]int{1, 1, 1, 512}, x)})
	}
	m := model()
	r := quantize(t, m, calibrate(t, model(), feeds), DefaultQuantOptions())
	g := m.Graph
	for name, want := range map[string]graph.DType{"wav": graph.Uint16, "pad1_out0": graph.Uint16, "log1_out0": graph.Uint8} {
		qn := qdqOf(g, name)
		if qn == nil {
			t.Errorf("%s has no Q", name)
			continue
		}
		if dt := qn.Input(2).DType; dt != want {
			t.Errorf("%s quantized as %v, want %v", name, dt, want)
		}
	}
	if r.Wide != 2 {
		t.Errorf("%d 16-bit activations, want 2", r.Wide)
	}
}

// waveforms are tones whose loudness falls 60 dB across the window: the
// quiet end is below one 8-bit step of the loud one.
func waveforms() []map[string]*runtime.Tensor {
	var feeds []map[string]*runtime.Tensor
	for s := range 4 {
		x := make([]float32, 256)
		for i := range x {
			amp := math.Pow(10, -3*float64(i)/256)
			x[i] = float32(amp * math.Sin(float64(i)*(0.3+0.2*float64(s))))
		}
		feeds = append(feeds, map[string]*runtime.Tensor{"wav": runtime.FromFloat32([]int{1, 1, 1, 256}, x)})
	}
	return feeds
}

// qdqOf returns the Q node that quantizes the value named name.
func qdqOf(g *graph.Graph, name string) *graph.Node {
	for _, n := range g.Nodes {
		if n.OpType == "QuantizeLinear" && n.Input(0) != nil && n.Input(0).Name == name {
			return n
		}
	}
	return nil
}

// The filterbank Conv reads its waveform (and the Reshape before it,
// which shares its parameters) through 16-bit Q/DQ, com.microsoft's below
// opset 21 and the default domain's from 21; everything else stays 8-bit;
// WideFrontEnd off restores all-8-bit. The 16-bit model is closer to
// FP32.
func TestQuantizeWideFrontEnd(t *testing.T) {
	feeds := waveforms()
	var want []map[string]*runtime.Tensor
	for _, opset := range []int64{13, 21} {
		ref := filterbankModel(t, opset)
		if want == nil {
			s, err := runtime.NewSession(ref, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range feeds {
				out, err := s.Run(f)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, out)
			}
		}
		ranges := calibrate(t, ref, feeds)
		sqnr := map[bool]float64{}
		for _, wide := range []bool{true, false} {
			m := filterbankModel(t, opset)
			opts := DefaultQuantOptions()
			opts.WideFrontEnd = wide
			r := quantize(t, m, ranges, opts)
			if r.OpCounts["Conv"] != 2 {
				t.Fatalf("opset %d: want 2 quantized Convs, got %v (FP32 %v)", opset, r.OpCounts, r.FP32)
			}
			g := m.Graph
			domain := ""
			if wide && opset < 21 {
				domain = "com.microsoft"
			}
			hasMS := slices.ContainsFunc(m.OpsetImports, func(o graph.OpsetImport) bool { return o.Domain == "com.microsoft" })
			if hasMS != (domain != "") {
				t.Errorf("opset %d wide %v: com.microsoft import %v", opset, wide, hasMS)
			}
			if v, _ := m.Opset(""); v != opset {
				t.Errorf("opset %d wide %v: default opset became %d", opset, wide, v)
			}
			wideVals := 0
			for _, n := range g.Nodes {
				if n.OpType != "QuantizeLinear" && n.OpType != "DequantizeLinear" {
					continue
				}
				zp := n.Input(2)
				if zp == nil {
					if n.OpType == "DequantizeLinear" && n.Input(0).Const != nil {
						continue // a symmetric weight
					}
					t.Fatalf("%s has no zero point", n.Name)
				}
				src := n.Input(0).Name
				if n.OpType == "DequantizeLinear" {
					if n.Input(0).Const != nil {
						if zp.DType != graph.Int8 && zp.DType != graph.Int32 {
							t.Errorf("weight %s stored as %v", src, zp.DType)
						}
						continue
					}
					src = n.Input(0).Producer.Input(0).Name
				}
				isWide := wide && (src == "wav" || src == "reshape1_out0")
				wantType, wantDomain := graph.Uint8, ""
				if isWide {
					wantType, wantDomain = graph.Uint16, domain
				}
				if zp.DType != wantType || n.Domain != wantDomain {
					t.Errorf("opset %d wide %v: %s of %s is %v in %q, want %v in %q", opset, wide, n.OpType, src, zp.DType, n.Domain, wantType, wantDomain)
				}
				if isWide && n.OpType == "QuantizeLinear" {
					wideVals++
				}
			}
			if want := map[bool]int{true: 2, false: 0}[wide]; wideVals != want || r.Wide != want {
				t.Errorf("opset %d wide %v: %d 16-bit Q (report %d), want %d", opset, wide, wideVals, r.Wide, want)
			}
			if wide && (r.WideType != qdq.Uint16 || r.WideDomain != domain) {
				t.Errorf("opset %d: report says %v in %q", opset, r.WideType, r.WideDomain)
			}
			if err := m.Verify(); err != nil {
				t.Fatal(err)
			}
			s, err := runtime.NewSession(m, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			worst := math.Inf(1)
			for i, f := range feeds {
				got, err := s.Run(f)
				if err != nil {
					t.Fatal(err)
				}
				worst = min(worst, worstSQNR(want[i], got))
			}
			sqnr[wide] = worst
		}
		if !(sqnr[true] > sqnr[false]+3) {
			t.Errorf("opset %d: worst SQNR %.1f dB with 16-bit filterbank input, %.1f dB without: want 3 dB better", opset, sqnr[true], sqnr[false])
		}
		t.Logf("opset %d: worst SQNR %.1f dB with 16-bit filterbank input, %.1f dB without", opset, sqnr[true], sqnr[false])
	}
}

// int8 activations widen to int16.
func TestQuantizeWideFrontEndSigned(t *testing.T) {
	m := filterbankModel(t, 13)
	opts := PresetGeneric()
	r := quantize(t, m, calibrate(t, filterbankModel(t, 13), waveforms()), opts)
	if r.Wide != 2 || r.WideType != qdq.Int16 {
		t.Fatalf("report: %d wide of %v", r.Wide, r.WideType)
	}
	if zp := qdqOf(m.Graph, "wav").Input(2); zp.DType != graph.Int16 {
		t.Errorf("waveform zero point %v, want int16", zp.DType)
	}
}

// A 16-bit activation's range reaches the observed extremes where the
// calibrated range clipped them; an 8-bit one keeps the calibrated range.
func TestQuantizeWideExtremes(t *testing.T) {
	m := filterbankModel(t, 13)
	ranges := calibrate(t, filterbankModel(t, 13), waveforms())
	opts := DefaultQuantOptions()
	opts.Extremes = map[string]Range{}
	for name, r := range ranges {
		opts.Extremes[name] = r
		ranges[name] = Range{r.Min / 2, r.Max / 2}
	}
	quantize(t, m, ranges, opts)
	g := m.Graph
	e := opts.Extremes["wav"]
	wantWide, _ := qdq.ParamsFromRange(e.Min, e.Max, qdq.RangeOptions{Type: qdq.Uint16})
	if s := qdqOf(g, "wav").Input(1).ConstFloat32s()[0]; s != wantWide {
		t.Errorf("waveform scale %v, want %v (its extremes)", s, wantWide)
	}
	c := ranges["log1_out0"]
	want8, _ := qdq.ParamsFromRange(c.Min, c.Max, qdq.RangeOptions{Type: qdq.Uint8})
	if s := qdqOf(g, "log1_out0").Input(1).ConstFloat32s()[0]; s != want8 {
		t.Errorf("8-bit scale %v, want %v (calibrated)", s, want8)
	}
}

// An override's Bits sets a value's width with its Q/DQ group: 16 widens
// the waveform (and the Reshape output sharing its parameters) with the
// front-end rule off, 8 keeps it 8-bit with the rule on; the report counts
// the overridden ones apart.
func TestQuantizeBitsOverride(t *testing.T) {
	feeds := waveforms()
	ranges := calibrate(t, filterbankModel(t, 13), feeds)
	for _, c := range []struct {
		frontEnd   bool
		bits       int
		wantType   graph.DType
		wide, byCf int
	}{
		{frontEnd: false, bits: 16, wantType: graph.Uint16, byCf: 2},
		{frontEnd: true, bits: 8, wantType: graph.Uint8},
		{frontEnd: true, bits: 16, wantType: graph.Uint16, byCf: 2},
	} {
		m := filterbankModel(t, 13)
		opts := DefaultQuantOptions()
		opts.WideFrontEnd = c.frontEnd
		opts.Overrides = map[string]TensorOverride{"wav": {Bits: c.bits}}
		r := quantize(t, m, ranges, opts)
		for _, name := range []string{"wav", "reshape1_out0"} {
			q := qdqOf(m.Graph, name)
			if q == nil || q.Input(2) == nil {
				t.Fatalf("front end %v, bits %d: no Q of %s", c.frontEnd, c.bits, name)
			}
			if got := q.Input(2).DType; got != c.wantType {
				t.Errorf("front end %v, bits %d: %s quantized as %v, want %v", c.frontEnd, c.bits, name, got, c.wantType)
			}
		}
		if r.Wide != c.wide || r.WideByConfig != c.byCf {
			t.Errorf("front end %v, bits %d: report counts %d by the rule and %d by the override, want %d and %d", c.frontEnd, c.bits, r.Wide, r.WideByConfig, c.wide, c.byCf)
		}
		if err := m.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	opts := DefaultQuantOptions()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	opts.Overrides = map[string]TensorOverride{"wav": {Bits: 12}}
	if err := opts.Validate(); err == nil || !strings.Contains(err.Error(), "12 bits") {
		t.Errorf("12 bits: %v", err)
	}
}
