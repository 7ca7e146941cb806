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

// vecExp and vecSigmoid run the AVX2 loops on whole groups of 8 and on
// the tail through an 8-element buffer, so every element goes through the
// same vector instructions.
func vecExp(dst, a []float32, shift float32) {
	if !elementwiseAVX2 {
		expGo(dst, a, shift)
		return
	}
	n := len(dst) &^ 7
	if n > 0 {
		expAVX2(&dst[0], &a[0], shift, n)
	}
	if n < len(dst) {
		var in, out [8]float32
		copy(in[:], a[n:])
		expAVX2(&out[0], &in[0], shift, 8)
		copy(dst[n:], out[:])
	}
}

func vecSigmoid(dst, a []float32) {
	if !elementwiseAVX2 {
		sigmoidGo(dst, a)
		return
	}
	n := len(dst) &^ 7
	if n > 0 {
		sigmoidAVX2(&dst[0], &a[0], n)
	}
	if n < len(dst) {
		var in, out [8]float32
		copy(in[:], a[n:])
		sigmoidAVX2(&out[0], &in[0], 8)
		copy(dst[n:], out[:])
	}
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

// expAVX2 sets dst[i] = expOne(a[i]-shift) for i < n; n is a positive
// multiple of 8.
//
//go:noescape
func expAVX2(dst, a *float32, shift float32, n int)

// sigmoidAVX2 is sigmoidGo's loop for i < n; n is a positive multiple of 8.
//
//go:noescape
func sigmoidAVX2(dst, a *float32, n int)
