// shape_layout.go holds the kernels that move elements into a new layout
// with the strided copy of shape_copy.go: Transpose, Concat, Split,
// Slice, Expand, Tile, Pad, DepthToSpace and SpaceToDepth.

package runtime

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
)

func registerLayoutOps(r *Registry) {
	r.Register("", "Transpose", buildTranspose)
	r.Register("", "Concat", buildConcat)
	r.Register("", "Split", buildSplit)
	r.Register("", "Slice", buildSlice)
	r.Register("", "Expand", buildExpand)
	r.Register("", "Tile", buildTile)
	r.Register("", "Pad", buildPad)
	r.Register("", "DepthToSpace", buildDepthToSpace)
	r.Register("", "SpaceToDepth", buildSpaceToDepth)
}

// transposeTensor returns x with its axes permuted (out axis i is input
// axis perm[i]).
func transposeTensor(ctx *Context, x *Tensor, perm []int) (*Tensor, error) {
	r := x.Rank()
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v does not match rank %d", perm, r)
	}
	seen := make([]bool, r)
	identity := true
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation of rank %d", perm, r)
		}
		seen[p] = true
		identity = identity && p == i
	}
	shape := make([]int, r)
	for i, p := range perm {
		shape[i] = x.Shape[p]
	}
	if identity {
		return ctx.View(x, shape...), nil
	}
	out := ctx.allocFull(x.DType, shape...) // every element is written
	if err := transposeInto(ctx, out.Data, x, perm); err != nil {
		return nil, err
	}
	return out, nil
}

// transposeInto writes x permuted by a checked perm into dst.
func transposeInto(ctx *Context, dst any, x *Tensor, perm []int) error {
	ins := Strides(x.Shape)
	shape := make([]int, len(perm))
	ss := make([]int, len(perm))
	for i, p := range perm {
		shape[i], ss[i] = x.Shape[p], ins[p]
	}
	return dmCopy(ctx, dst, x.Data, dmPlan{shape: shape, ds: Strides(shape), ss: ss})
}

func buildTranspose(n *graph.Node, opset int64) (Kernel, error) {
	permAttr := n.AttrInts("perm")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		perm := make([]int, x.Rank())
		if permAttr == nil {
			for i := range perm {
				perm[i] = x.Rank() - 1 - i
			}
		} else {
			if len(permAttr) != x.Rank() {
				return nil, fmt.Errorf("perm %v does not match rank %d", permAttr, x.Rank())
			}
			for i, p := range permAttr {
				perm[i] = int(p)
			}
		}
		out, err := transposeTensor(ctx, x, perm)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildConcat(n *graph.Node, opset int64) (Kernel, error) {
	axisAttr := n.Attr("axis")
	if axisAttr == nil && opset >= 4 {
		return nil, fmt.Errorf("attribute axis is required")
	}
	axis := int64(1)
	if axisAttr != nil {
		axis = axisAttr.Int
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		var parts []*Tensor
		for _, t := range in {
			if t != nil {
				parts = append(parts, t)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		first := parts[0]
		a, err := NormalizeAxis(axis, first.Rank())
		if err != nil {
			return nil, err
		}
		shape := append([]int{}, first.Shape...)
		shape[a] = 0
		for i, t := range parts {
			if t.DType != first.DType || t.Rank() != first.Rank() {
				return nil, fmt.Errorf("input %d is %v, input 0 is %v", i, t, first)
			}
			for d := range shape {
				if d != a && t.Shape[d] != first.Shape[d] {
					return nil, fmt.Errorf("input %d has shape %v, input 0 has %v (axis %d)", i, t.Shape, first.Shape, a)
				}
			}
			shape[a] += t.Shape[a]
		}
		if len(parts) == 1 {
			return []*Tensor{ctx.View(first, shape...)}, nil
		}
		out := ctx.allocFull(first.DType, shape...) // the parts fill it
		ds := Strides(shape)
		off := 0
		for _, t := range parts {
			if err := dmDenseCopy(ctx, out.Data, t.Data, t.Shape, ds, off*ds[a]); err != nil {
				return nil, err
			}
			off += t.Shape[a]
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildSplit(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", 0)
	splitAttr := n.AttrInts("split")
	numOutputs := n.AttrInt("num_outputs", 0)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		a, err := NormalizeAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		nout := len(ctx.Node.Outputs)
		dim := x.Shape[a]
		var sizes []int64
		switch {
		case opset < 13 && splitAttr != nil:
			sizes = splitAttr
		case opset >= 13 && dmInput(in, 1) != nil:
			if sizes, err = dmInts(in[1], "split"); err != nil {
				return nil, err
			}
		case opset >= 18 && numOutputs > 0:
			if int(numOutputs) != nout {
				return nil, fmt.Errorf("num_outputs %d but %d outputs", numOutputs, nout)
			}
			chunk := (int64(dim) + numOutputs - 1) / numOutputs
			sizes = make([]int64, nout)
			rest := int64(dim)
			for i := range sizes {
				sizes[i] = min(chunk, rest)
				rest -= sizes[i]
			}
		default:
			if nout == 0 || dim%nout != 0 {
				return nil, fmt.Errorf("axis of size %d does not split evenly into %d outputs", dim, nout)
			}
			sizes = make([]int64, nout)
			for i := range sizes {
				sizes[i] = int64(dim / nout)
			}
		}
		if len(sizes) != nout {
			return nil, fmt.Errorf("split %v has %d sizes for %d outputs", sizes, len(sizes), nout)
		}
		var sum int64
		for _, s := range sizes {
			if s < 0 {
				return nil, fmt.Errorf("split %v has a negative size", sizes)
			}
			sum += s
		}
		if sum != int64(dim) {
			return nil, fmt.Errorf("split %v does not add up to the axis size %d", sizes, dim)
		}
		ss := Strides(x.Shape)
		outs := make([]*Tensor, nout)
		off := 0
		for i, s := range sizes {
			shape := append([]int{}, x.Shape...)
			shape[a] = int(s)
			out := ctx.Alloc(x.DType, shape...)
			if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: shape, ds: Strides(shape), ss: ss, soff: off * ss[a]}); err != nil {
				return nil, err
			}
			outs[i] = out
			off += int(s)
		}
		return outs, nil
	}), nil
}

// sliceAxis resolves one axis of Slice into the first index, the step and
// the count of selected elements.
func sliceAxis(start, end, step int64, dim int) (first, count int) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	var n int64
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end > start {
			n = (end-start-1)/step + 1
		}
	} else {
		if step == math.MinInt64 {
			step++ // so that -step does not overflow; takes one element either way
		}
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
		if start > end {
			n = (start-end-1)/-step + 1
		}
	}
	return int(start), int(n)
}

func buildSlice(n *graph.Node, opset int64) (Kernel, error) {
	attrStarts, attrEnds, attrAxes := n.AttrInts("starts"), n.AttrInts("ends"), n.AttrInts("axes")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		starts, ends, axes := attrStarts, attrEnds, attrAxes
		var steps []int64
		if opset >= 10 {
			if err := dmNeedInputs(in, 3); err != nil {
				return nil, err
			}
			var err error
			if starts, err = dmInts(in[1], "starts"); err != nil {
				return nil, err
			}
			if ends, err = dmInts(in[2], "ends"); err != nil {
				return nil, err
			}
			axes = nil
			if t := dmInput(in, 3); t != nil {
				if axes, err = dmInts(t, "axes"); err != nil {
					return nil, err
				}
			}
			if t := dmInput(in, 4); t != nil {
				if steps, err = dmInts(t, "steps"); err != nil {
					return nil, err
				}
			}
		}
		if len(starts) != len(ends) {
			return nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
		}
		if axes == nil {
			if len(starts) > x.Rank() {
				return nil, fmt.Errorf("%d starts for rank %d", len(starts), x.Rank())
			}
			axes = make([]int64, len(starts))
			for i := range axes {
				axes[i] = int64(i)
			}
		}
		if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
			return nil, fmt.Errorf("starts, ends, axes and steps differ in length")
		}
		norm, err := dmAxes(axes, x.Rank())
		if err != nil {
			return nil, err
		}
		ins := Strides(x.Shape)
		shape := append([]int{}, x.Shape...)
		ss := append([]int{}, ins...)
		soff := 0
		for i, a := range norm {
			step := int64(1)
			if steps != nil {
				step = steps[i]
			}
			if step == 0 {
				return nil, fmt.Errorf("step is zero on axis %d", a)
			}
			first, count := sliceAxis(starts[i], ends[i], step, x.Shape[a])
			shape[a] = count
			if count > 0 {
				soff += first * ins[a]
			}
			// A step beyond the axis takes at most one element; keep the
			// stride from overflowing.
			if step > math.MaxInt32 {
				step = int64(x.Shape[a]) + 1
			} else if step < -math.MaxInt32 {
				step = -int64(x.Shape[a]) - 1
			}
			ss[a] = ins[a] * int(step)
		}
		out := ctx.Alloc(x.DType, shape...)
		if out.Len() == 0 {
			return []*Tensor{out}, nil
		}
		if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: shape, ds: Strides(shape), ss: ss, soff: soff}); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildExpand(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		spec, err := dmInts(in[1], "shape")
		if err != nil {
			return nil, err
		}
		target := make([]int, len(spec))
		for i, d := range spec {
			if d < 0 || d > dmMaxElements {
				return nil, fmt.Errorf("invalid shape %v", spec)
			}
			target[i] = int(d)
		}
		shape, err := BroadcastShape(x.Shape, target)
		if err != nil {
			return nil, err
		}
		if _, err := dmCheckShape(shape); err != nil {
			return nil, err
		}
		if equalShape(shape, x.Shape) {
			return []*Tensor{ctx.View(x, shape...)}, nil
		}
		out := ctx.Alloc(x.DType, shape...)
		if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: shape, ds: Strides(shape), ss: broadcastStrides(x.Shape, shape)}); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildTile(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x := in[0]
		reps, err := dmInts(in[1], "repeats")
		if err != nil {
			return nil, err
		}
		r := x.Rank()
		if len(reps) != r {
			return nil, fmt.Errorf("repeats %v do not match rank %d", reps, r)
		}
		shape := make([]int, r)
		for i, k := range reps {
			if k < 0 || k > dmMaxElements {
				return nil, fmt.Errorf("invalid repeats %v", reps)
			}
			shape[i] = x.Shape[i] * int(k)
		}
		if _, err := dmCheckShape(shape); err != nil {
			return nil, err
		}
		out := ctx.Alloc(x.DType, shape...)
		if out.Len() == 0 {
			return []*Tensor{out}, nil
		}
		// Walk the output as [reps0, dim0, reps1, dim1, ...]: the repeat
		// axes read with stride 0.
		ins := Strides(x.Shape)
		ps := make([]int, 2*r)
		pss := make([]int, 2*r)
		for i := 0; i < r; i++ {
			ps[2*i], ps[2*i+1] = int(reps[i]), x.Shape[i]
			pss[2*i+1] = ins[i]
		}
		if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: ps, ds: Strides(ps), ss: pss}); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// dmRemap builds an output of the given shape where the element at
// multi-index i reads x at (tabs[0][i0], tabs[1][i1], ...), or fill when
// any coordinate is -1. Pad, CenterCropPad and nearest Resize use it.
func dmRemap(ctx *Context, x *Tensor, shape []int, tabs [][]int, fill any) (*Tensor, error) {
	total, err := dmCheckShape(shape)
	if err != nil {
		return nil, err
	}
	out := ctx.Alloc(x.DType, shape...)
	if total == 0 {
		return out, nil
	}
	if len(shape) == 0 {
		return out, dmTake(out.Data, x.Data, fill, []int{0})
	}
	switch s := dmWords(x.Data).(type) {
	case []uint8:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case []uint16:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case []uint32:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case []uint64:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case [][2]uint32:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case [][2]uint64:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	case []string:
		err = dmRemapAs(ctx, dmWords(out.Data), s, dmWords(fill), x.Shape, shape, tabs)
	default:
		err = fmt.Errorf("data of type %T cannot be copied", x.Data)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dmRemapAs fills the output row by row (a row: all axes but the last).
// A row that reads the same source row as the one before is copied from
// it, which makes nearest upsampling along outer axes a memmove.
func dmRemapAs[T any](ctx *Context, dstAny any, src []T, fillAny any, inShape, shape []int, tabs [][]int) error {
	dst, ok := dstAny.([]T)
	if !ok {
		return fmt.Errorf("copy between different element types")
	}
	var fill T
	if f, ok := fillAny.([]T); ok && len(f) > 0 {
		fill = f[0]
	}
	r := len(shape)
	ins := Strides(inShape)
	inner := shape[r-1]
	last := make([]int, inner)
	for j, t := range tabs[r-1] {
		last[j] = -1
		if t >= 0 {
			last[j] = t * ins[r-1]
		}
	}
	rows := 1
	for _, d := range shape[:r-1] {
		rows *= d
	}
	// The last axis read by every row: its extent in the source, whether
	// it holds the fill, and whether it repeats each source element rep
	// times in order (nearest upsampling by an integer factor).
	span, holes := 0, false
	for _, t := range last {
		if t < 0 {
			holes = true
		} else {
			span = max(span, t+1)
		}
	}
	rep := 0
	if !holes && ins[r-1] == 1 && inShape[r-1] > 0 && inner%inShape[r-1] == 0 {
		rep = inner / inShape[r-1]
		for j, t := range last {
			if t != j/rep {
				rep = 0
				break
			}
		}
	}
	if rep > 0 && r >= 2 && dmUpsamplePlanes(ctx, dst, src, inShape, shape, tabs, rep) {
		return nil
	}
	run := func(lo, hi int) {
		counter := make([]int, r-1)
		rem := lo
		for a := r - 2; a >= 0; a-- {
			counter[a] = rem % shape[a]
			rem /= shape[a]
		}
		prevBase, prevHole := -1, false
		for row := lo; row < hi; row++ {
			base, hole := 0, false
			for a, c := range counter {
				t := tabs[a][c]
				if t < 0 {
					hole = true
				}
				base += t * ins[a]
			}
			drow := dst[row*inner : (row+1)*inner]
			switch {
			case row > lo && base == prevBase && hole == prevHole:
				copy(drow, dst[(row-1)*inner:row*inner])
			case hole:
				for j := range drow {
					drow[j] = fill
				}
			case rep == 1:
				copy(drow, src[base:base+inner])
			case rep == 2 && doubleBytes(any(drow), any(src[base:base+inner/2])):
			case rep == 2:
				srow := src[base : base+inner/2]
				for i, v := range srow {
					d2 := drow[2*i : 2*i+2 : 2*i+2]
					d2[0], d2[1] = v, v
				}
			case rep > 1:
				srow := src[base : base+inner/rep]
				for i, v := range srow {
					seg := drow[i*rep : (i+1)*rep]
					for k := range seg {
						seg[k] = v
					}
				}
			case !holes:
				srow := src[base : base+span]
				for j, t := range last {
					drow[j] = srow[t]
				}
			default:
				for j, t := range last {
					if t < 0 {
						drow[j] = fill
					} else {
						drow[j] = src[base+t]
					}
				}
			}
			prevBase, prevHole = base, hole
			for a := r - 2; a >= 0; a-- {
				counter[a]++
				if counter[a] < shape[a] {
					break
				}
				counter[a] = 0
			}
		}
	}
	if rows > 1 && rows*inner >= dmParallelMin {
		ctx.Parallel(rows, run)
	} else {
		run(0, rows)
	}
	return nil
}

// dmUpsamplePlanes does a nearest upsampling by integer factors of the
// last two axes (every other axis kept as it is) plane by plane: each
// source row is widened once (each element rep times) and copied to the
// fh output rows that repeat it. It reports false, doing nothing, when the
// tables are not of that form.
func dmUpsamplePlanes[T any](ctx *Context, dst, src []T, inShape, shape []int, tabs [][]int, rep int) bool {
	r := len(shape)
	for a := 0; a < r-2; a++ {
		if shape[a] != inShape[a] {
			return false
		}
		for o, t := range tabs[a] {
			if t != o {
				return false
			}
		}
	}
	h, oh := inShape[r-2], shape[r-2]
	if h == 0 || oh%h != 0 {
		return false
	}
	fh := oh / h
	for o, t := range tabs[r-2] {
		if t != o/fh {
			return false
		}
	}
	w, ow := inShape[r-1], shape[r-1]
	planes := 1
	for _, d := range shape[:r-2] {
		planes *= d
	}
	run := func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			for y := range h {
				srow := src[(pl*h+y)*w:][:w]
				first := dst[(pl*oh+y*fh)*ow:][:ow]
				switch {
				case rep == 1:
					copy(first, srow)
				case rep == 2 && doubleBytes(any(first), any(srow)):
				default:
					for i, v := range srow {
						seg := first[i*rep : (i+1)*rep]
						for k := range seg {
							seg[k] = v
						}
					}
				}
				for k := 1; k < fh; k++ {
					copy(dst[(pl*oh+y*fh+k)*ow:][:ow], first)
				}
			}
		}
	}
	if planes > 1 && planes*oh*ow >= dmParallelMin {
		ctx.Parallel(planes, run)
	} else {
		run(0, planes)
	}
	return true
}

// doubleBytes writes each byte of src twice into dst (nearest upsampling
// by 2 of 8-bit data), eight output bytes per step, and reports whether
// the slices were bytes.
func doubleBytes(dstAny, srcAny any) bool {
	dst, ok := dstAny.([]uint8)
	src, ok2 := srcAny.([]uint8)
	if !ok || !ok2 {
		return false
	}
	i := 0
	for ; i+4 <= len(src); i += 4 {
		// b0 b1 b2 b3 → b0 b0 b1 b1 b2 b2 b3 b3 (little-endian words).
		v := uint64(binary.LittleEndian.Uint32(src[i:]))
		v = (v | v<<16) & 0x0000FFFF0000FFFF
		v = (v | v<<8) & 0x00FF00FF00FF00FF
		binary.LittleEndian.PutUint64(dst[2*i:], v|v<<8)
	}
	for ; i < len(src); i++ {
		dst[2*i], dst[2*i+1] = src[i], src[i]
	}
	return true
}

func buildPad(n *graph.Node, opset int64) (Kernel, error) {
	mode := n.AttrString("mode", "constant")
	switch mode {
	case "constant", "reflect", "edge":
	case "wrap":
		if opset < 19 {
			return nil, fmt.Errorf("mode wrap needs opset 19, model has %d", opset)
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	attrPads := n.AttrInts("pads")
	if opset < 2 {
		attrPads = n.AttrInts("paddings")
	}
	attrValue := float64(n.AttrFloat("value", 0))
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		r := x.Rank()
		pads := attrPads
		var fill any
		var axes []int
		if opset >= 11 {
			if err := dmNeedInputs(in, 2); err != nil {
				return nil, err
			}
			var err error
			if pads, err = dmInts(in[1], "pads"); err != nil {
				return nil, err
			}
			if c := dmInput(in, 2); c != nil && mode == "constant" {
				if c.DType != x.DType || c.Len() != 1 {
					return nil, fmt.Errorf("constant_value must be one %v, got %v", x.DType, c)
				}
				fill = c.Data
			}
			if t := dmInput(in, 3); t != nil && opset >= 18 {
				a, err := dmInts(t, "axes")
				if err != nil {
					return nil, err
				}
				if axes, err = dmAxes(a, r); err != nil {
					return nil, err
				}
			}
		} else {
			v, err := dmValueOf(x.DType, attrValue)
			if err != nil {
				return nil, err
			}
			fill = v
		}
		if fill == nil {
			fill, _ = dmValueOf(x.DType, 0)
		}
		if axes == nil {
			axes = make([]int, r)
			for i := range axes {
				axes[i] = i
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v must have %d values", pads, 2*len(axes))
		}
		begin := make([]int, r)
		end := make([]int, r)
		shape := append([]int{}, x.Shape...)
		crop := false
		for i, a := range axes {
			b, e := pads[i], pads[i+len(axes)]
			if b < -dmMaxElements || b > dmMaxElements || e < -dmMaxElements || e > dmMaxElements {
				return nil, fmt.Errorf("invalid pads %v", pads)
			}
			begin[a], end[a] = int(b), int(e)
			shape[a] += begin[a] + end[a]
			if shape[a] < 0 {
				return nil, fmt.Errorf("pads %v give a negative size on axis %d", pads, a)
			}
			crop = crop || b < 0 || e < 0
			if mode != "constant" && x.Shape[a] == 0 && shape[a] > 0 {
				return nil, fmt.Errorf("cannot %s-pad the empty axis %d", mode, a)
			}
		}
		if _, err := dmCheckShape(shape); err != nil {
			return nil, err
		}
		if mode == "constant" && !crop {
			out := ctx.Alloc(x.DType, shape...)
			if err := dmFill(out.Data, fill); err != nil {
				return nil, err
			}
			ds := Strides(shape)
			off := 0
			for a := range shape {
				off += begin[a] * ds[a]
			}
			if err := dmDenseCopy(ctx, out.Data, x.Data, x.Shape, ds, off); err != nil {
				return nil, err
			}
			return []*Tensor{out}, nil
		}
		tabs := make([][]int, r)
		for a := range shape {
			tabs[a] = padTable(mode, x.Shape[a], shape[a], begin[a])
		}
		out, err := dmRemap(ctx, x, shape, tabs, fill)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// padTable maps each output coordinate of one axis to the input
// coordinate it reads (-1: the constant).
func padTable(mode string, dim, size, begin int) []int {
	t := make([]int, size)
	for i := range t {
		j := i - begin
		if j >= 0 && j < dim {
			t[i] = j
			continue
		}
		switch mode {
		case "constant":
			t[i] = -1
		case "edge":
			t[i] = min(max(j, 0), dim-1)
		case "wrap":
			t[i] = ((j % dim) + dim) % dim
		case "reflect":
			if dim == 1 {
				t[i] = 0
				break
			}
			period := 2 * (dim - 1)
			m := ((j % period) + period) % period
			if m >= dim {
				m = period - m
			}
			t[i] = m
		}
	}
	return t
}

func buildDepthToSpace(n *graph.Node, opset int64) (Kernel, error) {
	b := int(n.AttrInt("blocksize", 0))
	mode := n.AttrString("mode", "DCR")
	if b <= 0 {
		return nil, fmt.Errorf("blocksize must be positive")
	}
	if mode != "DCR" && mode != "CRD" {
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() != 4 {
			return nil, fmt.Errorf("input must be 4-D, got %v", x.Shape)
		}
		N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		if C%(b*b) != 0 {
			return nil, fmt.Errorf("channels %d are not a multiple of blocksize² %d", C, b*b)
		}
		c := C / (b * b)
		var view, perm []int
		if mode == "DCR" {
			view, perm = []int{N, b, b, c, H, W}, []int{0, 3, 4, 1, 5, 2}
		} else {
			view, perm = []int{N, c, b, b, H, W}, []int{0, 1, 4, 2, 5, 3}
		}
		return permuteInto(ctx, x, view, perm, []int{N, c, H * b, W * b})
	}), nil
}

func buildSpaceToDepth(n *graph.Node, opset int64) (Kernel, error) {
	b := int(n.AttrInt("blocksize", 0))
	if b <= 0 {
		return nil, fmt.Errorf("blocksize must be positive")
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if x.Rank() != 4 {
			return nil, fmt.Errorf("input must be 4-D, got %v", x.Shape)
		}
		N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		if H%b != 0 || W%b != 0 {
			return nil, fmt.Errorf("spatial size %dx%d is not a multiple of blocksize %d", H, W, b)
		}
		view := []int{N, C, H / b, b, W / b, b}
		perm := []int{0, 3, 5, 1, 2, 4}
		return permuteInto(ctx, x, view, perm, []int{N, C * b * b, H / b, W / b})
	}), nil
}

// permuteInto reads x as the shape view, permutes its axes by perm and
// returns the result with shape final.
func permuteInto(ctx *Context, x *Tensor, view, perm, final []int) ([]*Tensor, error) {
	vs := Strides(view)
	shape := make([]int, len(perm))
	ss := make([]int, len(perm))
	for i, p := range perm {
		shape[i], ss[i] = view[p], vs[p]
	}
	out := ctx.Alloc(x.DType, final...)
	if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: shape, ds: Strides(shape), ss: ss}); err != nil {
		return nil, err
	}
	return []*Tensor{out}, nil
}
