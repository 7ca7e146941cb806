// Quantization kernels: QuantizeLinear and DequantizeLinear (per-tensor,
// per-axis and blocked; 8-, 16-, 4- and 2-bit integers, float8 and
// float4e2m1; saturate, output_dtype, precision) and DynamicQuantizeLinear.
// The integer operators QLinearMatMul, MatMulInteger, QLinearConv and
// ConvInteger are in quant_int.go.
//
// Rounding follows the ONNX reference: x / scale is computed in float32
// (or the half type the precision asks for), rounded half to even, the
// zero point is added and the result saturates to the output type.

package runtime

import (
	"fmt"
	"github.com/onnxq/onnxq/runtime/kernels"
	"math"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerQuant(r *Registry) {
	r.Register("", "QuantizeLinear", newQuantize)
	r.Register("", "DequantizeLinear", newDequantize)
	// ONNX Runtime's contrib twins (version 1), which take 16-bit zero
	// points before opset 21: the same arithmetic as the default domain's
	// at opset 21, whatever the model's default opset.
	r.Register("com.microsoft", "QuantizeLinear", func(n *graph.Node, _ int64) (Kernel, error) { return newQuantize(n, 21) })
	r.Register("com.microsoft", "DequantizeLinear", func(n *graph.Node, _ int64) (Kernel, error) { return newDequantize(n, 21) })
	r.Register("", "DynamicQuantizeLinear", func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(dynamicQuantize), nil
	})
	registerQuantInt(r)
	registerQuantBinary(r)
	registerQuantPool(r)
	registerQuantRequantize(r)
}

// quantRange is the saturation range of an integer quantized type.
func quantRange(dt graph.DType) (lo, hi int64, ok bool) {
	switch dt {
	case graph.Uint8:
		return 0, 255, true
	case graph.Int8:
		return -128, 127, true
	case graph.Uint16:
		return 0, 65535, true
	case graph.Int16:
		return -32768, 32767, true
	case graph.Uint4:
		return 0, 15, true
	case graph.Int4:
		return -8, 7, true
	case graph.Uint2:
		return 0, 3, true
	case graph.Int2:
		return -2, 1, true
	}
	return 0, 0, false
}

// quantLayout maps the elements of x, seen as [outer, dim, inner] around
// the quantization axis, to the index of their scale and zero point.
type quantLayout struct {
	outer, dim, inner int
	kind              int // layoutTensor, layoutAxis or layoutBlocked
	block, sdim       int // blocked: block size and scale length along the axis
}

const (
	layoutTensor = iota
	layoutAxis
	layoutBlocked
)

func (l *quantLayout) index(o, a, i int) int {
	switch l.kind {
	case layoutAxis:
		return a
	case layoutBlocked:
		return (o*l.sdim+a/l.block)*l.inner + i
	}
	return 0
}

// each calls fn for every element of x with its flat index and the index
// of its parameters.
func (l *quantLayout) each(fn func(e, p int)) {
	if l.kind == layoutTensor {
		n := l.outer * l.dim * l.inner
		for e := 0; e < n; e++ {
			fn(e, 0)
		}
		return
	}
	e := 0
	for o := 0; o < l.outer; o++ {
		for a := 0; a < l.dim; a++ {
			for i := 0; i < l.inner; i++ {
				fn(e, l.index(o, a, i))
				e++
			}
		}
	}
}

// newQuantLayout checks scale (and zero point) against x: one element is
// per-tensor, a 1-D tensor of x's axis length is per-axis, and a tensor of
// x's rank is blocked along axis with the given block size.
func newQuantLayout(x, scale, zp *Tensor, axis, block int64) (*quantLayout, error) {
	if zp != nil && zp.Len() != scale.Len() {
		return nil, fmt.Errorf("zero point %v and scale %v differ in shape", zp, scale)
	}
	if zp != nil && scale.Len() > 1 && !equalShape(zp.Shape, scale.Shape) {
		return nil, fmt.Errorf("zero point %v and scale %v differ in shape", zp, scale)
	}
	l := &quantLayout{outer: 1, dim: x.Len(), inner: 1}
	if scale.Len() == 1 && block == 0 {
		return l, nil
	}
	ax, err := NormalizeAxis(axis, x.Rank())
	if err != nil {
		return nil, err
	}
	l.outer, l.dim, l.inner = cfNumel(x.Shape[:ax]), x.Shape[ax], cfNumel(x.Shape[ax+1:])
	if block == 0 {
		if scale.Rank() != 1 || scale.Shape[0] != x.Shape[ax] {
			return nil, fmt.Errorf("scale %v is neither one value nor one per element of axis %d of %v", scale, ax, x)
		}
		l.kind = layoutAxis
		return l, nil
	}
	if block < 0 {
		return nil, fmt.Errorf("block_size must be positive, got %d", block)
	}
	if scale.Rank() != x.Rank() {
		return nil, fmt.Errorf("blocked scale %v must have the rank of %v", scale, x)
	}
	for i, d := range scale.Shape {
		if i != ax && d != x.Shape[i] {
			return nil, fmt.Errorf("blocked scale %v does not match %v outside axis %d", scale, x, ax)
		}
	}
	b := int(min(block, int64(x.Shape[ax])+1))
	if (x.Shape[ax]+b-1)/b != scale.Shape[ax] {
		return nil, fmt.Errorf("block_size %d does not fit %d positions of axis %d with %d scales", block, x.Shape[ax], ax, scale.Shape[ax])
	}
	l.kind, l.block, l.sdim = layoutBlocked, b, scale.Shape[ax]
	return l, nil
}

// float32sOf reads a real-valued tensor as float32 (float64 and int32
// values round).
func float32sOf(t *Tensor) ([]float32, error) {
	if f := t.F32(); f != nil {
		return f, nil
	}
	v, err := floatsOf64(t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// roundTo rounds a float32 to the given floating type, kept as float32.
func roundTo(v float32, dt graph.DType) float32 {
	switch dt {
	case graph.Float16:
		return float16.Fromfloat32(v).Float32()
	case graph.BFloat16:
		return BFloat16From(v).Float32()
	}
	return v
}

// ---- QuantizeLinear ----

type quantizeKernel struct {
	axis, block int64
	saturate    bool
	outType     graph.DType // 0: from the zero point, else uint8
	precision   graph.DType // 0: the scale's type (opset 25+) or float32
	opset       int64
}

func newQuantize(n *graph.Node, opset int64) (Kernel, error) {
	k := &quantizeKernel{
		axis:     n.AttrInt("axis", 1),
		block:    n.AttrInt("block_size", 0),
		saturate: n.AttrInt("saturate", 1) != 0,
		outType:  graph.DType(n.AttrInt("output_dtype", 0)),
		opset:    opset,
	}
	if k.block < 0 {
		return nil, fmt.Errorf("block_size must not be negative, got %d", k.block)
	}
	if k.outType != 0 && !quantTarget(k.outType) {
		return nil, fmt.Errorf("output_dtype %v is not a quantized type", k.outType)
	}
	if p := n.AttrInt("precision", 0); p != 0 {
		k.precision = graph.DType(p)
		switch k.precision {
		case graph.Float32, graph.Float16, graph.BFloat16:
		default:
			return nil, fmt.Errorf("precision %v is not supported", k.precision)
		}
	}
	return k, nil
}

// quantTarget reports whether QuantizeLinear can produce dt.
func quantTarget(dt graph.DType) bool {
	if _, _, ok := quantRange(dt); ok {
		return true
	}
	switch dt {
	case graph.Float8E4M3FN, graph.Float8E4M3FNUZ, graph.Float8E5M2, graph.Float8E5M2FNUZ, graph.Float4E2M1:
		return true
	}
	return false
}

func (k *quantizeKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("QuantizeLinear needs x and y_scale")
	}
	x, scale := in[0], in[1]
	var zp *Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	outType := graph.Uint8
	switch {
	case zp != nil:
		outType = zp.DType
		if k.outType != 0 && k.outType != outType {
			return nil, fmt.Errorf("output_dtype %v differs from the zero point's type %v", k.outType, outType)
		}
	case k.outType != 0:
		outType = k.outType
	}
	if !quantTarget(outType) {
		return nil, fmt.Errorf("cannot quantize to %v", outType)
	}
	lay, err := newQuantLayout(x, scale, zp, k.axis, k.block)
	if err != nil {
		return nil, err
	}
	xs, err := float32sOf(x)
	if err != nil {
		return nil, fmt.Errorf("x: %v", err)
	}
	ss, err := float32sOf(scale)
	if err != nil {
		return nil, fmt.Errorf("y_scale: %v", err)
	}
	prec := k.precision
	if prec == 0 {
		prec = graph.Float32
		if k.opset >= 25 && (scale.DType == graph.Float16 || scale.DType == graph.BFloat16) {
			prec = scale.DType
		}
	}
	div := func(e, p int) float32 { return xs[e] / ss[p] }
	if prec != graph.Float32 {
		div = func(e, p int) float32 { return roundTo(roundTo(xs[e], prec)/roundTo(ss[p], prec), prec) }
	}
	y := ctx.allocFull(outType, x.Shape...) // every branch writes every element
	if lo, hi, ok := quantRange(outType); ok {
		zps := make([]int64, scale.Len())
		if zp != nil {
			if zps, err = intsOf(zp); err != nil {
				return nil, err
			}
		}
		if prec == graph.Float32 && lay.kind != layoutBlocked {
			switch d := y.Data.(type) {
			case []uint8:
				quantizeRuns(ctx, d, xs, lay, ss, zps, lo, hi)
				return []*Tensor{y}, nil
			case []int8:
				quantizeRuns(ctx, d, xs, lay, ss, zps, lo, hi)
				return []*Tensor{y}, nil
			}
		}
		switch d := y.Data.(type) {
		case []uint8:
			quantizeInts(d, lay, div, zps, lo, hi)
		case []int8:
			quantizeInts(d, lay, div, zps, lo, hi)
		case []uint16:
			quantizeInts(d, lay, div, zps, lo, hi)
		case []int16:
			quantizeInts(d, lay, div, zps, lo, hi)
		default:
			return nil, fmt.Errorf("cannot quantize to %v", outType)
		}
		return []*Tensor{y}, nil
	}
	// Float8 and float4: the zero point is a value of the format too.
	zps := make([]float64, scale.Len())
	if zp != nil {
		if zps, err = floatsOf64(zp); err != nil {
			return nil, err
		}
	}
	f := miniFloatOf(outType)
	sat := k.saturate || outType == graph.Float4E2M1
	d := y.Data.([]uint8)
	lay.each(func(e, p int) {
		v := div(e, p) + float32(zps[p])
		d[e] = uint8(f.encode(float64(v), sat))
	})
	return []*Tensor{y}, nil
}

// quantizeRuns is quantizeInts for per-tensor and per-axis parameters
// in float32: the elements sharing a scale are contiguous runs, quantized
// in a tight loop.
func quantizeRuns[T int8 | uint8](ctx *Context, dst []T, xs []float32, lay *quantLayout, ss []float32, zps []int64, lo, hi int64) {
	if lay.kind == layoutTensor {
		const chunk = 8192
		ctx.Parallel((len(xs)+chunk-1)/chunk, func(first, last int) {
			a, b := first*chunk, min(last*chunk, len(xs))
			quantizeRun(dst[a:b], xs[a:b], ss[0], zps[0], lo, hi)
		})
		return
	}
	ctx.Parallel(lay.outer*lay.dim, func(first, last int) {
		for r := first; r < last; r++ {
			e, a := r*lay.inner, r%lay.dim
			quantizeRun(dst[e:e+lay.inner], xs[e:e+lay.inner], ss[a], zps[a], lo, hi)
		}
	})
}

// quantizeRun quantizes xs with one scale and zero point
// (kernels.QuantizeBytes: the exact quotient, NaN as the lower bound, clamped to the
// saturation bounds minus the zero point, rounded half to even, plus the
// zero point), the bytes held as T.
func quantizeRun[T int8 | uint8](dst []T, xs []float32, scale float32, zp, lo, hi int64) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst))
	kernels.QuantizeBytes(b, xs, scale, float32(lo-zp), float32(hi-zp), int32(zp))
}

// quantizeInts rounds x/scale half to even, adds the zero point and
// saturates. NaN quantizes to lo, as in ONNX Runtime.
func quantizeInts[T int8 | uint8 | int16 | uint16](dst []T, lay *quantLayout, div func(e, p int) float32, zps []int64, lo, hi int64) {
	flo, fhi := float64(lo), float64(hi)
	lay.each(func(e, p int) {
		r := math.RoundToEven(float64(div(e, p)))
		if r != r {
			dst[e] = T(lo)
			return
		}
		v := r + float64(zps[p])
		dst[e] = T(int64(math.Max(flo, math.Min(fhi, v))))
	})
}

// ---- DequantizeLinear ----

type dequantizeKernel struct {
	axis, block int64
	outType     graph.DType // 0: the scale's type
}

func newDequantize(n *graph.Node, opset int64) (Kernel, error) {
	k := &dequantizeKernel{
		axis:    n.AttrInt("axis", 1),
		block:   n.AttrInt("block_size", 0),
		outType: graph.DType(n.AttrInt("output_dtype", 0)),
	}
	if k.block < 0 {
		return nil, fmt.Errorf("block_size must not be negative, got %d", k.block)
	}
	switch k.outType {
	case 0, graph.Float32, graph.Float16, graph.BFloat16:
	default:
		return nil, fmt.Errorf("output_dtype %v is not float, float16 or bfloat16", k.outType)
	}
	return k, nil
}

func (k *dequantizeKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("DequantizeLinear needs x and x_scale")
	}
	x, scale := in[0], in[1]
	var zp *Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	if zp != nil && zp.DType != x.DType {
		return nil, fmt.Errorf("zero point is %v, x is %v", zp.DType, x.DType)
	}
	outType := k.outType
	if outType == 0 {
		outType = scale.DType
		if outType == graph.Float8E8M0 {
			outType = graph.Float32
		}
	}
	switch outType {
	case graph.Float32, graph.Float16, graph.BFloat16:
	default:
		return nil, fmt.Errorf("cannot dequantize to %v", outType)
	}
	lay, err := newQuantLayout(x, scale, zp, k.axis, k.block)
	if err != nil {
		return nil, err
	}
	ss, err := float32sOf(scale)
	if err != nil {
		return nil, fmt.Errorf("x_scale: %v", err)
	}
	y := ctx.Alloc(outType, x.Shape...)
	var out []float32
	if outType == graph.Float32 {
		out = y.F32()
	} else {
		out = make([]float32, x.Len())
	}
	// The difference x - zero point is exact; the product is float32.
	switch d := x.Data.(type) {
	case []uint8:
		if !isIntegerType(x.DType) {
			err = dequantizeFloats(out, x, zp, ss, lay)
			break
		}
		err = dequantizeInts(out, d, zp, ss, lay)
	case []int8:
		err = dequantizeInts(out, d, zp, ss, lay)
	case []uint16:
		err = dequantizeInts(out, d, zp, ss, lay)
	case []int16:
		err = dequantizeInts(out, d, zp, ss, lay)
	case []int32:
		err = dequantizeInts(out, d, zp, ss, lay)
	default:
		err = fmt.Errorf("cannot dequantize %v", x.DType)
	}
	if err != nil {
		return nil, err
	}
	switch d := y.Data.(type) {
	case []float16.Float16:
		for i, v := range out {
			d[i] = float16.Fromfloat32(v)
		}
	case []BFloat16:
		for i, v := range out {
			d[i] = BFloat16From(v)
		}
	}
	return []*Tensor{y}, nil
}

func dequantizeInts[T int8 | uint8 | int16 | uint16 | int32](out []float32, x []T, zp *Tensor, ss []float32, lay *quantLayout) error {
	zps := make([]int64, len(ss))
	if zp != nil {
		var err error
		if zps, err = intsOf(zp); err != nil {
			return err
		}
	}
	if lay.kind == layoutBlocked {
		lay.each(func(e, p int) {
			out[e] = float32(int64(x[e])-zps[p]) * ss[p]
		})
		return nil
	}
	// Per axis with short runs (a Gemm or MatMul weight per output
	// column: one element a run): one pass, each element's parameters by
	// its place, rather than a call per run.
	if lay.kind == layoutAxis && lay.inner < 16 {
		for o := 0; o < lay.outer; o++ {
			for a := 0; a < lay.dim; a++ {
				zp, s := zps[a], ss[a]
				base := (o*lay.dim + a) * lay.inner
				for i, v := range x[base : base+lay.inner] {
					out[base+i] = float32(int64(v)-zp) * s
				}
			}
		}
		return nil
	}
	// Per tensor and per axis: runs of elements share their parameters.
	run := lay.inner
	if lay.kind == layoutTensor {
		run = len(x)
	}
	bytes, signed := eightBitBytes(x)
	for e, p := 0, 0; e < len(x); e += run {
		zp, s := zps[p], ss[p]
		if bytes != nil {
			// 8-bit data: v−zp is an integer of at most 383 in magnitude,
			// exact in float32, and the product is the same single
			// rounding, eight lanes at a time.
			kernels.DequantizeBytes(out[e:e+run], bytes[e:e+run], float32(zp), s, signed)
		} else {
			for i, v := range x[e : e+run] {
				out[e+i] = float32(int64(v)-zp) * s
			}
		}
		if lay.kind == layoutAxis {
			p = (p + 1) % lay.dim
		}
	}
	return nil
}

// eightBitBytes returns the bytes of x when its elements are int8 or
// uint8 (an int8 v held as byte(v)), and whether they are signed; nil
// otherwise.
func eightBitBytes[T int8 | uint8 | int16 | uint16 | int32](x []T) ([]byte, bool) {
	switch d := any(x).(type) {
	case []uint8:
		return d, false
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)), true
	}
	return nil, false
}

// dequantizeFloats handles the float8 and float4 inputs.
func dequantizeFloats(out []float32, x, zp *Tensor, ss []float32, lay *quantLayout) error {
	xs, err := floatsOf64(x)
	if err != nil {
		return err
	}
	zps := make([]float64, len(ss))
	if zp != nil {
		if zps, err = floatsOf64(zp); err != nil {
			return err
		}
	}
	lay.each(func(e, p int) {
		out[e] = (float32(xs[e]) - float32(zps[p])) * ss[p]
	})
	return nil
}

// ---- DynamicQuantizeLinear ----

// dynamicQuantize quantizes x to uint8 with a scale and zero point taken
// from its range widened to include 0.
func dynamicQuantize(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 1 || in[0] == nil || in[0].DType != graph.Float32 {
		return nil, fmt.Errorf("DynamicQuantizeLinear needs a float32 input")
	}
	x := in[0].F32()
	var lo, hi float32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	scale := (hi - lo) / 255
	if hi == lo {
		scale = float32(1) / 255
	}
	zpf := -lo / scale
	zpf = float32(math.RoundToEven(float64(max(0, min(255, zpf)))))
	y := ctx.Alloc(graph.Uint8, in[0].Shape...)
	d := y.Data.([]uint8)
	for i, v := range x {
		r := math.RoundToEven(float64(v/scale)) + float64(zpf)
		if r != r {
			r = float64(zpf)
		}
		d[i] = uint8(math.Max(0, math.Min(255, r)))
	}
	s := ctx.Alloc(graph.Float32)
	s.F32()[0] = scale
	z := ctx.Alloc(graph.Uint8)
	z.Data.([]uint8)[0] = uint8(zpf)
	return []*Tensor{y, s, z}, nil
}
