// Tests of the attention-family kernels: Attention against a plain
// float64 evaluation of its definition (grouped heads, masks, causal
// masking, the cache, softcap, 3-D inputs), RotaryEmbedding, LRN,
// LinearAttention and CausalConvWithState against step-by-step
// definitions, thread independence and bad inputs.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// attnCase is one Attention configuration.
type attnCase struct {
	b, hq, hkv, sq, skv, past, d, dv int
	causal, boolMask, floatMask      bool
	softcap, scale                   float64
}

// naiveAttention evaluates Attention on 4-D float64 data: q [B,Hq,Sq,D],
// k [B,Hkv,T,D], v [B,Hkv,T,Dv] (the cache already prepended), mask
// [Sq,T] additive (nil: none).
func naiveAttention(c attnCase, q, k, v, mask []float64) []float64 {
	total := c.past + c.skv
	scale := 1 / math.Sqrt(float64(c.d))
	if c.scale != 0 {
		scale = c.scale
	}
	y := make([]float64, c.b*c.hq*c.sq*c.dv)
	s := make([]float64, total)
	for b := 0; b < c.b; b++ {
		for h := 0; h < c.hq; h++ {
			kh := h / (c.hq / c.hkv)
			for i := 0; i < c.sq; i++ {
				for j := 0; j < total; j++ {
					var dot float64
					for x := 0; x < c.d; x++ {
						dot += q[((b*c.hq+h)*c.sq+i)*c.d+x] * k[((b*c.hkv+kh)*total+j)*c.d+x]
					}
					dot *= scale
					if c.softcap > 0 {
						dot = c.softcap * math.Tanh(dot/c.softcap)
					}
					if mask != nil {
						dot += mask[i*total+j]
					}
					if c.causal && j > i+c.past {
						dot = math.Inf(-1)
					}
					s[j] = dot
				}
				softmaxRow(s, s, total)
				for x := 0; x < c.dv; x++ {
					var acc float64
					for j := 0; j < total; j++ {
						acc += s[j] * v[((b*c.hkv+kh)*total+j)*c.dv+x]
					}
					y[((b*c.hq+h)*c.sq+i)*c.dv+x] = acc
				}
			}
		}
	}
	return y
}

func f64s(t *Tensor) []float64 {
	v, _ := floatsOf64(t)
	return v
}

// concatSeq joins a [B,H,P,D] cache and [B,H,S,D] values along the
// sequence axis.
func concatSeq(past, cur []float64, b, h, p, s, d int) []float64 {
	out := make([]float64, 0, b*h*(p+s)*d)
	for bh := 0; bh < b*h; bh++ {
		out = append(out, past[bh*p*d:(bh+1)*p*d]...)
		out = append(out, cur[bh*s*d:(bh+1)*s*d]...)
	}
	return out
}

// to3D turns [B,H,S,D] into [B,S,H·D].
func to3D(t *Tensor) *Tensor {
	b, h, s, d := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	out := New(graph.Float32, b, s, h*d)
	src, dst := t.F32(), out.F32()
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for si := 0; si < s; si++ {
				copy(dst[(bi*s+si)*h*d+hi*d:][:d], src[((bi*h+hi)*s+si)*d:][:d])
			}
		}
	}
	return out
}

func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if d > m || d != d {
			m = d
		}
	}
	return m
}

func TestAttentionMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []attnCase{
		{b: 2, hq: 3, hkv: 3, sq: 4, skv: 6, d: 8, dv: 8},
		{b: 1, hq: 6, hkv: 2, sq: 5, skv: 5, d: 4, dv: 7, causal: true},
		{b: 2, hq: 4, hkv: 1, sq: 3, skv: 4, past: 5, d: 8, dv: 8, floatMask: true, causal: true},
		{b: 1, hq: 2, hkv: 2, sq: 4, skv: 4, past: 2, d: 16, dv: 3, boolMask: true, softcap: 1.5},
		{b: 2, hq: 2, hkv: 1, sq: 1, skv: 1, past: 9, d: 8, dv: 8, scale: 0.3, floatMask: true},
		{b: 1, hq: 1, hkv: 1, sq: 70, skv: 70, d: 33, dv: 17, causal: true},
	}
	for ci, c := range cases {
		total := c.past + c.skv
		q := ewRand(r, 1, c.b, c.hq, c.sq, c.d)
		k := ewRand(r, 1, c.b, c.hkv, c.skv, c.d)
		v := ewRand(r, 1, c.b, c.hkv, c.skv, c.dv)
		in := []*Tensor{q, k, v, nil, nil, nil}
		var mask []float64
		if c.floatMask {
			m := ewRand(r, 1, c.sq, total)
			in[3], mask = m, f64s(m)
		}
		if c.boolMask {
			m := New(graph.Bool, c.sq, total)
			mask = make([]float64, c.sq*total)
			for i := range m.Data.([]bool) {
				// Keep the first key of each row so no row is fully masked.
				keep := i%total == 0 || r.IntN(3) > 0
				m.Data.([]bool)[i] = keep
				if !keep {
					mask[i] = math.Inf(-1)
				}
			}
			in[3] = m
		}
		kAll, vAll := f64s(k), f64s(v)
		if c.past > 0 {
			pk := ewRand(r, 1, c.b, c.hkv, c.past, c.d)
			pv := ewRand(r, 1, c.b, c.hkv, c.past, c.dv)
			in[4], in[5] = pk, pv
			kAll = concatSeq(f64s(pk), kAll, c.b, c.hkv, c.past, c.skv, c.d)
			vAll = concatSeq(f64s(pv), vAll, c.b, c.hkv, c.past, c.skv, c.dv)
		}
		var attrs []*graph.Attribute
		if c.causal {
			attrs = append(attrs, ewInt("is_causal", 1))
		}
		if c.softcap > 0 {
			attrs = append(attrs, ewFloat("softcap", float32(c.softcap)))
		}
		if c.scale != 0 {
			attrs = append(attrs, ewFloat("scale", float32(c.scale)))
		}
		want := naiveAttention(c, f64s(q), kAll, vAll, mask)
		n := ewNode("Attention", 3, attrs...)
		var outs1 []*Tensor
		for _, th := range []int{1, 4} {
			outs, err := ewRun(n, 23, th, in...)
			if err != nil {
				t.Fatalf("case %d: %v", ci, err)
			}
			if d := maxAbsDiff(f64s(outs[0]), want); d > 1e-5 {
				t.Errorf("case %d: Y differs from the definition by %g", ci, d)
			}
			if !equalShape(outs[1].Shape, []int{c.b, c.hkv, total, c.d}) || maxAbsDiff(f64s(outs[1]), kAll) != 0 {
				t.Errorf("case %d: present_key %v is not the concatenated cache", ci, outs[1].Shape)
			}
			if maxAbsDiff(f64s(outs[2]), vAll) != 0 {
				t.Errorf("case %d: present_value is not the concatenated cache", ci)
			}
			if outs1 == nil {
				outs1 = outs
			} else if i := ewSameBits(outs1[0], outs[0]); i >= 0 {
				t.Errorf("case %d: 1 and %d threads differ at byte %d", ci, th, i)
			}
		}
		// The same computation on 3-D inputs gives Y in [B,Sq,Hq·Dv].
		in3 := append([]*Tensor{to3D(q), to3D(k), to3D(v)}, in[3:]...)
		n3 := ewNode("Attention", 3, append(attrs, ewInt("q_num_heads", int64(c.hq)), ewInt("kv_num_heads", int64(c.hkv)))...)
		outs, err := ewRun(n3, 23, 2, in3...)
		if err != nil {
			t.Fatalf("case %d (3-D): %v", ci, err)
		}
		y4 := FromFloat32([]int{c.b, c.hq, c.sq, c.dv}, outs1[0].F32())
		if i := ewSameBits(outs[0], to3D(y4)); i >= 0 {
			t.Errorf("case %d: 3-D result differs from the 4-D one at byte %d", ci, i)
		}
	}
}

func TestAttentionQKOutputModes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	q, k, v := ewRand(r, 2, 1, 2, 3, 4), ewRand(r, 2, 1, 2, 5, 4), ewRand(r, 1, 1, 2, 5, 4)
	mask := ewRand(r, 1, 3, 5)
	raw := make([]float64, 2*3*5)
	for h := 0; h < 2; h++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 5; j++ {
				var s float64
				for x := 0; x < 4; x++ {
					s += float64(q.F32()[(h*3+i)*4+x]) * float64(k.F32()[(h*5+j)*4+x])
				}
				raw[(h*3+i)*5+j] = s / 2
			}
		}
	}
	for mode := 0; mode <= 3; mode++ {
		n := ewNode("Attention", 4, ewInt("qk_matmul_output_mode", int64(mode)), ewFloat("softcap", 2))
		outs, err := ewRun(n, 23, 1, q, k, v, mask)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(raw))
		for i, s := range raw {
			if mode >= 1 {
				s = 2 * math.Tanh(s/2)
			}
			if mode >= 2 {
				s += float64(mask.F32()[i%15])
			}
			want[i] = s
		}
		if mode == 3 {
			for row := 0; row < 6; row++ {
				softmaxRow(want[row*5:], want[row*5:], 5)
			}
		}
		if d := maxAbsDiff(f64s(outs[3]), want); d > 1e-5 {
			t.Errorf("mode %d: qk_matmul_output differs by %g", mode, d)
		}
	}
}

func TestAttentionPaddedKV(t *testing.T) {
	// nonpad_kv_seqlen hides the keys past each batch's length; a mask
	// shorter than the keys hides the rest.
	r := rand.New(rand.NewPCG(7, 8))
	q, k, v := ewRand(r, 1, 2, 1, 2, 4), ewRand(r, 1, 2, 1, 6, 4), ewRand(r, 1, 2, 1, 6, 4)
	lens := FromInt64([]int{2}, []int64{3, 6})
	outs, err := ewRun(ewNode("Attention", 1), 24, 1, q, k, v, nil, nil, nil, lens)
	if err != nil {
		t.Fatal(err)
	}
	for b, l := range []int{3, 6} {
		// Changing the hidden keys and values must not change Y.
		k2, v2 := k.Clone(), v.Clone()
		for j := l; j < 6; j++ {
			for x := 0; x < 4; x++ {
				k2.F32()[(b*6+j)*4+x] = 100
				v2.F32()[(b*6+j)*4+x] = 100
			}
		}
		o2, err := ewRun(ewNode("Attention", 1), 24, 1, q, k2, v2, nil, nil, nil, lens)
		if err != nil {
			t.Fatal(err)
		}
		if i := ewSameBits(outs[0], o2[0]); i >= 0 {
			t.Errorf("batch %d: padded keys changed Y (byte %d)", b, i)
		}
	}
	short := New(graph.Bool, 2, 4)
	for i := range short.Data.([]bool) {
		short.Data.([]bool)[i] = true
	}
	o3, err := ewRun(ewNode("Attention", 1), 23, 1, q, k, v, short)
	if err != nil {
		t.Fatal(err)
	}
	k4 := k.Clone()
	for b := 0; b < 2; b++ {
		for j := 4; j < 6; j++ {
			k4.F32()[(b*6+j)*4] = -50
		}
	}
	o4, err := ewRun(ewNode("Attention", 1), 23, 1, q, k4, v, short)
	if err != nil {
		t.Fatal(err)
	}
	if i := ewSameBits(o3[0], o4[0]); i >= 0 {
		t.Errorf("keys past a short mask changed Y (byte %d)", i)
	}
}

func TestAttentionBadInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	q, k, v := ewRand(r, 1, 1, 4, 3, 8), ewRand(r, 1, 1, 2, 5, 8), ewRand(r, 1, 1, 2, 5, 8)
	q3 := ewRand(r, 1, 1, 3, 32)
	for i, c := range []struct {
		n  *graph.Node
		in []*Tensor
	}{
		{ewNode("Attention", 1), []*Tensor{q, k}},
		{ewNode("Attention", 1), []*Tensor{q, ewRand(r, 1, 1, 3, 5, 8), v}},                     // 4 heads over 3
		{ewNode("Attention", 1), []*Tensor{q, ewRand(r, 1, 1, 2, 5, 7), v}},                     // head sizes
		{ewNode("Attention", 1), []*Tensor{q, k, ewRand(r, 1, 1, 2, 4, 8)}},                     // K/V lengths
		{ewNode("Attention", 1), []*Tensor{q3, ewRand(r, 1, 1, 5, 16), ewRand(r, 1, 1, 5, 16)}}, // no heads
		{ewNode("Attention", 1), []*Tensor{q, k, v, ewRand(r, 1, 3, 9)}},                        // mask too long
		{ewNode("Attention", 1), []*Tensor{q, k, v, ewRand(r, 1, 2, 3, 5)}},                     // mask batch
		{ewNode("Attention", 1), []*Tensor{q, k, v, nil, ewRand(r, 1, 1, 2, 2, 8), nil}},        // key cache alone
		{ewNode("Attention", 1), []*Tensor{q, k, v, nil, ewRand(r, 1, 1, 2, 2, 7), ewRand(r, 1, 1, 2, 2, 8)}},
		{ewNode("Attention", 1), []*Tensor{q, k, v, nil, nil, nil, FromInt64([]int{2}, []int64{1, 2})}},
		{ewNode("Attention", 1), []*Tensor{FromInt64([]int{1, 1, 1, 1}, []int64{1}), k, v}},
		{ewNode("Attention", 1), []*Tensor{ewRand(r, 1, 2, 3), k, v}},
		{ewNode("Attention", 1), []*Tensor{{DType: graph.Float32, Shape: []int{1, 4, 3, 8}, Data: []float32{1}}, k, v}},
	} {
		if _, err := ewRun(c.n, 23, 2, c.in...); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	for _, n := range []*graph.Node{
		ewNode("Attention", 1, ewInt("qk_matmul_output_mode", 4)),
		ewNode("Attention", 1, ewFloat("softcap", -1)),
		ewNode("LRN", 1),
		ewNode("LRN", 1, ewInt("size", 0)),
	} {
		if _, err := ewRun(n, 23, 1, q, k, v); err == nil {
			t.Errorf("%s %v: no error", n.OpType, n.Attrs)
		}
	}
}

func TestRotaryEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const b, h, s, d = 2, 3, 4, 8
	x := ewRand(r, 1, b, h, s, d)
	angles := make([]float64, 10*(d/2))
	cosT, sinT := New(graph.Float32, 10, d/2), New(graph.Float32, 10, d/2)
	for i := range angles {
		angles[i] = r.Float64() * 6
		cosT.F32()[i] = float32(math.Cos(angles[i]))
		sinT.F32()[i] = float32(math.Sin(angles[i]))
	}
	pos := FromInt64([]int{b, s}, []int64{0, 3, 9, 2, 5, 5, 1, 7})
	for _, inter := range []int64{0, 1} {
		for _, rd := range []int{0, 4} {
			rot := d
			if rd > 0 {
				rot = rd
			}
			cs, sn := cosT, sinT
			if rot != d {
				// Partial rotation uses caches of rot/2 columns.
				cs, sn = New(graph.Float32, 10, rot/2), New(graph.Float32, 10, rot/2)
				for p := 0; p < 10; p++ {
					copy(cs.F32()[p*rot/2:(p+1)*rot/2], cosT.F32()[p*d/2:])
					copy(sn.F32()[p*rot/2:(p+1)*rot/2], sinT.F32()[p*d/2:])
				}
			}
			n := ewNode("RotaryEmbedding", 1, ewInt("interleaved", inter), ewInt("rotary_embedding_dim", int64(rd)))
			y := ewMust(t, n, 23, x, cs, sn, pos)
			for bi := 0; bi < b; bi++ {
				for hi := 0; hi < h; hi++ {
					for si := 0; si < s; si++ {
						p := int(pos.I64()[bi*s+si])
						off := ((bi*h+hi)*s + si) * d
						for i := 0; i < rot/2; i++ {
							i1, i2 := i, i+rot/2
							if inter == 1 {
								i1, i2 = 2*i, 2*i+1
							}
							a := angles[p*d/2+i]
							x1, x2 := float64(x.F32()[off+i1]), float64(x.F32()[off+i2])
							w1 := x1*math.Cos(a) - x2*math.Sin(a)
							w2 := x1*math.Sin(a) + x2*math.Cos(a)
							if math.Abs(float64(y.F32()[off+i1])-w1) > 1e-5 || math.Abs(float64(y.F32()[off+i2])-w2) > 1e-5 {
								t.Fatalf("interleaved=%d rot=%d: pair %d of (%d,%d,%d) is wrong", inter, rot, i, bi, hi, si)
							}
						}
						for i := rot; i < d; i++ {
							if y.F32()[off+i] != x.F32()[off+i] {
								t.Fatalf("rot=%d: element %d outside the rotation changed", rot, i)
							}
						}
					}
				}
			}
		}
	}
	// Without position ids the caches are per batch and position; 3-D
	// input with num_heads gives the same values.
	cs3, sn3 := New(graph.Float32, b, s, d/2), New(graph.Float32, b, s, d/2)
	for bs := 0; bs < b*s; bs++ {
		p := int(pos.I64()[bs])
		copy(cs3.F32()[bs*d/2:(bs+1)*d/2], cosT.F32()[p*d/2:])
		copy(sn3.F32()[bs*d/2:(bs+1)*d/2], sinT.F32()[p*d/2:])
	}
	y4 := ewMust(t, ewNode("RotaryEmbedding", 1), 23, x, cosT, sinT, pos)
	y3 := ewMust(t, ewNode("RotaryEmbedding", 1, ewInt("num_heads", h)), 23, to3D(x), cs3, sn3)
	if i := ewSameBits(y3, to3D(y4)); i >= 0 {
		t.Errorf("3-D input without position ids differs at byte %d", i)
	}
	for i, in := range [][]*Tensor{
		{x, cosT, sinT, FromInt64([]int{b, s}, []int64{0, 3, 10, 2, 5, 5, 1, 7})},
		{x, cosT, sinT, FromInt64([]int{b, s}, []int64{0, -1, 0, 0, 0, 0, 0, 0})},
		{x, cosT, New(graph.Float32, 10, 3), pos},
		{to3D(x), cosT, sinT, pos},
		{x, cosT, sinT},
		{x, cosT, sinT, FromInt64([]int{s}, make([]int64, s))},
	} {
		if _, err := ewRun(ewNode("RotaryEmbedding", 1), 23, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
	if _, err := ewRun(ewNode("RotaryEmbedding", 1, ewInt("rotary_embedding_dim", 3)), 23, 1, x, cosT, sinT, pos); err == nil {
		t.Error("odd rotary_embedding_dim: no error")
	}
}

func TestLRN(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := ewRand(r, 2, 2, 7, 3, 2)
	for _, size := range []int{1, 2, 3, 4} {
		n := ewNode("LRN", 1, ewInt("size", int64(size)), ewFloat("alpha", 0.01), ewFloat("beta", 0.6), ewFloat("bias", 1.5))
		y := ewMust(t, n, 13, x)
		for i, v := range y.F32() {
			b, c, p := i/(7*6), i/6%7, i%6
			var s float64
			for k := c - (size-1)/2; k <= c+size/2; k++ {
				if k >= 0 && k < 7 {
					e := float64(x.F32()[(b*7+k)*6+p])
					s += e * e
				}
			}
			want := float64(x.F32()[i]) / math.Pow(1.5+0.01/float64(size)*s, 0.6)
			if math.Abs(float64(v)-want) > 1e-6*max(1, math.Abs(want)) {
				t.Fatalf("size %d: element %d is %g, want %g", size, i, v, want)
			}
		}
	}
	if _, err := ewRun(ewNode("LRN", 1, ewInt("size", 3)), 13, 1, ewRand(r, 1, 5)); err == nil {
		t.Error("1-D input: no error")
	}
}

func TestLinearAttentionStreams(t *testing.T) {
	// Running T tokens at once equals running them one at a time with the
	// state carried, for every update rule.
	r := rand.New(rand.NewPCG(15, 16))
	const b, tt, hq, hkv, dk, dv = 2, 5, 4, 2, 3, 4
	q, k, v := ewRand(r, 1, b, tt, hq*dk), ewRand(r, 0.5, b, tt, hkv*dk), ewRand(r, 1, b, tt, hkv*dv)
	decay, beta := ewRand(r, 0.2, b, tt, hkv*dk), ewRand(r, 0.3, b, tt, hkv)
	headDecay := ewRand(r, 0.2, b, tt, hkv)
	past := ewRand(r, 0.1, b, hkv, dk, dv)
	step := func(x *Tensor, ti int) *Tensor {
		w := x.Shape[2]
		out := New(graph.Float32, b, 1, w)
		for bi := 0; bi < b; bi++ {
			copy(out.F32()[bi*w:(bi+1)*w], x.F32()[(bi*tt+ti)*w:])
		}
		return out
	}
	for _, c := range []struct {
		rule        string
		decay, beta *Tensor
	}{
		{"linear", nil, nil}, {"gated", decay, nil}, {"gated", headDecay, nil},
		{"delta", nil, beta}, {"gated_delta", decay, beta}, {"gated_delta", headDecay, beta},
	} {
		n := ewNode("LinearAttention", 2, ewInt("q_num_heads", hq), ewInt("kv_num_heads", hkv), ewString("update_rule", c.rule))
		full, err := ewRun(n, 27, 3, q, k, v, past, c.decay, c.beta)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		state := past
		for ti := 0; ti < tt; ti++ {
			var d, bt *Tensor
			if c.decay != nil {
				d = step(c.decay, ti)
			}
			if c.beta != nil {
				bt = step(c.beta, ti)
			}
			outs, err := ewRun(n, 27, 1, step(q, ti), step(k, ti), step(v, ti), state, d, bt)
			if err != nil {
				t.Fatalf("%s step %d: %v", c.rule, ti, err)
			}
			if dd := maxAbsDiff(f64s(outs[0]), f64s(step(full[0], ti))); dd > 1e-5 {
				t.Errorf("%s: token %d differs by %g", c.rule, ti, dd)
			}
			state = outs[1]
		}
		if dd := maxAbsDiff(f64s(state), f64s(full[1])); dd > 1e-5 {
			t.Errorf("%s: final state differs by %g", c.rule, dd)
		}
	}
	for i, in := range [][]*Tensor{
		{q, k, v, nil, nil, beta},  // gated_delta without decay
		{q, k, v, nil, decay, nil}, // without beta
		{q, k, ewRand(r, 1, b, tt, 5), nil, decay, beta},
		{q, k, v, ewRand(r, 1, b, hkv, dk, dv+1), decay, beta},
		{q, k, v, nil, ewRand(r, 1, b, tt, 3), beta},
	} {
		n := ewNode("LinearAttention", 2, ewInt("q_num_heads", hq), ewInt("kv_num_heads", hkv))
		if _, err := ewRun(n, 27, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
	if _, err := ewRun(ewNode("LinearAttention", 2, ewInt("q_num_heads", 3), ewInt("kv_num_heads", 2)), 27, 1, q, k, v); err == nil {
		t.Error("3 query heads over 2: no error")
	}
}

func TestCausalConvWithStateStreams(t *testing.T) {
	// A sequence split in two chunks, the state carried, gives the same
	// output as the whole sequence.
	r := rand.New(rand.NewPCG(17, 18))
	const b, c, l, k = 2, 3, 9, 4
	x, w, bias := ewRand(r, 1, b, c, l), ewRand(r, 1, c, 1, k), ewRand(r, 1, c)
	part := func(lo, hi int) *Tensor {
		out := New(graph.Float32, b, c, hi-lo)
		for bc := 0; bc < b*c; bc++ {
			copy(out.F32()[bc*(hi-lo):(bc+1)*(hi-lo)], x.F32()[bc*l+lo:bc*l+hi])
		}
		return out
	}
	for _, act := range []string{"none", "silu"} {
		n := ewNode("CausalConvWithState", 2, ewString("activation", act))
		full, err := ewRun(n, 27, 2, x, w, bias)
		if err != nil {
			t.Fatal(err)
		}
		a, err := ewRun(n, 27, 1, part(0, 2), w, bias)
		if err != nil {
			t.Fatal(err)
		}
		bb, err := ewRun(n, 27, 1, part(2, l), w, bias, a[1])
		if err != nil {
			t.Fatal(err)
		}
		for bc := 0; bc < b*c; bc++ {
			got := append(append([]float32{}, a[0].F32()[bc*2:(bc+1)*2]...), bb[0].F32()[bc*(l-2):(bc+1)*(l-2)]...)
			for i, v := range got {
				if math.Abs(float64(v-full[0].F32()[bc*l+i])) > 1e-6 {
					t.Fatalf("%s: row %d position %d: chunked %g, whole %g", act, bc, i, v, full[0].F32()[bc*l+i])
				}
			}
		}
		if i := ewSameBits(bb[1], full[1]); i >= 0 {
			t.Errorf("%s: carried state differs at byte %d", act, i)
		}
	}
	for i, in := range [][]*Tensor{
		{x, ewRand(r, 1, c, 2, k)},
		{x, w, ewRand(r, 1, c+1)},
		{x, w, nil, ewRand(r, 1, b, c, k)},
		{ewRand(r, 1, c, l), w},
	} {
		if _, err := ewRun(ewNode("CausalConvWithState", 2), 27, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

// TestExtraKernelsInputsAndThreads runs every kernel of the attention,
// vision, signal and loss files on one case: inputs stay unchanged and
// results are bit-identical for 1 and 3 threads.
func TestExtraKernelsInputsAndThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	i64 := func(shape []int, v ...int64) *Tensor { return FromInt64(shape, v) }
	scalar := func(v int64) *Tensor { return FromInt64(nil, []int64{v}) }
	cases := []struct {
		n     *graph.Node
		opset int64
		in    []*Tensor
	}{
		{ewNode("Attention", 4, ewInt("is_causal", 1)), 23, []*Tensor{ewRand(r, 1, 2, 4, 9, 8), ewRand(r, 1, 2, 2, 9, 8), ewRand(r, 1, 2, 2, 9, 8), ewRand(r, 1, 9, 13), ewRand(r, 1, 2, 2, 4, 8), ewRand(r, 1, 2, 2, 4, 8)}},
		{ewNode("RotaryEmbedding", 1), 23, []*Tensor{ewRand(r, 1, 2, 3, 5, 8), ewRand(r, 1, 2, 5, 4), ewRand(r, 1, 2, 5, 4)}},
		{ewNode("LRN", 1, ewInt("size", 3)), 13, []*Tensor{ewRand(r, 1, 2, 6, 5, 5)}},
		{ewNode("LinearAttention", 2, ewInt("q_num_heads", 4), ewInt("kv_num_heads", 2)), 27, []*Tensor{ewRand(r, 1, 2, 6, 16), ewRand(r, 1, 2, 6, 8), ewRand(r, 1, 2, 6, 8), ewRand(r, 1, 2, 2, 4, 4), ewRand(r, 0.1, 2, 6, 2), ewRand(r, 1, 2, 6, 2)}},
		{ewNode("CausalConvWithState", 2), 27, []*Tensor{ewRand(r, 1, 2, 5, 9), ewRand(r, 1, 5, 1, 3), ewRand(r, 1, 5), ewRand(r, 1, 2, 5, 2)}},
		{ewNode("GridSample", 1, ewString("mode", "cubic")), 20, []*Tensor{ewRand(r, 1, 2, 3, 6, 7), ewRand(r, 0.7, 2, 5, 4, 2)}},
		{ewNode("AffineGrid", 1), 20, []*Tensor{ewRand(r, 1, 2, 3, 4), i64([]int{5}, 2, 1, 3, 4, 5)}},
		{ewNode("RoiAlign", 1, ewInt("output_height", 3), ewInt("output_width", 2)), 16, []*Tensor{ewRand(r, 1, 2, 3, 8, 9), FromFloat32([]int{2, 4}, []float32{1, 1, 6, 5, 0, 2, 8, 7}), i64([]int{2}, 1, 0)}},
		{ewNode("Col2Im", 1), 18, []*Tensor{ewRand(r, 1, 2, 12, 20), i64([]int{2}, 5, 6), i64([]int{2}, 2, 2)}},
		{ewNode("DeformConv", 1, ewInt("group", 2)), 22, []*Tensor{ewRand(r, 1, 2, 4, 6, 6), ewRand(r, 1, 4, 2, 3, 3), ewRand(r, 1, 2, 18, 4, 4), ewRand(r, 1, 4), ewRand(r, 1, 2, 9, 4, 4)}},
		{ewNode("NonMaxSuppression", 1), 11, []*Tensor{ewRand(r, 1, 2, 20, 4), ewRand(r, 1, 2, 3, 20), scalar(4), FromFloat32(nil, []float32{0.3})}},
		{ewNode("DFT", 1), 20, []*Tensor{ewRand(r, 1, 3, 100, 2), nil, scalar(1)}},
		{ewNode("STFT", 1), 17, []*Tensor{ewRand(r, 1, 2, 90, 1), scalar(7), ewRand(r, 1, 20)}},
		{ewNode("Det", 1), 22, []*Tensor{ewRand(r, 1, 7, 5, 5)}},
		{ewNode("SoftmaxCrossEntropyLoss", 2), 13, []*Tensor{ewRand(r, 1, 3, 4, 5), i64([]int{3, 5}, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2), ewRand(r, 1, 4)}},
		{ewNode("NegativeLogLikelihoodLoss", 1, ewString("reduction", "none")), 13, []*Tensor{ewRand(r, 1, 3, 4), i64([]int{3}, 3, 0, 2)}},
	}
	for _, c := range cases {
		saved := make([]*Tensor, len(c.in))
		for i, x := range c.in {
			if x != nil {
				saved[i] = x.Clone()
			}
		}
		one, err := ewRun(c.n, c.opset, 1, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		many, err := ewRun(c.n, c.opset, 3, c.in...)
		if err != nil {
			t.Fatalf("%s: %v", c.n.OpType, err)
		}
		for i := range one {
			if b := ewSameBits(one[i], many[i]); b >= 0 {
				t.Errorf("%s: threads change output %d at byte %d", c.n.OpType, i, b)
			}
		}
		for i, x := range c.in {
			if x != nil && ewSameBits(x, saved[i]) >= 0 {
				t.Errorf("%s: input %d was modified", c.n.OpType, i)
			}
		}
	}
}
