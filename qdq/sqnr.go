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
	return SQNRFromEnergies(Energies(ref, got))
}

// SQNRFromEnergies is SQNR of the energies Energies returns.
func SQNRFromEnergies(sig, noise float64, counted int) float64 {
	switch {
	case counted == 0:
		return math.NaN()
	case math.IsInf(noise, 1):
		return math.Inf(-1)
	case noise == 0:
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// Energies returns Σref² and Σ(got−ref)² over the positions where ref is
// finite, and how many those were; a non-finite got where ref is finite
// makes the noise +Inf. got is at least as long as ref.
func Energies(ref, got []float32) (sig, noise float64, counted int) {
	for i, r := range ref {
		rf := float64(r)
		if math.IsNaN(rf) || math.IsInf(rf, 0) {
			continue
		}
		counted++
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			noise = math.Inf(1)
			continue
		}
		d := g - rf
		sig += rf * rf
		noise += d * d
	}
	return sig, noise, counted
}
