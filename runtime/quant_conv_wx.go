// quant_conv_wx.go holds the channel-major fast path of QLinearConv: the
// weights of each output channel times the activations, so the GEMM's
// result rows are output channels and the epilogue writes NCHW rows
// directly, with no transpose on either side.
//
// The input planes (minus nothing: the raw 8-bit values) are laid out
// once per call as zero-point-bordered "phase planes": for a stride s the
// padded plane is split into s×s phases (rows ≡ a, columns ≡ b mod s), so
// that every tap (i, j) of the window reads, for the output positions
// oh·Wq + ow of a grid Wq columns wide, one contiguous run of one phase
// plane starting at ((i·d)/s)·Wq + (j·d)/s. Outputs are computed for all
// Wq columns of that grid (the Wq − OW extra ones, about (k−1)/W of the
// work, are dropped). A 1×1 window with stride 1 and no padding reads the
// input planes in place. The depth steps (channel, tap) are packed four
// at a time with kernels.PackQuads and multiplied by kernels.IgemmWX.
//
// With x of int8 the bytes are read as x+128 (flipped while packing) and
// the zero point too, which leaves every Σ(x−zx)·w unchanged. Only
// symmetric weights (every zero point 0) take this path:
//
//	acc[m,p] = Σ x·w,   y[m,p] = requantize(acc[m,p] − zx·Σw[m] + b[m])
//
// equal to the reference kernel bit for bit (sums modulo 2³²).

package runtime

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// wxTileBytes bounds the packed activations of one tile (depth × columns)
// and its int32 sums (rows × columns × 4) so that both stay in L2.
const wxTileBytes = 192 << 10

// bytePool and int32Pool hold the scratch buffers of the integer
// convolutions, so that a run does not allocate and clear megabytes.
var bytePool, int32Pool sync.Pool

func scratchBytes(n int) ([]byte, func()) {
	p, ok := bytePool.Get().(*[]byte)
	if !ok || cap(*p) < n {
		s := make([]byte, n)
		p = &s
	}
	*p = (*p)[:n]
	return *p, func() { bytePool.Put(p) }
}

func scratchInt32s(n int) ([]int32, func()) {
	p, ok := int32Pool.Get().(*[]int32)
	if !ok || cap(*p) < n {
		s := make([]int32, n)
		p = &s
	}
	*p = (*p)[:n]
	return *p, func() { int32Pool.Put(p) }
}

// wxFits reports whether a goes through the channel-major path: the
// selected INT8 microkernel prefers it, the convolution is not depthwise
// (that has its own loop), every weight zero point is 0, and its phase
// planes are not much larger than the input and output planes (a huge
// stride or dilation makes them so; the other paths do not allocate by
// them).
func wxFits(a *qconvArgs) bool {
	cg, mg := a.x.Shape[1]/a.G, a.M/a.G
	if !kernels.WXPreferred() || (cg == 1 && mg == 1) {
		return false
	}
	if slices.ContainsFunc(a.zw, func(z int32) bool { return z != 0 }) {
		return false
	}
	return phasePlanesFit(a)
}

// phasePlanesFit bounds the bytes newPhaseLayout lays one input plane out
// in, computed in float64 so that no product overflows.
func phasePlanesFit(a *qconvArgs) bool {
	w := a.win
	s0, s1 := float64(w.s[0]), float64(w.s[1])
	hq := float64(w.out[0]) + float64(a.kh-1)*float64(w.d[0])/s0
	wq := float64(w.out[1]) + float64(a.kw-1)*float64(w.d[1])/s1
	size := s0 * s1 * ((hq+1)*wq + 64)
	planes := float64(w.in[0])*float64(w.in[1]) + float64(w.out[0])*float64(w.out[1])
	return size <= 4*planes+1<<16
}

// phaseLayout describes the phase planes of one convolution.
type phaseLayout struct {
	s0, s1   int
	hq, wq   int // rows and columns of each phase plane (and of the output grid)
	planeLen int // bytes per phase plane, slack included
	used     []bool
	inPlace  bool // 1×1, stride 1, no padding: the input planes are read as they are
}

func newPhaseLayout(a *qconvArgs) *phaseLayout {
	w := a.win
	OH, OW := w.out[0], w.out[1]
	l := &phaseLayout{s0: w.s[0], s1: w.s[1]}
	l.inPlace = a.kh == 1 && a.kw == 1 && l.s0 == 1 && l.s1 == 1 && w.padB[0] == 0 && w.padB[1] == 0 && OH == w.in[0] && OW == w.in[1]
	if l.inPlace {
		l.hq, l.wq = OH, OW
		return l
	}
	l.hq = OH + (a.kh-1)*w.d[0]/l.s0
	l.wq = OW + (a.kw-1)*w.d[1]/l.s1
	// A tap's run starts up to (kw−1)·d/s columns into the row after the
	// last (its extra grid columns read there); the tap path packs whole
	// panels of 32 positions and reads a panel past its last tap's run.
	l.planeLen = ((l.hq+1)*l.wq+31)/32*32 + 32
	l.used = make([]bool, l.s0*l.s1)
	for i := range a.kh {
		for j := range a.kw {
			l.used[(i*w.d[0])%l.s0*l.s1+(j*w.d[1])%l.s1] = true
		}
	}
	return l
}

// fill writes the used phase planes of one input plane x (H×W) into dst
// (s0·s1 planes of planeLen bytes): padding and the slack hold zx.
func (l *phaseLayout) fill(dst, x []byte, a *qconvArgs, zx byte) {
	H, W := a.win.in[0], a.win.in[1]
	top, left := a.win.padB[0], a.win.padB[1]
	if l.s0 == 1 && l.s1 == 1 {
		// One plane: zero points everywhere, then the input rows it
		// holds copied in one call.
		plane := dst[:l.planeLen]
		fillBytes(plane, zx)
		c0 := min(left, l.wq)
		c1 := max(c0, min(l.wq, left+W))
		ih0, ih1 := max(0, -top), min(H, l.hq-top)
		if ih1 > ih0 && c1 > c0 {
			kernels.CopyRows(plane[(ih0+top)*l.wq+c0:], l.wq, x[ih0*W+c0-left:], W, ih1-ih0, c1-c0, false)
		}
		return
	}
	var halves [2][]byte // a line's even and odd columns, for stride 2
	if l.s1 == 2 {
		halves[0], halves[1] = make([]byte, (W+1)/2), make([]byte, W/2)
	}
	for ph := range l.s0 {
		for r := range l.hq {
			ih := r*l.s0 + ph - top
			inside := ih >= 0 && ih < H
			var line []byte
			if inside {
				line = x[ih*W : (ih+1)*W]
				if l.s1 == 2 {
					kernels.DeinterleaveBytes(halves[0], halves[1], line)
				}
			}
			for pw := range l.s1 {
				if !l.used[ph*l.s1+pw] {
					continue
				}
				row := dst[(ph*l.s1+pw)*l.planeLen+r*l.wq:][:l.wq]
				switch {
				case !inside:
					fillBytes(row, zx)
				case l.s1 == 2:
					// Column c reads input column 2c + pw − left: of
					// parity par, at index c + shift of that half.
					par := ((pw-left)%2 + 2) % 2
					shift := (pw - left - par) / 2
					copyShifted(row, halves[par], shift, zx)
				default:
					l.fillStrided(row, line, pw, left, zx)
				}
			}
		}
	}
	for i, used := range l.used {
		if used {
			fillBytes(dst[i*l.planeLen+l.hq*l.wq:(i+1)*l.planeLen], zx)
		}
	}
}

// copyShifted sets row[c] = src[c+shift] where that index exists, zx
// elsewhere.
func copyShifted(row, src []byte, shift int, zx byte) {
	c0 := min(len(row), max(0, -shift))
	c1 := max(c0, min(len(row), len(src)-shift))
	fillBytes(row[:c0], zx)
	copy(row[c0:c1], src[c0+shift:])
	fillBytes(row[c1:], zx)
}

// fillStrided sets row[c] to input column c·s1 + pw − left of line, zx
// where that column is padding.
func (l *phaseLayout) fillStrided(row, line []byte, pw, left int, zx byte) {
	W := len(line)
	c0 := 0
	if d := left - pw; d > 0 {
		c0 = min(l.wq, (d+l.s1-1)/l.s1)
	}
	c1 := c0
	if last := W - 1 + left - pw; last >= 0 {
		c1 = max(c0, min(l.wq, last/l.s1+1))
	}
	fillBytes(row[:c0], zx)
	if l.s1 == 1 {
		copy(row[c0:c1], line[c0+pw-left:])
	} else {
		iw := c0*l.s1 + pw - left
		for c := c0; c < c1; c++ {
			row[c] = line[iw]
			iw += l.s1
		}
	}
	fillBytes(row[c1:], zx)
}

func fillBytes(p []byte, v byte) {
	if len(p) == 0 {
		return
	}
	p[0] = v
	for n := 1; n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
}

// wxTile picks the number of output grid positions per tile: a multiple
// of the GEMM panel whose packed activations and sums (rows of them) fit
// wxTileBytes, no more than the grid needs.
func wxTile(kp, rows, grid int) int {
	const p = kernels.WXPanel
	t := max(p, min(wxTileBytes/kp, wxTileBytes/(4*rows))/p*p)
	return min(t, (grid+p-1)/p*p)
}

// fastConvWX computes the QLinearConv a (wxFits) into out.
func (k *intConvKernel) fastConvWX(ctx *Context, a *qconvArgs, out []byte) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	cg, mg := C/a.G, a.M/a.G
	K := cg * a.kh * a.kw
	packed := k.wxWeights.get(a.w, a.G, func(g int) *kernels.PackedW8 {
		return kernels.PackW8(mg, K, a.w[g*mg*K:(g+1)*mg*K], K)
	})
	kp := packed[0].Kp
	xb := outputBytes(a.x)
	flip := a.x.DType == graph.Int8
	zx := byte(a.zx) // the zero point as x's bytes hold it
	zxU := a.zx      // the zero point as the GEMM reads it
	if flip {
		zxU += 128
	}
	l := newPhaseLayout(a)
	grid := OH * l.wq
	rows := packed[0].Rows()
	tile := wxTile(kp, rows, grid)

	// The phase planes of every input channel (skipped when read in place).
	var planes []byte
	if !l.inPlace {
		per := l.s0 * l.s1 * l.planeLen
		var done func()
		planes, done = scratchBytes(N * C * per)
		defer done()
		ctx.Parallel(N*C, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				l.fill(planes[t*per:][:per], xb[t*H*W:][:H*W], a, zx)
			}
		})
	}
	// source returns the run of depth step d (channel ci of the group,
	// tap i, j) for the grid positions from p0 of image n, group g.
	source := func(n, g, d, p0 int) []byte {
		ci, t := d/(a.kh*a.kw), d%(a.kh*a.kw)
		i, j := t/a.kw, t%a.kw
		c := n*C + g*cg + ci
		if l.inPlace {
			return xb[c*H*W+p0 : (c+1)*H*W]
		}
		di, dj := i*a.win.d[0], j*a.win.d[1]
		phase := (di%l.s0)*l.s1 + dj%l.s1
		off := (di/l.s0)*l.wq + dj/l.s1
		base := (c*l.s0*l.s1 + phase) * l.planeLen
		return planes[base+off+p0 : base+l.planeLen]
	}
	ep := k.epilogues.get(a.epilogueKey(zxU, &packed[0].RowSums[0], len(packed)), func() *epilogue {
		return a.newEpilogue(zxU, func(m int) int32 { return packed[m/mg].RowSums[m%mg] })
	})
	adds, rqs, kq8 := ep.adds, ep.rqs, ep.kq8
	// With every channel's requantization exact the GEMM writes bytes.
	fused := a.floatOut == nil && !slices.ContainsFunc(rqs, func(r requantizer) bool { return !r.exact })
	// Reading taps in place pays once the channels fill the quads: with
	// few input channels (a first layer's 3) im2col packs less.
	if fused && !a.hardSwish && !l.inPlace && cg >= 8 && kernels.VNNISelected() {
		k.convTaps(ctx, a, l, planes, kq8, out)
		return
	}
	// The fused GEMM: requantization, or hard-swish then quantization.
	gemm := kernels.IgemmWXQ
	if a.hardSwish {
		gemm = func(pw *kernels.PackedW8, n int, xq, out []byte, ldo int, rq []kernels.Requant) {
			kernels.IgemmWXH(pw, n, xq, out, ldo, rq, a.yScale)
		}
	}
	tiles := (grid + tile - 1) / tile
	ctx.Parallel(N*a.G*tiles, func(first, last int) {
		var grid8 []byte
		if fused && l.wq != OW {
			var done func()
			grid8, done = scratchBytes(mg * tile)
			defer done()
		}
		xq, doneX := scratchBytes(kernels.QuadsLen(kp, tile))
		defer doneX()
		acc, doneAcc := scratchInt32s(rows * tile)
		defer doneAcc()
		bytesBuf, doneBytes := scratchBytes(tile)
		defer doneBytes()
		for task := first; task < last; task++ {
			n, g, t := task/(a.G*tiles), task/tiles%a.G, task%tiles
			p0 := t * tile
			cols := min(tile, grid-p0)
			row := func(d int) []byte {
				if d >= K {
					d = 0 // zero weights past K: any bytes serve, the first step's are at hand
				}
				return source(n, g, d, p0)
			}
			for q := range kp / 4 {
				kernels.PackQuads(xq, kp, q, row(4*q), row(4*q+1), row(4*q+2), row(4*q+3), cols, flip)
			}
			if fused {
				// Requantized in the GEMM's registers: straight into the
				// output planes when the grid is the plane, else into a
				// byte grid whose kept runs are copied.
				rq := kq8[g*mg : (g+1)*mg]
				if l.wq == OW {
					gemm(packed[g], cols, xq, out[(n*a.M+g*mg)*OH*OW+p0:], OH*OW, rq)
					continue
				}
				gemm(packed[g], cols, xq, grid8, tile, rq)
				for c := range mg {
					gridOut{l.wq, OW}.copyRuns(out[(n*a.M+g*mg+c)*OH*OW:][:OH*OW], grid8[c*tile:][:cols], p0)
				}
				continue
			}
			kernels.IgemmWX(packed[g], cols, xq, acc, tile)
			for c := range mg {
				m := g*mg + c
				if a.floatOut != nil {
					gridOut{l.wq, OW}.floats(a.floatOut[(n*a.M+m)*OH*OW:][:OH*OW], acc[c*tile:][:cols], p0, adds[m], a.scales[m])
					continue
				}
				plane := out[(n*a.M+m)*OH*OW:][:OH*OW]
				gridOut{l.wq, OW}.requantize(plane, acc[c*tile:][:cols], p0, &rqs[m], adds[m], a, bytesBuf)
			}
		}
	})
}

// gridOut maps the positions of an output grid wq columns wide to an
// output plane OW wide: grid position p is output (p / wq, p % wq) when
// p % wq < OW, and is dropped otherwise.
type gridOut struct{ wq, OW int }

// requantize writes the sums of grid positions p0… to plane: requantized
// in one pass (into buf, len(sums) bytes, unless the grid is the plane),
// then the kept runs copied.
func (g gridOut) requantize(plane []byte, sums []int32, p0 int, rq *requantizer, add int32, a *qconvArgs, buf []byte) {
	var dst []byte
	if g.wq == g.OW {
		dst = plane[p0:][:len(sums)]
	} else {
		dst = buf[:len(sums)]
	}
	if rq.exact {
		rq.run(dst, sums, add)
	} else {
		for i, v := range sums {
			dst[i] = byte(requantize(v+add, rq.scale, a.zy, a.lo, a.hi))
		}
	}
	if g.wq != g.OW {
		g.copyRuns(plane, dst, p0)
	}
}

// copyRuns copies the bytes of grid positions p0… (src) that are outputs
// into plane.
func (g gridOut) copyRuns(plane, src []byte, p0 int) {
	for p := p0; p < p0+len(src); {
		oh, ow := p/g.wq, p%g.wq
		run := min(g.wq-ow, p0+len(src)-p)
		if ow < g.OW {
			copy(plane[oh*g.OW+ow:][:min(run, g.OW-ow)], src[p-p0:])
		}
		p += run
	}
}

// vnniFits reports whether a runs on the VNNI depthwise path (one input
// and one output channel per group) or the channel-major one.
func (a *qconvArgs) vnniFits() bool {
	if a.x.Shape[1] == a.G && a.M == a.G {
		return dwFits(a)
	}
	return wxFits(a)
}

// runVNNI runs a on the path vnniFits picks, into out (nil with
// a.floatOut set), and reports whether one fitted.
func (k *intConvKernel) runVNNI(ctx *Context, a *qconvArgs, out []byte) bool {
	switch {
	case !a.vnniFits():
		return false
	case a.x.Shape[1] == a.G && a.M == a.G:
		k.depthwiseVNNI(ctx, a, out)
	default:
		k.fastConvWX(ctx, a, out)
	}
	return true
}

// dwFits reports whether the depthwise convolution a (one input and one
// output channel per group) runs on kernels.DepthwiseRow: with a VNNI
// microkernel, a column stride of 1 or 2 and every weight zero point 0.
func dwFits(a *qconvArgs) bool {
	return kernels.VNNISelected() && (a.win.s[1] == 1 || a.win.s[1] == 2) &&
		!slices.ContainsFunc(a.zw, func(z int32) bool { return z != 0 })
}

// dwPlane is the zero-point-bordered copy of one input plane that the
// depthwise windows read: hp rows of wp bytes, then slack for the last
// row's whole blocks (kernels.DWTaps.Reach).
type dwPlane struct {
	hp, wp, size int
	// flat: the output rows form one run of n = (OH−1)·wp + OW sums,
	// output row oh at oh·wp (the wp − OW between rows dropped), computed
	// in one pass. Narrow planes take it: a row of at most a quarter of
	// the kernel's block would waste most of its half-width tail block.
	// Without the fused epilogue (hard-swish, inexact requantization)
	// every plane whose strides agree runs flat (canFlat): one epilogue
	// call per plane instead of one per row.
	flat, canFlat bool
	n             int
}

func newDWPlane(a *qconvArgs) dwPlane {
	w := a.win
	OH, OW := w.out[0], w.out[1]
	s0, s1 := w.s[0], w.s[1]
	p := dwPlane{
		hp: (OH-1)*s0 + (a.kh-1)*w.d[0] + 1,
		wp: (OW-1)*s1 + (a.kw-1)*w.d[1] + 1,
	}
	block := kernels.DWBlock(s1)
	maxOff := (a.kh-1)*w.d[0]*p.wp + (a.kw-1)*w.d[1]
	// A flat run reads input row s·oh for output row oh only when the
	// strides agree.
	p.canFlat = s0 == s1
	p.flat = p.canFlat && OW <= block/4
	reach := (OH-1)*s0*p.wp + (OW+block-1)/block*block*s1
	if p.canFlat {
		p.n = (OH-1)*p.wp + OW
		reach = max(reach, (p.n+block-1)/block*block*s1)
	}
	p.size = max(p.hp*p.wp, maxOff+reach+4)
	return p
}

// border sets every byte of dst (p.size) to the zero point; what fill
// then writes is the same region for every plane, so a buffer needs this
// once.
func (p dwPlane) border(dst []byte, zx byte, flip bool) {
	if flip {
		zx ^= 0x80
	}
	fillBytes(dst[:p.size], zx)
}

// fill copies plane x (H×W) into dst inside its border (border must have
// been called on dst), bytes xored with 0x80 when flip is set.
func (p dwPlane) fill(dst, x []byte, a *qconvArgs, flip bool) {
	H, W := a.win.in[0], a.win.in[1]
	top, left := a.win.padB[0], a.win.padB[1]
	c0 := min(left, p.wp)
	c1 := max(c0, min(p.wp, left+W))
	ih0, ih1 := max(0, -top), min(H, p.hp-top)
	if ih1 > ih0 && c1 > c0 {
		kernels.CopyRows(dst[(ih0+top)*p.wp+c0:], p.wp, x[ih0*W+c0-left:], W, ih1-ih0, c1-c0, flip)
	}
}

// dwQuads groups the taps of channel c's window into runs of up to four
// consecutive bytes of the plane (kernels.DWQuad), window row by row.
func dwQuads(a *qconvArgs, p dwPlane, c int) []kernels.DWQuad {
	var quads []kernels.DWQuad
	d0, d1 := a.win.d[0], a.win.d[1]
	w := a.w[c*a.kh*a.kw:][:a.kh*a.kw]
	for i := range a.kh {
		var q *kernels.DWQuad
		start := 0
		for j := range a.kw {
			if w[i*a.kw+j] == 0 {
				continue
			}
			o := j * d1
			if q == nil || o-start >= 4 {
				quads = append(quads, kernels.DWQuad{Off: i*d0*p.wp + o})
				q, start = &quads[len(quads)-1], o
			}
			q.W[o-start] = w[i*a.kw+j]
		}
	}
	return quads
}

// dwTaps caches a depthwise QLinearConv node's tap groups (dwQuads,
// prepared) and their weight sums: they depend only on the constant
// weights and the plane's width.
type dwTaps struct {
	mu     sync.Mutex
	source *int8
	size   int
	wp     int
	taps   []*kernels.DWTaps
	sums   []int32
}

func (t *dwTaps) get(a *qconvArgs, p dwPlane) ([]*kernels.DWTaps, []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(a.w) > 0 && t.source == &a.w[0] && t.size == len(a.w) && t.wp == p.wp && len(t.taps) == a.M {
		return t.taps, t.sums
	}
	t.taps, t.sums = make([]*kernels.DWTaps, a.M), make([]int32, a.M)
	for c := range a.M {
		quads := dwQuads(a, p, c)
		t.taps[c] = kernels.NewDWTaps(quads)
		for _, q := range quads {
			for _, v := range q.W {
				t.sums[c] += int32(v)
			}
		}
	}
	t.source = nil
	if len(a.w) > 0 {
		t.source = &a.w[0]
	}
	t.size, t.wp = len(a.w), p.wp
	return t.taps, t.sums
}

// depthwiseVNNI computes the depthwise QLinearConv a (dwFits) into out:
// per channel, its bordered plane, then per output row the window's sums
// (kernels.DepthwiseRow) and their requantization.
func (k *intConvKernel) depthwiseVNNI(ctx *Context, a *qconvArgs, out []byte) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	s0, s1 := a.win.s[0], a.win.s[1]
	p := newDWPlane(a)
	xb := outputBytes(a.x)
	flip := a.x.DType == graph.Int8
	zx, zxU := byte(a.zx), a.zx
	if flip {
		zxU += 128
	}
	taps, wsums := k.dwTaps.get(a, p)
	// Each channel's requantization, built once per set of inputs: a
	// value the per-channel loop below only reads.
	ep := k.epilogues.get(a.epilogueKey(zxU, &wsums[0], 1), func() *epilogue {
		return a.newEpilogue(zxU, func(c int) int32 { return wsums[c] })
	})
	adds, rqs, kq8 := ep.adds, ep.rqs, ep.kq8
	block := kernels.DWBlock(s1)
	ctx.Parallel(N*C, func(lo, hi int) {
		plane, donePlane := scratchBytes(p.size)
		defer donePlane()
		p.border(plane, zx, flip)
		var grid8 []byte
		if p.canFlat {
			var done func()
			grid8, done = scratchBytes(p.n)
			defer done()
		}
		var sums []int32
		for task := lo; task < hi; task++ {
			n, c := task/C, task%C
			p.fill(plane, xb[(n*C+c)*H*W:][:H*W], a, flip)
			if a.floatOut != nil {
				if sums == nil {
					sums = make([]int32, (max(OW, p.n)+block-1)/block*block)
				}
				dst := a.floatOut[(n*a.M+c)*OH*OW:][:OH*OW]
				if p.canFlat {
					kernels.DepthwiseRow(sums, plane, taps[c], p.n, s1)
					gridOut{p.wp, OW}.floats(dst, sums[:p.n], 0, adds[c], a.scales[c])
					continue
				}
				for oh := range OH {
					kernels.DepthwiseRow(sums, plane[oh*s0*p.wp:], taps[c], OW, s1)
					gridOut{OW, OW}.floats(dst[oh*OW:][:OW], sums[:OW], 0, adds[c], a.scales[c])
				}
				continue
			}
			rq := &rqs[c]
			dstPlane := out[(n*a.M+c)*OH*OW:][:OH*OW]
			switch {
			case rq.exact && p.flat:
				dwRows(grid8, p.n, plane, 0, 1, p.n, taps[c], s1, kq8[c], rq)
				gridOut{p.wp, OW}.copyRuns(dstPlane, grid8, 0)
				continue
			case rq.exact:
				dwRows(dstPlane, OW, plane, s0*p.wp, OH, OW, taps[c], s1, kq8[c], rq)
				continue
			}
			if sums == nil {
				sums = make([]int32, (max(OW, p.n)+block-1)/block*block)
			}
			if p.canFlat {
				kernels.DepthwiseRow(sums, plane, taps[c], p.n, s1)
				gridOut{p.wp, OW}.requantize(dstPlane, sums[:p.n], 0, rq, adds[c], a, grid8)
				continue
			}
			for oh := range OH {
				kernels.DepthwiseRow(sums, plane[oh*s0*p.wp:], taps[c], OW, s1)
				gridOut{OW, OW}.requantize(dstPlane[oh*OW:][:OW], sums[:OW], 0, rq, adds[c], a, nil)
			}
		}
	})
}

// dwRows runs the fused depthwise rows of one channel: requantized, or
// hard-swish then quantized, as rq says.
func dwRows(out []byte, ldo int, src []byte, lds int, rows, n int, taps *kernels.DWTaps, s1 int, kq kernels.Requant, rq *requantizer) {
	if rq.hardSwish {
		kernels.DepthwiseRowsH(out, ldo, src, lds, taps, rows, n, s1, kq, rq.yScale)
		return
	}
	kernels.DepthwiseRowsQ(out, ldo, src, lds, taps, rows, n, s1, kq)
}

// runHardSwish runs ai.onnxq QLinearConv with activation HardSwish:
// scales are x_scale·w_scale per output channel. The channel-major and
// VNNI depthwise paths take it with their unfused epilogues; other
// shapes and CPUs take the reference convolution.
func (k *intConvKernel) runHardSwish(ctx *Context, x, xzp, w, wzp, bias *Tensor, scales []float32, yScale float32, zy, lo, hi int64, outType graph.DType) ([]*Tensor, error) {
	finite := func(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
	if !(yScale > 0) || !finite(yScale) || slices.ContainsFunc(scales, func(s float32) bool { return !finite(s) }) {
		return nil, fmt.Errorf("HardSwish needs finite scales and a positive y_scale")
	}
	if a := k.newQConvArgs(x, xzp, w, wzp, bias, scales, zy, lo, hi, outType); a != nil && !forceReferenceQConv && a.vnniFits() {
		a.hardSwish, a.yScale = true, yScale
		y := ctx.allocFull(a.outType, a.x.Shape[0], a.M, a.win.out[0], a.win.out[1])
		k.runVNNI(ctx, a, outputBytes(y))
		return []*Tensor{y}, nil
	}
	acc, shape, err := k.conv(ctx, x, w, xzp, wzp, bias)
	if err != nil {
		return nil, err
	}
	y := ctx.Alloc(outType, shape...)
	out := outputBytes(y)
	size := cfNumel(shape[2:])
	for e := 0; e < len(acc); e += size {
		c := e / size % len(scales)
		kernels.HardSwishRequantize(out[e:e+size], acc[e:e+size], 0, scales[c], yScale, float32(lo-zy), float32(hi-zy), int32(zy))
	}
	return []*Tensor{y}, nil
}

// tapWeights orders group g's weights for kernels.IgemmTapsQ: rows of
// taps × channel quads × 4, channels past the group's padded with zeros.
func tapWeights(w []int8, g, mg, cg, taps int) *kernels.PackedW8 {
	cq := (cg + 3) / 4
	depth := taps * cq * 4
	row := make([]int8, mg*depth)
	for m := range mg {
		src := w[(g*mg+m)*cg*taps:][:cg*taps]
		for ci := range cg {
			for t := range taps {
				row[m*depth+(t*cq+ci/4)*4+ci%4] = src[ci*taps+t]
			}
		}
	}
	return kernels.PackW8(mg, depth, row, depth)
}

// wxTapCols is how many output grid positions one task of convTaps
// covers.
const wxTapCols = 8 * kernels.WXPanel

// convTaps computes the convolution a on its phase planes without im2col:
// the planes of each group are interleaved four channels per position
// once (kernels.PackQuads over whole planes), and kernels.IgemmTapsQ
// reads every tap as a shifted run of them, requantizing in registers.
func (k *intConvKernel) convTaps(ctx *Context, a *qconvArgs, l *phaseLayout, planes []byte, rq []kernels.Requant, out []byte) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	OH, OW := a.win.out[0], a.win.out[1]
	cg, mg := C/a.G, a.M/a.G
	taps := a.kh * a.kw
	cq := (cg + 3) / 4
	pws := k.tapWeights.get(a.w, a.G, func(g int) *kernels.PackedW8 { return tapWeights(a.w, g, mg, cg, taps) })
	phases := l.s0 * l.s1
	quadStride := 4 * l.planeLen
	per := phases * cq * quadStride // packed bytes of one image and group
	flip := a.x.DType == graph.Int8
	xc, doneXC := scratchBytes(N * a.G * per)
	defer doneXC()
	ctx.Parallel(N*a.G*phases*cq, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			ng, ph, q := task/(phases*cq), task/cq%phases, task%cq
			if !l.used[ph] {
				continue
			}
			n, g := ng/a.G, ng%a.G
			var r [4][]byte
			for j := range r {
				ci := 4*q + j
				if ci >= cg {
					ci = 0 // zero weights past the group's channels: any plane serves
				}
				c := n*C + g*cg + ci
				r[j] = planes[(c*phases+ph)*l.planeLen:][:l.planeLen]
			}
			dst := xc[ng*per+(ph*cq+q)*quadStride:][:quadStride]
			kernels.PackQuads(dst, 4, 0, r[0], r[1], r[2], r[3], l.planeLen, flip)
		}
	})
	toff := make([]int, taps)
	for t := range taps {
		di, dj := t/a.kw*a.win.d[0], t%a.kw*a.win.d[1]
		phase := (di%l.s0)*l.s1 + dj%l.s1
		toff[t] = phase*cq*quadStride + 4*((di/l.s0)*l.wq+dj/l.s1)
	}
	grid := OH * l.wq
	tiles := (grid + wxTapCols - 1) / wxTapCols
	ctx.Parallel(N*a.G*tiles, func(first, last int) {
		grid8, done := scratchBytes(mg * wxTapCols)
		defer done()
		for task := first; task < last; task++ {
			ng, t := task/tiles, task%tiles
			n, g := ng/a.G, ng%a.G
			p0 := t * wxTapCols
			cols := min(wxTapCols, grid-p0)
			x := xc[ng*per:][:per]
			rqg := rq[g*mg : (g+1)*mg]
			if l.wq == OW {
				kernels.IgemmTapsQ(pws[g], cols, x, 4*p0, toff, quadStride, out[(n*a.M+g*mg)*OH*OW+p0:], OH*OW, rqg)
				continue
			}
			kernels.IgemmTapsQ(pws[g], cols, x, 4*p0, toff, quadStride, grid8, wxTapCols, rqg)
			for c := range mg {
				gridOut{l.wq, OW}.copyRuns(out[(n*a.M+g*mg+c)*OH*OW:][:OH*OW], grid8[c*wxTapCols:][:cols], p0)
			}
		}
	})
}

// runFloatOut runs ai.onnxq QLinearConv without y_scale: the float32
// value float32(Σ(x−zx)(w−zw) + b)·(x_scale·w_scale[c]). The
// channel-major and VNNI depthwise paths take it when they fit, else the
// reference convolution: the same exact sums, so the same bits.
func (k *intConvKernel) runFloatOut(ctx *Context, x, xzp, w, wzp, bias, xs, ws *Tensor) ([]*Tensor, error) {
	xsv, wsv, m, err := convScales(xs, ws, w)
	if err != nil {
		return nil, err
	}
	scales := make([]float32, m)
	for c := range scales {
		scales[c] = xsv[0] * wsv[min(c, len(wsv)-1)]
	}
	if a := k.newQConvArgs(x, xzp, w, wzp, bias, scales, 0, 0, 255, graph.Uint8); a != nil && !forceReferenceQConv && a.vnniFits() {
		y := ctx.Alloc(graph.Float32, a.x.Shape[0], a.M, a.win.out[0], a.win.out[1])
		a.floatOut = y.F32()
		k.runVNNI(ctx, a, nil)
		return []*Tensor{y}, nil
	}
	acc, shape, err := k.conv(ctx, x, w, xzp, wzp, bias)
	if err != nil {
		return nil, err
	}
	y := ctx.Alloc(graph.Float32, shape...)
	out := y.F32()
	size := cfNumel(shape[2:])
	for e, v := range acc {
		out[e] = float32(v) * scales[e/size%m]
	}
	return []*Tensor{y}, nil
}

// floats writes float32(sums[i] + add)·scale for the grid positions p0…
// that are outputs into plane.
func (g gridOut) floats(plane []float32, sums []int32, p0 int, add int32, scale float32) {
	for p := p0; p < p0+len(sums); {
		oh, ow := p/g.wq, p%g.wq
		run := min(g.wq-ow, p0+len(sums)-p)
		if ow < g.OW {
			dst := plane[oh*g.OW+ow:][:min(run, g.OW-ow)]
			kernels.ScaleSums(dst, sums[p-p0:], add, scale)
		}
		p += run
	}
}
