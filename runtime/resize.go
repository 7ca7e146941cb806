// resize.go holds Resize (opsets 10 to 19) and the deprecated Upsample.
//
// Every resized axis gets a table of taps: for each output coordinate,
// the input indices it reads (clamped to the edge) and their weights, or
// a mark that it lies outside the crop box (tf_crop_and_resize). Nearest
// mode has one tap per coordinate and moves elements of any type through
// the row gather of shape_layout.go; linear and cubic modes interpolate
// one axis after the other (innermost first, like the ONNX reference),
// in float32 for float32 data and float64 otherwise. The taps follow the
// ONNX reference implementation: the input coordinate x_ori is split
// into base = ceil(x_ori)-1 and ratio = x_ori-base in (0, 1], linear reads
// base..base+1, cubic base-1..base+2, and antialiasing widens the filter
// by 1/scale when downsampling.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
)

func registerResize(r *Registry) {
	r.Register("", "Resize", buildResize)
	r.Register("", "Upsample", buildUpsample)
}

type resizeOp struct {
	opset          int64
	upsample       bool
	mode           string // nearest, linear, cubic
	coord          string // coordinate_transformation_mode
	nearest        string // nearest_mode, or "simple" before opset 11
	cubicA         float64
	excludeOutside bool
	extrapolation  float64
	antialias      bool
	axes           []int64
	keepAspect     string
	attrScales     []float32 // Upsample-7
}

func buildResize(n *graph.Node, opset int64) (Kernel, error) {
	op := &resizeOp{
		opset:          opset,
		mode:           n.AttrString("mode", "nearest"),
		coord:          n.AttrString("coordinate_transformation_mode", "half_pixel"),
		nearest:        n.AttrString("nearest_mode", "round_prefer_floor"),
		cubicA:         float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		excludeOutside: n.AttrInt("exclude_outside", 0) != 0,
		extrapolation:  float64(n.AttrFloat("extrapolation_value", 0)),
		antialias:      n.AttrInt("antialias", 0) != 0,
		axes:           n.AttrInts("axes"),
		keepAspect:     n.AttrString("keep_aspect_ratio_policy", "stretch"),
	}
	if opset < 11 {
		op.coord, op.nearest = "asymmetric", "simple"
	}
	return op.check()
}

func buildUpsample(n *graph.Node, opset int64) (Kernel, error) {
	op := &resizeOp{
		opset:      opset,
		upsample:   true,
		mode:       n.AttrString("mode", "nearest"),
		coord:      "asymmetric",
		nearest:    "simple",
		keepAspect: "stretch",
	}
	if op.mode == "bilinear" {
		op.mode = "linear"
	}
	if opset < 9 {
		a := n.Attr("scales")
		if a == nil {
			return nil, fmt.Errorf("attribute scales is required")
		}
		op.attrScales = a.Floats
	}
	return op.check()
}

func (op *resizeOp) check() (Kernel, error) {
	switch op.mode {
	case "nearest", "linear":
	case "cubic":
		if op.opset < 11 || op.upsample {
			return nil, fmt.Errorf("mode cubic needs Resize opset 11")
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", op.mode)
	}
	switch op.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize":
	case "tf_half_pixel_for_nn":
		if op.opset >= 13 {
			return nil, fmt.Errorf("coordinate_transformation_mode %q was removed in opset 13", op.coord)
		}
	case "half_pixel_symmetric":
		if op.opset < 19 {
			return nil, fmt.Errorf("coordinate_transformation_mode %q needs opset 19", op.coord)
		}
	default:
		return nil, fmt.Errorf("unknown coordinate_transformation_mode %q", op.coord)
	}
	switch op.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple":
	default:
		return nil, fmt.Errorf("unknown nearest_mode %q", op.nearest)
	}
	switch op.keepAspect {
	case "stretch", "not_larger", "not_smaller":
	default:
		return nil, fmt.Errorf("unknown keep_aspect_ratio_policy %q", op.keepAspect)
	}
	if op.antialias && op.mode == "nearest" {
		op.antialias = false // the filter only widens linear and cubic kernels
	}
	return op, nil
}

// present treats an empty tensor like an omitted input (models pass an
// empty scales when they give sizes).
func present(t *Tensor) bool { return t != nil && t.Len() > 0 }

// resizeAxis is the plan of one axis.
type resizeAxis struct {
	in, out  int
	scale    float64
	width    float64 // output width as a real number: scale * in
	roi0     float64
	roi1     float64
	identity bool
}

func (op *resizeOp) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	var roiT, scalesT, sizesT *Tensor
	switch {
	case op.upsample && op.opset < 9:
	case op.upsample || op.opset < 11:
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		scalesT = in[1]
	default:
		roiT, scalesT, sizesT = dmInput(in, 1), dmInput(in, 2), dmInput(in, 3)
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if op.axes != nil && op.opset >= 18 {
		var err error
		if axes, err = dmAxes(op.axes, r); err != nil {
			return nil, err
		}
	}
	plan := make([]resizeAxis, r)
	for a := range plan {
		plan[a] = resizeAxis{in: x.Shape[a], out: x.Shape[a], scale: 1, roi0: 0, roi1: 1}
	}
	if op.coord == "tf_crop_and_resize" && present(roiT) {
		roi, err := roiT.AsFloat64()
		if err != nil {
			return nil, err
		}
		if len(roi) != 2*len(axes) {
			return nil, fmt.Errorf("roi has %d values for %d axes", len(roi), len(axes))
		}
		for i, a := range axes {
			plan[a].roi0, plan[a].roi1 = roi[i], roi[i+len(axes)]
		}
	}
	switch {
	case op.attrScales != nil || present(scalesT):
		var scales []float64
		if op.attrScales != nil {
			for _, s := range op.attrScales {
				scales = append(scales, float64(s))
			}
		} else {
			var err error
			if scales, err = scalesT.AsFloat64(); err != nil {
				return nil, err
			}
		}
		if present(sizesT) {
			return nil, fmt.Errorf("both scales and sizes are given")
		}
		if len(scales) != len(axes) {
			return nil, fmt.Errorf("scales has %d values for %d axes", len(scales), len(axes))
		}
		for i, a := range axes {
			s := scales[i]
			if !(s > 0) || math.IsInf(s, 0) {
				return nil, fmt.Errorf("scale %v must be positive", s)
			}
			p := &plan[a]
			p.scale = s
			size := float64(p.in) * s
			if op.coord == "tf_crop_and_resize" {
				size *= p.roi1 - p.roi0
			}
			if !(size >= 0) || size > dmMaxElements {
				return nil, fmt.Errorf("scale %v gives an invalid size", s)
			}
			p.out = int(math.Floor(size))
		}
	case present(sizesT):
		sizes, err := dmInts(sizesT, "sizes")
		if err != nil {
			return nil, err
		}
		if len(sizes) != len(axes) {
			return nil, fmt.Errorf("sizes has %d values for %d axes", len(sizes), len(axes))
		}
		for i, a := range axes {
			if sizes[i] < 0 || sizes[i] > dmMaxElements {
				return nil, fmt.Errorf("invalid sizes %v", sizes)
			}
			if plan[a].in == 0 && sizes[i] > 0 {
				return nil, fmt.Errorf("cannot resize an empty axis to %d", sizes[i])
			}
		}
		if op.keepAspect == "stretch" {
			for i, a := range axes {
				p := &plan[a]
				p.out = int(sizes[i])
				if p.in > 0 {
					p.scale = float64(p.out) / float64(p.in)
				}
			}
		} else {
			scale := math.Inf(1)
			if op.keepAspect == "not_smaller" {
				scale = math.Inf(-1)
			}
			for i, a := range axes {
				s := float64(sizes[i]) / float64(max(plan[a].in, 1))
				if op.keepAspect == "not_larger" {
					scale = min(scale, s)
				} else {
					scale = max(scale, s)
				}
			}
			for _, a := range axes {
				p := &plan[a]
				p.scale = scale
				p.out = int(scale*float64(p.in) + 0.5)
			}
		}
	default:
		return nil, fmt.Errorf("one of scales and sizes is required")
	}
	shape := make([]int, r)
	for a := range plan {
		p := &plan[a]
		p.width = p.scale * float64(p.in)
		shape[a] = p.out
		if p.in == 0 && p.out > 0 || p.scale == 0 {
			return nil, fmt.Errorf("cannot resize axis %d of size %d to %d", a, p.in, p.out)
		}
	}
	if _, err := dmCheckShape(shape); err != nil {
		return nil, err
	}
	taps := make([]resizeTaps, r)
	for a := range plan {
		taps[a] = op.taps(&plan[a])
		plan[a].identity = taps[a].isIdentity(plan[a])
	}
	if op.mode == "nearest" {
		tabs := make([][]int, r)
		for a := range tabs {
			t := make([]int, plan[a].out)
			for o := range t {
				if taps[a].outside[o] {
					t[o] = -1
				} else {
					t[o] = taps[a].idx[o]
				}
			}
			tabs[a] = t
		}
		fill, err := dmValueOf(x.DType, op.extrapolation)
		if err != nil {
			return nil, err
		}
		out, err := dmRemap(ctx, x, shape, tabs, fill)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}
	out := ctx.Alloc(x.DType, shape...)
	if out.Len() == 0 {
		return []*Tensor{out}, nil
	}
	if xs, ok := x.Data.([]float32); ok {
		res := resizeSeparable(ctx, xs, x.Shape, plan, taps, float32(op.extrapolation), out.F32())
		if &res[0] != &out.F32()[0] {
			copy(out.F32(), res)
		}
		return []*Tensor{out}, nil
	}
	vals, err := x.AsFloat64()
	if err != nil {
		return nil, err
	}
	res := resizeSeparable(ctx, vals, x.Shape, plan, taps, op.extrapolation, nil)
	if err := dmStoreFloat64(out, res); err != nil {
		return nil, err
	}
	return []*Tensor{out}, nil
}

// resizeTaps holds, per output coordinate of an axis, n taps (input index
// and weight) and whether the coordinate lies outside the crop box.
type resizeTaps struct {
	n          int
	idx        []int
	w          []float64
	outside    []bool
	anyOutside bool
}

func (t *resizeTaps) isIdentity(p resizeAxis) bool {
	if p.in != p.out {
		return false
	}
	for o := 0; o < p.out; o++ {
		if t.outside[o] {
			return false
		}
		for k := 0; k < t.n; k++ {
			i, w := t.idx[o*t.n+k], t.w[o*t.n+k]
			if !(w == 0 || w == 1 && i == o) {
				return false
			}
		}
	}
	return true
}

// source maps output coordinate x of an axis to the input coordinate;
// outside reports a tf_crop_and_resize coordinate beyond the input.
func (op *resizeOp) source(x int, p *resizeAxis) (xo float64, outside bool) {
	fx, in := float64(x), float64(p.in)
	switch op.coord {
	case "half_pixel":
		return (fx+0.5)/p.scale - 0.5, false
	case "half_pixel_symmetric":
		adjust := float64(p.out) / p.width
		offset := in / 2 * (1 - adjust)
		return offset + (fx+0.5)/p.scale - 0.5, false
	case "pytorch_half_pixel":
		if p.width == 1 {
			return -0.5, false
		}
		return (fx+0.5)/p.scale - 0.5, false
	case "align_corners":
		if p.width == 1 {
			return 0, false
		}
		return fx * (in - 1) / (p.width - 1), false
	case "asymmetric":
		return fx / p.scale, false
	case "tf_half_pixel_for_nn":
		return (fx + 0.5) / p.scale, false
	case "tf_crop_and_resize":
		if p.width == 1 {
			xo = (p.roi1 - p.roi0) * (in - 1) / 2
		} else {
			xo = fx * (p.roi1 - p.roi0) * (in - 1) / (p.width - 1)
		}
		xo += p.roi0 * (in - 1)
		return xo, xo < 0 || xo > in-1
	}
	return fx, false
}

// taps computes the filter of one axis.
func (op *resizeOp) taps(p *resizeAxis) resizeTaps {
	scale := min(p.scale, 1)
	if !op.antialias {
		scale = 1
	}
	var n, start int
	switch op.mode {
	case "nearest":
		n = 1
	case "linear":
		start = int(math.Floor(-1/scale)) + 1
		n = 2 - 2*start
	case "cubic":
		start = int(math.Floor(-2/scale)) + 1
		n = 2 - 2*start
	}
	t := resizeTaps{n: n, idx: make([]int, p.out*n), w: make([]float64, p.out*n), outside: make([]bool, p.out)}
	clampIdx := func(i int) int { return min(max(i, 0), p.in-1) }
	for o := 0; o < p.out; o++ {
		xo, outside := op.source(o, p)
		t.outside[o] = outside
		t.anyOutside = t.anyOutside || outside
		if math.IsNaN(xo) || math.IsInf(xo, 0) {
			xo = 0
		}
		xo = min(max(xo, -1e9), 1e9) // keep the index arithmetic in range
		if op.mode == "nearest" {
			t.idx[o] = clampIdx(op.nearestIndex(xo, p.scale))
			t.w[o] = 1
			continue
		}
		base := int(math.Ceil(xo)) - 1
		ratio := xo - float64(base)
		idx, w := t.idx[o*n:(o+1)*n], t.w[o*n:(o+1)*n]
		if op.mode == "cubic" && !op.antialias {
			w[0], w[1], w[2], w[3] = cubicWeights(ratio, op.cubicA)
		}
		sum := 0.0
		for k := 0; k < n; k++ {
			idx[k] = base + start + k
			d := math.Abs(float64(start+k)-ratio) * scale
			switch {
			case op.mode == "linear" && !op.antialias:
				w[k] = 1 - d
			case op.mode == "linear":
				w[k] = min(max(1-d, 0), 1)
			case op.antialias:
				w[k] = cubicKernel(d, op.cubicA)
			}
			sum += w[k]
		}
		if op.antialias {
			for k := range w {
				w[k] /= sum
			}
		}
		if op.excludeOutside {
			sum = 0
			for k := range w {
				if idx[k] < 0 || idx[k] >= p.in {
					w[k] = 0
				}
				sum += w[k]
			}
			for k := range w {
				w[k] /= sum
			}
		}
		for k := range idx {
			idx[k] = clampIdx(idx[k])
		}
	}
	return t
}

// nearestIndex rounds an input coordinate by nearest_mode; "simple" is
// the rule of Resize-10 and Upsample (ONNX Runtime): ceil when
// downsampling, truncation otherwise.
func (op *resizeOp) nearestIndex(xo, scale float64) int {
	if op.nearest == "simple" {
		if scale < 1 {
			return int(math.Ceil(xo))
		}
		return int(xo)
	}
	f := math.Floor(xo)
	if f == xo {
		return int(f)
	}
	r := xo - f
	switch op.nearest {
	case "round_prefer_floor":
		if r <= 0.5 {
			return int(f)
		}
	case "round_prefer_ceil":
		if r < 0.5 {
			return int(f)
		}
	case "floor":
		return int(f)
	}
	return int(f) + 1
}

// cubicWeights are the four Keys weights of taps base-1..base+2 for a
// sample at base+ratio.
func cubicWeights(r, a float64) (w0, w1, w2, w3 float64) {
	return cubicKernel(1+r, a), cubicKernel(r, a), cubicKernel(1-r, a), cubicKernel(2-r, a)
}

// cubicKernel is the Keys cubic convolution kernel with parameter a.
func cubicKernel(x, a float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// resizeSeparable interpolates axis by axis, innermost first, skipping
// axes that map one to one. The last pass writes into final when it is
// not nil and the element types match.
func resizeSeparable[T float32 | float64](ctx *Context, data []T, inShape []int, plan []resizeAxis, taps []resizeTaps, extrap T, final []T) []T {
	shape := append([]int{}, inShape...)
	last := -1 // the outermost resized axis: its pass is the final one
	for a := len(plan) - 1; a >= 0; a-- {
		if !plan[a].identity {
			last = a
		}
	}
	first := true
	cur := data
	for a := len(plan) - 1; a >= 0; a-- {
		if plan[a].identity {
			continue
		}
		p, t := plan[a], taps[a]
		outer, inner := 1, 1
		for _, d := range shape[:a] {
			outer *= d
		}
		for _, d := range shape[a+1:] {
			inner *= d
		}
		var dst []T
		if a == last && final != nil {
			dst = final
		} else {
			dst = make([]T, outer*p.out*inner)
		}
		w := make([]T, len(t.w))
		for i, v := range t.w {
			w[i] = T(v)
		}
		src := cur
		if inner == 1 {
			// The innermost axis: each output is a short dot product over
			// one source row.
			run := func(lo, hi int) {
				for o := lo; o < hi; o++ {
					srow := src[o*p.in : (o+1)*p.in]
					drow := dst[o*p.out : (o+1)*p.out]
					if t.n == 2 && !t.anyOutside {
						for j := range drow {
							ij := t.idx[2*j : 2*j+2 : 2*j+2]
							wj := w[2*j : 2*j+2 : 2*j+2]
							drow[j] = wj[0]*srow[ij[0]] + wj[1]*srow[ij[1]]
						}
						continue
					}
					for j := range drow {
						if t.outside[j] {
							drow[j] = extrap
							continue
						}
						ws, is := w[j*t.n:(j+1)*t.n], t.idx[j*t.n:(j+1)*t.n]
						acc := ws[0] * srow[is[0]]
						for k := 1; k < len(ws); k++ {
							acc += ws[k] * srow[is[k]]
						}
						drow[j] = acc
					}
				}
			}
			if len(dst)*t.n >= dmParallelMin {
				ctx.Parallel(outer, run)
			} else {
				run(0, outer)
			}
			shape[a] = p.out
			cur = dst
			first = false
			continue
		}
		units := outer * p.out
		run := func(lo, hi int) {
			for u := lo; u < hi; u++ {
				o, j := u/p.out, u%p.out
				d := dst[u*inner : (u+1)*inner]
				if t.outside[j] {
					for k := range d {
						d[k] = extrap
					}
					continue
				}
				row := func(k int) []T { return src[(o*p.in+t.idx[j*t.n+k])*inner:][:inner] }
				k := 0
				if t.n >= 2 {
					// The first two taps in one sweep; the same
					// arithmetic as two, (w0·s0) + (w1·s1).
					w0, w1 := w[j*t.n], w[j*t.n+1]
					s0, s1 := row(0), row(1)
					s1 = s1[:len(s0)]
					d = d[:len(s0)]
					for e, v := range s0 {
						d[e] = w0*v + w1*s1[e]
					}
					k = 2
				} else {
					wk := w[j*t.n]
					for e, v := range row(0) {
						d[e] = wk * v
					}
					k = 1
				}
				for ; k < t.n; k++ {
					wk := w[j*t.n+k]
					for e, v := range row(k) {
						d[e] += wk * v
					}
				}
			}
		}
		if len(dst)*t.n >= dmParallelMin {
			ctx.Parallel(units, run)
		} else {
			run(0, units)
		}
		shape[a] = p.out
		cur = dst
		first = false
	}
	if first {
		// Every axis maps one to one: the output is a copy.
		if final != nil {
			copy(final, data)
			return final
		}
		return append([]T{}, data...)
	}
	return cur
}
