//go:build !amd64 || noasm

// This file selects the portable channel-major INT8 kernels where no
// assembly runs.

package kernels

func activeWX() func(kq int, w []int8, ldw int, x []byte, c []int32, ldc int) {
	return igemmWXGo
}

func packQuads(dst []byte, stride int, r0, r1, r2, r3 []byte, panels int, x byte) {
	packQuadsGo(dst, stride, r0, r1, r2, r3, panels, x)
}

func igemmWXQ(pw *PackedW8, n int, xq []byte, out []byte, ldo int, rq []Requant, hardSwish bool, yScale float32) bool {
	return false
}

func igemmTapsQ(pw *PackedW8, n int, xq []byte, base int, taps []int, q, quadStride int, out []byte, ldo int, rq []Requant) bool {
	return false
}
