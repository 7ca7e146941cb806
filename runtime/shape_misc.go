// shape_misc.go holds the data-selection kernels built on index tables:
// Trilu, NonZero, Compress, ReverseSequence and CenterCropPad.

package runtime

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
)

func registerMiscShapeOps(r *Registry) {
	r.Register("", "Trilu", buildTrilu)
	r.Register("", "NonZero", buildNonZero)
	r.Register("", "Compress", buildCompress)
	r.Register("", "ReverseSequence", buildReverseSequence)
	r.Register("", "CenterCropPad", buildCenterCropPad)
}

func buildTrilu(n *graph.Node, opset int64) (Kernel, error) {
	upper := n.AttrInt("upper", 1) != 0
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("input must have rank 2 or more, got %v", x.Shape)
		}
		var k int64
		if t := dmInput(in, 1); t != nil {
			v, err := dmInts(t, "k")
			if err != nil {
				return nil, err
			}
			if len(v) != 1 {
				return nil, fmt.Errorf("k must hold one value, got shape %v", t.Shape)
			}
			k = v[0]
		}
		rows, cols := x.Shape[x.Rank()-2], x.Shape[x.Rank()-1]
		total := x.Len()
		idx := make([]int, total)
		for i := range idx {
			j := int64(i % cols)
			r := int64((i / cols) % rows)
			keep := j-r >= k
			if !upper {
				keep = j-r <= k
			}
			if keep {
				idx[i] = i
			} else {
				idx[i] = -1
			}
		}
		zero, err := dmValueOf(x.DType, 0)
		if err != nil {
			return nil, err
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		if err := dmTake(out.Data, x.Data, zero, idx); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildNonZero(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		vals, err := x.AsFloat64()
		if err != nil {
			return nil, err
		}
		var hits []int
		for i, v := range vals {
			if v != 0 {
				hits = append(hits, i)
			}
		}
		r := x.Rank()
		out := New(graph.Int64, r, len(hits))
		o := out.I64()
		st := Strides(x.Shape)
		for h, i := range hits {
			for a := 0; a < r; a++ {
				o[a*len(hits)+h] = int64(i / st[a] % x.Shape[a])
			}
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildCompress(n *graph.Node, opset int64) (Kernel, error) {
	axisAttr := n.Attr("axis")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		cond, ok := in[1].Data.([]bool)
		if !ok || in[1].Rank() != 1 {
			return nil, fmt.Errorf("condition must be a 1-D bool tensor, got %v", in[1])
		}
		shape := x.Shape
		if axisAttr == nil {
			shape = []int{x.Len()}
		}
		a := 0
		if axisAttr != nil {
			var err error
			if a, err = NormalizeAxis(axisAttr.Int, len(shape)); err != nil {
				return nil, err
			}
		}
		dim := shape[a]
		var keep []int
		for i, c := range cond {
			if !c {
				continue
			}
			if i >= dim {
				return nil, fmt.Errorf("condition selects index %d of an axis of size %d", i, dim)
			}
			keep = append(keep, i)
		}
		outShape := append([]int{}, shape...)
		outShape[a] = len(keep)
		outer, inner := 1, 1
		for _, d := range shape[:a] {
			outer *= d
		}
		for _, d := range shape[a+1:] {
			inner *= d
		}
		out := ctx.Alloc(x.DType, outShape...)
		doff := make([]int, 0, outer*len(keep))
		soff := make([]int, 0, outer*len(keep))
		for o := 0; o < outer; o++ {
			for j, i := range keep {
				doff = append(doff, (o*len(keep)+j)*inner)
				soff = append(soff, (o*dim+i)*inner)
			}
		}
		if err := dmBlocks(ctx, out.Data, x.Data, doff, soff, inner); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildReverseSequence(n *graph.Node, opset int64) (Kernel, error) {
	timeAxis := int(n.AttrInt("time_axis", 0))
	batchAxis := int(n.AttrInt("batch_axis", 1))
	if timeAxis < 0 || timeAxis > 1 || batchAxis < 0 || batchAxis > 1 || timeAxis == batchAxis {
		return nil, fmt.Errorf("time_axis %d and batch_axis %d must be 0 and 1", timeAxis, batchAxis)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("input must have rank 2 or more, got %v", x.Shape)
		}
		lens, err := dmInts(in[1], "sequence_lens")
		if err != nil {
			return nil, err
		}
		T, B := x.Shape[timeAxis], x.Shape[batchAxis]
		if len(lens) != B {
			return nil, fmt.Errorf("sequence_lens has %d values for a batch of %d", len(lens), B)
		}
		for _, l := range lens {
			if l < 0 || l > int64(T) {
				return nil, fmt.Errorf("sequence length %d is outside [0, %d]", l, T)
			}
		}
		st := Strides(x.Shape)
		ts, bs := st[timeAxis], st[batchAxis]
		idx := make([]int, x.Len())
		for i := range idx {
			t := i / ts % T
			l := int(lens[i/bs%B])
			if t < l {
				idx[i] = i + (l-1-2*t)*ts
			} else {
				idx[i] = i
			}
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		if err := dmTake(out.Data, x.Data, nil, idx); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildCenterCropPad(n *graph.Node, opset int64) (Kernel, error) {
	axesAttr := n.AttrInts("axes")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		r := x.Rank()
		target, err := dmInts(in[1], "shape")
		if err != nil {
			return nil, err
		}
		var axes []int
		if axesAttr != nil {
			if axes, err = dmAxes(axesAttr, r); err != nil {
				return nil, err
			}
		} else {
			axes = make([]int, r)
			for i := range axes {
				axes[i] = i
			}
		}
		if len(target) != len(axes) {
			return nil, fmt.Errorf("shape %v does not match %d axes", target, len(axes))
		}
		shape := append([]int{}, x.Shape...)
		begin := make([]int, r)
		for i, a := range axes {
			t := target[i]
			if t < 0 || t > dmMaxElements {
				return nil, fmt.Errorf("invalid shape %v", target)
			}
			dim := x.Shape[a]
			if int(t) < dim {
				begin[a] = -((dim - int(t)) / 2) // crop: a negative pad
			} else {
				begin[a] = (int(t) - dim) / 2
			}
			shape[a] = int(t)
		}
		tabs := make([][]int, r)
		for a := range tabs {
			tabs[a] = padTable("constant", x.Shape[a], shape[a], begin[a])
		}
		zero, err := dmValueOf(x.DType, 0)
		if err != nil {
			return nil, err
		}
		out, err := dmRemap(ctx, x, shape, tabs, zero)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}
