// The bias rule: int32 biases with zero point 0 and scale s_in·s_w.

package qdq

import "math"

// QuantizeBias quantizes a bias to int32 with zero point 0 and scale_i =
// inputScale*weightScales[i] (per channel, len(weightScales) ==
// len(bias)) or inputScale*weightScales[0] (per tensor, one weight
// scale), the product in float32. scales has one entry per weight scale.
// q_i = round_half_even(bias_i/scale_i) with the quotient in float32;
// values beyond the int32 range saturate and, with NaN biases (which
// become 0), are counted in clipped. Any other number of weight scales
// gives nil slices and clipped = -1.
func QuantizeBias(bias []float32, inputScale float32, weightScales []float32) (q []int32, scales []float32, clipped int) {
	if len(weightScales) == 0 || (len(weightScales) != 1 && len(weightScales) != len(bias)) {
		return nil, nil, -1
	}
	scales = make([]float32, len(weightScales))
	for i, w := range weightScales {
		scales[i] = inputScale * w
	}
	q = make([]int32, len(bias))
	for i, b := range bias {
		s := scales[0]
		if len(scales) > 1 {
			s = scales[i]
		}
		if b == 0 {
			continue
		}
		r := roundDiv(b, s)
		switch {
		case r != r:
			clipped++
		case r > math.MaxInt32:
			q[i] = math.MaxInt32
			clipped++
		case r < math.MinInt32:
			q[i] = math.MinInt32
			clipped++
		default:
			q[i] = int32(r)
		}
	}
	return q, scales, clipped
}
