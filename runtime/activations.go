// Activation kernels: the pointwise ones (Relu, LeakyRelu, PRelu, Sigmoid,
// HardSigmoid, HardSwish, Tanh, Elu, Selu, Celu, Softplus, Softsign,
// Gelu, Mish, ThresholdedRelu, Shrink, Swish, Clip) and the ones along an
// axis (Softmax, LogSoftmax, Hardmax). Pointwise ones reuse the unary
// machinery of elementwise.go with their attributes bound at build time.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
	"github.com/x448/float16"
)

func registerActivations(r *Registry) {
	for name, mk := range pointwiseActivations {
		r.Register("", name, activationBuilder(mk))
	}
	r.Register("", "PRelu", preluBuilder)
	r.Register("", "Clip", clipBuilder)
	r.Register("", "Softmax", axisActivationBuilder(softmaxRow))
	r.Register("", "LogSoftmax", axisActivationBuilder(logSoftmaxRow))
	r.Register("", "Hardmax", axisActivationBuilder(hardmaxRow))
}

// pointwiseActivations make the unary definition of an activation from
// its node's attributes.
var pointwiseActivations = map[string]func(n *graph.Node) (*unaryDef, error){
	"Relu": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{
			f32: reluF32,
			f64: func(x float64) float64 {
				if x < 0 {
					return 0
				}
				return x
			},
			i64: func(x int64) int64 { return max(x, 0) },
		}, nil
	},
	"LeakyRelu": func(n *graph.Node) (*unaryDef, error) {
		alpha := n.AttrFloat("alpha", 0.01)
		return floatActivation(func(x float32) float32 {
			if x < 0 {
				return alpha * x
			}
			return x
		}, func(x float64) float64 {
			if x < 0 {
				return float64(alpha) * x
			}
			return x
		}), nil
	},
	"Sigmoid": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{f32: kernels.SigmoidF32, f64: func(x float64) float64 {
			if x >= 0 {
				return 1 / (1 + math.Exp(-x))
			}
			e := math.Exp(x)
			return e / (1 + e)
		}}, nil
	},
	"HardSigmoid": func(n *graph.Node) (*unaryDef, error) {
		alpha := n.AttrFloat("alpha", 0.2)
		beta := n.AttrFloat("beta", 0.5)
		return floatActivation(func(x float32) float32 {
			return max(0, min(1, alpha*x+beta))
		}, func(x float64) float64 {
			return max(0, min(1, float64(alpha)*x+float64(beta)))
		}), nil
	},
	"HardSwish": func(n *graph.Node) (*unaryDef, error) {
		const alpha, beta = float32(1.0 / 6), float32(0.5)
		return floatActivation(func(x float32) float32 {
			return x * max(0, min(1, alpha*x+beta))
		}, func(x float64) float64 {
			return x * max(0, min(1, x/6+0.5))
		}), nil
	},
	"Tanh": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{f64: math.Tanh}, nil
	},
	"Elu": func(n *graph.Node) (*unaryDef, error) {
		alpha := float64(n.AttrFloat("alpha", 1))
		return &unaryDef{f64: func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}}, nil
	},
	"Selu": func(n *graph.Node) (*unaryDef, error) {
		alpha := float64(n.AttrFloat("alpha", 1.67326319217681884765625))
		gamma := float64(n.AttrFloat("gamma", 1.05070102214813232421875))
		return &unaryDef{f64: func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		}}, nil
	},
	"Celu": func(n *graph.Node) (*unaryDef, error) {
		alpha := float64(n.AttrFloat("alpha", 1))
		if alpha == 0 {
			return nil, fmt.Errorf("alpha must not be 0")
		}
		return &unaryDef{f64: func(x float64) float64 {
			return max(0, x) + min(0, alpha*math.Expm1(x/alpha))
		}}, nil
	},
	"Softplus": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{f64: softplus64}, nil
	},
	"Softsign": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{f64: func(x float64) float64 { return x / (1 + math.Abs(x)) }}, nil
	},
	"Gelu": func(n *graph.Node) (*unaryDef, error) {
		switch a := n.AttrString("approximate", "none"); a {
		case "none":
			return &unaryDef{f64: func(x float64) float64 {
				return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
			}}, nil
		case "tanh":
			k := math.Sqrt(2 / math.Pi)
			return &unaryDef{f64: func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x)))
			}}, nil
		default:
			return nil, fmt.Errorf("approximate must be none or tanh, got %q", a)
		}
	},
	"Mish": func(n *graph.Node) (*unaryDef, error) {
		return &unaryDef{f64: func(x float64) float64 { return x * math.Tanh(softplus64(x)) }}, nil
	},
	"ThresholdedRelu": func(n *graph.Node) (*unaryDef, error) {
		alpha := n.AttrFloat("alpha", 1)
		return floatActivation(func(x float32) float32 {
			if x > alpha {
				return x
			}
			return 0
		}, func(x float64) float64 {
			if x > float64(alpha) {
				return x
			}
			return 0
		}), nil
	},
	"Shrink": func(n *graph.Node) (*unaryDef, error) {
		lambd := float64(n.AttrFloat("lambd", 0.5))
		bias := float64(n.AttrFloat("bias", 0))
		f := func(x float64) float64 {
			switch {
			case x < -lambd:
				return x + bias
			case x > lambd:
				return x - bias
			}
			return 0
		}
		return &unaryDef{
			f64: f,
			i64: func(x int64) int64 { return floatToInt64(f(float64(x))) },
			u64: func(x uint64) uint64 { return uint64(floatToInt64(f(float64(x)))) },
		}, nil
	},
	"Swish": func(n *graph.Node) (*unaryDef, error) {
		alpha := float64(n.AttrFloat("alpha", 1))
		return &unaryDef{f64: func(x float64) float64 {
			z := alpha * x
			if z >= 0 {
				return x / (1 + math.Exp(-z))
			}
			e := math.Exp(z)
			return x * e / (1 + e)
		}}, nil
	},
}

// softplus64 is log(1+e^x) without overflow for large x.
func softplus64(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// floatActivation builds a float-only unary definition from a float32
// scalar function (its loop) and a float64 one.
func floatActivation(f32 func(float32) float32, f64 func(float64) float64) *unaryDef {
	return &unaryDef{
		f32: func(dst, src []float32) {
			src = src[:len(dst)]
			for i := range dst {
				dst[i] = f32(src[i])
			}
		},
		f64: f64,
	}
}

// reluF32 is max(x, 0) with NaN kept.
func reluF32(dst, src []float32) { kernels.ClampF32(dst, src, 0, float32(math.Inf(1))) }

func activationBuilder(mk func(n *graph.Node) (*unaryDef, error)) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		def, err := mk(n)
		if err != nil {
			return nil, err
		}
		return unaryKernel(def), nil
	}
}

// preluBuilder: PRelu(X, slope) = X where X >= 0, slope·X elsewhere, with
// slope broadcast to X. Before opset 7 a 1-D slope of C values is per
// channel (axis 1).
func preluBuilder(n *graph.Node, opset int64) (Kernel, error) {
	def := &binaryDef{
		f32: loopsOf(func(x, s float32) float32 {
			if x < 0 {
				return x * s
			}
			return x
		}),
		f64: func(x, s float64) float64 {
			if x < 0 {
				return x * s
			}
			return x
		},
		i64: func(x, s int64) int64 {
			if x < 0 {
				return x * s
			}
			return x
		},
		u64: func(x, s uint64) uint64 { return x },
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("takes 2 inputs, got %d", countPresent(in))
		}
		x, slope := in[0], in[1]
		if opset < 7 && len(slope.Shape) == 1 && len(x.Shape) > 2 && slope.Shape[0] == x.Shape[1] && slope.Shape[0] != 1 {
			shape := make([]int, len(x.Shape)-1)
			for i := range shape {
				shape[i] = 1
			}
			shape[0] = slope.Shape[0]
			s := *slope
			s.Shape = shape
			slope = &s
		}
		shape, err := BroadcastShape(x.Shape, slope.Shape)
		if err != nil || !equalShape(shape, x.Shape) {
			return nil, fmt.Errorf("slope of shape %v does not broadcast to X of shape %v", slope.Shape, x.Shape)
		}
		out, err := applyBinary(ctx, def, x, slope)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// clipBuilder: Clip(x, min, max) = min(max(x, lo), hi), so hi wins when
// lo > hi. Before opset 11 the bounds are attributes; from 11 they are
// optional scalar inputs.
func clipBuilder(n *graph.Node, opset int64) (Kernel, error) {
	attrLo, attrHi := math.Inf(-1), math.Inf(1)
	if opset < 11 {
		if a := n.Attr("min"); a != nil {
			attrLo = float64(a.Float)
		}
		if a := n.Attr("max"); a != nil {
			attrHi = float64(a.Float)
		}
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		x := in[0]
		if err := checkTensorData(x, "input"); err != nil {
			return nil, err
		}
		var lo, hi *Tensor
		if opset >= 11 {
			if len(in) > 1 {
				lo = in[1]
			}
			if len(in) > 2 {
				hi = in[2]
			}
		}
		for i, b := range []*Tensor{lo, hi} {
			if b == nil {
				continue
			}
			if err := checkTensorData(b, "bound"); err != nil {
				return nil, err
			}
			if b.DType != x.DType {
				return nil, fmt.Errorf("input %d is %v, want %v like the input", i+1, b.DType, x.DType)
			}
			if b.Len() != 1 {
				return nil, fmt.Errorf("input %d must be a scalar, has shape %v", i+1, b.Shape)
			}
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		switch d := x.Data.(type) {
		case []float32:
			l, h := float32(attrLo), float32(attrHi)
			if lo != nil {
				l = lo.F32()[0]
			}
			if hi != nil {
				h = hi.F32()[0]
			}
			dst := out.F32()
			parallelRanges(ctx, len(d), ewParallelGrain, func(a, b int) { clipF32(dst[a:b], d[a:b], l, h) })
		case []float64, []float16.Float16, []BFloat16:
			l, h := attrLo, attrHi
			if lo != nil {
				l = scalarFloat(lo)
			}
			if hi != nil {
				h = scalarFloat(hi)
			}
			def := &unaryDef{f64: func(v float64) float64 { return min(max(v, l), h) }}
			if _, ok := d.([]float64); !ok {
				def.f32 = func(dst, src []float32) { clipF32(dst, src, float32(l), float32(h)) }
			}
			return wrapUnary(applyUnary(ctx, def, x))
		default:
			if !isIntegerType(x.DType) {
				return nil, fmt.Errorf("type %v is not supported", x.DType)
			}
			if isUnsignedType(x.DType) {
				l, h := uint64(0), uint64(math.MaxUint64)
				if lo != nil {
					v, _ := uintsOf(lo)
					l = v[0]
				}
				if hi != nil {
					v, _ := uintsOf(hi)
					h = v[0]
				}
				return wrapUnary(applyUnary(ctx, &unaryDef{u64: func(v uint64) uint64 { return min(max(v, l), h) }}, x))
			}
			l, h := int64(math.MinInt64), int64(math.MaxInt64)
			if lo != nil {
				v, _ := intsOf(lo)
				l = v[0]
			}
			if hi != nil {
				v, _ := intsOf(hi)
				h = v[0]
			}
			return wrapUnary(applyUnary(ctx, &unaryDef{i64: func(v int64) int64 { return min(max(v, l), h) }}, x))
		}
		return []*Tensor{out}, nil
	}), nil
}

// clipF32 is min(max(x, lo), hi), NaN kept.
func clipF32(dst, src []float32, lo, hi float32) { kernels.ClampF32(dst, src, lo, hi) }

// scalarFloat reads the single element of a float tensor.
func scalarFloat(t *Tensor) float64 {
	v, err := floatsOf64(t)
	if err != nil || len(v) == 0 {
		return math.NaN()
	}
	return v[0]
}

func wrapUnary(t *Tensor, err error) ([]*Tensor, error) {
	if err != nil {
		return nil, err
	}
	return []*Tensor{t}, nil
}

// rowFunc computes an axis activation over count rows that each have n
// elements spaced stride apart (stride 1: contiguous rows).
type rowFunc func(dst, src []float64, n int)

// axisActivationBuilder makes Softmax, LogSoftmax and Hardmax. From
// opset 13 they work along one axis (default -1); before, the input is
// seen as 2-D [prod(shape[:axis]), prod(shape[axis:])] (default axis 1)
// and they work along the second dimension.
func axisActivationBuilder(row rowFunc) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		def := int64(-1)
		if opset < 13 {
			def = 1
		}
		axisAttr := n.AttrInt("axis", def)
		isSoftmax := n.OpType == "Softmax"
		isLog := n.OpType == "LogSoftmax"
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 1 || in[0] == nil {
				return nil, fmt.Errorf("input is missing")
			}
			x := in[0]
			if err := checkTensorData(x, "input"); err != nil {
				return nil, err
			}
			if !x.DType.IsFloat() {
				return nil, fmt.Errorf("type %v is not supported", x.DType)
			}
			rank := len(x.Shape)
			var outer, axisLen, inner int
			if rank == 0 {
				outer, axisLen, inner = 1, 1, 1
			} else {
				axis, err := NormalizeAxis(axisAttr, rank)
				if err != nil {
					return nil, err
				}
				outer = prodInts(x.Shape[:axis])
				if opset < 13 {
					axisLen, inner = prodInts(x.Shape[axis:]), 1
				} else {
					axisLen, inner = x.Shape[axis], prodInts(x.Shape[axis+1:])
				}
			}
			out := ctx.Alloc(x.DType, x.Shape...)
			if d, ok := x.Data.([]float32); ok && inner == 1 && (isSoftmax || isLog) {
				dst := out.F32()
				parallelRanges(ctx, outer, max(1, ewParallelGrain/max(axisLen, 1)), func(lo, hi int) {
					if axisLen < shortSoftmaxRow {
						softmaxShortRowsF32(dst[lo*axisLen:hi*axisLen], d[lo*axisLen:hi*axisLen], axisLen, isLog)
						return
					}
					for r := lo; r < hi; r++ {
						softmaxRowF32(dst[r*axisLen:(r+1)*axisLen], d[r*axisLen:(r+1)*axisLen], isLog)
					}
				})
				return []*Tensor{out}, nil
			}
			src, err := floatsOf64(x)
			if err != nil {
				return nil, err
			}
			res := make([]float64, len(src))
			// Each (outer, inner) pair is one row; rows are independent.
			rows := outer * inner
			parallelRanges(ctx, rows, max(1, ewParallelGrain/max(axisLen, 1)), func(lo, hi int) {
				rs := make([]float64, axisLen)
				rd := make([]float64, axisLen)
				for r := lo; r < hi; r++ {
					o, i := r/inner, r%inner
					base := o*axisLen*inner + i
					for k := 0; k < axisLen; k++ {
						rs[k] = src[base+k*inner]
					}
					row(rd, rs, axisLen)
					for k := 0; k < axisLen; k++ {
						res[base+k*inner] = rd[k]
					}
				}
			})
			if err := encodeFloats(out, res, castOptions{saturate: true, roundMode: "up"}); err != nil {
				return nil, err
			}
			return []*Tensor{out}, nil
		}), nil
	}
}

func prodInts(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// softmaxRowF32 is softmax (or log-softmax) of one contiguous float32
// row: the max is subtracted first so exp cannot overflow, the sum is kept
// in float64, and softmax multiplies by its reciprocal.
func softmaxRowF32(dst, src []float32, log bool) {
	if len(src) == 0 {
		return
	}
	m := src[0]
	for _, v := range src[1:] {
		if v > m || v != v {
			m = v
		}
	}
	if math.IsInf(float64(m), 0) || m != m {
		// Inputs of ±inf or NaN: fall back to the float64 definition.
		s := make([]float64, len(src))
		d := make([]float64, len(src))
		for i, v := range src {
			s[i] = float64(v)
		}
		if log {
			logSoftmaxRow(d, s, len(s))
		} else {
			softmaxRow(d, s, len(s))
		}
		for i, v := range d {
			dst[i] = float32(v)
		}
		return
	}
	kernels.ExpF32(dst, src, m)
	sum := sumF32(dst)
	if log {
		ls := float32(math.Log(sum))
		for i, v := range src {
			dst[i] = v - m - ls
		}
		return
	}
	kernels.MulScalarF32(dst, dst, float32(1/sum))
}

// shortSoftmaxRow is the row length below which softmax works on blocks
// of rows: the per-row calls would cost more than the arithmetic.
const shortSoftmaxRow = 16

// softmaxShortRowsF32 is softmaxRowF32 of every row of n elements of src,
// with the same operations in the same order: each row's max, the
// differences v−max of a block of rows (what ExpF32 with the max as
// shift subtracts) through one ExpF32 with shift 0 (x−0 is x), each
// row's sumF32, then the product by float32(1/sum) (softmax) or
// v−max−log(sum) (log-softmax). Rows holding ±Inf or NaN take
// softmaxRowF32 itself.
func softmaxShortRowsF32(dst, src []float32, n int, log bool) {
	const block = 256
	diff := make([]float32, block*n)
	maxes := make([]float32, block)
	for len(src) > 0 {
		rows := min(block, len(src)/n)
		for r := range rows {
			row := src[r*n : (r+1)*n]
			m := row[0]
			for _, v := range row[1:] {
				if v > m || v != v {
					m = v
				}
			}
			maxes[r] = m
			d := diff[r*n : (r+1)*n]
			if math.IsInf(float64(m), 0) || m != m {
				clear(d)
				continue
			}
			for i, v := range row {
				d[i] = v - m
			}
		}
		e := dst[:rows*n]
		kernels.ExpF32(e, diff[:rows*n], 0)
		for r := range rows {
			row, out, m := src[r*n:(r+1)*n], e[r*n:(r+1)*n], maxes[r]
			if math.IsInf(float64(m), 0) || m != m {
				softmaxRowF32(out, row, log)
				continue
			}
			sum := sumF32(out)
			if log {
				ls := float32(math.Log(sum))
				for i, v := range row {
					out[i] = v - m - ls
				}
				continue
			}
			f := float32(1 / sum)
			for i := range out {
				out[i] *= f
			}
		}
		dst, src = dst[rows*n:], src[rows*n:]
	}
}

// sumF32 adds a row in float64 with four partial sums (every fourth
// element each), combined in a fixed order.
func sumF32(v []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		a0 += float64(v[i])
		a1 += float64(v[i+1])
		a2 += float64(v[i+2])
		a3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		a0 += float64(v[i])
	}
	return (a0 + a1) + (a2 + a3)
}

func softmaxRow(dst, src []float64, n int) {
	m := math.Inf(-1)
	for _, v := range src[:n] {
		if v > m || v != v {
			m = v
		}
	}
	var sum float64
	for i, v := range src[:n] {
		e := math.Exp(v - m)
		dst[i] = e
		sum += e
	}
	for i := range dst[:n] {
		dst[i] /= sum
	}
}

func logSoftmaxRow(dst, src []float64, n int) {
	m := math.Inf(-1)
	for _, v := range src[:n] {
		if v > m || v != v {
			m = v
		}
	}
	var sum float64
	for _, v := range src[:n] {
		sum += math.Exp(v - m)
	}
	ls := math.Log(sum)
	for i, v := range src[:n] {
		dst[i] = v - m - ls
	}
}

// hardmaxRow sets 1 at the first maximum of the row and 0 elsewhere.
func hardmaxRow(dst, src []float64, n int) {
	best := 0
	for i := 1; i < n; i++ {
		if src[i] > src[best] {
			best = i
		}
	}
	for i := range dst[:n] {
		dst[i] = 0
	}
	if n > 0 {
		dst[best] = 1
	}
}
