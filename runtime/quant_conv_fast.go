// quant_conv_fast.go holds the fast path of QLinearConv for 2-D
// convolutions of 8-bit activations with int8 weights, the form the
// quantize pass and lower-qdq produce. Depthwise convolutions run a
// direct loop; the others run, per group and tile of output positions,
// an im2col of the activations (positions × patch, padding filled with
// the activation zero point) times the packed weights in an integer GEMM,
// and an epilogue that removes the zero-point terms, adds the bias and
// requantizes while writing NCHW:
//
//	acc[p,c] = Σ x·w − zx·Σw[c] − zw[c]·Σx[p] + K·zx·zw[c] + b[c]
//	y[c,p]   = saturate(roundHalfEven(acc[p,c]·scale[c]) + zy)
//
// which is Σ(x−zx)(w−zw) + b exactly (mod 2^32, as the reference wraps).
// The result equals the reference kernel's bit for bit on every path and
// for any thread count.

package runtime

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// fastConvTile is how many output positions one im2col tile holds.
const fastConvTile = 128

// qconvArgs are the checked operands of one QLinearConv call.
type qconvArgs struct {
	x       *Tensor // uint8 or int8 [N,C,H,W]
	w       []int8  // [M, C/G, KH, KW]
	M, G    int
	kh, kw  int
	win     *window
	zx      int32
	zw      []int32 // per output channel
	bias    []int32 // nil or per output channel
	scales  []float32
	zy      int64
	lo, hi  int64
	outType graph.DType
	packed  []*kernels.PackedB8 // the weights of each group, packed for the GEMM
	// hardSwish: scales are the float value's (x_scale·w_scale), and the
	// output is the quantized hard-swish of that value at yScale.
	hardSwish bool
	yScale    float32
	// floatOut, when set, receives float32(sum)·scale instead of bytes.
	floatOut []float32
}

// epilogueKey identifies the per-channel epilogue of a for the GEMM's
// zero point zxU and the cached weight row sums starting at sums.
func (a *qconvArgs) epilogueKey(zxU int32, sums *int32, groups int) epilogueKey {
	return epilogueKey{scales: unsafe.SliceData(a.scales), sums: sums, bias: a.bias, zxU: zxU, zy: a.zy, lo: a.lo, hi: a.hi,
		hardSwish: a.hardSwish, yScale: a.yScale, groupRows: groups}
}

// newEpilogue derives a's per-channel epilogue: bias − zxU·Σw of each
// output channel m (rowSum(m) its weights' sum), its requantizer, and the
// kernels' form of both.
func (a *qconvArgs) newEpilogue(zxU int32, rowSum func(m int) int32) *epilogue {
	ep := &epilogue{adds: make([]int32, a.M), rqs: make([]requantizer, a.M), kq8: make([]kernels.Requant, a.M)}
	for m := range a.M {
		ep.adds[m] = -zxU * rowSum(m)
		if a.bias != nil {
			ep.adds[m] += a.bias[m]
		}
		r := a.requantizer(m)
		ep.rqs[m] = r
		ep.kq8[m] = kernels.Requant{Add: ep.adds[m], Scale: r.scale, Lo: r.lo, Hi: r.hi, ZP: r.zp}
	}
	return ep
}

// requantizer returns output channel m's requantization.
func (a *qconvArgs) requantizer(m int) requantizer {
	rq := newRequantizer(a.scales[m], a.zy, a.lo, a.hi)
	if a.hardSwish {
		rq.hardSwish, rq.yScale = true, a.yScale
	}
	return rq
}

// scaleCache holds the per-channel scales a QLinearConv node computed
// from its scale inputs on the last call: they are constants in practice,
// so later calls compare the inputs (a few floats per channel) instead of
// deriving and allocating the scales again.
type scaleCache struct {
	mu         sync.Mutex
	xs, ws, ys []float32
	m          int
	scales     []float32
}

// get returns the cached scales when xs, ws, ys and m equal the last
// call's, else those build returns, kept for the next call. The slice
// returned is only read.
func (c *scaleCache) get(xs, ws, ys []float32, m int, build func() []float32) []float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scales != nil && c.m == m && slices.Equal(c.xs, xs) && slices.Equal(c.ws, ws) && slices.Equal(c.ys, ys) {
		return c.scales
	}
	c.scales = build()
	c.xs, c.ws, c.ys, c.m = slices.Clone(xs), slices.Clone(ws), slices.Clone(ys), m
	return c.scales
}

// epilogue is what the channel-major and depthwise paths derive per
// output channel from the scales, the bias, the zero points and the
// weights' row sums.
type epilogue struct {
	adds []int32
	rqs  []requantizer
	kq8  []kernels.Requant
}

// epilogueKey is everything an epilogue is derived from.
type epilogueKey struct {
	scales     *float32 // a scaleCache slice: equal pointers, equal values
	sums       *int32   // the first weight row sum of a cached packing, likewise
	bias       []int32
	zxU        int32
	zy, lo, hi int64
	hardSwish  bool
	yScale     float32
	groupRows  int
}

// epilogueCache keeps the last epilogue of a node with its key.
type epilogueCache struct {
	mu  sync.Mutex
	key epilogueKey
	ep  *epilogue
}

// get returns the epilogue for key, built by build when the last one was
// made from other values.
func (c *epilogueCache) get(key epilogueKey, build func() *epilogue) *epilogue {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.key
	if c.ep != nil && k.scales == key.scales && k.sums == key.sums && slices.Equal(k.bias, key.bias) &&
		k.zxU == key.zxU && k.zy == key.zy && k.lo == key.lo && k.hi == key.hi && k.hardSwish == key.hardSwish &&
		k.yScale == key.yScale && k.groupRows == key.groupRows {
		return c.ep
	}
	c.ep = build()
	key.bias = slices.Clone(key.bias)
	c.key = key
	return c.ep
}

// groupCache caches what a QLinearConv node derives from its weights,
// one value per group (packed matrices): the weights are constants, so it
// is built on the first run and reused while the same tensor comes in.
type groupCache[T any] struct {
	mu     sync.Mutex
	source *int8 // first element of the weights it was built from
	size   int
	groups []T
}

// get returns the cached values for w, building them with build (per
// group) when w is not the tensor they came from.
func (c *groupCache[T]) get(w []int8, groups int, build func(g int) T) []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(w) > 0 && c.source == &w[0] && c.size == len(w) && len(c.groups) == groups {
		return c.groups
	}
	c.groups = make([]T, groups)
	for g := range groups {
		c.groups[g] = build(g)
	}
	c.source = nil
	if len(w) > 0 {
		c.source = &w[0]
	}
	c.size = len(w)
	return c.groups
}

// signedWeights holds int8 copies of constant uint8 weights, built on
// the first run and reused while the same tensor and zero points come in,
// as groupCache does for packed weights. Each output channel's values
// less its zero point are kept when they all fit in int8 (symmetric
// weights: zero points 0 then, which the channel-major and VNNI paths
// want), else each value less 128 (zero points less 128 too).
type signedWeights struct {
	mu     sync.Mutex
	source *uint8
	size   int
	zpIn   []int32
	w      []int8
	zp     []int32
}

// get returns w as int8 with the per-channel zero points (M of them,
// each channel len(w)/M values) that go with it.
func (c *signedWeights) get(w []uint8, zp []int32) ([]int8, []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(w) > 0 && c.source == &w[0] && c.size == len(w) && slices.Equal(c.zpIn, zp) {
		return c.w, c.zp
	}
	M := len(zp)
	per := len(w) / max(M, 1)
	shift := make([]int32, M)
	exact := true
	for m := 0; m < M && exact; m++ {
		for _, v := range w[m*per : (m+1)*per] {
			if d := int32(v) - zp[m]; d < -128 || d > 127 {
				exact = false
				break
			}
		}
	}
	for m := range shift {
		shift[m] = 128
		if exact {
			shift[m] = zp[m]
		}
	}
	c.w = make([]int8, len(w))
	c.zp = make([]int32, M)
	for m := range M {
		for i := m * per; i < (m+1)*per; i++ {
			c.w[i] = int8(int32(w[i]) - shift[m])
		}
		c.zp[m] = zp[m] - shift[m]
	}
	c.zpIn = slices.Clone(zp)
	c.source, c.size = nil, len(w)
	if len(w) > 0 {
		c.source = &w[0]
	}
	return c.w, c.zp
}

// newQConvArgs checks whether a QLinearConv call fits the fast path: a
// 2-D convolution of uint8 or int8 x with int8 or uint8 w (the latter
// shifted to int8), one x zero point, w zero points per tensor or per
// output channel. It returns nil otherwise.
func (k *intConvKernel) newQConvArgs(x, xzp, w, wzp, bias *Tensor, scales []float32, zy, lo, hi int64, outType graph.DType) *qconvArgs {
	if x.Rank() != 4 || w.Rank() != 4 || (x.DType != graph.Uint8 && x.DType != graph.Int8) || (w.DType != graph.Int8 && w.DType != graph.Uint8) {
		return nil
	}
	var wd []int8
	switch w.Data.(type) {
	case []int8:
		wd = w.Data.([]int8)
	case []uint8: // shifted to int8 below, once the zero points are known
	default:
		return nil
	}
	N, C, M := x.Shape[0], x.Shape[1], w.Shape[0]
	G := k.group
	if N < 1 || C%G != 0 || M%G != 0 || w.Shape[1]*G != C || len(scales) != M {
		return nil
	}
	kShape := w.Shape[2:]
	if k.w.kernel != nil && !equalShape(k.w.kernel, kShape) {
		return nil
	}
	win, err := k.w.resolve(x.Shape[2:], kShape)
	if err != nil {
		return nil
	}
	a := &qconvArgs{x: x, w: wd, M: M, G: G, kh: kShape[0], kw: kShape[1], win: win, scales: scales, zy: zy, lo: lo, hi: hi, outType: outType}
	if xzp != nil {
		if xzp.DType != x.DType || xzp.Len() != 1 {
			return nil
		}
		z, err := int32sOf(xzp)
		if err != nil {
			return nil
		}
		a.zx = z[0]
	}
	a.zw = make([]int32, M)
	if wzp != nil {
		if wzp.DType != w.DType || (wzp.Len() != 1 && wzp.Len() != M) {
			return nil
		}
		z, err := int32sOf(wzp)
		if err != nil {
			return nil
		}
		for c := range a.zw {
			a.zw[c] = z[min(c, len(z)-1)]
		}
	}
	if u, ok := w.Data.([]uint8); ok {
		// w − zw is what the product reads: the same in int8
		a.w, a.zw = k.signedWeights.get(u, a.zw)
	}
	if bias != nil {
		b, ok := bias.Data.([]int32)
		if !ok || len(b) != M {
			return nil
		}
		a.bias = b
	}
	return a
}

// fastQLinearConv runs a on the fast path and returns the output, or nil
// when it cannot.
func (k *intConvKernel) fastQLinearConv(ctx *Context, a *qconvArgs) *Tensor {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	P := OH * OW
	cg, mg := C/a.G, a.M/a.G
	K := cg * a.kh * a.kw
	y := ctx.allocFull(a.outType, N, a.M, OH, OW) // every path writes every byte
	out := outputBytes(y)
	if k.runVNNI(ctx, a, out) {
		return y
	}
	if cg == 1 && mg == 1 {
		if !depthwiseExactInF32(a) || !layoutFits(a.win) {
			fastDepthwise(ctx, a, out)
			return y
		}
		depthwiseViaF32(ctx, a, out)
		return y
	}
	if a.packed == nil {
		a.packed = k.weights.get(a.w, a.G, func(g int) *kernels.PackedB8 {
			return kernels.PackB8(K, mg, a.w[g*mg*K:(g+1)*mg*K], K, true)
		})
	}
	xu8, _ := a.x.Data.([]uint8)
	xb := outputBytes(a.x) // x's bytes, uint8 or int8 alike
	// A 1×1 window, stride 1, no padding: output positions are input
	// positions.
	pointwise := a.kh == 1 && a.kw == 1 && OH == H && OW == W && a.win.s[0] == 1 && a.win.s[1] == 1 &&
		a.win.padB[0] == 0 && a.win.padB[1] == 0
	packed := a.packed
	symmetric := make([]bool, a.G) // every weight zero point of the group is 0
	for g := range symmetric {
		symmetric[g] = !slices.ContainsFunc(a.zw[g*mg:(g+1)*mg], func(z int32) bool { return z != 0 })
	}
	tiles := (P + fastConvTile - 1) / fastConvTile
	ctx.Parallel(N*a.G*tiles, func(first, last int) {
		patch := make([]uint8, fastConvTile*K)
		rowSum := make([]int32, fastConvTile)
		acc := make([]int32, fastConvTile*mg)
		colBuf := make([]int32, fastConvTile)
		zx := uint8(a.zx) // the zero point's bits, as x's bytes hold them
		for task := first; task < last; task++ {
			n, g, t := task/(a.G*tiles), task/tiles%a.G, task%tiles
			p0 := t * fastConvTile
			rows := min(fastConvTile, P-p0)
			// im2col: patch[r*K + (ci*kh + i)*kw + j], the bytes of x.
			if pointwise {
				// A 1×1 window on the unpadded grid: the patch is the
				// positions × channels transpose of the tile.
				transposeTile(patch, K, xb[((n*C)+g*cg)*H*W+p0:], H*W, cg, rows)
			} else {
				im2colRows(patch, K, xb[(n*C+g*cg)*H*W:], a, cg, p0, rows, zx)
			}
			pb := packed[g]
			// The row sums only serve the zw·Σx term: skip their pass
			// over the tile when the group's weights are symmetric.
			sums := rowSum
			if symmetric[g] {
				sums = nil
			}
			if xu8 != nil {
				kernels.Igemm(1, rows, mg, K, patch, K, pb, acc, mg, sums)
			} else {
				kernels.IgemmS8(1, rows, mg, K, unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(patch))), len(patch)), K, pb, acc, mg, sums)
			}
			for c := range mg {
				m := g*mg + c
				base := a.zx*pb.ColSums[c] - int32(K)*a.zx*a.zw[m]
				if a.bias != nil {
					base -= a.bias[m]
				}
				zw, scale := a.zw[m], a.scales[m]
				dst := out[(n*a.M+m)*P+p0:][:rows]
				rq := newRequantizer(scale, a.zy, a.lo, a.hi)
				switch {
				case !rq.exact:
					for r := range dst {
						v := acc[r*mg+c] - base - zw*rowSum[r]
						dst[r] = byte(requantize(v, scale, a.zy, a.lo, a.hi))
					}
				case zw == 0:
					for r := range dst {
						colBuf[r] = acc[r*mg+c]
					}
					rq.run(dst, colBuf, -base)
				default:
					for r := range dst {
						colBuf[r] = acc[r*mg+c] - zw*rowSum[r]
					}
					rq.run(dst, colBuf, -base)
				}
			}
		}
	})
	return y
}

// fastDepthwise computes a depthwise convolution (one input and one output
// channel per group) directly: each channel's plane, minus the zero point,
// is copied into a zero-bordered buffer (a padded position then adds
// (zx−zx)·w = 0, as in the reference), and every tap adds its weight times
// a shifted window of it to the channel's sums.
func fastDepthwise(ctx *Context, a *qconvArgs, y []byte) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	s0, s1, d0, d1 := a.win.s[0], a.win.s[1], a.win.d[0], a.win.d[1]
	top, left := a.win.padB[0], a.win.padB[1]
	// The padded extent the windows reach.
	PH := (OH-1)*s0 + (a.kh-1)*d0 + 1
	PW := (OW-1)*s1 + (a.kw-1)*d1 + 1
	xs8, _ := a.x.Data.([]int8)
	xu8, _ := a.x.Data.([]uint8)
	ctx.Parallel(N*C, func(first, last int) {
		padded := make([]int32, PH*PW)
		acc := make([]int32, OH*OW)
		for task := first; task < last; task++ {
			n, c := task/C, task%C
			plane := (n*C + c) * H * W
			clear(padded)
			for ih := max(0, -top); ih < H && ih+top < PH; ih++ {
				row := padded[(ih+top)*PW:]
				for iw := max(0, -left); iw < W && iw+left < PW; iw++ {
					var v int32
					if xu8 != nil {
						v = int32(xu8[plane+ih*W+iw])
					} else {
						v = int32(xs8[plane+ih*W+iw])
					}
					row[iw+left] = v - a.zx
				}
			}
			b := int32(0)
			if a.bias != nil {
				b = a.bias[c]
			}
			for i := range acc {
				acc[i] = b
			}
			for i := range a.kh {
				for j := range a.kw {
					w := int32(a.w[c*a.kh*a.kw+i*a.kw+j]) - a.zw[c]
					if w == 0 {
						continue
					}
					for oh := range OH {
						src := padded[(oh*s0+i*d0)*PW+j*d1:]
						dst := acc[oh*OW : (oh+1)*OW]
						if s1 == 1 {
							src = src[:OW]
							for ow, v := range src {
								dst[ow] += w * v
							}
							continue
						}
						for ow := range dst {
							dst[ow] += w * src[ow*s1]
						}
					}
				}
			}
			dst := y[(n*a.M+c)*OH*OW:][:len(acc)]
			scale := a.scales[c]
			for i, v := range acc {
				dst[i] = byte(requantize(v, scale, a.zy, a.lo, a.hi))
			}
		}
	})
}

// im2colRows fills rows rows of patch (row r at r·K, K = cg·kh·kw) with
// the windows of output positions p0… over the cg planes of x (H×W each,
// from x[0]); taps outside the input hold zx. It works on runs of
// positions in one output row: for each (channel, tap) the run's column of
// the patch is a strided read of one input row, with the columns that
// fall in the padding filled with zx, so the per-element work is one load
// and one store.
func im2colRows(patch []uint8, K int, x []uint8, a *qconvArgs, cg, p0, rows int, zx uint8) {
	H, W := a.win.in[0], a.win.in[1]
	OW := a.win.out[1]
	s0, s1, d0, d1 := a.win.s[0], a.win.s[1], a.win.d[0], a.win.d[1]
	top, left := a.win.padB[0], a.win.padB[1]
	kh, kw := a.kh, a.kw
	for r0 := 0; r0 < rows; {
		oh, ow0 := (p0+r0)/OW, (p0+r0)%OW
		n := min(rows-r0, OW-ow0) // positions left in this output row
		for ci := range cg {
			plane := x[ci*H*W:]
			for i := range kh {
				ih := oh*s0 - top + i*d0
				for j := range kw {
					q := r0*K + (ci*kh+i)*kw + j
					if ih < 0 || ih >= H {
						for r := range n {
							patch[q+r*K] = zx
						}
						continue
					}
					line := plane[ih*W : (ih+1)*W : (ih+1)*W]
					// Input column of run position r: iw0 + r·s1; the
					// valid ones are lo ≤ r < hi.
					iw0 := ow0*s1 - left + j*d1
					lo, hi := 0, n
					if iw0 < 0 {
						lo = min(n, (-iw0+s1-1)/s1)
					}
					if last := iw0 + (n-1)*s1; last >= W {
						hi = max(lo, n-(last-W+s1)/s1)
					}
					for r := 0; r < lo; r++ {
						patch[q+r*K] = zx
					}
					if lo >= hi {
						// The whole run reads padding (wide pads or
						// dilations): nothing to copy.
					} else if s1 == 1 {
						col := patch[q+lo*K:]
						for r, v := range line[iw0+lo : iw0+hi] {
							col[r*K] = v
						}
					} else {
						iw := iw0 + lo*s1
						for r := lo; r < hi; r++ {
							patch[q+r*K] = line[iw]
							iw += s1
						}
					}
					for r := hi; r < n; r++ {
						patch[q+r*K] = zx
					}
				}
			}
		}
		r0 += n
	}
}

// transposeTile sets patch[r·K + c] = x[c·stride + r] for c < cg and
// r < rows: blocks of 8×8 bytes are transposed in registers (three rounds
// of masked swaps on uint64 words), the edges byte by byte.
func transposeTile(patch []uint8, K int, x []uint8, stride, cg, rows int) {
	c := 0
	for ; c+8 <= cg; c += 8 {
		r := 0
		for ; r+8 <= rows; r += 8 {
			var w [8]uint64
			for i := range w {
				w[i] = binary.LittleEndian.Uint64(x[(c+i)*stride+r:])
			}
			transpose8x8(&w)
			for i := range w {
				binary.LittleEndian.PutUint64(patch[(r+i)*K+c:], w[i])
			}
		}
		for ; r < rows; r++ {
			for i := range 8 {
				patch[r*K+c+i] = x[(c+i)*stride+r]
			}
		}
	}
	for ; c < cg; c++ {
		src := x[c*stride:][:rows]
		for r, v := range src {
			patch[r*K+c] = v
		}
	}
}

// transpose8x8 transposes the 8×8 byte matrix whose row i is w[i] (byte k
// of w[i], little-endian, is element (i, k)).
func transpose8x8(w *[8]uint64) {
	const m1, m2, m4 = 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF
	for i := 0; i < 8; i += 2 {
		t := (w[i]>>8 ^ w[i+1]) & m1
		w[i+1] ^= t
		w[i] ^= t << 8
	}
	for _, i := range [4]int{0, 1, 4, 5} {
		t := (w[i]>>16 ^ w[i+2]) & m2
		w[i+2] ^= t
		w[i] ^= t << 16
	}
	for i := range 4 {
		t := (w[i]>>32 ^ w[i+4]) & m4
		w[i+4] ^= t
		w[i] ^= t << 32
	}
}

// depthwiseExactBound is 2^24: float32 holds every integer of magnitude
// up to it exactly.
const depthwiseExactBound = 1 << 24

// depthwiseExactInF32 reports whether every partial sum of every
// depthwise output of a is an integer below 2^24 in magnitude, so that
// float32 arithmetic (fused or not) computes Σ(x−zx)(w−zw) exactly:
// Σ_t |w_t−zw| · max|x−zx| bounds them all, and max|x−zx| ≤ 255.
func depthwiseExactInF32(a *qconvArgs) bool {
	kk := a.kh * a.kw
	for c := range a.M {
		var s int64
		for _, w := range a.w[c*kk : (c+1)*kk] {
			d := int64(w) - int64(a.zw[c])
			if d < 0 {
				d = -d
			}
			s += d
		}
		if s*255 >= depthwiseExactBound {
			return false
		}
	}
	return true
}

// depthwiseViaF32 computes a depthwise convolution whose sums are exact in
// float32 (depthwiseExactInF32) with the vectorised row kernel of the
// float depthwise path: each plane, minus the zero point, is laid out as
// float32 (padding 0, so a padded tap adds (zx−zx)·w = 0 as in the
// reference), kernels.ConvRows sums the taps, and the integer sum plus the
// int32 bias (wrapping, as the reference does) is requantized. The result
// equals fastDepthwise's bit for bit; it is several times faster because
// Go does not vectorise the int32 loop.
func depthwiseViaF32(ctx *Context, a *qconvArgs, y []byte) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	p := newPlaneWindow(a.win)
	kk := a.kh * a.kw
	xb := outputBytes(a.x)
	signed := a.x.DType == graph.Int8
	zx := float32(a.zx)
	ctx.Parallel(N*C, func(lo, hi int) {
		buf, done := scratch(p.size)
		defer done()
		tmp := make([]float32, p.iw)
		plane := make([]float32, p.ih*p.iw)
		wide := make([]float32, p.n)
		wk := make([]float32, kk)
		for task := lo; task < hi; task++ {
			n, c := task/C, task%C
			src := (n*C + c) * p.ih * p.iw
			kernels.WidenBytes(plane, xb[src:src+len(plane)], zx, signed)
			p.layout(buf, plane, 0, tmp)
			for t, w := range a.w[c*kk : (c+1)*kk] {
				wk[t] = float32(int32(w) - a.zw[c])
			}
			kernels.ConvRows(wide, 0, buf, p.taps, wk)
			b := int32(0)
			if a.bias != nil {
				b = a.bias[c]
			}
			scale := a.scales[c]
			dst := y[(n*a.M+c)*p.oh*p.ow:][:p.oh*p.ow]
			rq := newRequantizer(scale, a.zy, a.lo, a.hi)
			for oy := range p.oh {
				row := wide[oy*p.pitch:][:p.ow]
				out := dst[oy*p.ow:][:p.ow]
				if !rq.exact {
					for i, v := range row {
						out[i] = byte(requantize(int32(v)+b, scale, a.zy, a.lo, a.hi))
					}
					continue
				}
				kernels.RequantizeSums(out, row, b, rq.scale, rq.lo, rq.hi, rq.zp)
			}
		}
	})
}

// requantizer is requantize for one output channel run by
// kernels.Requantize (vectorised), which gives the same bits: the float32
// product is clamped to [lo−zp, hi−zp] before it is rounded (rounding is
// monotone and the bounds are integers, so clamping first and rounding
// first agree). It needs a finite scale (a non-finite one may make a NaN,
// which requantize maps to zp) and small bounds; exact reports whether
// it may be used.
type requantizer struct {
	scale, lo, hi float32
	zp            int32
	exact         bool
	// hardSwish applies hard-swish to float32(sum)·scale and quantizes
	// with yScale (ai.onnxq QLinearConv); it needs exact.
	hardSwish bool
	yScale    float32
}

func newRequantizer(scale float32, zp, lo, hi int64) requantizer {
	finite := !math.IsNaN(float64(scale)) && !math.IsInf(float64(scale), 0)
	small := zp >= -1<<16 && zp <= 1<<16 && lo >= -1<<16 && hi <= 1<<16
	return requantizer{scale: scale, lo: float32(lo - zp), hi: float32(hi - zp), zp: int32(zp), exact: finite && small}
}

// run sets dst[i] to requantize(sums[i]+add, scale, zp, lo, hi) as a
// byte (the add wrapping in int32); rq.exact must hold.
func (rq *requantizer) run(dst []byte, sums []int32, add int32) {
	if rq.hardSwish {
		kernels.HardSwishRequantize(dst, sums, add, rq.scale, rq.yScale, rq.lo, rq.hi, rq.zp)
		return
	}
	kernels.Requantize(dst, sums, add, rq.scale, rq.lo, rq.hi, rq.zp)
}

// outputBytes returns the data of an 8-bit tensor as bytes: an int8 value
// v is held as byte(v), the same bits.
func outputBytes(y *Tensor) []byte {
	switch d := y.Data.(type) {
	case []uint8:
		return d
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	}
	return nil
}

// forceReferenceQConv makes QLinearConv skip the fast path, so tests can
// compare the two.
var forceReferenceQConv = false
