// This file holds the float32 elementwise primitives of the runtime's
// Add, Sub, Mul, Div, Relu, Clip and per-channel affine (BatchNormalization)
// kernels, with their portable loops. Each output element is one IEEE
// operation (or the fixed pair of them for Affine and Clamp) on its inputs,
// so the assembly and portable versions give bit-identical results.
// dst may be the same slice as an input, but must not overlap it otherwise.

package kernels

// AddF32 sets dst[i] = a[i] + b[i]; a and b must be at least as long as dst.
func AddF32(dst, a, b []float32) {
	if len(dst) > 0 {
		vecBinary(opAdd, dst, a[:len(dst)], b[:len(dst)])
	}
}

// SubF32 sets dst[i] = a[i] - b[i].
func SubF32(dst, a, b []float32) {
	if len(dst) > 0 {
		vecBinary(opSub, dst, a[:len(dst)], b[:len(dst)])
	}
}

// MulF32 sets dst[i] = a[i] * b[i].
func MulF32(dst, a, b []float32) {
	if len(dst) > 0 {
		vecBinary(opMul, dst, a[:len(dst)], b[:len(dst)])
	}
}

// DivF32 sets dst[i] = a[i] / b[i].
func DivF32(dst, a, b []float32) {
	if len(dst) > 0 {
		vecBinary(opDiv, dst, a[:len(dst)], b[:len(dst)])
	}
}

// AddScalarF32 sets dst[i] = a[i] + s.
func AddScalarF32(dst, a []float32, s float32) {
	if len(dst) > 0 {
		vecScalar(opAddVS, dst, a[:len(dst)], s)
	}
}

// MulScalarF32 sets dst[i] = a[i] * s.
func MulScalarF32(dst, a []float32, s float32) {
	if len(dst) > 0 {
		vecScalar(opMulVS, dst, a[:len(dst)], s)
	}
}

// DivScalarF32 sets dst[i] = a[i] / s (a division, not a multiplication by
// the reciprocal, which would round differently).
func DivScalarF32(dst, a []float32, s float32) {
	if len(dst) > 0 {
		vecScalar(opDivVS, dst, a[:len(dst)], s)
	}
}

// ScalarSubF32 sets dst[i] = s - b[i].
func ScalarSubF32(dst []float32, s float32, b []float32) {
	if len(dst) > 0 {
		vecScalar(opSubSV, dst, b[:len(dst)], s)
	}
}

// ScalarDivF32 sets dst[i] = s / b[i].
func ScalarDivF32(dst []float32, s float32, b []float32) {
	if len(dst) > 0 {
		vecScalar(opDivSV, dst, b[:len(dst)], s)
	}
}

// AffineF32 sets dst[i] = a[i]*m + c, the product rounded before the sum
// (no fused multiply-add).
func AffineF32(dst, a []float32, m, c float32) {
	if len(dst) > 0 {
		affine(dst, a[:len(dst)], m, c)
	}
}

// ClampF32 sets dst[i] = min(max(a[i], lo), hi) in the sense of the SSE
// max and min instructions: max is lo when lo > a[i] and a[i] otherwise,
// min is hi when hi < that and that otherwise. A NaN element stays NaN, and
// Relu is ClampF32(dst, a, 0, +Inf).
func ClampF32(dst, a []float32, lo, hi float32) {
	if len(dst) > 0 {
		clamp(dst, a[:len(dst)], lo, hi)
	}
}

const (
	opAdd = iota
	opSub
	opMul
	opDiv
)

const (
	opAddVS = iota
	opMulVS
	opDivVS
	opSubSV
	opDivSV
)

func vecBinaryGo(op int, dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	switch op {
	case opAdd:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case opSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case opMul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	}
}

func vecScalarGo(op int, dst, a []float32, s float32) {
	a = a[:len(dst)]
	switch op {
	case opAddVS:
		for i := range dst {
			dst[i] = a[i] + s
		}
	case opMulVS:
		for i := range dst {
			dst[i] = a[i] * s
		}
	case opDivVS:
		for i := range dst {
			dst[i] = a[i] / s
		}
	case opSubSV:
		for i := range dst {
			dst[i] = s - a[i]
		}
	case opDivSV:
		for i := range dst {
			dst[i] = s / a[i]
		}
	}
}

func affineGo(dst, a []float32, m, c float32) {
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = float32(a[i]*m) + c // the conversion keeps the product rounded
	}
}

func clampGo(dst, a []float32, lo, hi float32) {
	a = a[:len(dst)]
	for i := range dst {
		v := a[i]
		if lo > v {
			v = lo
		}
		if hi < v {
			v = hi
		}
		dst[i] = v
	}
}
