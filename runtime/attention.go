// Attention-family kernels: Attention (scaled dot-product attention with
// grouped key/value heads, boolean or additive masks, causal masking, a
// key/value cache, softcap and the optional QK output), RotaryEmbedding
// and LRN; RMSNormalization lives with the other normalizations. Float16
// and bfloat16 inputs are computed in float32, float64 ones in float64.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerAttention(r *Registry) {
	r.Register("", "Attention", buildAttention)
	r.Register("", "RotaryEmbedding", buildRotary)
	r.Register("", "LRN", buildLRN)
	registerLinearAttention(r)
}

// floatT are the types float kernels of this family compute in.
type floatT interface{ float32 | float64 }

// floatsAs reads a real tensor as []T. Data already of type []T is
// returned as is (callers only read it); other types are converted.
func floatsAs[T floatT](t *Tensor) ([]T, error) {
	if d, ok := t.Data.([]T); ok {
		return d, nil
	}
	var zero T
	if _, ok := any(zero).(float32); ok {
		if d := floatsOf32(t); d != nil {
			return any(d).([]T), nil
		}
	}
	v, err := floatsOf64(t)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out, nil
}

// storeAs writes values into a float tensor of any real type, rounding
// once to the tensor's type.
func storeAs[T floatT](t *Tensor, v []T) {
	if d, ok := t.Data.([]T); ok {
		copy(d, v)
		return
	}
	if f, ok := any(v).([]float32); ok {
		switch t.DType {
		case graph.Float32, graph.Float16, graph.BFloat16:
			storeFloats32(t, f)
			return
		}
	}
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	storeFloats64(t, w)
}

// computeFloat reports whether a kernel of this family computes dt in
// float64 (float64 data) rather than float32 (the narrower float types).
func computeFloat(dt graph.DType) (wide bool, err error) {
	switch dt {
	case graph.Float64:
		return true, nil
	case graph.Float32, graph.Float16, graph.BFloat16:
		return false, nil
	}
	return false, fmt.Errorf("type %v is not supported (float types only)", dt)
}

// wantOutput reports whether the node uses its i-th output.
func wantOutput(ctx *Context, i int) bool {
	if i == 0 {
		return true
	}
	return ctx != nil && ctx.Node != nil && i < len(ctx.Node.Outputs) && ctx.Node.Outputs[i] != nil
}

// gemmT sets c (m×n, row stride ldc) to alpha·a·op(b), with a m×k (row
// stride lda) and b k×n, or n×k when transB (row stride ldb). Float32 runs
// on kernels.Sgemm on one thread; float64 on a plain loop.
func gemmT[T floatT](m, n, k int, a []T, lda int, b []T, ldb int, transB bool, c []T, ldc int, alpha T) {
	if af, ok := any(a).([]float32); ok {
		kernels.Sgemm(m, n, k, af, lda, false, any(b).([]float32), ldb, transB,
			any(c).([]float32), ldc, float32(alpha), 0)
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			var s T
			if transB {
				bj := b[j*ldb : j*ldb+k]
				for p, av := range a[i*lda : i*lda+k] {
					s += av * bj[p]
				}
			} else {
				for p, av := range a[i*lda : i*lda+k] {
					s += av * b[p*ldb+j]
				}
			}
			row[j] = alpha * s
		}
	}
}

// attentionKernel is Attention with its attributes read.
type attentionKernel struct {
	causal          bool
	qHeads, kvHeads int // 0 when absent (4-D inputs)
	scale           float64
	hasScale        bool
	softcap         float64
	mode            int
}

func buildAttention(n *graph.Node, opset int64) (Kernel, error) {
	k := &attentionKernel{
		causal:  n.AttrInt("is_causal", 0) != 0,
		qHeads:  int(n.AttrInt("q_num_heads", 0)),
		kvHeads: int(n.AttrInt("kv_num_heads", 0)),
		softcap: float64(n.AttrFloat("softcap", 0)),
		mode:    int(n.AttrInt("qk_matmul_output_mode", 0)),
	}
	if a := n.Attr("scale"); a != nil {
		k.scale, k.hasScale = float64(a.Float), true
	}
	if k.qHeads < 0 || k.kvHeads < 0 {
		return nil, fmt.Errorf("q_num_heads and kv_num_heads must be positive")
	}
	if k.mode < 0 || k.mode > 3 {
		return nil, fmt.Errorf("qk_matmul_output_mode must be 0..3, got %d", k.mode)
	}
	if k.softcap < 0 || math.IsNaN(k.softcap) {
		return nil, fmt.Errorf("softcap must be >= 0, got %g", k.softcap)
	}
	return k, nil
}

func (k *attentionKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 3); err != nil {
		return nil, err
	}
	for i, name := range []string{"Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen"} {
		if t := dmInput(in, i); t != nil {
			if err := checkTensorData(t, name); err != nil {
				return nil, err
			}
		}
	}
	wide, err := computeFloat(in[0].DType)
	if err != nil {
		return nil, fmt.Errorf("Q: %v", err)
	}
	if wide {
		return runAttention[float64](k, ctx, in)
	}
	return runAttention[float32](k, ctx, in)
}

// attnDims are the sizes of one Attention run.
type attnDims struct {
	b, hq, hkv, sq, skv, past, total, d, dv int
	rank                                    int
}

// shapes checks Q, K, V and the cache against each other.
func (k *attentionKernel) shapes(in []*Tensor) (*attnDims, error) {
	q, kk, v := in[0], in[1], in[2]
	r := len(q.Shape)
	if r != 3 && r != 4 || len(kk.Shape) != r || len(v.Shape) != r {
		return nil, fmt.Errorf("Q, K and V must all be 3-D or all 4-D, got shapes %v, %v, %v", q.Shape, kk.Shape, v.Shape)
	}
	for _, t := range []*Tensor{kk, v} {
		if _, err := computeFloat(t.DType); err != nil {
			return nil, err
		}
	}
	dm := &attnDims{rank: r, b: q.Shape[0]}
	if kk.Shape[0] != dm.b || v.Shape[0] != dm.b {
		return nil, fmt.Errorf("batch sizes of Q, K and V differ: %v, %v, %v", q.Shape, kk.Shape, v.Shape)
	}
	if r == 3 {
		if k.qHeads <= 0 || k.kvHeads <= 0 {
			return nil, fmt.Errorf("3-D inputs need the q_num_heads and kv_num_heads attributes")
		}
		dm.hq, dm.hkv = k.qHeads, k.kvHeads
		dm.sq, dm.skv = q.Shape[1], kk.Shape[1]
		if q.Shape[2]%dm.hq != 0 || kk.Shape[2]%dm.hkv != 0 || v.Shape[2]%dm.hkv != 0 {
			return nil, fmt.Errorf("hidden sizes %d, %d, %d are not multiples of the head counts %d and %d",
				q.Shape[2], kk.Shape[2], v.Shape[2], dm.hq, dm.hkv)
		}
		dm.d = q.Shape[2] / dm.hq
		if kk.Shape[2]/dm.hkv != dm.d {
			return nil, fmt.Errorf("head sizes of Q (%d) and K (%d) differ", dm.d, kk.Shape[2]/dm.hkv)
		}
		dm.dv = v.Shape[2] / dm.hkv
		if v.Shape[1] != dm.skv {
			return nil, fmt.Errorf("sequence lengths of K (%d) and V (%d) differ", dm.skv, v.Shape[1])
		}
	} else {
		dm.hq, dm.sq, dm.d = q.Shape[1], q.Shape[2], q.Shape[3]
		dm.hkv, dm.skv = kk.Shape[1], kk.Shape[2]
		if kk.Shape[3] != dm.d {
			return nil, fmt.Errorf("head sizes of Q (%d) and K (%d) differ", dm.d, kk.Shape[3])
		}
		if v.Shape[1] != dm.hkv || v.Shape[2] != dm.skv {
			return nil, fmt.Errorf("K of shape %v and V of shape %v do not match", kk.Shape, v.Shape)
		}
		dm.dv = v.Shape[3]
	}
	if dm.hkv == 0 || dm.hq%dm.hkv != 0 {
		return nil, fmt.Errorf("q_num_heads %d is not a multiple of kv_num_heads %d", dm.hq, dm.hkv)
	}
	pk, pv := dmInput(in, 4), dmInput(in, 5)
	if (pk == nil) != (pv == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	if pk != nil {
		if len(pk.Shape) != 4 || len(pv.Shape) != 4 {
			return nil, fmt.Errorf("past_key and past_value must be 4-D, got %v and %v", pk.Shape, pv.Shape)
		}
		dm.past = pk.Shape[2]
		if pk.Shape[0] != dm.b || pk.Shape[1] != dm.hkv || pk.Shape[3] != dm.d ||
			pv.Shape[0] != dm.b || pv.Shape[1] != dm.hkv || pv.Shape[2] != dm.past || pv.Shape[3] != dm.dv {
			return nil, fmt.Errorf("past_key %v and past_value %v do not match K and V", pk.Shape, pv.Shape)
		}
	}
	dm.total = dm.past + dm.skv
	for _, dims := range [][]int{{dm.b, dm.hq, dm.sq, dm.total}, {dm.b, dm.hkv, dm.total, dm.d}, {dm.b, dm.hkv, dm.total, dm.dv}, {dm.b, dm.hq, dm.sq, dm.dv}} {
		if _, err := shapeElements(dims); err != nil {
			return nil, err
		}
	}
	return dm, nil
}

// headsLayout copies a [B,S,H·D] (3-D) or [B,H,S,D] (4-D) tensor's values
// into a [B,H,S,D] buffer whose sequence axis has room for total rows,
// starting at row first.
func headsLayout[T floatT](dst, src []T, rank, b, h, s, d, total, first int) {
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			for si := 0; si < s; si++ {
				var off int
				if rank == 3 {
					off = (bi*s+si)*h*d + hh*d
				} else {
					off = ((bi*h+hh)*s + si) * d
				}
				copy(dst[((bi*h+hh)*total+first+si)*d:][:d], src[off:off+d])
			}
		}
	}
}

// attnMask is attn_mask broadcast to [B, Hq, Sq, T'] with T' <= T.
type attnMask[T floatT] struct {
	vals           []T // additive values (bool: 0 or -inf)
	sb, sh, sq, tm int
}

func readAttnMask[T floatT](m *Tensor, dm *attnDims) (*attnMask[T], error) {
	r := len(m.Shape)
	if r == 0 || r > 4 {
		return nil, fmt.Errorf("attn_mask must have rank 1 to 4, got shape %v", m.Shape)
	}
	shape := make([]int, 4)
	for i := range shape {
		shape[i] = 1
	}
	copy(shape[4-r:], m.Shape)
	want := []int{dm.b, dm.hq, dm.sq}
	for i, w := range want {
		if shape[i] != 1 && shape[i] != w {
			return nil, fmt.Errorf("attn_mask of shape %v does not broadcast to %v", m.Shape, []int{dm.b, dm.hq, dm.sq, dm.total})
		}
	}
	if shape[3] > dm.total {
		return nil, fmt.Errorf("attn_mask of shape %v is longer than the %d keys", m.Shape, dm.total)
	}
	am := &attnMask[T]{tm: shape[3]}
	st := Strides(shape)
	stride := func(i int) int {
		if shape[i] == 1 {
			return 0
		}
		return st[i]
	}
	am.sb, am.sh, am.sq = stride(0), stride(1), stride(2)
	if bs, ok := m.Data.([]bool); ok {
		am.vals = make([]T, len(bs))
		ninf := T(math.Inf(-1))
		for i, v := range bs {
			if !v {
				am.vals[i] = ninf
			}
		}
		return am, nil
	}
	if !isNumeric(m.DType) {
		return nil, fmt.Errorf("attn_mask of type %v is not supported", m.DType)
	}
	v, err := floatsAs[T](m)
	if err != nil {
		return nil, err
	}
	am.vals = v
	return am, nil
}

// row returns the mask values of query row i of batch b and head h.
func (am *attnMask[T]) row(b, h, i int) []T {
	off := b*am.sb + h*am.sh + i*am.sq
	return am.vals[off : off+am.tm]
}

func runAttention[T floatT](k *attentionKernel, ctx *Context, in []*Tensor) ([]*Tensor, error) {
	dm, err := k.shapes(in)
	if err != nil {
		return nil, err
	}
	q, err := floatsAs[T](in[0])
	if err != nil {
		return nil, err
	}
	kv, err := floatsAs[T](in[1])
	if err != nil {
		return nil, err
	}
	vv, err := floatsAs[T](in[2])
	if err != nil {
		return nil, err
	}
	// Q as [B,Hq,Sq,D]; K and V as the present cache [B,Hkv,T,D].
	q4 := q
	if dm.rank == 3 {
		q4 = make([]T, len(q))
		headsLayout(q4, q, 3, dm.b, dm.hq, dm.sq, dm.d, dm.sq, 0)
	}
	k4 := make([]T, dm.b*dm.hkv*dm.total*dm.d)
	v4 := make([]T, dm.b*dm.hkv*dm.total*dm.dv)
	if pk := dmInput(in, 4); pk != nil {
		pkv, err := floatsAs[T](pk)
		if err != nil {
			return nil, err
		}
		pvv, err := floatsAs[T](in[5])
		if err != nil {
			return nil, err
		}
		headsLayout(k4, pkv, 4, dm.b, dm.hkv, dm.past, dm.d, dm.total, 0)
		headsLayout(v4, pvv, 4, dm.b, dm.hkv, dm.past, dm.dv, dm.total, 0)
	}
	headsLayout(k4, kv, dm.rank, dm.b, dm.hkv, dm.skv, dm.d, dm.total, dm.past)
	headsLayout(v4, vv, dm.rank, dm.b, dm.hkv, dm.skv, dm.dv, dm.total, dm.past)

	var mask *attnMask[T]
	if m := dmInput(in, 3); m != nil {
		if mask, err = readAttnMask[T](m, dm); err != nil {
			return nil, err
		}
	}
	var nonpad []int64
	if t := dmInput(in, 6); t != nil {
		if nonpad, err = dmInts(t, "nonpad_kv_seqlen"); err != nil {
			return nil, err
		}
		if len(nonpad) != dm.b {
			return nil, fmt.Errorf("nonpad_kv_seqlen has %d values for a batch of %d", len(nonpad), dm.b)
		}
	}
	scale := 1 / math.Sqrt(float64(dm.d))
	if k.hasScale {
		scale = k.scale
	}

	qt := in[0].DType
	var y *Tensor
	if dm.rank == 3 {
		y = ctx.Alloc(qt, dm.b, dm.sq, dm.hq*dm.dv)
	} else {
		y = ctx.Alloc(qt, dm.b, dm.hq, dm.sq, dm.dv)
	}
	yv := make([]T, dm.b*dm.hq*dm.sq*dm.dv)
	var qk []T
	if wantOutput(ctx, 3) {
		qk = make([]T, dm.b*dm.hq*dm.sq*dm.total)
	}
	group := dm.hq / dm.hkv
	ninf := T(math.Inf(-1))
	tt := dm.total
	ctx.Parallel(dm.b*dm.hq, func(lo, hi int) {
		scores := make([]T, dm.sq*tt)
		yh := make([]T, dm.sq*dm.dv)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/dm.hq, bh%dm.hq
			kh := b*dm.hkv + h/group
			qs := q4[bh*dm.sq*dm.d:][:dm.sq*dm.d]
			ks := k4[kh*tt*dm.d:][:tt*dm.d]
			vs := v4[kh*tt*dm.dv:][:tt*dm.dv]
			gemmT(dm.sq, tt, dm.d, qs, dm.d, ks, dm.d, true, scores, tt, T(scale))
			var qkh []T
			if qk != nil {
				qkh = qk[bh*dm.sq*tt:][:dm.sq*tt]
			}
			if qkh != nil && k.mode == 0 {
				copy(qkh, scores)
			}
			if k.softcap > 0 {
				c := k.softcap
				for i, s := range scores {
					scores[i] = T(c * math.Tanh(float64(s)/c))
				}
			}
			if qkh != nil && k.mode == 1 {
				copy(qkh, scores)
			}
			for i := 0; i < dm.sq; i++ {
				row := scores[i*tt : (i+1)*tt]
				if mask != nil {
					mr := mask.row(b, h, i)
					for j := range row {
						if j < len(mr) {
							row[j] += mr[j]
						} else {
							row[j] = ninf
						}
					}
				}
				if k.causal {
					// Bottom-right aligned: query i sees keys up to i+offset.
					off := dm.past
					if dm.past == 0 && nonpad != nil {
						off = int(nonpad[b]) - dm.sq
					}
					for j := max(0, i+off+1); j < tt; j++ {
						row[j] = ninf
					}
				}
				if nonpad != nil {
					for j := max(0, int(min(nonpad[b], int64(tt)))); j < tt; j++ {
						row[j] = ninf
					}
				}
			}
			if qkh != nil && k.mode == 2 {
				copy(qkh, scores)
			}
			for i := 0; i < dm.sq; i++ {
				softmaxT(scores[i*tt : (i+1)*tt])
			}
			if qkh != nil && k.mode == 3 {
				copy(qkh, scores)
			}
			gemmT(dm.sq, dm.dv, tt, scores, tt, vs, dm.dv, false, yh, dm.dv, 1)
			for i := 0; i < dm.sq; i++ {
				var off int
				if dm.rank == 3 {
					off = (b*dm.sq+i)*dm.hq*dm.dv + h*dm.dv
				} else {
					off = (bh*dm.sq + i) * dm.dv
				}
				copy(yv[off:off+dm.dv], yh[i*dm.dv:(i+1)*dm.dv])
			}
		}
	})
	storeAs(y, yv)
	outs := []*Tensor{y, nil, nil, nil}
	if wantOutput(ctx, 1) {
		outs[1] = ctx.Alloc(in[1].DType, dm.b, dm.hkv, tt, dm.d)
		storeAs(outs[1], k4)
	}
	if wantOutput(ctx, 2) {
		outs[2] = ctx.Alloc(in[2].DType, dm.b, dm.hkv, tt, dm.dv)
		storeAs(outs[2], v4)
	}
	if qk != nil {
		outs[3] = ctx.Alloc(qt, dm.b, dm.hq, dm.sq, tt)
		storeAs(outs[3], qk)
	}
	n := 1
	if ctx != nil && ctx.Node != nil {
		n = max(1, min(len(ctx.Node.Outputs), 4))
	}
	return outs[:n], nil
}

// softmaxT replaces a row by its softmax; the sum is kept in float64. A
// row whose every value is -inf becomes NaN, as exp(x - max) does.
func softmaxT[T floatT](row []T) {
	if len(row) == 0 {
		return
	}
	m := row[0]
	for _, v := range row[1:] {
		if v > m || v != v {
			m = v
		}
	}
	var sum float64
	for i, v := range row {
		e := math.Exp(float64(v - m))
		row[i] = T(e)
		sum += e
	}
	inv := 1 / sum
	for i, e := range row {
		row[i] = T(float64(e) * inv)
	}
}

// rotaryKernel is RotaryEmbedding with its attributes read.
type rotaryKernel struct {
	interleaved bool
	numHeads    int
	rotDim      int
}

func buildRotary(n *graph.Node, opset int64) (Kernel, error) {
	k := &rotaryKernel{
		interleaved: n.AttrInt("interleaved", 0) != 0,
		numHeads:    int(n.AttrInt("num_heads", 0)),
		rotDim:      int(n.AttrInt("rotary_embedding_dim", 0)),
	}
	if k.numHeads < 0 || k.rotDim < 0 {
		return nil, fmt.Errorf("num_heads and rotary_embedding_dim must not be negative")
	}
	return k, nil
}

func (k *rotaryKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 3); err != nil {
		return nil, err
	}
	for i, name := range []string{"X", "cos_cache", "sin_cache", "position_ids"} {
		if t := dmInput(in, i); t != nil {
			if err := checkTensorData(t, name); err != nil {
				return nil, err
			}
		}
	}
	wide, err := computeFloat(in[0].DType)
	if err != nil {
		return nil, err
	}
	if wide {
		return runRotary[float64](k, ctx, in)
	}
	return runRotary[float32](k, ctx, in)
}

func runRotary[T floatT](k *rotaryKernel, ctx *Context, in []*Tensor) ([]*Tensor, error) {
	x, cosT, sinT, pos := in[0], in[1], in[2], dmInput(in, 3)
	var b, s, h, d int
	switch len(x.Shape) {
	case 4:
		b, h, s, d = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	case 3:
		if k.numHeads <= 0 {
			return nil, fmt.Errorf("3-D input needs the num_heads attribute")
		}
		b, s, h = x.Shape[0], x.Shape[1], k.numHeads
		if x.Shape[2]%h != 0 {
			return nil, fmt.Errorf("hidden size %d is not a multiple of num_heads %d", x.Shape[2], h)
		}
		d = x.Shape[2] / h
	default:
		return nil, fmt.Errorf("input must be 3-D or 4-D, got shape %v", x.Shape)
	}
	rd := d
	if k.rotDim > 0 {
		rd = k.rotDim
	}
	if rd > d || rd%2 != 0 {
		return nil, fmt.Errorf("rotary dimension %d must be even and at most the head size %d", rd, d)
	}
	half := rd / 2
	if !equalShape(cosT.Shape, sinT.Shape) {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v differ in shape", cosT.Shape, sinT.Shape)
	}
	// rowOf gives the cache row (of half values) of batch bi, position si.
	var rowOf func(bi, si int) int
	if pos != nil {
		posIDs, err := dmInts(pos, "position_ids")
		if err != nil {
			return nil, err
		}
		if len(pos.Shape) != 2 || pos.Shape[0] != b || pos.Shape[1] != s {
			return nil, fmt.Errorf("position_ids of shape %v do not match [%d,%d]", pos.Shape, b, s)
		}
		if len(cosT.Shape) != 2 || cosT.Shape[1] != half {
			return nil, fmt.Errorf("caches of shape %v do not match [positions,%d]", cosT.Shape, half)
		}
		for _, p := range posIDs {
			if p < 0 || p >= int64(cosT.Shape[0]) {
				return nil, fmt.Errorf("position id %d is outside the %d cache rows", p, cosT.Shape[0])
			}
		}
		rowOf = func(bi, si int) int { return int(posIDs[bi*s+si]) }
	} else {
		if len(cosT.Shape) != 3 || cosT.Shape[0] != b || cosT.Shape[1] != s || cosT.Shape[2] != half {
			return nil, fmt.Errorf("caches of shape %v do not match [%d,%d,%d]", cosT.Shape, b, s, half)
		}
		rowOf = func(bi, si int) int { return bi*s + si }
	}
	xs, err := floatsAs[T](x)
	if err != nil {
		return nil, err
	}
	cs, err := floatsAs[T](cosT)
	if err != nil {
		return nil, err
	}
	sn, err := floatsAs[T](sinT)
	if err != nil {
		return nil, err
	}
	res := make([]T, len(xs))
	ctx.Parallel(b*s, func(lo, hi int) {
		for bs := lo; bs < hi; bs++ {
			bi, si := bs/s, bs%s
			r := rowOf(bi, si)
			c, sv := cs[r*half:(r+1)*half], sn[r*half:(r+1)*half]
			for hh := 0; hh < h; hh++ {
				var off int
				if len(x.Shape) == 3 {
					off = (bi*s+si)*h*d + hh*d
				} else {
					off = ((bi*h+hh)*s + si) * d
				}
				src, dst := xs[off:off+d], res[off:off+d]
				for i := 0; i < half; i++ {
					i1, i2 := i, i+half
					if k.interleaved {
						i1, i2 = 2*i, 2*i+1
					}
					x1, x2 := src[i1], src[i2]
					dst[i1] = c[i]*x1 - sv[i]*x2
					dst[i2] = sv[i]*x1 + c[i]*x2
				}
				copy(dst[rd:], src[rd:])
			}
		}
	})
	out := ctx.Alloc(x.DType, x.Shape...)
	storeAs(out, res)
	return []*Tensor{out}, nil
}

// buildLRN: Y = X / (bias + alpha/size · Σ X²)^beta, the sum over the
// channels around each one (floor((size-1)/2) before, ceil after).
func buildLRN(n *graph.Node, opset int64) (Kernel, error) {
	size := n.AttrInt("size", 0)
	if size <= 0 {
		return nil, fmt.Errorf("size must be a positive integer, got %d", size)
	}
	alpha := float64(n.AttrFloat("alpha", 1e-4))
	beta := float64(n.AttrFloat("beta", 0.75))
	bias := float64(n.AttrFloat("bias", 1))
	before := int((size - 1) / 2)
	after := int(size) - 1 - before
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if err := checkTensorData(x, "X"); err != nil {
			return nil, err
		}
		if _, err := computeFloat(x.DType); err != nil {
			return nil, err
		}
		if len(x.Shape) < 2 {
			return nil, fmt.Errorf("X must have rank >= 2, got shape %v", x.Shape)
		}
		xs, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		nb, c, inner := x.Shape[0], x.Shape[1], prodInts(x.Shape[2:])
		res := make([]float64, len(xs))
		ctx.Parallel(nb*c, func(lo, hi int) {
			for nc := lo; nc < hi; nc++ {
				ni, ci := nc/c, nc%c
				base := ni * c * inner
				for p := 0; p < inner; p++ {
					var sum float64
					for i := max(0, ci-before); i <= min(c-1, ci+after); i++ {
						v := xs[base+i*inner+p]
						sum += v * v
					}
					res[base+ci*inner+p] = xs[base+ci*inner+p] / math.Pow(bias+alpha/float64(size)*sum, beta)
				}
			}
		})
		out := ctx.Alloc(x.DType, x.Shape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}
