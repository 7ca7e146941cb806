// Fast float32 math for the elementwise and activation kernels: exp (and
// what is built on it: sigmoid) evaluated in float64 with a short
// polynomial, accurate to within one float32 ulp and several times faster
// than math.Exp. The loops keep their bodies free of calls (a call per
// element costs more than the arithmetic) and of data-dependent branches.
package runtime

import "math"

// expPoly is e^v for v in [-104, 89] (float32's range and a little
// beyond), with float32 accuracy: v = k·ln2 + r with |r| <= ln2/2, e^r from
// its degree-7 Taylor polynomial (relative error < 1e-8), and 2^k applied
// exactly in float64 so that subnormal float32 results round only once.
func expPoly(v float64) float64 {
	const round = 0x1.8p52 // adding it rounds to an integer
	k := v*math.Log2E + round
	k -= round
	r := v - k*math.Ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

// expf returns e^x rounded to float32 (+Inf above float32's range, 0
// below it, NaN for NaN).
func expf(x float32) float32 {
	v := float64(x)
	if v > 89 {
		v = 89 // e^89 overflows float32: +Inf
	}
	if v < -104 {
		v = -104 // e^-104 is below half the smallest subnormal: 0
	}
	return float32(expPoly(v))
}

// expF32Loop computes e^x of each element (as expf).
func expF32Loop(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		v := float64(x)
		if v > 89 {
			v = 89
		}
		if v < -104 {
			v = -104
		}
		dst[i] = float32(expPoly(v))
	}
}

// sigmoidF32Loop computes 1/(1+e^-x) of each element. With e = e^-|x|
// (never overflowing) the result is 1/(1+e) for x >= 0 and e/(1+e)
// otherwise, picked by the sign bit without a branch.
func sigmoidF32Loop(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		v := float64(x)
		a := math.Abs(v)
		if a > 104 {
			a = 104 // the result is then 1, or below float32's range
		}
		e := expPoly(-a)
		r := 1 / (1 + e)
		t := e * r
		neg := uint64(int64(math.Float64bits(v)) >> 63)
		dst[i] = float32(math.Float64frombits(math.Float64bits(r)&^neg | math.Float64bits(t)&neg))
	}
}
