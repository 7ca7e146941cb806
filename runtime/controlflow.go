// Control-flow kernels: If, Loop and Scan (opset 8 with a batch axis and
// sequence lengths, opset 9+ with scan axes and directions). Bodies run
// through Context.RunSubgraph; tensors are handled so that no output
// shares a buffer the executor may recycle (see bodyOutputs).

package runtime

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

func registerControlFlow(r *Registry) {
	r.Register("", "If", newIf)
	r.Register("", "Loop", newLoop)
	r.Register("", "Scan", newScan)
}

// cfGraphAttr returns a required graph attribute.
func cfGraphAttr(n *graph.Node, name string) (*graph.Graph, error) {
	a := n.Attr(name)
	if a == nil || a.Graph == nil {
		return nil, fmt.Errorf("attribute %q (a graph) is missing", name)
	}
	return a.Graph, nil
}

// cfRunBody runs a subgraph and returns its outputs, which the caller may
// return as kernel outputs or drop.
//
// RunSubgraph hands over every output by dropping the subgraph's hold on
// it; a body output that is a value of an enclosing graph was never held
// by the subgraph, so that drop is undone here, or the enclosing graph
// would recycle the buffer while it is still in use.
func cfRunBody(ctx *Context, g *graph.Graph, inputs []*Tensor) ([]*Tensor, error) {
	outs, err := ctx.RunSubgraph(g, inputs)
	if err != nil {
		return nil, err
	}
	if len(outs) != len(g.Outputs) {
		return nil, fmt.Errorf("subgraph %q returned %d outputs for %d", g.Name, len(outs), len(g.Outputs))
	}
	return outs, nil
}

// cfOwnOutput makes a body result fit to be a kernel output: a node input
// itself becomes a view of it, and a tensor whose data belongs to a fed
// body input or a constant (pinned) is copied, since the executor would
// not track its buffer.
func cfOwnOutput(ctx *Context, t *Tensor, nodeInputs []*Tensor) *Tensor {
	for _, in := range nodeInputs {
		if in != nil && in == t {
			return ctx.View(t, t.Shape...)
		}
	}
	if rootOf(t).pinned {
		return cfClone(ctx, t)
	}
	return t
}

// cfClone copies t into a new tensor.
func cfClone(ctx *Context, t *Tensor) *Tensor {
	c := ctx.Alloc(t.DType, t.Shape...)
	copyData(c.Data, t.Data)
	return c
}

// cfCopy copies n elements between two slices of one element type.
func cfCopy(dst any, dOff int, src any, sOff, n int) {
	switch d := dst.(type) {
	case []float32:
		copy(d[dOff:dOff+n], src.([]float32)[sOff:sOff+n])
	case []int64:
		copy(d[dOff:dOff+n], src.([]int64)[sOff:sOff+n])
	default:
		reflect.Copy(reflect.ValueOf(dst).Slice(dOff, dOff+n), reflect.ValueOf(src).Slice(sOff, sOff+n))
	}
}

// cfWindow returns data[lo:hi] of any tensor data slice.
func cfWindow(data any, lo, hi int) any {
	switch d := data.(type) {
	case []float32:
		return d[lo:hi]
	case []int64:
		return d[lo:hi]
	}
	return reflect.ValueOf(data).Slice(lo, hi).Interface()
}

func cfNumel(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// ---- If ----

type ifKernel struct {
	then, els *graph.Graph
	nOut      int
}

func newIf(n *graph.Node, opset int64) (Kernel, error) {
	th, err := cfGraphAttr(n, "then_branch")
	if err != nil {
		return nil, err
	}
	el, err := cfGraphAttr(n, "else_branch")
	if err != nil {
		return nil, err
	}
	if len(th.Outputs) != len(n.Outputs) || len(el.Outputs) != len(n.Outputs) {
		return nil, fmt.Errorf("branches have %d and %d outputs, the node %d", len(th.Outputs), len(el.Outputs), len(n.Outputs))
	}
	return &ifKernel{then: th, els: el, nOut: len(n.Outputs)}, nil
}

// cfCond reads a one-element condition tensor.
func cfCond(t *Tensor) (bool, error) {
	if t == nil || t.Len() != 1 {
		return false, fmt.Errorf("the condition must have one element, got %v", t)
	}
	if b, ok := t.Data.([]bool); ok {
		return b[0], nil
	}
	v, err := t.AsFloat64()
	if err != nil {
		return false, fmt.Errorf("the condition is %v, want bool", t.DType)
	}
	return v[0] != 0, nil
}

func (k *ifKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("If needs a condition")
	}
	c, err := cfCond(in[0])
	if err != nil {
		return nil, err
	}
	g := k.els
	if c {
		g = k.then
	}
	outs, err := cfRunBody(ctx, g, nil)
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// ---- stacking of per-iteration outputs ----

// cfStacker gathers per-iteration tensors of one shape into a tensor with a
// new axis of n positions.
type cfStacker struct {
	out   *Tensor
	shape []int // element shape
	axis  int   // position of the new axis in the output
	n     int
}

// put copies t to position pos of the new axis, allocating the output on
// the first call.
func (s *cfStacker) put(ctx *Context, t *Tensor, pos int, zeroed bool) error {
	if s.out == nil {
		if s.axis < 0 {
			s.axis += len(t.Shape) + 1
		}
		if s.axis < 0 || s.axis > len(t.Shape) {
			return fmt.Errorf("output axis is out of range for %v", t)
		}
		s.shape = append([]int{}, t.Shape...)
		shape := append(append(append([]int{}, t.Shape[:s.axis]...), s.n), t.Shape[s.axis:]...)
		if zeroed {
			s.out = ctx.AllocZeroed(t.DType, shape...)
		} else {
			s.out = ctx.Alloc(t.DType, shape...)
		}
	}
	if t.DType != s.out.DType || !equalShape(t.Shape, s.shape) {
		return fmt.Errorf("per-iteration output changed from %v[%v] to %v", s.out.DType, s.shape, t)
	}
	outer := cfNumel(s.shape[:s.axis])
	inner := cfNumel(s.shape[s.axis:])
	for o := 0; o < outer; o++ {
		cfCopy(s.out.Data, (o*s.n+pos)*inner, t.Data, o*inner, inner)
	}
	return nil
}

// cfEmptyStack is the output of a stack that received no element: its
// type and shape come from the body's declaration of the value.
func cfEmptyStack(ctx *Context, v *graph.Value, axis int, n int) *Tensor {
	dt := v.DType
	if dt == graph.Undefined {
		dt = graph.Float32
	}
	var shape []int
	for _, d := range v.Shape {
		shape = append(shape, max(int(d.Size), 0))
	}
	if axis < 0 {
		axis += len(shape) + 1
	}
	axis = min(max(axis, 0), len(shape))
	shape = append(append(append([]int{}, shape[:axis]...), n), shape[axis:]...)
	return ctx.AllocZeroed(dt, shape...)
}

// ---- Loop ----

// maxLoopIterations bounds the iterations of one Loop run: a trip count
// of 10^12, or a condition that never turns false, would otherwise keep
// calibration running until it is killed. Real loops (decoding steps,
// frames of a stream) stay far below it.
var maxLoopIterations int64 = 1 << 22

type loopKernel struct {
	body  *graph.Graph
	nCarr int // loop-carried values
	nScan int // scan outputs
	nOut  int
}

func newLoop(n *graph.Node, opset int64) (Kernel, error) {
	body, err := cfGraphAttr(n, "body")
	if err != nil {
		return nil, err
	}
	if len(n.Inputs) < 2 {
		return nil, fmt.Errorf("Loop needs M and cond inputs (either may be empty)")
	}
	nCarr := len(n.Inputs) - 2
	if got := len(body.RealInputs()); got != nCarr+2 {
		return nil, fmt.Errorf("the body takes %d inputs, want %d (iteration, condition, %d carried)", got, nCarr+2, nCarr)
	}
	nScan := len(body.Outputs) - 1 - nCarr
	if nScan < 0 {
		return nil, fmt.Errorf("the body has %d outputs, want at least %d", len(body.Outputs), 1+nCarr)
	}
	if len(n.Outputs) > nCarr+nScan {
		return nil, fmt.Errorf("the node has %d outputs, the body gives %d", len(n.Outputs), nCarr+nScan)
	}
	return &loopKernel{body: body, nCarr: nCarr, nScan: nScan, nOut: len(n.Outputs)}, nil
}

func (k *loopKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) != 2+k.nCarr {
		return nil, fmt.Errorf("Loop got %d inputs, want %d", len(in), 2+k.nCarr)
	}
	maxTrip := int64(-1) // no limit
	if in[0] != nil {
		if in[0].Len() != 1 {
			return nil, fmt.Errorf("M must have one element, got %v", in[0])
		}
		switch d := in[0].Data.(type) {
		case []int64:
			maxTrip = max(d[0], 0)
		case []int32:
			maxTrip = max(int64(d[0]), 0)
		default:
			return nil, fmt.Errorf("M is %v, want int64", in[0].DType)
		}
	}
	cond := true
	if in[1] != nil {
		c, err := cfCond(in[1])
		if err != nil {
			return nil, err
		}
		cond = c
	}
	carried := make([]*Tensor, k.nCarr)
	for i := range carried {
		if in[2+i] == nil {
			return nil, fmt.Errorf("loop-carried input %d is missing", i)
		}
		carried[i] = in[2+i]
	}
	var scans [][]*Tensor
	// the bytes each scan output holds so far: the stacked output is one
	// tensor, bounded as any other (checkAlloc), and a loop of many
	// iterations must stop at that bound rather than run out of memory
	scanBytes := make([]int64, k.nScan)
	for it := int64(0); cond && (maxTrip < 0 || it < maxTrip); it++ {
		if it == maxLoopIterations {
			bound := "no trip count"
			if maxTrip >= 0 {
				bound = fmt.Sprintf("trip count %d", maxTrip)
			}
			return nil, fmt.Errorf("stopped after %d iterations (%s, condition still true): onnxq's runtime runs a Loop at most that many times", it, bound)
		}
		iter := New(graph.Int64)
		iter.Data.([]int64)[0] = it
		cin := New(graph.Bool)
		cin.Data.([]bool)[0] = cond
		feeds := append([]*Tensor{iter, cin}, carried...)
		outs, err := cfRunBody(ctx, k.body, feeds)
		if err != nil {
			return nil, fmt.Errorf("iteration %d: %w", it, err)
		}
		// The body's condition ends the loop whether or not cond was
		// given (a loop with neither M nor cond would never end otherwise).
		c, err := cfCond(outs[0])
		if err != nil {
			return nil, fmt.Errorf("iteration %d: body %w", it, err)
		}
		cond = c
		copy(carried, outs[1:1+k.nCarr])
		// Per-iteration outputs are no longer held by anyone but this
		// kernel, so they stay valid until they are stacked at the end.
		// They are copied out of outs, whose array also holds this
		// iteration's carried values: kept, it would keep every
		// iteration's state alive.
		if k.nScan > 0 {
			for j, t := range outs[1+k.nCarr:] {
				if t == nil {
					continue
				}
				if scanBytes[j] += tensorBytes(t); scanBytes[j] > tensorBytesLimit() {
					return nil, fmt.Errorf("scan output %d passes %s after %d iterations, more than the %s this machine allows one tensor (half its memory)",
						j, byteSize(scanBytes[j]), it+1, byteSize(tensorBytesLimit()))
				}
			}
			scans = append(scans, slices.Clone(outs[1+k.nCarr:]))
		}
	}
	res := make([]*Tensor, k.nCarr+k.nScan)
	for i, t := range carried {
		res[i] = cfOwnOutput(ctx, t, in)
	}
	for j := 0; j < k.nScan; j++ {
		v := k.body.Outputs[1+k.nCarr+j]
		if len(scans) == 0 {
			res[k.nCarr+j] = cfEmptyStack(ctx, v, 0, 0)
			continue
		}
		s := &cfStacker{n: len(scans)}
		for it, outs := range scans {
			if err := s.put(ctx, outs[j], it, false); err != nil {
				return nil, fmt.Errorf("scan output %d: %w", j, err)
			}
		}
		res[k.nCarr+j] = s.out
	}
	return res[:k.nOut], nil
}

// ---- Scan ----

type scanKernel struct {
	body     *graph.Graph
	opset8   bool
	nScanIn  int
	inAxes   []int64
	inRev    []bool
	outAxes  []int64
	outRev   []bool
	nStates  int
	nScanOut int
	nOut     int
}

func newScan(n *graph.Node, opset int64) (Kernel, error) {
	body, err := cfGraphAttr(n, "body")
	if err != nil {
		return nil, err
	}
	k := &scanKernel{body: body, opset8: opset < 9, nOut: len(n.Outputs)}
	m := n.AttrInt("num_scan_inputs", -1)
	if m < 1 {
		return nil, fmt.Errorf("num_scan_inputs must be positive, got %d", m)
	}
	k.nScanIn = int(m)
	nIn := len(n.Inputs)
	if k.opset8 {
		nIn-- // sequence_lens
	}
	k.nStates = nIn - k.nScanIn
	if k.nStates < 0 {
		return nil, fmt.Errorf("num_scan_inputs is %d but the node has %d inputs", m, len(n.Inputs))
	}
	if got := len(body.RealInputs()); got != nIn {
		return nil, fmt.Errorf("the body takes %d inputs, want %d", got, nIn)
	}
	k.nScanOut = len(body.Outputs) - k.nStates
	if k.nScanOut < 0 {
		return nil, fmt.Errorf("the body has %d outputs, want at least %d states", len(body.Outputs), k.nStates)
	}
	if len(n.Outputs) > k.nStates+k.nScanOut {
		return nil, fmt.Errorf("the node has %d outputs, the body gives %d", len(n.Outputs), k.nStates+k.nScanOut)
	}
	flags := func(name string, count int) ([]bool, error) {
		v := n.AttrInts(name)
		if v == nil {
			return make([]bool, count), nil
		}
		if len(v) != count {
			return nil, fmt.Errorf("%s has %d entries, want %d", name, len(v), count)
		}
		out := make([]bool, count)
		for i, x := range v {
			if x != 0 && x != 1 {
				return nil, fmt.Errorf("%s entries must be 0 or 1, got %d", name, x)
			}
			out[i] = x == 1
		}
		return out, nil
	}
	axes := func(name string, count int) ([]int64, error) {
		v := n.AttrInts(name)
		if v == nil {
			return make([]int64, count), nil
		}
		if len(v) != count {
			return nil, fmt.Errorf("%s has %d entries, want %d", name, len(v), count)
		}
		return v, nil
	}
	if k.opset8 {
		if k.inRev, err = flags("directions", k.nScanIn); err != nil {
			return nil, err
		}
		k.inAxes = make([]int64, k.nScanIn)
		k.outAxes = make([]int64, k.nScanOut)
		k.outRev = make([]bool, k.nScanOut)
		return k, nil
	}
	if k.inRev, err = flags("scan_input_directions", k.nScanIn); err != nil {
		return nil, err
	}
	if k.outRev, err = flags("scan_output_directions", k.nScanOut); err != nil {
		return nil, err
	}
	if k.inAxes, err = axes("scan_input_axes", k.nScanIn); err != nil {
		return nil, err
	}
	if k.outAxes, err = axes("scan_output_axes", k.nScanOut); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *scanKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if k.opset8 {
		return k.run8(ctx, in)
	}
	if len(in) != k.nStates+k.nScanIn {
		return nil, fmt.Errorf("Scan got %d inputs, want %d", len(in), k.nStates+k.nScanIn)
	}
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
	}
	states, scanOuts, err := k.scan(ctx, in[:k.nStates], in[k.nStates:], -1)
	if err != nil {
		return nil, err
	}
	res := make([]*Tensor, 0, k.nStates+k.nScanOut)
	for _, t := range states {
		res = append(res, cfOwnOutput(ctx, t, in))
	}
	res = append(res, scanOuts...)
	return res[:k.nOut], nil
}

// scan runs the body over the scan inputs. seqLen < 0 means the whole
// length of the scan axis; otherwise only the first seqLen positions are
// visited (opset 8 sequence lengths, scan axis 0).
func (k *scanKernel) scan(ctx *Context, init, inputs []*Tensor, seqLen int) ([]*Tensor, []*Tensor, error) {
	axes := make([]int, len(inputs))
	length := -1
	for i, t := range inputs {
		a, err := NormalizeAxis(k.inAxes[i], t.Rank())
		if err != nil {
			return nil, nil, fmt.Errorf("scan input %d: %v", i, err)
		}
		axes[i] = a
		if length >= 0 && t.Shape[a] != length {
			return nil, nil, fmt.Errorf("scan input %d has %d positions along axis %d, the first has %d", i, t.Shape[a], a, length)
		}
		length = t.Shape[a]
	}
	if seqLen >= 0 {
		length = min(length, seqLen)
	}
	states := append([]*Tensor{}, init...)
	stacks := make([]*cfStacker, k.nScanOut)
	for j := range stacks {
		stacks[j] = &cfStacker{n: length, axis: int(k.outAxes[j])}
	}
	feeds := make([]*Tensor, len(init)+len(inputs))
	for t := 0; t < length; t++ {
		copy(feeds, states)
		for i, x := range inputs {
			pos := t
			if k.inRev[i] {
				pos = length - 1 - t
			}
			feeds[len(init)+i] = scanSlice(ctx, x, axes[i], pos)
		}
		outs, err := cfRunBody(ctx, k.body, feeds)
		if err != nil {
			return nil, nil, fmt.Errorf("iteration %d: %w", t, err)
		}
		copy(states, outs[:len(init)])
		for j, s := range stacks {
			pos := t
			if k.outRev[j] {
				pos = length - 1 - t
			}
			if err := s.put(ctx, outs[len(init)+j], pos, false); err != nil {
				return nil, nil, fmt.Errorf("scan output %d: %w", j, err)
			}
		}
	}
	scanOuts := make([]*Tensor, k.nScanOut)
	for j, s := range stacks {
		if s.out == nil {
			scanOuts[j] = cfEmptyStack(ctx, k.body.Outputs[len(init)+j], int(k.outAxes[j]), 0)
		} else {
			scanOuts[j] = s.out
		}
	}
	return states, scanOuts, nil
}

// scanSlice returns x at position pos of axis: a window of x's data when
// the axis is the first one (the body only reads it), a copy otherwise.
func scanSlice(ctx *Context, x *Tensor, axis, pos int) *Tensor {
	shape := append(append([]int{}, x.Shape[:axis]...), x.Shape[axis+1:]...)
	inner := cfNumel(x.Shape[axis+1:])
	if axis == 0 {
		return &Tensor{DType: x.DType, Shape: shape, Data: cfWindow(x.Data, pos*inner, (pos+1)*inner)}
	}
	out := ctx.Alloc(x.DType, shape...)
	outer := cfNumel(x.Shape[:axis])
	n := x.Shape[axis]
	for o := 0; o < outer; o++ {
		cfCopy(out.Data, o*inner, x.Data, (o*n+pos)*inner, inner)
	}
	return out
}

// run8 is Scan of opset 8: every input has a leading batch axis, scan
// inputs are scanned along axis 1, and sequence_lens limits the steps of
// each batch entry (outputs past it are zero).
func (k *scanKernel) run8(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) != 1+k.nStates+k.nScanIn {
		return nil, fmt.Errorf("Scan got %d inputs, want %d", len(in), 1+k.nStates+k.nScanIn)
	}
	rest := in[1:]
	for i, t := range rest {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i+1)
		}
		if t.Rank() < 1 || (i >= k.nStates && t.Rank() < 2) {
			return nil, fmt.Errorf("input %d is %v: it needs a batch axis (and a sequence axis for scan inputs)", i+1, t)
		}
	}
	batch := rest[0].Shape[0]
	maxLen := 0
	for i, t := range rest {
		if t.Shape[0] != batch {
			return nil, fmt.Errorf("input %d has batch %d, want %d", i+1, t.Shape[0], batch)
		}
		if i == k.nStates {
			maxLen = t.Shape[1]
		}
	}
	lens := make([]int, batch)
	for b := range lens {
		lens[b] = maxLen
	}
	if sl := in[0]; sl != nil {
		if sl.Len() != batch {
			return nil, fmt.Errorf("sequence_lens is %v, want %d entries", sl, batch)
		}
		for b := range lens {
			var v int64
			switch d := sl.Data.(type) {
			case []int64:
				v = d[b]
			case []int32:
				v = int64(d[b])
			default:
				return nil, fmt.Errorf("sequence_lens is %v, want int64", sl.DType)
			}
			if v < 0 || v > int64(maxLen) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d is outside [0, %d]", b, v, maxLen)
			}
			lens[b] = int(v)
		}
	}
	stateStacks := make([]*cfStacker, k.nStates)
	for i := range stateStacks {
		stateStacks[i] = &cfStacker{n: batch}
	}
	perBatch := make([][]*Tensor, batch) // scan outputs of each batch entry
	for b := 0; b < batch; b++ {
		init := make([]*Tensor, k.nStates)
		for i := range init {
			init[i] = scanSlice(ctx, rest[i], 0, b)
		}
		inputs := make([]*Tensor, k.nScanIn)
		for i := range inputs {
			inputs[i] = scanSlice(ctx, rest[k.nStates+i], 0, b)
		}
		states, scanOuts, err := k.scan(ctx, init, inputs, lens[b])
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b, err)
		}
		for i, s := range stateStacks {
			if err := s.put(ctx, states[i], b, false); err != nil {
				return nil, fmt.Errorf("state %d: %w", i, err)
			}
		}
		perBatch[b] = scanOuts
	}
	res := make([]*Tensor, 0, k.nStates+k.nScanOut)
	for i, s := range stateStacks {
		if s.out == nil {
			res = append(res, cfEmptyStack(ctx, k.body.Outputs[i], 0, 0))
		} else {
			res = append(res, s.out)
		}
	}
	for j := 0; j < k.nScanOut; j++ {
		// The element shape comes from an entry that ran; shorter
		// sequences are padded with zeros.
		var elem *Tensor
		for b := range perBatch {
			if lens[b] > 0 {
				elem = perBatch[b][j]
				break
			}
		}
		if elem == nil {
			e := cfEmptyStack(ctx, k.body.Outputs[k.nStates+j], 0, maxLen)
			res = append(res, ctx.AllocZeroed(e.DType, append([]int{batch}, e.Shape...)...))
			continue
		}
		shape := append([]int{batch, maxLen}, elem.Shape[1:]...)
		out := ctx.AllocZeroed(elem.DType, shape...)
		step := cfNumel(elem.Shape[1:])
		for b, outs := range perBatch {
			o := outs[j]
			if lens[b] == 0 {
				continue
			}
			if o.DType != elem.DType || !equalShape(o.Shape[1:], elem.Shape[1:]) {
				return nil, fmt.Errorf("scan output %d of batch %d is %v, batch 0 gave %v", j, b, o, elem)
			}
			cfCopy(out.Data, b*maxLen*step, o.Data, 0, o.Len())
		}
		res = append(res, out)
	}
	return res[:k.nOut], nil
}
