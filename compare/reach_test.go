package compare

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// qdqNet starts a net of input x [1, 1, 4, 4] with a 1×1 Conv weight w
// and qdq, which puts a Q/DQ pair of scale 0.1 on a value.
func qdqNet() (b *graph.Builder, x, w *graph.Value, qdq func(*graph.Value) *graph.Value) {
	b = graph.NewBuilder(13)
	x = b.Input("x", graph.Float32, 1, 1, 4, 4)
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.1}))
	qdq = func(v *graph.Value) *graph.Value {
		return b.Op("DequantizeLinear", b.Op("QuantizeLinear", v, s), s)
	}
	w = b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{2}))
	return b, x, w, qdq
}

// chainQuant builds x → Q/DQ → c1 → y1 → Q/DQ → c2 → out, with one
// branch y1 → Q/DQ → c3 → side to a second output.
func chainQuant(t *testing.T) *graph.Model {
	t.Helper()
	b, x, w, qdq := qdqNet()
	y1 := b.Op("Conv", qdq(x), w)
	dq1 := qdq(y1)
	out := b.Op("Conv", dq1, w)
	side := b.Op("Conv", dq1, w)
	b.Output(out, side)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The reach of a layer's noise is the product of the gains below it,
// each solved from the runs: c2's gain is (N(out) − L(c2)) / (N(a1) −
// R(a1)), its noise-to-signal gain that times S(a1)/S(out); c1 above
// takes it on, c2 and c3 reach the worst output directly or not at all.
func TestReachChain(t *testing.T) {
	m := chainQuant(t)
	var convs, qs []*graph.Node
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			convs = append(convs, n)
		case "QuantizeLinear":
			qs = append(qs, n)
		}
	}
	if len(convs) != 3 || len(qs) != 2 {
		t.Fatalf("%d Conv, %d Q", len(convs), len(qs))
	}
	out, side := convs[1].Outputs[0].Name, convs[2].Outputs[0].Name
	a0 := &activation{name: "x", qOut: qs[0].Outputs[0].Name, sig: 100, noise: 0.01, rounding: 0.01, roundingSig: 100, scale: 0.1}
	a1 := &activation{name: convs[0].Outputs[0].Name, qOut: qs[1].Outputs[0].Name, sig: 400, noise: 0.5, rounding: 0.1, roundingSig: 200, scale: 0.2}
	l1 := &layer{node: convs[0], output: a1.name, sig: 400, noise: 0.1}
	l2 := &layer{node: convs[1], output: out, sig: 1600, noise: 0.4}
	l3 := &layer{node: convs[2], output: side, sig: 1600, noise: 0.4}
	outputs := map[string]*outputStat{out: {sig: 1600, noise: 2}, side: {sig: 1600, noise: 0.5}}
	r := reaches(m, out, []*activation{a0, a1}, []*layer{l1, l2, l3}, outputs)
	// R(a1) over all samples: 0.1/200 of 400 = 0.2; g(c2) = (2 − 0.4) /
	// (0.5 − 0.2); its NSR gain from a1 g·400/1600.
	want1 := (2 - 0.4) / (0.5 - 0.2) * 400 / 1600
	for _, c := range []struct {
		l    *layer
		want float64
	}{{l1, want1}, {l2, 1}, {l3, 0}} {
		if got := r[c.l]; math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: reach %v, want %v", c.l.output, got, c.want)
		}
	}
	// Too little error entering c2 to measure its gain: it keeps the
	// ratio, and with a1 its only input that is a gain of 1.
	a1.noise = 0.2000001
	if got := reaches(m, out, []*activation{a0, a1}, []*layer{l1, l2, l3}, outputs)[l1]; math.Abs(got-1) > 1e-9 {
		t.Errorf("c1's reach %v with c2's gain unmeasurable, want 1", got)
	}
}

// A float region that reads a layer's output twice (as a hard-swish:
// y·f(y)) carries its noise to the output once, not once per path.
func TestReachFloatDiamondCountsOnce(t *testing.T) {
	// the Add also reads x, so the tail is not a function of y alone
	// and keeps the ratio rather than having its gain measured
	m, conv, q, out := convTail(t, func(b *graph.Builder, x, y *graph.Value) *graph.Value {
		return b.Op("Mul", y, b.Op("Add", y, x))
	})
	a := &activation{name: "x", qOut: q.Outputs[0].Name, sig: 100, noise: 0.01, rounding: 0.01, roundingSig: 100, scale: 0.1}
	l := &layer{node: conv, output: conv.Outputs[0].Name, sig: 400, noise: 0.1}
	outputs := map[string]*outputStat{out: {sig: 1000, noise: 1}}
	if got := reaches(m, out, []*activation{a}, []*layer{l}, outputs)[l]; got != 1 {
		t.Errorf("reach through the diamond %v, want 1", got)
	}
}

// convTail builds x → Q/DQ → Conv → y → tail(y) → output and returns the
// model, its Conv and Q nodes and the output's name.
func convTail(t *testing.T, tail func(b *graph.Builder, x, y *graph.Value) *graph.Value) (*graph.Model, *graph.Node, *graph.Node, string) {
	t.Helper()
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	s := b.Const(graph.FromFloat32s("s", nil, []float32{0.1}))
	w := b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{2}))
	y := b.Op("Conv", b.Op("DequantizeLinear", b.Op("QuantizeLinear", x, s), s), w)
	out := tail(b, x, y)
	b.Output(out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	var conv, q *graph.Node
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			conv = n
		case "QuantizeLinear":
			q = n
		}
	}
	return m, conv, q, out.Name
}

// A float region that is a function of one activation alone up to the
// worst output (here a Transpose and a Sigmoid) has its gain measured:
// the output's noise-to-signal ratio over the activation's. One that also
// reads another runtime value keeps the ratio.
func TestReachSealedRegionMeasured(t *testing.T) {
	for _, sealed := range []bool{true, false} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 1, 4, 4)
		s := b.Const(graph.FromFloat32s("s", nil, []float32{0.1}))
		w := b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{2}))
		y := b.Op("Conv", b.Op("DequantizeLinear", b.Op("QuantizeLinear", x, s), s), w)
		moved := b.Op("Transpose", b.Op("DequantizeLinear", b.Op("QuantizeLinear", y, s), s), graph.IntsAttr("perm", 0, 1, 3, 2))
		if !sealed {
			moved = b.Op("Add", moved, x)
		}
		out := b.Op("Sigmoid", moved)
		b.Output(out)
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		var conv, tr *graph.Node
		var qs []*graph.Node
		for _, n := range m.Graph.Nodes {
			switch n.OpType {
			case "Conv":
				conv = n
			case "Transpose":
				tr = n
			case "QuantizeLinear":
				qs = append(qs, n)
			}
		}
		a0 := &activation{name: "x", qOut: qs[0].Outputs[0].Name, sig: 100, noise: 0.01, scale: 0.1}
		a1 := &activation{name: y.Name, qOut: qs[1].Outputs[0].Name, sig: 400, noise: 0.5, scale: 0.1}
		l1 := &layer{node: conv, output: y.Name, sig: 400, noise: 0.1}
		lt := &layer{node: tr, output: tr.Outputs[0].Name, sig: 400}
		outputs := map[string]*outputStat{out.Name: {sig: 1000, noise: 10}}
		want := 1.0
		if sealed {
			want = (10.0 / 1000) / (0.5 / 400)
		}
		if got := reaches(m, out.Name, []*activation{a0, a1}, []*layer{l1, lt}, outputs)[l1]; math.Abs(got-want) > 1e-9 {
			t.Errorf("sealed %v: reach %v, want %v", sealed, got, want)
		}
	}
}

// A layer whose output has no Q/DQ and ends in a float tail of its own
// (Conv → Sigmoid → output) gets the tail's measured gain over the
// layer's estimated output ratio: its own plus the error its input
// carried before rounding.
func TestReachLayerTailMeasured(t *testing.T) {
	m, conv, q, out := convTail(t, func(b *graph.Builder, _, y *graph.Value) *graph.Value { return b.Op("Sigmoid", y) })
	// 0.02 of x's error predates its rounding (0.01 of 0.03)
	a := &activation{name: "x", qOut: q.Outputs[0].Name, sig: 100, noise: 0.03, rounding: 0.01, roundingSig: 100, scale: 0.1}
	l := &layer{node: conv, output: conv.Outputs[0].Name, sig: 400, noise: 0.1}
	outputs := map[string]*outputStat{out: {sig: 1000, noise: 1}}
	want := (1.0 / 1000) / (0.1/400 + 0.02/100)
	if got := reaches(m, out, []*activation{a}, []*layer{l}, outputs)[l]; math.Abs(got-want) > 1e-9 {
		t.Errorf("reach %v, want %v", got, want)
	}
}

// A layer whose output reaches the worst output through data moves alone
// (a Sigmoid → Identity → output) keeps its ratio there: reach 1, not a
// gain estimated from figures measured before the Sigmoid.
func TestReachThroughMovesOnly(t *testing.T) {
	var y, sig *graph.Value
	m, conv, qy, out := convTail(t, func(b *graph.Builder, _, conv *graph.Value) *graph.Value {
		y = conv
		s := b.Const(graph.FromFloat32s("s2", nil, []float32{0.1}))
		sig = b.Op("Sigmoid", b.Op("DequantizeLinear", b.Op("QuantizeLinear", y, s), s))
		return b.Op("Identity", sig)
	})
	qx := m.Graph.Inputs[0].Consumers[0]
	a0 := &activation{name: "x", qOut: qx.Outputs[0].Name, sig: 100, noise: 0.01, rounding: 0.01, roundingSig: 100, scale: 0.1}
	// y's error: 0.3 before its rounding, 0.2 of rounding
	a1 := &activation{name: y.Name, qOut: qy.Outputs[0].Name, sig: 400, noise: 0.5, rounding: 0.2, roundingSig: 400, scale: 0.1}
	l1 := &layer{node: conv, output: y.Name, sig: 400, noise: 0.3}
	ls := &layer{node: sig.Producer, output: sig.Name, sig: 50, noise: 0.001}
	outputs := map[string]*outputStat{out: {sig: 50, noise: 0.004}}
	r := reaches(m, out, []*activation{a0, a1}, []*layer{l1, ls}, outputs)
	if got := r[ls]; got != 1 {
		t.Errorf("Sigmoid's reach %v, want 1", got)
	}
	// the Sigmoid's gain is measured through the Identity: (0.004 −
	// 0.001) of the output's error came in with y's 0.3 before rounding
	want := (0.004 - 0.001) / 0.3 * 400 / 50
	if got := r[l1]; math.Abs(got-want) > 1e-9 {
		t.Errorf("Conv's reach %v, want %v", got, want)
	}
}

// Noise read inside an If body from the outer graph carries on through the
// If's outputs: the Conv before it reaches the output the If writes, as
// the If keeps the ratio.
func TestReachThroughSubgraph(t *testing.T) {
	var y, dq *graph.Value
	m, conv, qx, out := convTail(t, func(b *graph.Builder, _, conv *graph.Value) *graph.Value {
		y = conv
		s := b.Const(graph.FromFloat32s("s2", nil, []float32{0.1}))
		dq = b.Op("DequantizeLinear", b.Op("QuantizeLinear", y, s), s)
		cond := b.Input("cond", graph.Bool)
		branch := func(name, op string) *graph.Graph {
			g := graph.NewGraph(name)
			g.Parent = b.Graph()
			n := &graph.Node{Name: name + "_op", OpType: op, Inputs: []*graph.Value{dq}}
			if err := g.AddNode(n, name+"_out"); err != nil {
				t.Fatal(err)
			}
			g.AddOutput(n.Outputs[0])
			return g
		}
		return b.Op("If", cond, graph.GraphAttr("then_branch", branch("then", "Identity")), graph.GraphAttr("else_branch", branch("else", "Neg")))
	})
	var qy *graph.Node
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" && n.Input(0) == y {
			qy = n
		}
	}
	a0 := &activation{name: "x", qOut: qx.Outputs[0].Name, sig: 100, noise: 0.01, scale: 0.1}
	a1 := &activation{name: y.Name, qOut: qy.Outputs[0].Name, sig: 400, noise: 0.5, scale: 0.1}
	l := &layer{node: conv, output: y.Name, sig: 400, noise: 0.1}
	outputs := map[string]*outputStat{out: {sig: 400, noise: 0.5}}
	if got := reaches(m, out, []*activation{a0, a1}, []*layer{l}, outputs)[l]; !(got > 0) {
		t.Errorf("reach %v through the If, want it above 0", got)
	}
}

// Two layers joined by a float Concat and a Softmax up to the worst
// output: the region's gain is measured, the output's ratio over the
// pooled ratio of both layers' outputs, and each layer reaches it times
// its share of the pooled signal (a Softmax over confident scores shrinks
// the ratio that keeping it would overstate).
func TestReachJoinedRegionMeasured(t *testing.T) {
	b, x, w, qdq := qdqNet()
	dx := qdq(x)
	y1 := b.Op("Conv", dx, w)
	y2 := b.Op("Conv", dx, w)
	out := b.Op("Softmax", b.Op("Concat", y1, y2, graph.IntAttr("axis", 1)), graph.IntAttr("axis", 1))
	b.Output(out)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	var convs []*graph.Node
	var q *graph.Node
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			convs = append(convs, n)
		case "QuantizeLinear":
			q = n
		}
	}
	// x's error is all its rounding: each layer's output ratio is its own
	a := &activation{name: "x", qOut: q.Outputs[0].Name, sig: 100, noise: 0.01, rounding: 0.01, roundingSig: 100, scale: 0.1}
	l1 := &layer{node: convs[0], output: y1.Name, sig: 400, noise: 0.4}
	l2 := &layer{node: convs[1], output: y2.Name, sig: 100, noise: 0.3}
	outputs := map[string]*outputStat{out.Name: {sig: 50, noise: 0.005}}
	gain := (0.005 / 50) / ((0.4 + 0.3) / 500)
	r := reaches(m, out.Name, []*activation{a}, []*layer{l1, l2}, outputs)
	for _, c := range []struct {
		l    *layer
		want float64
	}{{l1, gain * 400 / 500}, {l2, gain * 100 / 500}} {
		if got := r[c.l]; math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: reach %v, want %v", c.l.output, got, c.want)
		}
	}
	// A graph input read by the region has no known error: no gain is
	// measured, the region keeps the ratio.
	b, x, w, qdq = qdqNet()
	y1 = b.Op("Conv", qdq(x), w)
	out = b.Op("Softmax", b.Op("Concat", y1, x, graph.IntAttr("axis", 1)), graph.IntAttr("axis", 1))
	b.Output(out)
	if m, err = b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			l1.node = n
		case "QuantizeLinear":
			a.qOut = n.Outputs[0].Name
		}
	}
	l1.output = y1.Name
	outputs = map[string]*outputStat{out.Name: {sig: 50, noise: 0.005}}
	if got := reaches(m, out.Name, []*activation{a}, []*layer{l1}, outputs)[l1]; got != 1 {
		t.Errorf("region reading a graph input: reach %v, want 1", got)
	}
}
