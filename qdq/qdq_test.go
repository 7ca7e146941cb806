// Properties of the quantization arithmetic: exact zero, half-step error
// inside the range, saturation, monotonicity, symmetric zero points,
// per-channel and blocked layouts, int4 packing, bias and SQNR, bad input.
package qdq_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/qdq"
)

var allTypes = []qdq.Type{qdq.Int8, qdq.Uint8, qdq.Int16, qdq.Uint16, qdq.Int4, qdq.Uint4}

// allOptions is every combination of type and flags.
func allOptions() []qdq.RangeOptions {
	var out []qdq.RangeOptions
	for _, t := range allTypes {
		for f := 0; f < 8; f++ {
			out = append(out, qdq.RangeOptions{Type: t, Symmetric: f&1 != 0, Restricted: f&2 != 0, ReduceRange: f&4 != 0})
		}
	}
	return out
}

// within reports whether |x - y| <= scale/2 up to float32 rounding of
// the quotient and the product.
func within(x, y, scale float32) bool {
	d := math.Abs(float64(x) - float64(y))
	return d <= float64(scale)/2*(1+1e-6)+4*math.Abs(float64(x))*0x1p-24+1e-30
}

func TestTypes(t *testing.T) {
	want := map[qdq.Type][4]int32{ // min, max, bits, signed
		qdq.Int8: {-128, 127, 8, 1}, qdq.Uint8: {0, 255, 8, 0},
		qdq.Int16: {-32768, 32767, 16, 1}, qdq.Uint16: {0, 65535, 16, 0},
		qdq.Int4: {-8, 7, 4, 1}, qdq.Uint4: {0, 15, 4, 0},
	}
	for typ, w := range want {
		signed := w[3] == 1
		if typ.Min() != w[0] || typ.Max() != w[1] || int32(typ.Bits()) != w[2] || typ.Signed() != signed {
			t.Errorf("%v: [%d, %d] %d bits signed %v, want %v", typ, typ.Min(), typ.Max(), typ.Bits(), typ.Signed(), w)
		}
		got, err := qdq.ParseType(strings.ToUpper(typ.String()))
		if err != nil || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ.String(), got, err)
		}
	}
	if _, err := qdq.ParseType("float8"); err == nil {
		t.Error("ParseType(float8) succeeded")
	}
	if bad := qdq.Type(0); bad.Valid() || bad.String() != "Type(0)" || bad.Bits() != 0 {
		t.Errorf("zero Type: valid %v, %q, %d bits", bad.Valid(), bad.String(), bad.Bits())
	}
}

func TestBounds(t *testing.T) {
	cases := []struct {
		o      qdq.RangeOptions
		lo, hi int32
	}{
		{qdq.RangeOptions{Type: qdq.Int8}, -128, 127},
		{qdq.RangeOptions{Type: qdq.Int8, Restricted: true}, -127, 127},
		{qdq.RangeOptions{Type: qdq.Int8, ReduceRange: true}, -64, 63},
		{qdq.RangeOptions{Type: qdq.Int8, ReduceRange: true, Restricted: true}, -63, 63},
		{qdq.RangeOptions{Type: qdq.Uint8, ReduceRange: true}, 0, 127},
		{qdq.RangeOptions{Type: qdq.Uint8, Restricted: true}, 0, 255},
		{qdq.RangeOptions{Type: qdq.Int16, ReduceRange: true}, -32768, 32767},
		{qdq.RangeOptions{Type: qdq.Int4, Restricted: true}, -7, 7},
		{qdq.RangeOptions{Type: qdq.Uint4, ReduceRange: true}, 0, 15},
		{qdq.RangeOptions{}, 0, 0},
	}
	for _, c := range cases {
		if lo, hi := c.o.Bounds(); lo != c.lo || hi != c.hi {
			t.Errorf("%+v: [%d, %d], want [%d, %d]", c.o, lo, hi, c.lo, c.hi)
		}
	}
}

func TestParamsFromRange(t *testing.T) {
	cases := []struct {
		name     string
		min, max float32
		o        qdq.RangeOptions
		scale    float32
		zp       int32
	}{
		{"uint8 asymmetric", -1, 1, qdq.RangeOptions{Type: qdq.Uint8}, float32(2) / 255, 127}, // 1/scale = 127.49999 in float32
		{"uint8 positive range widened to 0", 2, 5.1, qdq.RangeOptions{Type: qdq.Uint8}, float32(5.1) / 255, 0},
		{"int8 asymmetric", -1, 3, qdq.RangeOptions{Type: qdq.Int8}, float32(4) / 255, -64},
		{"int8 symmetric", -1, 2, qdq.RangeOptions{Type: qdq.Int8, Symmetric: true}, float32(2) / 127, 0},
		{"int8 symmetric restricted", -3, 2, qdq.RangeOptions{Type: qdq.Int8, Symmetric: true, Restricted: true}, float32(3) / 127, 0},
		{"int8 symmetric reduced", -3, 2, qdq.RangeOptions{Type: qdq.Int8, Symmetric: true, ReduceRange: true}, float32(3) / 63, 0},
		{"uint8 symmetric", -3, 2, qdq.RangeOptions{Type: qdq.Uint8, Symmetric: true}, float32(3) / 127, 128},
		{"uint8 reduced", -0.5, 1, qdq.RangeOptions{Type: qdq.Uint8, ReduceRange: true}, float32(1.5) / 127, 42},
		{"int4 symmetric", -0.5, 0.7, qdq.RangeOptions{Type: qdq.Int4, Symmetric: true}, float32(0.7) / 7, 0},
		{"uint4 symmetric", -0.5, 0.7, qdq.RangeOptions{Type: qdq.Uint4, Symmetric: true}, float32(0.7) / 7, 8},
		{"int16 symmetric", -1, 1, qdq.RangeOptions{Type: qdq.Int16, Symmetric: true}, float32(1) / 32767, 0},
		{"uint16 asymmetric", 0, 65.535, qdq.RangeOptions{Type: qdq.Uint16}, float32(65.535) / 65535, 0},
		{"all zero", 0, 0, qdq.RangeOptions{Type: qdq.Int8}, qdq.MinScale, -128},
		{"all zero symmetric", 0, 0, qdq.RangeOptions{Type: qdq.Int8, Symmetric: true}, qdq.MinScale, 0},
		{"NaN bounds", float32(math.NaN()), float32(math.NaN()), qdq.RangeOptions{Type: qdq.Uint8}, qdq.MinScale, 0},
		{"empty observer", float32(math.Inf(1)), float32(math.Inf(-1)), qdq.RangeOptions{Type: qdq.Uint8}, qdq.MinScale, 0},
		{"invalid type", -1, 1, qdq.RangeOptions{}, 1, 0},
	}
	for _, c := range cases {
		scale, zp := qdq.ParamsFromRange(c.min, c.max, c.o)
		if scale != c.scale || zp != c.zp {
			t.Errorf("%s: scale %v zp %d, want %v %d", c.name, scale, zp, c.scale, c.zp)
		}
	}
	// [-1, 1] over 127 steps puts both ends on ties (±63.5 steps): one
	// would round past a bound, so the scale grows by a few ulps.
	o := qdq.RangeOptions{Type: qdq.Uint8, ReduceRange: true}
	scale, zp := qdq.ParamsFromRange(-1, 1, o)
	if lo, hi := qdq.QuantizeValue(-1, scale, zp, o.Type), qdq.QuantizeValue(1, scale, zp, o.Type); lo < 0 || hi > 127 || scale <= float32(2)/127 || scale > float32(2)/127*1.00001 {
		t.Errorf("reduced tie: scale %v zp %d, -1 → %d, 1 → %d", scale, zp, lo, hi)
	}
	// Infinite bounds give a finite scale covering ±MaxFloat32.
	inf := float32(math.Inf(1))
	for _, o := range allOptions() {
		scale, zp := qdq.ParamsFromRange(-inf, inf, o)
		if math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) || scale <= 0 {
			t.Fatalf("%+v: scale %v", o, scale)
		}
		lo, hi := o.Bounds()
		if q := qdq.QuantizeValue(math.MaxFloat32, scale, zp, o.Type); q > hi {
			t.Errorf("%+v: MaxFloat32 → %d beyond %d", o, q, hi)
		}
		if q := qdq.QuantizeValue(-math.MaxFloat32, scale, zp, o.Type); q < lo {
			t.Errorf("%+v: -MaxFloat32 → %d below %d", o, q, lo)
		}
	}
}

// randomRanges are ranges of many magnitudes and positions around 0.
func randomRanges(r *rand.Rand, n int) [][2]float32 {
	out := [][2]float32{{0, 0}, {0, 1}, {-1, 0}, {-1, 1}, {1e-12, 2e-12}, {-5, -5}, {5, 5}, {-1e30, 3e30}}
	for len(out) < n {
		mag := math.Pow(10, r.Float64()*16-8)
		a := float32((r.Float64()*2 - 1) * mag)
		b := float32((r.Float64()*2 - 1) * mag)
		out = append(out, [2]float32{min(a, b), max(a, b)})
	}
	return out
}

func TestZeroExactAndBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, o := range allOptions() {
		qmin, qmax := o.Bounds()
		for _, rg := range randomRanges(r, 200) {
			scale, zp := qdq.ParamsFromRange(rg[0], rg[1], o)
			if !(scale >= qdq.MinScale) || math.IsInf(float64(scale), 0) {
				t.Fatalf("%+v %v: scale %v", o, rg, scale)
			}
			if zp < qmin || zp > qmax {
				t.Fatalf("%+v %v: zero point %d outside [%d, %d]", o, rg, zp, qmin, qmax)
			}
			if q := qdq.QuantizeValue(0, scale, zp, o.Type); q != zp || qdq.DequantizeValue(q, scale, zp) != 0 {
				t.Fatalf("%+v %v: 0 → %d → %v", o, rg, q, qdq.DequantizeValue(q, scale, zp))
			}
			for _, x := range []float32{rg[0], rg[1], min(rg[0], 0), max(rg[1], 0)} {
				if q := qdq.QuantizeValue(x, scale, zp, o.Type); q < qmin || q > qmax {
					t.Fatalf("%+v %v: %v → %d outside [%d, %d]", o, rg, x, q, qmin, qmax)
				}
			}
		}
	}
}

func TestRoundTripAndSaturation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, o := range allOptions() {
		for _, rg := range randomRanges(r, 50) {
			scale, zp := qdq.ParamsFromRange(rg[0], rg[1], o)
			lo := qdq.DequantizeValue(o.Type.Min(), scale, zp)
			hi := qdq.DequantizeValue(o.Type.Max(), scale, zp)
			for range 50 {
				x := lo + float32(r.Float64())*(hi-lo)
				q := qdq.QuantizeValue(x, scale, zp, o.Type)
				if y := qdq.DequantizeValue(q, scale, zp); !within(x, y, scale) {
					t.Fatalf("%+v %v: %v → %d → %v, error beyond scale/2 = %v", o, rg, x, q, y, scale/2)
				}
			}
			for _, x := range []float32{hi + scale, hi * 4, float32(math.Inf(1))} {
				if x > hi {
					if q := qdq.QuantizeValue(x, scale, zp, o.Type); q != o.Type.Max() {
						t.Fatalf("%+v: %v above the range → %d, want %d", o, x, q, o.Type.Max())
					}
				}
			}
			for _, x := range []float32{lo - scale, lo * 4, float32(math.Inf(-1))} {
				if x < lo {
					if q := qdq.QuantizeValue(x, scale, zp, o.Type); q != o.Type.Min() {
						t.Fatalf("%+v: %v below the range → %d, want %d", o, x, q, o.Type.Min())
					}
				}
			}
		}
	}
}

func TestRoundHalfToEven(t *testing.T) {
	for _, c := range []struct {
		x    float32
		want int32
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2}, {2.4999998, 2}, {127.5, 127}, {-128.5, -128}} {
		if q := qdq.QuantizeValue(c.x, 1, 0, qdq.Int8); q != c.want {
			t.Errorf("%v → %d, want %d", c.x, q, c.want)
		}
	}
	// ONNX Runtime makes NaN the type's minimum
	if q := qdq.QuantizeValue(float32(math.NaN()), 0.1, 7, qdq.Uint8); q != 0 {
		t.Errorf("NaN → %d, want 0", q)
	}
	if q := qdq.QuantizeValue(float32(math.NaN()), 0.1, 7, qdq.Int8); q != -128 {
		t.Errorf("NaN → %d, want -128", q)
	}
	if q := qdq.QuantizeValue(1, 1, 0, qdq.Type(0)); q != 0 {
		t.Errorf("invalid type → %d, want 0", q)
	}
}

func TestMonotonic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs := make([]float32, 2000)
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 3)
	}
	slices.Sort(xs)
	for _, o := range allOptions() {
		scale, zp := qdq.ParamsFromRange(-2, 2.5, o)
		prev := int32(math.MinInt32)
		for _, x := range xs {
			q := qdq.QuantizeValue(x, scale, zp, o.Type)
			if q < prev {
				t.Fatalf("%+v: %v → %d after %d", o, x, q, prev)
			}
			prev = q
		}
	}
}

func TestSymmetricZeroPoints(t *testing.T) {
	for _, o := range allOptions() {
		if !o.Symmetric {
			continue
		}
		qmin, qmax := o.Bounds()
		want := int32(0)
		if !o.Type.Signed() {
			want = (qmin + qmax + 1) / 2
		}
		for _, rg := range [][2]float32{{-1, 3}, {-7, 0.1}, {0, 0}, {2, 9}} {
			scale, zp := qdq.ParamsFromRange(rg[0], rg[1], o)
			if zp != want {
				t.Errorf("%+v %v: zero point %d, want %d", o, rg, zp, want)
			}
			// ±max(|min|, |max|) quantize symmetrically around the zero point.
			a := max(-rg[0], rg[1])
			qp := qdq.QuantizeValue(a, scale, zp, o.Type) - zp
			qn := zp - qdq.QuantizeValue(-a, scale, zp, o.Type)
			if qp != qn {
				t.Errorf("%+v %v: +a → %+d, -a → %+d", o, rg, qp, -qn)
			}
			if a > 0 && qp != qmax-zp {
				t.Errorf("%+v %v: max(|min|,|max|) → %d steps, want %d", o, rg, qp, qmax-zp)
			}
		}
	}
}

// channel gathers the elements of position c along axis of a row-major
// tensor.
func channel(data []float32, shape []int, axis, c int) []float32 {
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	var out []float32
	for o := 0; o < outer; o++ {
		base := (o*shape[axis] + c) * inner
		out = append(out, data[base:base+inner]...)
	}
	return out
}

func randomData(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64()) * float32(1+i%5)
	}
	return out
}

func TestPerChannelMatchesPerTensor(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shape := []int{3, 4, 5}
	data := randomData(r, 60)
	o := qdq.RangeOptions{Type: qdq.Int8, Symmetric: true, Restricted: true}
	for axis := range shape {
		p, err := qdq.WeightParams(data, shape, axis, 0, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Scale) != shape[axis] || p.Axis != axis || p.PerTensor() {
			t.Fatalf("axis %d: %d scales, axis %d", axis, len(p.Scale), p.Axis)
		}
		q, err := qdq.Quantize(data, shape, p)
		if err != nil {
			t.Fatal(err)
		}
		deq, err := qdq.Dequantize(q, shape, p)
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := p.ScaleShape(shape)
		if !slices.Equal(ss, []int{shape[axis]}) {
			t.Errorf("axis %d: scale shape %v", axis, ss)
		}
		for c := 0; c < shape[axis]; c++ {
			ch := channel(data, shape, axis, c)
			pt, err := qdq.WeightParams(ch, []int{len(ch)}, -1, 0, o)
			if err != nil {
				t.Fatal(err)
			}
			if !pt.PerTensor() || pt.Scale[0] != p.Scale[c] || pt.ZeroPoint[0] != p.ZeroPoint[c] {
				t.Fatalf("axis %d channel %d: %v/%d, per tensor %v/%d", axis, c, p.Scale[c], p.ZeroPoint[c], pt.Scale[0], pt.ZeroPoint[0])
			}
			qt, _ := qdq.Quantize(ch, []int{len(ch)}, pt)
			dt, _ := qdq.Dequantize(qt, []int{len(ch)}, pt)
			qc := channel(int32sAsFloats(q), shape, axis, c)
			dc := channel(deq, shape, axis, c)
			for i := range qt {
				if float32(qt[i]) != qc[i] || dt[i] != dc[i] {
					t.Fatalf("axis %d channel %d element %d: %v/%v, per tensor %d/%v", axis, c, i, qc[i], dc[i], qt[i], dt[i])
				}
				if qt[i] < -127 || qt[i] > 127 {
					t.Fatalf("restricted weight quantized to %d", qt[i])
				}
			}
		}
	}
}

func int32sAsFloats(q []int32) []float32 {
	out := make([]float32, len(q))
	for i, v := range q {
		out[i] = float32(v)
	}
	return out
}

func TestBlockedPartialLastBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	shape := []int{2, 7, 3}
	data := randomData(r, 42)
	o := qdq.RangeOptions{Type: qdq.Int4}
	p, err := qdq.WeightParams(data, shape, 1, 3, o)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := p.ScaleShape(shape)
	if err != nil || !slices.Equal(ss, []int{2, 3, 3}) || len(p.Scale) != 18 {
		t.Fatalf("scale shape %v (%v), %d scales", ss, err, len(p.Scale))
	}
	q, err := qdq.Quantize(data, shape, p)
	if err != nil {
		t.Fatal(err)
	}
	for o0 := 0; o0 < 2; o0++ {
		for b := 0; b < 3; b++ {
			for i := 0; i < 3; i++ {
				// Block b covers positions 3b..min(3b+3, 7) of axis 1; the last holds one.
				var vals []float32
				var idx []int
				for a := 3 * b; a < min(3*b+3, 7); a++ {
					e := (o0*7+a)*3 + i
					vals = append(vals, data[e])
					idx = append(idx, e)
				}
				if b == 2 && len(vals) != 1 {
					t.Fatalf("last block has %d values", len(vals))
				}
				k := (o0*3+b)*3 + i
				scale, zp := qdq.ParamsFromRange(slices.Min(vals), slices.Max(vals), o)
				if p.Scale[k] != scale || p.ZeroPoint[k] != zp {
					t.Fatalf("block (%d,%d,%d): %v/%d, want %v/%d", o0, b, i, p.Scale[k], p.ZeroPoint[k], scale, zp)
				}
				for j, e := range idx {
					if want := qdq.QuantizeValue(vals[j], scale, zp, qdq.Int4); q[e] != want {
						t.Fatalf("element %d: %d, want %d", e, q[e], want)
					}
				}
			}
		}
	}
	// A block larger than the axis is one block.
	p, err = qdq.WeightParams(data, shape, 1, 100, o)
	if err != nil || len(p.Scale) != 6 {
		t.Fatalf("block 100: %d scales, %v", len(p.Scale), err)
	}
}

func TestInt4Packing(t *testing.T) {
	for _, signed := range []bool{true, false} {
		lo, hi := int32(0), int32(15)
		if signed {
			lo, hi = -8, 7
		}
		var vals []int32
		for v := lo; v <= hi; v++ {
			vals = append(vals, v)
		}
		vals = append(vals, lo) // odd count
		packed := qdq.PackInt4(vals)
		if len(packed) != (len(vals)+1)/2 {
			t.Fatalf("%d values packed in %d bytes", len(vals), len(packed))
		}
		if packed[len(packed)-1]>>4 != 0 {
			t.Errorf("odd count: high nibble of the last byte is %d", packed[len(packed)-1]>>4)
		}
		got, err := qdq.UnpackInt4(packed, len(vals), signed)
		if err != nil || !slices.Equal(got, vals) {
			t.Errorf("signed %v: %v → % x → %v (%v)", signed, vals, packed, got, err)
		}
	}
	if b := qdq.PackInt4([]int32{1, -1, 7}); !slices.Equal(b, []byte{0xF1, 0x07}) {
		t.Errorf("PackInt4(1, -1, 7) = % x, want f1 07", b)
	}
	if _, err := qdq.UnpackInt4([]byte{0}, 3, false); err == nil {
		t.Error("unpacking 3 values from 1 byte succeeded")
	}
}

func TestQuantizeBias(t *testing.T) {
	q, scales, clipped := qdq.QuantizeBias([]float32{1, -2.5, 0, 1e9, float32(math.NaN())}, 0.5, []float32{0.01})
	if !slices.Equal(scales, []float32{0.005}) {
		t.Errorf("scales %v", scales)
	}
	if want := []int32{200, -500, 0, math.MaxInt32, 0}; !slices.Equal(q, want) || clipped != 2 {
		t.Errorf("q %v clipped %d, want %v 2", q, clipped, want)
	}
	q, scales, clipped = qdq.QuantizeBias([]float32{1, 1, -1e12}, 2, []float32{0.5, 0.25, 0.001})
	if !slices.Equal(scales, []float32{1, 0.5, 0.002}) || !slices.Equal(q, []int32{1, 2, math.MinInt32}) || clipped != 1 {
		t.Errorf("per channel: q %v scales %v clipped %d", q, scales, clipped)
	}
	// Ties round to even, as QuantizeLinear does.
	if q, _, _ := qdq.QuantizeBias([]float32{2.5, 3.5}, 1, []float32{1}); !slices.Equal(q, []int32{2, 4}) {
		t.Errorf("ties: %v", q)
	}
	if q, s, c := qdq.QuantizeBias([]float32{1, 2}, 1, []float32{1, 2, 3}); q != nil || s != nil || c != -1 {
		t.Errorf("mismatched scales: %v %v %d", q, s, c)
	}
}

func TestSQNR(t *testing.T) {
	if s := qdq.SQNR([]float32{1, 2}, []float32{1, 2}); !math.IsInf(s, 1) {
		t.Errorf("equal: %v", s)
	}
	if s := qdq.SQNR([]float32{3, 4}, []float32{3, 4.5}); math.Abs(s-10*math.Log10(25/0.25)) > 1e-12 {
		t.Errorf("SQNR %v, want 20", s)
	}
	if s := qdq.SQNR([]float32{1}, []float32{1, 2}); !math.IsNaN(s) {
		t.Errorf("mismatched lengths: %v", s)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	// where the reference is not finite nothing is measured
	if s := qdq.SQNR([]float32{3, nan, 4, inf}, []float32{3, 7, 4.5, inf}); math.Abs(s-10*math.Log10(25/0.25)) > 1e-12 {
		t.Errorf("non-finite reference positions: %v, want 20", s)
	}
	if s := qdq.SQNR([]float32{nan, inf}, []float32{1, 2}); !math.IsNaN(s) {
		t.Errorf("no finite reference: %v", s)
	}
	// a non-finite result where the reference is finite is an infinite
	// error
	if s := qdq.SQNR([]float32{3, 4}, []float32{3, nan}); !math.IsInf(s, -1) {
		t.Errorf("NaN result: %v, want -Inf", s)
	}
}

func TestWeightParamsNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	p, err := qdq.WeightParams([]float32{nan, -inf, 2, -1, inf, nan, nan, nan}, []int{2, 4}, 0, 0, qdq.RangeOptions{Type: qdq.Int8, Symmetric: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Scale[0] != float32(2)/127 || p.Scale[1] != qdq.MinScale {
		t.Errorf("scales %v, want [2/127 MinScale]", p.Scale)
	}
}

func TestBadInput(t *testing.T) {
	good := qdq.Params{Scale: []float32{0.1, 0.2}, ZeroPoint: []int32{0, 0}, Axis: 1, Type: qdq.Int8}
	data := make([]float32, 6)
	cases := []struct {
		name  string
		shape []int
		p     func(p qdq.Params) qdq.Params
		want  string
	}{
		{"element count", []int{2, 2}, nil, "values for shape"},
		{"negative dimension", []int{-2, 2}, nil, "negative dimension"},
		{"scale count", []int{2, 3}, nil, "2 scales for axis 1"},
		{"axis", []int{6}, nil, "axis 1 out of range"},
		{"zero points", []int{3, 2}, func(p qdq.Params) qdq.Params { p.ZeroPoint = p.ZeroPoint[:1]; return p }, "zero points"},
		{"zero scale", []int{3, 2}, func(p qdq.Params) qdq.Params { p.Scale = []float32{0, 1}; return p }, "scale 0 is 0"},
		{"NaN scale", []int{3, 2}, func(p qdq.Params) qdq.Params { p.Scale = []float32{1, float32(math.NaN())}; return p }, "scale 1 is NaN"},
		{"zero point range", []int{3, 2}, func(p qdq.Params) qdq.Params { p.ZeroPoint = []int32{0, 128}; return p }, "outside int8 range"},
		{"type", []int{3, 2}, func(p qdq.Params) qdq.Params { p.Type = 0; return p }, "invalid quantized type"},
		{"negative axis", []int{3, 2}, func(p qdq.Params) qdq.Params { p.Axis = -1; return p }, "negative axis"},
		{"block count", []int{3, 2}, func(p qdq.Params) qdq.Params { p.BlockSize = 1; return p }, "want 6"},
		{"negative block", []int{3, 2}, func(p qdq.Params) qdq.Params { p.BlockSize = -1; return p }, "negative block"},
	}
	for _, c := range cases {
		p := good
		if c.p != nil {
			p = c.p(good)
		}
		_, err := qdq.Quantize(data, c.shape, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Quantize %s: %v, want %q", c.name, err, c.want)
		}
		_, err = qdq.Dequantize(make([]int32, 6), c.shape, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dequantize %s: %v, want %q", c.name, err, c.want)
		}
	}
	o := qdq.RangeOptions{Type: qdq.Int8}
	for _, c := range []struct {
		name     string
		shape    []int
		axis, bs int
		o        qdq.RangeOptions
		want     string
	}{
		{"count", []int{5}, -1, 0, o, "6 values for shape [5]"},
		{"axis", []int{6}, 1, 0, o, "axis 1 out of range"},
		{"block without axis", []int{6}, -1, 2, o, "need an axis"},
		{"negative block", []int{6}, 0, -2, o, "negative block"},
		{"type", []int{6}, 0, 0, qdq.RangeOptions{}, "invalid quantized type"},
	} {
		if _, err := qdq.WeightParams(data, c.shape, c.axis, c.bs, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("WeightParams %s: %v, want %q", c.name, err, c.want)
		}
	}
}

// qdq.ZeroPointForScale, given the scale qdq.ParamsFromRange picks, gives its zero
// point back; on a coarser grid it places the range's low end, and it
// refuses a grid that cannot hold the range.
func TestZeroPointForScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for _, o := range []qdq.RangeOptions{{Type: qdq.Uint8}, {Type: qdq.Int8}, {Type: qdq.Uint16}, {Type: qdq.Int8, Symmetric: true}, {Type: qdq.Uint8, ReduceRange: true}} {
		for range 2000 {
			lo := -float32(rng.ExpFloat64())
			hi := float32(rng.ExpFloat64()) * 10
			s, z := qdq.ParamsFromRange(lo, hi, o)
			got, ok := qdq.ZeroPointForScale(lo, hi, s, o)
			if !ok || got != z {
				t.Fatalf("%+v [%v, %v]: zero point %d (ok %v), qdq.ParamsFromRange %d at scale %v", o, lo, hi, got, ok, z, s)
			}
		}
	}
	// [-0.4, 12] on the grid of [-2, 12]: the low end at code 0 within
	// half a step
	s, _ := qdq.ParamsFromRange(-2, 12, qdq.RangeOptions{Type: qdq.Uint8})
	z, ok := qdq.ZeroPointForScale(-0.4, 12, s, qdq.RangeOptions{Type: qdq.Uint8})
	if !ok || math.Abs(float64(z)*float64(s)-0.4) > float64(s)/2 {
		t.Errorf("zero point %d (ok %v) at scale %v, want 0.4/scale", z, ok, s)
	}
	for _, c := range []struct{ lo, hi, s float32 }{
		{-1, 1, 1.0 / 255}, // too fine a grid
		{0, 1, 0},          // no scale
		{0, 1, float32(math.Inf(1))},
	} {
		if z, ok := qdq.ZeroPointForScale(c.lo, c.hi, c.s, qdq.RangeOptions{Type: qdq.Uint8}); ok {
			t.Errorf("[%v, %v] at scale %v: zero point %d accepted", c.lo, c.hi, c.s, z)
		}
	}
}
