// This file holds the channel-major INT8 GEMM: int8 weights (rows, one
// per output channel) times uint8 activations packed four depth steps per
// column, giving C with one row per output channel, the layout of NCHW.

package kernels

import "fmt"

// WXPanel is the number of columns of one panel of packed activations
// (PackQuads) and of one microkernel tile of IgemmWX.
const WXPanel = 32

// wxRows is the number of weight rows of one IgemmWX microkernel tile.
const wxRows = 8

// PackedW8 holds int8 weights for IgemmWX: M rows of K values, stored with
// the rows padded with zero rows to a multiple of 8 and the depth padded
// with zeros to a multiple of 4 (Kp), plus each row's sum.
type PackedW8 struct {
	M, K, Kp int
	W        []int8  // ceil(M/8)·8 rows of Kp values
	RowSums  []int32 // Σ_k W[i,k], M values
}

// Rows is the number of rows of C that IgemmWX writes: M rounded up to a
// multiple of 8.
func (pw *PackedW8) Rows() int { return (pw.M + wxRows - 1) / wxRows * wxRows }

// PackW8 copies the m×k row-major int8 matrix w (row stride ldw) into the
// padded layout IgemmWX reads.
func PackW8(m, k int, w []int8, ldw int) *PackedW8 {
	if m < 1 || k < 1 || ldw < k || len(w) < (m-1)*ldw+k {
		panic(fmt.Sprintf("kernels: PackW8(%d, %d) of %d values, stride %d", m, k, len(w), ldw))
	}
	pw := &PackedW8{M: m, K: k, Kp: (k + 3) / 4 * 4, RowSums: make([]int32, m)}
	pw.W = make([]int8, pw.Rows()*pw.Kp)
	for i := range m {
		row := pw.W[i*pw.Kp:][:k]
		copy(row, w[i*ldw:][:k])
		for _, v := range row {
			pw.RowSums[i] += int32(v)
		}
	}
	return pw
}

// QuadsLen is the size in bytes of a buffer of packed activations for a
// depth of kp (a multiple of 4) and n columns.
func QuadsLen(kp, n int) int { return (n + WXPanel - 1) / WXPanel * WXPanel * kp }

// PackQuads writes depth steps 4q…4q+3 (rows r0…r3, n columns each) into
// dst, the packed activations of a depth of kp steps: column p of panel
// p/32 holds its four bytes at dst[((p/32)·kp/4 + q)·128 + 4·(p%32) + j],
// each byte xored with 0x80 when flip is set (int8 activations read as
// unsigned plus 128). Columns from n up to the end of the last panel are
// set to 0.
func PackQuads(dst []byte, kp, q int, r0, r1, r2, r3 []byte, n int, flip bool) {
	kq := kp / 4
	panels := (n + WXPanel - 1) / WXPanel
	if kp%4 != 0 || q < 0 || q >= kq || len(dst) < QuadsLen(kp, n) || len(r0) < n || len(r1) < n || len(r2) < n || len(r3) < n {
		panic(fmt.Sprintf("kernels: PackQuads of %d columns, depth %d, quad %d, into %d bytes", n, kp, q, len(dst)))
	}
	var x byte
	if flip {
		x = 0x80
	}
	full := n / WXPanel
	if full > 0 {
		packQuads(dst[q*4*WXPanel:], kq*4*WXPanel, r0, r1, r2, r3, full, x)
	}
	if full == panels {
		return
	}
	out := dst[(full*kq+q)*4*WXPanel:][:4*WXPanel]
	clear(out)
	for p := full * WXPanel; p < n; p++ {
		o := out[4*(p%WXPanel):]
		o[0], o[1], o[2], o[3] = r0[p]^x, r1[p]^x, r2[p]^x, r3[p]^x
	}
}

// packQuadsGo interleaves panels full panels of 32 columns: panel i goes
// to dst[i·stride:], column p's bytes at 4p…4p+3.
func packQuadsGo(dst []byte, stride int, r0, r1, r2, r3 []byte, panels int, x byte) {
	for i := range panels {
		out := dst[i*stride:][:4*WXPanel]
		s := i * WXPanel
		for p := range WXPanel {
			o := out[4*p : 4*p+4]
			o[0], o[1], o[2], o[3] = r0[s+p]^x, r1[s+p]^x, r2[s+p]^x, r3[s+p]^x
		}
	}
}

// IgemmWX computes C = W·X in int32 for the packed weights pw and
// activations xq packed by PackQuads over a depth of pw.Kp and n columns:
// c[i*ldc + p] = Σ_k W[i,k]·X[k,p] for i < pw.Rows() (rows past pw.M are
// 0) and p < n rounded up to a multiple of 32 (the padding columns hold
// whatever PackQuads put there). Sums wrap around modulo 2³²; they are
// exact for K ≤ 65793.
func IgemmWX(pw *PackedW8, n int, xq []byte, c []int32, ldc int) {
	panels := (n + WXPanel - 1) / WXPanel
	rows := pw.Rows()
	if n < 1 || ldc < panels*WXPanel || len(xq) < QuadsLen(pw.Kp, n) || len(c) < (rows-1)*ldc+panels*WXPanel {
		panic(fmt.Sprintf("kernels: IgemmWX of %d×%d, %d columns, into %d values (stride %d)", pw.M, pw.K, n, len(c), ldc))
	}
	kq := pw.Kp / 4
	kern := activeWX()
	// Each panel of X (kq·128 bytes) stays in L1 while every block of
	// eight weight rows passes over it.
	for p := range panels {
		x := xq[p*kq*4*WXPanel:][:kq*4*WXPanel]
		for i := 0; i < rows; i += wxRows {
			kern(kq, pw.W[i*pw.Kp:], pw.Kp, x, c[i*ldc+p*WXPanel:], ldc)
		}
	}
}

// igemmWXGo computes one 8×32 tile: c[i*ldc+j] = Σ_q Σ_r w[i*ldw+4q+r]·x[(q*32+j)*4+r].
func igemmWXGo(kq int, w []int8, ldw int, x []byte, c []int32, ldc int) {
	for i := range wxRows {
		wr := w[i*ldw:][:4*kq]
		var acc [WXPanel]int32
		for q := range kq {
			w0, w1, w2, w3 := int32(wr[4*q]), int32(wr[4*q+1]), int32(wr[4*q+2]), int32(wr[4*q+3])
			xs := x[q*4*WXPanel:][:4*WXPanel]
			for j := range acc {
				acc[j] += w0*int32(xs[4*j]) + w1*int32(xs[4*j+1]) + w2*int32(xs[4*j+2]) + w3*int32(xs[4*j+3])
			}
		}
		copy(c[i*ldc:][:WXPanel], acc[:])
	}
}

// WXPreferred reports whether IgemmWX is the better INT8 GEMM with the
// microkernel now selected (UseIgemmKernel): it runs as VPDPBUSD assembly
// with vnni and vnni16, and as plain Go loops like Igemm's with go; the
// avx2 microkernel has no channel-major twin, so Igemm is faster there.
func WXPreferred() bool { return activeI8.name != "avx2" }

// IgemmWXQ is IgemmWX followed by the requantization of row i < pw.M by
// rq[i] (Requantize's parameters and conditions): it writes the bytes
// out[i*ldo + p] for i < pw.M and p < n, and nothing else. The int32 sums
// never leave the registers when the microkernel has a fused epilogue.
func IgemmWXQ(pw *PackedW8, n int, xq []byte, out []byte, ldo int, rq []Requant) {
	igemmWXQAny(pw, n, xq, out, ldo, rq, false, 0)
}

// IgemmWXH is IgemmWXQ with HardSwishRequantize's epilogue: rq[i].Scale
// is row i's value scale and yScale the output's.
func IgemmWXH(pw *PackedW8, n int, xq []byte, out []byte, ldo int, rq []Requant, yScale float32) {
	igemmWXQAny(pw, n, xq, out, ldo, rq, true, yScale)
}

func igemmWXQAny(pw *PackedW8, n int, xq []byte, out []byte, ldo int, rq []Requant, hardSwish bool, yScale float32) {
	panels := (n + WXPanel - 1) / WXPanel
	if n < 1 || ldo < n || len(xq) < QuadsLen(pw.Kp, n) || len(out) < (pw.M-1)*ldo+n || len(rq) < pw.M {
		panic(fmt.Sprintf("kernels: IgemmWXQ of %d×%d, %d columns, into %d bytes (stride %d)", pw.M, pw.K, n, len(out), ldo))
	}
	kq := pw.Kp / 4
	if igemmWXQ(pw, n, xq, out, ldo, rq, hardSwish, yScale) {
		return
	}
	kern := activeWX()
	var tile [wxRows * WXPanel]int32
	for p := range panels {
		x := xq[p*kq*4*WXPanel:][:kq*4*WXPanel]
		cols := min(WXPanel, n-p*WXPanel)
		for i := 0; i < pw.M; i += wxRows {
			kern(kq, pw.W[i*pw.Kp:], pw.Kp, x, tile[:], WXPanel)
			for r := i; r < min(pw.M, i+wxRows); r++ {
				q := &rq[r]
				if hardSwish {
					hardSwishRequantizeGo(out[r*ldo+p*WXPanel:][:cols], tile[(r-i)*WXPanel:], q.Add, q.Scale, yScale, q.Lo, q.Hi, q.ZP)
					continue
				}
				requantizeGo(out[r*ldo+p*WXPanel:][:cols], tile[(r-i)*WXPanel:], q.Add, q.Scale, q.Lo, q.Hi, q.ZP)
			}
		}
	}
}

// IgemmTapsQ is the convolution form of IgemmWXQ that reads each window
// tap as a shifted run of the same packed activations instead of an
// im2col copy. xq holds, for each of a group of planes, four channels
// per position: byte j of position p of channel quad q of a plane is at
// 4p + j of that quad's run (quadStride bytes apart; PackQuads with
// panels laid end to end writes this). The depth of pw is taps × Q × 4
// (Q = pw.Kp/(4·len(taps))), ordered tap, quad, channel; tap t reads
// the quads from byte taps[t]. For p < n and row i < pw.M it writes
//
//	out[i*ldo + p] = requantize(Σ_t Σ_q Σ_j W[i, (t·Q+q)·4+j] · xq[base + taps[t] + q·quadStride + 4p + j], rq[i])
//
// and nothing else. xq must hold every byte read for n rounded up to 32
// columns.
func IgemmTapsQ(pw *PackedW8, n int, xq []byte, base int, taps []int, quadStride int, out []byte, ldo int, rq []Requant) {
	if len(taps) == 0 || pw.Kp%(4*len(taps)) != 0 {
		panic(fmt.Sprintf("kernels: IgemmTapsQ of depth %d over %d taps", pw.Kp, len(taps)))
	}
	q := pw.Kp / (4 * len(taps))
	reach := base + (q-1)*quadStride + 4*((n+WXPanel-1)/WXPanel*WXPanel)
	for _, t := range taps {
		if t < 0 || base+t < 0 || reach+t > len(xq) {
			panic(fmt.Sprintf("kernels: IgemmTapsQ reads past its %d bytes", len(xq)))
		}
	}
	if n < 1 || ldo < n || len(out) < (pw.M-1)*ldo+n || len(rq) < pw.M {
		panic(fmt.Sprintf("kernels: IgemmTapsQ of %d×%d, %d columns, into %d bytes (stride %d)", pw.M, pw.K, n, len(out), ldo))
	}
	if igemmTapsQ(pw, n, xq, base, taps, q, quadStride, out, ldo, rq) {
		return
	}
	var tile [wxRows * WXPanel]int32
	for p0 := 0; p0 < n; p0 += WXPanel {
		cols := min(WXPanel, n-p0)
		for i := 0; i < pw.M; i += wxRows {
			clear(tile[:])
			for r := range wxRows {
				w := pw.W[(i+r)*pw.Kp:][:pw.Kp]
				for t, off := range taps {
					for qq := range q {
						src := xq[base+off+qq*quadStride+4*p0:]
						wk := w[(t*q+qq)*4:][:4]
						for c := range cols {
							s := src[4*c:][:4]
							tile[r*WXPanel+c] += int32(wk[0])*int32(s[0]) + int32(wk[1])*int32(s[1]) + int32(wk[2])*int32(s[2]) + int32(wk[3])*int32(s[3])
						}
					}
				}
			}
			for r := i; r < min(pw.M, i+wxRows); r++ {
				k := &rq[r]
				requantizeGo(out[r*ldo+p0:][:cols], tile[(r-i)*WXPanel:], k.Add, k.Scale, k.Lo, k.Hi, k.ZP)
			}
		}
	}
}
