// SQNR: the signal-to-quantization-noise ratio of a result against its
// float reference.
package qdq

import "math"

// SQNR is 10·log10(Σref² / Σ(got-ref)²) in dB, accumulated in float64:
// +Inf when got equals ref, -Inf when ref is all zero and got is not, NaN
// when the lengths differ. Positions where ref is NaN or ±Inf are left
// out: no error can be measured there (a model's log of a silent frame, a
// NaN in one calibration sample), and the others still tell how close got
// is. A NaN or ±Inf in got where ref is finite is an infinite error: -Inf.
// NaN also when no position is left.
func SQNR(ref, got []float32) float64 {
	if len(ref) != len(got) {
		return math.NaN()
	}
	var sig, noise float64
	counted := 0
	for i, r := range ref {
		rf := float64(r)
		if math.IsNaN(rf) || math.IsInf(rf, 0) {
			continue
		}
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(-1)
		}
		d := g - rf
		sig += rf * rf
		noise += d * d
		counted++
	}
	if counted == 0 {
		return math.NaN()
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}
