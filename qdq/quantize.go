// Quantize and dequantize: single values with ONNX QuantizeLinear and
// DequantizeLinear arithmetic, and whole row-major tensors under Params.

package qdq

import (
	"fmt"
	"math"
)

// QuantizeValue is ONNX QuantizeLinear for one value: x/scale in float32,
// rounded half to even, plus the zero point, saturated to t's range. NaN
// quantizes to the range's minimum, as in ONNX Runtime; ±Inf to the
// range's ends. An invalid type gives 0.
func QuantizeValue(x, scale float32, zeroPoint int32, t Type) int32 {
	r := roundDiv(x, scale)
	if r != r {
		return t.Min()
	}
	v := r + float64(zeroPoint)
	return int32(math.Max(float64(t.Min()), math.Min(float64(t.Max()), v)))
}

// DequantizeValue is ONNX DequantizeLinear for one value: (q - zero
// point) * scale, the difference exact and the product in float32.
func DequantizeValue(q int32, scale float32, zeroPoint int32) float32 {
	return float32(int64(q)-int64(zeroPoint)) * scale
}

// Quantize quantizes a row-major tensor of the given shape with p (see
// Params for the layouts).
func Quantize(data []float32, shape []int, p Params) ([]int32, error) {
	l, err := newLayout(shape, p)
	if err != nil {
		return nil, err
	}
	if len(data) != l.n {
		return nil, fmt.Errorf("qdq: %d values for shape %v (%d elements)", len(data), shape, l.n)
	}
	q := make([]int32, l.n)
	l.each(func(e, i int) {
		q[e] = QuantizeValue(data[e], p.Scale[i], p.ZeroPoint[i], p.Type)
	})
	return q, nil
}

// Dequantize maps quantized values of a row-major tensor of the given
// shape back to float32 with p. Values outside p.Type's range are not
// refused: they dequantize by the same formula.
func Dequantize(q []int32, shape []int, p Params) ([]float32, error) {
	l, err := newLayout(shape, p)
	if err != nil {
		return nil, err
	}
	if len(q) != l.n {
		return nil, fmt.Errorf("qdq: %d values for shape %v (%d elements)", len(q), shape, l.n)
	}
	out := make([]float32, l.n)
	l.each(func(e, i int) {
		out[e] = DequantizeValue(q[e], p.Scale[i], p.ZeroPoint[i])
	})
	return out, nil
}
