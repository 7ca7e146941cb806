// Recurrent attention kernels of the default domain: LinearAttention
// (linear, gated, delta and gated-delta state updates with grouped query
// heads) and CausalConvWithState (the depthwise causal convolution that
// feeds it, with a carried state). Both run the recurrence token by token
// with the state in float64.

package runtime

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
)

func registerLinearAttention(r *Registry) {
	r.Register("", "LinearAttention", buildLinearAttention)
	r.Register("", "CausalConvWithState", buildCausalConv)
}

type linearAttentionKernel struct {
	qHeads, kvHeads int
	scale           float64
	gated, delta    bool
}

func buildLinearAttention(n *graph.Node, opset int64) (Kernel, error) {
	k := &linearAttentionKernel{
		qHeads:  int(n.AttrInt("q_num_heads", 0)),
		kvHeads: int(n.AttrInt("kv_num_heads", 0)),
		scale:   float64(n.AttrFloat("scale", 0)),
	}
	if k.qHeads <= 0 || k.kvHeads <= 0 || k.qHeads%k.kvHeads != 0 {
		return nil, fmt.Errorf("q_num_heads (%d) must be a positive multiple of kv_num_heads (%d)", k.qHeads, k.kvHeads)
	}
	switch rule := n.AttrString("update_rule", "gated_delta"); rule {
	case "linear":
	case "gated":
		k.gated = true
	case "delta":
		k.delta = true
	case "gated_delta":
		k.gated, k.delta = true, true
	default:
		return nil, fmt.Errorf("unknown update_rule %q", rule)
	}
	return k, nil
}

func (k *linearAttentionKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 3); err != nil {
		return nil, err
	}
	if len(in) > 6 {
		return nil, fmt.Errorf("takes at most 6 inputs, got %d", len(in))
	}
	for i, name := range []string{"query", "key", "value", "past_state", "decay", "beta"} {
		if t := dmInput(in, i); t != nil {
			if err := checkTensorData(t, name); err != nil {
				return nil, err
			}
			if !t.DType.IsFloat() {
				return nil, fmt.Errorf("%s must be a float tensor, got %v", name, t.DType)
			}
		}
	}
	q, kt, v := in[0], in[1], in[2]
	past, decay, beta := dmInput(in, 3), dmInput(in, 4), dmInput(in, 5)
	if k.gated != (decay != nil) {
		return nil, fmt.Errorf("decay must be given exactly for the gated update rules")
	}
	if k.delta != (beta != nil) {
		return nil, fmt.Errorf("beta must be given exactly for the delta update rules")
	}
	if len(q.Shape) != 3 || len(kt.Shape) != 3 || len(v.Shape) != 3 {
		return nil, fmt.Errorf("query, key and value must be 3-D, got %v, %v, %v", q.Shape, kt.Shape, v.Shape)
	}
	b, t := q.Shape[0], q.Shape[1]
	hq, hkv := k.qHeads, k.kvHeads
	if q.Shape[2]%hq != 0 || v.Shape[2]%hkv != 0 {
		return nil, fmt.Errorf("hidden sizes %d and %d are not multiples of the head counts", q.Shape[2], v.Shape[2])
	}
	dk, dv := q.Shape[2]/hq, v.Shape[2]/hkv
	if !equalShape(kt.Shape, []int{b, t, hkv * dk}) || v.Shape[0] != b || v.Shape[1] != t {
		return nil, fmt.Errorf("key of shape %v and value of shape %v do not match query %v", kt.Shape, v.Shape, q.Shape)
	}
	stateShape := []int{b, hkv, dk, dv}
	if past != nil && !equalShape(past.Shape, stateShape) {
		return nil, fmt.Errorf("past_state of shape %v, want %v", past.Shape, stateShape)
	}
	perKeyDecay := false
	if decay != nil {
		switch {
		case equalShape(decay.Shape, []int{b, t, hkv}):
		case equalShape(decay.Shape, []int{b, t, hkv * dk}):
			perKeyDecay = true
		default:
			return nil, fmt.Errorf("decay of shape %v, want [%d,%d,%d] or [%d,%d,%d]", decay.Shape, b, t, hkv, b, t, hkv*dk)
		}
	}
	betaHeads := 0
	if beta != nil {
		if len(beta.Shape) != 3 || beta.Shape[0] != b || beta.Shape[1] != t || beta.Shape[2] != hkv && beta.Shape[2] != 1 {
			return nil, fmt.Errorf("beta of shape %v, want [%d,%d,%d] or [%d,%d,1]", beta.Shape, b, t, hkv, b, t)
		}
		betaHeads = beta.Shape[2]
	}
	if _, err := shapeElements(stateShape); err != nil {
		return nil, err
	}
	var vals [6][]float64
	for i := range vals {
		if x := dmInput(in, i); x != nil {
			f, err := floatsOf64(x)
			if err != nil {
				return nil, err
			}
			vals[i] = f
		}
	}
	qs, ks, vs, ds, bs := vals[0], vals[1], vals[2], vals[4], vals[5]
	state := make([]float64, b*hkv*dk*dv)
	if past != nil {
		copy(state, vals[3])
	}
	scale := k.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	group := hq / hkv
	res := make([]float64, b*t*hq*dv)
	// Batches and key/value heads are independent recurrences.
	ctx.Parallel(b*hkv, func(lo, hi int) {
		vt := make([]float64, dv)
		for bh := lo; bh < hi; bh++ {
			bi, h := bh/hkv, bh%hkv
			s := state[bh*dk*dv : (bh+1)*dk*dv]
			for ti := 0; ti < t; ti++ {
				tok := bi*t + ti
				kv := ks[tok*hkv*dk+h*dk:][:dk]
				copy(vt, vs[tok*hkv*dv+h*dv:][:dv])
				if ds != nil {
					for i := 0; i < dk; i++ {
						g := ds[tok*hkv+h]
						if perKeyDecay {
							g = ds[tok*hkv*dk+h*dk+i]
						}
						e := math.Exp(g)
						row := s[i*dv : (i+1)*dv]
						for j := range row {
							row[j] *= e
						}
					}
				}
				if bs != nil {
					bt := bs[tok*betaHeads+min(h, betaHeads-1)]
					for j := 0; j < dv; j++ {
						var r float64
						for i := 0; i < dk; i++ {
							r += s[i*dv+j] * kv[i]
						}
						vt[j] = bt * (vt[j] - r)
					}
				}
				for i := 0; i < dk; i++ {
					row := s[i*dv : (i+1)*dv]
					for j := range row {
						row[j] += kv[i] * vt[j]
					}
				}
				for g := 0; g < group; g++ {
					qh := h*group + g
					qv := qs[tok*hq*dk+qh*dk:][:dk]
					out := res[tok*hq*dv+qh*dv:][:dv]
					for j := range out {
						var o float64
						for i := 0; i < dk; i++ {
							o += qv[i] * s[i*dv+j]
						}
						out[j] = scale * o
					}
				}
			}
		}
	})
	y := ctx.Alloc(q.DType, b, t, hq*dv)
	storeFloats64(y, res)
	outs := []*Tensor{y}
	if wantOutput(ctx, 1) {
		// The state keeps past_state's type, or the query's without one.
		st := q.DType
		if past != nil {
			st = past.DType
		}
		ps := ctx.Alloc(st, stateShape...)
		storeFloats64(ps, state)
		outs = append(outs, ps)
	}
	return outs, nil
}

// buildCausalConv: output[t] = Σ_j w[j]·x[t+j] over the input with the
// carried state (or zeros) prepended, plus bias, optionally through
// SiLU; present_state is the last k-1 values of that padded sequence.
func buildCausalConv(n *graph.Node, opset int64) (Kernel, error) {
	silu := false
	switch a := n.AttrString("activation", "none"); a {
	case "none":
	case "silu", "swish":
		silu = true
	default:
		return nil, fmt.Errorf("activation must be none, silu or swish, got %q", a)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		for i, name := range []string{"input", "weight", "bias", "past_state"} {
			if t := dmInput(in, i); t != nil {
				if err := checkTensorData(t, name); err != nil {
					return nil, err
				}
				if !t.DType.IsFloat() {
					return nil, fmt.Errorf("%s must be a float tensor, got %v", name, t.DType)
				}
			}
		}
		x, w, bias, past := in[0], in[1], dmInput(in, 2), dmInput(in, 3)
		if len(x.Shape) != 3 {
			return nil, fmt.Errorf("input must be 3-D, got shape %v", x.Shape)
		}
		b, c, l := x.Shape[0], x.Shape[1], x.Shape[2]
		if len(w.Shape) != 3 || w.Shape[0] != c || w.Shape[1] != 1 || w.Shape[2] < 1 {
			return nil, fmt.Errorf("weight of shape %v, want [%d,1,k]", w.Shape, c)
		}
		kk := w.Shape[2]
		if bias != nil && !equalShape(bias.Shape, []int{c}) {
			return nil, fmt.Errorf("bias of shape %v, want [%d]", bias.Shape, c)
		}
		if past != nil && !equalShape(past.Shape, []int{b, c, kk - 1}) {
			return nil, fmt.Errorf("past_state of shape %v, want [%d,%d,%d]", past.Shape, b, c, kk-1)
		}
		var vals [4][]float64
		for i := range vals {
			if t := dmInput(in, i); t != nil {
				f, err := floatsOf64(t)
				if err != nil {
					return nil, err
				}
				vals[i] = f
			}
		}
		xs, ws, bs, ps := vals[0], vals[1], vals[2], vals[3]
		res := make([]float64, b*c*l)
		state := make([]float64, b*c*(kk-1))
		ctx.Parallel(b*c, func(lo, hi int) {
			pad := make([]float64, kk-1+l)
			for bc := lo; bc < hi; bc++ {
				ch := bc % c
				if ps != nil {
					copy(pad, ps[bc*(kk-1):(bc+1)*(kk-1)])
				} else {
					clear(pad[:kk-1])
				}
				copy(pad[kk-1:], xs[bc*l:(bc+1)*l])
				wr := ws[ch*kk : (ch+1)*kk]
				for t := 0; t < l; t++ {
					var s float64
					for j, wv := range wr {
						s += wv * pad[t+j]
					}
					if bs != nil {
						s += bs[ch]
					}
					if silu {
						s /= 1 + math.Exp(-s)
					}
					res[bc*l+t] = s
				}
				copy(state[bc*(kk-1):(bc+1)*(kk-1)], pad[l:])
			}
		})
		out := ctx.Alloc(x.DType, b, c, l)
		storeFloats64(out, res)
		outs := []*Tensor{out}
		if wantOutput(ctx, 1) {
			st := ctx.Alloc(x.DType, b, c, kk-1)
			storeFloats64(st, state)
			outs = append(outs, st)
		}
		return outs, nil
	}), nil
}
