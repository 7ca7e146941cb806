// Fuzzing of the range-to-parameters mapping and the quantize/dequantize
// round trip.
package qdq_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/qdq"
)

// FuzzParams checks, for any range, options and value: a finite scale of
// at least MinScale, a zero point inside the bounds, 0 exact, the range's
// values quantized inside the bounds, and |x - deq(q(x))| <= scale/2 for x
// inside the representable range (unless (q - zp)·scale itself overflows
// float32, as it can for the type's ends beyond a range near MaxFloat32).
func FuzzParams(f *testing.F) {
	f.Add(float32(-1), float32(1), uint8(1), uint8(0), float32(0.3))
	f.Add(float32(0), float32(0), uint8(2), uint8(1), float32(1e-9))
	f.Add(float32(-1), float32(1), uint8(2), uint8(4), float32(-1))
	f.Add(float32(math.Inf(-1)), float32(math.NaN()), uint8(5), uint8(3), float32(7))
	f.Add(float32(-3e38), float32(3e38), uint8(3), uint8(6), float32(-1e38))
	f.Add(float32(1e-30), float32(2e-30), uint8(6), uint8(0), float32(1.5e-30))
	f.Fuzz(func(t *testing.T, lo, hi float32, typ, flags uint8, x float32) {
		o := qdq.RangeOptions{Type: qdq.Type(1 + int(typ)%6), Symmetric: flags&1 != 0, Restricted: flags&2 != 0, ReduceRange: flags&4 != 0}
		qmin, qmax := o.Bounds()
		scale, zp := qdq.ParamsFromRange(lo, hi, o)
		if math.IsNaN(float64(scale)) || math.IsInf(float64(scale), 0) || !(scale >= qdq.MinScale) {
			t.Fatalf("%+v [%v, %v]: scale %v", o, lo, hi, scale)
		}
		if zp < qmin || zp > qmax {
			t.Fatalf("%+v [%v, %v]: zero point %d outside [%d, %d]", o, lo, hi, zp, qmin, qmax)
		}
		if q := qdq.QuantizeValue(0, scale, zp, o.Type); q != zp {
			t.Fatalf("%+v [%v, %v]: 0 → %d, zero point %d", o, lo, hi, q, zp)
		}
		// Values of the (finite part of the) range stay inside the bounds.
		if x >= lo && x <= hi && !math.IsInf(float64(x), 0) {
			if q := qdq.QuantizeValue(x, scale, zp, o.Type); q < qmin || q > qmax {
				t.Fatalf("%+v [%v, %v]: %v → %d outside [%d, %d]", o, lo, hi, x, q, qmin, qmax)
			}
		}
		rlo := qdq.DequantizeValue(o.Type.Min(), scale, zp)
		rhi := qdq.DequantizeValue(o.Type.Max(), scale, zp)
		q := qdq.QuantizeValue(x, scale, zp, o.Type)
		switch {
		case x != x:
			if q != o.Type.Min() {
				t.Fatalf("NaN → %d, want the type's minimum %d", q, o.Type.Min())
			}
		case x > rhi:
			if q != o.Type.Max() {
				t.Fatalf("%v above %v → %d", x, rhi, q)
			}
		case x < rlo:
			if q != o.Type.Min() {
				t.Fatalf("%v below %v → %d", x, rlo, q)
			}
		default:
			y := qdq.DequantizeValue(q, scale, zp)
			if math.IsInf(float64(y), 0) && math.Abs(float64(q-zp))*float64(scale) > math.MaxFloat32 {
				break // the product is beyond float32: DequantizeLinear gives ±Inf too
			}
			if !within(x, y, scale) {
				t.Fatalf("%+v [%v, %v]: %v → %d → %v, error beyond scale/2 = %v", o, lo, hi, x, q, y, scale/2)
			}
		}
	})
}

// FuzzWeights checks that WeightParams' parameters keep every finite
// weight inside the bounds, per tensor, per channel and blocked.
func FuzzWeights(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 128, 191, 0, 0, 0, 64, 0, 0, 192, 127}, uint8(0), uint8(4), uint8(2))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(1), uint8(7), uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, typ, flags, block uint8) {
		n := len(raw) / 4
		if n < 2 {
			return
		}
		n &^= 1
		data := make([]float32, n)
		for i := range data {
			b := raw[4*i:]
			data[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		}
		o := qdq.RangeOptions{Type: qdq.Type(1 + int(typ)%6), Symmetric: flags&1 != 0, Restricted: flags&2 != 0, ReduceRange: flags&4 != 0}
		qmin, qmax := o.Bounds()
		shape := []int{2, n / 2}
		for _, c := range []struct{ axis, block int }{{-1, 0}, {0, 0}, {1, 0}, {1, 1 + int(block)%4}} {
			p, err := qdq.WeightParams(data, shape, c.axis, c.block, o)
			if err != nil {
				t.Fatal(err)
			}
			q, err := qdq.Quantize(data, shape, p)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range q {
				// NaN becomes the type's minimum (QuantizeValue), ±Inf its ends
				if x := data[i]; x == x && !math.IsInf(float64(x), 0) && (v < qmin || v > qmax) {
					t.Fatalf("%+v axis %d block %d: %v → %d outside [%d, %d]", o, c.axis, c.block, x, v, qmin, qmax)
				}
			}
		}
	})
}
