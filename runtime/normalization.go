// Normalization kernels: BatchNormalization (inference and training
// mode), LayerNormalization, RMSNormalization, InstanceNormalization,
// GroupNormalization, LpNormalization and MeanVarianceNormalization.
//
// Statistics are accumulated in float64, each group of elements by one
// goroutine in a fixed order, so results do not depend on the thread
// count. float16 and bfloat16 are computed through float32.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerNormalization(r *Registry) {
	r.Register("", "BatchNormalization", batchNormBuilder)
	r.Register("", "LayerNormalization", layerNormBuilder(false))
	r.Register("", "RMSNormalization", layerNormBuilder(true))
	r.Register("", "InstanceNormalization", instanceNormBuilder)
	r.Register("", "GroupNormalization", groupNormBuilder)
	r.Register("", "LpNormalization", lpNormBuilder)
	r.Register("", "MeanVarianceNormalization", mvnBuilder)
	r.Register("", "ImageScaler", imageScalerBuilder)
}

// imageScalerBuilder: scale·x + bias[c] on [N, C, ...] (the experimental
// op that opset 10 dropped; older vision models begin with it). A bias
// list of one value, or none, applies to every channel.
func imageScalerBuilder(n *graph.Node, opset int64) (Kernel, error) {
	scale := float64(n.AttrFloat("scale", 1))
	var bias []float32
	if a := n.Attr("bias"); a != nil {
		bias = a.Floats
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("takes 1 input")
		}
		x := in[0]
		if err := checkTensorData(x, "input"); err != nil {
			return nil, err
		}
		bn, c, sp, err := channelLayout(x)
		if err != nil {
			return nil, err
		}
		if len(bias) > 1 && len(bias) != c {
			return nil, fmt.Errorf("%d biases for %d channels", len(bias), c)
		}
		a := make([]float64, c)
		b := make([]float64, c)
		for i := range a {
			a[i] = scale
			if len(bias) == 1 {
				b[i] = float64(bias[0])
			} else if len(bias) == c {
				b[i] = float64(bias[i])
			}
		}
		xf32, xf64, err := normFloats(x)
		if err != nil {
			return nil, err
		}
		return []*Tensor{affineTensor(ctx, x, xf32, xf64, bn, c, sp, a, b)}, nil
	}), nil
}

// affineTensor returns x·a[c] + b[c] over x's [N, C, spatial] blocks (see
// affineChannels), from x's data as normFloats reads it.
func affineTensor(ctx *Context, x *Tensor, xf32 []float32, xf64 []float64, n, c, spatial int, a, b []float64) *Tensor {
	out := ctx.Alloc(x.DType, x.Shape...)
	of32, of64 := outputFloats(out)
	if xf32 != nil {
		affineChannels(ctx, of32, xf32, n, c, spatial, a, b)
		finishFloats(out, of32)
	} else {
		affineChannels(ctx, of64, xf64, n, c, spatial, a, b)
	}
	return out
}

// normFloats returns the data of a float tensor as float32 or float64 (by
// reference for those two, converted for float16 and bfloat16), for the
// kernels below that are written for both.
func normFloats(t *Tensor) (f32 []float32, f64 []float64, err error) {
	switch d := t.Data.(type) {
	case []float32:
		return d, nil, nil
	case []float64:
		return nil, d, nil
	}
	if t.DType == graph.Float16 || t.DType == graph.BFloat16 {
		return floatsOf32(t), nil, nil
	}
	return nil, nil, fmt.Errorf("type %v is not supported", t.DType)
}

// paramFloats reads a parameter tensor (scale, bias, mean...) as float64
// and checks its element count against the allowed ones.
func paramFloats(t *Tensor, what string, counts ...int) ([]float64, error) {
	if err := checkTensorData(t, what); err != nil {
		return nil, err
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("%s is %v, want a float type", what, t.DType)
	}
	n := t.Len()
	for _, c := range counts {
		if n == c {
			return floatsOf64(t)
		}
	}
	return nil, fmt.Errorf("%s has %d elements (shape %v), want %v", what, n, t.Shape, counts)
}

// finishFloats stores a float32 result computed for a float16 or
// bfloat16 tensor (float32 and float64 results are written in place).
func finishFloats(out *Tensor, f32 []float32) {
	if out.DType == graph.Float16 || out.DType == graph.BFloat16 {
		storeFloats32(out, f32)
	}
}

// outputFloats returns where a kernel writes out's values: its own data
// for float32 and float64, a scratch float32 slice otherwise.
func outputFloats(out *Tensor) ([]float32, []float64) {
	switch d := out.Data.(type) {
	case []float32:
		return d, nil
	case []float64:
		return nil, d
	}
	return make([]float32, out.Len()), nil
}

// channelLayout checks an [N, C, ...] input and returns N, C and the
// spatial size.
func channelLayout(x *Tensor) (n, c, spatial int, err error) {
	if len(x.Shape) < 2 {
		return 0, 0, 0, fmt.Errorf("input must be [N, C, ...], has shape %v", x.Shape)
	}
	return x.Shape[0], x.Shape[1], prodInts(x.Shape[2:]), nil
}

// affineChannels computes dst = src·a[c] + b[c] over [N, C, spatial]
// blocks (a and b per channel, or per element of [C, spatial]).
func affineChannels[T float32 | float64](ctx *Context, dst, src []T, n, c, spatial int, a, b []float64) {
	perElem := len(a) == c*spatial && spatial > 1
	blocks := n * c
	parallelRanges(ctx, blocks, max(1, ewParallelGrain/max(spatial, 1)), func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			ch := blk % c
			s := src[blk*spatial : (blk+1)*spatial]
			d := dst[blk*spatial : (blk+1)*spatial]
			if perElem {
				pa, pb := a[ch*spatial:(ch+1)*spatial], b[ch*spatial:(ch+1)*spatial]
				for i, v := range s {
					d[i] = T(float64(v)*pa[i] + pb[i])
				}
				continue
			}
			if s32, ok := any(s).([]float32); ok {
				kernels.AffineF32(any(d).([]float32), s32, float32(a[ch]), float32(b[ch]))
				continue
			}
			sa, sb := T(a[ch]), T(b[ch])
			for i, v := range s {
				d[i] = v*sa + sb
			}
		}
	})
}

// batchNormBuilder: y = (x - mean)/sqrt(var + epsilon)·scale + B per
// channel. In training mode (opset 14+) mean and var are the batch's
// (population variance) and the running statistics are also returned.
func batchNormBuilder(n *graph.Node, opset int64) (Kernel, error) {
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	momentum := float64(n.AttrFloat("momentum", 0.9))
	training := opset >= 14 && n.AttrInt("training_mode", 0) != 0
	spatial := opset >= 9 || n.AttrInt("spatial", 1) != 0
	nOut := len(n.Outputs)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 5 || countPresent(in[:5]) != 5 {
			return nil, fmt.Errorf("takes 5 inputs, got %d", countPresent(in))
		}
		x := in[0]
		if err := checkTensorData(x, "X"); err != nil {
			return nil, err
		}
		if len(x.Shape) == 1 {
			// A 1-D input is a batch of one channel per element ([N] as [N, 1]).
			v := *x
			v.Shape = []int{x.Shape[0], 1}
			x = &v
		}
		bn, c, sp, err := channelLayout(x)
		if err != nil {
			return nil, err
		}
		counts := []int{c}
		if !spatial {
			counts = append(counts, c*sp)
		}
		var params [4][]float64
		for i, what := range []string{"scale", "B", "mean", "var"} {
			if params[i], err = paramFloats(in[i+1], what, counts...); err != nil {
				return nil, err
			}
		}
		scale, bias, mean, variance := params[0], params[1], params[2], params[3]
		if len(scale) != len(bias) || len(scale) != len(mean) || len(scale) != len(variance) {
			return nil, fmt.Errorf("scale, B, mean and var must have the same size")
		}
		xf32, xf64, err := normFloats(x)
		if err != nil {
			return nil, err
		}
		var runMean, runVar []float64
		if training {
			bm, bv := channelStats(xf32, xf64, bn, c, sp)
			runMean = make([]float64, c)
			runVar = make([]float64, c)
			for i := range bm {
				runMean[i] = mean[i]*momentum + bm[i]*(1-momentum)
				runVar[i] = variance[i]*momentum + bv[i]*(1-momentum)
			}
			mean, variance = bm, bv
			scale, bias = scale[:c], bias[:c]
		}
		a := make([]float64, len(scale))
		b := make([]float64, len(scale))
		for i := range a {
			a[i] = scale[i] / math.Sqrt(variance[i]+eps)
			b[i] = bias[i] - mean[i]*a[i]
		}
		outs := []*Tensor{affineTensor(ctx, x, xf32, xf64, bn, c, sp, a, b)}
		if nOut > 1 {
			if runMean == nil {
				// Inference: the running statistics pass through unchanged.
				runMean, runVar = mean, variance
			}
			for _, v := range [][]float64{runMean, runVar} {
				t := ctx.Alloc(in[3].DType, len(v))
				storeFloats64(t, v)
				outs = append(outs, t)
			}
			// Opsets before 14 may ask for the saved batch mean and variance.
			for i := 3; i < nOut; i++ {
				v := [][]float64{mean, variance}[(i-3)%2]
				t := ctx.Alloc(in[3].DType, len(v))
				storeFloats64(t, v)
				outs = append(outs, t)
			}
		}
		return outs, nil
	}), nil
}

// channelStats returns the per-channel mean and population variance of
// an [N, C, spatial] input.
func channelStats(f32 []float32, f64 []float64, n, c, sp int) (mean, variance []float64) {
	mean = make([]float64, c)
	variance = make([]float64, c)
	get := func(i int) float64 {
		if f32 != nil {
			return float64(f32[i])
		}
		return f64[i]
	}
	cnt := float64(n * sp)
	for ch := 0; ch < c; ch++ {
		var s float64
		for b := 0; b < n; b++ {
			base := (b*c + ch) * sp
			for i := 0; i < sp; i++ {
				s += get(base + i)
			}
		}
		m := s / cnt
		var q float64
		for b := 0; b < n; b++ {
			base := (b*c + ch) * sp
			for i := 0; i < sp; i++ {
				d := get(base+i) - m
				q += d * d
			}
		}
		mean[ch], variance[ch] = m, q/cnt
	}
	return mean, variance
}

// rowStats returns the mean and the inverse standard deviation
// 1/sqrt(var + eps) of one row (rms: the mean is taken as 0, so var is
// the mean square).
func rowStats[T float32 | float64](row []T, eps float64, rms bool) (mean, inv float64) {
	if len(row) == 0 {
		return 0, 1 / math.Sqrt(eps)
	}
	cnt := float64(len(row))
	if !rms {
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		mean = s / cnt
	}
	var q float64
	for _, v := range row {
		d := float64(v) - mean
		q += d * d
	}
	return mean, 1 / math.Sqrt(q/cnt+eps)
}

// layerNormBuilder makes LayerNormalization, or RMSNormalization when rms
// is set: each row X[i, axis:] is normalized by its own statistics and
// scaled and shifted by Scale and B (broadcast to the row's shape).
// LayerNormalization's optional outputs are Mean and InvStdDev.
func layerNormBuilder(rms bool) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		axisAttr := n.AttrInt("axis", -1)
		eps := float64(n.AttrFloat("epsilon", 1e-5))
		stash := graph.DType(n.AttrInt("stash_type", 1))
		nOut := len(n.Outputs)
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 2 || in[0] == nil || in[1] == nil {
				return nil, fmt.Errorf("takes X and Scale, got %d inputs", countPresent(in))
			}
			x := in[0]
			if err := checkTensorData(x, "X"); err != nil {
				return nil, err
			}
			rank := len(x.Shape)
			if rank == 0 {
				return nil, fmt.Errorf("X must have rank 1 or more")
			}
			axis, err := NormalizeAxis(axisAttr, rank)
			if err != nil {
				return nil, err
			}
			rows, cols := prodInts(x.Shape[:axis]), prodInts(x.Shape[axis:])
			scale, err := expandTo(in[1], x.Shape[axis:], "Scale")
			if err != nil {
				return nil, err
			}
			var bias []float64
			if len(in) > 2 && in[2] != nil && !rms {
				if bias, err = expandTo(in[2], x.Shape[axis:], "B"); err != nil {
					return nil, err
				}
			}
			xf32, xf64, err := normFloats(x)
			if err != nil {
				return nil, err
			}
			out := ctx.Alloc(x.DType, x.Shape...)
			of32, of64 := outputFloats(out)
			means := make([]float64, rows)
			invs := make([]float64, rows)
			parallelRanges(ctx, rows, max(1, ewParallelGrain/max(cols, 1)), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					if xf32 != nil {
						means[r], invs[r] = normRow(of32[r*cols:(r+1)*cols], xf32[r*cols:(r+1)*cols], scale, bias, eps, rms)
					} else {
						means[r], invs[r] = normRow(of64[r*cols:(r+1)*cols], xf64[r*cols:(r+1)*cols], scale, bias, eps, rms)
					}
				}
			})
			finishFloats(out, of32)
			outs := []*Tensor{out}
			if nOut > 1 && !rms {
				statShape := append(append([]int{}, x.Shape[:axis]...), make([]int, rank-axis)...)
				for i := axis; i < rank; i++ {
					statShape[i] = 1
				}
				dt := stash
				if !dt.IsFloat() {
					dt = graph.Float32
				}
				for _, v := range n.Outputs[1:] {
					if v != nil && v.DType.IsFloat() {
						dt = v.DType
						break
					}
				}
				for _, v := range [][]float64{means, invs} {
					t := ctx.Alloc(dt, statShape...)
					storeFloats64(t, v)
					outs = append(outs, t)
				}
			}
			return outs, nil
		}), nil
	}
}

// normRow normalizes one row: (x - mean)·inv·scale + bias.
func normRow[T float32 | float64](dst, src []T, scale, bias []float64, eps float64, rms bool) (mean, inv float64) {
	mean, inv = rowStats(src, eps, rms)
	scale = scale[:len(src)]
	dst = dst[:len(src)]
	if bias == nil {
		for i, v := range src {
			dst[i] = T((float64(v) - mean) * inv * scale[i])
		}
		return mean, inv
	}
	bias = bias[:len(src)]
	for i, v := range src {
		dst[i] = T((float64(v)-mean)*inv*scale[i] + bias[i])
	}
	return mean, inv
}

// expandTo reads a parameter and broadcasts it to shape (it must
// broadcast unidirectionally).
func expandTo(t *Tensor, shape []int, what string) ([]float64, error) {
	if err := checkTensorData(t, what); err != nil {
		return nil, err
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("%s is %v, want a float type", what, t.DType)
	}
	v, err := floatsOf64(t)
	if err != nil {
		return nil, err
	}
	if equalShape(t.Shape, shape) || (t.Len() == prodInts(shape) && len(t.Shape) <= 1) {
		return v, nil
	}
	bs, err := BroadcastShape(t.Shape, shape)
	if err != nil || !equalShape(bs, shape) {
		return nil, fmt.Errorf("%s of shape %v does not broadcast to %v", what, t.Shape, shape)
	}
	out := make([]float64, prodInts(shape))
	p := newBcastPlan(shape, t.Shape, shape)
	runBroadcast2(nil, p, v, make([]float64, len(out)), out, func(a, _ float64) float64 { return a })
	return out, nil
}

// instanceNormBuilder: each (n, c) plane is normalized by its own mean and
// variance, then scaled and shifted per channel.
func instanceNormBuilder(n *graph.Node, opset int64) (Kernel, error) {
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || countPresent(in[:3]) != 3 {
			return nil, fmt.Errorf("takes 3 inputs, got %d", countPresent(in))
		}
		x := in[0]
		if err := checkTensorData(x, "input"); err != nil {
			return nil, err
		}
		bn, c, sp, err := channelLayout(x)
		if err != nil {
			return nil, err
		}
		scale, err := paramFloats(in[1], "scale", c)
		if err != nil {
			return nil, err
		}
		bias, err := paramFloats(in[2], "B", c)
		if err != nil {
			return nil, err
		}
		return groupNormalize(ctx, x, bn, c, c, sp, scale, bias, eps)
	}), nil
}

// groupNormBuilder: the channels are split into num_groups groups, each
// (n, group) normalized by its own statistics; scale and bias are per
// channel (opset 21) or per group (opset 18).
func groupNormBuilder(n *graph.Node, opset int64) (Kernel, error) {
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	groups := int(n.AttrInt("num_groups", 0))
	if groups <= 0 {
		return nil, fmt.Errorf("num_groups must be positive, got %d", groups)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || countPresent(in[:3]) != 3 {
			return nil, fmt.Errorf("takes 3 inputs, got %d", countPresent(in))
		}
		x := in[0]
		if err := checkTensorData(x, "X"); err != nil {
			return nil, err
		}
		bn, c, sp, err := channelLayout(x)
		if err != nil {
			return nil, err
		}
		if c%groups != 0 {
			return nil, fmt.Errorf("%d channels do not split into %d groups", c, groups)
		}
		scale, err := paramFloats(in[1], "scale", c, groups)
		if err != nil {
			return nil, err
		}
		bias, err := paramFloats(in[2], "bias", c, groups)
		if err != nil {
			return nil, err
		}
		// Per-group parameters apply to every channel of the group.
		scale, bias = perChannel(scale, c, groups), perChannel(bias, c, groups)
		return groupNormalize(ctx, x, bn, c, groups, sp, scale, bias, eps)
	}), nil
}

func perChannel(p []float64, c, groups int) []float64 {
	if len(p) == c {
		return p
	}
	out := make([]float64, c)
	for ch := range out {
		out[ch] = p[ch/(c/groups)]
	}
	return out
}

// groupNormalize normalizes [N, C, spatial] by (n, group) statistics and
// applies per-channel scale and bias.
func groupNormalize(ctx *Context, x *Tensor, bn, c, groups, sp int, scale, bias []float64, eps float64) ([]*Tensor, error) {
	xf32, xf64, err := normFloats(x)
	if err != nil {
		return nil, err
	}
	out := ctx.Alloc(x.DType, x.Shape...)
	if x.Len() == 0 {
		return []*Tensor{out}, nil
	}
	of32, of64 := outputFloats(out)
	cg := c / groups
	size := cg * sp
	parallelRanges(ctx, bn*groups, max(1, ewParallelGrain/max(size, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			g := r % groups
			if xf32 != nil {
				groupRow(of32[r*size:(r+1)*size], xf32[r*size:(r+1)*size], scale[g*cg:(g+1)*cg], bias[g*cg:(g+1)*cg], sp, eps)
			} else {
				groupRow(of64[r*size:(r+1)*size], xf64[r*size:(r+1)*size], scale[g*cg:(g+1)*cg], bias[g*cg:(g+1)*cg], sp, eps)
			}
		}
	})
	finishFloats(out, of32)
	return []*Tensor{out}, nil
}

// groupRow normalizes one group (its channels of sp elements each).
func groupRow[T float32 | float64](dst, src []T, scale, bias []float64, sp int, eps float64) {
	mean, inv := rowStats(src, eps, false)
	for ch := range scale {
		a := inv * scale[ch]
		b := bias[ch] - mean*a
		s, d := src[ch*sp:(ch+1)*sp], dst[ch*sp:(ch+1)*sp]
		for i, v := range s {
			d[i] = T(float64(v)*a + b)
		}
	}
}

// lpNormBuilder divides by the L1 or L2 norm along an axis.
func lpNormBuilder(n *graph.Node, opset int64) (Kernel, error) {
	axisAttr := n.AttrInt("axis", -1)
	p := n.AttrInt("p", 2)
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("p must be 1 or 2, got %d", p)
	}
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
		if rank == 0 {
			return nil, fmt.Errorf("input must have rank 1 or more")
		}
		axis, err := NormalizeAxis(axisAttr, rank)
		if err != nil {
			return nil, err
		}
		kind := reduceL2
		if p == 1 {
			kind = reduceL1
		}
		lay := reduceLayout{outer: prodInts(x.Shape[:axis]), n: x.Shape[axis], inner: prodInts(x.Shape[axis+1:])}
		src, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		norms := make([]float64, lay.outer*lay.inner)
		reduceFloats(ctx, kind, src, norms, lay)
		res := make([]float64, len(src))
		for i, v := range src {
			o, j := i/(lay.n*lay.inner), i%lay.inner
			if nv := norms[o*lay.inner+j]; nv != 0 {
				res[i] = v / nv
			} // a zero norm means a zero vector, which stays zero
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

// mvnBuilder: (X - mean)/(std + 1e-9) with mean and std over the given
// axes (default 0, 2, 3), as the operator's function body computes it.
func mvnBuilder(n *graph.Node, opset int64) (Kernel, error) {
	axes := n.AttrInts("axes")
	if n.Attr("axes") == nil {
		axes = []int64{0, 2, 3}
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		x := in[0]
		if err := checkTensorData(x, "X"); err != nil {
			return nil, err
		}
		if !x.DType.IsFloat() {
			return nil, fmt.Errorf("type %v is not supported", x.DType)
		}
		red, err := reducedAxes(axes, len(x.Shape))
		if err != nil {
			return nil, err
		}
		lay := planReduce(x.Shape, red)
		src, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		work := permuteFor(lay, x.Shape, src)
		means := make([]float64, lay.outer*lay.inner)
		reduceFloats(ctx, reduceMean, work, means, lay)
		sq := make([]float64, len(work))
		for i, v := range work {
			o, j := i/(lay.n*lay.inner), i%lay.inner
			d := v - means[o*lay.inner+j]
			sq[i] = d * d
		}
		vars := make([]float64, len(means))
		reduceFloats(ctx, reduceMean, sq, vars, lay)
		res := make([]float64, len(work))
		for i, v := range work {
			o, j := i/(lay.n*lay.inner), i%lay.inner
			k := o*lay.inner + j
			res[i] = (v - means[k]) / (math.Sqrt(vars[k]) + 1e-9)
		}
		if lay.perm != nil {
			permShape := make([]int, len(lay.perm))
			inv := make([]int, len(lay.perm))
			for i, p := range lay.perm {
				permShape[i] = x.Shape[p]
				inv[p] = i
			}
			res = permuteData(res, permShape, inv)
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}
