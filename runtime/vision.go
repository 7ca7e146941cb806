// Vision kernels: GridSample (nearest, N-linear and N-cubic sampling with
// zeros, border and reflection padding), AffineGrid, RoiAlign, Col2Im,
// DeformConv and NonMaxSuppression. Sampling weights are computed in
// float64; DeformConv convolves in float32 (float64 for float64 data).

package runtime

import (
	"fmt"
	"math"
	"sort"

	"github.com/onnxq/onnxq/graph"
)

func registerVision(r *Registry) {
	r.Register("", "GridSample", buildGridSample)
	r.Register("", "AffineGrid", buildAffineGrid)
	r.Register("", "RoiAlign", buildRoiAlign)
	r.Register("", "Col2Im", buildCol2Im)
	r.Register("", "DeformConv", buildDeformConv)
	r.Register("", "NonMaxSuppression", buildNMS)
}

// Sampling modes and padding modes of GridSample.
const (
	sampleNearest = iota
	sampleLinear
	sampleCubic
)

const (
	padZeros = iota
	padBorder
	padReflection
)

type gridSampleKernel struct {
	mode, pad int
	align     bool
}

func buildGridSample(n *graph.Node, opset int64) (Kernel, error) {
	k := &gridSampleKernel{align: n.AttrInt("align_corners", 0) != 0}
	def := "linear"
	if opset < 20 {
		def = "bilinear"
	}
	// Opset 16 names the modes bilinear and bicubic; later ones linear
	// and cubic. Both spellings are accepted.
	switch m := n.AttrString("mode", def); m {
	case "nearest":
		k.mode = sampleNearest
	case "linear", "bilinear":
		k.mode = sampleLinear
	case "cubic", "bicubic":
		k.mode = sampleCubic
	default:
		return nil, fmt.Errorf("unknown mode %q", m)
	}
	switch p := n.AttrString("padding_mode", "zeros"); p {
	case "zeros":
		k.pad = padZeros
	case "border":
		k.pad = padBorder
	case "reflection":
		k.pad = padReflection
	default:
		return nil, fmt.Errorf("unknown padding_mode %q", p)
	}
	return k, nil
}

// reflectInto folds x into [lo, hi] by reflecting it at the borders.
func reflectInto(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// axisTaps are the input indices (-1: a zero) and weights one sample
// reads along one axis.
type axisTaps struct {
	idx [4]int
	w   [4]float64
	n   int
}

// taps computes the taps of normalized coordinate v on an axis of size
// elements; nearest rounds halves to even.
func (k *gridSampleKernel) taps(v float64, size int) axisTaps {
	var x float64
	if k.align {
		x = (v + 1) / 2 * float64(size-1)
	} else {
		x = ((v+1)*float64(size) - 1) / 2
	}
	lo, hi := -0.5, float64(size)-0.5
	if k.align {
		lo, hi = 0, float64(size-1)
	}
	if k.mode == sampleNearest {
		x = math.RoundToEven(x)
	}
	finite := !math.IsNaN(x) && !math.IsInf(x, 0)
	if x < lo || x > hi || !finite {
		switch {
		case k.pad == padBorder || k.pad == padReflection && !finite:
			if math.IsNaN(x) {
				x = 0
			}
			x = min(max(x, 0), float64(size-1))
		case k.pad == padReflection:
			x = reflectInto(x, lo, hi)
		default:
			// Zeros: every tap is outside; keep x small enough to convert.
			if math.IsNaN(x) {
				return axisTaps{idx: [4]int{-1}, w: [4]float64{1}, n: 1}
			}
			x = min(max(x, -8), float64(size)+8)
		}
	}
	var t axisTaps
	pixel := func(i int) int {
		switch k.pad {
		case padZeros:
			if i < 0 || i >= size {
				return -1
			}
			return i
		case padBorder:
			return min(max(i, 0), size-1)
		}
		r := int(reflectInto(float64(i), lo, hi))
		return min(max(r, 0), size-1)
	}
	switch k.mode {
	case sampleNearest:
		t.n, t.idx[0], t.w[0] = 1, pixel(int(x)), 1
	case sampleLinear:
		x0 := math.Floor(x)
		f := x - x0
		i0 := int(x0)
		t.n = 2
		t.idx[0], t.w[0] = pixel(i0), 1-f
		t.idx[1], t.w[1] = pixel(i0+1), f
	default:
		x0 := math.Floor(x)
		i0 := int(x0)
		w0, w1, w2, w3 := cubicWeights(x-x0, -0.75)
		t.n = 4
		t.idx = [4]int{pixel(i0 - 1), pixel(i0), pixel(i0 + 1), pixel(i0 + 2)}
		t.w = [4]float64{w0, w1, w2, w3}
	}
	return t
}

func (k *gridSampleKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 2); err != nil {
		return nil, err
	}
	x, grid := in[0], in[1]
	if err := checkTensorData(x, "X"); err != nil {
		return nil, err
	}
	if err := checkTensorData(grid, "grid"); err != nil {
		return nil, err
	}
	if !isNumeric(x.DType) {
		return nil, fmt.Errorf("X of type %v is not supported", x.DType)
	}
	if !grid.DType.IsFloat() {
		return nil, fmt.Errorf("grid must be a float tensor, got %v", grid.DType)
	}
	r := len(x.Shape) - 2
	if r < 1 || len(grid.Shape) != r+2 || grid.Shape[r+1] != r || grid.Shape[0] != x.Shape[0] {
		return nil, fmt.Errorf("X of shape %v and grid of shape %v do not match", x.Shape, grid.Shape)
	}
	nb, c := x.Shape[0], x.Shape[1]
	inSp := x.Shape[2:]
	outSp := grid.Shape[1 : r+1]
	yShape := append([]int{nb, c}, outSp...)
	if _, err := shapeElements(yShape); err != nil {
		return nil, err
	}
	xs, err := floatsOf64(x)
	if err != nil {
		return nil, err
	}
	gs, err := floatsOf64(grid)
	if err != nil {
		return nil, err
	}
	p, q := prodInts(outSp), prodInts(inSp)
	inStr := Strides(inSp)
	res := make([]float64, nb*c*p)
	ctx.Parallel(nb*p, func(lo, hi int) {
		taps := make([]axisTaps, r)
		cnt := make([]int, r)
		var offs []int
		var ws []float64
		for np := lo; np < hi; np++ {
			b, pos := np/p, np%p
			g := gs[np*r : (np+1)*r]
			for d := 0; d < r; d++ {
				// The grid lists coordinates innermost axis first.
				taps[d] = k.taps(g[r-1-d], inSp[d])
			}
			// Expand the tensor product of the axis taps.
			offs, ws = offs[:0], ws[:0]
			for i := range cnt {
				cnt[i] = 0
			}
			for {
				off, w := 0, 1.0
				for d := 0; d < r; d++ {
					t := &taps[d]
					if t.idx[cnt[d]] < 0 {
						off = -1
						break
					}
					off += t.idx[cnt[d]] * inStr[d]
					w *= t.w[cnt[d]]
				}
				if off >= 0 {
					offs = append(offs, off)
					ws = append(ws, w)
				}
				d := r - 1
				for ; d >= 0; d-- {
					cnt[d]++
					if cnt[d] < taps[d].n {
						break
					}
					cnt[d] = 0
				}
				if d < 0 {
					break
				}
			}
			for ch := 0; ch < c; ch++ {
				src := xs[(b*c+ch)*q:][:q]
				var s float64
				for i, o := range offs {
					s += ws[i] * src[o]
				}
				res[(b*c+ch)*p+pos] = s
			}
		}
	})
	out := ctx.Alloc(x.DType, yShape...)
	storeFloats64(out, res)
	return []*Tensor{out}, nil
}

// buildAffineGrid: grid[n, ..., :] = theta[n] · (x, y[, z], 1) over the
// normalized coordinates of every output position.
func buildAffineGrid(n *graph.Node, opset int64) (Kernel, error) {
	align := n.AttrInt("align_corners", 0) != 0
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		theta := in[0]
		if err := checkTensorData(theta, "theta"); err != nil {
			return nil, err
		}
		if !theta.DType.IsFloat() {
			return nil, fmt.Errorf("theta must be a float tensor, got %v", theta.DType)
		}
		size, err := dmInts(in[1], "size")
		if err != nil {
			return nil, err
		}
		r := len(size) - 2
		if r != 2 && r != 3 {
			return nil, fmt.Errorf("size must hold 4 or 5 values, got %v", size)
		}
		nb := int(size[0])
		if len(theta.Shape) != 3 || theta.Shape[0] != nb || theta.Shape[1] != r || theta.Shape[2] != r+1 {
			return nil, fmt.Errorf("theta of shape %v does not match size %v", theta.Shape, size)
		}
		sp := make([]int, r)
		for i := range sp {
			sp[i] = int(size[2+i])
			if size[2+i] <= 0 || size[2+i] > dmMaxElements {
				return nil, fmt.Errorf("size %v has a non-positive or too large spatial dimension", size)
			}
		}
		outShape := append(append([]int{nb}, sp...), r)
		if _, err := dmCheckShape(outShape); err != nil {
			return nil, err
		}
		base := make([][]float64, r)
		for d, dim := range sp {
			base[d] = make([]float64, dim)
			for i := range base[d] {
				if align {
					if dim > 1 {
						base[d][i] = -1 + 2*float64(i)/float64(dim-1)
					} else {
						base[d][i] = -1
					}
				} else {
					base[d][i] = -1 + float64(2*i+1)/float64(dim)
				}
			}
		}
		th, err := floatsOf64(theta)
		if err != nil {
			return nil, err
		}
		p := prodInts(sp)
		res := make([]float64, nb*p*r)
		pos := make([]int, r)
		coord := make([]float64, r+1)
		for b := 0; b < nb; b++ {
			t := th[b*r*(r+1) : (b+1)*r*(r+1)]
			for i := 0; i < p; i++ {
				unravel(i, sp, pos)
				// Homogeneous coordinates, innermost axis (x) first.
				for d := 0; d < r; d++ {
					coord[d] = base[r-1-d][pos[r-1-d]]
				}
				coord[r] = 1
				for j := 0; j < r; j++ {
					var s float64
					for m := 0; m <= r; m++ {
						s += t[j*(r+1)+m] * coord[m]
					}
					res[(b*p+i)*r+j] = s
				}
			}
		}
		out := ctx.Alloc(theta.DType, outShape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

type roiAlignKernel struct {
	max          bool
	halfPixel    bool
	outH, outW   int
	samplingRate int
	scale        float64
}

func buildRoiAlign(n *graph.Node, opset int64) (Kernel, error) {
	k := &roiAlignKernel{
		outH:         int(n.AttrInt("output_height", 1)),
		outW:         int(n.AttrInt("output_width", 1)),
		samplingRate: int(n.AttrInt("sampling_ratio", 0)),
		scale:        float64(n.AttrFloat("spatial_scale", 1)),
	}
	switch m := n.AttrString("mode", "avg"); m {
	case "avg":
	case "max":
		k.max = true
	default:
		return nil, fmt.Errorf("mode must be avg or max, got %q", m)
	}
	// Opset 10 had no coordinate_transformation_mode and behaved as
	// output_half_pixel.
	def := "half_pixel"
	if opset < 16 {
		def = "output_half_pixel"
	}
	switch m := n.AttrString("coordinate_transformation_mode", def); m {
	case "half_pixel":
		k.halfPixel = true
	case "output_half_pixel":
	default:
		return nil, fmt.Errorf("unknown coordinate_transformation_mode %q", m)
	}
	if k.outH <= 0 || k.outW <= 0 || k.samplingRate < 0 {
		return nil, fmt.Errorf("output_height and output_width must be positive and sampling_ratio >= 0")
	}
	return k, nil
}

// maxRoiSamples bounds the sampling points of one RoiAlign bin, which
// grow with the size of a box read from data.
const maxRoiSamples = 1 << 20

func (k *roiAlignKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 3); err != nil {
		return nil, err
	}
	x, rois := in[0], in[1]
	for i, name := range []string{"X", "rois", "batch_indices"} {
		if err := checkTensorData(in[i], name); err != nil {
			return nil, err
		}
	}
	if !x.DType.IsFloat() || !rois.DType.IsFloat() {
		return nil, fmt.Errorf("X and rois must be float tensors, got %v and %v", x.DType, rois.DType)
	}
	bi, err := dmInts(in[2], "batch_indices")
	if err != nil {
		return nil, err
	}
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("X must be 4-D, got shape %v", x.Shape)
	}
	nr := len(bi)
	if len(rois.Shape) != 2 || rois.Shape[1] != 4 || rois.Shape[0] != nr {
		return nil, fmt.Errorf("rois of shape %v do not match %d batch indices", rois.Shape, nr)
	}
	nb, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	for _, b := range bi {
		if b < 0 || b >= int64(nb) {
			return nil, fmt.Errorf("batch index %d is out of range for %d images", b, nb)
		}
	}
	yShape := []int{nr, c, k.outH, k.outW}
	if _, err := shapeElements(yShape); err != nil {
		return nil, err
	}
	xs, err := floatsOf64(x)
	if err != nil {
		return nil, err
	}
	rs, err := floatsOf64(rois)
	if err != nil {
		return nil, err
	}
	// Sampling grids per RoI, checked before any work.
	type roiPlan struct {
		y0, x0, bh, bw float64
		gh, gw         int
	}
	plans := make([]roiPlan, nr)
	off := 0.0
	if k.halfPixel {
		off = 0.5
	}
	for i := range plans {
		r := rs[i*4 : i*4+4]
		sw, sh := r[0]*k.scale-off, r[1]*k.scale-off
		ew, eh := r[2]*k.scale-off, r[3]*k.scale-off
		rw, rh := ew-sw, eh-sh
		if !k.halfPixel {
			rw, rh = max(rw, 1), max(rh, 1)
		}
		pl := roiPlan{y0: sh, x0: sw, bh: rh / float64(k.outH), bw: rw / float64(k.outW)}
		if k.samplingRate > 0 {
			pl.gh, pl.gw = k.samplingRate, k.samplingRate
		} else {
			// Empty or inverted boxes sample nothing.
			gh, gw := max(math.Ceil(rh/float64(k.outH)), 0), max(math.Ceil(rw/float64(k.outW)), 0)
			if !(gh*gw <= maxRoiSamples) {
				return nil, fmt.Errorf("RoI %d (%v) needs too many sampling points", i, r)
			}
			pl.gh, pl.gw = int(gh), int(gw)
		}
		if pl.gh*pl.gw > maxRoiSamples {
			return nil, fmt.Errorf("RoI %d needs too many sampling points", i)
		}
		plans[i] = pl
	}
	res := make([]float64, nr*c*k.outH*k.outW)
	if h == 0 || w == 0 {
		// An empty feature map has nothing to sample: every bin is 0.
		out := ctx.Alloc(x.DType, yShape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}
	ctx.Parallel(nr, func(lo, hi int) {
		var samples []roiPoint
		for ri := lo; ri < hi; ri++ {
			pl := plans[ri]
			gh, gw := max(pl.gh, 0), max(pl.gw, 0)
			samples = samples[:0]
			for ph := 0; ph < k.outH; ph++ {
				for pw := 0; pw < k.outW; pw++ {
					for iy := 0; iy < gh; iy++ {
						yy := pl.y0 + float64(ph)*pl.bh + (float64(iy)+0.5)*pl.bh/float64(gh)
						for ix := 0; ix < gw; ix++ {
							xx := pl.x0 + float64(pw)*pl.bw + (float64(ix)+0.5)*pl.bw/float64(gw)
							samples = append(samples, roiSample(yy, xx, h, w))
						}
					}
				}
			}
			count := float64(max(gh*gw, 1))
			for ch := 0; ch < c; ch++ {
				src := xs[(int(bi[ri])*c+ch)*h*w:][:h*w]
				si := 0
				for ph := 0; ph < k.outH; ph++ {
					for pw := 0; pw < k.outW; pw++ {
						var v float64
						for j := 0; j < gh*gw; j++ {
							s := &samples[si]
							si++
							if k.max {
								m := max(s.w[0]*src[s.pos[0]], s.w[1]*src[s.pos[1]], s.w[2]*src[s.pos[2]], s.w[3]*src[s.pos[3]])
								if j == 0 {
									v = m
								} else {
									v = max(v, m)
								}
							} else {
								v += s.w[0]*src[s.pos[0]] + s.w[1]*src[s.pos[1]] + s.w[2]*src[s.pos[2]] + s.w[3]*src[s.pos[3]]
							}
						}
						if !k.max {
							v /= count
						}
						res[((ri*c+ch)*k.outH+ph)*k.outW+pw] = v
					}
				}
			}
		}
	})
	out := ctx.Alloc(x.DType, yShape...)
	storeFloats64(out, res)
	return []*Tensor{out}, nil
}

// roiPoint is one bilinear sample: four pixel offsets and their weights.
type roiPoint struct {
	pos [4]int
	w   [4]float64
}

// roiSample is the bilinear sample of RoiAlign at (y, x): points more
// than one pixel outside the map weigh nothing; others are clamped.
func roiSample(y, x float64, h, w int) (s roiPoint) {
	if !(y >= -1 && y <= float64(h) && x >= -1 && x <= float64(w)) || h == 0 || w == 0 {
		return s
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	var yh, xh int
	if yl >= h-1 {
		yl, yh = h-1, h-1
		y = float64(yl)
	} else {
		yh = yl + 1
	}
	if xl >= w-1 {
		xl, xh = w-1, w-1
		x = float64(xl)
	} else {
		xh = xl + 1
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	s.pos = [4]int{yl*w + xl, yl*w + xh, yh*w + xl, yh*w + xh}
	s.w = [4]float64{hy * hx, hy * lx, ly * hx, ly * lx}
	return s
}

// buildCol2Im sums column blocks [N, C·Πblock, L] back into images
// [N, C, image...] (the inverse arrangement of im2col).
func buildCol2Im(n *graph.Node, opset int64) (Kernel, error) {
	dil := n.AttrInts("dilations")
	pads := n.AttrInts("pads")
	strides := n.AttrInts("strides")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 3); err != nil {
			return nil, err
		}
		x := in[0]
		if err := checkTensorData(x, "input"); err != nil {
			return nil, err
		}
		if !isNumeric(x.DType) {
			return nil, fmt.Errorf("input of type %v is not supported", x.DType)
		}
		img, err := dmInts(in[1], "image_shape")
		if err != nil {
			return nil, err
		}
		blk, err := dmInts(in[2], "block_shape")
		if err != nil {
			return nil, err
		}
		r := len(img)
		if r < 1 || len(blk) != r {
			return nil, fmt.Errorf("image_shape %v and block_shape %v must have the same length", img, blk)
		}
		get := func(v []int64, i, def int) int {
			if len(v) == 0 {
				return def
			}
			return int(v[i])
		}
		if len(dil) != 0 && len(dil) != r || len(strides) != 0 && len(strides) != r || len(pads) != 0 && len(pads) != 2*r {
			return nil, fmt.Errorf("dilations, strides and pads must have %d, %d and %d values", r, r, 2*r)
		}
		if len(x.Shape) != 3 {
			return nil, fmt.Errorf("input must be 3-D, got shape %v", x.Shape)
		}
		imgI, blkI, cols := make([]int, r), make([]int, r), make([]int, r)
		for i := 0; i < r; i++ {
			d, s, pb, pe := get(dil, i, 1), get(strides, i, 1), get(pads, i, 0), get(pads, i+r, 0)
			if img[i] <= 0 || blk[i] <= 0 || d <= 0 || s <= 0 || pb < 0 || pe < 0 || img[i] > dmMaxElements || blk[i] > dmMaxElements {
				return nil, fmt.Errorf("invalid image_shape %v, block_shape %v or attributes", img, blk)
			}
			imgI[i], blkI[i] = int(img[i]), int(blk[i])
			cols[i] = (imgI[i]+pb+pe-(d*(blkI[i]-1)+1))/s + 1
			if cols[i] < 1 {
				return nil, fmt.Errorf("blocks of %v do not fit images of %v", blk, img)
			}
		}
		kk, err := dmCheckShape(blkI)
		if err != nil {
			return nil, err
		}
		l := prodInts(cols)
		nb := x.Shape[0]
		if x.Shape[1]%kk != 0 || x.Shape[2] != l {
			return nil, fmt.Errorf("input of shape %v does not hold blocks of %v over %d positions", x.Shape, blk, l)
		}
		c := x.Shape[1] / kk
		outShape := append([]int{nb, c}, imgI...)
		if _, err := dmCheckShape(outShape); err != nil {
			return nil, err
		}
		xs, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		q := prodInts(imgI)
		imStr := Strides(imgI)
		res := make([]float64, nb*c*q)
		ctx.Parallel(nb*c, func(lo, hi int) {
			kpos, cpos := make([]int, r), make([]int, r)
			for nc := lo; nc < hi; nc++ {
				dst := res[nc*q : (nc+1)*q]
				for ki := 0; ki < kk; ki++ {
					unravel(ki, blkI, kpos)
					src := xs[(nc*kk+ki)*l:][:l]
					for li := 0; li < l; li++ {
						unravel(li, cols, cpos)
						off := 0
						for d := 0; d < r; d++ {
							p := cpos[d]*get(strides, d, 1) - get(pads, d, 0) + kpos[d]*get(dil, d, 1)
							if p < 0 || p >= imgI[d] {
								off = -1
								break
							}
							off += p * imStr[d]
						}
						if off >= 0 {
							dst[off] += src[li]
						}
					}
				}
			}
		})
		out := ctx.Alloc(x.DType, outShape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

type deformConvKernel struct {
	kernel, dil, pads, strides []int64
	group, offGroup            int
}

func buildDeformConv(n *graph.Node, opset int64) (Kernel, error) {
	k := &deformConvKernel{
		kernel:   n.AttrInts("kernel_shape"),
		dil:      n.AttrInts("dilations"),
		pads:     n.AttrInts("pads"),
		strides:  n.AttrInts("strides"),
		group:    int(n.AttrInt("group", 1)),
		offGroup: int(n.AttrInt("offset_group", 1)),
	}
	if k.group <= 0 || k.offGroup <= 0 {
		return nil, fmt.Errorf("group and offset_group must be positive")
	}
	return k, nil
}

// deformGeom is the geometry of one DeformConv run.
type deformGeom struct {
	r                                 int
	n, c, oc, cg, ocg, kk, p, q, offG int
	inSp, outSp, ker                  []int
	dil, pads, strides                []int
}

func (k *deformConvKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 3); err != nil {
		return nil, err
	}
	for i, name := range []string{"X", "W", "offset", "B", "mask"} {
		if t := dmInput(in, i); t != nil {
			if err := checkTensorData(t, name); err != nil {
				return nil, err
			}
			if !t.DType.IsFloat() {
				return nil, fmt.Errorf("%s must be a float tensor, got %v", name, t.DType)
			}
		}
	}
	x, w, offset := in[0], in[1], in[2]
	r := len(x.Shape) - 2
	if r < 1 || len(w.Shape) != r+2 || len(offset.Shape) != r+2 {
		return nil, fmt.Errorf("X %v, W %v and offset %v must have the same rank >= 3", x.Shape, w.Shape, offset.Shape)
	}
	g := &deformGeom{r: r, n: x.Shape[0], c: x.Shape[1], oc: w.Shape[0], offG: k.offGroup}
	g.inSp, g.outSp = x.Shape[2:], offset.Shape[2:]
	g.ker = w.Shape[2:]
	if len(k.kernel) > 0 {
		if len(k.kernel) != r {
			return nil, fmt.Errorf("kernel_shape %v does not match %d spatial axes", k.kernel, r)
		}
		for i, v := range k.kernel {
			if int(v) != g.ker[i] {
				return nil, fmt.Errorf("kernel_shape %v does not match W of shape %v", k.kernel, w.Shape)
			}
		}
	}
	attr := func(v []int64, n, def int, name string) ([]int, error) {
		if len(v) == 0 {
			out := make([]int, n)
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		if len(v) != n {
			return nil, fmt.Errorf("%s must have %d values, got %v", name, n, v)
		}
		out := make([]int, n)
		for i, x := range v {
			if x < 0 || x > math.MaxInt32 {
				return nil, fmt.Errorf("%s has an invalid value %d", name, x)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	var err error
	if g.dil, err = attr(k.dil, r, 1, "dilations"); err != nil {
		return nil, err
	}
	if g.pads, err = attr(k.pads, 2*r, 0, "pads"); err != nil {
		return nil, err
	}
	if g.strides, err = attr(k.strides, r, 1, "strides"); err != nil {
		return nil, err
	}
	if g.c%k.group != 0 || g.oc%k.group != 0 || w.Shape[1]*k.group != g.c || g.c%k.offGroup != 0 {
		return nil, fmt.Errorf("X of shape %v and W of shape %v do not fit group %d and offset_group %d", x.Shape, w.Shape, k.group, k.offGroup)
	}
	g.cg, g.ocg = g.c/k.group, g.oc/k.group
	g.kk = prodInts(g.ker)
	for i := 0; i < r; i++ {
		if g.dil[i] == 0 || g.strides[i] == 0 {
			return nil, fmt.Errorf("dilations and strides must be positive")
		}
		want := (g.inSp[i]+g.pads[i]+g.pads[i+r]-((g.ker[i]-1)*g.dil[i]+1))/g.strides[i] + 1
		if want != g.outSp[i] {
			return nil, fmt.Errorf("offset of shape %v does not match the output size %d along axis %d", offset.Shape, want, i)
		}
	}
	if offset.Shape[0] != g.n || offset.Shape[1] != k.offGroup*g.kk*r {
		return nil, fmt.Errorf("offset of shape %v does not match %d offset groups of %d kernel points", offset.Shape, k.offGroup, g.kk)
	}
	g.p, g.q = prodInts(g.outSp), prodInts(g.inSp)
	if b := dmInput(in, 3); b != nil && b.Len() != g.oc {
		return nil, fmt.Errorf("B of shape %v does not have %d values", b.Shape, g.oc)
	}
	if m := dmInput(in, 4); m != nil {
		want := append([]int{g.n, k.offGroup * g.kk}, g.outSp...)
		if !equalShape(m.Shape, want) {
			return nil, fmt.Errorf("mask of shape %v, want %v", m.Shape, want)
		}
	}
	if _, err := shapeElements([]int{g.c, g.kk, g.p}); err != nil {
		return nil, err
	}
	if _, err := shapeElements(append([]int{g.n, g.oc}, g.outSp...)); err != nil {
		return nil, err
	}
	wide, err := computeFloat(x.DType)
	if err != nil {
		return nil, err
	}
	if wide {
		return runDeformConv[float64](ctx, g, in)
	}
	return runDeformConv[float32](ctx, g, in)
}

func runDeformConv[T floatT](ctx *Context, g *deformGeom, in []*Tensor) ([]*Tensor, error) {
	var vals [5][]T
	for i := range vals {
		if t := dmInput(in, i); t != nil {
			v, err := floatsAs[T](t)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	xs, ws, offs, bias, mask := vals[0], vals[1], vals[2], vals[3], vals[4]
	r, kk, p, q := g.r, g.kk, g.p, g.q
	y := make([]T, g.n*g.oc*p)
	col := make([]T, g.c*kk*p)
	inStr := Strides(g.inSp)
	cpo := g.c / g.offG
	for b := 0; b < g.n; b++ {
		// Columns: col[(ch·K + k)·P + o] is channel ch sampled at kernel
		// point k of output position o, times the mask.
		ctx.Parallel(g.offG*kk, func(lo, hi int) {
			kpos, opos := make([]int, r), make([]int, r)
			idx := make([][2]int, r)
			wt := make([][2]float64, r)
			for gk := lo; gk < hi; gk++ {
				og, ki := gk/kk, gk%kk
				unravel(ki, g.ker, kpos)
				for o := 0; o < p; o++ {
					unravel(o, g.outSp, opos)
					var m float64 = 1
					if mask != nil {
						m = float64(mask[((b*g.offG+og)*kk+ki)*p+o])
					}
					inside := true
					for d := 0; d < r; d++ {
						delta := float64(offs[(((b*g.offG+og)*kk+ki)*r+d)*p+o])
						pos := float64(opos[d]*g.strides[d]-g.pads[d]+kpos[d]*g.dil[d]) + delta
						if !(pos > -1 && pos < float64(g.inSp[d])) {
							inside = false
							break
						}
						f := math.Floor(pos)
						i0 := int(f)
						t := pos - f
						idx[d] = [2]int{i0, i0 + 1}
						wt[d] = [2]float64{1 - t, t}
					}
					for ch := og * cpo; ch < (og+1)*cpo; ch++ {
						var s float64
						if inside {
							src := xs[(b*g.c+ch)*q:][:q]
							// Corners outside the image read zero.
							for corner := 0; corner < 1<<r; corner++ {
								off, w := 0, 1.0
								for d := 0; d < r; d++ {
									bit := corner >> (r - 1 - d) & 1
									i := idx[d][bit]
									if i < 0 || i >= g.inSp[d] {
										off = -1
										break
									}
									off += i * inStr[d]
									w *= wt[d][bit]
								}
								if off >= 0 {
									s += w * float64(src[off])
								}
							}
						}
						col[(ch*kk+ki)*p+o] = T(s * m)
					}
				}
			}
		})
		// Y[b, group] = W[group] · col[group].
		ctx.Parallel(g.oc/g.ocg, func(lo, hi int) {
			for gi := lo; gi < hi; gi++ {
				gemmT(g.ocg, p, g.cg*kk, ws[gi*g.ocg*g.cg*kk:], g.cg*kk, col[gi*g.cg*kk*p:], p, false,
					y[(b*g.oc+gi*g.ocg)*p:], p, 1)
			}
		})
		if bias != nil {
			for oc := 0; oc < g.oc; oc++ {
				row := y[(b*g.oc+oc)*p : (b*g.oc+oc+1)*p]
				for i := range row {
					row[i] += bias[oc]
				}
			}
		}
	}
	out := ctx.Alloc(in[0].DType, append([]int{g.n, g.oc}, g.outSp...)...)
	storeAs(out, y)
	return []*Tensor{out}, nil
}

// buildNMS selects, per batch and class, boxes in decreasing score order
// that overlap no already selected box by more than iou_threshold.
func buildNMS(n *graph.Node, opset int64) (Kernel, error) {
	center := n.AttrInt("center_point_box", 0)
	if center != 0 && center != 1 {
		return nil, fmt.Errorf("center_point_box must be 0 or 1, got %d", center)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		boxes, scores := in[0], in[1]
		for i, name := range []string{"boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"} {
			if t := dmInput(in, i); t != nil {
				if err := checkTensorData(t, name); err != nil {
					return nil, err
				}
			}
		}
		if len(boxes.Shape) != 3 || boxes.Shape[2] != 4 || len(scores.Shape) != 3 ||
			scores.Shape[0] != boxes.Shape[0] || scores.Shape[2] != boxes.Shape[1] {
			return nil, fmt.Errorf("boxes of shape %v and scores of shape %v do not match", boxes.Shape, scores.Shape)
		}
		bs, err := floatsAs[float32](boxes)
		if err != nil {
			return nil, err
		}
		ss, err := floatsAs[float32](scores)
		if err != nil {
			return nil, err
		}
		maxOut := int64(0)
		if t := dmInput(in, 2); t != nil && t.Len() > 0 {
			v, err := dmInts(t, "max_output_boxes_per_class")
			if err != nil {
				return nil, err
			}
			maxOut = max(v[0], 0)
		}
		var iou float32
		if t := dmInput(in, 3); t != nil && t.Len() > 0 {
			v, err := floatsAs[float32](t)
			if err != nil {
				return nil, err
			}
			iou = v[0]
		}
		useScore := false
		var scoreTh float32
		if t := dmInput(in, 4); t != nil && t.Len() > 0 {
			v, err := floatsAs[float32](t)
			if err != nil {
				return nil, err
			}
			useScore, scoreTh = true, v[0]
		}
		nb, nc, nbox := scores.Shape[0], scores.Shape[1], scores.Shape[2]
		var sel []int64
		cand := make([]int, 0, nbox)
		var chosen []int
		for b := 0; b < nb; b++ {
			bb := bs[b*nbox*4 : (b+1)*nbox*4]
			for c := 0; c < nc; c++ {
				sc := ss[(b*nc+c)*nbox : (b*nc+c+1)*nbox]
				cand = cand[:0]
				for i, s := range sc {
					if !useScore || s > scoreTh {
						cand = append(cand, i)
					}
				}
				// Highest score first; equal scores keep the lower index first.
				sort.SliceStable(cand, func(i, j int) bool { return scoreAbove(sc[cand[i]], sc[cand[j]]) })
				chosen = chosen[:0]
				for _, i := range cand {
					if int64(len(chosen)) >= maxOut {
						break
					}
					keep := true
					for _, j := range chosen {
						if nmsSuppress(bb[i*4:i*4+4], bb[j*4:j*4+4], center == 1, iou) {
							keep = false
							break
						}
					}
					if keep {
						chosen = append(chosen, i)
						sel = append(sel, int64(b), int64(c), int64(i))
					}
				}
			}
		}
		out := New(graph.Int64, len(sel)/3, 3)
		copy(out.I64(), sel)
		return []*Tensor{out}, nil
	}), nil
}

// scoreAbove orders scores from high to low with NaN last.
func scoreAbove(a, b float32) bool {
	if a != a {
		return false
	}
	return a > b || b != b
}

// nmsSuppress reports whether box a overlaps box b by an IoU above th.
// It computes in float32 like the boxes, so thresholds met exactly stay
// exact.
func nmsSuppress(a, b []float32, center bool, th float32) bool {
	span := func(lo, hi float32) (float32, float32) {
		if lo > hi {
			return hi, lo
		}
		return lo, hi
	}
	var ax0, ax1, ay0, ay1, bx0, bx1, by0, by1 float32
	if center {
		ax0, ax1 = a[0]-a[2]/2, a[0]+a[2]/2
		ay0, ay1 = a[1]-a[3]/2, a[1]+a[3]/2
		bx0, bx1 = b[0]-b[2]/2, b[0]+b[2]/2
		by0, by1 = b[1]-b[3]/2, b[1]+b[3]/2
	} else {
		ax0, ax1 = span(a[1], a[3])
		ay0, ay1 = span(a[0], a[2])
		bx0, bx1 = span(b[1], b[3])
		by0, by1 = span(b[0], b[2])
	}
	ix0, ix1 := max(ax0, bx0), min(ax1, bx1)
	if ix1 <= ix0 {
		return false
	}
	iy0, iy1 := max(ay0, by0), min(ay1, by1)
	if iy1 <= iy0 {
		return false
	}
	inter := float32(ix1-ix0) * float32(iy1-iy0)
	areaA := float32(ax1-ax0) * float32(ay1-ay0)
	areaB := float32(bx1-bx0) * float32(by1-by0)
	union := float32(areaA+areaB) - inter
	if inter <= 0 || areaA <= 0 || areaB <= 0 || union <= 0 {
		return false
	}
	return inter/union > th
}
