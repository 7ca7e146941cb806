// Broadcast walking for elementwise kernels: an n-ary numpy broadcast is
// reduced to runs along one coalesced innermost axis, in which every
// operand either advances by one element or stays on one element. Equal
// shapes become one long run, a scalar operand a run with step 0, and a
// per-channel constant ([C,1,1] against [N,C,H,W]) one scalar per H·W run.

package runtime

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// maxKernelElements bounds the size of a tensor an elementwise or reduction
// kernel will allocate; shapes come from model files and inputs.
const maxKernelElements = 1 << 32

// ewParallelGrain is the smallest number of elements worth a goroutine.
const ewParallelGrain = 1 << 14

// shapeElements returns the number of elements of shape, or an error when
// a dimension is negative or the count exceeds maxKernelElements.
func shapeElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d == 0 {
			return 0, nil
		}
		if n > maxKernelElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, maxKernelElements)
		}
		n *= d
	}
	return n, nil
}

// checkTensorData reports an error when t's data does not match its shape or
// type; kernels call it on inputs before indexing them.
func checkTensorData(t *Tensor, what string) error {
	if t == nil {
		return fmt.Errorf("%s is missing", what)
	}
	n, err := shapeElements(t.Shape)
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if t.Data == nil || dataLen(t.Data) != n {
		return fmt.Errorf("%s: data does not match its shape %v", what, t.Shape)
	}
	if !dataFitsType(t) {
		return fmt.Errorf("%s: data of type %T does not hold %v", what, t.Data, t.DType)
	}
	return nil
}

// dataFitsType reports whether t's Go slice is the one its DType uses.
func dataFitsType(t *Tensor) bool {
	var ok bool
	switch t.DType {
	case graph.Float32:
		_, ok = t.Data.([]float32)
	case graph.Float64:
		_, ok = t.Data.([]float64)
	case graph.Float16:
		_, ok = t.Data.([]float16.Float16)
	case graph.BFloat16:
		_, ok = t.Data.([]BFloat16)
	case graph.Int8, graph.Int4, graph.Int2:
		_, ok = t.Data.([]int8)
	case graph.Uint8, graph.Uint4, graph.Uint2, graph.Float8E4M3FN, graph.Float8E4M3FNUZ,
		graph.Float8E5M2, graph.Float8E5M2FNUZ, graph.Float4E2M1, graph.Float8E8M0:
		_, ok = t.Data.([]uint8)
	case graph.Int16:
		_, ok = t.Data.([]int16)
	case graph.Uint16:
		_, ok = t.Data.([]uint16)
	case graph.Int32:
		_, ok = t.Data.([]int32)
	case graph.Uint32:
		_, ok = t.Data.([]uint32)
	case graph.Int64:
		_, ok = t.Data.([]int64)
	case graph.Uint64:
		_, ok = t.Data.([]uint64)
	case graph.Bool:
		_, ok = t.Data.([]bool)
	case graph.String:
		_, ok = t.Data.([]string)
	case graph.Complex64:
		_, ok = t.Data.([]complex64)
	case graph.Complex128:
		_, ok = t.Data.([]complex128)
	}
	return ok
}

// bcastPlan walks the output of an n-ary broadcast as runs of inner
// elements. Within a run operand k advances by steps[k] (0 or 1); the
// outer coalesced axes have sizes dims, and operand k moves by
// strides[k][d] along outer axis d.
type bcastPlan struct {
	n       int
	inner   int
	steps   []int
	dims    []int
	strides [][]int
}

// newBcastPlan plans the broadcast of operands of shapes ins to out (which
// must be their broadcast shape).
func newBcastPlan(out []int, ins ...[]int) *bcastPlan {
	k := len(ins)
	p := &bcastPlan{steps: make([]int, k), strides: make([][]int, k)}
	n, _ := shapeElements(out)
	p.n = n
	p.inner = 1
	if n == 0 {
		return p
	}
	r := len(out)
	// Row-major strides of each operand, aligned to out's axes (0 where the
	// operand is broadcast).
	str := make([][]int, k)
	for j, s := range ins {
		str[j] = broadcastStrides(s, out)
	}
	type group struct {
		size int
		str  []int
		mask uint64
	}
	var groups []group
	for i := 0; i < r; i++ {
		if out[i] == 1 {
			continue
		}
		var mask uint64
		for j := range ins {
			if str[j][i] == 0 {
				mask |= 1 << uint(j)
			}
		}
		if len(groups) > 0 && groups[len(groups)-1].mask == mask {
			g := &groups[len(groups)-1]
			g.size *= out[i]
			for j := range ins {
				g.str[j] = str[j][i]
			}
			continue
		}
		g := group{size: out[i], str: make([]int, k), mask: mask}
		for j := range ins {
			g.str[j] = str[j][i]
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return p
	}
	last := groups[len(groups)-1]
	p.inner = last.size
	copy(p.steps, last.str)
	outer := groups[:len(groups)-1]
	p.dims = make([]int, len(outer))
	for d, g := range outer {
		p.dims[d] = g.size
	}
	for j := range ins {
		p.strides[j] = make([]int, len(outer))
		for d, g := range outer {
			p.strides[j][d] = g.str[j]
		}
	}
	return p
}

// walk calls fn for each piece of a run inside output range [lo, hi): the
// piece starts at output index o, has cnt elements, and operand k starts
// at offs[k].
func (p *bcastPlan) walk(lo, hi int, fn func(o, cnt int, offs []int)) {
	if lo >= hi {
		return
	}
	nd := len(p.dims)
	k := len(p.steps)
	idx := make([]int, nd)
	base := make([]int, k)
	offs := make([]int, k)
	run := lo / p.inner
	within := lo % p.inner
	for d := nd - 1; d >= 0; d-- {
		idx[d] = run % p.dims[d]
		run /= p.dims[d]
	}
	for j := 0; j < k; j++ {
		for d := 0; d < nd; d++ {
			base[j] += idx[d] * p.strides[j][d]
		}
	}
	for pos := lo; pos < hi; {
		cnt := min(p.inner-within, hi-pos)
		for j := 0; j < k; j++ {
			offs[j] = base[j] + within*p.steps[j]
		}
		fn(pos, cnt, offs)
		pos += cnt
		within = 0
		if pos >= hi {
			break
		}
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			for j := 0; j < k; j++ {
				base[j] += p.strides[j][d]
			}
			if idx[d] < p.dims[d] {
				break
			}
			for j := 0; j < k; j++ {
				base[j] -= p.strides[j][d] * idx[d]
			}
			idx[d] = 0
		}
	}
}

// parallelRanges runs fn over [0, n) in contiguous ranges, using the
// context's threads only when n is large enough to be worth it. fn must
// compute each index independently of the range it falls in.
func parallelRanges(ctx *Context, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if ctx == nil || ctx.Threads <= 1 || n < 2*grain {
		fn(0, n)
		return
	}
	parts := min(ctx.Threads, n/grain)
	if parts <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + parts - 1) / parts
	ctx.Parallel(parts, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			a := p * chunk
			fn(a, min(a+chunk, n))
		}
	})
}

// runBroadcast2 applies f to pairs of broadcast operands into out.
func runBroadcast2[T, U, R any](ctx *Context, p *bcastPlan, a []T, b []U, out []R, f func(T, U) R) {
	sa, sb := p.steps[0], p.steps[1]
	parallelRanges(ctx, p.n, ewParallelGrain, func(lo, hi int) {
		p.walk(lo, hi, func(o, cnt int, offs []int) {
			dst := out[o : o+cnt]
			x, y := a[offs[0]:], b[offs[1]:]
			switch {
			case sa == 1 && sb == 1:
				x, y = x[:len(dst)], y[:len(dst)]
				for i := range dst {
					dst[i] = f(x[i], y[i])
				}
			case sa == 1:
				x = x[:len(dst)]
				yv := y[0]
				for i := range dst {
					dst[i] = f(x[i], yv)
				}
			case sb == 1:
				y = y[:len(dst)]
				xv := x[0]
				for i := range dst {
					dst[i] = f(xv, y[i])
				}
			default:
				v := f(x[0], y[0])
				for i := range dst {
					dst[i] = v
				}
			}
		})
	})
}

// runBroadcast3 applies f to triples of broadcast operands into out.
func runBroadcast3[A, B, C, R any](ctx *Context, p *bcastPlan, a []A, b []B, c []C, out []R, f func(A, B, C) R) {
	sa, sb, sc := p.steps[0], p.steps[1], p.steps[2]
	parallelRanges(ctx, p.n, ewParallelGrain, func(lo, hi int) {
		p.walk(lo, hi, func(o, cnt int, offs []int) {
			dst := out[o : o+cnt]
			ia, ib, ic := offs[0], offs[1], offs[2]
			for i := range dst {
				dst[i] = f(a[ia], b[ib], c[ic])
				ia += sa
				ib += sb
				ic += sc
			}
		})
	})
}

// broadcastOperands checks the inputs and returns their broadcast shape.
func broadcastOperands(ins ...*Tensor) ([]int, error) {
	shapes := make([][]int, len(ins))
	for i, t := range ins {
		if err := checkTensorData(t, fmt.Sprintf("input %d", i)); err != nil {
			return nil, err
		}
		shapes[i] = t.Shape
	}
	out, err := BroadcastShape(shapes...)
	if err != nil {
		return nil, err
	}
	if _, err := shapeElements(out); err != nil {
		return nil, err
	}
	return out, nil
}

// sameTypes checks that every present input has the type of the first.
func sameTypes(ins []*Tensor) error {
	for i, t := range ins {
		if t != nil && i > 0 && ins[0] != nil && t.DType != ins[0].DType {
			return fmt.Errorf("input %d is %v but input 0 is %v", i, t.DType, ins[0].DType)
		}
	}
	return nil
}

// legacyBroadcast applies the opset < 7 broadcast attribute: with
// broadcast=1 the second operand is aligned to the first starting at axis
// (or at the trailing axes when axis is absent); with broadcast=0 the
// shapes must match.
func legacyBroadcast(n *graph.Node, opset int64, a, b *Tensor) (*Tensor, error) {
	if opset >= 7 || a == nil || b == nil {
		return b, nil
	}
	if n.AttrInt("broadcast", 0) == 0 {
		if !equalShape(a.Shape, b.Shape) && b.Len() != 1 {
			return nil, fmt.Errorf("shapes %v and %v differ and broadcast is not set", a.Shape, b.Shape)
		}
		return b, nil
	}
	if n.Attr("axis") == nil {
		return b, nil
	}
	axis := int(n.AttrInt("axis", 0))
	if axis < 0 {
		axis += len(a.Shape)
	}
	if axis < 0 || axis+len(b.Shape) > len(a.Shape) {
		return nil, fmt.Errorf("broadcast axis %d does not fit shapes %v and %v", axis, a.Shape, b.Shape)
	}
	shape := append([]int{}, b.Shape...)
	for len(shape) < len(a.Shape)-axis {
		shape = append(shape, 1)
	}
	v := *b
	v.Shape = shape
	return &v, nil
}
