//go:build amd64 && !noasm

package kernels

func qLinearBinary(dst, a, b []byte, p QBinaryParams) {
	n := len(dst) &^ 15
	if !requantAVX512 || n == 0 {
		qLinearBinaryGo(dst, a, b, p)
		return
	}
	zc := float32(p.ZC)
	q := qbinaryArgs{za: p.ZA, zb: p.ZB, lo: zc + p.Lo, hi: zc + p.Hi, zc: zc}
	if p.Signed {
		q.signed = 1
	}
	if p.Mul {
		q.mul = 1
		q.r = mulRatio(p)
	} else {
		q.rA, q.rB, q.fixed = addRatios(p)
	}
	qLinearBinaryAVX512(&dst[0], &a[0], &b[0], n, &q)
	qLinearBinaryGo(dst[n:], a[n:], b[n:], p)
}

// qbinaryArgs are qLinearBinaryAVX512's parameters (offsets used by the
// assembly).
type qbinaryArgs struct {
	za, zb      int32   // 0, 4
	rA, rB      float32 // 8, 12: Add's ratios
	fixed       float32 // 16: Add's constant part
	r           float32 // 20: Mul's ratio
	lo, hi      float32 // 24, 28: the output range, zero point included
	zc          float32 // 32
	signed, mul int32   // 36, 40
}

// qLinearBinaryAVX512 is qLinearBinaryGo on n elements, n a multiple of
// 16, sixteen at a time.
//
//go:noescape
func qLinearBinaryAVX512(dst, a, b *byte, n int, p *qbinaryArgs)
