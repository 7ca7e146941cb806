// quant_fixed.go holds the fixed-point requantizer, an option of the
// QLinear kernels for integer-only targets: the float scale M = s_x·s_w/s_y
// becomes an int32 multiplier m0 in [2^30, 2^31) and a power-of-two
// exponent e with M ≈ m0·2^(e−31), and a sum s becomes
//
//	y = saturate(zp + roundingShift(roundingHighMul(s·2^max(e,0), m0), max(−e,0)))
//
// where roundingHighMul(a, b) is a·b/2^31 rounded to nearest with ties
// up (saturating the one overflowing case a = b = −2^31) and
// roundingShift(x, n) is x/2^n rounded half away from zero: the
// arithmetic of integer-only inference (gemmlowp, TensorFlow Lite). Results may differ by one step
// from the float requantizer that ONNX Runtime uses (and the default, with
// which golden outputs are recorded).

package runtime

import (
	"fmt"
	"math"
)

// Requantizer selects how the QLinear kernels turn int32 sums into 8-bit
// outputs.
type Requantizer int

const (
	// RequantizeFloat computes float32(sum)·scale rounded half to even,
	// as ONNX Runtime does: the default, and the one golden files hold.
	RequantizeFloat Requantizer = iota
	// RequantizeFixedPoint uses an int32 multiplier and a shift per
	// scale (quant_fixed.go).
	RequantizeFixedPoint
)

// String names r as the command line does: "float" or "fixed".
func (r Requantizer) String() string {
	if r == RequantizeFixedPoint {
		return "fixed"
	}
	return "float"
}

// ParseRequantizer reads "float" or "fixed".
func ParseRequantizer(s string) (Requantizer, error) {
	switch s {
	case "float":
		return RequantizeFloat, nil
	case "fixed":
		return RequantizeFixedPoint, nil
	}
	return 0, fmt.Errorf("requantizer %q: want float or fixed", s)
}

// fixedMultiplier is a scale as m0·2^(exp−31).
type fixedMultiplier struct {
	m0  int32
	exp int
}

// newFixedMultiplier converts a positive finite scale; 0 gives the zero
// multiplier. Scales below 2^-62 round to zero, and exponents are capped
// at 30 (a scale of 2^30 or more saturates every nonzero sum).
func newFixedMultiplier(scale float32) (fixedMultiplier, error) {
	s := float64(scale)
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return fixedMultiplier{}, fmt.Errorf("fixed-point requantization needs a finite scale ≥ 0, got %g", scale)
	}
	if s == 0 {
		return fixedMultiplier{}, nil
	}
	frac, exp := math.Frexp(s) // s = frac·2^exp, frac in [0.5, 1)
	m := math.Round(frac * (1 << 31))
	if m == 1<<31 {
		m /= 2
		exp++
	}
	if exp < -62 {
		return fixedMultiplier{}, nil
	}
	return fixedMultiplier{m0: int32(m), exp: min(exp, 30)}, nil
}

// roundingHighMul is a·b/2^31 rounded to nearest, ties up (the nudge of
// ±2^30 and a division that truncates); the one overflowing product,
// (−2^31)², saturates.
func roundingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31))
}

// roundingShift is x/2^n rounded half away from zero.
func roundingShift(x int32, n int) int32 {
	if n <= 0 {
		return x
	}
	if n > 31 {
		n = 31
	}
	mask := int32(1)<<n - 1
	if n == 31 {
		mask = math.MaxInt32
	}
	rem := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> n
	if rem > threshold {
		r++
	}
	return r
}

// apply requantizes one sum: zp plus the scaled sum, saturated to [lo, hi].
func (f fixedMultiplier) apply(acc int32, zp, lo, hi int64) int64 {
	if f.m0 == 0 {
		return min(max(zp, lo), hi)
	}
	x := int64(acc)
	if f.exp > 0 {
		x <<= f.exp
		x = min(max(x, math.MinInt32), math.MaxInt32) // the pre-shift saturates
	}
	v := int64(roundingShift(roundingHighMul(int32(x), f.m0), -f.exp)) + zp
	return min(max(v, lo), hi)
}

// fixedMultipliers converts each scale.
func fixedMultipliers(scales []float32) ([]fixedMultiplier, error) {
	out := make([]fixedMultiplier, len(scales))
	for i, s := range scales {
		f, err := newFixedMultiplier(s)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}
