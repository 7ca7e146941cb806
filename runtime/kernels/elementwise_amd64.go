//go:build amd64 && !noasm

// This file selects the AVX2 elementwise loops when the CPU has them.

package kernels

var elementwiseAVX2 = hasAVX2()

func vecBinary(op int, dst, a, b []float32) {
	if !elementwiseAVX2 {
		vecBinaryGo(op, dst, a, b)
		return
	}
	switch op {
	case opAdd:
		addVVAVX2(&dst[0], &a[0], &b[0], len(dst))
	case opSub:
		subVVAVX2(&dst[0], &a[0], &b[0], len(dst))
	case opMul:
		mulVVAVX2(&dst[0], &a[0], &b[0], len(dst))
	case opDiv:
		divVVAVX2(&dst[0], &a[0], &b[0], len(dst))
	}
}

func vecScalar(op int, dst, a []float32, s float32) {
	if !elementwiseAVX2 {
		vecScalarGo(op, dst, a, s)
		return
	}
	switch op {
	case opAddVS:
		addVSAVX2(&dst[0], &a[0], s, len(dst))
	case opMulVS:
		mulVSAVX2(&dst[0], &a[0], s, len(dst))
	case opDivVS:
		divVSAVX2(&dst[0], &a[0], s, len(dst))
	case opSubSV:
		subSVAVX2(&dst[0], &a[0], s, len(dst))
	case opDivSV:
		divSVAVX2(&dst[0], &a[0], s, len(dst))
	}
}

func affine(dst, a []float32, m, c float32) {
	if !elementwiseAVX2 {
		affineGo(dst, a, m, c)
		return
	}
	affineAVX2(&dst[0], &a[0], m, c, len(dst))
}

func clamp(dst, a []float32, lo, hi float32) {
	if !elementwiseAVX2 {
		clampGo(dst, a, lo, hi)
		return
	}
	clampAVX2(&dst[0], &a[0], lo, hi, len(dst))
}

// The AVX2 loops compute, for i < n (n >= 1), what the Go twins in
// elementwise.go compute:
//
//	addVVAVX2: dst[i] = a[i] + b[i]    addVSAVX2: dst[i] = a[i] + s
//	subVVAVX2: dst[i] = a[i] - b[i]    mulVSAVX2: dst[i] = a[i] * s
//	mulVVAVX2: dst[i] = a[i] * b[i]    divVSAVX2: dst[i] = a[i] / s
//	divVVAVX2: dst[i] = a[i] / b[i]    subSVAVX2: dst[i] = s - a[i]
//	                                   divSVAVX2: dst[i] = s / a[i]
//	affineAVX2: dst[i] = float32(a[i]*m) + c
//	clampAVX2:  v := a[i]; if lo > v { v = lo }; if hi < v { v = hi }; dst[i] = v

//go:noescape
func addVVAVX2(dst, a, b *float32, n int)

//go:noescape
func subVVAVX2(dst, a, b *float32, n int)

//go:noescape
func mulVVAVX2(dst, a, b *float32, n int)

//go:noescape
func divVVAVX2(dst, a, b *float32, n int)

//go:noescape
func addVSAVX2(dst, a *float32, s float32, n int)

//go:noescape
func mulVSAVX2(dst, a *float32, s float32, n int)

//go:noescape
func divVSAVX2(dst, a *float32, s float32, n int)

//go:noescape
func subSVAVX2(dst, a *float32, s float32, n int)

//go:noescape
func divSVAVX2(dst, a *float32, s float32, n int)

//go:noescape
func affineAVX2(dst, a *float32, m, c float32, n int)

//go:noescape
func clampAVX2(dst, a *float32, lo, hi float32, n int)
