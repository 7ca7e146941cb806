// Elementwise kernels: binary arithmetic, bitwise, logical and comparison
// ops with numpy broadcasting (Add, Sub, Mul, Div, Pow, Mod, BitShift,
// Bitwise*, And/Or/Xor, Equal, Less, Greater...), the variadic Max, Min,
// Sum and Mean, Where, and the unary math ops (Neg, Abs, Sqrt, Exp, Log,
// trigonometric and hyperbolic functions, Erf, Round, IsNaN, IsInf...).
//
// float32 runs through the vector primitives of runtime/kernels (AVX2
// with bit-identical Go twins) over the runs of the broadcast walk, in
// which same-shape, scalar and per-channel operands are long runs (see
// elementwise_bcast.go); float16 and bfloat16 are computed in float32 and
// rounded back; integer types are computed in int64 or uint64 and wrapped
// to their width.
// Cast and CastLike are in elementwise_cast.go.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
	"github.com/x448/float16"
)

func registerElementwise(r *Registry) {
	for name, def := range arithmeticOps {
		r.Register("", name, binaryBuilder(def))
	}
	r.Register("", "Pow", binaryKernelBuilder(powKernel))
	r.Register("", "Mod", modBuilder)
	r.Register("", "BitShift", bitShiftBuilder)
	for name, def := range compareOps {
		r.Register("", name, compareBuilder(def))
	}
	for _, name := range []string{"Max", "Min", "Sum", "Mean"} {
		r.Register("", name, variadicBuilder(name))
	}
	r.Register("", "Where", whereBuilder)
	for name, def := range unaryOps {
		r.Register("", name, unaryBuilder(def))
	}
	r.Register("", "IsNaN", isNaNBuilder)
	r.Register("", "IsInf", isInfBuilder)
	registerCast(r)
}

// signedInt and unsignedInt are the integer element types computed in
// int64 and uint64.
type signedInt interface {
	~int8 | ~int16 | ~int32 | ~int64
}
type unsignedInt interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64
}

// f32Loops are the float32 loops of a binary op over a run: both operands
// vectors (vv), the second a scalar (vs) or the first a scalar (sv).
type f32Loops struct {
	vv func(dst, a, b []float32)
	vs func(dst, a []float32, b float32)
	sv func(dst []float32, a float32, b []float32)
}

// loopsOf derives run loops from a scalar float32 function.
func loopsOf(f func(a, b float32) float32) f32Loops {
	return f32Loops{
		vv: func(dst, a, b []float32) {
			a, b = a[:len(dst)], b[:len(dst)]
			for i := range dst {
				dst[i] = f(a[i], b[i])
			}
		},
		vs: func(dst, a []float32, b float32) {
			a = a[:len(dst)]
			for i := range dst {
				dst[i] = f(a[i], b)
			}
		},
		sv: func(dst []float32, a float32, b []float32) {
			b = b[:len(dst)]
			for i := range dst {
				dst[i] = f(a, b[i])
			}
		},
	}
}

// binaryDef is a binary op producing the type of its operands. A nil
// function means the op does not support that class of types.
type binaryDef struct {
	f32     f32Loops // float32, float16 and bfloat16
	f64     func(a, b float64) float64
	i64     func(a, b int64) int64
	u64     func(a, b uint64) uint64
	boolean func(a, b bool) bool
}

var arithmeticOps = map[string]*binaryDef{
	"Add": {
		f32: f32Loops{vv: kernels.AddF32, vs: kernels.AddScalarF32, sv: func(dst []float32, a float32, b []float32) { kernels.AddScalarF32(dst, b, a) }},
		f64: func(a, b float64) float64 { return a + b },
		i64: func(a, b int64) int64 { return a + b },
		u64: func(a, b uint64) uint64 { return a + b },
	},
	"Sub": {
		// a - s is exactly a + (-s).
		f32: f32Loops{vv: kernels.SubF32, vs: func(dst, a []float32, b float32) { kernels.AddScalarF32(dst, a, -b) }, sv: kernels.ScalarSubF32},
		f64: func(a, b float64) float64 { return a - b },
		i64: func(a, b int64) int64 { return a - b },
		u64: func(a, b uint64) uint64 { return a - b },
	},
	"Mul": {
		f32: f32Loops{vv: kernels.MulF32, vs: kernels.MulScalarF32, sv: func(dst []float32, a float32, b []float32) { kernels.MulScalarF32(dst, b, a) }},
		f64: func(a, b float64) float64 { return a * b },
		i64: func(a, b int64) int64 { return a * b },
		u64: func(a, b uint64) uint64 { return a * b },
	},
	"Div": {
		f32: f32Loops{vv: kernels.DivF32, vs: kernels.DivScalarF32, sv: kernels.ScalarDivF32},
		f64: func(a, b float64) float64 { return a / b },
		i64: divInt64,
		u64: func(a, b uint64) uint64 {
			if b == 0 {
				return 0
			}
			return a / b
		},
	},
	"BitwiseAnd": {
		i64: func(a, b int64) int64 { return a & b },
		u64: func(a, b uint64) uint64 { return a & b },
	},
	"BitwiseOr": {
		i64: func(a, b int64) int64 { return a | b },
		u64: func(a, b uint64) uint64 { return a | b },
	},
	"BitwiseXor": {
		i64: func(a, b int64) int64 { return a ^ b },
		u64: func(a, b uint64) uint64 { return a ^ b },
	},
	"And": {boolean: func(a, b bool) bool { return a && b }},
	"Or":  {boolean: func(a, b bool) bool { return a || b }},
	"Xor": {boolean: func(a, b bool) bool { return a != b }},
}

// divInt64 truncates toward zero like C; division by zero gives 0
// (ONNX leaves it undefined) instead of a run-time panic.
func divInt64(a, b int64) int64 {
	switch b {
	case 0:
		return 0
	case -1:
		return -a // avoids the overflow trap of MinInt64 / -1
	}
	return a / b
}

// maxF32 and minF32 propagate NaN like numpy's maximum and minimum.
func maxF32(a, b float32) float32 {
	if a != a || b != b {
		return a + b
	}
	if a >= b {
		return a
	}
	return b
}

func minF32(a, b float32) float32 {
	if a != a || b != b {
		return a + b
	}
	if a <= b {
		return a
	}
	return b
}

func maxF64(a, b float64) float64 {
	if a != a || b != b {
		return a + b
	}
	return max(a, b)
}

func minF64(a, b float64) float64 {
	if a != a || b != b {
		return a + b
	}
	return min(a, b)
}

var variadicOps = map[string]*binaryDef{
	"Max": {
		f32: loopsOf(maxF32), f64: maxF64,
		i64: func(a, b int64) int64 { return max(a, b) },
		u64: func(a, b uint64) uint64 { return max(a, b) },
	},
	"Min": {
		f32: loopsOf(minF32), f64: minF64,
		i64: func(a, b int64) int64 { return min(a, b) },
		u64: func(a, b uint64) uint64 { return min(a, b) },
	},
	"Sum":  {f32: f32Loops{vv: kernels.AddF32, vs: kernels.AddScalarF32, sv: func(dst []float32, a float32, b []float32) { kernels.AddScalarF32(dst, b, a) }}, f64: func(a, b float64) float64 { return a + b }},
	"Mean": {f32: f32Loops{vv: kernels.AddF32, vs: kernels.AddScalarF32, sv: func(dst []float32, a float32, b []float32) { kernels.AddScalarF32(dst, b, a) }}, f64: func(a, b float64) float64 { return a + b }},
}

// binaryBuilder makes the kernel of a fixed binary op.
func binaryBuilder(def *binaryDef) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		return binaryKernelOf(n, opset, func(ctx *Context, a, b *Tensor) (*Tensor, error) {
			return applyBinary(ctx, def, a, b)
		}), nil
	}
}

// binaryKernelBuilder makes the kernel of a binary op implemented by fn.
func binaryKernelBuilder(fn func(ctx *Context, a, b *Tensor) (*Tensor, error)) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		return binaryKernelOf(n, opset, fn), nil
	}
}

func binaryKernelOf(n *graph.Node, opset int64, fn func(ctx *Context, a, b *Tensor) (*Tensor, error)) Kernel {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("takes 2 inputs, got %d", countPresent(in))
		}
		b, err := legacyBroadcast(n, opset, in[0], in[1])
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in[0], b)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	})
}

func countPresent(in []*Tensor) int {
	n := 0
	for _, t := range in {
		if t != nil {
			n++
		}
	}
	return n
}

// applyBinary runs def over the broadcast of a and b.
func applyBinary(ctx *Context, def *binaryDef, a, b *Tensor) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("operand types differ: %v and %v", a.DType, b.DType)
	}
	shape, err := broadcastOperands(a, b)
	if err != nil {
		return nil, err
	}
	if !binarySupports(def, a.DType) {
		return nil, fmt.Errorf("type %v is not supported", a.DType)
	}
	p := newBcastPlan(shape, a.Shape, b.Shape)
	out := ctx.Alloc(a.DType, shape...)
	switch x := a.Data.(type) {
	case []float32:
		runBinaryF32(ctx, p, x, b.Data.([]float32), out.F32(), def.f32)
	case []float16.Float16, []BFloat16:
		xs, ys := floatsOf32(a), floatsOf32(b)
		res := make([]float32, p.n)
		runBinaryF32(ctx, p, xs, ys, res, def.f32)
		storeFloats32(out, res)
	case []float64:
		runBroadcast2(ctx, p, x, b.Data.([]float64), out.Data.([]float64), def.f64)
	case []int8:
		runSigned(ctx, p, x, b.Data.([]int8), out.Data.([]int8), def.i64)
	case []int16:
		runSigned(ctx, p, x, b.Data.([]int16), out.Data.([]int16), def.i64)
	case []int32:
		runSigned(ctx, p, x, b.Data.([]int32), out.Data.([]int32), def.i64)
	case []int64:
		runBroadcast2(ctx, p, x, b.Data.([]int64), out.Data.([]int64), def.i64)
	case []uint8:
		runUnsigned(ctx, p, x, b.Data.([]uint8), out.Data.([]uint8), def.u64)
	case []uint16:
		runUnsigned(ctx, p, x, b.Data.([]uint16), out.Data.([]uint16), def.u64)
	case []uint32:
		runUnsigned(ctx, p, x, b.Data.([]uint32), out.Data.([]uint32), def.u64)
	case []uint64:
		runBroadcast2(ctx, p, x, b.Data.([]uint64), out.Data.([]uint64), def.u64)
	case []bool:
		runBroadcast2(ctx, p, x, b.Data.([]bool), out.Data.([]bool), def.boolean)
	}
	return out, nil
}

// binarySupports reports whether def has a function for type dt.
func binarySupports(def *binaryDef, dt graph.DType) bool {
	switch dt {
	case graph.Float32, graph.Float16, graph.BFloat16:
		return def.f32.vv != nil
	case graph.Float64:
		return def.f64 != nil
	case graph.Int8, graph.Int16, graph.Int32, graph.Int64:
		return def.i64 != nil
	case graph.Uint8, graph.Uint16, graph.Uint32, graph.Uint64:
		return def.u64 != nil
	case graph.Bool:
		return def.boolean != nil
	}
	return false
}

func runSigned[T signedInt](ctx *Context, p *bcastPlan, a, b, out []T, f func(a, b int64) int64) {
	runBroadcast2(ctx, p, a, b, out, func(x, y T) T { return T(f(int64(x), int64(y))) })
}

func runUnsigned[T unsignedInt](ctx *Context, p *bcastPlan, a, b, out []T, f func(a, b uint64) uint64) {
	runBroadcast2(ctx, p, a, b, out, func(x, y T) T { return T(f(uint64(x), uint64(y))) })
}

// runBinaryF32 walks the broadcast with the op's float32 run loops.
func runBinaryF32(ctx *Context, p *bcastPlan, a, b, out []float32, l f32Loops) {
	sa, sb := p.steps[0], p.steps[1]
	parallelRanges(ctx, p.n, ewParallelGrain, func(lo, hi int) {
		p.walk(lo, hi, func(o, cnt int, offs []int) {
			dst := out[o : o+cnt]
			switch {
			case sa == 1 && sb == 1:
				l.vv(dst, a[offs[0]:], b[offs[1]:])
			case sa == 1:
				l.vs(dst, a[offs[0]:], b[offs[1]])
			case sb == 1:
				l.sv(dst, a[offs[0]], b[offs[1]:])
			default:
				l.vs(dst[:1], a[offs[0]:], b[offs[1]])
				for i := 1; i < len(dst); i++ {
					dst[i] = dst[0]
				}
			}
		})
	})
}

// floatsOf32 widens float16 or bfloat16 data to float32 (float32 data is
// returned as is).
func floatsOf32(t *Tensor) []float32 {
	switch d := t.Data.(type) {
	case []float32:
		return d
	case []float16.Float16:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = v.Float32()
		}
		return out
	case []BFloat16:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = v.Float32()
		}
		return out
	}
	return nil
}

// storeFloats32 rounds float32 values into a float32, float16 or bfloat16
// tensor.
func storeFloats32(t *Tensor, src []float32) {
	switch d := t.Data.(type) {
	case []float32:
		copy(d, src)
	case []float16.Float16:
		for i, v := range src {
			d[i] = float16.Fromfloat32(v)
		}
	case []BFloat16:
		for i, v := range src {
			d[i] = BFloat16From(v)
		}
	}
}

// powKernel raises a to b; the exponent may have another numeric type
// than the base, and the result has the base's type.
func powKernel(ctx *Context, a, b *Tensor) (*Tensor, error) {
	shape, err := broadcastOperands(a, b)
	if err != nil {
		return nil, err
	}
	p := newBcastPlan(shape, a.Shape, b.Shape)
	if a.DType == graph.Float32 && b.DType == graph.Float32 {
		out := ctx.Alloc(graph.Float32, shape...)
		x, y := a.F32(), b.F32()
		if b.Len() == 1 && p.steps[1] == 0 && len(p.dims) == 0 {
			if powByConstant(out.F32(), x, y[0]) {
				return out, nil
			}
		}
		runBinaryF32(ctx, p, x, y, out.F32(), loopsOf(func(u, v float32) float32 {
			return float32(math.Pow(float64(u), float64(v)))
		}))
		return out, nil
	}
	if !isNumeric(a.DType) || !isNumeric(b.DType) {
		return nil, fmt.Errorf("Pow of %v by %v is not supported", a.DType, b.DType)
	}
	out := ctx.Alloc(a.DType, shape...)
	if isIntegerType(a.DType) && isIntegerType(b.DType) {
		x, _ := intsOf(a)
		y, _ := intsOf(b)
		res := make([]int64, p.n)
		runBroadcast2(ctx, p, x, y, res, powInt64)
		storeInts(out, res)
		return out, nil
	}
	x, err := a.AsFloat64()
	if err != nil {
		return nil, err
	}
	y, err := b.AsFloat64()
	if err != nil {
		return nil, err
	}
	res := make([]float64, p.n)
	runBroadcast2(ctx, p, x, y, res, math.Pow)
	storeFloats64(out, res)
	return out, nil
}

// powByConstant handles the exponents that models use for squares and
// roots with exact equivalents of math.Pow rounded to float32.
func powByConstant(dst, x []float32, e float32) bool {
	switch e {
	case 1:
		copy(dst, x)
	case 2:
		for i, v := range x {
			dst[i] = v * v
		}
	case 0.5:
		// pow(-0, 0.5) is +0 and pow(-inf, 0.5) is +inf, unlike sqrt.
		for i, v := range x {
			if v == 0 || math.IsInf(float64(v), -1) {
				dst[i] = float32(math.Pow(float64(v), 0.5))
			} else {
				dst[i] = float32(math.Sqrt(float64(v)))
			}
		}
	default:
		return false
	}
	return true
}

// powInt64 raises an integer to an integer power by squaring, wrapping on
// overflow; negative exponents give the truncated reciprocal.
func powInt64(a, b int64) int64 {
	if b < 0 {
		switch a {
		case 1:
			return 1
		case -1:
			if b%2 == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	r := int64(1)
	for b > 0 {
		if b&1 == 1 {
			r *= a
		}
		a *= a
		b >>= 1
	}
	return r
}

// modBuilder: integer Mod takes the divisor's sign (fmod=0) or the
// dividend's (fmod=1, C fmod); floats use fmod.
func modBuilder(n *graph.Node, opset int64) (Kernel, error) {
	fmodAttr := n.AttrInt("fmod", 0)
	if fmodAttr != 0 && fmodAttr != 1 {
		return nil, fmt.Errorf("fmod must be 0 or 1, got %d", fmodAttr)
	}
	fm := fmodAttr == 1
	f64 := func(a, b float64) float64 {
		r := math.Mod(a, b)
		if !fm && r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		return r
	}
	def := &binaryDef{
		f32: loopsOf(func(a, b float32) float32 { return float32(f64(float64(a), float64(b))) }),
		f64: f64,
		i64: func(a, b int64) int64 {
			if b == 0 {
				return 0
			}
			if b == -1 {
				return 0
			}
			r := a % b
			if !fm && r != 0 && (r < 0) != (b < 0) {
				r += b
			}
			return r
		},
		u64: func(a, b uint64) uint64 {
			if b == 0 {
				return 0
			}
			return a % b
		},
	}
	return binaryKernelOf(n, opset, func(ctx *Context, a, b *Tensor) (*Tensor, error) {
		return applyBinary(ctx, def, a, b)
	}), nil
}

func bitShiftBuilder(n *graph.Node, opset int64) (Kernel, error) {
	var def *binaryDef
	switch dir := n.AttrString("direction", ""); dir {
	case "LEFT":
		def = &binaryDef{u64: func(a, b uint64) uint64 { return a << b }}
	case "RIGHT":
		def = &binaryDef{u64: func(a, b uint64) uint64 { return a >> b }}
	default:
		return nil, fmt.Errorf("direction must be LEFT or RIGHT, got %q", dir)
	}
	return binaryKernelOf(n, opset, func(ctx *Context, a, b *Tensor) (*Tensor, error) {
		return applyBinary(ctx, def, a, b)
	}), nil
}

// compareDef is a comparison producing bool.
type compareDef struct {
	f64     func(a, b float64) bool
	i64     func(a, b int64) bool
	u64     func(a, b uint64) bool
	str     func(a, b string) bool
	boolean func(a, b bool) bool
}

var compareOps = map[string]*compareDef{
	"Equal": {
		f64:     func(a, b float64) bool { return a == b },
		i64:     func(a, b int64) bool { return a == b },
		u64:     func(a, b uint64) bool { return a == b },
		str:     func(a, b string) bool { return a == b },
		boolean: func(a, b bool) bool { return a == b },
	},
	"Less": {
		f64: func(a, b float64) bool { return a < b },
		i64: func(a, b int64) bool { return a < b },
		u64: func(a, b uint64) bool { return a < b },
	},
	"LessOrEqual": {
		f64: func(a, b float64) bool { return a <= b },
		i64: func(a, b int64) bool { return a <= b },
		u64: func(a, b uint64) bool { return a <= b },
	},
	"Greater": {
		f64: func(a, b float64) bool { return a > b },
		i64: func(a, b int64) bool { return a > b },
		u64: func(a, b uint64) bool { return a > b },
	},
	"GreaterOrEqual": {
		f64: func(a, b float64) bool { return a >= b },
		i64: func(a, b int64) bool { return a >= b },
		u64: func(a, b uint64) bool { return a >= b },
	},
}

func compareBuilder(def *compareDef) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		return binaryKernelOf(n, opset, func(ctx *Context, a, b *Tensor) (*Tensor, error) {
			return applyCompare(ctx, def, a, b)
		}), nil
	}
}

func applyCompare(ctx *Context, def *compareDef, a, b *Tensor) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("operand types differ: %v and %v", a.DType, b.DType)
	}
	shape, err := broadcastOperands(a, b)
	if err != nil {
		return nil, err
	}
	p := newBcastPlan(shape, a.Shape, b.Shape)
	out := ctx.Alloc(graph.Bool, shape...)
	res := out.Data.([]bool)
	switch x := a.Data.(type) {
	case []float32:
		if def.f64 == nil {
			return nil, unsupportedType(a)
		}
		runBroadcast2(ctx, p, x, b.Data.([]float32), res, func(u, v float32) bool { return def.f64(float64(u), float64(v)) })
	case []float64:
		if def.f64 == nil {
			return nil, unsupportedType(a)
		}
		runBroadcast2(ctx, p, x, b.Data.([]float64), res, def.f64)
	case []float16.Float16, []BFloat16:
		if def.f64 == nil {
			return nil, unsupportedType(a)
		}
		runBroadcast2(ctx, p, floatsOf32(a), floatsOf32(b), res, func(u, v float32) bool { return def.f64(float64(u), float64(v)) })
	case []string:
		if def.str == nil {
			return nil, unsupportedType(a)
		}
		runBroadcast2(ctx, p, x, b.Data.([]string), res, def.str)
	case []bool:
		if def.boolean == nil {
			return nil, unsupportedType(a)
		}
		runBroadcast2(ctx, p, x, b.Data.([]bool), res, def.boolean)
	default:
		switch {
		case isSignedType(a.DType) && def.i64 != nil:
			x, _ := intsOf(a)
			y, _ := intsOf(b)
			runBroadcast2(ctx, p, x, y, res, def.i64)
		case isUnsignedType(a.DType) && def.u64 != nil:
			x, _ := uintsOf(a)
			y, _ := uintsOf(b)
			runBroadcast2(ctx, p, x, y, res, def.u64)
		default:
			return nil, unsupportedType(a)
		}
	}
	return out, nil
}

// variadicBuilder makes Max, Min, Sum and Mean: a left fold of the
// broadcast binary op over all inputs (Mean divides the sum by the count).
func variadicBuilder(name string) Builder {
	def := variadicOps[name]
	return func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			var ins []*Tensor
			for _, t := range in {
				if t != nil {
					ins = append(ins, t)
				}
			}
			if len(ins) == 0 {
				return nil, fmt.Errorf("needs at least one input")
			}
			if err := sameTypes(ins); err != nil {
				return nil, err
			}
			if !binarySupports(def, ins[0].DType) {
				return nil, fmt.Errorf("type %v is not supported", ins[0].DType)
			}
			if len(ins) == 1 {
				if err := checkTensorData(ins[0], "input 0"); err != nil {
					return nil, err
				}
				return []*Tensor{ctx.View(ins[0], ins[0].Shape...)}, nil
			}
			acc := ins[0]
			for _, t := range ins[1:] {
				next, err := applyBinary(ctx, def, acc, t)
				if err != nil {
					return nil, err
				}
				acc = next
			}
			if name == "Mean" {
				divideInPlace(acc, len(ins))
			}
			return []*Tensor{acc}, nil
		}), nil
	}
}

// divideInPlace divides a freshly computed float sum by the input count.
func divideInPlace(t *Tensor, count int) {
	switch d := t.Data.(type) {
	case []float32:
		k := float32(count)
		for i := range d {
			d[i] /= k
		}
	case []float64:
		k := float64(count)
		for i := range d {
			d[i] /= k
		}
	case []float16.Float16:
		k := float32(count)
		for i, v := range d {
			d[i] = float16.Fromfloat32(v.Float32() / k)
		}
	case []BFloat16:
		k := float32(count)
		for i, v := range d {
			d[i] = BFloat16From(v.Float32() / k)
		}
	}
}

// whereBuilder: Where(cond, X, Y) picks X where cond is true, with the
// three operands broadcast together.
func whereBuilder(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) != 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("takes 3 inputs, got %d", countPresent(in))
		}
		c, x, y := in[0], in[1], in[2]
		if c.DType != graph.Bool {
			return nil, fmt.Errorf("condition is %v, want bool", c.DType)
		}
		if x.DType != y.DType {
			return nil, fmt.Errorf("X is %v but Y is %v", x.DType, y.DType)
		}
		shape, err := broadcastOperands(c, x, y)
		if err != nil {
			return nil, err
		}
		p := newBcastPlan(shape, c.Shape, x.Shape, y.Shape)
		out := ctx.Alloc(x.DType, shape...)
		cond := c.Data.([]bool)
		switch xd := x.Data.(type) {
		case []float32:
			whereRun(ctx, p, cond, xd, y.Data.([]float32), out.Data.([]float32))
		case []float64:
			whereRun(ctx, p, cond, xd, y.Data.([]float64), out.Data.([]float64))
		case []float16.Float16:
			whereRun(ctx, p, cond, xd, y.Data.([]float16.Float16), out.Data.([]float16.Float16))
		case []BFloat16:
			whereRun(ctx, p, cond, xd, y.Data.([]BFloat16), out.Data.([]BFloat16))
		case []int8:
			whereRun(ctx, p, cond, xd, y.Data.([]int8), out.Data.([]int8))
		case []uint8:
			whereRun(ctx, p, cond, xd, y.Data.([]uint8), out.Data.([]uint8))
		case []int16:
			whereRun(ctx, p, cond, xd, y.Data.([]int16), out.Data.([]int16))
		case []uint16:
			whereRun(ctx, p, cond, xd, y.Data.([]uint16), out.Data.([]uint16))
		case []int32:
			whereRun(ctx, p, cond, xd, y.Data.([]int32), out.Data.([]int32))
		case []uint32:
			whereRun(ctx, p, cond, xd, y.Data.([]uint32), out.Data.([]uint32))
		case []int64:
			whereRun(ctx, p, cond, xd, y.Data.([]int64), out.Data.([]int64))
		case []uint64:
			whereRun(ctx, p, cond, xd, y.Data.([]uint64), out.Data.([]uint64))
		case []bool:
			whereRun(ctx, p, cond, xd, y.Data.([]bool), out.Data.([]bool))
		case []string:
			whereRun(ctx, p, cond, xd, y.Data.([]string), out.Data.([]string))
		case []complex64:
			whereRun(ctx, p, cond, xd, y.Data.([]complex64), out.Data.([]complex64))
		case []complex128:
			whereRun(ctx, p, cond, xd, y.Data.([]complex128), out.Data.([]complex128))
		default:
			return nil, fmt.Errorf("type %v is not supported", x.DType)
		}
		return []*Tensor{out}, nil
	}), nil
}

func whereRun[T any](ctx *Context, p *bcastPlan, c []bool, x, y, out []T) {
	runBroadcast3(ctx, p, c, x, y, out, func(c bool, a, b T) T {
		if c {
			return a
		}
		return b
	})
}

// unaryDef is an elementwise function of one operand of the same type as
// the result. f32, when set, is a float32 loop; otherwise float32 is
// computed through f64 and rounded. A nil function means the op does not
// support that class of types.
type unaryDef struct {
	f32     func(dst, src []float32)
	f64     func(float64) float64
	i64     func(int64) int64
	u64     func(uint64) uint64
	boolean func(bool) bool
}

var unaryOps = map[string]*unaryDef{
	"Neg": {
		f32: func(dst, src []float32) { kernels.ScalarSubF32(dst, float32(math.Copysign(0, -1)), src) },
		f64: func(x float64) float64 { return -x },
		i64: func(x int64) int64 { return -x },
	},
	"Abs": {
		f32: func(dst, src []float32) {
			src = src[:len(dst)]
			for i := range dst {
				dst[i] = math.Float32frombits(math.Float32bits(src[i]) &^ (1 << 31))
			}
		},
		f64: math.Abs,
		i64: func(x int64) int64 {
			if x < 0 {
				return -x
			}
			return x
		},
		u64: func(x uint64) uint64 { return x },
	},
	"Sqrt": {
		f32: func(dst, src []float32) {
			src = src[:len(dst)]
			for i := range dst {
				dst[i] = float32(math.Sqrt(float64(src[i])))
			}
		},
		f64: math.Sqrt,
	},
	"Reciprocal": {
		f32: func(dst, src []float32) { kernels.ScalarDivF32(dst, 1, src) },
		f64: func(x float64) float64 { return 1 / x },
	},
	"Exp":   {f32: func(dst, src []float32) { kernels.ExpF32(dst, src, 0) }, f64: math.Exp},
	"Log":   {f64: math.Log},
	"Floor": {f64: math.Floor},
	"Ceil":  {f64: math.Ceil},
	"Round": {f64: math.RoundToEven},
	"Sign": {
		f64: func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // ±0 and NaN
		},
		i64: func(x int64) int64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return 0
		},
		u64: func(x uint64) uint64 { return min(x, 1) },
	},
	"Sin":   {f64: math.Sin},
	"Cos":   {f64: math.Cos},
	"Tan":   {f64: math.Tan},
	"Asin":  {f64: math.Asin},
	"Acos":  {f64: math.Acos},
	"Atan":  {f64: math.Atan},
	"Sinh":  {f64: math.Sinh},
	"Cosh":  {f64: math.Cosh},
	"Asinh": {f64: math.Asinh},
	"Acosh": {f64: math.Acosh},
	"Atanh": {f64: math.Atanh},
	"Erf":   {f64: math.Erf},
	"Not":   {boolean: func(x bool) bool { return !x }},
	"BitwiseNot": {
		i64: func(x int64) int64 { return ^x },
		u64: func(x uint64) uint64 { return ^x },
	},
}

func unaryBuilder(def *unaryDef) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		return unaryKernel(def), nil
	}
}

// unaryKernel is the kernel of an elementwise unary op.
func unaryKernel(def *unaryDef) Kernel {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		out, err := applyUnary(ctx, def, in[0])
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	})
}

// f32Loop is def's float32 loop, derived from f64 when it has none.
func (def *unaryDef) f32Loop() func(dst, src []float32) {
	if def.f32 != nil {
		return def.f32
	}
	f := def.f64
	return func(dst, src []float32) {
		src = src[:len(dst)]
		for i := range dst {
			dst[i] = float32(f(float64(src[i])))
		}
	}
}

// unsupportedType is the error of a unary op without a loop for x's type
// (built only when it happens: a run of a supported type formats nothing).
func unsupportedType(x *Tensor) error { return fmt.Errorf("type %v is not supported", x.DType) }

func applyUnary(ctx *Context, def *unaryDef, x *Tensor) (*Tensor, error) {
	if err := checkTensorData(x, "input"); err != nil {
		return nil, err
	}
	out := ctx.Alloc(x.DType, x.Shape...)
	switch d := x.Data.(type) {
	case []float32:
		if def.f32 == nil && def.f64 == nil {
			return nil, unsupportedType(x)
		}
		loop := def.f32Loop()
		dst := out.F32()
		parallelRanges(ctx, len(d), ewParallelGrain, func(lo, hi int) { loop(dst[lo:hi], d[lo:hi]) })
	case []float16.Float16, []BFloat16:
		if def.f32 == nil && def.f64 == nil {
			return nil, unsupportedType(x)
		}
		src := floatsOf32(x)
		res := make([]float32, len(src))
		def.f32Loop()(res, src)
		storeFloats32(out, res)
	case []float64:
		if def.f64 == nil {
			return nil, unsupportedType(x)
		}
		mapSlice(ctx, d, out.Data.([]float64), def.f64)
	case []int8:
		if def.i64 == nil {
			return nil, unsupportedType(x)
		}
		mapSigned(ctx, d, out.Data.([]int8), def.i64)
	case []int16:
		if def.i64 == nil {
			return nil, unsupportedType(x)
		}
		mapSigned(ctx, d, out.Data.([]int16), def.i64)
	case []int32:
		if def.i64 == nil {
			return nil, unsupportedType(x)
		}
		mapSigned(ctx, d, out.Data.([]int32), def.i64)
	case []int64:
		if def.i64 == nil {
			return nil, unsupportedType(x)
		}
		mapSlice(ctx, d, out.Data.([]int64), def.i64)
	case []uint8:
		if def.u64 == nil || x.DType != graph.Uint8 {
			return nil, unsupportedType(x)
		}
		mapUnsigned(ctx, d, out.Data.([]uint8), def.u64)
	case []uint16:
		if def.u64 == nil {
			return nil, unsupportedType(x)
		}
		mapUnsigned(ctx, d, out.Data.([]uint16), def.u64)
	case []uint32:
		if def.u64 == nil {
			return nil, unsupportedType(x)
		}
		mapUnsigned(ctx, d, out.Data.([]uint32), def.u64)
	case []uint64:
		if def.u64 == nil {
			return nil, unsupportedType(x)
		}
		mapSlice(ctx, d, out.Data.([]uint64), def.u64)
	case []bool:
		if def.boolean == nil {
			return nil, unsupportedType(x)
		}
		mapSlice(ctx, d, out.Data.([]bool), def.boolean)
	default:
		return nil, unsupportedType(x)
	}
	return out, nil
}

// mapSlice applies f to every element, in parallel for large slices.
func mapSlice[T, R any](ctx *Context, src []T, dst []R, f func(T) R) {
	parallelRanges(ctx, len(src), ewParallelGrain, func(lo, hi int) {
		s, d := src[lo:hi], dst[lo:hi]
		for i := range s {
			d[i] = f(s[i])
		}
	})
}

func mapSigned[T signedInt](ctx *Context, src, dst []T, f func(int64) int64) {
	mapSlice(ctx, src, dst, func(x T) T { return T(f(int64(x))) })
}

func mapUnsigned[T unsignedInt](ctx *Context, src, dst []T, f func(uint64) uint64) {
	mapSlice(ctx, src, dst, func(x T) T { return T(f(uint64(x))) })
}

// floatPredicate maps a float tensor to bool with pred.
func floatPredicate(ctx *Context, in []*Tensor, pred func(float64) bool) ([]*Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("input is missing")
	}
	x := in[0]
	if err := checkTensorData(x, "input"); err != nil {
		return nil, err
	}
	out := ctx.Alloc(graph.Bool, x.Shape...)
	res := out.Data.([]bool)
	switch d := x.Data.(type) {
	case []float32:
		mapSlice(ctx, d, res, func(v float32) bool { return pred(float64(v)) })
	case []float64:
		mapSlice(ctx, d, res, pred)
	case []float16.Float16, []BFloat16:
		mapSlice(ctx, floatsOf32(x), res, func(v float32) bool { return pred(float64(v)) })
	default:
		if !x.DType.IsFloat() {
			return nil, fmt.Errorf("type %v is not supported", x.DType)
		}
		vals, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		mapSlice(ctx, vals, res, pred)
	}
	return []*Tensor{out}, nil
}

func isNaNBuilder(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		return floatPredicate(ctx, in, math.IsNaN)
	}), nil
}

func isInfBuilder(n *graph.Node, opset int64) (Kernel, error) {
	neg := n.AttrInt("detect_negative", 1) != 0
	pos := n.AttrInt("detect_positive", 1) != 0
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		return floatPredicate(ctx, in, func(v float64) bool {
			return (pos && math.IsInf(v, 1)) || (neg && math.IsInf(v, -1))
		})
	}), nil
}
