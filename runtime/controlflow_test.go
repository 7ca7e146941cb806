// Tests of If, Loop and Scan: values, buffer ownership across subgraph
// boundaries (with recycled buffers poisoned), empty loops, Scan axes,
// directions and sequence lengths, and bad inputs.
package runtime

import (
	"math"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// cfNode adds a node to a subgraph and returns its outputs.
func cfNode(t *testing.T, g *graph.Graph, op string, ins []*graph.Value, nOut int, attrs ...*graph.Attribute) []*graph.Value {
	t.Helper()
	n := &graph.Node{OpType: op, Inputs: ins, Attrs: attrs}
	names := make([]string, nOut)
	for i := range names {
		names[i] = g.UniqueName(strings.ToLower(op))
	}
	if err := g.AddNode(n, names...); err != nil {
		t.Fatal(err)
	}
	return n.Outputs
}

func cfInput(t *testing.T, g *graph.Graph, name string, dt graph.DType, dims ...int64) *graph.Value {
	t.Helper()
	v, err := g.AddInput(name, dt, graph.Fixed(dims...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cfConst(t *testing.T, g *graph.Graph, name string, dims []int64, vals ...float32) *graph.Value {
	t.Helper()
	ct, err := graph.FromFloat32s(name, dims, vals)
	if err != nil {
		t.Fatal(err)
	}
	v, err := g.AddInitializer(ct)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cfRun(t *testing.T, m *graph.Model, inputs map[string]*Tensor) map[string]*Tensor {
	t.Helper()
	poisonFreed = true
	defer func() { poisonFreed = false }()
	s, err := NewSession(m, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cfCheck(t *testing.T, name string, got *Tensor, shape []int, want ...float32) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no value", name)
	}
	if !equalShape(got.Shape, shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, shape)
	}
	for i, w := range want {
		if g := got.F32()[i]; g != w && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
			t.Fatalf("%s: element %d is %v, want %v (all %v)", name, i, g, w, got.F32())
		}
	}
}

func boolTensor(v bool) *Tensor {
	t := New(graph.Bool)
	t.Data.([]bool)[0] = v
	return t
}

func int64Tensor(v int64) *Tensor {
	t := New(graph.Int64)
	t.Data.([]int64)[0] = v
	return t
}

// An If branch that returns a value of the enclosing graph must keep that
// buffer alive while the If output is in use, even when another view of
// the value is released first.
func TestIfReturnsOuterValue(t *testing.T) {
	b := graph.NewBuilder(13)
	in := b.Input("in", graph.Float32, 2, 2)
	cond := b.Input("cond", graph.Bool)
	x := b.Op("Relu", in)
	shape, _ := graph.FromInt64s("shape", []int64{1}, []int64{4})
	v := b.Op("Reshape", x, b.Const(shape, nil))
	thenG, elseG := graph.NewGraph("then"), graph.NewGraph("else")
	y := b.Op("If", cond, graph.GraphAttr("then_branch", thenG), graph.GraphAttr("else_branch", elseG))
	thenG.AddOutput(x)
	elseG.AddOutput(cfNode(t, elseG, "Neg", []*graph.Value{x}, 1)[0])
	z := b.Op("Add", v, v)
	w := b.Op("Relu", z) // runs after x's last reader, reusing freed buffers
	b.Output(y, w)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	data := FromFloat32([]int{2, 2}, []float32{1, -2, 3, 4})
	for _, c := range []bool{true, false} {
		out := cfRun(t, m, map[string]*Tensor{"in": data, "cond": boolTensor(c)})
		if c {
			cfCheck(t, "then", out[y.Name], []int{2, 2}, 1, 0, 3, 4)
		} else {
			cfCheck(t, "else", out[y.Name], []int{2, 2}, -1, 0, -3, -4)
		}
		cfCheck(t, "w", out[w.Name], []int{4}, 2, 0, 6, 8)
	}
}

// If branches may give outputs of different shapes; a nested If reads
// values of both enclosing graphs.
func TestIfNestedShapes(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 3)
	c1 := b.Input("c1", graph.Bool)
	c2 := b.Input("c2", graph.Bool)
	thenG, elseG := graph.NewGraph("then"), graph.NewGraph("else")
	y := b.Op("If", c1, graph.GraphAttr("then_branch", thenG), graph.GraphAttr("else_branch", elseG))
	// then: a nested If over x and a constant of the then branch.
	k := cfConst(t, thenG, "k", []int64{1}, 10)
	innerThen, innerElse := graph.NewGraph("inner_then"), graph.NewGraph("inner_else")
	inner := cfNode(t, thenG, "If", []*graph.Value{c2}, 1, graph.GraphAttr("then_branch", innerThen), graph.GraphAttr("else_branch", innerElse))[0]
	innerThen.AddOutput(cfNode(t, innerThen, "Add", []*graph.Value{x, k}, 1)[0])
	innerElse.AddOutput(k)
	thenG.AddOutput(inner)
	// else: a two-element constant.
	elseG.AddOutput(cfConst(t, elseG, "two", []int64{2}, 7, 8))
	b.Output(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	xs := FromFloat32([]int{3}, []float32{1, 2, 3})
	out := cfRun(t, m, map[string]*Tensor{"x": xs, "c1": boolTensor(true), "c2": boolTensor(true)})
	cfCheck(t, "then/then", out[y.Name], []int{3}, 11, 12, 13)
	out = cfRun(t, m, map[string]*Tensor{"x": xs, "c1": boolTensor(true), "c2": boolTensor(false)})
	cfCheck(t, "then/else", out[y.Name], []int{1}, 10)
	out = cfRun(t, m, map[string]*Tensor{"x": xs, "c1": boolTensor(false), "c2": boolTensor(false)})
	cfCheck(t, "else", out[y.Name], []int{2}, 7, 8)
}

// loopModel builds Loop(M, cond, -a, b) whose body keeps -a as it is (a
// body input returned directly), adds one to b, stops when the iteration
// number reaches stop, and scans b_in (a body input) and b_out.
func loopModel(t *testing.T, withM, withCond bool, stop int64) (*graph.Model, []*graph.Value) {
	b := graph.NewBuilder(13)
	var mIn, cIn *graph.Value
	if withM {
		mIn = b.Input("M", graph.Int64)
	}
	if withCond {
		cIn = b.Input("cond", graph.Bool)
	}
	// a is negated first, so the Loop reads a buffer the executor
	// recycles after the Loop.
	a := b.Op("Neg", b.Input("a", graph.Float32, 2))
	bv := b.Input("b", graph.Float32, 2)
	body := graph.NewGraph("body")
	outs := b.OpN("Loop", 4, mIn, cIn, a, bv, graph.GraphAttr("body", body))
	iter := cfInput(t, body, "iter", graph.Int64)
	cfInput(t, body, "cond_in", graph.Bool)
	aIn := cfInput(t, body, "a_in", graph.Float32, 2)
	bIn := cfInput(t, body, "b_in", graph.Float32, 2)
	one := cfConst(t, body, "one", []int64{1}, 1)
	bOut := cfNode(t, body, "Add", []*graph.Value{bIn, one}, 1)[0]
	st, _ := graph.FromInt64s("stop", nil, []int64{stop})
	stopV, err := body.AddInitializer(st)
	if err != nil {
		t.Fatal(err)
	}
	next := cfNode(t, body, "Add", []*graph.Value{iter, b.Const(graph.FromInt64s("one_i", nil, []int64{1}))}, 1)[0]
	cOut := cfNode(t, body, "Less", []*graph.Value{next, stopV}, 1)[0]
	body.AddOutput(cOut)
	body.AddOutput(aIn)
	body.AddOutput(bOut)
	body.AddOutput(bIn)
	// a graph lists each output once: the scan of b_out reads a copy
	body.AddOutput(cfNode(t, body, "Identity", []*graph.Value{bOut}, 1)[0])
	// The scan of b_out doubles as a sum over the main graph afterwards.
	sum := b.Op("Add", outs[0], outs[1])
	b.Output(append(outs, sum)...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m, append(outs, sum)
}

func TestLoop(t *testing.T) {
	a := FromFloat32([]int{2}, []float32{5, 6})
	bv := FromFloat32([]int{2}, []float32{0, 10})
	// M bounds the loop.
	m, outs := loopModel(t, true, true, 100)
	res := cfRun(t, m, map[string]*Tensor{"M": int64Tensor(3), "cond": boolTensor(true), "a": a, "b": bv})
	cfCheck(t, "a", res[outs[0].Name], []int{2}, -5, -6)
	cfCheck(t, "b", res[outs[1].Name], []int{2}, 3, 13)
	cfCheck(t, "b_in scan", res[outs[2].Name], []int{3, 2}, 0, 10, 1, 11, 2, 12)
	cfCheck(t, "b_out scan", res[outs[3].Name], []int{3, 2}, 1, 11, 2, 12, 3, 13)
	cfCheck(t, "a+b", res[outs[4].Name], []int{2}, -2, 7)
	// The body's condition ends the loop.
	res = cfRun(t, m, map[string]*Tensor{"M": int64Tensor(100), "cond": boolTensor(true), "a": a, "b": bv})
	cfCheck(t, "b (cond)", res[outs[1].Name], []int{2}, 100, 110)
	// A false condition runs nothing: outputs are the inputs, scans empty.
	res = cfRun(t, m, map[string]*Tensor{"M": int64Tensor(5), "cond": boolTensor(false), "a": a, "b": bv})
	cfCheck(t, "a (none)", res[outs[0].Name], []int{2}, -5, -6)
	cfCheck(t, "b (none)", res[outs[1].Name], []int{2}, 0, 10)
	cfCheck(t, "scan (none)", res[outs[2].Name], []int{0, 2})
	cfCheck(t, "a+b (none)", res[outs[4].Name], []int{2}, -5, 4)
	res = cfRun(t, m, map[string]*Tensor{"M": int64Tensor(0), "cond": boolTensor(true), "a": a, "b": bv})
	cfCheck(t, "b (M=0)", res[outs[1].Name], []int{2}, 0, 10)
	// Without M, or without cond.
	m, outs = loopModel(t, false, true, 4)
	res = cfRun(t, m, map[string]*Tensor{"cond": boolTensor(true), "a": a, "b": bv})
	cfCheck(t, "b (no M)", res[outs[1].Name], []int{2}, 4, 14)
	m, outs = loopModel(t, true, false, 100)
	res = cfRun(t, m, map[string]*Tensor{"M": int64Tensor(2), "a": a, "b": bv})
	cfCheck(t, "b (no cond)", res[outs[1].Name], []int{2}, 2, 12)
	// The inputs are left as they were.
	cfCheck(t, "a input", a, []int{2}, 5, 6)
	cfCheck(t, "b input", bv, []int{2}, 0, 10)
}

// scan9Model builds a Scan whose body adds the scan element to a state
// and emits the new state and the element times two.
func scan9Model(t *testing.T, attrs ...*graph.Attribute) (*graph.Model, []*graph.Value) {
	b := graph.NewBuilder(11)
	init := b.Input("init", graph.Float32, 2)
	x := b.Input("x", graph.Float32, 2, -1)
	body := graph.NewGraph("body")
	args := []any{init, x, graph.GraphAttr("body", body), graph.IntAttr("num_scan_inputs", 1)}
	for _, a := range attrs {
		args = append(args, a)
	}
	outs := b.OpN("Scan", 3, args...)
	s := cfInput(t, body, "s", graph.Float32, 2)
	e := cfInput(t, body, "e", graph.Float32, 2)
	sOut := cfNode(t, body, "Add", []*graph.Value{s, e}, 1)[0]
	two := cfConst(t, body, "two", []int64{1}, 2)
	body.AddOutput(sOut)
	body.AddOutput(cfNode(t, body, "Identity", []*graph.Value{sOut}, 1)[0])
	body.AddOutput(cfNode(t, body, "Mul", []*graph.Value{e, two}, 1)[0])
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m, outs
}

func TestScan9AxesDirections(t *testing.T) {
	init := FromFloat32([]int{2}, []float32{0, 100})
	// x is [2,3]; scanning axis 1 gives three elements of shape [2].
	x := FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	m, outs := scan9Model(t, graph.IntsAttr("scan_input_axes", 1))
	res := cfRun(t, m, map[string]*Tensor{"init": init, "x": x})
	cfCheck(t, "state", res[outs[0].Name], []int{2}, 6, 115)
	cfCheck(t, "states", res[outs[1].Name], []int{3, 2}, 1, 104, 3, 109, 6, 115)
	cfCheck(t, "doubled", res[outs[2].Name], []int{3, 2}, 2, 8, 4, 10, 6, 12)
	// Reverse input, prepended and axis-1 outputs.
	m, outs = scan9Model(t, graph.IntsAttr("scan_input_axes", -1), graph.IntsAttr("scan_input_directions", 1),
		graph.IntsAttr("scan_output_axes", 1, -1), graph.IntsAttr("scan_output_directions", 1, 0))
	res = cfRun(t, m, map[string]*Tensor{"init": init, "x": x})
	cfCheck(t, "state rev", res[outs[0].Name], []int{2}, 6, 115)
	// States after steps 3, 2, 1 (elements reversed), prepended along axis 1.
	cfCheck(t, "states rev", res[outs[1].Name], []int{2, 3}, 6, 5, 3, 115, 111, 106)
	cfCheck(t, "doubled rev", res[outs[2].Name], []int{2, 3}, 6, 4, 2, 12, 10, 8)
	// No positions: the state passes through, outputs are empty.
	empty := FromFloat32([]int{2, 0}, nil)
	m, outs = scan9Model(t, graph.IntsAttr("scan_input_axes", 1))
	res = cfRun(t, m, map[string]*Tensor{"init": init, "x": empty})
	cfCheck(t, "state empty", res[outs[0].Name], []int{2}, 0, 100)
	if n := res[outs[1].Name].Len(); n != 0 {
		t.Errorf("empty scan output has %d elements", n)
	}
}

func TestScan8SequenceLens(t *testing.T) {
	b := graph.NewBuilder(8)
	lens := b.Input("lens", graph.Int64, 2)
	init := b.Input("init", graph.Float32, 2, 1)
	x := b.Input("x", graph.Float32, 2, 3, 1)
	body := graph.NewGraph("body")
	outs := b.OpN("Scan", 2, lens, init, x, graph.GraphAttr("body", body), graph.IntAttr("num_scan_inputs", 1),
		graph.IntsAttr("directions", 1))
	s := cfInput(t, body, "s", graph.Float32, 1)
	e := cfInput(t, body, "e", graph.Float32, 1)
	sOut := cfNode(t, body, "Add", []*graph.Value{s, e}, 1)[0]
	body.AddOutput(sOut)
	body.AddOutput(cfNode(t, body, "Identity", []*graph.Value{sOut}, 1)[0])
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	l := New(graph.Int64, 2)
	copy(l.Data.([]int64), []int64{3, 2})
	res := cfRun(t, m, map[string]*Tensor{
		"lens": l,
		"init": FromFloat32([]int{2, 1}, []float32{0, 100}),
		"x":    FromFloat32([]int{2, 3, 1}, []float32{1, 2, 3, 4, 5, 6}),
	})
	cfCheck(t, "final", res[outs[0].Name], []int{2, 1}, 6, 109)
	// Batch 1 scans 5 then 4 (reverse within its length) and pads with 0.
	cfCheck(t, "scan", res[outs[1].Name], []int{2, 3, 1}, 3, 5, 6, 105, 109, 0)
	copy(l.Data.([]int64), []int64{0, 0})
	res = cfRun(t, m, map[string]*Tensor{
		"lens": l,
		"init": FromFloat32([]int{2, 1}, []float32{0, 100}),
		"x":    FromFloat32([]int{2, 3, 1}, []float32{1, 2, 3, 4, 5, 6}),
	})
	cfCheck(t, "final (no steps)", res[outs[0].Name], []int{2, 1}, 0, 100)
	cfCheck(t, "scan (no steps)", res[outs[1].Name], []int{2, 3, 1}, 0, 0, 0, 0, 0, 0)
}

// TestControlFlowBadInputs checks malformed nodes and inputs give errors.
func TestControlFlowBadInputs(t *testing.T) {
	if _, err := newIf(&graph.Node{OpType: "If", Outputs: []*graph.Value{{}}}, 13); err == nil {
		t.Error("If without branches: no error")
	}
	if _, err := newLoop(&graph.Node{OpType: "Loop"}, 13); err == nil {
		t.Error("Loop without body: no error")
	}
	if _, err := newScan(&graph.Node{OpType: "Scan", Attrs: []*graph.Attribute{graph.GraphAttr("body", graph.NewGraph("b"))}}, 11); err == nil {
		t.Error("Scan without num_scan_inputs: no error")
	}
	m, _ := loopModel(t, true, true, 100)
	s, err := NewSession(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := FromFloat32([]int{2}, []float32{5, 6})
	two := New(graph.Bool, 2)
	for i, in := range []map[string]*Tensor{
		{"M": int64Tensor(3), "cond": two, "a": a, "b": a},
		{"M": FromInt64([]int{2}, []int64{1, 2}), "cond": boolTensor(true), "a": a, "b": a},
	} {
		if _, err := s.Run(in); err == nil {
			t.Errorf("Loop case %d: no error", i)
		}
	}
	// Scan inputs of different lengths.
	b := graph.NewBuilder(11)
	x := b.Input("x", graph.Float32, 3)
	y := b.Input("y", graph.Float32, 4)
	body := graph.NewGraph("body")
	out := b.Op("Scan", x, y, graph.GraphAttr("body", body), graph.IntAttr("num_scan_inputs", 2))
	e := cfInput(t, body, "e", graph.Float32)
	f := cfInput(t, body, "f", graph.Float32)
	body.AddOutput(cfNode(t, body, "Add", []*graph.Value{e, f}, 1)[0])
	b.Output(out)
	sm, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := NewSession(sm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Run(map[string]*Tensor{"x": New(graph.Float32, 3), "y": New(graph.Float32, 4)}); err == nil {
		t.Error("Scan with inputs of different lengths: no error")
	}
}

// A Loop without scan outputs holds one iteration's state at a time: its
// memory does not grow with the trip count (it kept every iteration's
// carried values, about 1.6 KB each for a 768-byte state).
func TestLoopMemoryFlat(t *testing.T) {
	b := graph.NewBuilder(13)
	body := graph.NewGraph("body")
	outs := b.OpN("Loop", 1, b.Input("M", graph.Int64), nil, b.Input("x", graph.Float32, 192), graph.GraphAttr("body", body))
	cfInput(t, body, "iter", graph.Int64)
	cIn := cfInput(t, body, "cond_in", graph.Bool)
	xIn := cfInput(t, body, "x_in", graph.Float32, 192)
	body.AddOutput(cfNode(t, body, "Identity", []*graph.Value{cIn}, 1)[0])
	body.AddOutput(cfNode(t, body, "Add", []*graph.Value{xIn, cfConst(t, body, "one", []int64{1}, 1)}, 1)[0])
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	const trips = 100000
	// The live heap is read a few times during the run, from the
	// observer that sees the body's values.
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	base, peak, seen := ms.HeapAlloc, uint64(0), 0
	s, err := NewSession(m, Options{Threads: 1, Observer: func(v *graph.Value, _ *Tensor) {
		if seen++; seen%(trips/4) == 0 {
			goruntime.GC()
			goruntime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(map[string]*Tensor{"M": int64Tensor(trips), "x": New(graph.Float32, 192)})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[outs[0].Name].F32()[0]; got != trips {
		t.Fatalf("x after the loop %v, want %d", got, trips)
	}
	if peak == 0 {
		t.Fatal("the observer never read the heap")
	}
	if grown := int64(peak) - int64(base); grown > 16<<20 {
		t.Errorf("the heap grew %d MB during %d iterations", grown>>20, trips)
	}
}

// A Loop's scan outputs are bounded as one tensor each: the loop stops
// with an error once one passes the per-tensor limit, rather than run on
// until memory runs out.
func TestLoopScanBytesLimit(t *testing.T) {
	saved := tensorBytesLimit
	tensorBytesLimit = func() int64 { return 64 } // 8 iterations of a scan of two float32
	defer func() { tensorBytesLimit = saved }()
	m, _ := loopModel(t, true, true, 1000)
	a := FromFloat32([]int{2}, []float32{5, 6})
	bv := FromFloat32([]int{2}, []float32{0, 10})
	s, err := NewSession(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(map[string]*Tensor{"M": int64Tensor(8), "cond": boolTensor(true), "a": a, "b": bv}); err != nil {
		t.Fatalf("8 iterations, 64 bytes a scan: %v", err)
	}
	_, err = s.Run(map[string]*Tensor{"M": int64Tensor(1 << 40), "cond": boolTensor(true), "a": a, "b": bv})
	if err == nil || !strings.Contains(err.Error(), "after 9 iterations, more than the") {
		t.Fatalf("a scan past the limit: %v", err)
	}
}

// A Loop whose trip count or condition would keep it going far past any
// real loop stops at maxLoopIterations with an error that says so; one
// that ends at the bound runs.
func TestLoopIterationBound(t *testing.T) {
	defer func(old int64) { maxLoopIterations = old }(maxLoopIterations)
	maxLoopIterations = 50
	a := FromFloat32([]int{2}, []float32{5, 6})
	bv := FromFloat32([]int{2}, []float32{0, 10})
	m, outs := loopModel(t, true, true, 1e12)
	res := cfRun(t, m, map[string]*Tensor{"M": int64Tensor(50), "cond": boolTensor(true), "a": a, "b": bv})
	cfCheck(t, "b (at the bound)", res[outs[1].Name], []int{2}, 50, 60)
	for _, c := range []struct {
		m    *graph.Model
		feed map[string]*Tensor
		want string
	}{
		{m, map[string]*Tensor{"M": int64Tensor(1e12), "cond": boolTensor(true), "a": a, "b": bv}, "trip count 1000000000000"},
		{func() *graph.Model { m, _ := loopModel(t, false, true, 1e12); return m }(), map[string]*Tensor{"cond": boolTensor(true), "a": a, "b": bv}, "no trip count"},
	} {
		s, err := NewSession(c.m, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(c.feed)
		if err == nil || !strings.Contains(err.Error(), "stopped after 50 iterations ("+c.want) {
			t.Errorf("Loop past the bound: error %v, want one saying it stopped after 50 iterations (%s", err, c.want)
		}
	}
}
