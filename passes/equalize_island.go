// This file holds the hard-swish part of equalize-activations. A Conv
// whose output a hard-swish reads leaves one per-tensor grid to channels
// of very different reach: in MobileNetV3-style blocks one channel spans
// 80 and most stay below 3 (ppocr_det_mobile_v1_1), so a Q/DQ on that
// output (the one that makes the Conv a complete integer unit) leaves
// the quiet channels a few steps. A hard-swish is not positively
// homogeneous, so the factors cannot pass through it as through a Relu
// (equalize_activations.go); they are undone just before it instead:
//
//	Conv -> x' -> Mul(1/u) -> x -> hard-swish
//
// Output channel k of the Conv (weights and bias) is multiplied by u_k,
// which per-channel weight scales absorb exactly, and the Mul gives the
// hard-swish x itself, so the float model computes the same. Once the
// model is quantized, FoldRescaleMuls moves 1/u into the DequantizeLinear
// after x''s QuantizeLinear (a scale per channel), or, where x' got no
// Q/DQ, back into the Conv's weight and bias scales: no Mul is left to
// run.
//
// Below the hard-swish's gate (-3) every value acts the same, so the
// channels' ranges are taken from there up (DeadBounds clamps the rest),
// and a channel is scaled to at most half the loudest channel's reach:
// a channel quiet on the calibration samples and loud on others is then
// clipped less.

package passes

import (
	"bytes"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// hardSwishZero is where a hard-swish's gate closes: below it the output
// is 0 whatever the input.
const hardSwishZero = -3

// islandHeadroom is how far below the loudest channel's reach a quieter
// channel's is raised. Measured on ppocr_det_mobile_v1_1 with every unit
// complete, on six splits of its samples in ONNX Runtime, raising
// channels to the full reach or to half of it gave the same mean (14.8
// and 14.9 dB), the half a better worst split (11.2 dB against 10.1).
const islandHeadroom = 2

// islandSite is a Conv whose output only a hard-swish reads.
type islandSite struct {
	x      *graph.Value  // the Conv's output
	region []*graph.Node // the hard-swish's nodes
	conv   *graph.Node
	w, b   *graph.Value // b may be nil
}

// islandSites returns the Convs of m's main graph whose output only a
// hard-swish reads (a HardSwish op, or one written with elementwise ops),
// with weights and bias of their own, in graph order.
func islandSites(m *graph.Model) []islandSite {
	g := m.Graph
	opset, _ := m.Opset("")
	regions, err := hardSwishRegions(g, opset)
	if err != nil {
		return nil
	}
	for _, n := range g.Nodes {
		if isDefaultOp(n, "HardSwish") && n.Input(0) != nil && n1(n.Outputs) == 1 && n.Outputs[0] != nil {
			regions = append(regions, hardSwishRegion{x: n.Input(0), region: []*graph.Node{n}})
		}
	}
	var sites []islandSite
	for _, r := range regions {
		s := islandSite{x: r.x, region: r.region}
		if s.find(m, g) {
			sites = append(sites, s)
		}
	}
	pos := map[*graph.Node]int{}
	for i, n := range g.Nodes {
		pos[n] = i
	}
	slices.SortFunc(sites, func(a, b islandSite) int { return pos[a.conv] - pos[b.conv] })
	return sites
}

// find sets the Conv when x is a Conv's only output, which only the
// hard-swish reads, with weights and bias of its own.
func (s *islandSite) find(m *graph.Model, g *graph.Graph) bool {
	x := s.x
	c := x.Producer
	if x.Graph != g || !isDefaultOp(c, "Conv") || n1(c.Outputs) != 1 || isGraphOutput(g, x) || len(x.Consumers) == 0 {
		return false
	}
	for _, r := range x.Consumers {
		if !slices.Contains(s.region, r) {
			return false
		}
	}
	w, b := c.Input(1), c.Input(2)
	if w == nil || !ownedF32(m, g, c, w) || len(w.Const.Dims) < 3 || w.Const.Dims[0] <= 0 {
		return false
	}
	if b != nil && (!ownedF32(m, g, c, b) || len(b.Const.Dims) != 1 || b.Const.Dims[0] != w.Const.Dims[0]) {
		return false
	}
	s.conv, s.w, s.b = c, w, b
	return true
}

// IslandCandidates returns the names of the Conv outputs before
// hard-swishes that equalize-activations can rescale: their per-channel
// ranges (axis 1) are what it needs.
func IslandCandidates(m *graph.Model) []string {
	var out []string
	for _, s := range islandSites(m) {
		out = append(out, s.x.Name)
	}
	return out
}

// equalizeIslands rescales every site whose ranges are known and whose
// value keep does not name, and returns how many it rescaled.
func equalizeIslands(m *graph.Model, ranges map[string]ChannelRange, keep map[string]bool) (int, error) {
	done := 0
	for _, s := range islandSites(m) {
		r, ok := ranges[s.x.Name]
		if !ok || keep[s.x.Name] {
			continue
		}
		ok, err := s.rescale(m, r)
		if err != nil {
			return done, err
		}
		if ok {
			done++
		}
	}
	return done, nil
}

// rescale multiplies the Conv's output channels by u and puts Mul(1/u)
// between it and the hard-swish; it reports false when no u is worth it.
func (s islandSite) rescale(m *graph.Model, r ChannelRange) (bool, error) {
	c := int(s.w.Const.Dims[0])
	if len(r.Min) != c || len(r.Max) != c {
		return false, nil
	}
	lo, hi := make([]float64, c), make([]float64, c)
	for k := range c {
		lo[k] = math.Max(math.Min(float64(r.Min[k]), 0), hardSwishZero)
		hi[k] = math.Max(float64(r.Max[k]), 0)
	}
	u, ok := spreadScales(lo, hi)
	if !ok {
		return false, nil
	}
	w, err := s.w.Const.Float32s()
	if err != nil || len(w)%c != 0 {
		return false, nil
	}
	g := m.Graph
	per := len(w) / c
	if err := mapF32(g, w, s.w, func(i int, x float64) float64 { return x * u[i/per] }); err != nil {
		return false, err
	}
	if err := mapF32(g, nil, s.b, func(i int, x float64) float64 { return x * u[i] }); err != nil {
		return false, err
	}
	readers := slices.Clone(s.x.Consumers)
	name := s.x.Name
	if err := renameRescaledValue(m, g, s.x, u); err != nil {
		return false, err
	}
	back, err := insertChannelMul(g, s.x, name, invert(u), len(s.w.Const.Dims), slices.Index(g.Nodes, s.conv)+1)
	if err != nil {
		return false, err
	}
	for _, n := range readers {
		for i, in := range n.Inputs {
			if in == s.x {
				n.SetInput(i, back)
			}
		}
	}
	return true, nil
}

// insertChannelMul inserts, at position pos of g, a Mul of x by factors
// along axis 1 of a rank-rank tensor, and returns its output, named name.
func insertChannelMul(g *graph.Graph, x *graph.Value, name string, factors []float64, rank, pos int) (*graph.Value, error) {
	dims := make([]int64, rank-1)
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = int64(len(factors))
	f := make([]float32, len(factors))
	for k, v := range factors {
		f[k] = float32(v)
	}
	t, err := graph.FromFloat32s(g.UniqueName(name+"_factors"), dims, f)
	fv, err := addTensor(g, t, err)
	if err != nil {
		return nil, err
	}
	mul := &graph.Node{OpType: "Mul", Name: g.UniqueNodeName(x.Producer.Name + "_rescale"), Inputs: []*graph.Value{x, fv}}
	if err := g.InsertNode(pos, mul, name); err != nil {
		return nil, err
	}
	out := mul.Outputs[0]
	out.DType, out.Shape = x.DType, x.Shape
	return out, nil
}

// spreadScales chooses a factor u_k ≥ 1 for each channel of a value whose
// channel k spans [lo_k, hi_k] (lo_k ≤ 0 ≤ hi_k), so that one per-tensor
// grid over the scaled channels leaves the least rounding noise in the
// original units, summed over the channels: channel k's is the grid's
// step over u_k. The loudest channel keeps the top of the range, the
// others reach at most 1/islandHeadroom of it; the bottom may reach
// further down than the lowest channel's, where channels quiet above 0
// reach far below it. It reports false unless the noise falls by 1 dB.
func spreadScales(lo, hi []float64) ([]float64, bool) {
	top, bottom := 0.0, 0.0
	for k := range lo {
		if !finite(lo[k]) || !finite(hi[k]) {
			return nil, false
		}
		top, bottom = math.Max(top, hi[k]), math.Min(bottom, lo[k])
	}
	if !(top > 0) {
		return nil, false
	}
	scales := func(floor float64) ([]float64, float64) {
		u := make([]float64, len(lo))
		noise := 0.0
		for k := range lo {
			f := float64(equalizeMaxScale)
			if hi[k] > 0 {
				f = math.Min(f, top/hi[k]/islandHeadroom)
			}
			if lo[k] < 0 {
				f = math.Min(f, floor/lo[k]/islandHeadroom)
			}
			u[k] = math.Max(f, 1)
			noise += 1 / (u[k] * u[k])
		}
		width := top - floor
		return u, width * width * noise
	}
	// unscaled, every channel has the whole range's step
	before := (top - bottom) * (top - bottom) * float64(len(lo))
	var best []float64
	bestNoise := before
	// the bottom of the range, from the lowest channel's down to where
	// the largest factor takes a channel as loud as the top
	for i := 0; i <= 40; i++ {
		floor := bottom * math.Pow(2, float64(i)/4)
		if floor < -top*equalizeMaxScale || i > 0 && bottom == 0 {
			break
		}
		if u, n := scales(floor); n < bestNoise {
			best, bestNoise = u, n
		}
	}
	if best == nil || 10*math.Log10(before/bestNoise) < 1 {
		return nil, false
	}
	moved := false
	for k, f := range best {
		// tiny moves are not worth a float rounding
		if f < 1.01 {
			best[k] = 1
		}
		moved = moved || best[k] != 1
	}
	return best, moved
}

// reasonRescaleMul says why the Muls before hard-swishes stay float
// (until FoldRescaleMuls folds them away).
const reasonRescaleMul = "channel rescaling before a float hard-swish (equalize-activations), folded into the Q/DQ or weights beside it"

// rescaleMuls returns the Muls of m's main graph that equalize-activations
// put before hard-swishes: a Mul by a constant from a value of m's record
// of rescaled values (RescaledKey) to its original name.
func rescaleMuls(m *graph.Model) map[*graph.Node]bool {
	pairs, err := rescalePairs(m)
	if err != nil || len(pairs) == 0 {
		return nil
	}
	out := map[*graph.Node]bool{}
	for _, n := range m.Graph.Nodes {
		if !isDefaultOp(n, "Mul") || len(n.Inputs) != 2 || n1(n.Outputs) != 1 || n.Outputs[0] == nil {
			continue
		}
		x, f := n.Input(0), n.Input(1)
		if x != nil && f != nil && f.Const != nil && x.Const == nil && pairs[[2]string{x.Name, n.Outputs[0].Name}] {
			out[n] = true
		}
	}
	return out
}

// rescalePairs returns the (rescaled name, original name) pairs of m's
// record of rescaled values (RescaledKey).
func rescalePairs(m *graph.Model) (map[[2]string]bool, error) {
	rs, err := Rescales(m)
	pairs := map[[2]string]bool{}
	for _, r := range rs {
		pairs[[2]string{r.Value, r.Original}] = true
	}
	return pairs, err
}

// FoldRescaleMuls folds the Muls equalize-activations put before
// hard-swishes into what is next to them, once m is quantized:
//
//	x' -> Q(s, z) -> DQ(s, z) -> Mul(1/u) -> x   becomes   x' -> Q(s, z) -> DQ(s/u, z) -> x
//
// the DQ taking a scale and zero point per channel (axis 1, opset 13),
// so the integer Conv still writes one grid per tensor. Where x' got no
// Q/DQ, Conv -> x' -> Mul(1/u) -> x becomes Conv -> x, 1/u moved into
// the scales of the Conv's per-channel DequantizeLinear weight and
// int32 bias, or into FP32 weights and bias. It returns the names of the
// Muls folded; one that fits neither stays.
func FoldRescaleMuls(m *graph.Model) ([]string, error) {
	if m == nil || m.Graph == nil {
		return nil, nil
	}
	pairs, err := rescalePairs(m)
	if err != nil || len(pairs) == 0 {
		return nil, err
	}
	opset, _ := m.Opset("")
	g := m.Graph
	var folded []string
	for _, n := range slices.Clone(g.Nodes) {
		if !isDefaultOp(n, "Mul") || len(n.Inputs) != 2 || n1(n.Outputs) != 1 || n.Outputs[0] == nil || n.Input(0) == nil {
			continue
		}
		factors, ok := positiveConsts(n.Input(1))
		if !ok {
			continue
		}
		in, out := n.Input(0), n.Outputs[0]
		var done bool
		switch {
		case opset >= 13 && pairs[[2]string{dequantizedValue(in), out.Name}]:
			done, err = foldIntoDequantize(g, n, factors)
		case pairs[[2]string{in.Name, out.Name}]:
			done, err = foldIntoConv(g, n, factors)
		}
		if err != nil {
			return folded, err
		}
		if done {
			folded = append(folded, n.Name)
		}
	}
	if len(folded) > 0 {
		return folded, pruneRescales(m)
	}
	return nil, nil
}

// NoteRescaleFolds drops the FP32 entries of r for the Muls
// FoldRescaleMuls folded away.
func (r *QuantReport) NoteRescaleFolds(folded []string) {
	if r == nil || len(folded) == 0 {
		return
	}
	r.FP32 = slices.DeleteFunc(r.FP32, func(e FP32Node) bool { return e.Reason == reasonRescaleMul && slices.Contains(folded, e.Node) })
}

// dequantizedValue returns the name of the value whose Q/DQ pair makes
// v (v = DequantizeLinear(QuantizeLinear(x)): x's name), or "".
func dequantizedValue(v *graph.Value) string {
	dq := v.Producer
	if !isDefaultOp(dq, "DequantizeLinear") || dq.Input(0) == nil {
		return ""
	}
	q := dq.Input(0).Producer
	if !isDefaultOp(q, "QuantizeLinear") || q.Input(0) == nil {
		return ""
	}
	return q.Input(0).Name
}

// foldIntoDequantize folds Mul(x', 1/u) -> x, reading the output of a
// per-tensor DequantizeLinear that nothing else reads, into that DQ's
// scales.
func foldIntoDequantize(g *graph.Graph, mul *graph.Node, factors []float64) (bool, error) {
	in := mul.Input(0)
	dq := in.Producer
	if len(in.Consumers) != 1 || isGraphOutput(g, in) {
		return false, nil
	}
	s, zp := dq.Input(1), dq.Input(2)
	if s == nil || zp == nil || s.Const == nil || zp.Const == nil || s.Const.NumElements() != 1 || zp.Const.NumElements() != 1 || s.Const.DType != graph.Float32 {
		return false, nil
	}
	scale, err := s.Const.Float32s()
	if err != nil || !(scale[0] > 0) {
		return false, nil
	}
	c := int64(len(factors))
	raw, err := zp.Const.Raw()
	if err != nil {
		return false, nil
	}
	sv, err := addChannelScales(g, dq, slices.Repeat(scale, int(c)), factors)
	if err != nil {
		return false, err
	}
	zt, err := graph.NewTensor(g.UniqueName(dq.Name+"_channel_zero_point"), zp.Const.DType, []int64{c}, bytes.Repeat(raw, int(c)))
	zv, err := addTensor(g, zt, err)
	if err != nil {
		return false, err
	}
	dq.SetInput(1, sv)
	dq.SetInput(2, zv)
	dq.SetAttr(graph.IntAttr("axis", 1))
	// The DQ's output keeps its own name: x's would now name a
	// dequantized value, which tools matching tensors by name (compare)
	// would take for FLOAT's x.
	out := mul.Outputs[0]
	replaceAllUses(g, out, in)
	if err := g.RemoveNode(mul); err != nil {
		return false, err
	}
	forgetValues(g, out)
	return true, nil
}

// foldIntoConv folds Mul(x', 1/u) -> x, where x' is a Conv's output that
// only the Mul reads, back into the Conv: the scales of its weight's
// per-channel DequantizeLinear (axis 0) and of its bias's, or its FP32
// weights and bias, take the factors, and the Conv's output takes x's
// name.
func foldIntoConv(g *graph.Graph, mul *graph.Node, factors []float64) (bool, error) {
	in := mul.Input(0)
	conv := in.Producer
	if !isDefaultOp(conv, "Conv") || len(in.Consumers) != 1 || isGraphOutput(g, in) {
		return false, nil
	}
	c := len(factors)
	var edits []func() error
	for slot := 1; slot <= 2; slot++ {
		v := conv.Input(slot)
		if v == nil {
			continue
		}
		edit, ok := channelScaler(g, conv, v, factors)
		if !ok {
			return false, nil
		}
		edits = append(edits, edit)
	}
	if c == 0 || len(edits) == 0 {
		return false, nil
	}
	for _, e := range edits {
		if err := e(); err != nil {
			return false, err
		}
	}
	return true, replaceNodeBy(g, mul, in)
}

// channelScaler returns the edit that multiplies output channel k of
// conv's weight or bias v by factors[k]: v's float data when v is a float
// constant only conv reads, else the scale of the DequantizeLinear making
// v (per channel along axis 0, or per tensor for a bias of one channel),
// which only conv reads; false when v is neither.
func channelScaler(g *graph.Graph, conv *graph.Node, v *graph.Value, factors []float64) (func() error, bool) {
	c := len(factors)
	if v.Const != nil {
		data, err := v.Const.Float32s()
		if err != nil || v.Const.DType != graph.Float32 || len(v.Consumers) != 1 || len(data)%c != 0 || v.Const.Dims[0] != int64(c) {
			return nil, false
		}
		per := len(data) / c
		return func() error { return mapF32(g, data, v, func(i int, x float64) float64 { return x * factors[i/per] }) }, true
	}
	dq := v.Producer
	if !isDefaultOp(dq, "DequantizeLinear") || len(v.Consumers) != 1 || v.Consumers[0] != conv {
		return nil, false
	}
	s := dq.Input(1)
	if s == nil || s.Const == nil || s.Const.DType != graph.Float32 || s.Const.NumElements() != int64(c) || len(s.Const.Dims) != 1 || dq.AttrInt("axis", 1) != 0 && c > 1 {
		return nil, false
	}
	scale, err := s.Const.Float32s()
	if err != nil {
		return nil, false
	}
	return func() error {
		nv, err := addChannelScales(g, dq, scale, factors)
		if err != nil {
			return err
		}
		dq.SetInput(1, nv)
		return nil
	}, true
}

// addChannelScales adds, for DequantizeLinear dq, an initializer of the
// scales scale[k]·factors[k], one per channel.
func addChannelScales(g *graph.Graph, dq *graph.Node, scale []float32, factors []float64) (*graph.Value, error) {
	sc := make([]float32, len(factors))
	for k, f := range factors {
		sc[k] = float32(float64(scale[k]) * f)
	}
	t, err := graph.FromFloat32s(g.UniqueName(dq.Name+"_channel_scale"), []int64{int64(len(sc))}, sc)
	return addTensor(g, t, err)
}
