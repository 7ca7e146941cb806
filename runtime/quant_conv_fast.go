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
	"github.com/onnxq/onnxq/graph"
)

// fastConvTile is how many output positions one im2col tile holds.
const fastConvTile = 128

// qconvArgs are the checked operands of one QLinearConv call.
type qconvArgs struct {
	x        *Tensor // uint8 or int8 [N,C,H,W]
	w        []int8  // [M, C/G, KH, KW]
	M, G     int
	kh, kw   int
	win      *window
	zx       int32
	zw       []int32 // per output channel
	bias     []int32 // nil or per output channel
	scales   []float32
	zy       int64
	lo, hi   int64
	outType  graph.DType
	outShape []int
}

// newQConvArgs checks whether a QLinearConv call fits the fast path: a
// 2-D convolution of uint8 or int8 x with int8 w, one x zero point, w zero
// points per tensor or per output channel. It returns nil otherwise.
func (k *intConvKernel) newQConvArgs(x, xzp, w, wzp, bias *Tensor, scales []float32, zy, lo, hi int64, outType graph.DType) *qconvArgs {
	if x.Rank() != 4 || w.Rank() != 4 || (x.DType != graph.Uint8 && x.DType != graph.Int8) || w.DType != graph.Int8 {
		return nil
	}
	wd, ok := w.Data.([]int8)
	if !ok {
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
		if wzp.DType != graph.Int8 || (wzp.Len() != 1 && wzp.Len() != M) {
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
	if bias != nil {
		b, ok := bias.Data.([]int32)
		if !ok || len(b) != M {
			return nil
		}
		a.bias = b
	}
	return a
}

// fastQLinearConv runs a on the fast path and returns the output.
func fastQLinearConv(ctx *Context, a *qconvArgs) *Tensor {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	P := OH * OW
	cg, mg := C/a.G, a.M/a.G
	K := cg * a.kh * a.kw
	y := ctx.Alloc(a.outType, N, a.M, OH, OW)
	store := quantStore(y)
	if cg == 1 && mg == 1 {
		fastDepthwise(ctx, a, store)
		return y
	}
	xs8, _ := a.x.Data.([]int8)
	xu8, _ := a.x.Data.([]uint8)
	// Column sums of each output channel's weights.
	colSum := make([]int32, a.M)
	for c := range a.M {
		s := int32(0)
		for _, v := range a.w[c*K : (c+1)*K] {
			s += int32(v)
		}
		colSum[c] = s
	}
	tiles := (P + fastConvTile - 1) / fastConvTile
	ctx.Parallel(N*a.G*tiles, func(first, last int) {
		patch := make([]int32, fastConvTile*K)
		rowSum := make([]int32, fastConvTile)
		acc := make([]int32, fastConvTile*mg)
		for task := first; task < last; task++ {
			n, g, t := task/(a.G*tiles), task/tiles%a.G, task%tiles
			p0 := t * fastConvTile
			rows := min(fastConvTile, P-p0)
			// im2col: patch[r*K + (ci*kh + i)*kw + j].
			for r := range rows {
				oh, ow := (p0+r)/OW, (p0+r)%OW
				row := patch[r*K : (r+1)*K]
				q := 0
				sum := int32(0)
				for ci := range cg {
					plane := ((n * C) + g*cg + ci) * H * W
					for i := range a.kh {
						ih := oh*a.win.s[0] - a.win.padB[0] + i*a.win.d[0]
						for j := range a.kw {
							iw := ow*a.win.s[1] - a.win.padB[1] + j*a.win.d[1]
							v := a.zx
							if ih >= 0 && ih < H && iw >= 0 && iw < W {
								if xu8 != nil {
									v = int32(xu8[plane+ih*W+iw])
								} else {
									v = int32(xs8[plane+ih*W+iw])
								}
							}
							row[q] = v
							sum += v
							q++
						}
					}
				}
				rowSum[r] = sum
			}
			gemmPatches(rows, mg, K, patch, a.w[g*mg*K:], acc)
			for r := range rows {
				p := p0 + r
				for c := range mg {
					m := g*mg + c
					v := acc[r*mg+c] - a.zx*colSum[m] - a.zw[m]*rowSum[r] + int32(K)*a.zx*a.zw[m]
					if a.bias != nil {
						v += a.bias[m]
					}
					store((n*a.M+m)*P+p, requantize(v, a.scales[m], a.zy, a.lo, a.hi))
				}
			}
		}
	})
	return y
}

// gemmPatches sets acc[r*n+c] = Σ_p patch[r*k+p]·w[c*k+p].
func gemmPatches(m, n, k int, patch []int32, w []int8, acc []int32) {
	for r := range m {
		a := patch[r*k : (r+1)*k]
		for c := range n {
			b := w[c*k : (c+1)*k]
			s := int32(0)
			for p, v := range a {
				s += v * int32(b[p])
			}
			acc[r*n+c] = s
		}
	}
}

// fastDepthwise computes a depthwise convolution (one input and one output
// channel per group) directly.
func fastDepthwise(ctx *Context, a *qconvArgs, store func(int, int64)) {
	N, C := a.x.Shape[0], a.x.Shape[1]
	H, W := a.win.in[0], a.win.in[1]
	OH, OW := a.win.out[0], a.win.out[1]
	xs8, _ := a.x.Data.([]int8)
	xu8, _ := a.x.Data.([]uint8)
	taps := a.kh * a.kw
	ctx.Parallel(N*C, func(first, last int) {
		xv := make([]int32, H*W)
		for task := first; task < last; task++ {
			n, c := task/C, task%C
			plane := (n*C + c) * H * W
			for i := range xv {
				if xu8 != nil {
					xv[i] = int32(xu8[plane+i]) - a.zx
				} else {
					xv[i] = int32(xs8[plane+i]) - a.zx
				}
			}
			wv := make([]int32, taps)
			for i := range wv {
				wv[i] = int32(a.w[c*taps+i]) - a.zw[c]
			}
			b := int32(0)
			if a.bias != nil {
				b = a.bias[c]
			}
			out := (n*a.M + c) * OH * OW
			for oh := range OH {
				for ow := range OW {
					s := b
					for i := range a.kh {
						ih := oh*a.win.s[0] - a.win.padB[0] + i*a.win.d[0]
						if ih < 0 || ih >= H {
							continue
						}
						for j := range a.kw {
							iw := ow*a.win.s[1] - a.win.padB[1] + j*a.win.d[1]
							if iw < 0 || iw >= W {
								continue
							}
							s += xv[ih*W+iw] * wv[i*a.kw+j]
						}
					}
					store(out+oh*OW+ow, requantize(s, a.scales[c], a.zy, a.lo, a.hi))
				}
			}
		}
	})
}

// quantStore returns a setter of element i of an 8-bit output tensor.
func quantStore(y *Tensor) func(int, int64) {
	switch d := y.Data.(type) {
	case []uint8:
		return func(i int, v int64) { d[i] = uint8(v) }
	case []int8:
		return func(i int, v int64) { d[i] = int8(v) }
	}
	return func(int, int64) {}
}

// forceReferenceQConv makes QLinearConv skip the fast path, so tests can
// compare the two.
var forceReferenceQConv = false
