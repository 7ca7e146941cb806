package runtime

import (
	"cmp"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onnxq/onnxq/graph"
)

// Options configure a Session.
type Options struct {
	// Threads is the number of goroutines a kernel may use; 0 means
	// GOMAXPROCS. Results do not depend on it.
	Threads int
	// Observer, when set, sees every value as it is produced: node outputs
	// of the main graph and of subgraphs (once per execution of the
	// subgraph). It must not modify the tensor's data, nor keep it past
	// the call unless Hold keeps it.
	Observer func(v *graph.Value, t *Tensor)
	// Hold, when set, picks values whose tensors Observer may keep: the
	// tensor of such a value stays as it is, its buffer reused by no run,
	// until the caller hands it back with Session.Release, once for each
	// time Observer saw it. Keeping a tensor this way spares copying it.
	Hold func(v *graph.Value) bool
	// Registry supplies the kernels; nil means DefaultRegistry().
	Registry *Registry
	// Requantizer selects the QLinear kernels' requantization: float32 as
	// ONNX Runtime (the default) or fixed point (quant_fixed.go).
	Requantizer Requantizer
	// TimeOps makes RunWithStats report the time spent in each op type
	// (Stats.OpTimes); it costs two clock reads per node.
	TimeOps bool
	// Pool, when set, is where the session takes and returns its
	// intermediate buffers, shared with the other sessions given it (one
	// after another, they reuse each other's memory); nil gives the
	// session a pool of its own.
	Pool *BufferPool
}

// Session is a model prepared for execution: kernels built for every node
// (subgraphs included), constants decoded (dequantized initializers
// included), and an execution plan that
// releases each intermediate tensor after its last reader. Run may be
// called from several goroutines at once.
type Session struct {
	model *graph.Model
	opts  Options
	plans map[*graph.Graph]*plan
	pool  *BufferPool
	// what the main graph was when the session planned it: a model
	// edited since fails Run (changed)
	main        *graph.Graph
	nodes       int
	outputs     []*graph.Value
	outputNames []string
}

// Stats describe one Run.
type Stats struct {
	// PeakBytes is the largest total size of intermediate tensors alive at
	// one time (graph inputs and constants not counted).
	PeakBytes int64
	// TotalBytes is the size of all intermediate tensors produced.
	TotalBytes int64
	// Nodes is the number of node executions (subgraph nodes included).
	Nodes int
	// OpTimes is the wall time per op type (domain-qualified outside the
	// default domain), longest first; only with Options.TimeOps. A node
	// that runs a subgraph counts the subgraph's nodes in its own time too.
	OpTimes []OpTime
}

// OpTime is the time the nodes of one op type took in a run.
type OpTime struct {
	Op    string
	Nodes int
	Time  time.Duration
}

type plan struct {
	g      *graph.Graph
	steps  []step
	index  map[*graph.Value]int // slot of each local value
	consts []constSlot
	inputs []*graph.Value // the graph inputs callers feed
	uses   []int          // reads of each slot: steps plus graph outputs
	nslots int
}

type constSlot struct {
	slot int
	t    *Tensor
}

type step struct {
	node    *graph.Node
	kernel  Kernel
	opset   int64
	release []int // local slots whose last reader is this step
}

// NewSession prepares m for execution. It fails if an op has no kernel
// (naming the op, node and opset), if a node's attributes cannot be run,
// or if the graph has a cycle.
func NewSession(m *graph.Model, opts Options) (*Session, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("runtime: no model")
	}
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry()
	}
	if opts.Threads <= 0 {
		opts.Threads = goruntime.GOMAXPROCS(0)
	}
	pool := opts.Pool
	if pool == nil {
		pool = NewBufferPool()
	}
	s := &Session{model: m, opts: opts, plans: map[*graph.Graph]*plan{}, pool: pool,
		main: m.Graph, nodes: len(m.Graph.Nodes), outputs: slices.Clone(m.Graph.Outputs)}
	for _, v := range s.outputs {
		s.outputNames = append(s.outputNames, v.Name)
	}
	var unsupported []string
	var firstErr error
	m.Graph.Walk(func(g *graph.Graph) {
		if firstErr != nil {
			return
		}
		p, missing, err := s.compile(g)
		if err != nil {
			firstErr = err
			return
		}
		unsupported = append(unsupported, missing...)
		s.plans[g] = p
	})
	if len(unsupported) > 0 {
		extra := ""
		if len(unsupported) > 1 {
			// the other nodes without a kernel, and their ops past the
			// first's
			first := dedupe(unsupported[:1])
			var others []string
			for _, op := range dedupe(unsupported[1:]) {
				if !slices.Contains(first, op) {
					others = append(others, op)
				}
			}
			extra = fmt.Sprintf(" (and %d more nodes without a kernel", len(unsupported)-1)
			if len(others) > 0 {
				extra += ", of ops " + strings.Join(others, ", ")
			}
			extra += ")"
		}
		return nil, fmt.Errorf("%s%s", unsupported[0], extra)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return s, nil
}

// unsupported says why node n has no kernel: an op no kernel implements,
// or a call of one of the model's own functions, which onnxq does not
// expand.
func (s *Session) unsupported(n *graph.Node, opset int64) string {
	for _, f := range s.model.Functions {
		if f.Name() == n.OpType && f.Domain() == n.Domain {
			return fmt.Sprintf("op %s (domain %s), a function the model defines (onnxq runs no model-local functions), used by node %s", graph.PlainName(f.Name()), graph.PlainName(f.Domain()), nodeName(n))
		}
	}
	return unsupportedError(n, opset).Error()
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if i := strings.Index(s, " used by"); i > 0 {
			s = s[:i]
		}
		s = strings.TrimPrefix(s, "no kernel for op ")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Session) compile(g *graph.Graph) (*plan, []string, error) {
	nodes := g.Nodes
	if !g.IsTopological() {
		sorted := *g
		if err := sorted.SortTopologically(); err != nil {
			return nil, nil, err
		}
		nodes = sorted.Nodes
	}
	p := &plan{g: g, index: map[*graph.Value]int{}}
	slot := func(v *graph.Value) int {
		if i, ok := p.index[v]; ok {
			return i
		}
		p.index[v] = p.nslots
		p.nslots++
		return p.nslots - 1
	}
	for _, v := range g.Inputs {
		slot(v)
		if v.Const == nil {
			p.inputs = append(p.inputs, v)
		}
	}
	for _, v := range g.Initializers {
		t, err := pinnedFromGraph(v.Const)
		if err != nil {
			return nil, nil, fmt.Errorf("initializer %q: %v", v.Name, err)
		}
		p.consts = append(p.consts, constSlot{slot(v), t})
	}
	var missing []string
	for _, n := range nodes {
		opset, _ := s.model.Opset(n.Domain)
		b := s.opts.Registry.Lookup(n.Domain, n.OpType)
		if b == nil {
			missing = append(missing, s.unsupported(n, opset))
			continue
		}
		k, err := buildKernel(b, n, opset)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range n.Outputs {
			if v != nil {
				slot(v)
			}
		}
		p.steps = append(p.steps, step{node: n, kernel: k, opset: opset})
	}
	if s.opts.Observer == nil {
		s.foldConstSteps(p)
	}
	// Count the readers of each local slot and find each one's last reader.
	p.uses = make([]int, p.nslots)
	last := make([]int, p.nslots)
	for i := range last {
		last[i] = -1
	}
	for si, st := range p.steps {
		for _, v := range readsOf(st.node) {
			if idx, ok := p.index[v]; ok {
				p.uses[idx]++
				last[idx] = si
			}
		}
	}
	for _, v := range g.Outputs {
		if idx, ok := p.index[v]; ok {
			p.uses[idx]++
			last[idx] = len(p.steps) // kept for the caller
		}
	}
	// Outputs nobody reads (a second output left unused) go right after
	// the step that made them.
	for si, st := range p.steps {
		for _, v := range st.node.Outputs {
			if v != nil && last[p.index[v]] < 0 {
				last[p.index[v]] = si
			}
		}
	}
	for idx, si := range last {
		if si >= 0 && si < len(p.steps) {
			p.steps[si].release = append(p.steps[si].release, idx)
		}
	}
	return p, missing, nil
}

// constFoldBytes bounds the memory that foldConstSteps may keep: a
// weight dequantized once holds its FP32 size, as the float model did,
// where dequantizing it on every run cost a model with a 320 MB weight
// 1.05 s a run against 0.15 (and more memory, the pool keeping each
// run's copy).
const constFoldBytes = 1 << 30

// foldConstSteps runs, once, the DequantizeLinear steps that read only
// initializers (the weights and biases of a QDQ model's float ops give
// the same tensor on every run) and turns their outputs into constants
// of the plan, up to constFoldBytes in all. A step whose output is a
// graph output, or that fails, stays a step (its error then comes from
// Run, as before). Without an observer only: it must see every node's
// output as the node runs.
func (s *Session) foldConstSteps(p *plan) {
	consts := map[int]*Tensor{}
	for _, c := range p.consts {
		consts[c.slot] = c.t
	}
	outputs := map[*graph.Value]bool{}
	for _, v := range p.g.Outputs {
		outputs[v] = true
	}
	budget := int64(constFoldBytes)
	kept := p.steps[:0]
	for _, st := range p.steps {
		if t := foldConstStep(st, p, consts, outputs, s.opts.Threads); t != nil && t.Bytes() <= budget {
			budget -= t.Bytes()
			p.consts = append(p.consts, constSlot{p.index[st.node.Outputs[0]], t})
			continue
		}
		kept = append(kept, st)
	}
	p.steps = kept
}

// foldConstStep returns the output of st run on constants, pinned, or nil
// when st is not a DequantizeLinear of initializers or does not run.
func foldConstStep(st step, p *plan, consts map[int]*Tensor, outputs map[*graph.Value]bool, threads int) *Tensor {
	n := st.node
	if n.OpType != "DequantizeLinear" || (n.Domain != "" && n.Domain != "ai.onnx") ||
		len(n.Outputs) != 1 || n.Outputs[0] == nil || outputs[n.Outputs[0]] || len(n.Subgraphs()) > 0 {
		return nil
	}
	in := make([]*Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		idx, ok := p.index[v]
		if !ok || consts[idx] == nil {
			return nil
		}
		in[i] = consts[idx]
	}
	outs, err := runKernel(st.kernel, &Context{Node: n, Opset: st.opset, Threads: threads}, in)
	if err != nil || len(outs) != 1 || outs[0] == nil || outs[0].Data == nil || dataLen(outs[0].Data) != outs[0].Len() {
		return nil
	}
	t := outs[0]
	t.pinned = true
	return t
}

// readsOf lists the distinct values a node reads: its inputs and the
// values of enclosing scopes that its subgraphs read.
func readsOf(n *graph.Node) []*graph.Value {
	seen := map[*graph.Value]bool{}
	var vs []*graph.Value
	add := func(v *graph.Value) {
		if v != nil && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	for _, v := range n.Inputs {
		add(v)
	}
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(inner *graph.Graph) {
			for _, in := range inner.Nodes {
				for _, v := range in.Inputs {
					if v != nil && v.Graph != inner && !isInside(v.Graph, sg) {
						add(v)
					}
				}
			}
			for _, v := range inner.Outputs {
				if v != nil && v.Graph != inner && !isInside(v.Graph, sg) {
					add(v)
				}
			}
		})
	}
	return vs
}

// isInside reports whether g is sg or one of its nested subgraphs.
func isInside(g, sg *graph.Graph) bool {
	for ; g != nil; g = g.Parent {
		if g == sg {
			return true
		}
	}
	return false
}

func buildKernel(b Builder, n *graph.Node, opset int64) (k Kernel, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %s (%s): preparing the kernel failed: %v", nodeName(n), n.OpType, r)
		}
	}()
	k, err = b(n, opset)
	if err != nil {
		return nil, fmt.Errorf("node %s (%s): %v", nodeName(n), n.OpType, err)
	}
	return k, nil
}

func nodeName(n *graph.Node) string {
	if n.Name != "" {
		return fmt.Sprintf("%q", n.Name)
	}
	return "(unnamed)"
}

// Inputs returns the graph inputs a caller must feed.
func (s *Session) Inputs() []*graph.Value { return s.plans[s.main].inputs }

// Outputs returns the graph outputs, in order.
func (s *Session) Outputs() []*graph.Value { return slices.Clone(s.outputs) }

// changed tells, with an error, whether the main graph of the session's
// model was replaced, or gained or lost nodes or outputs, or renamed an
// output, since NewSession planned it: the plan no longer fits it.
func (s *Session) changed() error {
	g := s.model.Graph
	same := g == s.main && len(g.Nodes) == s.nodes && slices.Equal(g.Outputs, s.outputs)
	for i := 0; same && i < len(s.outputs); i++ {
		same = s.outputs[i].Name == s.outputNames[i]
	}
	if !same {
		return errors.New("the model changed after its session was made (a session runs the model as it was then): make a new session")
	}
	return nil
}

// Run executes the model on inputs (by input name) and returns the
// outputs by name. The model must not change after NewSession (Run
// refuses it when its graph, its node count or its outputs did).
func (s *Session) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	out, _, err := s.RunWithStats(inputs)
	return out, err
}

// RunWithStats is Run that also reports memory and node counts.
func (s *Session) RunWithStats(inputs map[string]*Tensor) (map[string]*Tensor, Stats, error) {
	if err := s.changed(); err != nil {
		return nil, Stats{}, err
	}
	p := s.plans[s.main]
	feeds := make([]*Tensor, len(p.inputs))
	known := map[string]bool{}
	for i, v := range p.inputs {
		known[v.Name] = true
		t := inputs[v.Name]
		if t == nil {
			return nil, Stats{}, fmt.Errorf("missing input %q (%s)", v.Name, declared(v))
		}
		if err := checkInput(v, t); err != nil {
			return nil, Stats{}, err
		}
		feeds[i] = t
	}
	for name := range inputs {
		if !known[name] {
			return nil, Stats{}, fmt.Errorf("the model has no input %q (inputs: %s)", name, inputNames(p.inputs))
		}
	}
	ex := &execution{s: s}
	if s.opts.TimeOps {
		ex.opTimes = map[string]*OpTime{}
	}
	outs, err := ex.runGraph(p, nil, feeds)
	ex.collectOpTimes()
	if err != nil {
		return nil, ex.stats, err
	}
	result := map[string]*Tensor{}
	for i, v := range s.outputs {
		t := outs[i]
		if rootOf(t).pinned {
			// a constant or a view of one (Identity, Reshape of a weight),
			// or a view of a fed input: the caller gets its own copy, so
			// that writing into it changes neither later runs nor the
			// caller's inputs
			c := New(t.DType, t.Shape...)
			copyData(c.Data, t.Data)
			t = c
		}
		result[v.Name] = t
	}
	return result, ex.stats, nil
}

func inputNames(vs []*graph.Value) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

func declared(v *graph.Value) string {
	return graph.TypeString(v.DType, v.Shape)
}

// checkInput compares a fed tensor with the input's declared type.
func checkInput(v *graph.Value, t *Tensor) error {
	if v.DType != graph.Undefined && t.DType != v.DType {
		return fmt.Errorf("input %q is %s, got %s", v.Name, declared(v), t)
	}
	if err := t.checkData(); err != nil {
		return fmt.Errorf("input %q: %v", v.Name, err)
	}
	if v.Shape == nil {
		return nil
	}
	if len(v.Shape) != len(t.Shape) {
		return fmt.Errorf("input %q is %s (rank %d), got %s", v.Name, declared(v), len(v.Shape), t)
	}
	for i, d := range v.Shape {
		if d.Known() && int(d.Size) != t.Shape[i] {
			return fmt.Errorf("input %q is %s, got %s", v.Name, declared(v), t)
		}
	}
	return nil
}

// execution is the state of one Run.
type execution struct {
	s       *Session
	stats   Stats
	live    int64
	mu      sync.Mutex
	opTimes map[string]*OpTime // by op type, with Options.TimeOps
}

// timeOp adds one node's duration to its op type.
func (ex *execution) timeOp(n *graph.Node, d time.Duration) {
	op := n.OpType
	if n.Domain != "" && n.Domain != "ai.onnx" {
		op = n.Domain + "." + op
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	t := ex.opTimes[op]
	if t == nil {
		t = &OpTime{Op: op}
		ex.opTimes[op] = t
	}
	t.Nodes++
	t.Time += d
}

// collectOpTimes moves the per-op-type times into the stats, longest
// first (ties by name, so the order is stable).
func (ex *execution) collectOpTimes() {
	if ex.opTimes == nil {
		return
	}
	for _, t := range ex.opTimes {
		ex.stats.OpTimes = append(ex.stats.OpTimes, *t)
	}
	slices.SortFunc(ex.stats.OpTimes, func(a, b OpTime) int {
		if a.Time != b.Time {
			return cmp.Compare(b.Time, a.Time)
		}
		return strings.Compare(a.Op, b.Op)
	})
}

// scope holds the tensors of one graph execution.
type scope struct {
	p      *plan
	vals   []*Tensor
	parent *scope
}

func (sc *scope) lookup(v *graph.Value) *Tensor {
	for s := sc; s != nil; s = s.parent {
		if i, ok := s.p.index[v]; ok {
			return s.vals[i]
		}
	}
	return nil
}

func (ex *execution) runGraph(p *plan, parent *scope, feeds []*Tensor) ([]*Tensor, error) {
	sc := &scope{p: p, vals: make([]*Tensor, p.nslots), parent: parent}
	if len(feeds) != len(p.inputs) {
		return nil, fmt.Errorf("graph %q takes %d inputs, got %d", p.g.Name, len(p.inputs), len(feeds))
	}
	for i, v := range p.inputs {
		// Owned by the caller: only its public fields are read (another
		// session may be running with the same tensor as an output).
		f := feeds[i]
		sc.vals[p.index[v]] = &Tensor{DType: f.DType, Shape: f.Shape, Data: f.Data, pinned: true}
	}
	for _, c := range p.consts {
		sc.vals[c.slot] = c.t
	}
	for _, st := range p.steps {
		n := st.node
		in := make([]*Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v == nil {
				continue
			}
			t := sc.lookup(v)
			if t == nil {
				return nil, fmt.Errorf("node %s (%s): input %q has no value", nodeName(n), n.OpType, v.Name)
			}
			in[i] = t
		}
		ctx := &Context{ex: ex, sc: sc, Node: n, Opset: st.opset, Threads: ex.s.opts.Threads}
		var start time.Time
		if ex.opTimes != nil {
			start = time.Now()
		}
		outs, err := runKernel(st.kernel, ctx, in)
		if ex.opTimes != nil {
			ex.timeOp(n, time.Since(start))
		}
		if err != nil {
			return nil, err
		}
		ex.stats.Nodes++
		if len(outs) > len(n.Outputs) {
			return nil, fmt.Errorf("node %s (%s): kernel returned %d outputs for %d", nodeName(n), n.OpType, len(outs), len(n.Outputs))
		}
		for i, v := range n.Outputs {
			if v == nil {
				continue
			}
			if i >= len(outs) || outs[i] == nil {
				return nil, fmt.Errorf("node %s (%s): output %q was not computed", nodeName(n), n.OpType, v.Name)
			}
			t := outs[i]
			if t.Data == nil || dataLen(t.Data) != t.Len() {
				return nil, fmt.Errorf("node %s (%s): output %q has data that does not fit its shape %s", nodeName(n), n.OpType, v.Name, t)
			}
			ex.retain(t)
			sc.vals[p.index[v]] = t
			if obs := ex.s.opts.Observer; obs != nil {
				// Held first: the observer may hand t to another goroutine.
				if hold := ex.s.opts.Hold; hold != nil && hold(v) {
					ex.hold(t)
				}
				obs(v, t)
			}
		}
		for _, idx := range st.release {
			if t := sc.vals[idx]; t != nil {
				sc.vals[idx] = nil
				ex.release(t, true)
			}
		}
	}
	outs := make([]*Tensor, len(p.g.Outputs))
	for i, v := range p.g.Outputs {
		t := sc.lookup(v)
		if t == nil {
			return nil, fmt.Errorf("graph output %q has no value", v.Name)
		}
		outs[i] = t
	}
	return outs, nil
}

func runKernel(k Kernel, ctx *Context, in []*Tensor) (outs []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			outs, err = nil, fmt.Errorf("node %s (%s): %v", nodeName(ctx.Node), ctx.Node.OpType, r)
		}
	}()
	outs, err = k.Run(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("node %s (%s): %v", nodeName(ctx.Node), ctx.Node.OpType, err)
	}
	return outs, nil
}

// Recycle hands an output of Run back to the session once the caller is
// done with it, so that later runs reuse its memory instead of allocating
// it again. Neither t nor another output sharing its buffer (a view of
// it) may be used afterwards; handing a buffer back again does nothing,
// and a tensor the session did not take from its pool is left alone. An output
// that Options.Hold also kept returns to the pool once released as well.
func (s *Session) Recycle(t *Tensor) {
	if t == nil {
		return
	}
	if r := rootOf(t); r.pooled && !r.pinned {
		if r.held {
			// Also held through Options.Hold: the last one to let go
			// hands the buffer back.
			r.holder.release(r, true)
			return
		}
		s.pool.put(r)
		// handed back once: a second Recycle of it, or of a view of
		// it, would give two later outputs one buffer
		r.pooled = false
	}
}

// RecycleAll hands back every output of one Run (as Recycle does), each
// buffer once even where outputs share one; none may be used afterwards.
func (s *Session) RecycleAll(outs map[string]*Tensor) {
	seen := map[*Tensor]bool{}
	for _, t := range outs {
		if t == nil {
			continue
		}
		if r := rootOf(t); !seen[r] {
			seen[r] = true
			s.Recycle(r)
		}
	}
}

// Release hands back a tensor that Options.Hold kept: once every holder,
// the run's own readers included, is done with its buffer, later runs
// reuse it. A tensor the session did not produce is left alone.
func (s *Session) Release(t *Tensor) {
	if t == nil {
		return
	}
	if r := rootOf(t); !r.pinned && r.held {
		r.holder.release(r, true)
	}
}

func rootOf(t *Tensor) *Tensor {
	if t.root != nil {
		return t.root
	}
	return t
}

// retain records one more holder of t's buffer; the first holder makes it
// count as live.
func (ex *execution) retain(t *Tensor) {
	r := rootOf(t)
	if r.pinned {
		return
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	// The run that made the buffer guards its holders (Release takes its
	// lock); set once, when the tensor is made, before anyone sees it.
	if r.holder == nil {
		r.holder = ex
	}
	if r.refs == 0 {
		b := r.Bytes()
		ex.live += b
		// A subgraph's output handed to the caller is held again but was
		// produced once.
		if !r.seen {
			ex.stats.TotalBytes += b
			r.seen = true
		}
		if ex.live > ex.stats.PeakBytes {
			ex.stats.PeakBytes = ex.live
		}
	}
	r.refs++
}

// hold records the caller as one more holder of t's buffer, released by
// Session.Release under the lock of the run that produced it.
func (ex *execution) hold(t *Tensor) {
	r := rootOf(t)
	if r.pinned {
		return
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	r.refs++
	if !r.held { // written once: Release may be reading it by now
		r.held = true
	}
}

// release drops one holder; the last one returns the buffer to the pool
// when recycle is set.
func (ex *execution) release(t *Tensor, recycle bool) {
	r := rootOf(t)
	if r.pinned {
		return
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	r.refs--
	if r.refs == 0 {
		ex.live -= r.Bytes()
		if recycle && r.pooled {
			ex.s.pool.put(r)
		}
	}
}

func dataLen(d any) int {
	switch s := d.(type) {
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []int8:
		return len(s)
	case []uint8:
		return len(s)
	case []int16:
		return len(s)
	case []uint16:
		return len(s)
	case []int32:
		return len(s)
	case []uint32:
		return len(s)
	case []int64:
		return len(s)
	case []uint64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []complex64:
		return len(s)
	case []complex128:
		return len(s)
	case []BFloat16:
		return len(s)
	}
	return lenFloat16(d)
}
