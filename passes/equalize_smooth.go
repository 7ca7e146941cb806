// This file holds the normalisation half of equalize-activations:
// smoothing the outlier channels of a layer norm's output into the
// weights of the MatMuls reading it. Trained transformers give a few
// channels of their layer norms' outputs ranges 10-100x the others'; the
// per-tensor activation grid the MatMuls read then leaves the other
// channels a few levels. Where the output of a LayerNormalization, or of
// the affine step ending a written-out layer norm (x·γ + β with γ and β
// constant along the last axis), only reaches MatMul or Gemm nodes with
// constant weights (directly or through one Reshape keeping the last
// axis), channel k of γ and β is divided by s_k and row k of each weight
// multiplied by it: the model computes the same function. s_k =
// √(max|x_k| / max|w_k|) (max|w_k| over every reader's row k) moves half
// of each channel's range, measured in decades, from the activations to
// the weights, which per-output-channel scales quantize finely enough.
// The factors are applied only when an estimate of the noise at the
// readers' outputs (as for Concats: equalize_concat.go) gains
// smoothMinGainDB; a layer norm without outlier channels is left alone.

package passes

import (
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
)

// smoothMinGainDB is the estimated gain below which a layer norm's
// output is left alone.
const smoothMinGainDB = 1.0

// smoothMaxScale bounds s_k and 1/s_k, so a dead channel (max|x_k| near
// 0) is not blown up.
const smoothMaxScale = 1024

// smoothSite is one layer norm output with its per-channel constants and
// the weighted nodes reading it.
type smoothSite struct {
	value       *graph.Value   // the normalisation's output
	gamma, beta *graph.Value   // beta may be nil
	moved       []*graph.Value // values holding the rescaled channels: value and a Reshape's output
	readers     []smoothReader
	channels    int
}

// smoothReader is a MatMul or Gemm reading the site, with its constant
// weight; transposed when the weight is [N, K] (Gemm transB).
type smoothReader struct {
	node       *graph.Node
	w          *graph.Value
	transposed bool
}

// channel returns the site channel that element j of rd's weight reads.
func (rd smoothReader) channel(j int) int {
	cols := int(rd.w.Const.Dims[1])
	if rd.transposed {
		return j % cols
	}
	return j / cols
}

// lastAxisConst reports whether v is a float32 constant of n's own whose
// shape is [k] or [1, ..., 1, k] with k = channels (channels < 0: any).
func lastAxisConst(m *graph.Model, g *graph.Graph, n *graph.Node, v *graph.Value, channels int64) (int64, bool) {
	if v == nil || !ownedF32(m, g, n, v) || len(v.Const.Dims) == 0 {
		return 0, false
	}
	d := v.Const.Dims
	for _, x := range d[:len(d)-1] {
		if x != 1 {
			return 0, false
		}
	}
	k := d[len(d)-1]
	if k <= 0 || (channels >= 0 && k != channels) {
		return 0, false
	}
	return k, true
}

// findSmoothSite returns the site n ends, if it has one.
func findSmoothSite(m *graph.Model, g *graph.Graph, n *graph.Node) (smoothSite, bool) {
	if n1(n.Outputs) < 1 || n.Outputs[0] == nil {
		return smoothSite{}, false
	}
	var s smoothSite
	s.value = n.Outputs[0]
	switch {
	case isDefaultOp(n, "LayerNormalization"):
		// Mean and InvStdDev, when asked for, do not change.
		axis := n.AttrInt("axis", -1)
		if rank := len(s.value.Shape); axis != -1 && (rank == 0 || axis != int64(rank-1)) {
			return smoothSite{}, false
		}
		k, ok := lastAxisConst(m, g, n, n.Input(1), -1)
		if !ok || len(n.Input(1).Const.Dims) != 1 {
			return smoothSite{}, false
		}
		s.gamma, s.channels = n.Input(1), int(k)
		if b := n.Input(2); b != nil {
			if _, ok := lastAxisConst(m, g, n, b, k); !ok || len(b.Const.Dims) != 1 {
				return smoothSite{}, false
			}
			s.beta = b
		}
	case isDefaultOp(n, "Add"), isDefaultOp(n, "Mul"):
		if n1(n.Outputs) != 1 {
			return smoothSite{}, false
		}
		mul, beta := n, (*graph.Value)(nil)
		if n.OpType == "Add" {
			mul = nil
			for _, j := range [][2]int{{0, 1}, {1, 0}} {
				a, b := n.Input(j[0]), n.Input(j[1])
				if a != nil && isDefaultOp(a.Producer, "Mul") && soleReader(g, a) == n && isConst(m, b) {
					mul, beta = a.Producer, b
					break
				}
			}
			if mul == nil {
				return smoothSite{}, false
			}
		}
		var gamma *graph.Value
		for _, j := range [][2]int{{0, 1}, {1, 0}} {
			x, c := mul.Input(j[0]), mul.Input(j[1])
			if x != nil && !isConst(m, x) && isConst(m, c) {
				gamma = c
				break
			}
		}
		k, ok := lastAxisConst(m, g, mul, gamma, -1)
		if !ok {
			return smoothSite{}, false
		}
		if beta != nil {
			if _, ok := lastAxisConst(m, g, n, beta, k); !ok {
				return smoothSite{}, false
			}
		}
		// x·γ with no β qualifies too, whatever made x: its channels
		// rescale the same way.
		s.gamma, s.beta, s.channels = gamma, beta, int(k)
	default:
		return smoothSite{}, false
	}
	if rank := len(s.value.Shape); rank > 0 {
		if d := s.value.Shape[rank-1]; d.Known() && d.Size != int64(s.channels) {
			return smoothSite{}, false
		}
	} else {
		return smoothSite{}, false
	}
	s.moved = []*graph.Value{s.value}
	if !s.addReaders(m, g, s.value, true) || len(s.readers) == 0 {
		return smoothSite{}, false
	}
	return s, true
}

// addReaders adds v's readers to s: MatMul or Gemm nodes reading v as
// their first input with a constant 2-D weight of their own, or (when
// reshape) a Reshape keeping the last axis whose readers are such.
func (s *smoothSite) addReaders(m *graph.Model, g *graph.Graph, v *graph.Value, reshape bool) bool {
	if isGraphOutput(g, v) || len(v.Consumers) == 0 {
		return false
	}
	k := int64(s.channels)
	for _, r := range v.Consumers {
		if r.Graph != g || r.Input(0) != v || r.Input(1) == v || r.Input(2) == v {
			return false
		}
		switch {
		case isDefaultOp(r, "Shape"), isDefaultOp(r, "Size"):
			// reads the shape alone, which stays (the rows a MatMul
			// made a Gemm of, on a dynamic batch, are put back by it)
		case isDefaultOp(r, "MatMul"), isDefaultOp(r, "Gemm"):
			w := r.Input(1)
			if w == nil || !ownedF32(m, g, r, w) || len(w.Const.Dims) != 2 {
				return false
			}
			t := r.OpType == "Gemm" && r.AttrInt("transB", 0) != 0
			if r.OpType == "Gemm" && (r.AttrInt("transA", 0) != 0 || rankOf(v) != 2) {
				return false
			}
			if rows := w.Const.Dims[0]; (t && w.Const.Dims[1] != k) || (!t && rows != k) {
				return false
			}
			s.readers = append(s.readers, smoothReader{node: r, w: w, transposed: t})
		case reshape && isDefaultOp(r, "Reshape") && n1(r.Outputs) == 1:
			out := r.Outputs[0]
			// The last axis stays whole: channel k of the output is
			// channel k of the input (whose last axis is k channels).
			if reshapeLastDim(r) != k || rankOf(out) == 0 {
				return false
			}
			s.moved = append(s.moved, out)
			if !s.addReaders(m, g, out, false) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// reshapeLastDim returns the last dimension Reshape r gives: from its
// output's shape, else from its constant shape input (which a dynamic
// batch leaves the only source), or -1.
func reshapeLastDim(r *graph.Node) int64 {
	if sh := r.Outputs[0].Shape; len(sh) > 0 && sh[len(sh)-1].Known() {
		return sh[len(sh)-1].Size
	}
	c := r.Input(1)
	if c == nil || c.Const == nil {
		return -1
	}
	dims, err := c.Const.Int64s()
	if err != nil || len(dims) == 0 || dims[len(dims)-1] <= 0 {
		return -1
	}
	return dims[len(dims)-1]
}

// rankOf returns v's rank: from its shape, else, for a Reshape's output,
// from the Reshape's constant shape input; 0 when unknown.
func rankOf(v *graph.Value) int {
	if len(v.Shape) > 0 {
		return len(v.Shape)
	}
	if p := v.Producer; isDefaultOp(p, "Reshape") && p.Input(1) != nil && p.Input(1).Const != nil {
		if dims, err := p.Input(1).Const.Int64s(); err == nil {
			return len(dims)
		}
	}
	return 0
}

// SmoothCandidates returns, for each layer norm output of m's main graph
// that equalize-activations may smooth, the value whose statistics along
// the last axis it needs (Inputs, one name) and the values it rescales.
func SmoothCandidates(m *graph.Model) []ReaderCandidate {
	var out []ReaderCandidate
	for _, n := range m.Graph.Nodes {
		if s, ok := findSmoothSite(m, m.Graph, n); ok {
			out = append(out, s.candidate())
		}
	}
	return out
}

// candidate names s's values (see SmoothCandidates).
func (s smoothSite) candidate() ReaderCandidate {
	c := ReaderCandidate{Inputs: []string{s.value.Name}}
	for _, v := range s.moved {
		c.Rescaled = append(c.Rescaled, v.Name)
	}
	return c
}

// equalizeSmooth smooths the sites of m's main graph whose statistics
// along the last axis are in opts.LastAxis, except those that would rescale a
// value keep names; it returns how many it smoothed.
func equalizeSmooth(m *graph.Model, opts ReaderOptions) (int, error) {
	g := m.Graph
	done := 0
	for _, n := range g.Nodes {
		s, ok := findSmoothSite(m, g, n)
		if !ok || s.candidate().Keeps(opts.Keep) {
			continue
		}
		r, ok := opts.LastAxis[s.value.Name]
		if !ok {
			continue
		}
		changed, err := s.smooth(m, g, r, opts.WeightLevels)
		if err != nil {
			return done, fmt.Errorf("%s: %v", n.Name, err)
		}
		if changed {
			done++
		}
	}
	return done, nil
}

// smooth applies the factors of r to s; it reports false when r does
// not fit or the estimate gains too little.
func (s smoothSite) smooth(m *graph.Model, g *graph.Graph, r ChannelRange, weightLevels float64) (bool, error) {
	k := s.channels
	if len(r.Min) != k || len(r.Max) != k || len(r.MeanSquare) != k {
		return false, nil
	}
	weights := make([][]float32, len(s.readers))
	wmax := make([]float64, k)
	for i, rd := range s.readers {
		w, err := rd.w.Const.Float32s()
		if err != nil {
			return false, nil
		}
		weights[i] = w
		for j, x := range w {
			c := rd.channel(j)
			wmax[c] = math.Max(wmax[c], math.Abs(float64(x)))
		}
	}
	scale := make([]float64, k)
	logSum, n := 0.0, 0
	for c := range k {
		lo, hi, ms := float64(r.Min[c]), float64(r.Max[c]), r.MeanSquare[c]
		if !finite(lo) || !finite(hi) || !finite(ms) || lo > hi {
			return false, nil
		}
		scale[c] = 1
		if x := math.Max(-lo, hi); x > 0 && wmax[c] > 0 {
			scale[c] = math.Min(math.Max(math.Sqrt(x/wmax[c]), 1/float64(smoothMaxScale)), smoothMaxScale)
			logSum += math.Log(scale[c])
			n++
		}
	}
	if n == 0 {
		return false, nil
	}
	// One factor for all channels changes nothing the quantizers see:
	// centre the factors so the values keep their magnitude.
	centre := math.Exp(logSum / float64(n))
	for c := range scale {
		scale[c] /= centre
	}
	ones := make([]float64, k)
	for c := range ones {
		ones[c] = 1
	}
	before := s.relativeNoise(r, weights, ones, weightLevels)
	after := s.relativeNoise(r, weights, scale, weightLevels)
	if !(before > 0) || !(after > 0) || 10*math.Log10(before/after) < smoothMinGainDB {
		return false, nil
	}
	inv := make([]float64, k)
	for c := range scale {
		inv[c] = 1 / scale[c]
	}
	for _, v := range []*graph.Value{s.gamma, s.beta} {
		if err := mapF32(g, nil, v, func(i int, x float64) float64 { return x * inv[i%k] }); err != nil {
			return false, err
		}
	}
	for i, rd := range s.readers {
		if err := mapF32(g, weights[i], rd.w, func(j int, x float64) float64 { return x * scale[rd.channel(j)] }); err != nil {
			return false, err
		}
	}
	for _, v := range s.moved {
		if err := renameRescaledAxis(m, g, v, rankOf(v)-1, inv); err != nil {
			return false, err
		}
	}
	return true, nil
}

// relativeNoise estimates the quantization noise at the readers' outputs
// relative to their signal, with channel c of the site divided by
// scale[c] and row c of the weights multiplied by it: averaged over each
// reader's output columns, for the worst reader (see equalize_concat.go).
func (s smoothSite) relativeNoise(r ChannelRange, weights [][]float32, scale []float64, weightLevels float64) float64 {
	lo, hi := 0.0, 0.0
	for c := range scale {
		lo = math.Min(lo, float64(r.Min[c])/scale[c])
		hi = math.Max(hi, float64(r.Max[c])/scale[c])
	}
	stepA := (hi - lo) / 255
	var est worstReader
	for i, rd := range s.readers {
		rows, cols := int(rd.w.Const.Dims[0]), int(rd.w.Const.Dims[1])
		outputs := cols
		if rd.transposed {
			outputs = rows
		}
		at := func(c, o int) float64 {
			if rd.transposed {
				return float64(weights[i][o*cols+c])
			}
			return float64(weights[i][c*cols+o])
		}
		for o := range outputs {
			var row noiseRow
			for c := range scale {
				row.add(at(c, o), scale[c], r.MeanSquare[c])
			}
			est.row(row.relative(stepA, weightLevels))
		}
		est.endReader()
	}
	return est.worst
}
