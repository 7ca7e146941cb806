// Ranges to parameters: the effective integer bounds of a RangeOptions,
// ParamsFromRange (symmetric, asymmetric, reduced range, minimum scale)
// and WeightParams (per tensor, per channel, blocked ranges of a constant).

package qdq

import (
	"fmt"
	"math"
)

// MinScale is the smallest scale ParamsFromRange returns. It guards
// all-zero and constant-zero ranges, and keeps the product of two scales
// (the bias scale) a normal float32.
const MinScale float32 = 1e-8

// RangeOptions say how a real range maps to quantization parameters.
type RangeOptions struct {
	Type      Type
	Symmetric bool // zero point 0 (signed) or mid-range (unsigned), range ±max(|min|,|max|)
	// Restricted narrows a signed type to [-qmax, qmax], e.g. int8 to
	// [-127, 127]; no effect on unsigned types.
	Restricted bool
	// ReduceRange uses 7 bits of the 8-bit types: int8 [-64, 63], uint8
	// [0, 127]; no effect on other types.
	ReduceRange bool
}

// Bounds is the integer range [qmin, qmax] parameters from o use. An
// invalid type gives [0, 0].
func (o RangeOptions) Bounds() (qmin, qmax int32) {
	qmin, qmax = o.Type.Min(), o.Type.Max()
	if o.ReduceRange && o.Type.Bits() == 8 {
		if o.Type.Signed() {
			qmin, qmax = -64, 63
		} else {
			qmin, qmax = 0, 127
		}
	}
	if o.Restricted && o.Type.Signed() {
		qmin = -qmax
	}
	return qmin, qmax
}

// symmetricZero is the zero point of symmetric parameters: 0 for signed
// types, the upper middle of the range (128 for uint8) for unsigned ones.
func (o RangeOptions) symmetricZero() int32 {
	qmin, qmax := o.Bounds()
	if o.Type.Signed() {
		return 0
	}
	return (qmin + qmax + 1) / 2
}

// finite maps NaN to 0 and ±Inf to ±MaxFloat32.
func finite(x float32) float32 {
	switch {
	case x != x:
		return 0
	case x > math.MaxFloat32:
		return math.MaxFloat32
	case x < -math.MaxFloat32:
		return -math.MaxFloat32
	}
	return x
}

// roundDiv is x/scale computed in float32 and rounded half to even, the
// unsaturated quantized value before the zero point.
func roundDiv(x, scale float32) float64 {
	return math.RoundToEven(float64(x / scale))
}

// ParamsFromRange maps a real range to a scale and zero point.
//
// The range is first widened to contain 0 (NaN bounds count as 0,
// infinite ones as ±MaxFloat32), so 0 is exactly representable: it
// quantizes to the zero point. With [qmin, qmax] = o.Bounds():
//   - asymmetric: scale = (max-min)/(qmax-qmin) and zero point =
//     round(qmin - min/scale), both in float32 as ONNX
//     DynamicQuantizeLinear computes them, the zero point clamped;
//   - symmetric: a = max(|min|, |max|), zero point 0 for signed types and
//     (qmin+qmax+1)/2 for unsigned ones, scale = a/(qmax - zero point), so
//     ±a are exact (int8: a/127 whether restricted or not).
//
// The scale is at least MinScale. Every x in [min, max] then quantizes
// inside [qmin, qmax] (QuantizeValue); where rounding ties would step one
// past a bound, the zero point moves or the scale grows by a few ulps. The
// scale is never 0, Inf or NaN. An invalid type gives scale 1, zero point 0.
func ParamsFromRange(min, max float32, o RangeOptions) (scale float32, zeroPoint int32) {
	qmin, qmax := o.Bounds()
	if qmin >= qmax {
		return 1, 0
	}
	lo, hi := finite(min), finite(max)
	if lo > 0 {
		lo = 0
	}
	if hi < 0 {
		hi = 0
	}
	var zp int32
	if o.Symmetric {
		a := hi
		if -lo > a {
			a = -lo
		}
		lo, hi = -a, a
		zp = o.symmetricZero()
		scale = a / float32(qmax-zp)
	} else {
		scale = (hi - lo) / float32(qmax-qmin)
		if math.IsInf(float64(scale), 0) {
			// hi - lo overflowed float32; the quotient does not.
			scale = float32((float64(hi) - float64(lo)) / float64(qmax-qmin))
		}
	}
	if !(scale >= MinScale) {
		scale = MinScale
	}
	asymZero := func() int32 {
		z := math.RoundToEven(float64(float32(qmin) - lo/scale))
		return int32(math.Max(float64(qmin), math.Min(float64(qmax), z)))
	}
	if !o.Symmetric {
		zp = asymZero()
	}
	// Keep q(lo) and q(hi) inside the bounds: a span of exactly qmax-qmin
	// steps can round to one more at a tie.
	for i := 0; i < 64; i++ {
		ql := roundDiv(lo, scale) + float64(zp)
		qh := roundDiv(hi, scale) + float64(zp)
		if ql >= float64(qmin) && qh <= float64(qmax) {
			break
		}
		if !o.Symmetric && qh-ql <= float64(qmax-qmin) {
			if qh > float64(qmax) {
				zp -= int32(qh - float64(qmax))
			} else {
				zp += int32(float64(qmin) - ql)
			}
			continue
		}
		grown := scale * (1 + float32(math.Ldexp(1, i-23)))
		if grown > math.MaxFloat32 {
			break
		}
		scale = grown
		if !o.Symmetric {
			zp = asymZero()
		}
	}
	return scale, zp
}

// ZeroPointForScale returns the zero point that puts the range [min, max]
// (widened to contain 0) on the grid of the given scale: the asymmetric
// zero point placing min at or just inside qmin, or the symmetric zero
// with o.Symmetric. ok is false when the grid cannot hold the range
// within half a step at either end, or the scale is not a positive
// finite number.
func ZeroPointForScale(min, max, scale float32, o RangeOptions) (zp int32, ok bool) {
	qmin, qmax := o.Bounds()
	if qmin >= qmax || !(scale >= MinScale) || math.IsInf(float64(scale), 0) {
		return 0, false
	}
	lo, hi := finite(min), finite(max)
	if lo > 0 {
		lo = 0
	}
	if hi < 0 {
		hi = 0
	}
	if o.Symmetric {
		zp = o.symmetricZero()
	} else {
		z := math.RoundToEven(float64(float32(qmin) - lo/scale))
		zp = int32(math.Max(float64(qmin), math.Min(float64(qmax), z)))
	}
	ql := roundDiv(lo, scale) + float64(zp)
	qh := roundDiv(hi, scale) + float64(zp)
	if ql < float64(qmin) || qh > float64(qmax) {
		return 0, false
	}
	return zp, true
}

// WeightParams computes the parameters of a constant tensor (row-major,
// of the given shape) from the range of its finite values: per tensor
// when axis < 0, one set per position of axis otherwise, and one set per
// block of blockSize along axis when blockSize > 0 (the layout of
// Params). Non-finite values are ignored; a slice with none gets the
// zero range (scale MinScale). Quantize(data, shape, p) then stays inside
// o.Bounds() for every finite value.
func WeightParams(data []float32, shape []int, axis int, blockSize int, o RangeOptions) (Params, error) {
	if !o.Type.Valid() {
		return Params{}, fmt.Errorf("qdq: invalid quantized type %v", o.Type)
	}
	n, err := numel(shape)
	if err != nil {
		return Params{}, err
	}
	if n != len(data) {
		return Params{}, fmt.Errorf("qdq: %d values for shape %v (%d elements)", len(data), shape, n)
	}
	if blockSize < 0 {
		return Params{}, fmt.Errorf("qdq: negative block size %d", blockSize)
	}
	if axis >= len(shape) {
		return Params{}, fmt.Errorf("qdq: axis %d out of range for shape %v", axis, shape)
	}
	if axis < 0 && blockSize > 0 {
		return Params{}, fmt.Errorf("qdq: blocks of %d need an axis", blockSize)
	}
	p := Params{Type: o.Type, BlockSize: blockSize}
	var l *layout
	if axis < 0 {
		l = &layout{kind: perTensor, n: n, outer: 1, dim: n, inner: 1}
	} else {
		p.Axis = axis
		l = &layout{kind: perAxis, n: n, outer: 1, dim: shape[axis], inner: 1}
		l.outer, _ = numel(shape[:axis])
		l.inner, _ = numel(shape[axis+1:])
		if blockSize > 0 {
			l.kind = blocked
			l.block = min(blockSize, max(l.dim, 1))
			l.blocks = (l.dim + l.block - 1) / l.block
		}
	}
	k := l.params()
	lo := make([]float32, k)
	hi := make([]float32, k)
	l.each(func(e, i int) {
		v := data[e]
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return
		}
		lo[i] = min(lo[i], v)
		hi[i] = max(hi[i], v)
	})
	p.Scale = make([]float32, k)
	p.ZeroPoint = make([]int32, k)
	for i := range k {
		p.Scale[i], p.ZeroPoint[i] = ParamsFromRange(lo[i], hi[i], o)
	}
	return p, nil
}
