// This file holds the pooling kernels: MaxPool (with its Indices output),
// AveragePool (count_include_pad), LpPool, their global forms, and
// MaxUnpool; 1-D, 2-D, 3-D and more, with kernel_shape, strides, pads,
// auto_pad, ceil_mode and dilations.
//
// A window covers the taps start + t·dilation (t < kernel) with
// start = o·stride − pad_begin; taps outside the input are padding: max
// pooling ignores them, average pooling divides by the taps inside the
// input, or with count_include_pad by the taps inside the explicitly
// padded input; a window entirely in the padding gives -Inf (max) or NaN
// (average). Float32 max and average pooling of 1-D and 2-D planes run on
// the plane layout of conv_plane.go with row kernels; the other cases run
// on whole output rows (every tap adds one strided run of an input row),
// in float32 for float32 inputs and in float64 for the others, except 1-D
// and 2-D max pooling of uint8 and int8, which runs on the bytes
// (pool_bytes.go). Work is split by channel plane.

package runtime

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
	"github.com/x448/float16"
)

func registerPool(r *Registry) {
	r.Register("", "MaxPool", func(n *graph.Node, opset int64) (Kernel, error) { return buildPool(n, opset, poolMax) })
	r.Register("", "AveragePool", func(n *graph.Node, opset int64) (Kernel, error) { return buildPool(n, opset, poolAvg) })
	r.Register("", "LpPool", func(n *graph.Node, opset int64) (Kernel, error) { return buildPool(n, opset, poolLp) })
	r.Register("", "GlobalMaxPool", func(n *graph.Node, opset int64) (Kernel, error) {
		return &globalPoolKernel{kind: poolMax}, nil
	})
	r.Register("", "GlobalAveragePool", func(n *graph.Node, opset int64) (Kernel, error) {
		return &globalPoolKernel{kind: poolAvg}, nil
	})
	r.Register("", "GlobalLpPool", func(n *graph.Node, opset int64) (Kernel, error) {
		p, err := lpNorm(n)
		return &globalPoolKernel{kind: poolLp, p: p}, err
	})
	r.Register("", "MaxUnpool", buildMaxUnpool)
}

type poolKind int

// maxPoolWork bounds outputs × window taps, so that attributes alone
// cannot make a pooling run for hours.
const maxPoolWork = 1 << 32

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

// poolKernel is MaxPool, AveragePool or LpPool with its attributes read.
type poolKernel struct {
	kind         poolKind
	w            *windowAttrs
	ceil         bool
	includePad   bool
	storageOrder int64
	p            float64
}

// lpNorm reads p: a float before opset 2, an int after.
func lpNorm(n *graph.Node) (float64, error) {
	p := 2.0
	if a := n.Attr("p"); a != nil {
		switch a.Type {
		case graph.AttrInt:
			p = float64(a.Int)
		case graph.AttrFloat:
			p = float64(a.Float)
		}
	}
	if !(p > 0) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("%s: p %v must be a positive number", n.OpType, p)
	}
	return p, nil
}

func buildPool(n *graph.Node, opset int64, kind poolKind) (Kernel, error) {
	w, err := readWindowAttrs(n)
	if err != nil {
		return nil, err
	}
	if w.kernel == nil {
		return nil, fmt.Errorf("%s needs the kernel_shape attribute", n.OpType)
	}
	k := &poolKernel{
		kind:         kind,
		w:            w,
		ceil:         n.AttrInt("ceil_mode", 0) != 0,
		includePad:   n.AttrInt("count_include_pad", 0) != 0,
		storageOrder: n.AttrInt("storage_order", 0),
	}
	if k.storageOrder != 0 && k.storageOrder != 1 {
		return nil, fmt.Errorf("MaxPool: storage_order %d must be 0 or 1", k.storageOrder)
	}
	if kind == poolLp {
		if k.p, err = lpNorm(n); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// resolvePool computes the pooling window over the spatial shape in:
// like a convolution's, but ceil_mode rounds the output size up, dropping
// a last window that would start in the end padding.
func (k *poolKernel) resolvePool(in []int) (*window, error) {
	a := k.w
	if len(a.kernel) != len(in) {
		return nil, fmt.Errorf("%s: kernel_shape %v does not match %d spatial axes", a.op, a.kernel, len(in))
	}
	win, err := a.resolve(in, a.kernel)
	if err != nil {
		return nil, err
	}
	r := len(in)
	for i := 0; i < r && a.autoPad == "NOTSET" && a.pads != nil; i++ {
		if a.pads[i] >= a.kernel[i] || a.pads[i+r] >= a.kernel[i] {
			return nil, fmt.Errorf("%s: pads %v must be smaller than the kernel %v", a.op, a.pads, a.kernel)
		}
	}
	if !k.ceil || a.autoPad != "NOTSET" {
		return win, nil
	}
	for i := range in {
		dk := (win.k[i]-1)*win.d[i] + 1
		span := in[i] + win.padB[i] + win.padE[i] - dk
		out := (span+win.s[i]-1)/win.s[i] + 1
		if (out-1)*win.s[i] >= in[i]+win.padB[i] {
			out--
		}
		win.out[i] = out
	}
	return win, nil
}

func (k *poolKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("%s needs input X", k.w.op)
	}
	x := in[0]
	if x.Rank() < 3 {
		return nil, fmt.Errorf("%s input must have rank >= 3 (N, C, spatial...), got shape %v", k.w.op, x.Shape)
	}
	win, err := k.resolvePool(x.Shape[2:])
	if err != nil {
		return nil, err
	}
	outShape := append([]int{x.Shape[0], x.Shape[1]}, win.out...)
	if _, err := checkedElements(outShape...); err != nil {
		return nil, err
	}
	for _, d := range win.out {
		if d < 1 {
			return nil, fmt.Errorf("%s: output shape %v is empty", k.w.op, outShape)
		}
	}
	if work := float64(product(outShape)) * float64(product(win.k)); work > maxPoolWork {
		return nil, fmt.Errorf("%s: %v outputs of %v-tap windows are too much work", k.w.op, outShape, win.k)
	}
	if k.kind != poolMax && !x.DType.IsFloat() {
		return nil, fmt.Errorf("%s does not support %v", k.w.op, x.DType)
	}
	planes := x.Shape[0] * x.Shape[1]
	wantIndices := k.kind == poolMax && ctx != nil && ctx.Node != nil && len(ctx.Node.Outputs) > 1 && ctx.Node.Outputs[1] != nil
	var y *Tensor
	switch x.DType {
	case graph.Float32:
		y = ctx.Alloc(graph.Float32, outShape...)
		if layoutFits(win) && k.kind != poolLp {
			poolRowsF32(ctx, k, win, x.F32(), y.F32(), planes)
		} else {
			poolPlanes(ctx, k, win, x.F32(), y.F32(), planes)
		}
	case graph.Uint8, graph.Int8:
		if k.kind == poolMax && !wantIndices && maxPoolBytesFits(win) {
			y = ctx.Alloc(x.DType, outShape...)
			maxPoolBytes(ctx, win, bytesOf(x), bytesOf(y), planes, x.DType == graph.Int8)
			break
		}
		fallthrough
	default:
		xv, err := x.AsFloat64()
		if err != nil || x.DType == graph.Bool {
			return nil, fmt.Errorf("%s does not support %v", k.w.op, x.DType)
		}
		yv := make([]float64, product(outShape))
		poolPlanes(ctx, k, win, xv, yv, planes)
		y = New(x.DType, outShape...)
		if err := storeFloat64(y, yv); err != nil {
			return nil, fmt.Errorf("%s: %v", k.w.op, err)
		}
	}
	if !wantIndices {
		return []*Tensor{y}, nil
	}
	idx := New(graph.Int64, outShape...)
	xv, err := x.AsFloat64()
	if err != nil {
		return nil, err
	}
	maxIndices(ctx, win, xv, idx.I64(), planes, k.storageOrder == 1)
	return []*Tensor{y, idx}, nil
}

// lowest is the start of a max, and what a window entirely in the
// padding gives.
func lowest[T convFloat]() T { return T(math.Inf(-1)) }

// poolCounts returns, per axis and output position, the number of taps
// inside the input, or with includePad inside the explicitly padded input.
func poolCounts(win *window, includePad bool) [][]int {
	r := len(win.in)
	counts := make([][]int, r)
	for j := 0; j < r; j++ {
		lo, hi := 0, win.in[j]
		if includePad {
			lo, hi = -win.padB[j], win.in[j]+win.padE[j]
		}
		counts[j] = make([]int, win.out[j])
		for o := range counts[j] {
			for t := 0; t < win.k[j]; t++ {
				if i := o*win.s[j] - win.padB[j] + t*win.d[j]; i >= lo && i < hi {
					counts[j][o]++
				}
			}
		}
	}
	return counts
}

// poolRowsF32 is max or average pooling of 1-D or 2-D float32 planes on
// the plane layout (conv_plane.go): each plane is laid out padded (-Inf
// for max, 0 for average) and the whole output plane is the max
// (kernels.MaxRows) or sum (kernels.ConvRows with unit weights) of its
// taps' runs, taps in row-major order; averages are then divided by their
// counts.
func poolRowsF32(ctx *Context, k *poolKernel, win *window, x, y []float32, planes int) {
	p := newPlaneWindow(win)
	kk := p.kh * p.kw
	pad := float32(math.Inf(-1))
	var counts [][]int
	var ones []float32
	if k.kind == poolAvg {
		pad = 0
		counts = poolCounts(win, k.includePad)
		if len(counts) == 1 {
			counts = append([][]int{{1}}, counts...)
		}
		ones = make([]float32, kk)
		fill(ones, 1)
	}
	inPlane, outPlane := p.ih*p.iw, p.oh*p.ow
	ctx.Parallel(planes, func(lo, hi int) {
		buf, done := scratch(p.size)
		defer done()
		tmp := make([]float32, p.iw)
		var wide []float32
		if p.pitch != p.ow {
			w, done := scratch(p.n)
			defer done()
			wide = w
		}
		for pl := lo; pl < hi; pl++ {
			p.layout(buf, x[pl*inPlane:(pl+1)*inPlane], pad, tmp)
			dst := y[pl*outPlane : (pl+1)*outPlane]
			out := dst
			if wide != nil {
				out = wide
			}
			if k.kind == poolMax {
				kernels.MaxRows(out, buf, p.taps)
			} else {
				kernels.ConvRows(out, 0, buf, p.taps, ones)
			}
			if wide != nil {
				p.compact(dst, wide)
			}
			if k.kind != poolAvg {
				continue
			}
			for oy := 0; oy < p.oh; oy++ {
				row := dst[oy*p.ow : (oy+1)*p.ow]
				cy := counts[0][oy]
				for ox, cx := range counts[1] {
					if n := cy * cx; n == 0 {
						row[ox] = float32(math.NaN())
					} else {
						row[ox] /= float32(n)
					}
				}
			}
		}
	})
}

// poolPlanes pools every channel plane of x into y.
func poolPlanes[T convFloat](ctx *Context, k *poolKernel, win *window, x, y []T, planes int) {
	r := len(win.in)
	last := r - 1
	iw, ow, sw := win.in[last], win.out[last], win.s[last]
	inPlane, outPlane := product(win.in), product(win.out)
	outer := outPlane / ow
	kOuter := product(win.k[:last])
	var counts [][]int
	if k.kind == poolAvg {
		counts = poolCounts(win, k.includePad)
	}
	p := T(k.p)
	invP := 1 / k.p
	ctx.Parallel(planes, func(plo, phi int) {
		opos := make([]int, r)
		kpos := make([]int, r)
		for pl := plo; pl < phi; pl++ {
			src := x[pl*inPlane : (pl+1)*inPlane]
			dst := y[pl*outPlane : (pl+1)*outPlane]
			clear(opos)
			for o := 0; o < outer; o++ {
				seg := dst[o*ow : (o+1)*ow]
				if k.kind == poolMax {
					fill(seg, lowest[T]())
				} else {
					clear(seg)
				}
				for ko := 0; ko < kOuter; ko++ {
					unravel(ko, win.k[:last], kpos[:last])
					ioff, ok := win.tapOffset(opos, kpos, win.in, last)
					if !ok {
						continue
					}
					srow := src[ioff*iw : (ioff+1)*iw]
					for kx := 0; kx < win.k[last]; kx++ {
						off := kx*win.d[last] - win.padB[last]
						lo, hi := validRange(off, sw, iw, ow)
						switch k.kind {
						case poolMax:
							for ox := lo; ox < hi; ox++ {
								if v := srow[ox*sw+off]; v > seg[ox] || v != v {
									seg[ox] = v
								}
							}
						case poolAvg:
							for ox := lo; ox < hi; ox++ {
								seg[ox] += srow[ox*sw+off]
							}
						case poolLp:
							for ox := lo; ox < hi; ox++ {
								v := srow[ox*sw+off]
								if v < 0 {
									v = -v
								}
								if p == 2 {
									seg[ox] += v * v
								} else {
									seg[ox] += T(math.Pow(float64(v), k.p))
								}
							}
						}
					}
				}
				switch k.kind {
				case poolAvg:
					c := 1
					for j := 0; j < last; j++ {
						c *= counts[j][opos[j]]
					}
					for ox := range seg {
						n := c * counts[last][ox]
						if n == 0 {
							seg[ox] = T(math.NaN())
							continue
						}
						seg[ox] /= T(n)
					}
				case poolLp:
					for ox, v := range seg {
						if p == 2 {
							seg[ox] = T(math.Sqrt(float64(v)))
						} else {
							seg[ox] = T(math.Pow(float64(v), invP))
						}
					}
				}
				for j := last - 1; j >= 0; j-- {
					opos[j]++
					if opos[j] < win.out[j] {
						break
					}
					opos[j] = 0
				}
			}
		}
	})
}

// maxIndices writes, for every max-pooling output, the flat index in x of
// the first largest tap (row-major over the window); columnMajor numbers
// the spatial axes with the first varying fastest (storage_order 1).
func maxIndices(ctx *Context, win *window, x []float64, idx []int64, planes int, columnMajor bool) {
	r := len(win.in)
	inPlane, outPlane := product(win.in), product(win.out)
	kk := product(win.k)
	colStride := make([]int, r)
	st := 1
	for j := 0; j < r; j++ {
		colStride[j] = st
		st *= win.in[j]
	}
	rowStride := Strides(win.in)
	ctx.Parallel(planes, func(plo, phi int) {
		opos := make([]int, r)
		kpos := make([]int, r)
		ipos := make([]int, r)
		for pl := plo; pl < phi; pl++ {
			src := x[pl*inPlane : (pl+1)*inPlane]
			for o := 0; o < outPlane; o++ {
				unravel(o, win.out, opos)
				best, bestAt := math.Inf(-1), -1
				for t := 0; t < kk; t++ {
					unravel(t, win.k, kpos)
					ok := true
					for j := 0; j < r; j++ {
						ipos[j] = opos[j]*win.s[j] - win.padB[j] + kpos[j]*win.d[j]
						if ipos[j] < 0 || ipos[j] >= win.in[j] {
							ok = false
							break
						}
					}
					if !ok {
						continue
					}
					flat, stored := 0, 0
					for j := 0; j < r; j++ {
						flat += ipos[j] * rowStride[j]
						if columnMajor {
							stored += ipos[j] * colStride[j]
						}
					}
					if !columnMajor {
						stored = flat
					}
					if v := src[flat]; bestAt < 0 || v > best {
						best, bestAt = v, stored
					}
				}
				if bestAt < 0 {
					idx[pl*outPlane+o] = -1
					continue
				}
				idx[pl*outPlane+o] = int64(pl*inPlane + bestAt)
			}
		}
	})
}

// storeFloat64 rounds pooled float64 values into t's element type
// (integers saturate).
func storeFloat64(t *Tensor, v []float64) error {
	switch d := t.Data.(type) {
	case []float64:
		copy(d, v)
	case []float16.Float16:
		for i, x := range v {
			d[i] = float16.Fromfloat32(float32(x))
		}
	case []BFloat16:
		for i, x := range v {
			d[i] = BFloat16From(float32(x))
		}
	case []int8:
		for i, x := range v {
			d[i] = int8(math.Max(-128, math.Min(127, x)))
		}
	case []uint8:
		for i, x := range v {
			d[i] = uint8(math.Max(0, math.Min(255, x)))
		}
	case []int16:
		for i, x := range v {
			d[i] = int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, x)))
		}
	case []uint16:
		for i, x := range v {
			d[i] = uint16(math.Max(0, math.Min(math.MaxUint16, x)))
		}
	case []int32:
		for i, x := range v {
			d[i] = int32(math.Max(math.MinInt32, math.Min(math.MaxInt32, x)))
		}
	case []uint32:
		for i, x := range v {
			d[i] = uint32(math.Max(0, math.Min(math.MaxUint32, x)))
		}
	default:
		return fmt.Errorf("element type %v is not supported", t.DType)
	}
	return nil
}

// globalPoolKernel is GlobalMaxPool, GlobalAveragePool or GlobalLpPool.
type globalPoolKernel struct {
	kind poolKind
	p    float64
}

func (k *globalPoolKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("global pooling needs input X")
	}
	x := in[0]
	if x.Rank() < 2 {
		return nil, fmt.Errorf("global pooling input must have rank >= 2 (N, C, spatial...), got shape %v", x.Shape)
	}
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("global pooling does not support %v", x.DType)
	}
	outShape := []int{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		outShape = append(outShape, 1)
	}
	planes := x.Shape[0] * x.Shape[1]
	plane := product(x.Shape[2:])
	if x.DType == graph.Float32 {
		y := ctx.Alloc(graph.Float32, outShape...)
		globalPool(ctx, k, x.F32(), y.F32(), planes, plane)
		return []*Tensor{y}, nil
	}
	xv, err := x.AsFloat64()
	if err != nil {
		return nil, err
	}
	yv := make([]float64, planes)
	globalPool(ctx, k, xv, yv, planes, plane)
	y := New(x.DType, outShape...)
	if err := storeFloat64(y, yv); err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// globalPool reduces each plane in order, summing in float64.
func globalPool[T convFloat](ctx *Context, k *globalPoolKernel, x, y []T, planes, plane int) {
	ctx.Parallel(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*plane : (pl+1)*plane]
			switch k.kind {
			case poolMax:
				m := lowest[T]()
				for _, v := range src {
					if v > m || v != v {
						m = v
					}
				}
				y[pl] = m
			case poolAvg:
				var s float64
				for _, v := range src {
					s += float64(v)
				}
				y[pl] = T(s / float64(plane))
			case poolLp:
				var s float64
				for _, v := range src {
					s += math.Pow(math.Abs(float64(v)), k.p)
				}
				y[pl] = T(math.Pow(s, 1/k.p))
			}
		}
	})
}

// maxUnpoolKernel is MaxUnpool with its attributes read.
type maxUnpoolKernel struct {
	w *windowAttrs
}

func buildMaxUnpool(n *graph.Node, opset int64) (Kernel, error) {
	w, err := readWindowAttrs(n)
	if err != nil {
		return nil, err
	}
	if w.kernel == nil {
		return nil, fmt.Errorf("MaxUnpool needs the kernel_shape attribute")
	}
	return &maxUnpoolKernel{w: w}, nil
}

// Run scatters X into a zero tensor at the flat positions of I. The
// output's spatial size is (in-1)·stride + kernel - pads, or the
// output_shape input.
func (k *maxUnpoolKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("MaxUnpool needs inputs X and I")
	}
	x, ind := in[0], in[1]
	if x.Rank() < 3 || !equalShape(x.Shape, ind.Shape) || ind.DType != graph.Int64 {
		return nil, fmt.Errorf("MaxUnpool needs X of rank >= 3 and int64 I of the same shape, got %v and %v %v", x.Shape, ind.DType, ind.Shape)
	}
	r := x.Rank() - 2
	if len(k.w.kernel) != r {
		return nil, fmt.Errorf("MaxUnpool: kernel_shape %v does not match %d spatial axes", k.w.kernel, r)
	}
	strides, err := k.w.perAxis("strides", k.w.strides, r, 1)
	if err != nil {
		return nil, err
	}
	if k.w.pads != nil && len(k.w.pads) != 2*r {
		return nil, fmt.Errorf("MaxUnpool: pads %v need %d values", k.w.pads, 2*r)
	}
	outShape := []int{x.Shape[0], x.Shape[1]}
	for i := 0; i < r; i++ {
		d := (x.Shape[2+i]-1)*strides[i] + k.w.kernel[i]
		if k.w.pads != nil {
			d -= k.w.pads[i] + k.w.pads[i+r]
		}
		outShape = append(outShape, d)
	}
	// Indices number the elements of this inferred shape; an explicit
	// output_shape only places them in a larger tensor.
	inferred := append([]int{}, outShape...)
	if _, err := checkedElements(inferred...); err != nil {
		return nil, err
	}
	if len(in) > 2 && in[2] != nil {
		os := in[2].I64()
		if os == nil || len(os) != x.Rank() {
			return nil, fmt.Errorf("MaxUnpool: output_shape must be int64 of %d values", x.Rank())
		}
		for i, v := range os {
			if v < 0 || v > maxElements {
				return nil, fmt.Errorf("MaxUnpool: output_shape %v is out of range", os)
			}
			outShape[i] = int(v)
		}
		if outShape[0] != x.Shape[0] || outShape[1] != x.Shape[1] {
			return nil, fmt.Errorf("MaxUnpool: output_shape %v must keep N and C of %v", os, x.Shape)
		}
	}
	if _, err := checkedElements(outShape...); err != nil {
		return nil, err
	}
	for _, d := range outShape {
		if d < 1 {
			return nil, fmt.Errorf("MaxUnpool: output shape %v is empty", outShape)
		}
	}
	y := New(x.DType, outShape...)
	if y.Data == nil || x.DType == graph.String {
		return nil, fmt.Errorf("MaxUnpool does not support %v", x.DType)
	}
	iv := ind.I64()
	limit := product(inferred)
	pos := make([]int, len(inferred))
	outStrides := Strides(outShape)
	flat := make([]int64, len(iv))
	// Indices past the inferred shape number the elements of output_shape
	// itself, as MaxPool gives them for an input of that shape (an odd
	// size the pooling floored: PyTorch's exports), and as ONNX Runtime
	// reads them.
	inOutput := len(in) > 2 && in[2] != nil && !slices.Equal(outShape, inferred) && slices.ContainsFunc(iv, func(v int64) bool { return v >= int64(limit) })
	total := int64(product(outShape))
	for i, v := range iv {
		if inOutput {
			if v < 0 || v >= total {
				return nil, fmt.Errorf("MaxUnpool: index %d is outside output_shape %v", v, outShape)
			}
			flat[i] = v
			continue
		}
		if v < 0 || v >= int64(limit) {
			return nil, fmt.Errorf("MaxUnpool: index %d is outside the unpooled shape %v", v, inferred)
		}
		unravel(int(v), inferred, pos)
		f := 0
		for j, p := range pos {
			if p >= outShape[j] {
				return nil, fmt.Errorf("MaxUnpool: index %d falls outside output_shape %v", v, outShape)
			}
			f += p * outStrides[j]
		}
		flat[i] = int64(f)
	}
	if err := scatterFlat(y.Data, x.Data, flat); err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// scatterFlat sets dst[idx[i]] = src[i].
func scatterFlat(dst, src any, idx []int64) error {
	switch d := dst.(type) {
	case []float32:
		scatterTyped(d, src.([]float32), idx)
	case []float64:
		scatterTyped(d, src.([]float64), idx)
	case []float16.Float16:
		scatterTyped(d, src.([]float16.Float16), idx)
	case []BFloat16:
		scatterTyped(d, src.([]BFloat16), idx)
	case []int8:
		scatterTyped(d, src.([]int8), idx)
	case []uint8:
		scatterTyped(d, src.([]uint8), idx)
	case []int16:
		scatterTyped(d, src.([]int16), idx)
	case []uint16:
		scatterTyped(d, src.([]uint16), idx)
	case []int32:
		scatterTyped(d, src.([]int32), idx)
	case []uint32:
		scatterTyped(d, src.([]uint32), idx)
	case []int64:
		scatterTyped(d, src.([]int64), idx)
	case []uint64:
		scatterTyped(d, src.([]uint64), idx)
	default:
		return fmt.Errorf("MaxUnpool does not support %T", dst)
	}
	return nil
}

func scatterTyped[T any](dst, src []T, idx []int64) {
	for i, j := range idx {
		dst[j] = src[i]
	}
}
