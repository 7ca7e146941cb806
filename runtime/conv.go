// This file holds the convolution kernels Conv and ConvTranspose (1-D, 2-D,
// 3-D and more; groups, dilations, strides, pads, auto_pad, bias).
//
// Float32 Conv has three paths. Depthwise (one input channel per group)
// and most 1-D/2-D convolutions run directly on a laid-out copy of the
// input planes with row kernels (conv_plane.go); small planes with many
// output channels, and 3-D convolutions, run as a GEMM per image and group
// whose B panels are packed straight from the image (implicit im2col; an
// explicit im2col buffer beyond 2-D). ConvTranspose whose kernel taps do
// not overlap (upsampling: (k-1)·d < s) computes one plane per output
// channel and tap with row kernels and scatters it; otherwise it is a GEMM
// (Wᵀ·X) followed by col2im. Float16 and bfloat16 go through float32;
// float64 uses the plain loops, which are also the tests' reference.

package runtime

import (
	"fmt"
	"sync"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerConv(r *Registry) {
	r.Register("", "Conv", buildConv)
	r.Register("", "ConvTranspose", buildConvTranspose)
}

// windowAttrs are the sliding-window attributes of convolutions and
// pooling, as written on the node (nil when absent).
type windowAttrs struct {
	op        string
	autoPad   string
	kernel    []int
	strides   []int
	pads      []int
	dilations []int
}

func readWindowAttrs(n *graph.Node) (*windowAttrs, error) {
	a := &windowAttrs{op: n.OpType, autoPad: n.AttrString("auto_pad", "NOTSET")}
	switch a.autoPad {
	case "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID":
	case "":
		a.autoPad = "NOTSET"
	default:
		return nil, fmt.Errorf("%s: auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", n.OpType, a.autoPad)
	}
	var err error
	if a.kernel, err = intsAttr(n, "kernel_shape", 1); err != nil {
		return nil, err
	}
	if a.strides, err = intsAttr(n, "strides", 1); err != nil {
		return nil, err
	}
	if a.dilations, err = intsAttr(n, "dilations", 1); err != nil {
		return nil, err
	}
	if a.pads, err = intsAttr(n, "pads", 0); err != nil {
		return nil, err
	}
	return a, nil
}

// intsAttr reads an ints attribute whose values must be at least lowest.
func intsAttr(n *graph.Node, name string, lowest int64) ([]int, error) {
	v := n.AttrInts(name)
	if v == nil {
		return nil, nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < lowest || x > 1<<30 {
			return nil, fmt.Errorf("%s: %s %v has a value out of range", n.OpType, name, v)
		}
		out[i] = int(x)
	}
	return out, nil
}

// window is the resolved geometry of a sliding window over r spatial axes.
type window struct {
	in, out, k, s, d, padB, padE []int
}

// tapOffset is the row-major offset, in a grid of sizes plane, of kernel
// tap kpos at position pos over the first n axes (strides, padding and
// dilations applied); ok is false when the tap falls outside the grid.
// Convolutions and pools read input taps with it (plane w.in), transposed
// convolutions write output taps (plane w.out).
func (w *window) tapOffset(pos, kpos, plane []int, n int) (off int, ok bool) {
	for j := range n {
		p := pos[j]*w.s[j] - w.padB[j] + kpos[j]*w.d[j]
		if p < 0 || p >= plane[j] {
			return 0, false
		}
		off = off*plane[j] + p
	}
	return off, true
}

// ConvWindow is how a convolution's window sits on one input, per
// spatial axis: output sizes, strides, dilations and the padding before
// the first element.
type ConvWindow struct {
	Out, Strides, Dilations, PadBegin []int
}

// ResolveConvWindow reads the strides, dilations, pads and auto_pad of the
// Conv n and resolves them over spatial input sizes in and kernel sizes k,
// as the runtime's convolution kernels do.
func ResolveConvWindow(n *graph.Node, in, k []int) (ConvWindow, error) {
	a, err := readWindowAttrs(n)
	if err != nil {
		return ConvWindow{}, err
	}
	w, err := a.resolve(in, k)
	if err != nil {
		return ConvWindow{}, err
	}
	return ConvWindow{Out: w.out, Strides: w.s, Dilations: w.d, PadBegin: w.padB}, nil
}

func product(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// resolve checks the attributes against the input's spatial shape and
// kernel, and computes pads (auto_pad) and the output shape of a
// convolution (floor rounding).
func (a *windowAttrs) resolve(in, k []int) (*window, error) {
	r := len(in)
	w := &window{in: in, k: k, out: make([]int, r), padB: make([]int, r), padE: make([]int, r)}
	var err error
	if w.s, err = a.perAxis("strides", a.strides, r, 1); err != nil {
		return nil, err
	}
	if w.d, err = a.perAxis("dilations", a.dilations, r, 1); err != nil {
		return nil, err
	}
	if a.pads != nil && len(a.pads) != 2*r {
		return nil, fmt.Errorf("%s: pads %v need %d values for %d spatial axes", a.op, a.pads, 2*r, r)
	}
	for i := 0; i < r; i++ {
		if k[i] < 1 {
			return nil, fmt.Errorf("%s: kernel shape %v has an empty axis", a.op, k)
		}
		dk := (k[i]-1)*w.d[i] + 1
		switch a.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			w.out[i] = (in[i] + w.s[i] - 1) / w.s[i]
			total := max(0, (w.out[i]-1)*w.s[i]+dk-in[i])
			small, big := total/2, total-total/2
			if a.autoPad == "SAME_UPPER" {
				w.padB[i], w.padE[i] = small, big
			} else {
				w.padB[i], w.padE[i] = big, small
			}
		case "VALID":
			if in[i] < dk {
				return nil, fmt.Errorf("%s: kernel %v (dilations %v) is larger than the input %v", a.op, k, w.d, in)
			}
			w.out[i] = (in[i]-dk)/w.s[i] + 1
		default:
			if a.pads != nil {
				w.padB[i], w.padE[i] = a.pads[i], a.pads[i+r]
			}
			span := in[i] + w.padB[i] + w.padE[i] - dk
			if span < 0 {
				return nil, fmt.Errorf("%s: kernel %v (dilations %v) is larger than the padded input %v", a.op, k, w.d, in)
			}
			w.out[i] = span/w.s[i] + 1
		}
	}
	return w, nil
}

func (a *windowAttrs) perAxis(name string, v []int, r, def int) ([]int, error) {
	if v == nil {
		out := make([]int, r)
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(v) != r {
		return nil, fmt.Errorf("%s: %s %v need %d values", a.op, name, v, r)
	}
	return v, nil
}

// pointwise reports a 1×1 window with unit strides and no padding: the
// input itself is the im2col matrix.
func (w *window) pointwise() bool {
	for i := range w.k {
		if w.k[i] != 1 || w.s[i] != 1 || w.padB[i] != 0 || w.padE[i] != 0 {
			return false
		}
	}
	return true
}

func ctxThreads(ctx *Context) int {
	if ctx == nil || ctx.Threads < 1 {
		return 1
	}
	return ctx.Threads
}

// scratchPool recycles im2col and col2im buffers between calls.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// The direct path (row kernels, four output channels at a time) beats
// the GEMM on the shared CNNs' layers except on small planes with many
// output channels, where the GEMM's register tile reuses more.
const (
	directMinPlane    = 256
	directMinChannels = 32
)

// convPath forces a float32 Conv path in benchmarks: "direct", "gemm" or
// "" (by shape).
var convPath = ""

// transposePath forces the GEMM + col2im path of ConvTranspose in tests
// when "gemm".
var transposePath = ""

// convKernel is Conv with its attributes read.
type convKernel struct {
	w     *windowAttrs
	group int
}

func buildConv(n *graph.Node, opset int64) (Kernel, error) {
	w, err := readWindowAttrs(n)
	if err != nil {
		return nil, err
	}
	g := n.AttrInt("group", 1)
	if g < 1 || g > 1<<30 {
		return nil, fmt.Errorf("Conv: group %d must be positive", g)
	}
	return &convKernel{w: w, group: int(g)}, nil
}

// convShape is a checked convolution problem.
type convShape struct {
	win                *window
	n, c, m, group     int
	cinG, coutG, kk    int
	inPlane, outPlane  int
	outShape           []int
	hasBias, depthwise bool
	pointwise, direct  bool
}

func (k *convKernel) shape(x, w, b *Tensor) (*convShape, error) {
	if x.Rank() < 3 {
		return nil, fmt.Errorf("Conv input X must have rank >= 3 (N, C, spatial...), got shape %v", x.Shape)
	}
	if w.Rank() != x.Rank() {
		return nil, fmt.Errorf("Conv weight W of shape %v does not match the rank of X %v", w.Shape, x.Shape)
	}
	if w.DType != x.DType || b != nil && b.DType != x.DType {
		return nil, fmt.Errorf("Conv operand types differ: X %v, W %v", x.DType, w.DType)
	}
	s := &convShape{n: x.Shape[0], c: x.Shape[1], m: w.Shape[0], group: k.group}
	s.cinG = w.Shape[1]
	if s.c != s.cinG*s.group {
		return nil, fmt.Errorf("Conv: X has %d channels, W expects %d per group × group %d", s.c, s.cinG, s.group)
	}
	if s.m%s.group != 0 {
		return nil, fmt.Errorf("Conv: %d output channels do not divide into %d groups", s.m, s.group)
	}
	s.coutG = s.m / s.group
	kshape := w.Shape[2:]
	if k.w.kernel != nil && !equalShape(k.w.kernel, kshape) {
		return nil, fmt.Errorf("Conv: kernel_shape %v differs from the weight's %v", k.w.kernel, kshape)
	}
	win, err := k.w.resolve(x.Shape[2:], kshape)
	if err != nil {
		return nil, err
	}
	s.win = win
	if b != nil {
		if b.Rank() != 1 || b.Shape[0] != s.m {
			return nil, fmt.Errorf("Conv bias B of shape %v must be [%d]", b.Shape, s.m)
		}
		s.hasBias = true
	}
	s.kk = product(kshape)
	s.inPlane = product(win.in)
	s.outPlane = product(win.out)
	s.outShape = append([]int{s.n, s.m}, win.out...)
	if _, err := checkedElements(s.outShape...); err != nil {
		return nil, err
	}
	if _, err := checkedElements(s.cinG, s.kk, s.outPlane); err != nil {
		return nil, err
	}
	laid := layoutFits(win)
	s.depthwise = s.cinG == 1 && laid
	s.pointwise = win.pointwise()
	s.direct = laid && (s.outPlane >= directMinPlane || s.coutG < directMinChannels)
	return s, nil
}

func (k *convKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	x, w, b, err := convInputs("Conv", in)
	if err != nil {
		return nil, err
	}
	s, err := k.shape(x, w, b)
	if err != nil {
		return nil, err
	}
	return runConvTyped(ctx, "Conv", s, s.outShape, x, w, b, convF32, convDirect[float64])
}

// convInputs splits the inputs of Conv and ConvTranspose into X, W and the
// optional bias B.
func convInputs(op string, in []*Tensor) (x, w, b *Tensor, err error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, nil, nil, fmt.Errorf("%s needs inputs X and W", op)
	}
	if len(in) > 2 {
		b = in[2]
	}
	return in[0], in[1], b, nil
}

// runConvTyped allocates the output of shape out and runs a convolution
// on it by element type: float32 in place, float16 and bfloat16 through a
// float32 copy, float64 through the direct loop. f32 and f64 are plain
// functions, so the call costs no allocation.
func runConvTyped[S any](ctx *Context, op string, s S, out []int, x, w, b *Tensor,
	f32 func(*Context, S, []float32, []float32, []float32, []float32),
	f64 func(S, []float64, []float64, []float64, []float64)) ([]*Tensor, error) {
	switch x.DType {
	case graph.Float32:
		y := ctx.Alloc(graph.Float32, out...)
		var bias []float32
		if b != nil {
			bias = b.F32()
		}
		f32(ctx, s, x.F32(), w.F32(), bias, y.F32())
		return []*Tensor{y}, nil
	case graph.Float16, graph.BFloat16:
		y := New(x.DType, out...)
		var bias []float32
		if b != nil {
			bias = floatsOf32(b)
		}
		res := make([]float32, y.Len())
		f32(ctx, s, floatsOf32(x), floatsOf32(w), bias, res)
		storeFloats32(y, res)
		return []*Tensor{y}, nil
	case graph.Float64:
		y := New(graph.Float64, out...)
		var bias []float64
		if b != nil {
			bias = b.Data.([]float64)
		}
		f64(s, x.Data.([]float64), w.Data.([]float64), bias, y.Data.([]float64))
		return []*Tensor{y}, nil
	}
	return nil, fmt.Errorf("%s does not support %v", op, x.DType)
}

// convF32 computes y (every element written) from x, w and an optional bias.
func convF32(ctx *Context, s *convShape, x, w, bias, y []float32) {
	if len(y) == 0 {
		return
	}
	if s.depthwise {
		depthwiseF32(ctx, s, x, w, bias, y)
		return
	}
	canDirect := layoutFits(s.win)
	if canDirect && (convPath == "direct" || convPath == "" && s.direct) {
		directConvF32(ctx, s, x, w, bias, y)
		return
	}
	threads := ctxThreads(ctx)
	K := s.cinG * s.kk
	implicit := !s.pointwise && len(s.win.in) <= 2
	var colBuf *[]float32
	if !s.pointwise && !implicit {
		colBuf = getScratch(K * s.outPlane)
		defer scratchPool.Put(colBuf)
	}
	for n := 0; n < s.n; n++ {
		for g := 0; g < s.group; g++ {
			xg := x[(n*s.c+g*s.cinG)*s.inPlane:][:s.cinG*s.inPlane]
			yg := y[(n*s.m+g*s.coutG)*s.outPlane:][:s.coutG*s.outPlane]
			if implicit {
				// The GEMM packs its B panels straight from the image.
				var bg []float32
				if bias != nil {
					bg = bias[g*s.coutG : (g+1)*s.coutG]
				}
				kernels.SgemmPacker(threads, s.coutG, s.outPlane, K, w[g*s.coutG*K:], K, false,
					newIm2colPacker(s.win, xg), yg, s.outPlane, 1, bg)
				continue
			}
			bmat := xg
			if !s.pointwise {
				bmat = *colBuf
				im2col(ctx, s.win, xg, s.cinG, bmat)
			}
			wg := w[g*s.coutG*K:]
			if bias != nil {
				kernels.SgemmBias(threads, s.coutG, s.outPlane, K, wg, K, false,
					bmat, s.outPlane, false, yg, s.outPlane, 1, bias[g*s.coutG:(g+1)*s.coutG])
				continue
			}
			kernels.SgemmParallel(threads, s.coutG, s.outPlane, K, wg, K, false,
				bmat, s.outPlane, false, yg, s.outPlane, 1, 0)
		}
	}
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// im2col writes the rows (channel, kernel position) × output positions of
// the cin channels of x into col: each element is the input the kernel tap
// sees at that output position, or 0 in the padding.
func im2col(ctx *Context, win *window, x []float32, cin int, col []float32) {
	r := len(win.in)
	kk := product(win.k)
	inPlane, outPlane := product(win.in), product(win.out)
	last := r - 1
	ow, iw, sw := win.out[last], win.in[last], win.s[last]
	outer := outPlane / ow
	ctx.Parallel(cin*kk, func(lo, hi int) {
		kpos := make([]int, r)
		opos := make([]int, r)
		for row := lo; row < hi; row++ {
			c, kidx := row/kk, row%kk
			for j := last; j >= 0; j-- {
				kpos[j] = kidx % win.k[j]
				kidx /= win.k[j]
			}
			src := x[c*inPlane : (c+1)*inPlane]
			dst := col[row*outPlane : (row+1)*outPlane]
			off := kpos[last]*win.d[last] - win.padB[last]
			oxLo, oxHi := validRange(off, sw, iw, ow)
			clear(opos)
			for o := 0; o < outer; o++ {
				seg := dst[o*ow : (o+1)*ow]
				ioff, ok := win.tapOffset(opos, kpos, win.in, last)
				for j := last - 1; j >= 0; j-- {
					opos[j]++
					if opos[j] < win.out[j] {
						break
					}
					opos[j] = 0
				}
				if !ok || oxLo >= oxHi {
					clear(seg)
					continue
				}
				rowSrc := src[ioff*iw : (ioff+1)*iw]
				clear(seg[:oxLo])
				clear(seg[oxHi:])
				if sw == 1 {
					copy(seg[oxLo:oxHi], rowSrc[oxLo+off:])
				} else {
					for ox := oxLo; ox < oxHi; ox++ {
						seg[ox] = rowSrc[ox*sw+off]
					}
				}
			}
		}
	})
}

// im2colPacker is the im2col matrix of a 1-D or 2-D convolution (rows:
// input channel and kernel tap; columns: output positions) packed straight
// into GEMM panels, never stored whole.
type im2colPacker struct {
	x                                              []float32
	ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw int
}

func newIm2colPacker(win *window, x []float32) *im2colPacker {
	// Only the sizes: the phase layout has sh·sw blocks, which a huge
	// stride makes too many to allocate.
	p := planeDims(win)
	return &im2colPacker{x: x, ih: p.ih, iw: p.iw, oh: p.oh, ow: p.ow, kh: p.kh, kw: p.kw,
		sh: p.sh, sw: p.sw, dh: p.dh, dw: p.dw, ph: p.ph, pw: p.pw}
}

// Pack implements kernels.BPacker.
func (q *im2colPacker) Pack(dst []float32, panelStride, pc, kc, jc, nc, nr int) {
	kk := q.kh * q.kw
	plane := q.ih * q.iw
	for p := pc; p < pc+kc; p++ {
		c, kidx := p/kk, p%kk
		ky, kx := kidx/q.kw, kidx%q.kw
		src := q.x[c*plane : (c+1)*plane]
		off := kx*q.dw - q.pw
		lo, hi := validRange(off, q.sw, q.iw, q.ow)
		row := (p - pc) * nr
		for j := jc; j < jc+nc; {
			oy, ox := j/q.ow, j%q.ow
			lane := (j - jc) % nr
			n := min(nr-lane, q.ow-ox, jc+nc-j)
			d := dst[((j-jc)/nr)*panelStride+row+lane:]
			d = d[:n]
			j += n
			iy := oy*q.sh - q.ph + ky*q.dh
			a, b := max(lo, ox), min(hi, ox+n)
			if iy < 0 || iy >= q.ih || a >= b {
				clear(d)
				continue
			}
			srow := src[iy*q.iw : (iy+1)*q.iw]
			clear(d[:a-ox])
			clear(d[b-ox:])
			if q.sw == 1 {
				copy(d[a-ox:b-ox], srow[a+off:])
				continue
			}
			for t := a; t < b; t++ {
				d[t-ox] = srow[t*q.sw+off]
			}
		}
	}
	if rem := nc % nr; rem != 0 {
		last := dst[(nc/nr)*panelStride:]
		for p := 0; p < kc; p++ {
			clear(last[p*nr+rem : (p+1)*nr])
		}
	}
}

// validRange returns the positions o in [0, n) with 0 <= o*s+off < size,
// as [lo, hi) (empty when lo >= hi).
func validRange(off, s, size, n int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if size-1-off < 0 {
		return lo, lo
	}
	hi = min(n, (size-1-off)/s+1)
	return min(lo, n), hi
}

// floorDiv is a/b rounded toward negative infinity (b > 0).
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// convFloat are the element types of the direct loops.
type convFloat interface{ ~float32 | ~float64 }

// convDirect is the plain convolution loop: each output is the bias plus
// the products of every in-range kernel tap, taps in row-major order.
func convDirect[T convFloat](s *convShape, x, w, bias, y []T) {
	win := s.win
	r := len(win.in)
	opos := make([]int, r)
	kpos := make([]int, r)
	for n := 0; n < s.n; n++ {
		for m := 0; m < s.m; m++ {
			g := m / s.coutG
			for o := 0; o < s.outPlane; o++ {
				unravel(o, win.out, opos)
				var acc T
				if bias != nil {
					acc = bias[m]
				}
				for c := 0; c < s.cinG; c++ {
					xc := x[(n*s.c+g*s.cinG+c)*s.inPlane:]
					wc := w[(m*s.cinG+c)*s.kk:]
					for kidx := 0; kidx < s.kk; kidx++ {
						unravel(kidx, win.k, kpos)
						ioff, ok := win.tapOffset(opos, kpos, win.in, r)
						if ok {
							acc += wc[kidx] * xc[ioff]
						}
					}
				}
				y[(n*s.m+m)*s.outPlane+o] = acc
			}
		}
	}
}

// unravel writes the row-major coordinates of flat index i in shape.
func unravel(i int, shape, pos []int) {
	for j := len(shape) - 1; j >= 0; j-- {
		pos[j] = i % shape[j]
		i /= shape[j]
	}
}

// convTransposeKernel is ConvTranspose with its attributes read.
type convTransposeKernel struct {
	w             *windowAttrs
	group         int
	outputPadding []int
	outputShape   []int
}

func buildConvTranspose(n *graph.Node, opset int64) (Kernel, error) {
	w, err := readWindowAttrs(n)
	if err != nil {
		return nil, err
	}
	g := n.AttrInt("group", 1)
	if g < 1 || g > 1<<30 {
		return nil, fmt.Errorf("ConvTranspose: group %d must be positive", g)
	}
	k := &convTransposeKernel{w: w, group: int(g)}
	if k.outputPadding, err = intsAttr(n, "output_padding", 0); err != nil {
		return nil, err
	}
	if k.outputShape, err = intsAttr(n, "output_shape", 1); err != nil {
		return nil, err
	}
	return k, nil
}

// transposeShape is a checked ConvTranspose problem. In win, in is the
// input's spatial shape and out the output's; an input position i reaches
// output i*s - padB + k*d.
type transposeShape struct {
	win               *window
	n, c, m, group    int
	cinG, coutG, kk   int
	inPlane, outPlane int
	outShape          []int
}

// shape checks the geometry of x, w and b (not their element types: the
// integer form has 8-bit x and w and an int32 b).
func (k *convTransposeKernel) shape(x, w, b *Tensor) (*transposeShape, error) {
	if x.Rank() < 3 {
		return nil, fmt.Errorf("ConvTranspose input X must have rank >= 3, got shape %v", x.Shape)
	}
	if w.Rank() != x.Rank() {
		return nil, fmt.Errorf("ConvTranspose weight W of shape %v does not match the rank of X %v", w.Shape, x.Shape)
	}
	s := &transposeShape{n: x.Shape[0], c: x.Shape[1], group: k.group}
	if w.Shape[0] != s.c {
		return nil, fmt.Errorf("ConvTranspose: X has %d channels, W %v expects %d", s.c, w.Shape, w.Shape[0])
	}
	if s.c%s.group != 0 {
		return nil, fmt.Errorf("ConvTranspose: %d input channels do not divide into %d groups", s.c, s.group)
	}
	s.cinG = s.c / s.group
	s.coutG = w.Shape[1]
	s.m = s.coutG * s.group
	kshape := w.Shape[2:]
	if k.w.kernel != nil && !equalShape(k.w.kernel, kshape) {
		return nil, fmt.Errorf("ConvTranspose: kernel_shape %v differs from the weight's %v", k.w.kernel, kshape)
	}
	in := x.Shape[2:]
	r := len(in)
	win := &window{in: in, k: kshape, out: make([]int, r), padB: make([]int, r), padE: make([]int, r)}
	var err error
	if win.s, err = k.w.perAxis("strides", k.w.strides, r, 1); err != nil {
		return nil, err
	}
	if win.d, err = k.w.perAxis("dilations", k.w.dilations, r, 1); err != nil {
		return nil, err
	}
	outPad, err := k.w.perAxis("output_padding", k.outputPadding, r, 0)
	if err != nil {
		return nil, err
	}
	outShape := k.outputShape
	if len(outShape) == r+2 {
		outShape = outShape[2:] // some exporters include N and C
	}
	if outShape != nil && len(outShape) != r {
		return nil, fmt.Errorf("ConvTranspose: output_shape %v needs %d values", k.outputShape, r)
	}
	if k.w.pads != nil && len(k.w.pads) != 2*r {
		return nil, fmt.Errorf("ConvTranspose: pads %v need %d values", k.w.pads, 2*r)
	}
	for i := 0; i < r; i++ {
		dk := (kshape[i]-1)*win.d[i] + 1
		full := win.s[i]*(in[i]-1) + outPad[i] + dk
		switch {
		case outShape != nil || k.w.autoPad == "SAME_UPPER" || k.w.autoPad == "SAME_LOWER":
			want := in[i] * win.s[i]
			if outShape != nil {
				want = outShape[i]
			}
			total := full - want
			if total < 0 {
				// Outputs past the last input's reach stay at the bias.
				total = 0
			}
			if k.w.autoPad == "SAME_UPPER" {
				win.padB[i], win.padE[i] = total/2, total-total/2
			} else {
				win.padB[i], win.padE[i] = total-total/2, total/2
			}
			win.out[i] = want
		default:
			if k.w.pads != nil && k.w.autoPad != "VALID" {
				win.padB[i], win.padE[i] = k.w.pads[i], k.w.pads[i+r]
			}
			win.out[i] = full - win.padB[i] - win.padE[i]
		}
		if win.out[i] < 1 {
			return nil, fmt.Errorf("ConvTranspose: output axis %d would have size %d", i, win.out[i])
		}
	}
	s.win = win
	if b != nil {
		if b.Rank() != 1 || b.Shape[0] != s.m {
			return nil, fmt.Errorf("ConvTranspose bias B of shape %v must be [%d]", b.Shape, s.m)
		}
	}
	s.kk = product(kshape)
	s.inPlane = product(in)
	s.outPlane = product(win.out)
	s.outShape = append([]int{s.n, s.m}, win.out...)
	if _, err := checkedElements(s.outShape...); err != nil {
		return nil, err
	}
	if _, err := checkedElements(s.coutG, s.kk, s.inPlane); err != nil {
		return nil, err
	}
	return s, nil
}

func (k *convTransposeKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	x, w, b, err := convInputs("ConvTranspose", in)
	if err != nil {
		return nil, err
	}
	if w.DType != x.DType || b != nil && b.DType != x.DType {
		return nil, fmt.Errorf("ConvTranspose operand types differ: X %v, W %v", x.DType, w.DType)
	}
	s, err := k.shape(x, w, b)
	if err != nil {
		return nil, err
	}
	return runConvTyped(ctx, "ConvTranspose", s, s.outShape, x, w, b, convTransposeF32, convTransposeDirect[float64])
}

// convTransposeF32 computes col = W_gᵀ·X_g (rows: output channel and
// kernel tap; columns: input positions) per image and group, then adds
// every column entry into the output position it reaches (col2im).
func convTransposeF32(ctx *Context, s *transposeShape, x, w, bias, y []float32) {
	if len(y) == 0 {
		return
	}
	if transposePath != "gemm" && transposeScatters(s.win) && s.inPlane > 0 {
		convTransposeScatterF32(ctx, s, x, w, bias, y)
		return
	}
	threads := ctxThreads(ctx)
	rows := s.coutG * s.kk
	colBuf := getScratch(rows * s.inPlane)
	defer scratchPool.Put(colBuf)
	col := *colBuf
	for n := 0; n < s.n; n++ {
		for g := 0; g < s.group; g++ {
			xg := x[(n*s.c+g*s.cinG)*s.inPlane:][:s.cinG*s.inPlane]
			kernels.SgemmParallel(threads, rows, s.inPlane, s.cinG, w[g*s.cinG*rows:], rows, true,
				xg, s.inPlane, false, col, s.inPlane, 1, 0)
			ctx.Parallel(s.coutG, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					oc := g*s.coutG + o
					dst := y[(n*s.m+oc)*s.outPlane : (n*s.m+oc+1)*s.outPlane]
					if bias != nil {
						fill(dst, bias[oc])
					} else {
						clear(dst)
					}
					col2im(s.win, col[o*s.kk*s.inPlane:(o+1)*s.kk*s.inPlane], dst)
				}
			})
		}
	}
}

// col2im adds the kk rows of one output channel (kernel taps × input
// positions) into its output plane, taps in order.
func col2im(win *window, col, dst []float32) {
	r := len(win.in)
	kk := product(win.k)
	inPlane := product(win.in)
	if inPlane == 0 {
		return
	}
	last := r - 1
	iw, ow, sw := win.in[last], win.out[last], win.s[last]
	outer := inPlane / iw
	kpos := make([]int, r)
	ipos := make([]int, r)
	for kidx := 0; kidx < kk; kidx++ {
		unravel(kidx, win.k, kpos)
		src := col[kidx*inPlane : (kidx+1)*inPlane]
		off := kpos[last]*win.d[last] - win.padB[last]
		ixLo, ixHi := validRange(off, sw, ow, iw)
		if ixLo >= ixHi {
			continue
		}
		clear(ipos)
		for i := 0; i < outer; i++ {
			ooff, ok := win.tapOffset(ipos, kpos, win.out, last)
			for j := last - 1; j >= 0; j-- {
				ipos[j]++
				if ipos[j] < win.in[j] {
					break
				}
				ipos[j] = 0
			}
			if !ok {
				continue
			}
			srow := src[i*iw : (i+1)*iw]
			drow := dst[ooff*ow : (ooff+1)*ow]
			for ix := ixLo; ix < ixHi; ix++ {
				drow[ix*sw+off] += srow[ix]
			}
		}
	}
}

// convTransposeDirect is the plain ConvTranspose loop: every input element
// times every kernel tap is added to the output position it reaches.
func convTransposeDirect[T convFloat](s *transposeShape, x, w, bias, y []T) {
	win := s.win
	r := len(win.in)
	ipos := make([]int, r)
	kpos := make([]int, r)
	for n := 0; n < s.n; n++ {
		for m := 0; m < s.m; m++ {
			dst := y[(n*s.m+m)*s.outPlane : (n*s.m+m+1)*s.outPlane]
			var b0 T
			if bias != nil {
				b0 = bias[m]
			}
			fill(dst, b0)
			g, o := m/s.coutG, m%s.coutG
			for c := 0; c < s.cinG; c++ {
				ci := g*s.cinG + c
				xc := x[(n*s.c+ci)*s.inPlane:]
				wc := w[(ci*s.coutG+o)*s.kk:]
				for kidx := 0; kidx < s.kk; kidx++ {
					unravel(kidx, win.k, kpos)
					for i := 0; i < s.inPlane; i++ {
						unravel(i, win.in, ipos)
						ooff, ok := win.tapOffset(ipos, kpos, win.out, r)
						if ok {
							dst[ooff] += xc[i] * wc[kidx]
						}
					}
				}
			}
		}
	}
}
