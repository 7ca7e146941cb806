//go:build amd64 && !noasm

package kernels

func qLinearBinary(dst, a, b []byte, p QBinaryParams) {
	n := len(dst) &^ 15
	if !requantAVX512 || n == 0 {
		qLinearBinaryGo(dst, a, b, p)
		return
	}
	// int8 bytes are read as uint8 plus 128 (xored with 0x80), the zero
	// points moved with them: the differences are the same.
	q := qbinaryArgs{za: p.ZA, zb: p.ZB, sa: p.SA, sb: p.SB, sc: p.SC, lo: p.Lo, hi: p.Hi, zc: p.ZC}
	if p.Signed {
		q.flip = 0x80
		q.za += 128
		q.zb += 128
	}
	if p.Mul {
		q.mul = 1
	}
	qLinearBinaryAVX512(&dst[0], &a[0], &b[0], n, &q)
	qLinearBinaryGo(dst[n:], a[n:], b[n:], p)
}

// qbinaryArgs are qLinearBinaryAVX512's parameters (offsets used by the
// assembly).
type qbinaryArgs struct {
	za, zb     int32   // 0, 4
	sa, sb, sc float32 // 8, 12, 16
	lo, hi     float32 // 20, 24
	zc         int32   // 28
	flip       int32   // 32: 0x80 for int8 bytes
	mul        int32   // 36
}

// qLinearBinaryAVX512 is qLinearBinaryGo on n elements, n a multiple of
// 16, sixteen at a time.
//
//go:noescape
func qLinearBinaryAVX512(dst, a, b *byte, n int, p *qbinaryArgs)
