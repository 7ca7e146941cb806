// Integer kernels on quantized tensors: MatMulInteger and QLinearMatMul
// (numpy matmul with broadcast batches; zero points and scales per tensor,
// per row of A and per column of B), ConvInteger and QLinearConv (N-D,
// groups, pads/auto_pad, strides, dilations; weight zero points and scales
// per output channel). Products accumulate in int32 (wrapping as the
// operators allow); the QLinear forms requantize as ONNX Runtime's integer
// kernels do: the multiplier s_a·s_b/s_y in float32, the product
// float32(acc)·multiplier in float32, rounded half to even, plus the zero
// point, saturated. (The ONNX reference multiplies in float64; the two
// differ only where the float32 product lands within its rounding error of
// a tie, and every conformance test passes with either. Matching ONNX
// Runtime makes onnxq's integer outputs predict a deployed model's.)
//
// These are reference implementations: a blocked im2col and row-by-column
// dot products. Results are integers, so they never depend on threads.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerQuantInt(r *Registry) {
	r.Register("", "MatMulInteger", func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(matMulInteger), nil
	})
	r.Register("", "QLinearMatMul", func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(qlinearMatMul), nil
	})
	r.Register("", "ConvInteger", func(n *graph.Node, opset int64) (Kernel, error) { return newIntConv(n, false) })
	r.Register("", "QLinearConv", func(n *graph.Node, opset int64) (Kernel, error) { return newIntConv(n, true) })
	r.Register(OnnxqDomain, "QLinearConv", func(n *graph.Node, opset int64) (Kernel, error) { return newIntConvAct(n) })
	r.Register(OnnxqDomain, "QLinearConvTranspose", newIntConvTranspose)
}

// OnnxqDomain is the operator domain of onnxq's own integer ops, which
// its runtime runs and other runtimes do not know.
const OnnxqDomain = "ai.onnxq"

// newIntConvAct builds ai.onnxq QLinearConv: QLinearConv's inputs and
// attributes plus activation (only "HardSwish"), applied to the
// convolution's float value before the output is quantized:
//
//	v = float32(Σ(x−zx)(w−zw) + b) · (x_scale · w_scale[c])
//	y = QuantizeLinear(v · min(max(v + 3, 0), 6) / 6, y_scale, y_zero_point)
//
// in float32 arithmetic: the DequantizeLinear → Conv → hard-swish →
// QuantizeLinear unit of a QDQ model, up to the rounding of its float
// accumulation.
//
// Without y_scale and y_zero_point (and without activation) the output
// is that float value itself, float32.
func newIntConvAct(n *graph.Node) (Kernel, error) {
	act := n.AttrString("activation", "")
	if act != "" && act != "HardSwish" {
		return nil, fmt.Errorf("activation %q: only HardSwish is known", act)
	}
	k, err := newIntConv(n, true)
	if err != nil {
		return nil, err
	}
	k.(*intConvKernel).hardSwish = act == "HardSwish"
	k.(*intConvKernel).onnxq = true
	return k, nil
}

// int32sOf widens an 8-bit (or 16-bit) integer tensor.
func int32sOf(t *Tensor) ([]int32, error) {
	out := make([]int32, t.Len())
	switch d := t.Data.(type) {
	case []uint8:
		if t.DType != graph.Uint8 {
			return nil, fmt.Errorf("%v is not an 8-bit integer type", t.DType)
		}
		for i, v := range d {
			out[i] = int32(v)
		}
	case []int8:
		if t.DType != graph.Int8 {
			return nil, fmt.Errorf("%v is not an 8-bit integer type", t.DType)
		}
		for i, v := range d {
			out[i] = int32(v)
		}
	default:
		return nil, fmt.Errorf("%v is not int8 or uint8", t.DType)
	}
	return out, nil
}

// paramIndex maps each position of target (a shape) to the element of a
// parameter tensor p that broadcasts to it. A 1-D p of length target[r-2]
// (per row) is read as [len, 1]. A nil p maps everything to element 0.
func paramIndex(name string, p *Tensor, target []int, perRow bool) ([]int, error) {
	n := cfNumel(target)
	if p == nil || p.Len() == 1 {
		return make([]int, n), nil
	}
	shape := p.Shape
	if perRow && len(shape) == 1 && len(target) >= 2 {
		shape = []int{shape[0], 1}
	}
	b, err := BroadcastShape(shape, target)
	if err != nil || !equalShape(b, target) {
		return nil, fmt.Errorf("%s %v does not fit %v", name, p, target)
	}
	return BroadcastIndex(shape, target), nil
}

// intMatMul is the int32 product (A - a_zp)·(B - b_zp) with numpy matmul
// shapes.
type intMatMul struct {
	acc      []int32
	outShape []int
	m, n     int
	// For every output matrix: the matrix of A and of B it reads.
	aMat, bMat []int
	aShape     []int // A as [..., M, K]
	bShape     []int // B as [..., K, N]
}

func newIntMatMul(ctx *Context, a, b, azp, bzp *Tensor) (*intMatMul, error) {
	if a.Rank() < 1 || b.Rank() < 1 {
		return nil, fmt.Errorf("A %v and B %v must have at least one axis", a, b)
	}
	if azp != nil && azp.DType != a.DType || bzp != nil && bzp.DType != b.DType {
		return nil, fmt.Errorf("zero points must have the types of A and B")
	}
	mm := &intMatMul{aShape: a.Shape, bShape: b.Shape}
	var outTail []int
	if a.Rank() == 1 {
		mm.aShape = []int{1, a.Shape[0]}
	} else {
		outTail = append(outTail, a.Shape[a.Rank()-2])
	}
	if b.Rank() == 1 {
		mm.bShape = []int{b.Shape[0], 1}
	} else {
		outTail = append(outTail, b.Shape[b.Rank()-1])
	}
	ra, rb := len(mm.aShape), len(mm.bShape)
	M, K := mm.aShape[ra-2], mm.aShape[ra-1]
	if mm.bShape[rb-2] != K {
		return nil, fmt.Errorf("A %v and B %v do not multiply", a, b)
	}
	N := mm.bShape[rb-1]
	aBatch, bBatch := mm.aShape[:ra-2], mm.bShape[:rb-2]
	batch, err := BroadcastShape(aBatch, bBatch)
	if err != nil {
		return nil, fmt.Errorf("A %v and B %v: %v", a, b, err)
	}
	if int64(cfNumel(batch))*int64(M)*int64(N) > 1<<31 {
		return nil, fmt.Errorf("A %v and B %v give a product too large to compute", a, b)
	}
	mm.m, mm.n = M, N
	mm.outShape = append(append([]int{}, batch...), outTail...)
	mm.aMat = BroadcastIndex(aBatch, batch)
	mm.bMat = BroadcastIndex(bBatch, batch)

	av, err := int32sOf(a)
	if err != nil {
		return nil, fmt.Errorf("A: %v", err)
	}
	bv, err := int32sOf(b)
	if err != nil {
		return nil, fmt.Errorf("B: %v", err)
	}
	// Subtract the zero points: per row of A, per column of B (which is
	// stored transposed so that both operands are read along K).
	aRows := append(append([]int{}, mm.aShape[:ra-1]...), 1)
	azpIdx, err := paramIndex("a_zero_point", azp, aRows, true)
	if err != nil {
		return nil, err
	}
	bCols := append(append([]int{}, mm.bShape[:rb-2]...), 1, N)
	bzpIdx, err := paramIndex("b_zero_point", bzp, bCols, false)
	if err != nil {
		return nil, err
	}
	var azps, bzps []int32
	if azp != nil {
		if azps, err = int32sOf(azp); err != nil {
			return nil, err
		}
	}
	if bzp != nil {
		if bzps, err = int32sOf(bzp); err != nil {
			return nil, err
		}
	}
	if azps != nil {
		for r := range azpIdx {
			z := azps[azpIdx[r]]
			row := av[r*K : (r+1)*K]
			for i := range row {
				row[i] -= z
			}
		}
	}
	nb := cfNumel(bBatch)
	bt := make([]int32, len(bv))
	for m := 0; m < nb; m++ {
		for k := 0; k < K; k++ {
			for j := 0; j < N; j++ {
				v := bv[(m*K+k)*N+j]
				if bzps != nil {
					v -= bzps[bzpIdx[m*N+j]]
				}
				bt[(m*N+j)*K+k] = v
			}
		}
	}
	nOut := len(mm.aMat)
	mm.acc = make([]int32, nOut*M*N)
	ctx.Parallel(nOut*M, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, i := r/M, r%M
			arow := av[(mm.aMat[o]*M+i)*K : (mm.aMat[o]*M+i+1)*K]
			bm := bt[mm.bMat[o]*N*K : (mm.bMat[o]+1)*N*K]
			out := mm.acc[r*N : (r+1)*N]
			for j := range out {
				out[j] = dotInt32(arow, bm[j*K:(j+1)*K])
			}
		}
	})
	return mm, nil
}

func dotInt32(a, b []int32) int32 {
	var s int32
	b = b[:len(a)]
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func matMulInteger(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("MatMulInteger needs A and B")
	}
	var azp, bzp *Tensor
	if len(in) > 2 {
		azp = in[2]
	}
	if len(in) > 3 {
		bzp = in[3]
	}
	mm, err := newIntMatMul(ctx, in[0], in[1], azp, bzp)
	if err != nil {
		return nil, err
	}
	return []*Tensor{{DType: graph.Int32, Shape: mm.outShape, Data: mm.acc}}, nil
}

// scaleMath does the scale arithmetic of the QLinear operators in the
// scales' own type: float32, or float16/bfloat16 rounded after each step.
type scaleMath graph.DType

func (s scaleMath) combine(a, b, y float32) float32 {
	dt := graph.DType(s)
	return roundTo(roundTo(a*b, dt)/y, dt)
}

// requantize rounds acc·scale half to even, adds zp and saturates. The
// product is a float32 one, float32(acc)·scale, as ONNX Runtime's integer
// kernels compute it, so that integer results agree with it element for
// element; the rounding is float32's too.
func requantize(acc int32, scale float32, zp, lo, hi int64) int64 {
	r := math.RoundToEven(float64(float32(acc) * scale))
	if r != r {
		return zp
	}
	r += float64(zp)
	if r <= float64(lo) {
		return lo
	}
	if r >= float64(hi) {
		return hi
	}
	return int64(r)
}

// readScales reads a scale tensor of float32, float16 or bfloat16.
func readScales(name string, t *Tensor) ([]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is missing", name)
	}
	switch t.DType {
	case graph.Float32, graph.Float16, graph.BFloat16:
	default:
		return nil, fmt.Errorf("%s is %v, want a float type", name, t.DType)
	}
	return float32sOf(t)
}

// readZeroPoints reads an optional integer zero point (0 when absent).
func readZeroPoints(t *Tensor, n int) ([]int64, error) {
	if t == nil {
		return make([]int64, n), nil
	}
	return intsOf(t)
}

// storeQuantized writes int64 values (already saturated) to a uint8 or
// int8 tensor.
func storeQuantized(t *Tensor, v []int64) {
	switch d := t.Data.(type) {
	case []uint8:
		for i, x := range v {
			d[i] = uint8(x)
		}
	case []int8:
		for i, x := range v {
			d[i] = int8(x)
		}
	}
}

func qlinearMatMul(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 8 {
		return nil, fmt.Errorf("QLinearMatMul needs 8 inputs, got %d", len(in))
	}
	a, as, azp, b, bs, bzp, ys, yzp := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
	if a == nil || b == nil {
		return nil, fmt.Errorf("QLinearMatMul needs a and b")
	}
	outType := a.DType
	if yzp != nil {
		outType = yzp.DType
	}
	lo, hi, ok := quantRange(outType)
	if !ok || (outType != graph.Uint8 && outType != graph.Int8) {
		return nil, fmt.Errorf("output type %v is not int8 or uint8", outType)
	}
	mm, err := newIntMatMul(ctx, a, b, azp, bzp)
	if err != nil {
		return nil, err
	}
	asv, err := readScales("a_scale", as)
	if err != nil {
		return nil, err
	}
	bsv, err := readScales("b_scale", bs)
	if err != nil {
		return nil, err
	}
	ysv, err := readScales("y_scale", ys)
	if err != nil {
		return nil, err
	}
	if azp != nil && azp.Len() != as.Len() || bzp != nil && bzp.Len() != bs.Len() || yzp != nil && yzp.Len() != ys.Len() {
		return nil, fmt.Errorf("each scale must have the shape of its zero point")
	}
	ra, rb := len(mm.aShape), len(mm.bShape)
	aIdx, err := paramIndex("a_scale", as, append(append([]int{}, mm.aShape[:ra-1]...), 1), true)
	if err != nil {
		return nil, err
	}
	bIdx, err := paramIndex("b_scale", bs, append(append([]int{}, mm.bShape[:rb-2]...), 1, mm.n), false)
	if err != nil {
		return nil, err
	}
	yIdx, err := paramIndex("y_scale", ys, mm.outShape, false)
	if err != nil {
		return nil, err
	}
	yzps, err := readZeroPoints(yzp, ys.Len())
	if err != nil {
		return nil, err
	}
	sm := scaleMath(graph.Float32)
	if as.DType == graph.Float16 || as.DType == graph.BFloat16 {
		sm = scaleMath(as.DType)
	}
	M, N := mm.m, mm.n
	vals := make([]int64, len(mm.acc))
	fixed := ctx.requantizer() == RequantizeFixedPoint
	for e, acc := range mm.acc {
		o, i, j := e/(M*N), e/N%M, e%N
		s := sm.combine(asv[aIdx[mm.aMat[o]*M+i]], bsv[bIdx[mm.bMat[o]*N+j]], ysv[yIdx[e]])
		if !fixed {
			vals[e] = requantize(acc, s, yzps[yIdx[e]], lo, hi)
			continue
		}
		f, err := newFixedMultiplier(s)
		if err != nil {
			return nil, err
		}
		vals[e] = f.apply(acc, yzps[yIdx[e]], lo, hi)
	}
	y := ctx.Alloc(outType, mm.outShape...)
	storeQuantized(y, vals)
	return []*Tensor{y}, nil
}

// ---- ConvInteger and QLinearConv ----

type intConvKernel struct {
	w       *windowAttrs
	group   int
	linear  bool // QLinearConv: requantize the result
	weights groupCache[*kernels.PackedB8]
	// wxWeights are the same weights packed for the channel-major path.
	wxWeights groupCache[*kernels.PackedW8]
	// dwTaps are the depthwise windows' tap groups.
	dwTaps dwTaps
	// tapWeights are the weights ordered tap by tap (convTaps).
	tapWeights groupCache[*kernels.PackedW8]
	// hardSwish: ai.onnxq QLinearConv with activation HardSwish.
	hardSwish bool
	// onnxq: ai.onnxq QLinearConv, which may leave y_scale out (a float
	// output).
	onnxq bool
	// scaleCache keeps the per-channel requantization scales of the last
	// call with its inputs; epilogues the per-channel epilogue values
	// derived from them (fastConvWX, depthwiseVNNI).
	scaleCache scaleCache
	epilogues  epilogueCache
	// signedWeights shifts uint8 weights to int8 for the fast paths.
	signedWeights signedWeights
}

func newIntConv(n *graph.Node, linear bool) (Kernel, error) {
	w, err := readWindowAttrs(n)
	if err != nil {
		return nil, err
	}
	g := n.AttrInt("group", 1)
	if g < 1 || g > 1<<20 {
		return nil, fmt.Errorf("group must be positive, got %d", g)
	}
	return &intConvKernel{w: w, group: int(g), linear: linear}, nil
}

func (k *intConvKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	arg := func(i int) *Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	var x, xzp, w, wzp, bias *Tensor
	if k.linear {
		x, xzp, w, wzp, bias = arg(0), arg(2), arg(3), arg(5), arg(8)
	} else {
		x, w, xzp, wzp = arg(0), arg(1), arg(2), arg(3)
	}
	if x == nil || w == nil {
		return nil, fmt.Errorf("%s needs x and w", ctxOp(ctx))
	}
	if !k.linear {
		acc, shape, err := k.conv(ctx, x, w, xzp, wzp, bias)
		if err != nil {
			return nil, err
		}
		return []*Tensor{{DType: graph.Int32, Shape: shape, Data: acc}}, nil
	}
	xs, ws, ys, yzp := arg(1), arg(4), arg(6), arg(7)
	if k.onnxq && ys == nil && yzp == nil && !k.hardSwish {
		return k.runFloatOut(ctx, x, xzp, w, wzp, bias, xs, ws)
	}
	xsv, wsv, m, err := convScales(xs, ws, w)
	if err != nil {
		return nil, err
	}
	ysv, err := readScales("y_scale", ys)
	if err != nil {
		return nil, err
	}
	if len(ysv) != 1 {
		return nil, fmt.Errorf("y_scale must be one value")
	}
	outType := x.DType
	if yzp != nil {
		outType = yzp.DType
		if yzp.Len() != 1 {
			return nil, fmt.Errorf("y_zero_point must be one value, got %v", yzp)
		}
	}
	lo, hi, ok := quantRange(outType)
	if !ok || (outType != graph.Uint8 && outType != graph.Int8) {
		return nil, fmt.Errorf("output type %v is not int8 or uint8", outType)
	}
	yzps, err := readZeroPoints(yzp, 1)
	if err != nil {
		return nil, err
	}
	scales := k.scaleCache.get(xsv, wsv, ysv, m, func() []float32 {
		scales := make([]float32, m)
		for c := range scales {
			if k.hardSwish {
				scales[c] = xsv[0] * wsv[min(c, len(wsv)-1)] // the float value's scale
				continue
			}
			scales[c] = scaleMath(graph.Float32).combine(xsv[0], wsv[min(c, len(wsv)-1)], ysv[0])
		}
		return scales
	})
	if k.hardSwish {
		return k.runHardSwish(ctx, x, xzp, w, wzp, bias, scales, ysv[0], yzps[0], lo, hi, outType)
	}
	fixed := ctx.requantizer() == RequantizeFixedPoint
	if a := k.newQConvArgs(x, xzp, w, wzp, bias, scales, yzps[0], lo, hi, outType); a != nil && !forceReferenceQConv && !fixed {
		if y := k.fastQLinearConv(ctx, a); y != nil {
			return []*Tensor{y}, nil
		}
	}
	acc, shape, err := k.conv(ctx, x, w, xzp, wzp, bias)
	if err != nil {
		return nil, err
	}
	size := cfNumel(shape[2:])
	vals := make([]int64, len(acc))
	if fixed {
		fm, err := fixedMultipliers(scales)
		if err != nil {
			return nil, err
		}
		for e, v := range acc {
			vals[e] = fm[e/size%m].apply(v, yzps[0], lo, hi)
		}
	} else {
		for e, v := range acc {
			c := e / size % m
			vals[e] = requantize(v, scales[c], yzps[0], lo, hi)
		}
	}
	y := ctx.Alloc(outType, shape...)
	storeQuantized(y, vals)
	return []*Tensor{y}, nil
}

// convScales reads a QLinearConv's x_scale (one value) and w_scale (one
// or one per output channel of w); m is the number of output channels.
func convScales(xs, ws, w *Tensor) (xsv, wsv []float32, m int, err error) {
	if xsv, err = readScales("x_scale", xs); err != nil {
		return nil, nil, 0, err
	}
	if wsv, err = readScales("w_scale", ws); err != nil {
		return nil, nil, 0, err
	}
	if w.Rank() < 1 {
		return nil, nil, 0, fmt.Errorf("w %v has no output channel axis", w)
	}
	m = w.Shape[0]
	if len(xsv) != 1 || (len(wsv) != 1 && len(wsv) != m) {
		return nil, nil, 0, fmt.Errorf("x_scale must be one value, w_scale one or one per output channel (%d)", m)
	}
	return xsv, wsv, m, nil
}

func ctxOp(ctx *Context) string {
	if ctx != nil && ctx.Node != nil {
		return ctx.Node.OpType
	}
	return "integer convolution"
}

// convTile is how many output positions one im2col block holds.
const convTile = 256

// conv computes the int32 convolution of (x - x_zp) with (w - w_zp), plus
// bias, returning the accumulators and the output shape.
func (k *intConvKernel) conv(ctx *Context, x, w, xzp, wzp, bias *Tensor) ([]int32, []int, error) {
	if x.Rank() < 3 || w.Rank() != x.Rank() {
		return nil, nil, fmt.Errorf("x %v and w %v must be [N,C,spatial...] and [M,C/group,kernel...]", x, w)
	}
	N, C, M := x.Shape[0], x.Shape[1], w.Shape[0]
	G := k.group
	if C%G != 0 || M%G != 0 || w.Shape[1]*G != C {
		return nil, nil, fmt.Errorf("x %v and w %v do not fit group %d", x, w, G)
	}
	kShape := w.Shape[2:]
	if k.w.kernel != nil && !equalShape(k.w.kernel, kShape) {
		return nil, nil, fmt.Errorf("kernel_shape %v does not match w %v", k.w.kernel, w)
	}
	win, err := k.w.resolve(x.Shape[2:], kShape)
	if err != nil {
		return nil, nil, err
	}
	xv, err := int32sOf(x)
	if err != nil {
		return nil, nil, fmt.Errorf("x: %v", err)
	}
	wv, err := int32sOf(w)
	if err != nil {
		return nil, nil, fmt.Errorf("w: %v", err)
	}
	if xzp != nil {
		if xzp.DType != x.DType || xzp.Len() != 1 {
			return nil, nil, fmt.Errorf("x_zero_point must be one value of x's type, got %v", xzp)
		}
		z, _ := int32sOf(xzp)
		for i := range xv {
			xv[i] -= z[0]
		}
	}
	ck := w.Shape[1] * cfNumel(kShape) // products per output value
	if wzp != nil {
		if wzp.DType != w.DType || (wzp.Len() != 1 && wzp.Len() != M) {
			return nil, nil, fmt.Errorf("w_zero_point must be one value or one per output channel, got %v", wzp)
		}
		z, _ := int32sOf(wzp)
		for c := 0; c < M; c++ {
			zc := z[min(c, len(z)-1)]
			for i := c * ck; i < (c+1)*ck; i++ {
				wv[i] -= zc
			}
		}
	}
	var bv []int32
	if bias != nil {
		b, ok := bias.Data.([]int32)
		if !ok || len(b) != M {
			return nil, nil, fmt.Errorf("B must be int32 with %d values, got %v", M, bias)
		}
		bv = b
	}
	r := len(kShape)
	outSize, inSize, kSize := cfNumel(win.out), cfNumel(win.in), cfNumel(kShape)
	outShape := append([]int{N, M}, win.out...)
	if int64(N)*int64(M)*int64(outSize) > 1<<31 {
		return nil, nil, fmt.Errorf("output %v is too large", outShape)
	}
	// coord[i][o*k+j] is the input coordinate along axis i of output o and
	// kernel tap j, or -1 in the padding.
	coord := make([][]int, r)
	for i := 0; i < r; i++ {
		coord[i] = make([]int, win.out[i]*kShape[i])
		for o := 0; o < win.out[i]; o++ {
			for j := 0; j < kShape[i]; j++ {
				c := o*win.s[i] - win.padB[i] + j*win.d[i]
				if c < 0 || c >= win.in[i] {
					c = -1
				}
				coord[i][o*kShape[i]+j] = c
			}
		}
	}
	inStr := Strides(win.in)
	outStr := Strides(win.out)
	kStr := Strides(kShape)
	acc := make([]int32, N*M*outSize)
	cg, mg := C/G, M/G
	tiles := (outSize + convTile - 1) / convTile
	ctx.Parallel(N*G*tiles, func(lo, hi int) {
		col := make([]int32, cg*kSize*convTile)
		offs := make([]int, kSize)
		oc := make([]int, r)
		for task := lo; task < hi; task++ {
			n, g, t := task/(G*tiles), task/tiles%G, task%tiles
			p0 := t * convTile
			p1 := min(p0+convTile, outSize)
			width := p1 - p0
			// im2col of this tile: col[(c·kSize+j)·width + p].
			for p := p0; p < p1; p++ {
				for i := 0; i < r; i++ {
					oc[i] = p / outStr[i] % win.out[i]
				}
				for j := 0; j < kSize; j++ {
					off := 0
					for i := 0; i < r; i++ {
						c := coord[i][oc[i]*kShape[i]+j/kStr[i]%kShape[i]]
						if c < 0 {
							off = -1
							break
						}
						off += c * inStr[i]
					}
					offs[j] = off
				}
				for c := 0; c < cg; c++ {
					src := xv[((n*C)+g*cg+c)*inSize:]
					for j, off := range offs {
						v := int32(0)
						if off >= 0 {
							v = src[off]
						}
						col[(c*kSize+j)*width+p-p0] = v
					}
				}
			}
			for m := g * mg; m < (g+1)*mg; m++ {
				out := acc[(n*M+m)*outSize+p0 : (n*M+m)*outSize+p1]
				b := int32(0)
				if bv != nil {
					b = bv[m]
				}
				for p := range out {
					out[p] = b
				}
				wrow := wv[m*ck : (m+1)*ck]
				for q, wq := range wrow {
					if wq == 0 {
						continue
					}
					cq := col[q*width : (q+1)*width]
					for p := range out {
						out[p] += wq * cq[p]
					}
				}
			}
		}
	})
	return acc, outShape, nil
}
