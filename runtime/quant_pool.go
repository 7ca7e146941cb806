// quant_pool.go holds ai.onnxq QLinearAveragePool and
// QLinearGlobalAveragePool: the DequantizeLinear → AveragePool /
// GlobalAveragePool → QuantizeLinear unit of a QDQ model on the 8-bit
// integers. Inputs: X, X_scale, X_zero_point, Y_scale, Y_zero_point (the
// zero points optional, Y of X's type); QLinearAveragePool takes
// AveragePool's attributes (kernel_shape, strides, pads, auto_pad,
// dilations, ceil_mode, count_include_pad) with AveragePool's window
// semantics (pool.go).
//
// Each output is the float unit's, computed on the integers: with
// c = Σ(x − zx) over the window's taps inside X, summed exactly, and n the
// divisor AveragePool uses (the taps inside X, or with count_include_pad
// those inside the explicitly padded X, whose padding is the real 0 and
// adds nothing to c),
//
//	y = saturate(round_half_even(float32(c)·m) + zy),  m = float32(sx/(n·sy))
//
// in float32. The float unit sums rounded dequantized values instead, so
// the two can round apart only where the value is within eps of a half
// step (setEps bounds both computations' errors): those windows, a few
// per thousand at most, are recomputed as the float unit computes them
// (dequantized taps summed in row-major order in float32, divided by n,
// quantized), so the output equals the float unit's everywhere. A window
// with n = 0 gives zy (the float unit's NaN quantizes to the zero
// point). QLinearGlobalAveragePool computes the float unit's arithmetic
// directly (a float64 sum of the dequantized values).
//
// The reference loop (any rank) sums each window tap by tap. The fast
// path (1-D and 2-D windows of at most 257 taps) works on bytes: a
// window's input rows are summed column by column into 16-bit lanes, four
// or eight at a time in a 64-bit word, split into even and odd columns,
// so that strides 1 and 2 read contiguous runs of column sums; full
// windows then look their result up in a table of every possible sum
// (built once per parameter set, near-tie sums marked), edge windows
// compute it. Full 3-wide, stride-2 windows (FastestDet's 3×3 stride 2)
// run in kernels.AvgPool3S2Rows, which sums and requantizes 16 outputs a
// step (AVX2) and flags the near-tie ones. All paths give the same bits.

package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerQuantPool(r *Registry) {
	r.Register(OnnxqDomain, "QLinearAveragePool", func(n *graph.Node, opset int64) (Kernel, error) {
		pk, err := buildPool(n, 19, poolAvg)
		if err != nil {
			return nil, err
		}
		return &qlinearAvgPoolKernel{pool: pk.(*poolKernel)}, nil
	})
	r.Register(OnnxqDomain, "QLinearGlobalAveragePool", func(n *graph.Node, opset int64) (Kernel, error) {
		return &qlinearAvgPoolKernel{}, nil
	})
}

// qlinearAvgPoolKernel is QLinearAveragePool (pool set) or
// QLinearGlobalAveragePool (pool nil).
type qlinearAvgPoolKernel struct {
	pool *poolKernel
	// table caches the lookup table of full windows for the last
	// parameters seen (constants in a model: built once).
	table atomic.Pointer[avgTable]
}

// avgRequant is the requantization of one unit: input and output scales
// and zero points, the output range, and eps, the width around a tie
// within which the integer formula may round otherwise than the float
// unit.
type avgRequant struct {
	sx, sy float32
	zx, zy int64
	lo, hi int64
	eps    float32
}

// setEps sets eps for windows of at most taps taps. The float unit's sum
// of rounded products, division by n and by sy is within (taps+3)·2⁻²⁴
// of Σ|x−zx|·sx/(n·sy) ≤ 255·sx/sy of the real value, the formula of at
// (two roundings) within 2·2⁻²⁴·|v|; eps doubles their sum.
func (q *avgRequant) setEps(taps int) {
	q.eps = float32(float64(taps+8) * 0x1p-23 * 256 * float64(q.sx) / float64(q.sy))
}

// mul is the multiplier of windows of n taps: sx/(n·sy) rounded once.
func (q *avgRequant) mul(n int) float32 {
	return float32(float64(q.sx) / (float64(n) * float64(q.sy)))
}

// at returns the output of a window whose centered sum is c over n taps,
// float32(c)·mul(n) rounded, and whether that value is within eps of a
// tie, where the caller must compute the float unit's value (exact).
func (q *avgRequant) at(c int64, n int) (byte, bool) {
	if n <= 0 {
		return byte(q.lo), false // 0/0: NaN, which QuantizeLinear makes qmin
	}
	// As kernels.AvgParams.Requant: clamped to the range around zy, then
	// rounded.
	v := float32(c) * q.mul(n)
	f := v - float32(math.RoundToEven(float64(v)))
	near := 0.5-float32(math.Abs(float64(f))) <= q.eps
	v = min(float32(q.hi-q.zy), max(float32(q.lo-q.zy), v))
	return byte(int64(math.RoundToEven(float64(v))) + q.zy), near
}

// dq is the float unit's dequantized value of one byte.
func (q *avgRequant) dq(b byte, signed bool) float32 {
	// The conversion keeps the product rounded to float32 (no fused
	// multiply-add with the sum it goes into).
	return float32((float32(byteValue(b, signed)) - float32(q.zx)) * q.sx)
}

// exact returns the float unit's output for a window whose dequantized
// taps summed in row-major order (float32) to acc, with divisor n.
func (q *avgRequant) exact(acc float32, n int) byte {
	if n <= 0 {
		return byte(q.lo)
	}
	return q.quantize(acc / float32(n))
}

// quantize is QuantizeLinear of v.
func (q *avgRequant) quantize(v float32) byte {
	f := v / q.sy
	if f != f {
		return byte(q.lo) // as QuantizeLinear
	}
	f = min(float32(q.hi-q.zy), max(float32(q.lo-q.zy), f))
	return byte(int64(math.RoundToEven(float64(f))) + q.zy)
}

// avgTable maps the unsigned sum (bytes read as x, or x+128 for int8) of
// a full window of taps taps to its output byte.
type avgTable struct {
	q    avgRequant
	taps int
	// out covers every uint16, so that a 16-bit index needs no bounds
	// check; sums past taps·255 never occur.
	out [1 << 16]byte
	// near marks the sums whose value is within eps of a tie.
	near [1 << 16]bool
}

// forceReferenceQAvgPool makes QLinearAveragePool skip the fast path, so
// tests can compare the two.
var forceReferenceQAvgPool = false

func (k *qlinearAvgPoolKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 4 || in[0] == nil {
		return nil, fmt.Errorf("needs X, X_scale, X_zero_point, Y_scale and Y_zero_point")
	}
	x := in[0]
	if x.DType != graph.Uint8 && x.DType != graph.Int8 {
		return nil, fmt.Errorf("X %v must be uint8 or int8", x)
	}
	if x.Rank() < 3 {
		return nil, fmt.Errorf("X must have rank >= 3 (N, C, spatial...), got shape %v", x.Shape)
	}
	scale := func(i int, name string) (float32, error) {
		s, err := readScales(name, in[i])
		if err != nil {
			return 0, err
		}
		if len(s) != 1 || !(s[0] > 0) || s[0] > math.MaxFloat32 {
			return 0, fmt.Errorf("%s must be one positive finite value", name)
		}
		return s[0], nil
	}
	zero := func(i int, name string) (int64, error) {
		if i >= len(in) || in[i] == nil || in[i].Len() == 0 {
			return 0, nil
		}
		if in[i].DType != x.DType || in[i].Len() != 1 {
			return 0, fmt.Errorf("%s must be one %v value", name, x.DType)
		}
		z, err := int32sOf(in[i])
		if err != nil {
			return 0, err
		}
		return int64(z[0]), nil
	}
	var q avgRequant
	var err error
	if q.sx, err = scale(1, "X_scale"); err != nil {
		return nil, err
	}
	if q.sy, err = scale(3, "Y_scale"); err != nil {
		return nil, err
	}
	if q.zx, err = zero(2, "X_zero_point"); err != nil {
		return nil, err
	}
	if q.zy, err = zero(4, "Y_zero_point"); err != nil {
		return nil, err
	}
	q.lo, q.hi, _ = quantRange(x.DType)
	signed := x.DType == graph.Int8
	planes := x.Shape[0] * x.Shape[1]
	if k.pool == nil {
		outShape := []int{x.Shape[0], x.Shape[1]}
		for range x.Shape[2:] {
			outShape = append(outShape, 1)
		}
		y := ctx.Alloc(x.DType, outShape...)
		globalAvgBytes(ctx, &q, bytesOf(x), bytesOf(y), planes, product(x.Shape[2:]), signed)
		return []*Tensor{y}, nil
	}
	win, err := k.pool.resolvePool(x.Shape[2:])
	if err != nil {
		return nil, err
	}
	outShape := append([]int{x.Shape[0], x.Shape[1]}, win.out...)
	if _, err := checkedElements(outShape...); err != nil {
		return nil, err
	}
	for _, d := range win.out {
		if d < 1 {
			return nil, fmt.Errorf("output shape %v is empty", outShape)
		}
	}
	if work := float64(product(outShape)) * float64(product(win.k)); work > maxPoolWork {
		return nil, fmt.Errorf("%v outputs of %v-tap windows are too much work", outShape, win.k)
	}
	y := ctx.Alloc(x.DType, outShape...)
	q.setEps(product(win.k))
	if !forceReferenceQAvgPool && avgPoolBytesFits(win) {
		k.fast(ctx, &q, win, bytesOf(x), bytesOf(y), planes, signed)
	} else {
		avgPoolBytesRef(ctx, &q, win, k.pool.includePad, bytesOf(x), bytesOf(y), planes, signed)
	}
	return []*Tensor{y}, nil
}

// byteValue reads one 8-bit element.
func byteValue(b byte, signed bool) int64 {
	if signed {
		return int64(int8(b))
	}
	return int64(b)
}

// globalAvgBytes averages each plane of x into one element of y, as the
// float unit does: the dequantized values summed in float64, the mean
// rounded to float32, quantized.
func globalAvgBytes(ctx *Context, q *avgRequant, x, y []byte, planes, plane int, signed bool) {
	ctx.Parallel(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			var s float64
			for _, b := range x[pl*plane : (pl+1)*plane] {
				s += float64(q.dq(b, signed))
			}
			if plane == 0 {
				y[pl] = q.exact(0, 0)
				continue
			}
			y[pl] = q.quantize(float32(s / float64(plane)))
		}
	})
}

// avgPoolBytesRef is the reference loop: every window of every plane, tap
// by tap, any rank.
func avgPoolBytesRef(ctx *Context, q *avgRequant, win *window, includePad bool, x, y []byte, planes int, signed bool) {
	r := len(win.in)
	inPlane, outPlane := product(win.in), product(win.out)
	taps := product(win.k)
	counts := poolCounts(win, includePad)
	ctx.Parallel(planes, func(plo, phi int) {
		opos := make([]int, r)
		kpos := make([]int, r)
		for pl := plo; pl < phi; pl++ {
			src := x[pl*inPlane : (pl+1)*inPlane]
			for o := range outPlane {
				unravel(o, win.out, opos)
				var c int64
				var acc float32
				for t := range taps {
					unravel(t, win.k, kpos)
					flat, ok := win.tapOffset(opos, kpos, win.in, r)
					if ok {
						c += byteValue(src[flat], signed) - q.zx
						acc += q.dq(src[flat], signed)
					}
				}
				n := 1
				for j := range r {
					n *= counts[j][opos[j]]
				}
				v, near := q.at(c, n)
				if near {
					v = q.exact(acc, n)
				}
				y[pl*outPlane+o] = v
			}
		}
	})
}

// avgPoolBytesFits reports whether the fast path handles the window: 1-D
// or 2-D, with sums of at most 257 taps of 255 fitting in 16 bits.
func avgPoolBytesFits(win *window) bool {
	return (len(win.in) == 1 || len(win.in) == 2) && product(win.k) <= 257
}

// fullTable returns the table of full windows for q and taps, from the
// cache or built.
func (k *qlinearAvgPoolKernel) fullTable(q *avgRequant, taps int, signed bool) *avgTable {
	if t := k.table.Load(); t != nil && t.q == *q && t.taps == taps {
		return t
	}
	t := &avgTable{q: *q, taps: taps}
	// Unsigned sums: int8 bytes are read as x+128.
	zx := q.zx
	if signed {
		zx += 128
	}
	for s := range taps*255 + 1 {
		t.out[s], t.near[s] = q.at(int64(s)-int64(taps)*zx, taps)
	}
	k.table.Store(t)
	return t
}

// fast is the fast path of avgPoolBytesFits windows.
func (k *qlinearAvgPoolKernel) fast(ctx *Context, q *avgRequant, win *window, x, y []byte, planes int, signed bool) {
	ih, oh, kh, sh, dh, padT := 1, 1, 1, 1, 1, 0
	if len(win.in) == 2 {
		ih, oh, kh, sh, dh, padT = win.in[0], win.out[0], win.k[0], win.s[0], win.d[0], win.padB[0]
	}
	last := len(win.in) - 1
	iw, ow, kw, sw, dw, padL := win.in[last], win.out[last], win.k[last], win.s[last], win.d[last], win.padB[last]
	counts := poolCounts(win, k.pool.includePad)
	inside := poolCounts(win, false)
	if len(win.in) == 1 {
		counts = append([][]int{{1}}, counts...)
		inside = append([][]int{{1}}, inside...)
	}
	table := k.fullTable(q, kh*kw, signed)
	zx := q.zx
	var flip uint64 // turns int8 bytes into x+128
	if signed {
		zx += 128
		flip = 0x8080808080808080
	}
	kp := kernels.AvgParams{
		Bias: int32(-int64(kh*kw) * zx), M: q.mul(kh * kw),
		Lo: float32(q.lo - q.zy), Hi: float32(q.hi - q.zy), Zy: int32(q.zy), Flip: uint32(flip), Eps: q.eps,
	}
	if signed {
		kp.Signed = 1
	}
	// The columns of a full window: x0 ≤ ox < x1.
	x0, x1 := 0, 0
	for ox := range ow {
		if inside[1][ox] == kw {
			if x1 == 0 {
				x0 = ox
			}
			x1 = ox + 1
		}
	}
	// exact is the float unit's output at (oy, ox) of the plane src: the
	// dequantized taps summed in row-major order.
	exact := func(src []byte, oy, ox int) byte {
		var acc float32
		for ky := range kh {
			iy := oy*sh - padT + ky*dh
			if iy < 0 || iy >= ih {
				continue
			}
			for kx := range kw {
				if ix := ox*sw - padL + kx*dw; ix >= 0 && ix < iw {
					acc += q.dq(src[iy*iw+ix], signed)
				}
			}
		}
		return q.exact(acc, counts[0][oy]*counts[1][ox])
	}
	// edge is the output at (oy, ox), a window that is not full whose
	// centered sum is c: with the full count (count_include_pad), the
	// table's entry for the sum its padded taps would have as bytes zx.
	taps := int64(kh * kw)
	edge := func(src []byte, oy, ox int, c int64) byte {
		n := counts[0][oy] * counts[1][ox]
		if int64(n) == taps {
			if i := c + taps*zx; !table.near[i] {
				return table.out[i]
			}
			return exact(src, oy, ox)
		}
		if v, near := q.at(c, n); !near {
			return v
		}
		return exact(src, oy, ox)
	}
	// The rows of full windows: y0 ≤ oy < y1; with 3-wide, stride-2
	// windows, at least 16 across, the row kernel computes them.
	y0, y1 := 0, 0
	for oy := range oh {
		if inside[0][oy] == kh {
			if y1 == 0 {
				y0 = oy
			}
			y1 = oy + 1
		}
	}
	rowKernel := sw == 2 && dw == 1 && kw == 3 && x1-x0 >= 16 && y1 > y0
	// The columns of the windows left and right of the full ones: their
	// taps inside the input, lo ≤ ix < hi by step.
	type edgeCols struct{ ox, lo, hi, step int }
	var edges []edgeCols
	for ox := range ow {
		if ox >= x0 && ox < x1 {
			continue
		}
		e := edgeCols{ox: ox, lo: -1, step: dw}
		for kx := range kw {
			if ix := ox*sw - padL + kx*dw; ix >= 0 && ix < iw {
				if e.lo < 0 {
					e.lo = ix
				}
				e.hi = ix + 1
			}
		}
		if e.lo < 0 {
			e.lo, e.hi = 0, 0
		}
		edges = append(edges, e)
	}
	// Padded column p (input column p − padL) sums into half p&1 at
	// p>>1; the halves hold every column a tap reads.
	width := max(padL+iw, (ow-1)*sw+(kw-1)*dw+1) + 8
	halfLen := (width+1)/2 + 4
	ctx.Parallel(planes, func(first, end int) {
		half := [2][]byte{make([]byte, 2*halfLen), make([]byte, 2*halfLen)}
		// sums holds each output's unsigned window sum (little-endian
		// uint16); stride 1 sums even and odd outputs apart first.
		sums := make([]byte, 2*(ow+8))
		var part [2][]byte
		if sw == 1 {
			part = [2][]byte{make([]byte, 2*(ow+8)), make([]byte, 2*(ow+8))}
		}
		rows := make([][]byte, 0, kh)
		var flags []byte
		if rowKernel {
			flags = make([]byte, oh*ow)
		}
		for pl := first; pl < end; pl++ {
			src := x[pl*ih*iw : (pl+1)*ih*iw]
			dst := y[pl*oh*ow : (pl+1)*oh*ow]
			if rowKernel {
				kernels.AvgPool3S2Rows(dst[y0*ow+x0:], flags[y0*ow+x0:], ow, src[(y0*sh-padT)*iw+2*x0-padL:], sh*iw, dh*iw, kh, x1-x0, y1-y0, &kp)
				// The windows near a tie: the float unit's value. The
				// kernel writes flags only at full windows; the others stay 0.
				lo, hi := y0*ow+x0, (y1-1)*ow+x1
				for i := lo; i < hi; i += 8 {
					if i+8 <= hi && binary.LittleEndian.Uint64(flags[i:]) == 0 {
						continue
					}
					for j := i; j < min(i+8, hi); j++ {
						if flags[j] != 0 {
							dst[j] = exact(src, j/ow, j%ow)
						}
					}
				}
			}
			for oy := range oh {
				if rowKernel && oy >= y0 && oy < y1 {
					// The row kernel did the full windows; the few at the
					// ends sum their taps one by one.
					for _, e := range edges {
						var c int64
						for ky := range kh {
							row := src[(oy*sh-padT+ky*dh)*iw:][:iw]
							for ix := e.lo; ix < e.hi; ix += e.step {
								c += int64(row[ix] ^ byte(flip))
							}
						}
						dst[oy*ow+e.ox] = edge(src, oy, e.ox, c-int64(kh*inside[1][e.ox])*zx)
					}
					continue
				}
				rows = rows[:0]
				base := oy*sh - padT
				for ky := range kh {
					if iy := base + ky*dh; iy >= 0 && iy < ih {
						rows = append(rows, src[iy*iw:(iy+1)*iw])
					}
				}
				out := dst[oy*ow : (oy+1)*ow]
				if len(rows) == 0 {
					for ox := range out {
						out[ox] = edge(src, oy, ox, 0)
					}
					continue
				}
				columnSums(half, rows, padL, flip)
				switch {
				case sw == 2 && dw == 1 && kw == 3:
					// Output ox reads padded columns 2·ox, 2·ox+1, 2·ox+2.
					sum3s2(sums, half[0], half[1], ow)
				case sw == 1:
					// Output ox = 2j+b reads padded column 2j + t, t = b + kx·dw.
					for b := range 2 {
						n := (ow - b + 1) / 2
						for kx := range kw {
							t := b + kx*dw
							addRun(part[b], half[t&1][2*(t>>1):], n, kx == 0)
						}
					}
					for ox := range ow {
						copy(sums[2*ox:2*ox+2], part[ox&1][2*(ox>>1):])
					}
				case sw == 2:
					// Output ox reads padded column 2·ox + t, t = kx·dw.
					for kx := range kw {
						t := kx * dw
						addRun(sums, half[t&1][2*(t>>1):], ow, kx == 0)
					}
				default:
					for ox := range ow {
						var s uint16
						for kx := range kw {
							t := ox*sw + kx*dw
							s += binary.LittleEndian.Uint16(half[t&1][2*(t>>1):])
						}
						binary.LittleEndian.PutUint16(sums[2*ox:], s)
					}
				}
				sum := func(ox int) int64 { return int64(binary.LittleEndian.Uint16(sums[2*ox:])) }
				if inside[0][oy] == kh {
					lookup(out[x0:x1], sums[2*x0:2*x1], &table.out)
					for ox := x0; ox < x1; ox++ {
						if table.near[binary.LittleEndian.Uint16(sums[2*ox:])] {
							out[ox] = exact(src, oy, ox)
						}
					}
					for ox := range x0 {
						out[ox] = edge(src, oy, ox, sum(ox)-int64(kh*inside[1][ox])*zx)
					}
					for ox := x1; ox < ow; ox++ {
						out[ox] = edge(src, oy, ox, sum(ox)-int64(kh*inside[1][ox])*zx)
					}
					continue
				}
				for ox := range ow {
					out[ox] = edge(src, oy, ox, sum(ox)-int64(inside[0][oy]*inside[1][ox])*zx)
				}
			}
		}
	})
}

// columnSums sets the column sums of rows into the halves: input column c
// is padded column p = c + padL, whose sum goes to half[p&1] at p>>1 as a
// little-endian uint16. Bytes are XORed with flip first (int8 → x+128).
// Eight columns at a time: the even and odd bytes of a 64-bit word
// widen into the 16-bit lanes of two words.
func columnSums(half [2][]byte, rows [][]byte, padL int, flip uint64) {
	const m = 0x00ff00ff00ff00ff
	iw := len(rows[0])
	// Input even columns 2j go to half (padL&1) at j + padL>>1; odd ones
	// 2j+1 to half (padL+1)&1 at j + (padL+1)>>1.
	ev, od := half[padL&1][2*(padL>>1):], half[(padL+1)&1][2*((padL+1)>>1):]
	// Whole words: c steps by 8 and the last word starts at the even
	// column end−8 or end−9, overlapping the one before (it writes the
	// same sums again); at most one column is left.
	end := iw
	for c := 0; c+8 <= end; {
		switch len(rows) {
		case 3:
			r0, r1, r2 := rows[0][c:c+8], rows[1][c:c+8], rows[2][c:c+8]
			w0 := binary.LittleEndian.Uint64(r0) ^ flip
			w1 := binary.LittleEndian.Uint64(r1) ^ flip
			w2 := binary.LittleEndian.Uint64(r2) ^ flip
			binary.LittleEndian.PutUint64(ev[c:], w0&m+w1&m+w2&m)
			binary.LittleEndian.PutUint64(od[c:], (w0>>8)&m+(w1>>8)&m+(w2>>8)&m)
		default:
			var e, o uint64
			for _, r := range rows {
				w := binary.LittleEndian.Uint64(r[c:]) ^ flip
				e += w & m
				o += (w >> 8) & m
			}
			binary.LittleEndian.PutUint64(ev[c:], e)
			binary.LittleEndian.PutUint64(od[c:], o)
		}
		switch {
		case c+16 <= end:
			c += 8
		case c+8 < end && (end-8)&^1 > c:
			c = (end - 8) &^ 1
		default:
			c = end
		}
	}
	c := 0
	if iw >= 8 {
		c = ((iw-8)&^1 + 8)
	}
	for ; c < iw; c++ {
		var s uint16
		for _, r := range rows {
			s += uint16(r[c] ^ byte(flip))
		}
		if c&1 == 0 {
			binary.LittleEndian.PutUint16(ev[c:], s)
		} else {
			binary.LittleEndian.PutUint16(od[c-1:], s)
		}
	}
}

// addRun sets (set) or adds to dst the first n little-endian uint16 of
// src, four lanes to a 64-bit word (sums stay below 2¹⁶, so lanes never
// carry into each other).
func addRun(dst, src []byte, n int, set bool) {
	i := 0
	if set {
		copy(dst[:2*n], src[:2*n])
		return
	}
	for ; i+4 <= n; i += 4 {
		binary.LittleEndian.PutUint64(dst[2*i:], binary.LittleEndian.Uint64(dst[2*i:])+binary.LittleEndian.Uint64(src[2*i:]))
	}
	for ; i < n; i++ {
		binary.LittleEndian.PutUint16(dst[2*i:], binary.LittleEndian.Uint16(dst[2*i:])+binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// sum3s2 sets sums[j] = even[j] + odd[j] + even[j+1] for j < n (little-endian
// uint16 runs): the column sums of a 3-wide, stride-2 window.
func sum3s2(sums, even, odd []byte, n int) {
	j := 0
	for ; j+4 <= n; j += 4 {
		v := binary.LittleEndian.Uint64(even[2*j:]) + binary.LittleEndian.Uint64(odd[2*j:]) + binary.LittleEndian.Uint64(even[2*j+2:])
		binary.LittleEndian.PutUint64(sums[2*j:], v)
	}
	for ; j < n; j++ {
		v := binary.LittleEndian.Uint16(even[2*j:]) + binary.LittleEndian.Uint16(odd[2*j:]) + binary.LittleEndian.Uint16(even[2*j+2:])
		binary.LittleEndian.PutUint16(sums[2*j:], v)
	}
}

// lookup sets out[i] = table[sums[i]], sums little-endian uint16.
func lookup(out, sums []byte, table *[1 << 16]byte) {
	sums = sums[:2*len(out)]
	i := 0
	for ; i+4 <= len(out); i += 4 {
		v := binary.LittleEndian.Uint64(sums[2*i:])
		o := out[i : i+4 : i+4]
		o[0] = table[uint16(v)]
		o[1] = table[uint16(v>>16)]
		o[2] = table[uint16(v>>32)]
		o[3] = table[uint16(v>>48)]
	}
	for ; i < len(out); i++ {
		out[i] = table[binary.LittleEndian.Uint16(sums[2*i:])]
	}
}
