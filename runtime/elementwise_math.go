// Fast float32 math for the elementwise and activation kernels: exp (and
// what is built on it: sigmoid) evaluated in float64 with a short
// polynomial, accurate to within one float32 ulp and several times faster
// than math.Exp.
package runtime

import "math"

// expf returns e^x rounded to float32. x = k·ln2 + r with |r| <= ln2/2;
// e^r comes from its degree-7 Taylor polynomial (relative error < 1e-8)
// and 2^k is applied exactly in float64, so subnormal results round once.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 89:
		return float32(math.Inf(1))
	case x < -104:
		return 0
	}
	return float32(expPoly(float64(x)))
}

// expPoly is e^v for v in [-104, 89] (float32's range), with float32
// accuracy.
func expPoly(v float64) float64 {
	const round = 0x1.8p52 // adding it rounds to an integer
	k := v*math.Log2E + round
	k -= round
	r := v - k*math.Ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

// expF32Loop computes e^x of each element.
func expF32Loop(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = expf(src[i])
	}
}

// sigmoidf is 1/(1+e^-x), written so that neither branch overflows.
func sigmoidf(x float32) float32 {
	if x != x {
		return x
	}
	v := float64(x)
	if v >= 0 {
		if v > 40 {
			return 1
		}
		return float32(1 / (1 + expPoly(-v)))
	}
	if v < -103 {
		return float32(math.Exp(v)) // tiny: e^x itself, into the subnormals
	}
	e := expPoly(v)
	return float32(e / (1 + e))
}

// sigmoidF32Loop computes the logistic sigmoid of each element.
func sigmoidF32Loop(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = sigmoidf(src[i])
	}
}
