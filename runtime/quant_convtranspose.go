// quant_convtranspose.go holds ai.onnxq QLinearConvTranspose, the integer
// form of a DequantizeLinear → ConvTranspose → QuantizeLinear unit, which
// ONNX has no op for. Its inputs are QLinearConv's, with the weight laid
// out as ConvTranspose's [C, M/group, kernel...]:
//
//	x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B
//
// and its attributes are ConvTranspose's. x_scale is one value; w_scale
// and w_zero_point one value or one per output channel m (index
// g·M/group + o for column o of group g's weights); B is int32 [M] at
// scale x_scale·w_scale. With acc the exact (int32, wrapping) sum
//
//	acc[n,m,out] = B[m] + Σ (x[n,c,in] − zx)·(w[c,o,tap] − zw[m])
//
// over the input positions and taps that reach out, the output is
// requantize(acc, x_scale·w_scale[m]/y_scale, y_zero_point) as
// QLinearConv computes it; without y_scale and y_zero_point it is the
// float32 value float32(acc)·(x_scale·w_scale[m]).
//
// The reference is the plain loop over inputs, channels and taps (any
// rank, any zero points). 2-D convolutions of int8 weights with zero
// points 0 run per image and group as a GEMM of the transposed weights
// (rows: output channel and tap; depth: the group's input channels) by
// the input planes (kernels.IgemmWX; an int8 x is read as x+128, which the
// zero-point term (zx+128)·Σw absorbs), then a col2im that adds each
// row's sums into the output positions they reach. When the taps do not
// overlap ((k−1)·d < s on both axes, upsampling as in a k2 s2 head) each
// output receives exactly one row's sum: the tiles requantize and write
// their outputs directly, and positions no tap reaches hold the bias
// alone. The sums are exact, so every path gives the reference's bits for
// any thread count.

package runtime

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// intConvTransposeKernel is ai.onnxq QLinearConvTranspose.
type intConvTransposeKernel struct {
	ct *convTransposeKernel
	// packed are each group's transposed weights for IgemmWX.
	packed groupCache[*kernels.PackedW8]
}

func newIntConvTranspose(n *graph.Node, opset int64) (Kernel, error) {
	k, err := buildConvTranspose(n, opset)
	if err != nil {
		return nil, err
	}
	return &intConvTransposeKernel{ct: k.(*convTransposeKernel)}, nil
}

// qctArgs are the checked operands of one QLinearConvTranspose call.
type qctArgs struct {
	s      *transposeShape
	x      *Tensor
	w      *Tensor
	zx     int32
	zw     []int32 // per output channel
	bias   []int32 // nil or per output channel
	scales []float32
	// floatOut: the output is float32(acc)·scales[m]; otherwise it is
	// requantized with scales[m], zy and [lo, hi] into outType.
	floatOut bool
	zy, lo   int64
	hi       int64
	outType  graph.DType
}

func (k *intConvTransposeKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	a, err := k.args(in)
	if err != nil {
		return nil, err
	}
	fixed := !a.floatOut && ctx.requantizer() == RequantizeFixedPoint
	s := a.s
	var y *Tensor
	if a.floatOut {
		y = ctx.Alloc(graph.Float32, s.outShape...)
	} else {
		y = ctx.allocFull(a.outType, s.outShape...) // every path writes every element
	}
	if s.outPlane == 0 || s.n == 0 || s.m == 0 {
		return []*Tensor{y}, nil
	}
	fast := !forceReferenceQConv && a.x.Rank() == 4 && a.w.DType == graph.Int8 && !slices.ContainsFunc(a.zw, func(z int32) bool { return z != 0 })
	if fast && !fixed && transposeScatters(s.win) {
		k.direct(ctx, a, y)
		return []*Tensor{y}, nil
	}
	var acc []int32
	if fast {
		acc = k.sumsGEMM(ctx, a)
	} else {
		acc = a.sumsRef(ctx)
	}
	if err := a.epilogue(ctx, acc, y, fixed); err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// args reads and checks the inputs.
func (k *intConvTransposeKernel) args(in []*Tensor) (*qctArgs, error) {
	arg := func(i int) *Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	x, xs, xzp, w, ws, wzp, ys, yzp, bias := arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8)
	if x == nil || w == nil {
		return nil, fmt.Errorf("QLinearConvTranspose needs x and w")
	}
	if x.DType != graph.Uint8 && x.DType != graph.Int8 || w.DType != graph.Uint8 && w.DType != graph.Int8 {
		return nil, fmt.Errorf("QLinearConvTranspose: x %v and w %v must be 8-bit integers", x.DType, w.DType)
	}
	s, err := k.ct.shape(x, w, nil)
	if err != nil {
		return nil, err
	}
	a := &qctArgs{s: s, x: x, w: w}
	if bias != nil {
		b, ok := bias.Data.([]int32)
		if !ok || bias.Rank() != 1 || len(b) != s.m {
			return nil, fmt.Errorf("QLinearConvTranspose: B must be int32 [%d], got %v", s.m, bias)
		}
		a.bias = b
	}
	xsv, err := readScales("x_scale", xs)
	if err != nil {
		return nil, err
	}
	wsv, err := readScales("w_scale", ws)
	if err != nil {
		return nil, err
	}
	if len(xsv) != 1 || len(wsv) != 1 && len(wsv) != s.m {
		return nil, fmt.Errorf("QLinearConvTranspose: x_scale must be one value, w_scale one or one per output channel (%d)", s.m)
	}
	if xzp != nil {
		if xzp.DType != x.DType || xzp.Len() != 1 {
			return nil, fmt.Errorf("x_zero_point must be one value of x's type, got %v", xzp)
		}
		z, _ := int32sOf(xzp)
		a.zx = z[0]
	}
	a.zw = make([]int32, s.m)
	if wzp != nil {
		if wzp.DType != w.DType || wzp.Len() != 1 && wzp.Len() != s.m {
			return nil, fmt.Errorf("w_zero_point must be one value or one per output channel of w's type, got %v", wzp)
		}
		z, _ := int32sOf(wzp)
		for m := range a.zw {
			a.zw[m] = z[min(m, len(z)-1)]
		}
	}
	a.scales = make([]float32, s.m)
	if ys == nil && yzp == nil {
		a.floatOut = true
		for m := range a.scales {
			a.scales[m] = xsv[0] * wsv[min(m, len(wsv)-1)]
		}
		return a, nil
	}
	ysv, err := readScales("y_scale", ys)
	if err != nil {
		return nil, err
	}
	if len(ysv) != 1 {
		return nil, fmt.Errorf("y_scale must be one value")
	}
	a.outType = x.DType
	if yzp != nil {
		a.outType = yzp.DType
		if yzp.Len() != 1 {
			return nil, fmt.Errorf("y_zero_point must be one value, got %v", yzp)
		}
	}
	lo, hi, ok := quantRange(a.outType)
	if !ok || a.outType != graph.Uint8 && a.outType != graph.Int8 {
		return nil, fmt.Errorf("output type %v is not int8 or uint8", a.outType)
	}
	zys, err := readZeroPoints(yzp, 1)
	if err != nil {
		return nil, err
	}
	a.zy, a.lo, a.hi = zys[0], lo, hi
	for m := range a.scales {
		a.scales[m] = scaleMath(graph.Float32).combine(xsv[0], wsv[min(m, len(wsv)-1)], ysv[0])
	}
	return a, nil
}

// sumsRef is the reference: acc[n,m,out] by the plain loop.
func (a *qctArgs) sumsRef(ctx *Context) []int32 {
	s := a.s
	win := s.win
	r := len(win.in)
	xv, _ := int32sOf(a.x)
	wv, _ := int32sOf(a.w)
	acc := make([]int32, s.n*s.m*s.outPlane)
	ctx.Parallel(s.n*s.m, func(lo, hi int) {
		ipos, kpos := make([]int, r), make([]int, r)
		for task := lo; task < hi; task++ {
			n, m := task/s.m, task%s.m
			dst := acc[task*s.outPlane:][:s.outPlane]
			if a.bias != nil {
				fill(dst, a.bias[m])
			}
			g, o := m/s.coutG, m%s.coutG
			for c := range s.cinG {
				ci := g*s.cinG + c
				xc := xv[(n*s.c+ci)*s.inPlane:][:s.inPlane]
				wc := wv[(ci*s.coutG+o)*s.kk:][:s.kk]
				for t := range s.kk {
					unravel(t, win.k, kpos)
					wt := wc[t] - a.zw[m]
					for i := range s.inPlane {
						unravel(i, win.in, ipos)
						off, ok := win.tapOffset(ipos, kpos, win.out, r)
						if ok {
							dst[off] += (xc[i] - a.zx) * wt
						}
					}
				}
			}
		}
	})
	return acc
}

// epilogue turns the sums acc into y: float32(acc)·scale, or
// requantized (float32 as QLinearConv, or fixed point).
func (a *qctArgs) epilogue(ctx *Context, acc []int32, y *Tensor, fixed bool) error {
	s := a.s
	if a.floatOut {
		out := y.F32()
		ctx.Parallel(s.n*s.m, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				kernels.ScaleSums(out[t*s.outPlane:][:s.outPlane], acc[t*s.outPlane:], 0, a.scales[t%s.m])
			}
		})
		return nil
	}
	out := outputBytes(y)
	if fixed {
		fm, err := fixedMultipliers(a.scales)
		if err != nil {
			return err
		}
		for e, v := range acc {
			out[e] = byte(fm[e/s.outPlane%s.m].apply(v, a.zy, a.lo, a.hi))
		}
		return nil
	}
	ctx.Parallel(s.n*s.m, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			rq := newRequantizer(a.scales[t%s.m], a.zy, a.lo, a.hi)
			dst, src := out[t*s.outPlane:][:s.outPlane], acc[t*s.outPlane:][:s.outPlane]
			if rq.exact {
				rq.run(dst, src, 0)
				continue
			}
			for i, v := range src {
				dst[i] = byte(requantize(v, rq.scale, a.zy, a.lo, a.hi))
			}
		}
	})
	return nil
}

// ctGEMM is the GEMM side of the fast paths: each group's transposed
// weights, packed, and the activations' bytes.
type ctGEMM struct {
	packed []*kernels.PackedW8
	xb     []byte
	flip   bool
	zxU    int32 // the zero point as the GEMM reads x
	tile   int   // input positions per task, a multiple of the panel
	tiles  int   // tasks per image and group
}

func (k *intConvTransposeKernel) gemm(a *qctArgs) *ctGEMM {
	s := a.s
	wd := a.w.Data.([]int8)
	rows := s.coutG * s.kk
	c := &ctGEMM{xb: outputBytes(a.x), flip: a.x.DType == graph.Int8, zxU: a.zx}
	c.packed = k.packed.get(wd, s.group, func(g int) *kernels.PackedW8 {
		wt := make([]int8, rows*s.cinG)
		for ic := range s.cinG {
			src := wd[(g*s.cinG+ic)*rows:][:rows]
			for r, v := range src {
				wt[r*s.cinG+ic] = v
			}
		}
		return kernels.PackW8(rows, s.cinG, wt, s.cinG)
	})
	if c.flip {
		c.zxU += 128
	}
	c.tile = wxTile(c.packed[0].Kp, c.packed[0].Rows(), s.inPlane)
	c.tiles = (s.inPlane + c.tile - 1) / c.tile
	return c
}

// run computes the sums of image n, group g, input positions p0… (cols
// of them) into acc (row r at r·ldc): Σ_c w·x as the GEMM reads x.
func (c *ctGEMM) run(a *qctArgs, n, g, p0, cols int, xq []byte, acc []int32, ldc int) {
	c.pack(a, n, g, p0, cols, xq)
	kernels.IgemmWX(c.packed[g], cols, xq, acc, ldc)
}

// pack packs the activations of run into xq.
func (c *ctGEMM) pack(a *qctArgs, n, g, p0, cols int, xq []byte) {
	s := a.s
	pw := c.packed[g]
	row := func(d int) []byte {
		if d >= s.cinG {
			d = 0 // zero weights past the group's channels: any plane serves
		}
		return c.xb[(n*s.c+g*s.cinG+d)*s.inPlane+p0:]
	}
	for q := range pw.Kp / 4 {
		kernels.PackQuads(xq, pw.Kp, q, row(4*q), row(4*q+1), row(4*q+2), row(4*q+3), cols, c.flip)
	}
}

// runQ is run with each row r requantized by rq[r] in the GEMM's
// epilogue: bytes at out[r·c.tile + p].
func (c *ctGEMM) runQ(a *qctArgs, n, g, p0, cols int, xq, out []byte, rq []kernels.Requant) {
	c.pack(a, n, g, p0, cols, xq)
	kernels.IgemmWXQ(c.packed[g], cols, xq, out, c.tile, rq)
}

// sumsGEMM computes acc[n,m,out] for a 2-D convolution of int8 weights
// with zero points 0: per image and group, the GEMM into the rows of
// every input position, then per output channel its taps added into its
// plane.
func (k *intConvTransposeKernel) sumsGEMM(ctx *Context, a *qctArgs) []int32 {
	s := a.s
	win := s.win
	c := k.gemm(a)
	pw0 := c.packed[0]
	ldc := c.tiles * c.tile
	cols, doneCols := scratchInt32s(pw0.Rows() * ldc)
	defer doneCols()
	acc := make([]int32, s.n*s.m*s.outPlane)
	H, W := win.in[0], win.in[1]
	OH, OW := win.out[0], win.out[1]
	for n := range s.n {
		for g := range s.group {
			ctx.Parallel(c.tiles, func(lo, hi int) {
				xq, doneX := scratchBytes(kernels.QuadsLen(pw0.Kp, c.tile))
				defer doneX()
				for t := lo; t < hi; t++ {
					p0 := t * c.tile
					c.run(a, n, g, p0, min(c.tile, s.inPlane-p0), xq, cols[p0:], ldc)
				}
			})
			pw := c.packed[g]
			ctx.Parallel(s.coutG, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					m := g*s.coutG + o
					dst := acc[(n*s.m+m)*s.outPlane:][:s.outPlane]
					if a.bias != nil {
						fill(dst, a.bias[m])
					}
					for t := range s.kk {
						r := o*s.kk + t
						add := -c.zxU * pw.RowSums[r]
						src := cols[r*ldc:]
						offH := t/win.k[1]*win.d[0] - win.padB[0]
						offW := t%win.k[1]*win.d[1] - win.padB[1]
						h0, h1 := validRange(offH, win.s[0], OH, H)
						w0, w1 := validRange(offW, win.s[1], OW, W)
						for ih := h0; ih < h1; ih++ {
							drow := dst[(ih*win.s[0]+offH)*OW:][:OW]
							srow := src[ih*W:][:W]
							for iw := w0; iw < w1; iw++ {
								drow[iw*win.s[1]+offW] += srow[iw] + add
							}
						}
					}
				}
			})
		}
	}
	return acc
}

// direct computes a 2-D convolution of int8 weights with zero points 0
// whose taps do not overlap: each task's GEMM rows (output channel and
// tap) are requantized (in the GEMM's registers when every channel's
// requantization is exact) or scaled into a grid of values, whose runs
// are then written to the one output position each sum reaches: a
// 2-wide, stride-2 row of taps interleaves two runs into whole output
// rows. Positions no tap reaches are set from the bias first.
func (k *intConvTransposeKernel) direct(ctx *Context, a *qctArgs, y *Tensor) {
	s := a.s
	win := s.win
	H, W := win.in[0], win.in[1]
	OH, OW := win.out[0], win.out[1]
	var out []byte
	var outF []float32
	if a.floatOut {
		outF = y.F32()
	} else {
		out = outputBytes(y)
	}
	rqs := make([]requantizer, s.m)
	exact := true
	for m := range rqs {
		rqs[m] = newRequantizer(a.scales[m], a.zy, a.lo, a.hi)
		exact = exact && rqs[m].exact
	}
	k.fillUnreached(ctx, a, out, outF)
	if H == 0 || W == 0 {
		return
	}
	c := k.gemm(a)
	pw0 := c.packed[0]
	rows := s.coutG * s.kk
	kw := win.k[1]
	// A row of two taps at stride 2 covers whole output rows.
	pairs := kw == 2 && win.s[1] == 2 && win.d[1] == 1 && win.padB[1] == 0 && OW >= 2*W
	ctx.Parallel(s.n*s.group*c.tiles, func(first, last int) {
		xq, doneX := scratchBytes(kernels.QuadsLen(pw0.Kp, c.tile))
		defer doneX()
		acc, doneAcc := scratchInt32s(pw0.Rows() * c.tile)
		defer doneAcc()
		var grid8 []byte
		var gridF []float32
		if a.floatOut {
			gridF = make([]float32, rows*c.tile)
		} else {
			var done func()
			grid8, done = scratchBytes(rows * c.tile)
			defer done()
		}
		kq := make([]kernels.Requant, rows)
		adds := make([]int32, rows)
		for task := first; task < last; task++ {
			n, g, t := task/(s.group*c.tiles), task/c.tiles%s.group, task%c.tiles
			p0 := t * c.tile
			cols := min(c.tile, s.inPlane-p0)
			pw := c.packed[g]
			for r := range rows {
				m := g*s.coutG + r/s.kk
				adds[r] = -c.zxU * pw.RowSums[r]
				if a.bias != nil {
					adds[r] += a.bias[m]
				}
				rq := &rqs[m]
				kq[r] = kernels.Requant{Add: adds[r], Scale: rq.scale, Lo: rq.lo, Hi: rq.hi, ZP: rq.zp}
			}
			// The values of the task's rows, row r at r·tile.
			if !a.floatOut && exact {
				c.runQ(a, n, g, p0, cols, xq, grid8, kq)
			} else {
				c.run(a, n, g, p0, cols, xq, acc, c.tile)
				for r := range rows {
					m := g*s.coutG + r/s.kk
					sums := acc[r*c.tile:][:cols]
					switch {
					case a.floatOut:
						kernels.ScaleSums(gridF[r*c.tile:][:cols], sums, adds[r], a.scales[m])
					case rqs[m].exact:
						rqs[m].run(grid8[r*c.tile:][:cols], sums, adds[r])
					default:
						for i, v := range sums {
							grid8[r*c.tile+i] = byte(requantize(v+adds[r], a.scales[m], a.zy, a.lo, a.hi))
						}
					}
				}
			}
			for r := range rows {
				o, tap := r/s.kk, r%s.kk
				ki, kj := tap/kw, tap%kw
				if pairs && kj == 1 {
					continue // written with its kj = 0 twin
				}
				plane := (n*s.m + g*s.coutG + o) * s.outPlane
				offH := ki*win.d[0] - win.padB[0]
				offW := kj*win.d[1] - win.padB[1]
				h0, h1 := validRange(offH, win.s[0], OH, H)
				w0, w1 := validRange(offW, win.s[1], OW, W)
				if w0 >= w1 {
					continue
				}
				// The input rows of this tile, each cut to the columns
				// that reach an output.
				for ih := max(h0, p0/W); ih < h1 && ih*W < p0+cols; ih++ {
					a0, a1 := max(w0, p0-ih*W), min(w1, p0+cols-ih*W)
					if a0 >= a1 {
						continue
					}
					src := r*c.tile + ih*W + a0 - p0
					dst := plane + (ih*win.s[0]+offH)*OW + a0*win.s[1] + offW
					switch {
					case pairs && a.floatOut:
						kernels.Interleave(outF[dst:][:2*(a1-a0)], gridF[src:][:a1-a0], gridF[src+c.tile:][:a1-a0])
					case pairs:
						kernels.InterleaveBytes(out[dst:][:2*(a1-a0)], grid8[src:][:a1-a0], grid8[src+c.tile:][:a1-a0])
					case a.floatOut:
						scatterRun(outF[dst:], gridF[src:][:a1-a0], win.s[1])
					default:
						scatterRun(out[dst:], grid8[src:][:a1-a0], win.s[1])
					}
				}
			}
		}
	})
}

// fillUnreached sets the outputs no tap reaches to the value of the bias
// alone. An axis position is reached or not, and an output is reached
// when both of its coordinates are.
func (k *intConvTransposeKernel) fillUnreached(ctx *Context, a *qctArgs, out []byte, outF []float32) {
	s := a.s
	win := s.win
	reached := func(axis int) ([]bool, bool) {
		hit, all := make([]bool, win.out[axis]), true
		for t := range win.k[axis] {
			off := t*win.d[axis] - win.padB[axis]
			i0, i1 := validRange(off, win.s[axis], win.out[axis], win.in[axis])
			for i := i0; i < i1; i++ {
				hit[i*win.s[axis]+off] = true
			}
		}
		for _, h := range hit {
			all = all && h
		}
		return hit, all
	}
	hitH, allH := reached(0)
	hitW, allW := reached(1)
	if allH && allW {
		return
	}
	OH, OW := win.out[0], win.out[1]
	ctx.Parallel(s.n*s.m, func(lo, hi int) {
		for task := lo; task < hi; task++ {
			m := task % s.m
			b := int32(0)
			if a.bias != nil {
				b = a.bias[m]
			}
			plane := task * s.outPlane
			for oh := range OH {
				for ow := range OW {
					if hitH[oh] && hitW[ow] {
						continue
					}
					if a.floatOut {
						outF[plane+oh*OW+ow] = float32(b) * a.scales[m]
					} else {
						out[plane+oh*OW+ow] = byte(requantize(b, a.scales[m], a.zy, a.lo, a.hi))
					}
				}
			}
		}
	})
}

// scatterRun sets dst[i·stride] = src[i].
func scatterRun[T byte | float32](dst, src []T, stride int) {
	if len(src) == 0 {
		return
	}
	dst = dst[:(len(src)-1)*stride+1]
	for i, v := range src {
		dst[i*stride] = v
	}
}
