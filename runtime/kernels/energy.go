// energy.go holds the sums that compare a tensor with its reference:
// Σref² and Σ(got−ref)², with got given as float32 values or as 8-bit
// codes dequantized as DequantizeLinear does, and the count of reference
// values outside a range. The sums go to eight float64 lanes (element i
// to lane i mod 8), each lane in element order, so the vector loops and
// their Go twins give the same bits.

package kernels

// Energies are the lane sums of the energy kernels: Sig[k] and Noise[k]
// hold the elements i with i mod 8 = k, added in order.
type Energies struct {
	Sig, Noise [8]float64
	// Outside counts the reference values below Lo or above Hi (NaN
	// counts as inside).
	Outside int64
}

// Totals reduces the lanes in a fixed order.
func (e *Energies) Totals() (sig, noise float64) {
	r := func(l *[8]float64) float64 {
		return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
	}
	return r(&e.Sig), r(&e.Noise)
}

// CodeEnergies adds, for the reference values ref and the 8-bit codes of
// the same tensor (int8 when signed), ref² to Sig and (dq−ref)² to Noise,
// with dq = float32(code−zp)·scale and the difference in float32, and
// counts the ref outside [lo, hi]:
//
//	for i, x := range ref {
//		dq := float32(code(codes[i])-zp) * scale
//		d := dq - x
//		e.Sig[i%8] += float64(x) * float64(x)
//		e.Noise[i%8] += float64(d) * float64(d)
//		if x < lo || x > hi {
//			e.Outside++
//		}
//	}
//
// len(codes) must be at least len(ref). The lanes continue from e: call
// it on consecutive pieces whose lengths are multiples of 8 to sum a
// longer run.
func CodeEnergies(e *Energies, ref []float32, codes []byte, signed bool, zp int32, scale, lo, hi float32) {
	codes = codes[:len(ref)]
	n := 0
	if energyAVX2 {
		n = len(ref) &^ 7
		if n > 0 {
			e.Outside += int64(codeEnergiesAVX2(&ref[0], &codes[0], n, signed, zp, scale, lo, hi, e))
		}
	}
	codeEnergiesGo(e, ref[n:], codes[n:], n, signed, zp, scale, lo, hi)
}

// codeEnergiesGo is CodeEnergies from element offset off of the run.
func codeEnergiesGo(e *Energies, ref []float32, codes []byte, off int, signed bool, zp int32, scale, lo, hi float32) {
	for i, x := range ref {
		c := int32(codes[i])
		if signed {
			c = int32(int8(codes[i]))
		}
		d := float32(c-zp)*scale - x
		k := (off + i) % 8
		e.Sig[k] += float64(x) * float64(x)
		e.Noise[k] += float64(d) * float64(d)
		if x < lo || x > hi {
			e.Outside++
		}
	}
}

// FloatEnergies adds ref² to Sig and (got−ref)² to Noise, the difference
// in float32:
//
//	for i, x := range ref {
//		d := got[i] - x
//		e.Sig[i%8] += float64(x) * float64(x)
//		e.Noise[i%8] += float64(d) * float64(d)
//	}
//
// len(got) must be at least len(ref); lanes continue as in CodeEnergies.
func FloatEnergies(e *Energies, got, ref []float32) {
	got = got[:len(ref)]
	n := 0
	if energyAVX2 {
		n = len(ref) &^ 7
		if n > 0 {
			floatEnergiesAVX2(&got[0], &ref[0], n, e)
		}
	}
	floatEnergiesGo(e, got[n:], ref[n:], n)
}

func floatEnergiesGo(e *Energies, got, ref []float32, off int) {
	for i, x := range ref {
		d := got[i] - x
		k := (off + i) % 8
		e.Sig[k] += float64(x) * float64(x)
		e.Noise[k] += float64(d) * float64(d)
	}
}
