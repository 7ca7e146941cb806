// SQNR: the signal-to-quantization-noise ratio of a result against its
// float reference.
package qdq

import "math"

// SQNR is 10·log10(Σref² / Σ(got-ref)²) in dB, accumulated in float64:
// +Inf when got equals ref, -Inf when ref is all zero and got is not, NaN
// when the lengths differ or a value is NaN.
func SQNR(ref, got []float32) float64 {
	if len(ref) != len(got) {
		return math.NaN()
	}
	var sig, noise float64
	for i, r := range ref {
		d := float64(got[i]) - float64(r)
		sig += float64(r) * float64(r)
		noise += d * d
	}
	if noise == 0 && sig == sig {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}
