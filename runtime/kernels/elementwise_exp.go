// This file holds ExpF32 and SigmoidF32, the vector exponential behind the
// runtime's Exp, Sigmoid and Softmax kernels, with their portable loops.
// Both evaluate in float32 with every operation rounded (no fused
// multiply-add), so the AVX2 loops equal the Go ones bit for bit:
//
//	x is clamped to [-104, 89] (e^x is 0 below and +Inf above in float32)
//	k = round(x·log2 e) (to nearest, through adding and subtracting 1.5·2^23)
//	r = (x - k·ln2hi) - k·ln2lo, |r| <= ln2/2 (Cody and Waite's split of ln 2)
//	p = e^r from its degree-7 Taylor polynomial by Horner's rule
//	e^x = (p·2^k1)·2^k2 with k1 = k>>1 and k2 = k-k1, so subnormal results
//	round once.
//
// The result is within 2 ulp of e^x for normal results. NaN stays NaN.

package kernels

import "math"

// ExpF32 sets dst[i] = e^(a[i]-shift); a must be at least as long as dst.
// Softmax passes the row maximum as shift.
func ExpF32(dst, a []float32, shift float32) {
	if len(dst) > 0 {
		vecExp(dst, a[:len(dst)], shift)
	}
}

// SigmoidF32 sets dst[i] = 1/(1+e^-a[i]), computed as 1/(1+e) for
// a[i] >= 0 and e/(1+e) otherwise with e = e^-|a[i]|, so it never
// overflows.
func SigmoidF32(dst, a []float32) {
	if len(dst) > 0 {
		vecSigmoid(dst, a[:len(dst)])
	}
}

const (
	expLo    = float32(-104)
	expHi    = float32(89)
	expLog2E = float32(math.Log2E)
	expMagic = float32(12582912) // 1.5·2^23: adding it rounds to an integer
	expLn2Hi = float32(0.693359375)
	expLn2Lo = float32(-2.12194440e-4)
)

// expOne is the scalar e^x of the file comment.
func expOne(x float32) float32 {
	if expLo > x {
		x = expLo
	}
	if expHi < x {
		x = expHi
	}
	k := float32(x*expLog2E) + expMagic
	k -= expMagic
	r := x - float32(k*expLn2Hi)
	r -= float32(k * expLn2Lo)
	p := float32(1.0 / 5040)
	p = float32(p*r) + float32(1.0/720)
	p = float32(p*r) + float32(1.0/120)
	p = float32(p*r) + float32(1.0/24)
	p = float32(p*r) + float32(1.0/6)
	p = float32(p*r) + 0.5
	p = float32(p*r) + 1
	p = float32(p*r) + 1
	ki := int32(k)
	k1 := ki >> 1
	k2 := ki - k1
	s1 := math.Float32frombits(uint32(k1+127) << 23)
	s2 := math.Float32frombits(uint32(k2+127) << 23)
	return float32(p*s1) * s2
}

func expGo(dst, a []float32, shift float32) {
	a = a[:len(dst)]
	for i, v := range a {
		dst[i] = expOne(v - shift)
	}
}

func sigmoidGo(dst, a []float32) {
	a = a[:len(dst)]
	for i, x := range a {
		e := expOne(math.Float32frombits(math.Float32bits(x) | 1<<31))
		r := 1 / (e + 1)
		t := e * r
		if math.Float32bits(x)>>31 != 0 {
			r = t
		}
		dst[i] = r
	}
}
