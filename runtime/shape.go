// shape.go holds the kernels that only change how data is viewed or that
// make small shape-like tensors: Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Dropout (inference), Shape, Size, Constant, ConstantOfShape,
// Range and EyeLike; registerShapeOps also registers the layout kernels of
// shape_layout.go and shape_misc.go.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerShapeOps(r *Registry) {
	r.Register("", "Reshape", buildReshape)
	r.Register("", "Flatten", buildFlatten)
	r.Register("", "Squeeze", buildSqueeze)
	r.Register("", "Unsqueeze", buildUnsqueeze)
	r.Register("", "Identity", buildIdentity)
	r.Register("", "Dropout", buildDropout)
	r.Register("", "Shape", buildShape)
	r.Register("", "Size", buildSize)
	r.Register("", "Constant", buildConstant)
	r.Register("", "ConstantOfShape", buildConstantOfShape)
	r.Register("", "Range", buildRange)
	r.Register("", "EyeLike", buildEyeLike)
	registerLayoutOps(r)
	registerMiscShapeOps(r)
}

// reshapeTarget resolves a Reshape shape (0 copies the input dimension
// unless allowzero, -1 is inferred) for an input of n elements.
func reshapeTarget(in []int, spec []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer := -1
	known := 1
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of a rank-%d input", spec, i, len(in))
			}
			out[i] = in[i]
		case s < 0:
			return nil, fmt.Errorf("shape %v has a negative dimension", spec)
		default:
			if s > dmMaxElements {
				return nil, fmt.Errorf("shape %v has a dimension too large", spec)
			}
			out[i] = int(s)
		}
		if out[i] != 0 && known > dmMaxElements/out[i] {
			return nil, fmt.Errorf("shape %v has too many elements", spec)
		}
		known *= out[i]
	}
	n := 1
	for _, d := range in {
		n *= d
	}
	if infer >= 0 {
		if known == 0 {
			if n != 0 {
				return nil, fmt.Errorf("cannot infer -1 in shape %v with a zero dimension", spec)
			}
			out[infer] = 0
		} else {
			if n%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", in, spec)
			}
			out[infer] = n / known
		}
		known *= out[infer]
	}
	if known != n {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, n, spec)
	}
	return out, nil
}

func buildReshape(n *graph.Node, opset int64) (Kernel, error) {
	allowZero := n.AttrInt("allowzero", 0) != 0
	attrShape := n.AttrInts("shape")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		spec := attrShape
		if opset >= 5 {
			if err := dmNeedInputs(in, 2); err != nil {
				return nil, err
			}
			s, err := dmInts(in[1], "shape")
			if err != nil {
				return nil, err
			}
			spec = s
		}
		shape, err := reshapeTarget(in[0].Shape, spec, allowZero)
		if err != nil {
			return nil, err
		}
		return []*Tensor{ctx.View(in[0], shape...)}, nil
	}), nil
}

func buildFlatten(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", 1)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		a := int(axis)
		if a < 0 {
			a += x.Rank()
		}
		if a < 0 || a > x.Rank() {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, x.Rank())
		}
		outer := 1
		for _, d := range x.Shape[:a] {
			outer *= d
		}
		inner := 1
		for _, d := range x.Shape[a:] {
			inner *= d
		}
		return []*Tensor{ctx.View(x, outer, inner)}, nil
	}), nil
}

// dmAxesArg returns the axes of Squeeze/Unsqueeze/Pad...: the attribute
// before opset `from`, input idx from then on; ok is false when none are
// given.
func dmAxesArg(n *graph.Node, opset, from int64, in []*Tensor, idx int) (axes []int64, ok bool, err error) {
	if opset < from {
		a := n.Attr("axes")
		if a == nil {
			return nil, false, nil
		}
		return a.Ints, true, nil
	}
	t := dmInput(in, idx)
	if t == nil {
		return nil, false, nil
	}
	v, err := dmInts(t, "axes")
	return v, true, err
}

func buildSqueeze(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		axes, given, err := dmAxesArg(n, opset, 13, in, 1)
		if err != nil {
			return nil, err
		}
		drop := make([]bool, x.Rank())
		if given {
			norm, err := dmAxes(axes, x.Rank())
			if err != nil {
				return nil, err
			}
			for _, a := range norm {
				if x.Shape[a] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, x.Shape[a])
				}
				drop[a] = true
			}
		} else {
			for a, d := range x.Shape {
				drop[a] = d == 1
			}
		}
		shape := make([]int, 0, x.Rank())
		for a, d := range x.Shape {
			if !drop[a] {
				shape = append(shape, d)
			}
		}
		return []*Tensor{ctx.View(x, shape...)}, nil
	}), nil
}

func buildUnsqueeze(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		axes, given, err := dmAxesArg(n, opset, 13, in, 1)
		if err != nil {
			return nil, err
		}
		if !given {
			return nil, fmt.Errorf("axes are required")
		}
		rank := x.Rank() + len(axes)
		norm, err := dmAxes(axes, rank)
		if err != nil {
			return nil, err
		}
		ins := make([]bool, rank)
		for _, a := range norm {
			ins[a] = true
		}
		shape := make([]int, rank)
		j := 0
		for a := range shape {
			if ins[a] {
				shape[a] = 1
			} else {
				shape[a] = x.Shape[j]
				j++
			}
		}
		return []*Tensor{ctx.View(x, shape...)}, nil
	}), nil
}

func buildIdentity(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		return []*Tensor{ctx.View(in[0], in[0].Shape...)}, nil
	}), nil
}

// buildDropout runs Dropout for inference: the output is the input and
// the mask is all true. With training_mode set (opset 12+) and a non-zero
// ratio, an element is kept when a uniform draw of a Mersenne Twister
// seeded with the seed attribute is >= ratio: the draws of numpy's legacy
// generator, which the ONNX reference uses.
func buildDropout(n *graph.Node, opset int64) (Kernel, error) {
	attrRatio := float64(n.AttrFloat("ratio", 0.5))
	seed := n.AttrInt("seed", 0)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		training := false
		ratio := attrRatio
		if opset >= 12 {
			ratio = 0.5
			if r := dmInput(in, 1); r != nil {
				v, err := dmScalarFloat(r, "ratio")
				if err != nil {
					return nil, err
				}
				ratio = v
			}
			if t := dmInput(in, 2); t != nil {
				b, ok := t.Data.([]bool)
				if !ok || len(b) != 1 {
					return nil, fmt.Errorf("training_mode must be one bool")
				}
				training = b[0]
			}
		}
		wantMask := len(ctx.Node.Outputs) > 1 && ctx.Node.Outputs[1] != nil
		if !training || ratio == 0 {
			outs := []*Tensor{ctx.View(x, x.Shape...)}
			if wantMask {
				outs = append(outs, dropoutMask(ctx, x, opset, nil))
			}
			return outs, nil
		}
		if ratio < 0 || ratio >= 1 {
			return nil, fmt.Errorf("ratio %v is outside [0, 1)", ratio)
		}
		keep := make([]bool, x.Len())
		rng := newMT19937(uint32(seed))
		for i := range keep {
			keep[i] = rng.float64() >= ratio
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		scale := 1 / (1 - ratio)
		switch xs := x.Data.(type) {
		case []float32:
			o := out.Data.([]float32)
			sc := float32(scale)
			for i, v := range xs {
				o[i] = 0
				if keep[i] {
					o[i] = v * sc
				}
			}
		case []float64:
			o := out.Data.([]float64)
			for i, v := range xs {
				o[i] = 0
				if keep[i] {
					o[i] = v * scale
				}
			}
		case []float16.Float16:
			o := out.Data.([]float16.Float16)
			for i, v := range xs {
				o[i] = float16.Fromfloat32(0)
				if keep[i] {
					o[i] = float16.Fromfloat32(float32(float64(v.Float32()) * scale))
				}
			}
		default:
			return nil, fmt.Errorf("training-mode dropout of %v is not supported", x.DType)
		}
		outs := []*Tensor{out}
		if wantMask {
			outs = append(outs, dropoutMask(ctx, x, opset, keep))
		}
		return outs, nil
	}), nil
}

// dropoutMask is bool from opset 10, the input's type before.
func dropoutMask(ctx *Context, x *Tensor, opset int64, keep []bool) *Tensor {
	if opset >= 10 {
		m := New(graph.Bool, x.Shape...)
		b := m.Data.([]bool)
		for i := range b {
			b[i] = keep == nil || keep[i]
		}
		return m
	}
	m := ctx.Alloc(x.DType, x.Shape...)
	one, _ := dmValueOf(x.DType, 1)
	zero, _ := dmValueOf(x.DType, 0)
	_ = dmFill(m.Data, one)
	if keep != nil {
		idx := make([]int, len(keep))
		for i, k := range keep {
			if !k {
				idx[i] = -1
			}
		}
		_ = dmTake(m.Data, one, zero, idx)
	}
	return m
}

func buildShape(n *graph.Node, opset int64) (Kernel, error) {
	start := n.AttrInt("start", 0)
	endAttr := n.Attr("end")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		r := int64(in[0].Rank())
		s, e := int64(0), r
		if opset >= 15 {
			s = start
			if endAttr != nil {
				e = endAttr.Int
			}
		}
		clamp := func(v int64) int64 {
			if v < 0 {
				v += r
			}
			return min(max(v, 0), r)
		}
		s, e = clamp(s), clamp(e)
		if e < s {
			e = s
		}
		out := New(graph.Int64, int(e-s))
		o := out.I64()
		for i := s; i < e; i++ {
			o[i-s] = int64(in[0].Shape[i])
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildSize(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		return []*Tensor{FromInt64(nil, []int64{int64(in[0].Len())})}, nil
	}), nil
}

// buildConstant decodes the value once; every run returns the same
// tensor, pinned so the executor never recycles it.
func buildConstant(n *graph.Node, opset int64) (Kernel, error) {
	var t *Tensor
	for _, a := range n.Attrs {
		var err error
		switch a.Name {
		case "value":
			if a.Tensor == nil {
				return nil, fmt.Errorf("attribute value holds no tensor")
			}
			t, err = FromGraph(a.Tensor)
		case "value_float":
			t = Scalar(a.Float)
		case "value_floats":
			t = FromFloat32([]int{len(a.Floats)}, append([]float32{}, a.Floats...))
		case "value_int":
			t = FromInt64(nil, []int64{a.Int})
		case "value_ints":
			t = FromInt64([]int{len(a.Ints)}, append([]int64{}, a.Ints...))
		case "value_string":
			t = &Tensor{DType: graph.String, Shape: []int{}, Data: []string{a.String}}
		case "value_strings":
			t = &Tensor{DType: graph.String, Shape: []int{len(a.Strings)}, Data: append([]string{}, a.Strings...)}
		case "sparse_value":
			return nil, fmt.Errorf("sparse constants are not supported")
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	if t == nil {
		return nil, fmt.Errorf("no value attribute")
	}
	t.pinned = true
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		return []*Tensor{t}, nil
	}), nil
}

func buildConstantOfShape(n *graph.Node, opset int64) (Kernel, error) {
	val := any([]float32{0})
	dt := graph.Float32
	if a := n.Attr("value"); a != nil && a.Tensor != nil {
		t, err := FromGraph(a.Tensor)
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 {
			return nil, fmt.Errorf("value must hold one element, got shape %v", t.Shape)
		}
		val, dt = t.Data, t.DType
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		spec, err := dmInts(in[0], "shape")
		if err != nil {
			return nil, err
		}
		shape := make([]int, len(spec))
		for i, d := range spec {
			if d < 0 || d > dmMaxElements {
				return nil, fmt.Errorf("invalid shape %v", spec)
			}
			shape[i] = int(d)
		}
		out, err := dmTensorOf(ctx, dt, shape)
		if err != nil {
			return nil, err
		}
		if err := dmFill(out.Data, val); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildRange(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 3); err != nil {
			return nil, err
		}
		dt := in[0].DType
		for i, t := range in[:3] {
			if t.DType != dt || t.Len() != 1 {
				return nil, fmt.Errorf("input %d must be a scalar of type %v, got %v", i, dt, t)
			}
		}
		if dt.IsInteger() {
			s, err1 := dmInts(in[0], "start")
			l, err2 := dmInts(in[1], "limit")
			d, err3 := dmInts(in[2], "delta")
			if err := dmFirstErr(err1, err2, err3); err != nil {
				return nil, err
			}
			start, limit, delta := s[0], l[0], d[0]
			if delta == 0 {
				return nil, fmt.Errorf("delta is zero")
			}
			// Count in float64 to avoid overflow of limit-start.
			cnt := math.Ceil((float64(limit) - float64(start)) / float64(delta))
			if cnt < 0 {
				cnt = 0
			}
			if cnt > dmMaxElements {
				return nil, fmt.Errorf("range of %v elements is too large", cnt)
			}
			out := New(dt, int(cnt))
			vals := make([]float64, int(cnt))
			for i := range vals {
				vals[i] = float64(start + int64(i)*delta)
			}
			if err := rangeStore(out, vals, start, delta); err != nil {
				return nil, err
			}
			return []*Tensor{out}, nil
		}
		start, err1 := dmScalarFloat(in[0], "start")
		limit, err2 := dmScalarFloat(in[1], "limit")
		delta, err3 := dmScalarFloat(in[2], "delta")
		if err := dmFirstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		if delta == 0 || math.IsNaN(delta) || math.IsNaN(start) || math.IsNaN(limit) {
			return nil, fmt.Errorf("invalid range start %v limit %v delta %v", start, limit, delta)
		}
		cnt := math.Ceil((limit - start) / delta)
		if cnt < 0 {
			cnt = 0
		}
		if cnt > dmMaxElements || math.IsInf(cnt, 0) {
			return nil, fmt.Errorf("range of %v elements is too large", cnt)
		}
		vals := make([]float64, int(cnt))
		for i := range vals {
			vals[i] = start + float64(i)*delta
		}
		out := ctx.Alloc(dt, len(vals))
		if err := rangeStore(out, vals, 0, 0); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// rangeStore writes Range values into out; integer types are computed
// exactly from start and delta.
func rangeStore(out *Tensor, vals []float64, start, delta int64) error {
	switch o := out.Data.(type) {
	case []float32:
		for i, v := range vals {
			o[i] = float32(v)
		}
	case []float64:
		copy(o, vals)
	case []float16.Float16:
		for i, v := range vals {
			o[i] = float16.Fromfloat32(float32(v))
		}
	case []BFloat16:
		for i, v := range vals {
			o[i] = BFloat16From(float32(v))
		}
	case []int8:
		for i := range o {
			o[i] = int8(start + int64(i)*delta)
		}
	case []int16:
		for i := range o {
			o[i] = int16(start + int64(i)*delta)
		}
	case []int32:
		for i := range o {
			o[i] = int32(start + int64(i)*delta)
		}
	case []int64:
		for i := range o {
			o[i] = start + int64(i)*delta
		}
	case []uint8:
		for i := range o {
			o[i] = uint8(start + int64(i)*delta)
		}
	case []uint16:
		for i := range o {
			o[i] = uint16(start + int64(i)*delta)
		}
	case []uint32:
		for i := range o {
			o[i] = uint32(start + int64(i)*delta)
		}
	case []uint64:
		for i := range o {
			o[i] = uint64(start + int64(i)*delta)
		}
	default:
		return fmt.Errorf("Range of %v is not supported", out.DType)
	}
	return nil
}

func dmFirstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func buildEyeLike(n *graph.Node, opset int64) (Kernel, error) {
	k := n.AttrInt("k", 0)
	dtAttr := graph.DType(n.AttrInt("dtype", 0))
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() != 2 {
			return nil, fmt.Errorf("input must be 2-D, got %v", x.Shape)
		}
		dt := x.DType
		if dtAttr != graph.Undefined {
			dt = dtAttr
		}
		if makeSlice(dt, 0) == nil || dt == graph.String {
			return nil, fmt.Errorf("output type %v is not supported", dt)
		}
		rows, cols := x.Shape[0], x.Shape[1]
		out := ctx.AllocZeroed(dt, rows, cols)
		one, err := dmValueOf(dt, 1)
		if err != nil {
			return nil, err
		}
		var doff, soff []int
		for i := 0; i < rows; i++ {
			j := int64(i) + k
			if j >= 0 && j < int64(cols) {
				doff = append(doff, i*cols+int(j))
				soff = append(soff, 0)
			}
		}
		if err := dmBlocks(nil, out.Data, one, doff, soff, 1); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// mt19937 is the 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998).
type mt19937 struct {
	state [624]uint32
	next  int
}

func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{next: 624}
	m.state[0] = seed
	for i := 1; i < 624; i++ {
		prev := m.state[i-1]
		m.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	return m
}

func (m *mt19937) uint32() uint32 {
	if m.next >= 624 {
		for k := 0; k < 624; k++ {
			y := m.state[k]&0x80000000 | m.state[(k+1)%624]&0x7fffffff
			v := m.state[(k+397)%624] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.state[k] = v
		}
		m.next = 0
	}
	y := m.state[m.next]
	m.next++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// float64 is a uniform draw in [0, 1) with 53 random bits.
func (m *mt19937) float64() float64 {
	a, b := m.uint32()>>5, m.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
