// hessround.go holds error-compensating weight rounding: after Q/DQ
// insertion, the int8 weights of each quantized Conv, Gemm and MatMul are
// rounded again on their fixed grid so that the layer's output error on
// the calibration inputs, not each weight's own error, is small. For a
// layer with inputs x (im2col patches for a Conv, one group at a time) it
// accumulates H, the covariance of x (Σ x xᵀ less the mean's part, which
// bias correction handles), and quantizes each output channel's weights one
// input column at a time, moving every column's rounding error onto the
// columns not yet quantized through the Cholesky factor of H⁻¹ (the
// Optimal Brain Quantization update). Scales, zero points and the integer
// range are those the quantize pass chose; only the integers change.

package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// WeightRounding chooses how weights are rounded onto their integer grid.
type WeightRounding int

const (
	// RoundNearest rounds every weight to its nearest grid point.
	RoundNearest WeightRounding = iota
	// RoundHessian rounds each layer's weights so that the error of the
	// layer's output on the calibration inputs is small (RoundWeights).
	RoundHessian
)

// String is the command line's name of r.
func (r WeightRounding) String() string {
	switch r {
	case RoundNearest:
		return "nearest"
	case RoundHessian:
		return "hessian"
	}
	return fmt.Sprintf("WeightRounding(%d)", int(r))
}

// ParseWeightRounding reads a command-line name ("nearest", "hessian").
func ParseWeightRounding(s string) (WeightRounding, error) {
	switch strings.ToLower(s) {
	case "nearest":
		return RoundNearest, nil
	case "hessian":
		return RoundHessian, nil
	}
	return 0, fmt.Errorf("unknown weight rounding %q (want nearest or hessian)", s)
}

// Tuning of the Hessian rounding, as measured on the shared models (the
// alternatives noted were worse there on held-out samples); variables so
// that experiments can vary them.
var (
	// hessDamp is the share of H's mean diagonal added to its diagonal:
	// it keeps H invertible where inputs are collinear and bounds how far
	// an error is pushed onto weakly observed columns.
	hessDamp = 0.01
	// hessBudget bounds the multiply-adds one sample spends on one layer's
	// H (positions × groups × d²/2); positions are subsampled beyond it.
	hessBudget = 2e8
	// hessMinPositions is the fewest positions per sample kept by the
	// subsampling, whatever the budget.
	hessMinPositions = 1024
	// hessMaxDim is the largest column count (inputs per group) rounded
	// this way: H costs d² float64s and its factorisation d³.
	hessMaxDim = 4096
	// hessMaxWork bounds the multiply-adds of one layer's rounding (the
	// factorisations, groups·d³, and the column updates, cout·d²): a
	// 4096x4096 Gemm took minutes with nothing printed; a 1,536-input one
	// (oww_hello_deepa) stays in.
	hessMaxWork = 8e9
	// hessSequential takes each layer's inputs from the quantized model,
	// its layers above already rounded; otherwise from the FP32 model
	// (then a weight read by several nodes is not rounded).
	hessSequential = true
	// hessCenter uses the covariance of the inputs instead of their second
	// moment: the mean error is bias correction's to remove.
	hessCenter = true
	// hessActOrder quantizes the columns of larger H diagonal first.
	hessActOrder = true
)

// roundKind is the op family of a rounding target.
type roundKind int

const (
	kindConv roundKind = iota
	kindGemm
	kindMatMul
)

// roundTarget is one quantized weighted node and what its rounding needs.
type roundTarget struct {
	node   *graph.Node   // in the quantized model
	input  string        // the value whose tensors feed H
	output string        // the node's output in the quantized model
	kind   roundKind     // op family
	w      []float32     // the FP32 weights
	q      *graph.Tensor // the int8 weights, rewritten in place
	scales []float32     // per output channel, or one
	cout   int           // output channels
	groups int           // Conv groups (1 otherwise)
	d      int           // columns: inputs per group (Cin/group·kh·kw, or K)
	// chStride and colStride place weight (channel c, column j) at
	// c·chStride + j·colStride.
	chStride, colStride int
	transA              bool // Gemm reads its input as [K, M]
	// Conv kernel, 2-D (a 1-D Conv has kh = 1); the rest of the window
	// is resolved for each input (runtime.ResolveConvWindow).
	kh, kw  int
	spatial int // 1 or 2
	// acc is the weight's H, shared by every node reading the weight.
	acc *hessAcc
}

// hessAcc accumulates the H of one weight over all its readers' inputs.
type hessAcc struct {
	h     [][]float64 // Σx·xᵀ per group, lower triangle
	sum   [][]float64 // Σx per group
	count float64     // positions accumulated
	seen  int         // inputs accumulated
}

// RoundReport says what RoundWeights did.
type RoundReport struct {
	// Layers counts the weighted nodes rounded with their Hessian;
	// Skipped, the quantized weighted nodes left at round-to-nearest
	// (unsupported layout, too many columns, a Hessian that would not
	// factorise).
	Layers, Skipped int
	// Changed counts the weights whose integer differs from
	// round-to-nearest.
	Changed int
	// Before and After are the finished model's worst output SQNR, in dB,
	// on the calibration samples with round-to-nearest and with the
	// Hessian rounding (set by Run, which keeps the rounding only when
	// After is higher: Applied).
	Before, After float64
	// HeldBefore and HeldAfter are the same on samples held out of
	// calibration (Config.HeldOut), measured when the rounding
	// won on the calibration samples, NaN otherwise: it is kept only
	// when HeldAfter is not lower.
	HeldBefore, HeldAfter float64
	Applied               bool
	// Unsupported says why no layer was tried ("" when they were): the
	// rounding works on int8 weights only.
	Unsupported string
}

// RoundWeights rewrites the int8 weights of the quantized Conv, Gemm and
// MatMul nodes of q (made from the prepared FP32 model ref) by
// error-compensating rounding on their fixed grid, from the layer inputs
// seen on src: those of q itself, layer by layer from the inputs down
// with the layers above already rounded; a weight several nodes read is
// rounded once, from all their inputs, at its last reader's level. H is
// the covariance of the inputs, not their second moment: the mean error
// is left to bias correction, which should run afterwards. Scales and zero
// points do not change.
// Results do not depend on threads.
func RoundWeights(ref, q *graph.Model, src *Samples, qopts passes.QuantOptions, threads int) (*RoundReport, error) {
	rep := &RoundReport{HeldBefore: math.NaN(), HeldAfter: math.NaN()}
	if ref == nil || q == nil || src == nil || src.Len() == 0 {
		return rep, nil
	}
	if qopts.WeightType != qdq.Int8 {
		rep.Unsupported = fmt.Sprintf("it rounds int8 weights only, these are %s", qopts.WeightType)
		return rep, nil
	}
	qmin, qmax := qdq.RangeOptions{Type: qopts.WeightType, Symmetric: qopts.SymmetricWeights, Restricted: qopts.RestrictedWeights, ReduceRange: qopts.ReduceRange}.Bounds()
	if threads <= 0 {
		threads = goruntime.GOMAXPROCS(0)
	}
	targets, skipped := roundTargets(ref, q)
	rep.Skipped = skipped
	if len(targets) == 0 {
		return rep, nil
	}
	var levels [][]*roundTarget
	if hessSequential {
		// A weight read by several nodes is rounded once, at the level of
		// its last reader, from all its readers' inputs.
		outs := make([]string, len(targets))
		for i, t := range targets {
			outs[i] = t.output
		}
		at := make([]int, len(targets))
		for l, lv := range nodeLevels(q, outs) {
			for _, i := range lv {
				at[i] = l
			}
		}
		last := map[*hessAcc]int{}
		for i, t := range targets {
			last[t.acc] = max(last[t.acc], at[i])
		}
		for i, t := range targets {
			l := last[t.acc]
			for len(levels) <= l {
				levels = append(levels, nil)
			}
			levels[l] = append(levels[l], targets[i])
		}
	} else {
		levels = [][]*roundTarget{targets}
	}
	var cut *prefixCache
	var measured [][]string
	if hessSequential {
		// a level measures its nodes' inputs, then rounds their weights
		changed := make([][]string, len(levels))
		measured = make([][]string, len(levels))
		for li, level := range levels {
			for _, t := range level {
				changed[li] = append(changed[li], t.output)
				measured[li] = append(measured[li], t.input)
			}
		}
		cut = newPrefixCache(q, changed, measured)
	}
	for li, level := range levels {
		if len(level) == 0 {
			continue
		}
		m := ref
		var feed func(int, map[string]*runtime.Tensor) map[string]*runtime.Tensor
		var observe func(*graph.Value, *runtime.Tensor)
		done := func(int) {}
		if cut != nil {
			var err error
			if m, feed, observe, done, err = cut.run(q, measured[li], true, li); err != nil {
				return nil, err
			}
		}
		if err := accumulateHessians(m, src, level, threads, feed, observe); err != nil {
			return nil, err
		}
		done(src.Len())
		rounded := map[*hessAcc]bool{}
		for _, t := range level {
			if rounded[t.acc] {
				continue
			}
			rounded[t.acc] = true
			changed, ok, err := t.round(qmin, qmax, threads)
			if err != nil {
				return nil, err
			}
			t.acc.h, t.acc.sum = nil, nil
			if !ok {
				rep.Skipped++
				continue
			}
			rep.Layers++
			rep.Changed += changed
		}
	}
	return rep, nil
}

// roundTargets finds q's quantized weighted nodes whose weight is an int8
// initializer of their own read through a symmetric DequantizeLinear, and
// their FP32 weights in ref; it counts the quantized weighted nodes it
// cannot round.
func roundTargets(ref, q *graph.Model) ([]*roundTarget, int) {
	refByWeight := nodesByWeight(ref.Graph)
	var out []*roundTarget
	skipped := 0
	for _, n := range q.Graph.Nodes {
		var kind roundKind
		switch n.OpType {
		case "Conv":
			kind = kindConv
		case "Gemm":
			kind = kindGemm
		case "MatMul":
			kind = kindMatMul
		default:
			continue
		}
		w := n.Input(1)
		if w == nil || w.Producer == nil || w.Producer.OpType != "DequantizeLinear" {
			continue
		}
		t := newRoundTarget(ref, n, kind, refByWeight, hessSequential)
		if t == nil {
			skipped++
			continue
		}
		out = append(out, t)
	}
	// Readers of one weight share its H; all of them must be targets of
	// the same layout, or the weight stays as it is.
	byWeight := map[*graph.Tensor][]*roundTarget{}
	for _, t := range out {
		byWeight[t.q] = append(byWeight[t.q], t)
	}
	kept := out[:0]
	for _, t := range out {
		shared := byWeight[t.q]
		dq := t.node.Input(1)
		ok := len(shared) == len(dq.Consumers)
		for _, o := range shared {
			ok = ok && o.node.Input(1) == dq && o.kind == t.kind && o.groups == t.groups && o.d == t.d && o.cout == t.cout
		}
		if !ok {
			skipped++
			continue
		}
		if shared[0].acc == nil {
			shared[0].acc = &hessAcc{}
		}
		t.acc = shared[0].acc
		kept = append(kept, t)
	}
	return kept, skipped
}

// newRoundTarget describes n for rounding, or returns nil when its weight
// layout is not one RoundWeights handles.
func newRoundTarget(ref *graph.Model, n *graph.Node, kind roundKind, refByWeight map[string]*graph.Node, sequential bool) *roundTarget {
	dq := n.Input(1).Producer
	iv, sv := dq.Input(0), dq.Input(1)
	if iv == nil || iv.Const == nil || iv.Const.DType != graph.Int8 || sv == nil || sv.Const == nil {
		return nil
	}
	// Several readers of one weight are rounded together only with the
	// quantized model's inputs, which need no FP32 counterpart.
	if len(iv.Consumers) != 1 || !sequential && len(n.Input(1).Consumers) != 1 || dq.Attr("block_size") != nil || len(n.Outputs) != 1 || n.Input(0) == nil {
		return nil
	}
	if zv := dq.Input(2); zv != nil {
		if zv.Const == nil {
			return nil
		}
		z, err := zv.Const.Int64s()
		if err != nil || slices.ContainsFunc(z, func(v int64) bool { return v != 0 }) {
			return nil
		}
	}
	fw := ref.Graph.Value(iv.Name)
	rn := refByWeight[iv.Name]
	if !sequential && (rn == nil || rn.OpType != n.OpType || rn.Input(0) == nil) {
		return nil
	}
	if fw == nil || fw.Const == nil || fw.Const.DType != graph.Float32 || !slices.Equal(fw.Const.Dims, iv.Const.Dims) {
		return nil
	}
	w, err := fw.Const.Float32s()
	if err != nil {
		return nil
	}
	scales, err := sv.Const.Float32s()
	if err != nil || len(scales) == 0 || slices.ContainsFunc(scales, func(s float32) bool { return !(s > 0) }) {
		return nil
	}
	dims := iv.Const.Dims
	t := &roundTarget{node: n, output: n.Outputs[0].Name, kind: kind, w: w, q: iv.Const, scales: scales, groups: 1}
	t.input = n.Input(0).Name
	if !sequential {
		t.input = rn.Input(0).Name
	}
	axis := int(dq.AttrInt("axis", 1))
	switch kind {
	case kindConv:
		if len(dims) != 3 && len(dims) != 4 || axis != 0 && len(scales) > 1 {
			return nil
		}
		t.spatial = len(dims) - 2
		t.groups = int(n.AttrInt("group", 1))
		t.cout = int(dims[0])
		if t.groups < 1 || t.cout%t.groups != 0 {
			return nil
		}
		t.kh, t.kw = 1, int(dims[len(dims)-1])
		if t.spatial == 2 {
			t.kh = int(dims[2])
		}
		t.d = int(dims[1]) * t.kh * t.kw
		t.chStride, t.colStride = t.d, 1
	case kindGemm, kindMatMul:
		if len(dims) != 2 {
			return nil
		}
		k, nn := int(dims[0]), int(dims[1])
		trans := kind == kindGemm && n.AttrInt("transB", 0) != 0
		if trans {
			k, nn = nn, k
		}
		chAxis := 1
		if trans {
			chAxis = 0
		}
		if len(scales) > 1 && axis != chAxis {
			return nil
		}
		t.cout, t.d = nn, k
		if trans {
			t.chStride, t.colStride = k, 1
		} else {
			t.chStride, t.colStride = 1, nn
		}
		t.transA = kind == kindGemm && n.AttrInt("transA", 0) != 0
	}
	if len(scales) != 1 && len(scales) != t.cout || t.d > hessMaxDim || t.d == 0 {
		return nil
	}
	if d := float64(t.d); float64(t.groups)*d*d*d+float64(t.cout)*d*d > hessMaxWork {
		return nil
	}
	return t
}

// accumulateHessians runs m on every sample of src and adds the inputs
// of targets (values of m named by their input) to their H.
// feed, when set, gives the inputs of sample i from the sample's own, and
// also, when set, sees every value produced.
func accumulateHessians(m *graph.Model, src *Samples, targets []*roundTarget, threads int,
	feed func(i int, sample map[string]*runtime.Tensor) map[string]*runtime.Tensor, also func(v *graph.Value, x *runtime.Tensor)) error {
	byInput := map[string][]*roundTarget{}
	for _, t := range targets {
		byInput[t.input] = append(byInput[t.input], t)
	}
	var accErr error
	sample := 0
	add := func(name string, x *runtime.Tensor) {
		f := x.F32()
		if f == nil || accErr != nil {
			return
		}
		for _, t := range byInput[name] {
			if err := t.accumulate(f, x.Shape, sample, threads); err != nil {
				accErr = fmt.Errorf("node %s: %v", t.node.Name, err)
				return
			}
		}
	}
	var sess *runtime.Session
	if len(m.Graph.Outputs) > 0 {
		var err error
		sess, err = runtime.NewSession(m, runtime.Options{Threads: threads, Observer: func(v *graph.Value, x *runtime.Tensor) {
			add(v.Name, x)
			if also != nil {
				also(v, x)
			}
		}})
		if err != nil {
			return err
		}
	}
	for i := 0; i < src.Len(); i++ {
		sample = i
		s, err := src.Sample(i)
		if err != nil {
			return err
		}
		// Graph inputs are not observed; feed them in input order.
		for _, in := range m.Graph.Inputs {
			if x := s[in.Name]; x != nil {
				add(in.Name, x)
			}
		}
		if sess != nil {
			if feed != nil {
				s = feed(i, s)
			}
			if _, err := sess.Run(s); err != nil {
				return err
			}
		}
		if accErr != nil {
			return accErr
		}
	}
	return nil
}

// positions picks which of total positions one sample contributes: all
// when they fit the budget, otherwise a fixed pseudo-random subset (a grid
// stride could fall on one image column), in increasing order.
func (t *roundTarget) positions(total, sample int) []int {
	per := float64(t.groups) * float64(t.d) * float64(t.d) / 2
	keep := total
	if float64(total)*per > hessBudget {
		keep = max(hessMinPositions, int(hessBudget/per))
	}
	if keep >= total {
		out := make([]int, total)
		for i := range out {
			out[i] = i
		}
		return out
	}
	r := rand.New(rand.NewPCG(uint64(total), uint64(sample)))
	out := r.Perm(total)[:keep]
	sort.Ints(out)
	return out
}

// accumulate adds one sample's input tensor x (shape shape) to t's H.
func (t *roundTarget) accumulate(x []float32, shape []int, sample, threads int) error {
	a := t.acc
	if a.h == nil {
		a.h, a.sum = make([][]float64, t.groups), make([][]float64, t.groups)
		for g := range a.h {
			a.h[g], a.sum[g] = make([]float64, t.d*t.d), make([]float64, t.d)
		}
	}
	a.seen++
	switch t.kind {
	case kindConv:
		return t.accumulateConv(x, shape, sample, threads)
	}
	// Gemm and MatMul: rows of K values.
	if len(shape) < 2 {
		return errors.New("input of rank < 2")
	}
	k := shape[len(shape)-1]
	rows := len(x) / max(1, k)
	if t.transA {
		if len(shape) != 2 {
			return errors.New("transposed Gemm input is not 2-D")
		}
		k, rows = shape[0], shape[1]
	}
	if k != t.d {
		return fmt.Errorf("input has %d columns, the weight %d", k, t.d)
	}
	pos := t.positions(rows, sample)
	xt := make([]float64, t.d*len(pos))
	for p, r := range pos {
		for j := 0; j < t.d; j++ {
			if t.transA {
				xt[j*len(pos)+p] = float64(x[j*rows+r])
			} else {
				xt[j*len(pos)+p] = float64(x[r*k+j])
			}
		}
	}
	addGram(t.acc.h[0], t.acc.sum[0], xt, t.d, len(pos), threads)
	t.acc.count += float64(len(pos))
	return nil
}

// accumulateConv adds the im2col patches of a Conv input to H, group by
// group.
func (t *roundTarget) accumulateConv(x []float32, shape []int, sample, threads int) error {
	if len(shape) != t.spatial+2 {
		return fmt.Errorf("input of rank %d for a %d-D Conv", len(shape), t.spatial)
	}
	n, c := shape[0], shape[1]
	ih, iw := 1, shape[len(shape)-1]
	if t.spatial == 2 {
		ih = shape[2]
	}
	cpg := t.d / (t.kh * t.kw)
	if c != cpg*t.groups {
		return fmt.Errorf("input has %d channels, the weight reads %d", c, cpg*t.groups)
	}
	in, k := []int{ih, iw}, []int{t.kh, t.kw}
	if t.spatial == 1 {
		in, k = in[1:], k[1:]
	}
	win, err := runtime.ResolveConvWindow(t.node, in, k)
	if err != nil {
		return err
	}
	// Axis y of a 1-D Conv is a single row.
	oh, sy, dy, pt := 1, 1, 1, 0
	if t.spatial == 2 {
		oh, sy, dy, pt = win.Out[0], win.Strides[0], win.Dilations[0], win.PadBegin[0]
	}
	x1 := len(in) - 1
	ow, sx, dx, pl := win.Out[x1], win.Strides[x1], win.Dilations[x1], win.PadBegin[x1]
	if oh <= 0 || ow <= 0 {
		return nil
	}
	pos := t.positions(n*oh*ow, sample)
	m := len(pos)
	t.acc.count += float64(m)
	patches := func(g int, xt []float64) {
		for p, at := range pos {
			b, rest := at/(oh*ow), at%(oh*ow)
			oy, ox := rest/ow, rest%ow
			for ci := 0; ci < cpg; ci++ {
				plane := x[((b*c)+g*cpg+ci)*ih*iw:][:ih*iw]
				for ky := 0; ky < t.kh; ky++ {
					y := oy*sy - pt + ky*dy
					for kx := 0; kx < t.kw; kx++ {
						xx := ox*sx - pl + kx*dx
						v := 0.0
						if y >= 0 && y < ih && xx >= 0 && xx < iw {
							v = float64(plane[y*iw+xx])
						}
						xt[((ci*t.kh+ky)*t.kw+kx)*m+p] = v
					}
				}
			}
		}
	}
	if t.groups == 1 {
		xt := make([]float64, t.d*m)
		patches(0, xt)
		addGram(t.acc.h[0], t.acc.sum[0], xt, t.d, m, threads)
		return nil
	}
	// Many groups (depthwise): one group per task, each H summed in
	// position order by one goroutine.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(threads, t.groups) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xt := make([]float64, t.d*m)
			for {
				g := int(next.Add(1) - 1)
				if g >= t.groups {
					return
				}
				patches(g, xt)
				addGram(t.acc.h[g], t.acc.sum[g], xt, t.d, m, 1)
			}
		}()
	}
	wg.Wait()
	return nil
}

// addGram adds xt·xtᵀ to the lower triangle of the d×d matrix h and the
// row sums of xt to sum, xt holding d rows of m values. Each entry is one
// sum in position order, so the result does not depend on threads.
func addGram(h, sum, xt []float64, d, m, threads int) {
	row := func(i int) {
		a := xt[i*m : (i+1)*m]
		var r float64
		for _, v := range a {
			r += v
		}
		sum[i] += r
		for j := 0; j <= i; j++ {
			b := xt[j*m : (j+1)*m]
			var s float64
			for k, v := range a {
				s += v * b[k]
			}
			h[i*d+j] += s
		}
	}
	// rows from the longest down, for balance
	eachIndex(d, threads, d*d*m/2, func(k int) { row(d - 1 - k) })
}

// round rewrites t's int8 weights from its H; ok is false when a group's
// H would not factorise (the weights then stay as they were). changed
// counts integers that differ from what they were.
func (t *roundTarget) round(qmin, qmax int32, threads int) (changed int, ok bool, err error) {
	a := t.acc
	if a.h == nil || a.seen == 0 {
		return 0, false, nil
	}
	raw, err := t.q.Raw()
	if err != nil {
		return 0, false, err
	}
	out := append([]byte(nil), raw...)
	cpg := t.cout / t.groups
	for g := 0; g < t.groups; g++ {
		if hessCenter && a.count > 0 {
			h, sm := a.h[g], a.sum[g]
			for i := 0; i < t.d; i++ {
				for j := 0; j <= i; j++ {
					h[i*t.d+j] -= sm[i] * sm[j] / a.count
				}
			}
		}
		perm, u := hessianFactor(a.h[g], t.d, threads)
		if u == nil {
			return 0, false, nil
		}
		var moved atomic.Int64
		eachIndex(cpg, threads, cpg*t.d*t.d, func(k int) {
			c := g*cpg + k
			s := t.scales[0]
			if len(t.scales) > 1 {
				s = t.scales[c]
			}
			w := make([]float64, t.d)
			qs := make([]int32, t.d)
			for j, pj := range perm {
				w[j] = float64(t.w[c*t.chStride+pj*t.colStride])
			}
			obqRound(w, qs, u, t.d, s, qmin, qmax)
			local := int64(0)
			for j, pj := range perm {
				at := c*t.chStride + pj*t.colStride
				if int8(out[at]) != int8(qs[j]) {
					local++
				}
				out[at] = byte(int8(qs[j]))
			}
			moved.Add(local)
		})
		changed += int(moved.Load())
	}
	if err := t.q.SetRaw(out); err != nil {
		return 0, false, err
	}
	return changed, true, nil
}

// obqRound quantizes w (in column order) onto the grid s·[qmin, qmax]
// into qs, spreading each column's error onto the later columns through
// u, the upper Cholesky factor of H⁻¹ (row-major d×d): after column i,
// w[j] -= (w[i] - ŵ[i]) / u[i,i] · u[i,j] for j > i. w is overwritten.
func obqRound(w []float64, qs []int32, u []float64, d int, s float32, qmin, qmax int32) {
	sc := float64(s)
	for i := 0; i < d; i++ {
		v := math.RoundToEven(w[i] / sc)
		if v != v {
			v = 0
		}
		v = math.Max(float64(qmin), math.Min(float64(qmax), v))
		qs[i] = int32(v)
		e := (w[i] - v*sc) / u[i*d+i]
		if e == 0 {
			continue
		}
		row := u[i*d:]
		for j := i + 1; j < d; j++ {
			w[j] -= e * row[j]
		}
	}
}

// hessianFactor symmetrises the lower triangle h, damps it, orders its
// columns (by decreasing diagonal with hessActOrder) and returns the
// order and the upper Cholesky factor of the reordered H⁻¹; a nil factor
// when H does not factorise even with ten times more damping.
func hessianFactor(lower []float64, d, threads int) ([]int, []float64) {
	diag := make([]float64, d)
	var mean float64
	for i := 0; i < d; i++ {
		diag[i] = lower[i*d+i]
		mean += diag[i]
	}
	mean /= float64(d)
	perm := make([]int, d)
	for i := range perm {
		perm[i] = i
	}
	if hessActOrder {
		sort.SliceStable(perm, func(a, b int) bool { return diag[perm[a]] > diag[perm[b]] })
	}
	if !(mean > 0) || math.IsInf(mean, 0) {
		mean = 1
	}
	for _, damp := range []float64{hessDamp, 10 * hessDamp, 100 * hessDamp} {
		h := make([]float64, d*d)
		for a, pa := range perm {
			for b, pb := range perm {
				i, j := max(pa, pb), min(pa, pb)
				h[a*d+b] = lower[i*d+j]
			}
			if h[a*d+a] == 0 {
				h[a*d+a] = mean // an input that is always 0: its column is free
			}
			h[a*d+a] += damp * mean
		}
		if u := invCholUpper(h, d, threads); u != nil {
			return perm, u
		}
	}
	return perm, nil
}

// invCholUpper returns U, upper triangular with Uᵀ·U = H⁻¹, for the
// symmetric positive definite d×d matrix h (overwritten), or nil when h is
// not positive definite. Each entry is one sum in a fixed order, whatever
// threads.
func invCholUpper(h []float64, d, threads int) []float64 {
	if !cholLower(h, d, threads) {
		return nil
	}
	// L⁻¹ by forward substitution, stored transposed (row c of t is
	// column c of L⁻¹) so that every inner loop reads memory in order.
	t := make([]float64, d*d)
	eachIndex(d, threads, d*d*d/6, func(c int) {
		tc := t[c*d : (c+1)*d]
		tc[c] = 1 / h[c*d+c]
		for r := c + 1; r < d; r++ {
			lr := h[r*d : (r+1)*d]
			var s float64
			for k := c; k < r; k++ {
				s += lr[k] * tc[k]
			}
			tc[r] = -s / lr[r]
		}
	})
	// H⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) is the dot product of rows i and j of t
	// from column max(i, j) on.
	inv := make([]float64, d*d)
	eachIndex(d, threads, d*d*d/6, func(i int) {
		ti := t[i*d : (i+1)*d]
		for j := 0; j <= i; j++ {
			tj := t[j*d : (j+1)*d]
			var s float64
			for k := i; k < d; k++ {
				s += ti[k] * tj[k]
			}
			inv[i*d+j] = s
		}
	})
	for i := 0; i < d; i++ {
		for j := 0; j < i; j++ {
			inv[j*d+i] = inv[i*d+j]
		}
	}
	if !cholLower(inv, d, threads) {
		return nil
	}
	u := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			u[j*d+i] = inv[i*d+j]
		}
	}
	return u
}

// parallelWork is the number of multiply-adds below which a loop runs on
// one goroutine: starting others costs more. A variable so that tests
// can run small matrices in parallel.
var parallelWork = 1 << 18

// eachIndex calls fn(i) for every i in [0, n), on up to threads
// goroutines when the loop's work (multiply-adds) is worth it; each call
// computes its own entries, so results do not depend on threads.
func eachIndex(n, threads, work int, fn func(i int)) {
	if threads <= 1 || n < 2 || work < parallelWork {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(threads, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// cholLower factors the symmetric d×d matrix a in place into its lower
// Cholesky factor (the upper triangle is left as it was); false when a
// pivot is not positive. Column j's entries below the diagonal are
// independent sums, spread over threads.
func cholLower(a []float64, d, threads int) bool {
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= a[j*d+k] * a[j*d+k]
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return false
		}
		l := math.Sqrt(s)
		a[j*d+j] = l
		aj := a[j*d : j*d+j]
		eachIndex(d-j-1, threads, (d-j-1)*j, func(r int) {
			i := j + 1 + r
			ai := a[i*d : i*d+j]
			v := a[i*d+j]
			for k, x := range ai {
				v -= x * aj[k]
			}
			a[i*d+j] = v / l
		})
	}
	return true
}
