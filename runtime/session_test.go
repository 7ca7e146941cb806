package runtime

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// testRegistry holds two tiny kernels, so the executor is tested without
// the real kernel families: Scale (multiply by attribute "k", a fresh
// pooled buffer) and Alias (a View of the input).
func testRegistry() *Registry {
	r := NewRegistry()
	r.Register("", "Scale", func(n *graph.Node, opset int64) (Kernel, error) {
		k := n.AttrFloat("k", 1)
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			x := in[0].F32()
			out := ctx.Alloc(graph.Float32, in[0].Shape...)
			o := out.F32()
			ctx.Parallel(len(x), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					o[i] = x[i] * k
				}
			})
			return []*Tensor{out}, nil
		}), nil
	})
	r.Register("", "Alias", func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			return []*Tensor{ctx.View(in[0], in[0].Len())}, nil
		}), nil
	})
	return r
}

// chain builds x -> Scale(2) -> Alias -> Scale(3) -> ... with n Scale nodes.
func chain(t *testing.T, n int) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	v := b.Input("x", graph.Float32, 4, 256)
	for i := 0; i < n; i++ {
		v = b.Op("Scale", v, graph.FloatAttr("k", float32(i+2)))
		v = b.Op("Alias", v)
	}
	b.Output(v)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSessionReleasesBuffers(t *testing.T) {
	poisonFreed = true
	defer func() { poisonFreed = false }()
	const steps = 6
	m := chain(t, steps)
	s, err := NewSession(m, Options{Registry: testRegistry(), Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Float32, 4, 256)
	for i := range x.F32() {
		x.F32()[i] = float32(i%7) - 3
	}
	for run := 0; run < 3; run++ { // later runs reuse pooled buffers
		outs, stats, err := s.RunWithStats(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		y := outs[m.Graph.Outputs[0].Name].F32()
		want := float32(1)
		for i := 0; i < steps; i++ {
			want *= float32(i + 2)
		}
		for i, v := range y {
			if v != x.F32()[i]*want {
				t.Fatalf("run %d: y[%d] = %v, want %v", run, i, v, x.F32()[i]*want)
			}
		}
		one := int64(4 * 256 * 4)
		if stats.TotalBytes != steps*one {
			t.Errorf("total bytes %d, want %d", stats.TotalBytes, steps*one)
		}
		// At most the input of a Scale and its output are alive at once.
		if stats.PeakBytes != 2*one {
			t.Errorf("peak bytes %d, want %d", stats.PeakBytes, 2*one)
		}
	}
	if x.F32()[1] != -2 {
		t.Fatal("the input was modified")
	}
}

// An output handed back with Recycle is the memory of a later run's
// output (no new allocation), and the results stay right; a graph input
// handed in is never taken.
func TestSessionRecycle(t *testing.T) {
	const steps = 3
	m := chain(t, steps)
	s, err := NewSession(m, Options{Registry: testRegistry(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Float32, 4, 256)
	for i := range x.F32() {
		x.F32()[i] = float32(i%5) - 2
	}
	name := m.Graph.Outputs[0].Name
	var last *float32
	for run := 0; run < 4; run++ {
		outs, err := s.Run(map[string]*Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		y := outs[name].F32()
		if run > 0 && &y[0] != last {
			t.Errorf("run %d: the recycled output's buffer was not reused", run)
		}
		for i, v := range y {
			if v != x.F32()[i]*2*3*4 {
				t.Fatalf("run %d: y[%d] = %v", run, i, v)
			}
		}
		last = &y[0]
		s.Recycle(outs[name])
		s.Recycle(x) // not the session's: left alone
	}
	if x.F32()[1] != -1 {
		t.Fatal("the input was modified")
	}
}

// Two outputs sharing one buffer (a view and its root) go back once.
func TestRecycleAllViews(t *testing.T) {
	s, err := NewSession(chain(t, 1), Options{Registry: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	root := &Tensor{DType: graph.Float32, Shape: []int{2, 8}, Data: make([]float32, 16), pooled: true}
	view := &Tensor{DType: graph.Float32, Shape: []int{16}, Data: root.Data, root: root}
	s.RecycleAll(map[string]*Tensor{"a": root, "b": view, "c": view})
	if n := len(s.pool.free[16]); n != 1 {
		t.Errorf("the shared buffer is in the pool %d times, want once", n)
	}
}

func TestSessionBadInputs(t *testing.T) {
	s, err := NewSession(chain(t, 1), Options{Registry: testRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]map[string]*Tensor{
		`missing input "x"`:                              {},
		`has no input "y"`:                               {"x": New(graph.Float32, 4, 256), "y": New(graph.Float32, 1)},
		`input "x" is float32[4,256], got int64`:         {"x": New(graph.Int64, 4, 256)},
		`(rank 2), got float32[1024]`:                    {"x": New(graph.Float32, 1024)},
		`got float32[4,255]`:                             {"x": New(graph.Float32, 4, 255)},
		`float32 tensor of shape [4 256] holds 3 values`: {"x": {DType: graph.Float32, Shape: []int{4, 256}, Data: make([]float32, 3)}},
		`float32 tensor holds []float64 data`:            {"x": {DType: graph.Float32, Shape: []int{4, 256}, Data: make([]float64, 1024)}},
	}
	for want, in := range cases {
		_, err := s.Run(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
	// NaN and Inf flow through as values.
	x := New(graph.Float32, 4, 256)
	x.F32()[0], x.F32()[1] = float32(math.NaN()), float32(math.Inf(1))
	outs, err := s.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	y := outs[s.Outputs()[0].Name].F32()
	if !math.IsNaN(float64(y[0])) || !math.IsInf(float64(y[1]), 1) {
		t.Errorf("NaN/Inf not propagated: %v %v", y[0], y[1])
	}
}

func TestSessionUnsupportedOp(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2)
	b.Output(b.Op("Frobnicate", b.Op("Scale", x), graph.IntAttr("a", 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSession(m, Options{Registry: testRegistry()})
	if err == nil || !strings.Contains(err.Error(), "no kernel for op Frobnicate (domain ai.onnx, opset 13) used by node \"frobnicate1\"") {
		t.Fatalf("got %v", err)
	}
}

func TestSessionObserverAndConcurrency(t *testing.T) {
	m := chain(t, 3)
	var mu sync.Mutex
	seen := map[string]int{}
	s, err := NewSession(m, Options{Registry: testRegistry(), Observer: func(v *graph.Value, t *Tensor) {
		mu.Lock()
		seen[v.Name]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]float32, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := New(graph.Float32, 4, 256)
			for j := range x.F32() {
				x.F32()[j] = float32(i)
			}
			outs, err := s.Run(map[string]*Tensor{"x": x})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = outs[s.Outputs()[0].Name].F32()
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r == nil || r[0] != float32(i)*24 || r[1023] != float32(i)*24 {
			t.Errorf("run %d: wrong result %v", i, r[:1])
		}
	}
	if len(seen) != 6 {
		t.Errorf("observer saw %d values, want 6: %v", len(seen), seen)
	}
	for name, n := range seen {
		if n != 8 {
			t.Errorf("observer saw %s %d times, want 8", name, n)
		}
	}
}

// TestSessionCountsSubgraphOutputsOnce: a branch output handed to the If
// node is one tensor produced once, not two.
func TestSessionCountsSubgraphOutputsOnce(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 256)
	cond := b.Input("cond", graph.Bool)
	then, els := graph.NewGraph("then"), graph.NewGraph("else")
	ifNode := &graph.Node{Name: "if", OpType: "If", Inputs: []*graph.Value{cond},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", then), graph.GraphAttr("else_branch", els)}}
	if err := b.Graph().AddNode(ifNode, "y"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*graph.Graph{then, els} {
		relu := &graph.Node{Name: g.Name + "_relu", OpType: "Relu", Inputs: []*graph.Value{x}}
		if err := g.AddNode(relu, g.Name+"_out"); err != nil {
			t.Fatal(err)
		}
		g.AddOutput(relu.Outputs[0])
	}
	b.Output(ifNode.Outputs[0])
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := New(graph.Bool)
	c.Data.([]bool)[0] = true
	_, stats, err := s.RunWithStats(map[string]*Tensor{"x": New(graph.Float32, 256), "cond": c})
	if err != nil {
		t.Fatal(err)
	}
	if stats.TotalBytes != 256*4 {
		t.Errorf("total bytes %d, want %d", stats.TotalBytes, 256*4)
	}
}

// TestAllocReusesZeroedBytes checks that a released uint8 or int8 buffer
// comes back from Alloc for the next tensor of its length, cleared.
func TestAllocReusesZeroedBytes(t *testing.T) {
	for _, dt := range []graph.DType{graph.Uint8, graph.Int8} {
		ex := &execution{s: &Session{pool: NewBufferPool()}}
		ctx := &Context{ex: ex}
		a := ctx.Alloc(dt, 2, 3)
		ab := bytesOf(a)
		for i := range ab {
			ab[i] = byte(i + 1)
		}
		ex.retain(a)
		ex.release(a, true)
		b := ctx.Alloc(dt, 3, 2)
		bb := bytesOf(b)
		if b.DType != dt || len(bb) != 6 || &bb[0] != &ab[0] {
			t.Fatalf("%v: Alloc after release gave %v, not the released buffer", dt, b)
		}
		for i, v := range bb {
			if v != 0 {
				t.Fatalf("%v: reused byte %d is %d, want 0", dt, i, v)
			}
		}
		if c := ctx.Alloc(dt, 7); &bytesOf(c)[0] == &ab[0] {
			t.Fatalf("%v: a buffer in use was handed out again", dt)
		}
	}
}

// dqWeightModel is y = x · DequantizeLinear(w, scale, zp) with an int8
// weight of initializers; zpType lets a test give the zero point a type
// that DequantizeLinear rejects.
func dqWeightModel(t *testing.T, zpType graph.DType) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(21)
	x := b.Input("x", graph.Float32, 2, 3)
	w := b.Const(graph.NewTensor("w", graph.Int8, []int64{2, 3}, []byte{1, 0xFF, 5, 0x80, 0x7F, 0}))
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.5}))
	zp := b.Const(graph.NewTensor("zp", zpType, nil, []byte{2}))
	b.Output(b.Op("Mul", x, b.Op("DequantizeLinear", w, s, zp)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConstantDequantizeRunsOnce checks that a DequantizeLinear of
// initializers runs when the session is made, not on every run (unless an
// observer must see it), with the same results, and that one that fails
// still fails in Run.
func TestConstantDequantizeRunsOnce(t *testing.T) {
	x := New(graph.Float32, 2, 3)
	copy(x.F32(), []float32{1, 2, 3, 4, 5, 6})
	want := []float32{(1 - 2) * 0.5 * 1, (-1 - 2) * 0.5 * 2, (5 - 2) * 0.5 * 3, (-128 - 2) * 0.5 * 4, (127 - 2) * 0.5 * 5, (0 - 2) * 0.5 * 6}
	for _, observe := range []bool{false, true} {
		opts := Options{Threads: 2}
		seen := 0
		if observe {
			opts.Observer = func(v *graph.Value, t *Tensor) { seen++ }
		}
		sess, err := NewSession(dqWeightModel(t, graph.Int8), opts)
		if err != nil {
			t.Fatal(err)
		}
		for run := range 2 {
			outs, stats, err := sess.RunWithStats(map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			var y *Tensor
			for _, o := range outs {
				y = o
			}
			for i, v := range y.F32() {
				if v != want[i] {
					t.Fatalf("observe %v run %d: y[%d] = %g, want %g", observe, run, i, v, want[i])
				}
			}
			if wantNodes := map[bool]int{false: 1, true: 2}[observe]; stats.Nodes != wantNodes {
				t.Errorf("observe %v: %d nodes ran, want %d", observe, stats.Nodes, wantNodes)
			}
		}
		if observe && seen != 4 {
			t.Errorf("the observer saw %d values in two runs, want 4", seen)
		}
	}
	sess, err := NewSession(dqWeightModel(t, graph.Uint8), Options{})
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	if _, err := sess.Run(map[string]*Tensor{"x": x}); err == nil || !strings.Contains(err.Error(), "zero point") {
		t.Errorf("a DequantizeLinear with a uint8 zero point of an int8 input ran: %v", err)
	}
}

// TestHoldKeepsBuffers: tensors the caller holds (Scale outputs and the
// Alias views of them) keep their values after the run that made them
// and through a later run, with freed buffers poisoned, and are reused
// only once released (an output too, whether handed back before or after).
func TestHoldKeepsBuffers(t *testing.T) {
	poisonFreed = true
	defer func() { poisonFreed = false }()
	const steps = 4
	type held struct {
		t    *Tensor
		want float32 // the value of element 1
	}
	var kept []held
	factor := map[string]float32{}
	hold := func(v *graph.Value) bool { _, ok := factor[v.Name]; return ok }
	observe := func(v *graph.Value, tt *Tensor) {
		if f, ok := factor[v.Name]; ok {
			kept = append(kept, held{tt, f})
		}
	}
	m := chain(t, steps)
	k := float32(1)
	for i, n := range m.Graph.Nodes {
		if n.OpType == "Scale" {
			k *= float32(i/2 + 2)
		}
		factor[n.Outputs[0].Name] = k
	}
	s, err := NewSession(m, Options{Registry: testRegistry(), Observer: observe, Hold: hold})
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Float32, 4, 256)
	x.F32()[1] = 1
	check := func(when string) {
		t.Helper()
		for _, h := range kept {
			if got := h.t.F32()[1]; got != h.want {
				t.Fatalf("%s: a held tensor holds %v, want %v", when, got, h.want)
			}
		}
	}
	outs, err := s.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	first := kept
	if len(first) != 2*steps {
		t.Fatalf("held %d tensors, want %d", len(first), 2*steps)
	}
	check("after the run")
	kept = nil
	x2 := New(graph.Float32, 4, 256)
	x2.F32()[1] = 2
	if _, err := s.Run(map[string]*Tensor{"x": x2}); err != nil {
		t.Fatal(err)
	}
	second := kept
	kept = first
	check("after another run")
	for _, h := range second {
		for _, f := range first {
			if &h.t.F32()[0] == &f.t.F32()[0] {
				t.Fatal("a later run reused a held buffer")
			}
		}
	}
	// The output's buffer is held too: handing the output back leaves it
	// out of the pool until it is released.
	before := len(s.pool.free[1024])
	s.RecycleAll(outs)
	if got := len(s.pool.free[1024]); got != before {
		t.Fatalf("recycling a held output put %d buffers in the pool", got-before)
	}
	check("after recycling the output")
	for _, h := range first {
		s.Release(h.t)
	}
	if got := len(s.pool.free[1024]) - before; got != steps {
		t.Errorf("releasing put %d buffers back in the pool, want %d", got, steps)
	}
}

// TestSharedPool: a session given another's pool runs on the buffers the
// first one freed: its output holds one of them.
func TestSharedPool(t *testing.T) {
	pool := NewBufferPool()
	m := chain(t, 3)
	a, err := NewSession(m, Options{Registry: testRegistry(), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(m, Options{Registry: testRegistry(), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Float32, 4, 256)
	outs, err := a.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	a.RecycleAll(outs)
	freed := len(pool.free[1024])
	if freed == 0 {
		t.Fatal("the first session left nothing in the shared pool")
	}
	outs, err = b.Run(map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pool.free[1024]); got != freed-1 {
		t.Errorf("after the second session's run the pool holds %d buffers, want %d (its output taken from it)", got, freed-1)
	}
	var own bool
	for _, buf := range pool.free[1024] {
		own = own || &buf[0] == &outs[b.Outputs()[0].Name].F32()[0]
	}
	if own {
		t.Error("the output's buffer is still in the pool")
	}
}

// FloatValues reads float32 data as it is and converts half precision and
// float64; other types have none.
func TestTensorFloatValues(t *testing.T) {
	f32 := FromFloat32([]int{2}, []float32{1.5, -2})
	if v := f32.FloatValues(); &v[0] != &f32.F32()[0] {
		t.Error("float32 data was copied")
	}
	h := New(graph.Float16, 2)
	h.Data.([]float16.Float16)[0], h.Data.([]float16.Float16)[1] = float16.Fromfloat32(1.5), float16.Fromfloat32(-2)
	bf := New(graph.BFloat16, 2)
	bf.Data.([]BFloat16)[0], bf.Data.([]BFloat16)[1] = 0x3fc0, 0xc000 // 1.5, -2
	d := New(graph.Float64, 2)
	copy(d.Data.([]float64), []float64{1.5, -2})
	for _, x := range []*Tensor{h, bf, d} {
		if v := x.FloatValues(); len(v) != 2 || v[0] != 1.5 || v[1] != -2 {
			t.Errorf("%v: %v", x.DType, v)
		}
	}
	if v := New(graph.Int32, 2).FloatValues(); v != nil {
		t.Errorf("int32: %v", v)
	}
}
