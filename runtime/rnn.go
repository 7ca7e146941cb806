// Recurrent kernels: RNN, GRU and LSTM (forward, reverse and
// bidirectional; activations with alpha/beta, clip, peepholes, initial
// states, sequence lengths, layout 0 and 1) for float32 and float64.

package runtime

import (
	"fmt"
	"math"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerRNN(r *Registry) {
	r.Register("", "RNN", func(n *graph.Node, opset int64) (Kernel, error) { return newRecurrent(n, rnnSimple) })
	r.Register("", "GRU", func(n *graph.Node, opset int64) (Kernel, error) { return newRecurrent(n, rnnGRU) })
	r.Register("", "LSTM", func(n *graph.Node, opset int64) (Kernel, error) { return newRecurrent(n, rnnLSTM) })
}

type rnnKind int

const (
	rnnSimple rnnKind = iota
	rnnGRU
	rnnLSTM
)

// gates is the number of gate blocks stacked in W and R.
func (k rnnKind) gates() int { return [...]int{1, 3, 4}[k] }

// acts is the number of activation functions per direction.
func (k rnnKind) acts() int { return [...]int{1, 2, 3}[k] }

func (k rnnKind) String() string { return [...]string{"RNN", "GRU", "LSTM"}[k] }

// rnnAct is one activation function of a recurrent op with its parameters.
type rnnAct struct {
	name        string
	alpha, beta float64
}

// rnnActInfo says how many of activation_alpha/activation_beta an
// activation takes, and their defaults.
var rnnActInfo = map[string]struct {
	nAlpha, nBeta int
	alpha, beta   float64
}{
	"relu": {}, "tanh": {}, "sigmoid": {}, "softsign": {}, "softplus": {},
	"affine":          {1, 1, 1, 0},
	"leakyrelu":       {1, 0, 0.01, 0},
	"thresholdedrelu": {1, 0, 1, 0},
	"scaledtanh":      {1, 1, 1, 1},
	"hardsigmoid":     {1, 1, 0.2, 0.5},
	"elu":             {1, 0, 1, 0},
}

func (a rnnAct) apply(x float64) float64 {
	switch a.name {
	case "relu":
		return math.Max(x, 0)
	case "tanh":
		return math.Tanh(x)
	case "sigmoid":
		return rnnSigmoid(x)
	case "affine":
		return a.alpha*x + a.beta
	case "leakyrelu":
		if x >= 0 {
			return x
		}
		return a.alpha * x
	case "thresholdedrelu":
		if x > a.alpha {
			return x
		}
		return 0
	case "scaledtanh":
		return a.alpha * math.Tanh(a.beta*x)
	case "hardsigmoid":
		return math.Max(0, math.Min(1, a.alpha*x+a.beta))
	case "elu":
		if x >= 0 {
			return x
		}
		return a.alpha * (math.Exp(x) - 1)
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		if x > 30 {
			return x + math.Log1p(math.Exp(-x))
		}
		return math.Log1p(math.Exp(x))
	}
	return x
}

func rnnSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// recurrent is a prepared RNN, GRU or LSTM node.
type recurrent struct {
	kind        rnnKind
	hidden      int // 0: taken from R
	dirs        int
	reverse     bool // single direction, reverse
	acts        []rnnAct
	clip        float64 // 0: no clipping
	inputForget bool
	lbr         bool // GRU linear_before_reset
	layout      int
	want        [3]bool // which outputs the node uses
	nOut        int
}

func newRecurrent(n *graph.Node, kind rnnKind) (Kernel, error) {
	k := &recurrent{kind: kind, dirs: 1}
	switch d := n.AttrString("direction", "forward"); d {
	case "forward":
	case "reverse":
		k.reverse = true
	case "bidirectional":
		k.dirs = 2
	default:
		return nil, fmt.Errorf("direction %q is not forward, reverse or bidirectional", d)
	}
	h := n.AttrInt("hidden_size", 0)
	if h < 0 || h > 1<<20 {
		return nil, fmt.Errorf("hidden_size %d is out of range", h)
	}
	k.hidden = int(h)
	if a := n.Attr("clip"); a != nil {
		c := float64(a.Float)
		if !(c > 0) {
			return nil, fmt.Errorf("clip must be positive, got %v", a.Float)
		}
		k.clip = c
	}
	k.inputForget = n.AttrInt("input_forget", 0) != 0
	k.lbr = n.AttrInt("linear_before_reset", 0) != 0
	k.layout = int(n.AttrInt("layout", 0))
	if k.layout != 0 && k.layout != 1 {
		return nil, fmt.Errorf("layout must be 0 or 1, got %d", k.layout)
	}
	var names []string
	if a := n.Attr("activations"); a != nil {
		names = a.Strings
	}
	if len(names) == 0 {
		switch kind {
		case rnnSimple:
			names = []string{"Tanh"}
		case rnnGRU:
			names = []string{"Sigmoid", "Tanh"}
		case rnnLSTM:
			names = []string{"Sigmoid", "Tanh", "Tanh"}
		}
	}
	per := kind.acts()
	switch {
	case len(names) == per*k.dirs:
	case len(names) == per && k.dirs == 2:
		names = append(append([]string{}, names...), names...)
	default:
		return nil, fmt.Errorf("%d activations given, want %d", len(names), per*k.dirs)
	}
	var alphas, betas []float32
	if a := n.Attr("activation_alpha"); a != nil {
		alphas = a.Floats
	}
	if a := n.Attr("activation_beta"); a != nil {
		betas = a.Floats
	}
	for _, name := range names {
		lower := strings.ToLower(name)
		info, ok := rnnActInfo[lower]
		if !ok {
			return nil, fmt.Errorf("activation %q is not supported", name)
		}
		act := rnnAct{name: lower, alpha: info.alpha, beta: info.beta}
		// Alphas and betas are consumed in order by the activations
		// that take them; missing ones keep their defaults.
		if info.nAlpha > 0 && len(alphas) > 0 {
			act.alpha, alphas = float64(alphas[0]), alphas[1:]
		}
		if info.nBeta > 0 && len(betas) > 0 {
			act.beta, betas = float64(betas[0]), betas[1:]
		}
		k.acts = append(k.acts, act)
	}
	maxOut := 2
	if kind == rnnLSTM {
		maxOut = 3
	}
	if len(n.Outputs) > maxOut {
		return nil, fmt.Errorf("%v has %d outputs, the node names %d", kind, maxOut, len(n.Outputs))
	}
	k.nOut = len(n.Outputs)
	for i := range k.want {
		k.want[i] = i < len(n.Outputs) && n.Outputs[i] != nil
	}
	return k, nil
}

// rnnShapes are the sizes of one call.
type rnnShapes struct {
	seq, batch, input, hidden int
}

func (k *recurrent) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("%v needs X, W and R", k.kind)
	}
	x, w, r := in[0], in[1], in[2]
	if x.DType != w.DType || x.DType != r.DType {
		return nil, fmt.Errorf("X, W and R must have one type, got %v, %v, %v", x.DType, w.DType, r.DType)
	}
	if x.Rank() != 3 || w.Rank() != 3 || r.Rank() != 3 {
		return nil, fmt.Errorf("X, W and R must be 3-D, got %v, %v, %v", x, w, r)
	}
	var s rnnShapes
	if k.layout == 0 {
		s.seq, s.batch = x.Shape[0], x.Shape[1]
	} else {
		s.batch, s.seq = x.Shape[0], x.Shape[1]
	}
	s.input = x.Shape[2]
	s.hidden = r.Shape[2]
	if k.hidden != 0 && k.hidden != s.hidden {
		return nil, fmt.Errorf("hidden_size is %d but R is %v", k.hidden, r)
	}
	g := k.kind.gates()
	if w.Shape[0] != k.dirs || r.Shape[0] != k.dirs {
		return nil, fmt.Errorf("W %v and R %v must have %d directions", w, r, k.dirs)
	}
	if w.Shape[1] != g*s.hidden || w.Shape[2] != s.input {
		return nil, fmt.Errorf("W is %v, want [%d,%d,%d]", w, k.dirs, g*s.hidden, s.input)
	}
	if r.Shape[1] != g*s.hidden {
		return nil, fmt.Errorf("R is %v, want [%d,%d,%d]", r, k.dirs, g*s.hidden, s.hidden)
	}
	// The projections of all steps are held at once.
	if int64(s.seq)*int64(s.batch)*int64(g*s.hidden) > 1<<30 {
		return nil, fmt.Errorf("X %v and W %v are too large to run", x, w)
	}
	opt := func(i int) *Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	b, seqLens, h0 := opt(3), opt(4), opt(5)
	var c0, p *Tensor
	if k.kind == rnnLSTM {
		c0, p = opt(6), opt(7)
	}
	checkShape := func(name string, t *Tensor, want ...int) error {
		if t == nil {
			return nil
		}
		if t.DType != x.DType {
			return fmt.Errorf("%s is %v, want %v", name, t.DType, x.DType)
		}
		if !equalShape(t.Shape, want) {
			return fmt.Errorf("%s is %v, want shape %v", name, t, want)
		}
		return nil
	}
	stateShape := []int{k.dirs, s.batch, s.hidden}
	if k.layout == 1 {
		stateShape = []int{s.batch, k.dirs, s.hidden}
	}
	if err := checkShape("B", b, k.dirs, 2*g*s.hidden); err != nil {
		return nil, err
	}
	if err := checkShape("initial_h", h0, stateShape...); err != nil {
		return nil, err
	}
	if err := checkShape("initial_c", c0, stateShape...); err != nil {
		return nil, err
	}
	if err := checkShape("P", p, k.dirs, 3*s.hidden); err != nil {
		return nil, err
	}
	lens := make([]int, s.batch)
	for i := range lens {
		lens[i] = s.seq
	}
	if seqLens != nil {
		if seqLens.Rank() != 1 || seqLens.Shape[0] != s.batch {
			return nil, fmt.Errorf("sequence_lens is %v, want [%d]", seqLens, s.batch)
		}
		for i := range lens {
			var v int64
			switch d := seqLens.Data.(type) {
			case []int32:
				v = int64(d[i])
			case []int64:
				v = d[i]
			default:
				return nil, fmt.Errorf("sequence_lens must be int32, got %v", seqLens.DType)
			}
			if v < 0 || v > int64(s.seq) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d is outside [0, %d]", i, v, s.seq)
			}
			lens[i] = int(v)
		}
	}
	switch x.DType {
	case graph.Float32:
		return runRecurrent[float32](ctx, k, s, lens, x, w, r, b, h0, c0, p)
	case graph.Float64:
		return runRecurrent[float64](ctx, k, s, lens, x, w, r, b, h0, c0, p)
	}
	return nil, fmt.Errorf("%v of %v is not supported", k.kind, x.DType)
}

// rnnFloat are the element types the recurrent kernels run on.
type rnnFloat interface{ ~float32 | ~float64 }

// rnnDot is the dot product of two equal-length vectors with four partial
// sums in a fixed pattern (the result does not depend on threads).
func rnnDot[T rnnFloat](a, b []T) T {
	var s0, s1, s2, s3 T
	n := len(a)
	b = b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func runRecurrent[T rnnFloat](ctx *Context, k *recurrent, s rnnShapes, lens []int, xt, wt, rt, bt, h0t, c0t, pt *Tensor) ([]*Tensor, error) {
	data := func(t *Tensor) []T {
		if t == nil {
			return nil
		}
		return t.Data.([]T)
	}
	x, w, r, bias, h0, c0, peep := data(xt), data(wt), data(rt), data(bt), data(h0t), data(c0t), data(pt)
	g := k.kind.gates()
	H, B, S, I := s.hidden, s.batch, s.seq, s.input
	G := g * H
	dt := xt.DType

	var y, yh, yc *Tensor
	if k.want[0] {
		if k.layout == 0 {
			y = ctx.AllocZeroed(dt, S, k.dirs, B, H)
		} else {
			y = ctx.AllocZeroed(dt, B, S, k.dirs, H)
		}
	}
	stateShape := []int{k.dirs, B, H}
	if k.layout == 1 {
		stateShape = []int{B, k.dirs, H}
	}
	if k.want[1] {
		yh = ctx.Alloc(dt, stateShape...)
	}
	if k.want[2] {
		yc = ctx.Alloc(dt, stateShape...)
	}
	// Offsets of time step t, batch b in X and of a state entry.
	xOff := func(t, b int) int {
		if k.layout == 0 {
			return (t*B + b) * I
		}
		return (b*S + t) * I
	}
	stateOff := func(d, b int) int {
		if k.layout == 0 {
			return (d*B + b) * H
		}
		return (b*k.dirs + d) * H
	}
	yOff := func(t, d, b int) int {
		if k.layout == 0 {
			return ((t*k.dirs+d)*B + b) * H
		}
		return ((b*S+t)*k.dirs + d) * H
	}

	xw := make([]T, S*B*G) // input projections plus biases, per step and batch
	var xwStore []T        // layout 1: projections in X's (batch, step) order
	if k.layout == 1 {
		xwStore = make([]T, S*B*G)
	}
	hr := make([]T, B*G) // recurrent projections of one step
	h := make([]T, B*H)
	c := make([]T, B*H)
	rh := make([]T, H) // GRU: r ⊙ H(t-1) of one batch entry
	var z, rg, cand []float64
	if k.kind == rnnGRU {
		z, rg, cand = make([]float64, H), make([]float64, H), make([]float64, H)
	}
	for d := 0; d < k.dirs; d++ {
		wd := w[d*G*I : (d+1)*G*I]
		rd := r[d*G*H : (d+1)*G*H]
		var wb, rb []T
		if bias != nil {
			wb = bias[d*2*G : d*2*G+G]
			rb = bias[d*2*G+G : (d+1)*2*G]
		}
		acts := k.acts[d*k.kind.acts() : (d+1)*k.kind.acts()]
		reverse := k.reverse || d == 1

		// Input projections for every step at once: one GEMM for float32
		// (rows in X's storage order), row-by-row dot products otherwise.
		rows := S * B
		if xf, ok := any(x).([]float32); ok && rows >= 4 {
			dst := any(xw).([]float32)
			if k.layout == 1 {
				dst = any(xwStore).([]float32)
			}
			kernels.SgemmParallel(ctxThreads(ctx), rows, G, I, xf, I, false, any(wd).([]float32), I, true, dst, G, 1, 0)
			if k.layout == 1 {
				for b := 0; b < B; b++ {
					for t := 0; t < S; t++ {
						copy(xw[(t*B+b)*G:(t*B+b+1)*G], xwStore[(b*S+t)*G:(b*S+t+1)*G])
					}
				}
			}
		} else {
			ctx.Parallel(rows, func(lo, hi int) {
				for row := lo; row < hi; row++ {
					t, b := row/B, row%B
					xr := x[xOff(t, b) : xOff(t, b)+I]
					out := xw[row*G : (row+1)*G]
					for j := 0; j < G; j++ {
						out[j] = rnnDot(xr, wd[j*I:(j+1)*I])
					}
				}
			})
		}
		if wb != nil {
			for row := 0; row < rows; row++ {
				out := xw[row*G : (row+1)*G]
				for j := range out {
					out[j] += wb[j]
					// The recurrent bias joins here except GRU's hidden
					// gate with linear_before_reset.
					if !(k.kind == rnnGRU && k.lbr && j >= 2*H) {
						out[j] += rb[j]
					}
				}
			}
		}
		// Initial state.
		for b := 0; b < B; b++ {
			if h0 != nil {
				copy(h[b*H:(b+1)*H], h0[stateOff(d, b):stateOff(d, b)+H])
			} else {
				clear(h[b*H : (b+1)*H])
			}
			if c0 != nil {
				copy(c[b*H:(b+1)*H], c0[stateOff(d, b):stateOff(d, b)+H])
			} else {
				clear(c[b*H : (b+1)*H])
			}
		}
		var pi, po, pf []T
		if peep != nil {
			pd := peep[d*3*H : (d+1)*3*H]
			pi, po, pf = pd[:H], pd[H:2*H], pd[2*H:]
		}
		clip := func(v T) float64 {
			f := float64(v)
			if k.clip > 0 {
				f = math.Max(-k.clip, math.Min(k.clip, f))
			}
			return f
		}
		// Recurrent projections split over threads only when a step has
		// enough work to pay for it.
		stepThreads := G*H*B >= 1<<15
		for step := 0; step < S; step++ {
			t := step
			if reverse {
				t = S - 1 - step
			}
			project := func(lo, hi int) {
				for idx := lo; idx < hi; idx++ {
					b, j := idx/G, idx%G
					if t >= lens[b] {
						continue
					}
					if k.kind == rnnGRU && !k.lbr && j >= 2*H {
						continue // needs r first
					}
					hr[idx] = rnnDot(h[b*H:(b+1)*H], rd[j*H:(j+1)*H])
				}
			}
			if stepThreads {
				ctx.Parallel(B*G, project)
			} else {
				project(0, B*G)
			}
			for b := 0; b < B; b++ {
				if t >= lens[b] {
					continue
				}
				xv := xw[(t*B+b)*G : (t*B+b+1)*G]
				hv := hr[b*G : (b+1)*G]
				hb := h[b*H : (b+1)*H]
				cb := c[b*H : (b+1)*H]
				switch k.kind {
				case rnnSimple:
					for j := 0; j < H; j++ {
						hb[j] = T(acts[0].apply(clip(xv[j] + hv[j])))
					}
				case rnnGRU:
					f, gAct := acts[0], acts[1]
					for j := 0; j < H; j++ {
						z[j] = f.apply(clip(xv[j] + hv[j]))
					}
					for j := 0; j < H; j++ {
						rg[j] = f.apply(clip(xv[H+j] + hv[H+j]))
					}
					if k.lbr {
						for j := 0; j < H; j++ {
							var rbh T
							if rb != nil {
								rbh = rb[2*H+j]
							}
							cand[j] = gAct.apply(clip(xv[2*H+j] + T(rg[j])*(hv[2*H+j]+rbh)))
						}
					} else {
						for j := 0; j < H; j++ {
							rh[j] = T(rg[j]) * hb[j]
						}
						for j := 0; j < H; j++ {
							v := rnnDot(rh, rd[(2*H+j)*H:(2*H+j+1)*H])
							cand[j] = gAct.apply(clip(xv[2*H+j] + v))
						}
					}
					for j := 0; j < H; j++ {
						hb[j] = T((1-z[j])*cand[j] + z[j]*float64(hb[j]))
					}
				case rnnLSTM:
					f, gAct, hAct := acts[0], acts[1], acts[2]
					for j := 0; j < H; j++ {
						// Gate order in W and R: input, output, forget, cell.
						iPre := xv[j] + hv[j]
						oPre := xv[H+j] + hv[H+j]
						fPre := xv[2*H+j] + hv[2*H+j]
						cPre := xv[3*H+j] + hv[3*H+j]
						if pi != nil {
							iPre += pi[j] * cb[j]
							fPre += pf[j] * cb[j]
						}
						ig := f.apply(clip(iPre))
						var fg float64
						if k.inputForget {
							fg = 1 - ig
						} else {
							fg = f.apply(clip(fPre))
						}
						cg := gAct.apply(clip(cPre))
						cNew := T(fg*float64(cb[j]) + ig*cg)
						if po != nil {
							oPre += po[j] * cNew
						}
						og := f.apply(clip(oPre))
						cb[j] = cNew
						hb[j] = T(og * hAct.apply(float64(cNew)))
					}
				}
				if y != nil {
					yd := y.Data.([]T)
					copy(yd[yOff(t, d, b):yOff(t, d, b)+H], hb)
				}
			}
		}
		for b := 0; b < B; b++ {
			if yh != nil {
				copy(yh.Data.([]T)[stateOff(d, b):stateOff(d, b)+H], h[b*H:(b+1)*H])
			}
			if yc != nil {
				copy(yc.Data.([]T)[stateOff(d, b):stateOff(d, b)+H], c[b*H:(b+1)*H])
			}
		}
	}
	return []*Tensor{y, yh, yc}[:k.nOut], nil
}
