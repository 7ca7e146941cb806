// Reduction kernels: ReduceSum, ReduceMean, ReduceMax, ReduceMin,
// ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
// ReduceSumSquare, ArgMax, ArgMin, CumSum and CumProd.
//
// A reduction is brought to the form [outer, n, inner] (reducing the
// middle axis): directly when the reduced axes are adjacent, otherwise by
// first moving them last. Each output element is accumulated in a fixed
// order (float64 for floats, int64/uint64 for integers), whatever the
// number of threads.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerReduce(r *Registry) {
	for name, kind := range reduceKinds {
		r.Register("", name, reduceBuilder(kind))
	}
	r.Register("", "ArgMax", argBuilder(true))
	r.Register("", "ArgMin", argBuilder(false))
	r.Register("", "CumSum", cumBuilder(false))
	r.Register("", "CumProd", cumBuilder(true))
}

type reduceKind int

const (
	reduceSum reduceKind = iota
	reduceMean
	reduceProd
	reduceMax
	reduceMin
	reduceL1
	reduceL2
	reduceLogSum
	reduceLogSumExp
	reduceSumSquare
)

var reduceKinds = map[string]reduceKind{
	"ReduceSum": reduceSum, "ReduceMean": reduceMean, "ReduceProd": reduceProd,
	"ReduceMax": reduceMax, "ReduceMin": reduceMin, "ReduceL1": reduceL1,
	"ReduceL2": reduceL2, "ReduceLogSum": reduceLogSum,
	"ReduceLogSumExp": reduceLogSumExp, "ReduceSumSquare": reduceSumSquare,
}

// reduceBuilder reads keepdims, noop_with_empty_axes and the axes: an
// attribute before opset 18 (13 for ReduceSum), the optional second
// input from then on.
func reduceBuilder(kind reduceKind) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		keep := n.AttrInt("keepdims", 1) != 0
		noop := n.AttrInt("noop_with_empty_axes", 0) != 0
		attrAxes := n.AttrInts("axes")
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 1 || in[0] == nil {
				return nil, fmt.Errorf("input is missing")
			}
			x := in[0]
			if err := checkTensorData(x, "data"); err != nil {
				return nil, err
			}
			axes := attrAxes
			if len(in) > 1 && in[1] != nil {
				v, err := axesInput(in[1])
				if err != nil {
					return nil, err
				}
				axes = v
			}
			if len(axes) == 0 && noop {
				return []*Tensor{ctx.View(x, x.Shape...)}, nil
			}
			out, err := reduceTensor(ctx, kind, x, axes, keep)
			if err != nil {
				return nil, err
			}
			return []*Tensor{out}, nil
		}), nil
	}
}

// axesInput reads a 1-D int64 (or int32) axes tensor.
func axesInput(t *Tensor) ([]int64, error) {
	if err := checkTensorData(t, "axes"); err != nil {
		return nil, err
	}
	if t.DType != graph.Int64 && t.DType != graph.Int32 {
		return nil, fmt.Errorf("axes are %v, want int64", t.DType)
	}
	if len(t.Shape) > 1 {
		return nil, fmt.Errorf("axes must be 1-D, have shape %v", t.Shape)
	}
	return intsOf(t)
}

// reducedAxes normalizes axes (all axes when empty) into a sorted set.
func reducedAxes(axes []int64, rank int) ([]bool, error) {
	red := make([]bool, rank)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range axes {
		ax, err := NormalizeAxis(a, rank)
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	return red, nil
}

// reduceLayout is a reduction seen as [outer, n, inner]; perm, when set,
// is the transposition that makes the reduced axes adjacent and last.
type reduceLayout struct {
	outer, n, inner int
	perm            []int
}

func planReduce(shape []int, red []bool) reduceLayout {
	// Axes of size 1 do not matter; find whether the reduced ones (of
	// size > 1) form one block.
	first, last := -1, -1
	for i, r := range red {
		if r && shape[i] != 1 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return reduceLayout{outer: prodInts(shape), n: 1, inner: 1}
	}
	block := true
	for i := first; i <= last; i++ {
		if !red[i] && shape[i] != 1 {
			block = false
		}
	}
	if block {
		return reduceLayout{outer: prodInts(shape[:first]), n: prodInts(shape[first : last+1]), inner: prodInts(shape[last+1:])}
	}
	var perm []int
	kept, n := 1, 1
	for i, r := range red {
		if !r {
			perm = append(perm, i)
			kept *= shape[i]
		}
	}
	for i, r := range red {
		if r {
			perm = append(perm, i)
			n *= shape[i]
		}
	}
	return reduceLayout{outer: kept, n: n, inner: 1, perm: perm}
}

func reduceTensor(ctx *Context, kind reduceKind, x *Tensor, axes []int64, keep bool) (*Tensor, error) {
	rank := len(x.Shape)
	red, err := reducedAxes(axes, rank)
	if err != nil {
		return nil, err
	}
	var outShape []int
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			outShape = append(outShape, d)
		case keep:
			outShape = append(outShape, 1)
		}
	}
	if outShape == nil {
		outShape = []int{}
	}
	lay := planReduce(x.Shape, red)
	out := ctx.Alloc(x.DType, outShape...)
	m := lay.outer * lay.inner
	switch d := x.Data.(type) {
	case []float32:
		src := permuteFor(lay, x.Shape, d)
		res := make([]float64, m)
		reduceFloats(ctx, kind, src, res, lay)
		convertSlice(out.F32(), res)
	case []float64:
		reduceFloats(ctx, kind, permuteFor(lay, x.Shape, d), out.Data.([]float64), lay)
	case []float16.Float16, []BFloat16:
		res := make([]float64, m)
		reduceFloats(ctx, kind, permuteFor(lay, x.Shape, floatsOf32(x)), res, lay)
		storeFloats64(out, res)
	case []bool:
		if kind != reduceMax && kind != reduceMin {
			return nil, fmt.Errorf("type bool is only supported by ReduceMax and ReduceMin")
		}
		v, _ := intsOf(x)
		res := make([]int64, m)
		reduceInts(ctx, kind, permuteFor(lay, x.Shape, v), res, lay, boolBounds)
		storeInts(out, res)
	default:
		if !isIntegerType(x.DType) {
			return nil, fmt.Errorf("type %v is not supported", x.DType)
		}
		if kind == reduceL2 || kind == reduceLogSum || kind == reduceLogSumExp {
			v, err := floatsOf64(x)
			if err != nil {
				return nil, err
			}
			res := make([]float64, m)
			reduceFloats(ctx, kind, permuteFor(lay, x.Shape, v), res, lay)
			storeFloats64(out, res)
			break
		}
		if isUnsignedType(x.DType) {
			v, _ := uintsOf(x)
			res := make([]uint64, m)
			reduceInts(ctx, kind, permuteFor(lay, x.Shape, v), res, lay, intBounds[uint64](0, math.MaxUint64))
			storeUints(out, res)
			break
		}
		v, err := intsOf(x)
		if err != nil {
			return nil, err
		}
		res := make([]int64, m)
		reduceInts(ctx, kind, permuteFor(lay, x.Shape, v), res, lay, intBounds[int64](math.MinInt64, math.MaxInt64))
		storeInts(out, res)
	}
	return out, nil
}

// permuteFor returns src with the reduced axes moved last when the layout
// needs it.
func permuteFor[T any](lay reduceLayout, shape []int, src []T) []T {
	if lay.perm == nil {
		return src
	}
	return permuteData(src, shape, lay.perm)
}

// permuteData transposes row-major data of the given shape: axis i of the
// result is axis perm[i] of the source.
func permuteData[T any](src []T, shape, perm []int) []T {
	out := make([]T, len(src))
	if len(src) == 0 {
		return out
	}
	r := len(shape)
	st := Strides(shape)
	dims := make([]int, r)
	pst := make([]int, r)
	for i, p := range perm {
		dims[i] = shape[p]
		pst[i] = st[p]
	}
	idx := make([]int, r)
	pos := 0
	for o := range out {
		out[o] = src[pos]
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			pos += pst[ax]
			if idx[ax] < dims[ax] {
				break
			}
			pos -= pst[ax] * idx[ax]
			idx[ax] = 0
		}
	}
	return out
}

// reduceFloats reduces src ([outer, n, inner]) into dst ([outer, inner])
// with float64 accumulation.
func reduceFloats[T float32 | float64](ctx *Context, kind reduceKind, src []T, dst []float64, lay reduceLayout) {
	n, inner := lay.n, lay.inner
	parallelRanges(ctx, lay.outer*inner, max(1, ewParallelGrain/max(n, 1)), func(lo, hi int) {
		for j := lo; j < hi; {
			o, i0 := j/inner, j%inner
			i1 := min(inner, i0+hi-j)
			acc := dst[o*inner+i0 : o*inner+i1]
			base := o * n * inner
			if kind == reduceLogSumExp {
				// Shift by the maximum (ignoring infinities) so exp cannot
				// overflow; the maximum is added back after the log.
				shift := make([]float64, len(acc))
				for k := range shift {
					shift[k] = math.Inf(-1)
				}
				for r := 0; r < n; r++ {
					row := src[base+r*inner+i0 : base+r*inner+i1]
					for k, v := range row {
						if f := float64(v); f > shift[k] && !math.IsInf(f, 0) {
							shift[k] = f
						}
					}
				}
				for k := range acc {
					if math.IsInf(shift[k], -1) {
						shift[k] = 0
					}
					acc[k] = 0
				}
				for r := 0; r < n; r++ {
					row := src[base+r*inner+i0 : base+r*inner+i1]
					for k, v := range row {
						acc[k] += math.Exp(float64(v) - shift[k])
					}
				}
				for k := range acc {
					acc[k] = math.Log(acc[k]) + shift[k]
				}
				j += len(acc)
				continue
			}
			if inner == 1 {
				// Whole contiguous rows: one call per output element.
				for k := range acc {
					r := o + k
					acc[k] = reduceRow(kind, src[r*n:(r+1)*n])
				}
				j += len(acc)
				continue
			}
			init := 0.0
			switch kind {
			case reduceProd:
				init = 1
			case reduceMax:
				init = math.Inf(-1)
			case reduceMin:
				init = math.Inf(1)
			}
			for k := range acc {
				acc[k] = init
			}
			for r := 0; r < n; r++ {
				row := src[base+r*inner+i0 : base+r*inner+i1]
				accumulateRow(kind, acc, row)
			}
			for k, v := range acc {
				switch kind {
				case reduceMean:
					acc[k] = v / float64(n)
				case reduceL2:
					acc[k] = math.Sqrt(v)
				case reduceLogSum:
					acc[k] = math.Log(v)
				}
			}
			j += len(acc)
		}
	})
}

// reduceRow reduces one contiguous row. Four partial accumulators, each
// taking every fourth element, break the dependency chain of the adds;
// they are combined in a fixed order, so the result does not depend on
// anything but the row.
func reduceRow[T float32 | float64](kind reduceKind, row []T) float64 {
	n := len(row)
	var a0, a1, a2, a3 float64
	switch kind {
	case reduceSum, reduceMean, reduceLogSum, reduceSumSquare, reduceL2, reduceL1:
		sq := kind == reduceSumSquare || kind == reduceL2
		abs := kind == reduceL1
		i := 0
		for ; i+4 <= n; i += 4 {
			x0, x1, x2, x3 := float64(row[i]), float64(row[i+1]), float64(row[i+2]), float64(row[i+3])
			switch {
			case sq:
				x0, x1, x2, x3 = x0*x0, x1*x1, x2*x2, x3*x3
			case abs:
				x0, x1, x2, x3 = math.Abs(x0), math.Abs(x1), math.Abs(x2), math.Abs(x3)
			}
			a0 += x0
			a1 += x1
			a2 += x2
			a3 += x3
		}
		for ; i < n; i++ {
			x := float64(row[i])
			switch {
			case sq:
				x *= x
			case abs:
				x = math.Abs(x)
			}
			a0 += x
		}
		s := (a0 + a1) + (a2 + a3)
		switch kind {
		case reduceMean:
			return s / float64(n)
		case reduceL2:
			return math.Sqrt(s)
		case reduceLogSum:
			return math.Log(s)
		}
		return s
	}
	switch kind {
	case reduceProd:
		p := 1.0
		for _, v := range row {
			p *= float64(v)
		}
		return p
	case reduceMax:
		m := math.Inf(-1)
		for _, v := range row {
			f := float64(v)
			if f != f {
				return f // NaN wins
			}
			m = max(m, f)
		}
		return m
	case reduceMin:
		m := math.Inf(1)
		for _, v := range row {
			f := float64(v)
			if f != f {
				return f
			}
			m = min(m, f)
		}
		return m
	}
	// LogSumExp is handled by the caller.
	return math.NaN()
}

// accumulateRow folds one row of the reduced axis into the accumulators.
func accumulateRow[T float32 | float64](kind reduceKind, acc []float64, row []T) {
	row = row[:len(acc)]
	switch kind {
	case reduceSum, reduceMean, reduceLogSum:
		for k, v := range row {
			acc[k] += float64(v)
		}
	case reduceSumSquare, reduceL2:
		for k, v := range row {
			f := float64(v)
			acc[k] += f * f
		}
	case reduceL1:
		for k, v := range row {
			acc[k] += math.Abs(float64(v))
		}
	case reduceProd:
		for k, v := range row {
			acc[k] *= float64(v)
		}
	case reduceMax:
		for k, v := range row {
			if f := float64(v); f > acc[k] || f != f {
				acc[k] = f
			}
		}
	case reduceMin:
		for k, v := range row {
			if f := float64(v); f < acc[k] || f != f {
				acc[k] = f
			}
		}
	}
}

// integer reductions: the lowest and highest values start Max and Min.
type intLane interface{ int64 | uint64 }

type laneBounds[T intLane] struct{ lowest, highest T }

func intBounds[T intLane](lo, hi T) laneBounds[T] { return laneBounds[T]{lo, hi} }

var boolBounds = laneBounds[int64]{0, 1}

// reduceInts reduces integers with wrapping arithmetic; Mean truncates.
func reduceInts[T intLane](ctx *Context, kind reduceKind, src, dst []T, lay reduceLayout, b laneBounds[T]) {
	n, inner := lay.n, lay.inner
	parallelRanges(ctx, lay.outer*inner, max(1, ewParallelGrain/max(n, 1)), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			o, i := j/inner, j%inner
			base := o*n*inner + i
			var acc T
			switch kind {
			case reduceProd:
				acc = 1
			case reduceMax:
				acc = b.lowest
			case reduceMin:
				acc = b.highest
			}
			for r := 0; r < n; r++ {
				v := src[base+r*inner]
				switch kind {
				case reduceSum, reduceMean:
					acc += v
				case reduceSumSquare:
					acc += v * v
				case reduceL1:
					if v < 0 && b.lowest != 0 {
						v = -v
					}
					acc += v
				case reduceProd:
					acc *= v
				case reduceMax:
					acc = max(acc, v)
				case reduceMin:
					acc = min(acc, v)
				}
			}
			if kind == reduceMean && n > 0 {
				acc /= T(n)
			}
			dst[j] = acc
		}
	})
}

// argBuilder makes ArgMax (max) or ArgMin: int64 indices along axis, the
// first extreme unless select_last_index is set. NaN counts as the
// extreme, as in numpy.
func argBuilder(isMax bool) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		axisAttr := n.AttrInt("axis", 0)
		keep := n.AttrInt("keepdims", 1) != 0
		last := n.AttrInt("select_last_index", 0) != 0
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 1 || in[0] == nil {
				return nil, fmt.Errorf("input is missing")
			}
			x := in[0]
			if err := checkTensorData(x, "data"); err != nil {
				return nil, err
			}
			rank := len(x.Shape)
			if rank == 0 {
				return nil, fmt.Errorf("input must have rank 1 or more")
			}
			axis, err := NormalizeAxis(axisAttr, rank)
			if err != nil {
				return nil, err
			}
			cnt := x.Shape[axis]
			outShape := []int{}
			for i, d := range x.Shape {
				switch {
				case i != axis:
					outShape = append(outShape, d)
				case keep:
					outShape = append(outShape, 1)
				}
			}
			outer, inner := prodInts(x.Shape[:axis]), prodInts(x.Shape[axis+1:])
			if cnt == 0 && outer*inner > 0 {
				return nil, fmt.Errorf("cannot take the arg %s over an empty axis", map[bool]string{true: "max", false: "min"}[isMax])
			}
			out := ctx.Alloc(graph.Int64, outShape...)
			res := out.Data.([]int64)
			var err2 error
			switch d := x.Data.(type) {
			case []float32:
				argReduce(ctx, d, res, outer, cnt, inner, isMax, last)
			case []float64:
				argReduce(ctx, d, res, outer, cnt, inner, isMax, last)
			default:
				switch {
				case x.DType.IsFloat() || x.DType == graph.Bool:
					v, err := floatsOf64(x)
					err2 = err
					if err == nil {
						argReduce(ctx, v, res, outer, cnt, inner, isMax, last)
					}
				case isUnsignedType(x.DType):
					v, _ := uintsOf(x)
					argReduce(ctx, v, res, outer, cnt, inner, isMax, last)
				case isSignedType(x.DType):
					v, _ := intsOf(x)
					argReduce(ctx, v, res, outer, cnt, inner, isMax, last)
				default:
					err2 = fmt.Errorf("type %v is not supported", x.DType)
				}
			}
			if err2 != nil {
				return nil, err2
			}
			return []*Tensor{out}, nil
		}), nil
	}
}

func argReduce[T float32 | float64 | int64 | uint64](ctx *Context, src []T, dst []int64, outer, n, inner int, isMax, last bool) {
	parallelRanges(ctx, outer*inner, max(1, ewParallelGrain/max(n, 1)), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			o, i := j/inner, j%inner
			base := o*n*inner + i
			best := 0
			bv := src[base]
			for r := 1; r < n; r++ {
				v := src[base+r*inner]
				if bv != bv { // a NaN is never replaced, except by a later NaN
					if last && v != v {
						best = r
					}
					continue
				}
				better := v != v
				switch {
				case isMax && v > bv, !isMax && v < bv:
					better = true
				case last && v == bv:
					better = true
				}
				if better {
					best, bv = r, v
				}
			}
			dst[j] = int64(best)
		}
	})
}

// cumBuilder makes CumSum (or CumProd): the running sum (product) along
// the axis given by the second input, optionally exclusive (the element
// itself left out) and in reverse.
func cumBuilder(prod bool) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		exclusive := n.AttrInt("exclusive", 0) != 0
		reverse := n.AttrInt("reverse", 0) != 0
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 2 || in[0] == nil || in[1] == nil {
				return nil, fmt.Errorf("takes 2 inputs, got %d", countPresent(in))
			}
			x := in[0]
			if err := checkTensorData(x, "x"); err != nil {
				return nil, err
			}
			ax, err := axesInput(in[1])
			if err != nil {
				return nil, err
			}
			if len(ax) != 1 {
				return nil, fmt.Errorf("axis must hold one value, has %d", len(ax))
			}
			rank := len(x.Shape)
			if rank == 0 {
				return nil, fmt.Errorf("input must have rank 1 or more")
			}
			axis, err := NormalizeAxis(ax[0], rank)
			if err != nil {
				return nil, err
			}
			outer, cnt, inner := prodInts(x.Shape[:axis]), x.Shape[axis], prodInts(x.Shape[axis+1:])
			out := ctx.Alloc(x.DType, x.Shape...)
			c := cumSpec{outer: outer, n: cnt, inner: inner, exclusive: exclusive, reverse: reverse, prod: prod}
			switch d := x.Data.(type) {
			case []float32:
				res := make([]float64, len(d))
				cumulate(ctx, c, d, res)
				convertSlice(out.F32(), res)
			case []float64:
				cumulate(ctx, c, d, out.Data.([]float64))
			case []float16.Float16, []BFloat16:
				res := make([]float64, x.Len())
				cumulate(ctx, c, floatsOf32(x), res)
				storeFloats64(out, res)
			default:
				switch {
				case isUnsignedType(x.DType):
					v, _ := uintsOf(x)
					res := make([]uint64, len(v))
					cumulate(ctx, c, v, res)
					storeUints(out, res)
				case isSignedType(x.DType):
					v, _ := intsOf(x)
					res := make([]int64, len(v))
					cumulate(ctx, c, v, res)
					storeInts(out, res)
				default:
					return nil, fmt.Errorf("type %v is not supported", x.DType)
				}
			}
			return []*Tensor{out}, nil
		}), nil
	}
}

type cumSpec struct {
	outer, n, inner    int
	exclusive, reverse bool
	prod               bool
}

// cumulate writes the running sums (products) of src along the middle
// axis of [outer, n, inner] into dst; A is the accumulation type.
func cumulate[T float32 | float64 | int64 | uint64, A float64 | int64 | uint64](ctx *Context, c cumSpec, src []T, dst []A) {
	parallelRanges(ctx, c.outer*c.inner, max(1, ewParallelGrain/max(c.n, 1)), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			o, i := j/c.inner, j%c.inner
			base := o*c.n*c.inner + i
			var acc A
			if c.prod {
				acc = 1
			}
			for s := 0; s < c.n; s++ {
				r := s
				if c.reverse {
					r = c.n - 1 - s
				}
				at := base + r*c.inner
				v := A(src[at])
				if c.exclusive {
					dst[at] = acc
				}
				if c.prod {
					acc *= v
				} else {
					acc += v
				}
				if !c.exclusive {
					dst[at] = acc
				}
			}
		}
	})
}
