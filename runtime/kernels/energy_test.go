package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The energy kernels equal their Go loops lane for lane, for every
// length, both code types, NaN and out-of-range references, and when a
// run is summed in pieces of multiples of eight.
func TestEnergiesMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for _, n := range append([]int{0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000}, 4096+5) {
		ref := make([]float32, n)
		got := make([]float32, n)
		codes := make([]byte, n)
		for i := range ref {
			ref[i] = float32(rng.NormFloat64() * 3)
			got[i] = ref[i] + float32(rng.NormFloat64()*0.01)
			codes[i] = byte(rng.IntN(256))
			switch rng.IntN(50) {
			case 0:
				ref[i] = float32(math.NaN())
			case 1:
				ref[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
			}
		}
		for _, signed := range []bool{false, true} {
			zp := int32(rng.IntN(256))
			if signed {
				zp -= 128
			}
			var want, gotE Energies
			codeEnergiesGo(&want, ref, codes, 0, signed, zp, 0.037, -2, 2.5)
			CodeEnergies(&gotE, ref, codes, signed, zp, 0.037, -2, 2.5)
			if !sameEnergies(want, gotE) {
				t.Fatalf("CodeEnergies n %d signed %v: %+v, want %+v", n, signed, gotE, want)
			}
			// In pieces: lanes continue.
			var pieces Energies
			for lo := 0; lo < n; lo += 24 {
				hi := min(n, lo+24)
				CodeEnergies(&pieces, ref[lo:hi], codes[lo:hi], signed, zp, 0.037, -2, 2.5)
			}
			if !sameEnergies(want, pieces) {
				t.Fatalf("CodeEnergies n %d in pieces of 24: %+v, want %+v", n, pieces, want)
			}
		}
		var want, gotE Energies
		floatEnergiesGo(&want, got, ref, 0)
		FloatEnergies(&gotE, got, ref)
		if !sameEnergies(want, gotE) {
			t.Fatalf("FloatEnergies n %d: %+v, want %+v", n, gotE, want)
		}
	}
}

// A hand-checked case: the totals are the sums the doc comment defines.
func TestCodeEnergiesValues(t *testing.T) {
	ref := []float32{0.5, -1, 3, 0}
	codes := []byte{138, 118, 255, 128} // zp 128, scale 0.05: 0.5, -0.5, 6.35, 0
	var e Energies
	CodeEnergies(&e, ref, codes, false, 128, 0.05, -1, 2)
	sig, noise := e.Totals()
	wantNoise := 0.0
	for i, x := range ref {
		d := float32(int32(codes[i])-128)*0.05 - x
		wantNoise += float64(d) * float64(d)
	}
	if sig != 0.25+1+9 || math.Abs(noise-wantNoise) > 1e-12 || e.Outside != 1 {
		t.Errorf("sig %v noise %v (want %v) outside %d", sig, noise, wantNoise, e.Outside)
	}
}

func sameEnergies(a, b Energies) bool {
	for k := range 8 {
		if math.Float64bits(a.Sig[k]) != math.Float64bits(b.Sig[k]) || math.Float64bits(a.Noise[k]) != math.Float64bits(b.Noise[k]) {
			if !(math.IsNaN(a.Sig[k]) && math.IsNaN(b.Sig[k])) && !(math.IsNaN(a.Noise[k]) && math.IsNaN(b.Noise[k])) {
				return false
			}
		}
	}
	return a.Outside == b.Outside
}
