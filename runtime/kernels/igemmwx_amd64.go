//go:build amd64 && !noasm

// This file selects the amd64 channel-major INT8 kernels.

package kernels

import "golang.org/x/sys/cpu"

func activeWX() func(kq int, w []int8, ldw int, x []byte, c []int32, ldc int) {
	if VNNISelected() {
		return igemmWXVNNI
	}
	return igemmWXGo
}

func igemmWXVNNI(kq int, w []int8, ldw int, x []byte, c []int32, ldc int) {
	_ = w[7*ldw+4*kq-1]
	_ = x[kq*4*WXPanel-1]
	_ = c[7*ldc+WXPanel-1]
	igemmWX8x32VNNI(kq, &w[0], ldw, &x[0], &c[0], ldc)
}

// igemmWX8x32VNNI computes one 8×32 tile of C (row stride ldc) with
// VPDPBUSD: row i of the weights (int8, row stride ldw, 4·kq values)
// times a panel of packed activations (kq groups of 32 columns × 4 uint8),
// the loop of igemmWXGo. kq must be at least 1.
//
//go:noescape
func igemmWX8x32VNNI(kq int, w *int8, ldw int, x *byte, c *int32, ldc int)

// packQuadsAVX2 interleaves panels panels of 32 columns of four byte rows
// (xored with x): the loop of packQuadsGo.
//
//go:noescape
func packQuadsAVX2(dst *byte, stride int, r0, r1, r2, r3 *byte, panels int, x byte)

func packQuads(dst []byte, stride int, r0, r1, r2, r3 []byte, panels int, x byte) {
	if !cpu.X86.HasAVX2 {
		packQuadsGo(dst, stride, r0, r1, r2, r3, panels, x)
		return
	}
	n := panels * WXPanel
	_ = dst[(panels-1)*stride+4*WXPanel-1]
	_, _, _, _ = r0[n-1], r1[n-1], r2[n-1], r3[n-1]
	packQuadsAVX2(&dst[0], stride, &r0[0], &r1[0], &r2[0], &r3[0], panels, x)
}

func igemmWXQ(pw *PackedW8, n int, xq []byte, out []byte, ldo int, rq []Requant, hardSwish bool, yScale float32) bool {
	if !VNNISelected() {
		return false
	}
	kq := pw.Kp / 4
	panels := (n + WXPanel - 1) / WXPanel
	for p := range panels {
		x := xq[p*kq*4*WXPanel:][:kq*4*WXPanel]
		cols := min(WXPanel, n-p*WXPanel)
		mask := uint32(1)<<cols - 1
		if cols == 32 {
			mask = ^uint32(0)
		}
		for i := 0; i < pw.M; i += wxRows {
			igemmWXQ8x32VNNI(kq, &pw.W[i*pw.Kp], pw.Kp, &x[0], &out[i*ldo+p*WXPanel], ldo, &rq[i], min(wxRows, pw.M-i), mask, yScale, hardSwish)
		}
	}
	return true
}

// igemmWXQ8x32VNNI is igemmWX8x32VNNI with the requantization of
// requantizeAVX512 (or, with hardSwish, of hardSwishRequantizeAVX512 with
// row i's Requant holding the value's scale and yScale the output's)
// applied to its first rows rows (row i by rq[i]) and their bytes stored
// at out + i·ldo under the column mask (bit j for column j).
//
//go:noescape
func igemmWXQ8x32VNNI(kq int, w *int8, ldw int, x *byte, out *byte, ldo int, rq *Requant, rows int, mask uint32, yScale float32, hardSwish bool)

func igemmTapsQ(pw *PackedW8, n int, xq []byte, base int, taps []int, q, quadStride int, out []byte, ldo int, rq []Requant) bool {
	if !VNNISelected() {
		return false
	}
	panels := (n + WXPanel - 1) / WXPanel
	for p := range panels {
		cols := min(WXPanel, n-p*WXPanel)
		mask := uint32(1)<<cols - 1
		if cols == 32 {
			mask = ^uint32(0)
		}
		x := &xq[base+4*p*WXPanel]
		for i := 0; i < pw.M; i += wxRows {
			igemmTapsQ8x32VNNI(len(taps), q, &pw.W[i*pw.Kp], pw.Kp, x, &taps[0], quadStride, &out[i*ldo+p*WXPanel], ldo, &rq[i], min(wxRows, pw.M-i), mask)
		}
	}
	return true
}

// igemmTapsQ8x32VNNI is igemmWXQ8x32VNNI with the activations of each
// depth group read at x + taps[t] + q·quadStride (tap t, channel quad q)
// instead of one packed panel.
//
//go:noescape
func igemmTapsQ8x32VNNI(ntaps, q int, w *int8, ldw int, x *byte, taps *int, quadStride int, out *byte, ldo int, rq *Requant, rows int, mask uint32)
