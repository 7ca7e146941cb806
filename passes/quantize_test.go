// Tests of the quantize pass: golden dumps of small graphs (fixed ranges),
// the accuracy of the same graphs with calibrated ranges, options,
// sharing, opset raising, bad input, and the rule table.

package passes

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// calibrate runs m on each feed set and records the min/max of every
// float value (graph inputs included) by name.
func calibrate(t *testing.T, m *graph.Model, feeds []map[string]*runtime.Tensor) map[string]Range {
	t.Helper()
	ranges := map[string]Range{}
	var mu sync.Mutex
	add := func(name string, x *runtime.Tensor) {
		f := x.F32()
		if x.DType != graph.Float32 || len(f) == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		r, seen := ranges[name]
		for _, v := range f {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				continue
			}
			if !seen {
				r, seen = Range{v, v}, true
			}
			r.Min, r.Max = min(r.Min, v), max(r.Max, v)
		}
		if seen {
			ranges[name] = r
		}
	}
	s, err := runtime.NewSession(m, runtime.Options{Threads: 1, Observer: func(v *graph.Value, x *runtime.Tensor) { add(v.Name, x) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range feeds {
		for name, x := range f {
			add(name, x)
		}
		if _, err := s.Run(f); err != nil {
			t.Fatal(err)
		}
	}
	return ranges
}

// fixedRanges gives every float value of m a range: [0,3] for Relu/Clip
// outputs, [-2,2] otherwise, with overrides by name.
func fixedRanges(m *graph.Model, override map[string]Range) map[string]Range {
	ranges := map[string]Range{}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, v := range g.RealInputs() {
			ranges[v.Name] = Range{-2, 2}
		}
		for _, n := range g.Nodes {
			for _, o := range n.Outputs {
				if o == nil {
					continue
				}
				ranges[o.Name] = Range{-2, 2}
				if n.OpType == "Relu" || n.OpType == "Clip" {
					ranges[o.Name] = Range{0, 3}
				}
			}
		}
	})
	for k, v := range override {
		ranges[k] = v
	}
	return ranges
}

type quantCase struct {
	name     string
	build    func(b *graph.Builder)
	feeds    func() map[string]*runtime.Tensor
	override map[string]Range
	check    func(t *testing.T, m *graph.Model, r *QuantReport)
}

func convW(b *graph.Builder, name string, seed float64, out, in, k int64) *graph.Value {
	return f32(b, name, seed, out, in, k, k)
}

var quantCases = []quantCase{
	{
		name: "conv_relu",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 1, 3, 8, 8)
			c := b.Op("Conv", x, convW(b, "w1", 1, 4, 3, 3), f32(b, "b1", 2, 4), graph.IntsAttr("pads", 1, 1, 1, 1))
			r := b.Op("Relu", c)
			b.Output(b.Op("Conv", r, convW(b, "w2", 3, 2, 4, 1), f32(b, "b2", 4, 2)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.3, 1, 3, 8, 8)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			if ops := opTypes(m.Graph); ops["Relu"] != 0 || ops["QuantizeLinear"] != 2 {
				t.Errorf("want the Relu folded and 2 Q nodes, got %v", ops)
			}
			if w := m.Graph.Value("w1"); w == nil || w.DType != graph.Int8 {
				t.Errorf("w1 is not an int8 initializer: %+v", w)
			}
			if b := m.Graph.Value("b1"); b == nil || b.DType != graph.Int32 {
				t.Errorf("b1 is not an int32 initializer")
			}
			if r.ActivationsFolded != 1 || r.WeightsQuantized != 2 || r.BiasesQuantized != 2 {
				t.Errorf("report %+v", r)
			}
		},
	},
	{
		name: "conv_chain",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 1, 2, 6, 6)
			c := b.Op("Conv", x, convW(b, "w1", 1, 4, 2, 3), f32(b, "b1", 2, 4))
			c = b.Op("Conv", c, convW(b, "w2", 3, 4, 4, 3), f32(b, "b2", 4, 4))
			b.Output(b.Op("Conv", c, convW(b, "w3", 5, 2, 4, 1)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.7, 1, 2, 6, 6)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			if r.TensorsQuantized != 3 || r.OpCounts["Conv"] != 3 {
				t.Errorf("report %+v", r)
			}
		},
	},
	{
		name: "gemm",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 2, 8)
			h := b.Op("Gemm", x, f32(b, "w1", 1, 4, 8), f32(b, "b1", 2, 4), graph.IntAttr("transB", 1))
			h = b.Op("Relu", h)
			b.Output(b.Op("Gemm", h, f32(b, "w2", 3, 4, 3), f32(b, "b2", 4, 3)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.1, 2, 8)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			// transB=1: B is [N,K], channels on axis 0; else on axis 1
			for name, axis := range map[string]int64{"w1": 0, "w2": 1} {
				n := weightDQ(m.Graph, name)
				if n == nil || n.AttrInt("axis", -1) != axis {
					t.Errorf("%s: want axis %d", name, axis)
				}
			}
		},
	},
	{
		name: "matmul",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 3, 8)
			h := b.Op("MatMul", x, f32(b, "w", 1, 8, 5))
			h = b.Op("Relu", h)
			b.Output(b.Op("MatMul", h, f32(b, "w2", 2, 5, 2)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.2, 3, 8)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			if n := weightDQ(m.Graph, "w"); n == nil || n.AttrInt("axis", -1) != 1 {
				t.Errorf("MatMul weight not per channel on its last axis")
			}
		},
	},
	{
		name: "concat",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 1, 2, 5, 5)
			a := b.Op("Relu", b.Op("Conv", x, convW(b, "wa", 1, 3, 2, 1)))
			c := b.Op("Relu", b.Op("Conv", x, convW(b, "wb", 2, 3, 2, 1)))
			y := b.Op("Concat", a, c, graph.IntAttr("axis", 1))
			b.Output(b.Op("Conv", y, convW(b, "wc", 3, 2, 6, 1)))
		},
		feeds:    func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.4, 1, 2, 5, 5)} },
		override: map[string]Range{"relu1_out0": {0, 1}, "relu2_out0": {0, 4}, "concat1_out0": {0, 2}},
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			// one range for both branches and the result: no requantization
			var scales []float32
			for _, n := range m.Graph.Nodes {
				if n.OpType == "QuantizeLinear" && n.Inputs[0].Name != "x" {
					f, _ := n.Inputs[1].Const.Float32s()
					scales = append(scales, f[0])
				}
			}
			if len(scales) != 3 || scales[0] != scales[1] || scales[1] != scales[2] {
				t.Errorf("concat members have scales %v, want 3 equal", scales)
			}
		},
	},
	{
		name: "add",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 1, 2, 5, 5)
			a := b.Op("Conv", x, convW(b, "wa", 1, 2, 2, 1))
			c := b.Op("Conv", x, convW(b, "wb", 2, 2, 2, 1))
			s := b.Op("Relu", b.Op("Add", a, c))
			b.Output(b.Op("Conv", s, convW(b, "wc", 3, 2, 2, 1)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.5, 1, 2, 5, 5)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			add := nodeNamed(m.Graph, "add1")
			for i, in := range add.Inputs {
				if in.Producer == nil || in.Producer.OpType != "DequantizeLinear" {
					t.Errorf("Add input %d is not dequantized", i)
				}
			}
		},
	},
	{
		name: "softmax",
		build: func(b *graph.Builder) {
			x := b.Input("x", graph.Float32, 2, 8)
			h := b.Op("Gemm", x, f32(b, "w", 1, 8, 4), f32(b, "bias", 2, 4))
			b.Output(b.Op("Softmax", h, graph.IntAttr("axis", -1)))
		},
		feeds: func() map[string]*runtime.Tensor { return map[string]*runtime.Tensor{"x": input(0.6, 2, 8)} },
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			sm := nodeNamed(m.Graph, "softmax1")
			if p := sm.Inputs[0].Producer; p == nil || p.OpType != "Gemm" {
				t.Errorf("Softmax should read the float Gemm output")
			}
			if len(r.FP32) != 1 || r.FP32[0].Op != "Softmax" {
				t.Errorf("FP32 list %+v", r.FP32)
			}
		},
	},
	{
		name:  "if_body",
		build: buildIf,
		feeds: func() map[string]*runtime.Tensor {
			c := runtime.New(graph.Bool)
			c.Data.([]bool)[0] = true
			return map[string]*runtime.Tensor{"x": input(0.8, 1, 2, 5, 5), "cond": c}
		},
		check: func(t *testing.T, m *graph.Model, r *QuantReport) {
			then := m.Graph.Nodes[len(m.Graph.Nodes)-1].Attr("then_branch").Graph
			if ops := opTypes(then); ops["DequantizeLinear"] == 0 {
				t.Errorf("If body not quantized: %v", ops)
			}
		},
	},
}

// buildIf makes x → If(cond) whose then branch runs Conv → Relu → Conv on
// x with its own weights and whose else branch returns Relu(x).
func buildIf(b *graph.Builder) {
	x := b.Input("x", graph.Float32, 1, 2, 5, 5)
	cond := b.Input("cond", graph.Bool)
	then, els := graph.NewGraph("then"), graph.NewGraph("else")
	n := &graph.Node{Name: "if1", OpType: "If", Inputs: []*graph.Value{cond},
		Attrs: []*graph.Attribute{graph.GraphAttr("then_branch", then), graph.GraphAttr("else_branch", els)}}
	if err := b.Graph().AddNode(n, "if_out"); err != nil {
		panic(err)
	}
	add := func(g *graph.Graph, op, name string, ins ...*graph.Value) *graph.Value {
		nd := &graph.Node{Name: name, OpType: op, Inputs: ins}
		if err := g.AddNode(nd, name+"_out"); err != nil {
			panic(err)
		}
		return nd.Outputs[0]
	}
	w := func(g *graph.Graph, name string, seed float64, dims ...int64) *graph.Value {
		t, _ := graph.FromFloat32s(name, dims, ramp(int(dims[0]*dims[1]*dims[2]*dims[3]), seed))
		v, err := g.AddInitializer(t)
		if err != nil {
			panic(err)
		}
		return v
	}
	c := add(then, "Conv", "then_conv1", x, w(then, "then_w1", 1, 3, 2, 1, 1))
	r := add(then, "Relu", "then_relu", c)
	then.AddOutput(add(then, "Conv", "then_conv2", r, w(then, "then_w2", 2, 2, 3, 1, 1)))
	els.AddOutput(add(els, "Relu", "else_relu", x))
	b.Output(n.Outputs[0])
}

func opTypes(g *graph.Graph) map[string]int {
	ops := map[string]int{}
	for _, n := range g.Nodes {
		ops[n.OpType]++
	}
	return ops
}

func nodeNamed(g *graph.Graph, name string) *graph.Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// qParam returns input slot (1: scale, 2: zero point) of the Q node of
// activation name, or nil when it has none; scale and zero point may be
// shared with other activations, so they are found through the node.
func qParam(g *graph.Graph, name string, slot int) *graph.Value {
	for _, n := range g.Nodes {
		if n.OpType == "QuantizeLinear" && n.Input(0) != nil && n.Input(0).Name == name {
			return n.Input(slot)
		}
	}
	return nil
}

// weightDQ returns the DequantizeLinear node that reads the integer
// weight stored under name, or nil.
func weightDQ(g *graph.Graph, name string) *graph.Node {
	for _, n := range g.Nodes {
		if n.OpType == "DequantizeLinear" && n.Input(0) != nil && n.Input(0).Name == name {
			return n
		}
	}
	return nil
}

func quantize(t *testing.T, m *graph.Model, ranges map[string]Range, opts QuantOptions) *QuantReport {
	t.Helper()
	ctx := &Context{Values: map[string]any{}}
	if err := Run(m, ctx, []Pass{QuantizePass(ranges, opts)}, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	r, _ := ctx.Values[QuantReportKey].(*QuantReport)
	if r == nil {
		t.Fatal("no quantize report")
	}
	return r
}

// worstSQNR compares every output of got with want.
func worstSQNR(want, got map[string]*runtime.Tensor) float64 {
	worst := math.Inf(1)
	for name, w := range want {
		g := got[name]
		if g == nil {
			return math.Inf(-1)
		}
		worst = math.Min(worst, qdq.SQNR(w.F32(), g.F32()))
	}
	return worst
}

func TestQuantizeGolden(t *testing.T) {
	for _, c := range quantCases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			c.build(b)
			m := build(t, b)
			r := quantize(t, m, fixedRanges(m, c.override), DefaultQuantOptions())
			checkGolden(t, "quantize", c.name, m)
			if c.check != nil {
				c.check(t, m, r)
			}
		})
	}
}

// TestQuantizeAccuracy quantizes the golden graphs with calibrated ranges
// and checks the outputs against FP32, in onnxq's runtime.
func TestQuantizeAccuracy(t *testing.T) {
	for _, c := range quantCases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			c.build(b)
			m := build(t, b)
			feeds := c.feeds()
			ranges := calibrate(t, m, []map[string]*runtime.Tensor{feeds})
			want := outputs(t, m, feeds)
			quantize(t, m, ranges, DefaultQuantOptions())
			if s := worstSQNR(want, outputs(t, m, feeds)); s < 25 {
				t.Errorf("SQNR %.1f dB, want > 25", s)
			}
		})
	}
}

func TestQuantizePresets(t *testing.T) {
	for _, target := range []string{"ort-cpu", "tensorrt", "generic"} {
		o, err := Preset(target)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", target, err)
		}
		b := graph.NewBuilder(13)
		quantCases[0].build(b)
		m := build(t, b)
		feeds := quantCases[0].feeds()
		ranges := calibrate(t, m, []map[string]*runtime.Tensor{feeds})
		want := outputs(t, m, feeds)
		r := quantize(t, m, ranges, o)
		if s := worstSQNR(want, outputs(t, m, feeds)); s < 25 {
			t.Errorf("%s: SQNR %.1f dB", target, s)
		}
		relu := opTypes(m.Graph)["Relu"]
		if target == "tensorrt" {
			// zero point 0: Q cannot do the Relu's clipping
			if relu != 1 || r.ActivationsFolded != 0 {
				t.Errorf("tensorrt: Relu should stay")
			}
			zp := qParam(m.Graph, "x", 2)
			if zp == nil || zp.DType != graph.Int8 {
				t.Errorf("tensorrt: activations should be int8")
			}
		} else if relu != 0 {
			t.Errorf("%s: Relu not folded", target)
		}
	}
	if _, err := Preset("tpu"); err == nil {
		t.Error("unknown target accepted")
	}
}

func TestQuantOptionsValidate(t *testing.T) {
	if err := (QuantOptions{}).Default().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(o *QuantOptions){
		"activation type": func(o *QuantOptions) { o.ActivationType = qdq.Int4 },
		"weight type":     func(o *QuantOptions) { o.WeightType = 0 },
		"restricted":      func(o *QuantOptions) { o.SymmetricWeights = false },
		"pattern":         func(o *QuantOptions) { o.ExcludeOps = []string{"Conv["} },
		"block":           func(o *QuantOptions) { o.BlockSize = 24 },
		"opset":           func(o *QuantOptions) { o.Opset = 9 },
	}
	for name, edit := range bad {
		o := DefaultQuantOptions()
		edit(&o)
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
}

func TestQuantizeExclude(t *testing.T) {
	for _, o := range []QuantOptions{
		func() QuantOptions { o := DefaultQuantOptions(); o.ExcludeOps = []string{"Co*"}; return o }(),
		func() QuantOptions { o := DefaultQuantOptions(); o.ExcludeNodes = []string{"conv?"}; return o }(),
	} {
		b := graph.NewBuilder(13)
		quantCases[1].build(b)
		m := build(t, b)
		r := quantize(t, m, fixedRanges(m, nil), o)
		if ops := opTypes(m.Graph); ops["QuantizeLinear"]+ops["DequantizeLinear"] != 0 {
			t.Errorf("excluded convs quantized: %v", ops)
		}
		if len(r.FP32) != 3 || !strings.HasPrefix(r.FP32[0].Reason, "excluded") {
			t.Errorf("FP32 list %+v", r.FP32)
		}
	}
}

// A node without a name is addressed by its output's name; a named node
// only by its own name.
func TestQuantizeExcludeUnnamedByOutput(t *testing.T) {
	b := graph.NewBuilder(13)
	quantCases[1].build(b)
	m := build(t, b)
	var target *graph.Node
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" {
			target = n
			break
		}
	}
	out := target.Outputs[0].Name
	o := DefaultQuantOptions()
	o.ExcludeNodes = []string{out}
	r := quantize(t, build(t, func() *graph.Builder { b := graph.NewBuilder(13); quantCases[1].build(b); return b }()), fixedRanges(m, nil), o)
	if len(r.FP32) != 0 {
		t.Errorf("named node excluded by its output name %q: %+v", out, r.FP32)
	}
	m = build(t, func() *graph.Builder { b := graph.NewBuilder(13); quantCases[1].build(b); return b }())
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" && n.Outputs[0].Name == out {
			n.Name = ""
		}
	}
	r = quantize(t, m, fixedRanges(m, nil), o)
	if len(r.FP32) != 1 || r.FP32[0].Reason != "excluded by node pattern" {
		t.Errorf("unnamed node producing %q: FP32 list %+v", out, r.FP32)
	}
	// An output an equalization pass renamed still answers to the FP32
	// model's name.
	if !excludedNode([]string{out}, &graph.Node{Outputs: []*graph.Value{{Name: out + RescaledSuffix}}}) {
		t.Errorf("pattern %q does not match the unnamed node producing %q", out, out+RescaledSuffix)
	}
	if excludedNode([]string{out}, &graph.Node{Outputs: []*graph.Value{{Name: out + "_other"}}}) {
		t.Errorf("pattern %q matches an output named %q", out, out+"_other")
	}
}

func TestQuantizeIncludeSigmoid(t *testing.T) {
	build1 := func() *graph.Model {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		s := b.Op("Sigmoid", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1)))
		b.Output(b.Op("Conv", s, convW(b, "w2", 2, 2, 2, 1)))
		return build(t, b)
	}
	m := build1()
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if p := nodeNamed(m.Graph, "sigmoid1").Inputs[0].Producer; p.OpType != "Conv" {
		t.Errorf("Sigmoid is FP32 by default, its input should stay float")
	}
	o := DefaultQuantOptions()
	o.IncludeOps = []string{"Sigmoid"}
	m = build1()
	quantize(t, m, fixedRanges(m, nil), o)
	if p := nodeNamed(m.Graph, "sigmoid1").Inputs[0].Producer; p.OpType != "DequantizeLinear" {
		t.Errorf("included Sigmoid should read a DQ")
	}
}

// Two MatMuls reading one weight share its DequantizeLinear; the weight
// is stored once.
func TestQuantizeSharedWeight(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 4)
	w := f32(b, "w", 1, 4, 4)
	h := b.Op("Relu", b.Op("MatMul", x, w))
	b.Output(b.Op("MatMul", h, w))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if r.WeightsQuantized != 1 || len(m.Graph.Initializers) != 6 {
		t.Errorf("weights quantized %d, initializers %d", r.WeightsQuantized, len(m.Graph.Initializers))
	}
	dq := weightDQ(m.Graph, "w")
	if dq == nil || len(dq.Outputs[0].Consumers) != 2 || m.Graph.Value("w").DType != graph.Int8 {
		t.Errorf("the weight's DQ is not shared")
	}
}

// A NaN weight is stored as 0, inside the restricted int8 range, not as
// the -128 QuantizeLinear would make of it.
func TestQuantizeNaNWeight(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 4)
	data := ramp(16, 1)
	data[5] = float32(math.NaN())
	b.Output(b.Op("Relu", b.Op("MatMul", x, b.Const(graph.FromFloat32s("w", []int64{4, 4}, data)))))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	w := m.Graph.Value("w")
	if w == nil || w.Const == nil || w.DType != graph.Int8 {
		t.Fatalf("weight w not stored as int8")
	}
	raw, err := w.Const.Raw()
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range raw {
		if v := int8(b); v < -127 || i == 5 && v != 0 {
			t.Errorf("element %d (%v) stored as %d", i, data[i], v)
		}
	}
}

// A weight also read by an FP32 op keeps its float initializer for it.
func TestQuantizeWeightKeptForFP32Reader(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 4, 4)
	w := f32(b, "w", 1, 4, 4)
	h := b.Op("Relu", b.Op("MatMul", x, w))
	b.Output(b.Op("Div", h, w))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	mm := nodeNamed(m.Graph, "matmul1")
	if m.Graph.Value("w").DType != graph.Float32 || mm == nil || mm.Input(1).Producer == nil || mm.Input(1).Producer.Input(0).DType != graph.Int8 {
		t.Errorf("float weight not kept for Div")
	}
}

// An opset-9 model with Clip attributes is raised to 13, its Clip
// rewritten to inputs and folded into the Conv's output Q.
func TestQuantizeRaisesOpset(t *testing.T) {
	b := graph.NewBuilder(9)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c := b.Op("Clip", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1)), graph.FloatAttr("min", 0), graph.FloatAttr("max", 6))
	u := b.Op("Unsqueeze", b.Op("Conv", c, convW(b, "w2", 2, 2, 2, 1)), graph.IntsAttr("axes", 0))
	b.Output(u)
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.9, 1, 2, 4, 4)}
	want := outputs(t, m, feeds)
	r := quantize(t, m, fixedRanges(m, map[string]Range{"clip1_out0": {0, 6}}), DefaultQuantOptions())
	if v, _ := m.Opset(""); v != 13 || r.OpsetFrom != 9 || r.OpsetTo != 13 || m.IRVersion < 7 {
		t.Errorf("opset %d, IR %d, report %d→%d", v, m.IRVersion, r.OpsetFrom, r.OpsetTo)
	}
	if r.ActivationsFolded != 1 {
		t.Errorf("Clip(0,6) with range [0,6] not folded")
	}
	if un := nodeNamed(m.Graph, "unsqueeze1"); un.Attr("axes") != nil || un.Input(1) == nil {
		t.Errorf("Unsqueeze axes not moved to an input")
	}
	if s := worstSQNR(want, outputs(t, m, feeds)); s < 20 {
		t.Errorf("SQNR %.1f dB", s)
	}
}

// An Upsample that up- and downsamples at once has no Resize form (no
// nearest rounding matches its rule on both axes): raising the opset for
// per-channel weights fails, naming it.
func TestQuantizeOpsetRefused(t *testing.T) {
	b := graph.NewBuilder(9)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	y := b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1))
	b.Output(b.Op("Upsample", y, b.Const(graph.FromFloat32s("s", []int64{4}, []float32{1, 1, 2, 0.5}))))
	m, err := b.Model()
	if err != nil {
		t.Skip("builder cannot make Upsample-9:", err)
	}
	err = Run(m, nil, []Pass{QuantizePass(fixedRanges(m, nil), DefaultQuantOptions())}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "Upsample") {
		t.Errorf("got %v, want an error naming Upsample", err)
	}
}

func TestQuantizeAlreadyQuantized(t *testing.T) {
	b := graph.NewBuilder(13)
	quantCases[0].build(b)
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	err := Run(m, nil, []Pass{QuantizePass(fixedRanges(m, nil), DefaultQuantOptions())}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "already quantized") {
		t.Errorf("got %v", err)
	}
}

func TestQuantizeInt4Blocked(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 32)
	h := b.Op("Relu", b.Op("MatMul", x, f32(b, "w", 1, 32, 8)))
	b.Output(b.Op("MatMul", h, f32(b, "w2", 2, 8, 4)))
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.2, 2, 32)}
	want := outputs(t, m, feeds)
	ranges := calibrate(t, m, []map[string]*runtime.Tensor{feeds})
	o := DefaultQuantOptions()
	o.WeightType, o.RestrictedWeights, o.BlockSize = qdq.Int4, false, 16
	quantize(t, m, ranges, o)
	if v, _ := m.Opset(""); v != 21 {
		t.Errorf("opset %d, want 21", v)
	}
	dq := weightDQ(m.Graph, "w")
	if dq == nil || dq.AttrInt("block_size", 0) != 16 || m.Graph.Value("w").DType != graph.Int4 {
		t.Fatalf("w not blocked int4")
	}
	// this ramp's products cancel, which costs 4-bit weights most of
	// their 25 dB; garbage would be near 0 dB
	if s := worstSQNR(want, outputs(t, m, feeds)); s < 4 {
		t.Errorf("int4: SQNR %.1f dB", s)
	}
	b = graph.NewBuilder(13)
	x = b.Input("x", graph.Float32, 2, 32)
	h = b.Op("Relu", b.Op("MatMul", x, f32(b, "w", 1, 32, 8)))
	b.Output(b.Op("MatMul", h, f32(b, "w2", 2, 8, 4)))
	m = build(t, b)
	o.WeightType, o.RestrictedWeights = qdq.Int8, true
	quantize(t, m, ranges, o)
	if s := worstSQNR(want, outputs(t, m, feeds)); s < 30 {
		t.Errorf("int8 blocked: SQNR %.1f dB", s)
	}
}

func TestQuantizeLayerNormPattern(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 8)
	h := b.Op("MatMul", x, f32(b, "w", 1, 8, 8))
	mean := b.Op("ReduceMean", h, graph.IntsAttr("axes", -1))
	d := b.Op("Sub", h, mean)
	v := b.Op("ReduceMean", b.Op("Pow", d, b.Const(graph.FromFloat32s("two", nil, []float32{2}))), graph.IntsAttr("axes", -1))
	den := b.Op("Sqrt", b.Op("Add", v, b.Const(graph.FromFloat32s("eps", nil, []float32{1e-5}))))
	y := b.Op("Mul", b.Op("Div", d, den), f32(b, "gamma", 2, 8))
	y = b.Op("Add", y, f32(b, "beta", 3, 8))
	b.Output(b.Op("MatMul", y, f32(b, "w2", 4, 8, 3)))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	for _, name := range []string{"mul1", "div1"} {
		if n := nodeNamed(m.Graph, name); n.Inputs[0].Producer.OpType == "DequantizeLinear" {
			t.Errorf("%s of the layer norm reads a DQ", name)
		}
	}
	if n := nodeNamed(m.Graph, "matmul2"); n.Inputs[0].Producer.OpType != "DequantizeLinear" {
		t.Errorf("the MatMul after the layer norm should read a DQ")
	}
	if r.OpCounts["Add"] != 0 || r.OpCounts["MatMul"] != 2 {
		t.Errorf("op counts %v", r.OpCounts)
	}
	// every op of the pattern, its statistics included, gives the
	// pattern as its reason
	for _, f := range r.FP32 {
		if f.Reason != reasonLayerNorm {
			t.Errorf("%s (%s): %q", f.Node, f.Op, f.Reason)
		}
	}
	// (the epsilon's Add has a rule; with float ops on both sides it is
	// not quantized, and listed with the pattern's reason)
	if len(r.FP32) != 9 {
		t.Errorf("%d FP32 ops, want the layer norm's 9: %+v", len(r.FP32), r.FP32)
	}
}

func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.Op] {
			t.Errorf("%s listed twice", r.Op)
		}
		seen[r.Op] = true
		if r.DefaultFP32 && r.Reason == "" {
			t.Errorf("%s stays FP32 without a reason", r.Op)
		}
		if r.Class == ClassWeighted && r.Weight < 0 {
			t.Errorf("%s is weighted without a weight", r.Op)
		}
	}
	want := map[string]OpClass{"Conv": ClassWeighted, "Reshape": ClassShare, "Relu": ClassFold, "Softmax": ClassFP32, "Add": ClassQuantIO}
	for op, c := range want {
		if r := RuleFor(op); r == nil || r.Class != c {
			t.Errorf("%s: want class %v", op, c)
		}
	}
	if RuleFor("Conv").WeightAxis != 0 || RuleFor("ConvTranspose").WeightAxis != 1 || RuleFor("Conv").Bias != 2 {
		t.Error("Conv/ConvTranspose weight axes or bias slot wrong")
	}
}

// The same model, ranges and options give the same bytes.
func TestQuantizeDeterministic(t *testing.T) {
	var first []byte
	for i := 0; i < 3; i++ {
		b := graph.NewBuilder(13)
		quantCases[4].build(b) // concat: groups, folding, several weights
		m := build(t, b)
		quantize(t, m, fixedRanges(m, quantCases[4].override), DefaultQuantOptions())
		data, err := graph.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if string(data) != string(first) {
			t.Fatal("two runs give different models")
		}
	}
}

// Values without a usable range stay float; the pass neither fails nor
// panics.
func TestQuantizeBadRanges(t *testing.T) {
	b := graph.NewBuilder(13)
	quantCases[1].build(b)
	m := build(t, b)
	nan := float32(math.NaN())
	ranges := map[string]Range{"x": {nan, 1}, "conv1_out0": {3, -3}, "conv2_out0": {float32(math.Inf(-1)), float32(math.Inf(1))}}
	r := quantize(t, m, ranges, DefaultQuantOptions())
	if r.TensorsQuantized != 1 {
		t.Errorf("%d tensors quantized, want 1 (conv2_out0 with an infinite range)", r.TensorsQuantized)
	}
	if _, err := runtime.NewSession(m, runtime.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestQuantizeOverrides(t *testing.T) {
	b := graph.NewBuilder(13)
	quantCases[1].build(b) // conv chain
	m := build(t, b)
	o := DefaultQuantOptions()
	o.Overrides = map[string]TensorOverride{
		"conv1_out0": {FP32: true},
		"conv2_out0": {Range: &Range{-1, 1}},
		"w2":         {PerTensor: true},
		"w3":         {FP32: true},
	}
	r := quantize(t, m, fixedRanges(m, nil), o)
	g := m.Graph
	if qParam(g, "conv1_out0", 1) != nil || r.TensorsQuantized != 2 {
		t.Errorf("conv1_out0 quantized despite FP32 override (%d tensors)", r.TensorsQuantized)
	}
	if s, _ := qParam(g, "conv2_out0", 1).Const.Float32s(); math.Abs(float64(s[0])-2.0/255) > 1e-6 {
		t.Errorf("conv2_out0 scale %v, want the overridden range's", s)
	}
	if dq := weightDQ(g, "w2"); dq == nil || dq.Attr("axis") != nil {
		t.Errorf("w2 not per tensor")
	}
	if g.Value("w3").DType != graph.Float32 {
		t.Errorf("w3 quantized despite FP32 override")
	}
	bad := DefaultQuantOptions()
	bad.Overrides = map[string]TensorOverride{"x": {Range: &Range{1, 0}}}
	if bad.Validate() == nil {
		t.Error("empty override range accepted")
	}
}

// A Concat input with a range far narrower than the output's keeps its own
// scale (requantized at the output); inputs of comparable range share it.
func TestQuantizeConcatNarrowInput(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	wide := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
	near := b.Op("Conv", x, convW(b, "w2", 3, 2, 2, 1), f32(b, "b2", 4, 2))
	narrow := b.Op("Conv", x, convW(b, "w3", 5, 2, 2, 1), f32(b, "b3", 6, 2))
	y := b.Op("Concat", wide, near, narrow, graph.IntAttr("axis", 1))
	b.Output(b.Op("Conv", y, convW(b, "w4", 7, 2, 6, 1), f32(b, "b4", 8, 2)))
	m := build(t, b)
	ranges := fixedRanges(m, map[string]Range{
		wide.Name: {-8, 8}, near.Name: {-4, 4}, narrow.Name: {-0.5, 0.5}, y.Name: {-8, 8},
	})
	quantize(t, m, ranges, DefaultQuantOptions())
	scale := func(v *graph.Value) float32 {
		sv := qParam(m.Graph, v.Name, 1)
		if sv == nil {
			t.Fatalf("%s not quantized", v.Name)
		}
		s, _ := sv.Const.Float32s()
		return s[0]
	}
	if scale(wide) != scale(y) || scale(near) != scale(y) {
		t.Errorf("inputs of comparable range do not share the output's scale: %v %v %v", scale(wide), scale(near), scale(y))
	}
	if got, want := scale(narrow), float32(1.0/255); math.Abs(float64(got-want)) > 1e-7 {
		t.Errorf("narrow input scale %v, want its own range's %v", got, want)
	}
}

// A Conv whose output reaches a Log through arithmetic (a spectrum front
// end) stays FP32; a Conv of the same model that does not is quantized.
func TestQuantizeConvFeedingLog(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	spec := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
	pow := b.Op("Mul", spec, spec)
	lg := b.Op("Log", b.Op("Add", pow, f32(b, "eps", 3, 1)))
	b.Output(b.Op("Conv", lg, convW(b, "w2", 4, 2, 2, 1), f32(b, "b2", 5, 2)))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if r.OpCounts["Conv"] != 1 {
		t.Errorf("want 1 quantized Conv, got %v", r.OpCounts)
	}
	if !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Conv" && f.Reason == reasonLogInput }) {
		t.Errorf("the spectrum Conv is not reported FP32 for its Log: %v", r.FP32)
	}
	if m.Graph.Value("w1").DType != graph.Float32 || m.Graph.Value("w2").DType == graph.Float32 {
		t.Error("wrong weights quantized")
	}
}

// A depthwise Conv whose weights are large compared with the ratio of its
// output's range to its input's amplifies the input's rounding past
// maxInputNoiseGain output steps and stays FP32; with ranges where the
// gain is small the same Conv is quantized.
func TestQuantizeConvNoiseGain(t *testing.T) {
	for _, c := range []struct {
		name    string
		in, out Range
		fp32    bool
	}{
		{"quiet channel", Range{-100, 100}, Range{-1, 1}, true},
		{"balanced", Range{-2, 2}, Range{-2, 2}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			x := b.Input("x", graph.Float32, 1, 2, 4, 4)
			y := b.Op("Conv", x, f32(b, "w", 1, 2, 1, 3, 3), f32(b, "bias", 2, 2),
				graph.IntAttr("group", 2), graph.IntsAttr("pads", 1, 1, 1, 1))
			b.Output(b.Op("Relu", y))
			m := build(t, b)
			r := quantize(t, m, fixedRanges(m, map[string]Range{"x": c.in, y.Name: c.out}), DefaultQuantOptions())
			fp32 := slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Conv" && f.Reason == reasonNoiseGain })
			if fp32 != c.fp32 || (r.OpCounts["Conv"] == 1) == c.fp32 {
				t.Errorf("FP32 %v (want %v), quantized ops %v", fp32, c.fp32, r.OpCounts)
			}
		})
	}
}

// Max against a constant scalar is a clip at its lower bound: it folds into
// the range of the output's Q like a Relu, instead of sharing (and so
// widening) the range of its input.
func TestQuantizeMaxConstFolds(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
	lo := b.Const(graph.FromFloat32s("lo", nil, []float32{-0.5}))
	y := b.Op("Max", c, lo)
	b.Output(b.Op("Conv", y, convW(b, "w2", 3, 2, 2, 1), f32(b, "b2", 4, 2)))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, map[string]Range{c.Name: {-8, 8}, y.Name: {-0.5, 8}}), DefaultQuantOptions())
	if ops := opTypes(m.Graph); ops["Max"] != 0 || r.ActivationsFolded != 1 {
		t.Errorf("Max not folded: %v, %d folded", ops, r.ActivationsFolded)
	}
	// with the Max gone, its output's Q reads the Conv's output
	s, _ := qParam(m.Graph, c.Name, 1).Const.Float32s()
	if math.Abs(float64(s[0])-8.5/255) > 1e-6 {
		t.Errorf("scale %v, want the Max output's range 8.5/255", s)
	}
}

// hardSwish builds Conv → x·Relu(x+3)/d → Conv, the Div's divisor given.
func hardSwish(b *graph.Builder, div *graph.Value) {
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	c := b.Op("Conv", x, convW(b, "w1", 0.3, 4, 2, 3))
	three := b.Const(graph.FromFloat32s("three", nil, []float32{3}))
	h := b.Op("Div", b.Op("Mul", c, b.Op("Relu", b.Op("Add", c, three))), div)
	b.Output(b.Op("Conv", h, convW(b, "w2", 0.7, 2, 4, 1)))
}

// A Div by a constant, once included, scales like a Mul: its dividend and
// output get Q/DQ, its divisor stays the float constant, and the Conv
// before it keeps its Q/DQ unit.
func TestQuantizeDivByConst(t *testing.T) {
	b := graph.NewBuilder(13)
	hardSwish(b, b.Const(graph.FromFloat32s("six", nil, []float32{6})))
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.4, 1, 2, 6, 6)}
	want := outputs(t, m, feeds)
	ranges := calibrate(t, m, []map[string]*runtime.Tensor{feeds})
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Div" {
			// a calibrated range off from the dividend's by rounding:
			// the dividend's grid wins
			rr := ranges[n.Outputs[0].Name]
			ranges[n.Outputs[0].Name] = Range{rr.Min * 1.1, rr.Max * 1.1}
		}
	}
	o := DefaultQuantOptions()
	o.IncludeOps = []string{"Div"}
	r := quantize(t, m, ranges, o)
	var div *graph.Node
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Div" {
			div = n
		}
	}
	if div == nil || div.Input(0).Producer == nil || div.Input(0).Producer.OpType != "DequantizeLinear" {
		t.Fatalf("Div's dividend not read through DQ")
	}
	if d := div.Input(1); d.Name != "six" || d.DType != graph.Float32 {
		t.Errorf("divisor %s %v, want the float constant six", d.Name, d.DType)
	}
	if len(div.Outputs[0].Consumers) != 1 || div.Outputs[0].Consumers[0].OpType != "QuantizeLinear" {
		t.Errorf("Div's output not quantized")
	}
	// the output's grid is the dividend's divided by 6: no extra rounding
	inDQ, outQ := div.Input(0).Producer, div.Outputs[0].Consumers[0]
	si, _ := inDQ.Input(1).Const.Float32s()
	so, _ := outQ.Input(1).Const.Float32s()
	zi, _ := inDQ.Input(2).Const.Raw()
	zo, _ := outQ.Input(2).Const.Raw()
	if len(si) != 1 || len(so) != 1 || so[0] != si[0]/6 || !bytes.Equal(zi, zo) {
		t.Errorf("Div output scale %v, want dividend's %v / 6 with its zero point", so, si)
	}
	if r.OpCounts["Div"] != 1 {
		t.Errorf("Div count %d, want 1 quantized", r.OpCounts["Div"])
	}
	if s := worstSQNR(want, outputs(t, m, feeds)); s < 25 {
		t.Errorf("SQNR %.1f dB, want > 25", s)
	}
}

// A Div by a constant holding 0, or by an activation, stays FP32 even
// when included; by default every Div does.
func TestQuantizeDivStaysFP32(t *testing.T) {
	b := graph.NewBuilder(13)
	hardSwish(b, b.Const(graph.FromFloat32s("six", nil, []float32{6})))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if r.OpCounts["Div"] != 0 || !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Div" && f.Reason == reasonHardSwish }) {
		t.Errorf("Div quantized by default: %v, FP32 %v", r.OpCounts, r.FP32)
	}
	for name, div := range map[string]func(b *graph.Builder) *graph.Value{
		"zero": func(b *graph.Builder) *graph.Value {
			return b.Const(graph.FromFloat32s("d", []int64{1, 4, 1, 1}, []float32{6, 0, 6, 6}))
		},
		"activation": func(b *graph.Builder) *graph.Value { return b.Input("d", graph.Float32, 1) },
	} {
		t.Run(name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			hardSwish(b, div(b))
			m := build(t, b)
			o := DefaultQuantOptions()
			o.IncludeOps = []string{"Div"}
			r := quantize(t, m, fixedRanges(m, nil), o)
			if r.OpCounts["Div"] != 0 || !slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "Div" && f.Reason == reasonRange }) {
				t.Errorf("Div quantized: %v, FP32 %v", r.OpCounts, r.FP32)
			}
		})
	}
}

// Activations with equal parameters share one scale/zero-point pair,
// named after the first; symmetric weights have no zero-point input and
// their DQ still yields float32.
func TestQuantizeSharedActParams(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	y := b.Input("y", graph.Float32, 1, 2, 6, 6)
	w := convW(b, "w", 0.3, 2, 2, 3)
	b.Output(b.Op("Conv", x, w), b.Op("Conv", y, w))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	xs, ys := qParam(m.Graph, "x", 1), qParam(m.Graph, "y", 1)
	if xs == nil || xs != ys || xs.Name != "s1" || qParam(m.Graph, "y", 2) != qParam(m.Graph, "x", 2) {
		t.Errorf("x and y do not share s1/z1: %v %v", xs, ys)
	}
	dq := weightDQ(m.Graph, "w")
	if dq == nil || len(dq.Inputs) != 2 || dq.Outputs[0].DType != graph.Float32 {
		t.Fatalf("weight DQ %v, want (w, w_s) → float32", dq)
	}
	feeds := map[string]*runtime.Tensor{"x": input(0.2, 1, 2, 6, 6), "y": input(0.5, 1, 2, 6, 6)}
	for _, o := range outputs(t, m, feeds) {
		if o.DType != graph.Float32 {
			t.Errorf("output %v, want float32", o.DType)
		}
	}
}

// A LeakyRelu between quantized values gets its input's scale, so the
// codes of non-negative values pass through it unchanged: Conv → LeakyRelu
// → Max(-0.4) (folded) → MaxPool → Conv, where the MaxPool shares the
// aligned parameters. With an input range far wider on the negative side
// the output keeps its own, finer scale.
func TestQuantizeLeakyReluAligned(t *testing.T) {
	for _, tc := range []struct {
		name          string
		convLo        float32
		aligned       bool
		wantOutScaleN float64 // output scale × 255 when not aligned
	}{
		{"aligned", -2, true, 0},
		{"own grid", -8, false, 12.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			x := b.Input("x", graph.Float32, 1, 2, 4, 4)
			c := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
			l := b.Op("LeakyRelu", c, graph.FloatAttr("alpha", 0.2))
			mx := b.Op("Max", l, b.Const(graph.FromFloat32s("floor", nil, []float32{-0.4})))
			p := b.Op("MaxPool", mx, graph.IntsAttr("kernel_shape", 2, 2))
			b.Output(b.Op("Conv", p, convW(b, "w2", 3, 2, 2, 1), f32(b, "b2", 4, 2)))
			m := build(t, b)
			ranges := fixedRanges(m, map[string]Range{c.Name: {tc.convLo, 12}, l.Name: {-0.4, 12}, mx.Name: {-0.4, 12}, p.Name: {-0.4, 12}})
			r := quantize(t, m, ranges, DefaultQuantOptions())
			if ops := opTypes(m.Graph); ops["Max"] != 0 || r.ActivationsFolded != 1 {
				t.Fatalf("Max not folded: %v, %d folded", ops, r.ActivationsFolded)
			}
			scale := func(name string) (float32, []byte) {
				s, _ := qParam(m.Graph, name, 1).Const.Float32s()
				z, _ := qParam(m.Graph, name, 2).Const.Raw()
				return s[0], z
			}
			sIn, zIn := scale(c.Name)
			sOut, zOut := scale(l.Name) // the folded Max's Q reads the LeakyRelu
			sPool, zPool := scale(p.Name)
			if sPool != sOut || !bytes.Equal(zPool, zOut) {
				t.Errorf("MaxPool output %v/%v, want its input's %v/%v", sPool, zPool, sOut, zOut)
			}
			if !tc.aligned {
				if math.Abs(float64(sOut)*255-tc.wantOutScaleN) > 1e-4 || sOut == sIn {
					t.Errorf("output scale %v (input %v), want its own 12.4/255", sOut, sIn)
				}
				return
			}
			if sOut != sIn {
				t.Fatalf("output scale %v, want the input's %v", sOut, sIn)
			}
			// the zero point holds [-0.4, 12] on that grid: -0.4 within
			// half a step of the lowest code
			zo := float64(zOut[0])
			if lo := -zo * float64(sOut); math.Abs(lo+0.4) > float64(sOut)/2 || (255-zo)*float64(sOut) < 12 {
				t.Errorf("zero point %v gives [%v, %v], want [-0.4, 12]", zo, lo, (255-zo)*float64(sOut))
			}
			if zIn[0] <= zOut[0] {
				t.Errorf("zero points in %d, out %d: the output's negative side is narrower", zIn[0], zOut[0])
			}
		})
	}
}

// Raising an opset 6 model rewrites what broadcast differently before
// opset 7: an Add aligning its constant operand at axis 1 and a PRelu with
// one slope per channel get operands of trailing 1-dimensions, so the
// quantized model computes what the FP32 one did. A computed operand
// that would need it is refused.
func TestQuantizeRaisesLegacyBroadcast(t *testing.T) {
	b := graph.NewBuilder(6)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	bias := b.Const(graph.FromFloat32s("bias", []int64{2}, []float32{0.5, -1.5}))
	slope := b.Const(graph.FromFloat32s("slope", []int64{2}, []float32{0.1, 0.3}))
	a := b.Op("Add", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1)), bias, graph.IntAttr("broadcast", 1), graph.IntAttr("axis", 1))
	p := b.Op("PRelu", a, slope)
	b.Output(b.Op("Conv", p, convW(b, "w2", 2, 2, 2, 1)))
	m := build(t, b)
	feeds := map[string]*runtime.Tensor{"x": input(0.9, 1, 2, 4, 4)}
	want := outputs(t, m, feeds)
	r := quantize(t, m, calibrate(t, m, []map[string]*runtime.Tensor{feeds}), DefaultQuantOptions())
	if v, _ := m.Opset(""); v != 13 || r.OpsetTo != 13 {
		t.Fatalf("opset %d, report %d→%d", v, r.OpsetFrom, r.OpsetTo)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Add" && n.OpType != "PRelu" {
			continue
		}
		if n.Attr("broadcast") != nil || n.Attr("axis") != nil {
			t.Errorf("%s keeps its legacy attributes", n.OpType)
		}
		if c := n.Input(1).Const; c == nil || !slices.Equal(c.Dims, []int64{2, 1, 1}) {
			t.Errorf("%s operand %v, want a constant [2 1 1]", n.OpType, n.Input(1))
		}
	}
	if s := worstSQNR(want, outputs(t, m, feeds)); s < 30 {
		t.Errorf("SQNR %.1f dB against the opset 6 model", s)
	}

	b = graph.NewBuilder(6)
	x = b.Input("x", graph.Float32, 1, 2, 4, 4)
	y := b.Input("y", graph.Float32, 2)
	b.Output(b.Op("Conv", b.Op("Add", x, y, graph.IntAttr("broadcast", 1), graph.IntAttr("axis", 1)), convW(b, "w", 1, 2, 2, 1)))
	m = build(t, b)
	ctx := &Context{Values: map[string]any{}}
	err := Run(m, ctx, []Pass{QuantizePass(fixedRanges(m, nil), DefaultQuantOptions())}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "broadcasts a computed operand") {
		t.Errorf("legacy broadcast of a computed operand: %v", err)
	}
	if v, _ := m.Opset(""); v != 6 {
		t.Errorf("refused, the model's opset became %d", v)
	}
}

// A model with nothing to quantize keeps its opset; one with activations
// but no constant weights (a MatMul of two inputs) rises only to
// QuantizeLinear's opset 10, not to the 13 per-channel weights would need.
func TestQuantizeOpsetOnlyForFeaturesInUse(t *testing.T) {
	b := graph.NewBuilder(9)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	b.Output(b.Op("Sigmoid", x))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if v, _ := m.Opset(""); v != 9 {
		t.Errorf("nothing quantized: opset %d, want 9", v)
	}

	b = graph.NewBuilder(9)
	x = b.Input("x", graph.Float32, 1, 4, 4)
	y := b.Input("y", graph.Float32, 1, 4, 4)
	b.Output(b.Op("MatMul", x, y))
	m = build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	if v, _ := m.Opset(""); v != 10 || r.TensorsQuantized == 0 || r.WeightsQuantized != 0 {
		t.Errorf("activations only: opset %d, %d activations, %d weights; want opset 10", v, r.TensorsQuantized, r.WeightsQuantized)
	}
}

// With CompleteUnits a Conv read only by float ops (a Sigmoid here) gets a
// Q/DQ on its output, the Sigmoid reads its DequantizeLinear, and the
// Conv forms a complete unit; a Conv whose Relu folds into a Q of its own
// keeps that single Q. Without the option the first Conv's output stays
// float.
func TestQuantizeCompleteUnits(t *testing.T) {
	build2 := func() (*graph.Model, *graph.Value, *graph.Value) {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		c1 := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
		s := b.Op("Sigmoid", c1)
		c2 := b.Op("Conv", s, convW(b, "w2", 3, 2, 2, 1), f32(b, "b2", 4, 2))
		r := b.Op("Relu", c2)
		b.Output(b.Op("Conv", r, convW(b, "w3", 5, 2, 2, 1)))
		return build(t, b), c1, c2
	}
	for _, complete := range []bool{false, true} {
		m, c1, c2 := build2()
		o := DefaultQuantOptions()
		o.CompleteUnits = complete
		r := quantize(t, m, fixedRanges(m, map[string]Range{c2.Name: {-1, 3}}), o)
		q1 := qParam(m.Graph, c1.Name, 1) != nil
		if q1 != complete || (r.UnitsCompleted == 1) != complete {
			t.Errorf("complete %v: Conv output quantized %v, %d units completed", complete, q1, r.UnitsCompleted)
		}
		var sig, conv1 *graph.Node
		for _, n := range m.Graph.Nodes {
			switch {
			case n.OpType == "Sigmoid":
				sig = n
			case n.OpType == "Conv" && n.Outputs[0] == c1:
				conv1 = n
			}
		}
		if readsDQ := sig.Input(0).Producer != nil && sig.Input(0).Producer.OpType == "DequantizeLinear"; readsDQ != complete {
			t.Errorf("complete %v: the Sigmoid reads a DequantizeLinear: %v", complete, readsDQ)
		}
		if unit := macs.QDQUnit(conv1); unit != complete {
			t.Errorf("complete %v: the first Conv is a complete unit: %v", complete, unit)
		}
		if r.ActivationsFolded != 1 || qParam(m.Graph, c2.Name, 1) == nil {
			t.Errorf("complete %v: the Relu after the second Conv not folded into its one Q (%d folded)", complete, r.ActivationsFolded)
		}
	}
}

// A SiLU: the Mul wants the Conv's output quantized, and the Sigmoid beside
// it reads it float, so the Conv feeds more than its QuantizeLinear and is
// no unit. CompleteUnits makes the Sigmoid read the DequantizeLinear too,
// unless the user excluded the Sigmoid, which then keeps its float input.
func TestQuantizeCompleteUnitsSiLU(t *testing.T) {
	for _, tc := range []struct {
		complete, exclude bool
		unit              bool
	}{{false, false, false}, {true, false, true}, {true, true, false}} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		c := b.Op("Conv", x, convW(b, "w1", 1, 2, 2, 1), f32(b, "b1", 2, 2))
		y := b.Op("Mul", c, b.Op("Sigmoid", c))
		b.Output(b.Op("Conv", y, convW(b, "w2", 3, 2, 2, 1)))
		m := build(t, b)
		o := DefaultQuantOptions()
		o.CompleteUnits = tc.complete
		if tc.exclude {
			o.ExcludeOps = []string{"Sigmoid"}
		}
		r := quantize(t, m, fixedRanges(m, nil), o)
		var conv, sig *graph.Node
		for _, n := range m.Graph.Nodes {
			switch {
			case n.OpType == "Conv" && n.Outputs[0].Name == c.Name:
				conv = n
			case n.OpType == "Sigmoid":
				sig = n
			}
		}
		readsDQ := sig.Input(0).Producer != nil && sig.Input(0).Producer.OpType == "DequantizeLinear"
		if unit := macs.QDQUnit(conv); unit != tc.unit || readsDQ != tc.unit || (r.UnitsCompleted == 1) != tc.unit {
			t.Errorf("complete %v, Sigmoid excluded %v: unit %v, the Sigmoid reads a DequantizeLinear %v, %d units completed; want %v",
				tc.complete, tc.exclude, unit, readsDQ, r.UnitsCompleted, tc.unit)
		}
	}
}

// A MatMul unit whose float output only an Add of a constant (a bias)
// reads runs in float in ONNX Runtime (it fuses the two into a Gemm), so
// CompleteUnits gives that output a Q/DQ for the Add to read; a MatMul read
// by another float op keeps its float output (MatMulIntegerToFloat).
func TestQuantizeCompleteUnitsMatMulBias(t *testing.T) {
	for _, tc := range []struct {
		reader   string
		complete bool
		want     bool
	}{{"Add", false, false}, {"Add", true, true}, {"Sigmoid", true, false}} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 2, 4)
		y := b.Op("MatMul", x, f32(b, "w", 1, 4, 3))
		if tc.reader == "Add" {
			b.Output(b.Op("Add", y, f32(b, "c", 2, 3)))
		} else {
			b.Output(b.Op(tc.reader, y))
		}
		m := build(t, b)
		o := DefaultQuantOptions()
		o.CompleteUnits = tc.complete
		r := quantize(t, m, fixedRanges(m, nil), o)
		var mm, reader *graph.Node
		for _, n := range m.Graph.Nodes {
			switch n.OpType {
			case "MatMul":
				mm = n
			case tc.reader:
				reader = n
			}
		}
		readsDQ := reader.Input(0).Producer != nil && reader.Input(0).Producer.OpType == "DequantizeLinear"
		if readsDQ != tc.want || (r.UnitsCompleted == 1) != tc.want || !macs.QDQUnit(mm) {
			t.Errorf("%s, complete %v: the reader reads a DequantizeLinear %v, %d units completed, MatMul a unit %v; want %v",
				tc.reader, tc.complete, readsDQ, r.UnitsCompleted, macs.QDQUnit(mm), tc.want)
		}
		if got := macs.ORTRunsInFloat(mm); got != (tc.reader == "Add" && !tc.want) {
			t.Errorf("%s, complete %v: ONNX Runtime runs the MatMul in float: %v", tc.reader, tc.complete, got)
		}
	}
}

// A Gemm's bias C of shape [1, N] becomes the 1-D int32 bias of the unit.
func TestQuantizeGemmRowBias(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 4)
	y := b.Op("Gemm", x, f32(b, "w", 1, 4, 3), f32(b, "c", 2, 1, 3))
	b.Output(b.Op("Relu", y))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	var gemm *graph.Node
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Gemm" {
			gemm = n
		}
	}
	c := gemm.Input(2)
	if c.Producer == nil || c.Producer.OpType != "DequantizeLinear" {
		t.Fatalf("bias %s not read through DequantizeLinear", c.Name)
	}
	if ci := c.Producer.Input(0); ci.Const == nil || ci.Const.DType != graph.Int32 || !slices.Equal(ci.Const.Dims, []int64{3}) {
		t.Errorf("bias %v, want int32 [3]", ci.Const)
	}
}

// Raising an opset-11 Softmax (or LogSoftmax) to 13 keeps its meaning,
// rows of the input coerced to 2-D at axis, on any axis: Flatten → op
// on the rows → Reshape. The outputs match the opset-11 model's.
func TestQuantizeRaisesSoftmaxCoerced(t *testing.T) {
	for _, op := range []string{"Softmax", "LogSoftmax"} {
		for _, axis := range []int64{1, 3, -2} {
			b := graph.NewBuilder(11)
			x := b.Input("x", graph.Float32, 1, 2, 3, 4)
			c := b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1))
			b.Output(b.Op(op, c, graph.IntAttr("axis", axis)))
			m := build(t, b)
			feeds := map[string]*runtime.Tensor{"x": input(0.7, 1, 2, 3, 4)}
			want := outputs(t, m, feeds)
			outName := m.Graph.Outputs[0].Name
			r := quantize(t, m, calibrate(t, m, []map[string]*runtime.Tensor{feeds}), DefaultQuantOptions())
			if v, _ := m.Opset(""); v != 13 || r.OpsetTo != 13 {
				t.Fatalf("%s axis %d: opset %d", op, axis, v)
			}
			var ops []string
			for _, n := range m.Graph.Nodes {
				if n.OpType == op {
					if a := n.AttrInt("axis", -100); a != 1 || len(n.Input(0).Shape) != 2 {
						t.Errorf("%s axis %d: the op works on axis %d of %v", op, axis, a, n.Input(0).Shape)
					}
				}
				if n.OpType != "QuantizeLinear" && n.OpType != "DequantizeLinear" {
					ops = append(ops, n.OpType)
				}
			}
			if !slices.Contains(ops, "Flatten") || !slices.Contains(ops, "Reshape") || m.Graph.Outputs[0].Name != outName {
				t.Errorf("%s axis %d: nodes %v, output %q", op, axis, ops, m.Graph.Outputs[0].Name)
			}
			if s := worstSQNR(want, outputs(t, m, feeds)); s < 25 {
				t.Errorf("%s axis %d: SQNR %.1f dB against the opset-11 model", op, axis, s)
			}
			// the Shape the rewrite reads does no float arithmetic: not
			// an op left in FP32
			for _, f := range r.FP32 {
				if f.Op != op {
					t.Errorf("%s axis %d: %s listed as left in FP32 (%s)", op, axis, f.Op, f.Reason)
				}
			}
		}
	}
}

// A constant operand of a quant-io op (an Add's bias, a Mul's factor) takes
// the type of the node's quantized activations, so that ONNX Runtime,
// which fuses QLinearAdd/QLinearMul only when both inputs and the output
// share one type, runs the op in integers.
func TestQuantizeConstOperandType(t *testing.T) {
	for _, at := range []qdq.Type{qdq.Uint8, qdq.Int8} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 2, 4)
		y := b.Op("Add", b.Op("MatMul", x, f32(b, "w", 1, 4, 3)), f32(b, "c", 2, 3))
		z := b.Op("Relu", b.Op("Mul", y, f32(b, "k", 3, 3)))
		b.Output(b.Op("MatMul", z, f32(b, "w2", 4, 3, 2)))
		m := build(t, b)
		o := DefaultQuantOptions()
		o.ActivationType = at
		quantize(t, m, fixedRanges(m, nil), o)
		for _, n := range m.Graph.Nodes {
			if n.OpType != "Add" && n.OpType != "Mul" {
				continue
			}
			operands := 0
			for i, in := range n.Inputs {
				p := in.Producer
				if p == nil || p.OpType != "DequantizeLinear" {
					continue // the MatMul's float output
				}
				if got := p.Input(0).DType; got != dtypeOf(at) {
					t.Errorf("%v: %s input %d is %v", at, n.OpType, i, got)
				}
				if p.Input(0).Const != nil {
					operands++
				}
			}
			if operands != 1 {
				t.Errorf("%v: %s reads %d quantized constants, want 1", at, n.OpType, operands)
			}
		}
	}
}

// A Gemm's weight DequantizeLinear states its (zero) zero points, which
// ONNX Runtime needs to fuse the unit into QGemm; a MatMul's omits them.
func TestQuantizeGemmWeightZeroPoint(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 4)
	h := b.Op("Relu", b.Op("Gemm", x, f32(b, "w", 1, 4, 3), f32(b, "c", 2, 3)))
	b.Output(b.Op("Relu", b.Op("MatMul", h, f32(b, "w2", 3, 3, 2))))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Gemm" && n.OpType != "MatMul" {
			continue
		}
		dq := n.Input(1).Producer
		if dq == nil || dq.OpType != "DequantizeLinear" {
			t.Fatalf("%s weight not read through DequantizeLinear", n.OpType)
		}
		if got, want := dq.Input(2) != nil, n.OpType == "Gemm"; got != want {
			t.Errorf("%s weight zero point present %v, want %v", n.OpType, got, want)
		}
		if n.OpType == "Gemm" && macs.ORTRunsInFloat(n) {
			t.Errorf("ONNX Runtime would run the Gemm unit in float")
		}
	}
}

// A MatMul weight of more than two axes (per-head weights [H, K, N]) gets
// one scale: ONNX Runtime's QLinearMatMul refuses a per-column scale for
// an N-D B. A 2-D one keeps a scale per column.
func TestQuantizeBatchedMatMulWeightPerTensor(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 4, 16, 8)
	heads := f32(b, "heads", 1, 4, 8, 8)
	out := f32(b, "out", 2, 8, 8)
	b.Output(b.Op("MatMul", b.Op("Relu", b.Op("MatMul", x, heads)), out))
	m := build(t, b)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	for name, perColumn := range map[string]bool{"heads": false, "out": true} {
		dq := weightDQ(m.Graph, name)
		if dq == nil {
			t.Fatalf("%s: no DequantizeLinear", name)
		}
		scale := dq.Input(1).Const
		if got := len(scale.Dims) == 1 && scale.Dims[0] == 8; got != perColumn {
			t.Errorf("%s: scale dims %v, want per column %v", name, scale.Dims, perColumn)
		}
	}
}

// Raising opset 9 only to 10 (per-tensor weights) writes an Upsample as the
// Resize of opset 10, with two inputs, computing the same; at 13 it is
// Resize-11's form.
func TestQuantizeUpsampleToResize10(t *testing.T) {
	for _, perChannel := range []bool{false, true} {
		b := graph.NewBuilder(9)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		scales := b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
		up := b.Op("Upsample", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1)), scales)
		b.Output(b.Op("Conv", up, convW(b, "w2", 2, 2, 2, 1)))
		m := build(t, b)
		feeds := map[string]*runtime.Tensor{"x": input(0.9, 1, 2, 4, 4)}
		want := outputs(t, m, feeds)
		opts := DefaultQuantOptions()
		opts.PerChannel = perChannel
		quantize(t, m, fixedRanges(m, nil), opts)
		v, _ := m.Opset("")
		resize := nodeNamed(m.Graph, "upsample1")
		wantInputs, wantOpset := 2, int64(10)
		if perChannel {
			wantInputs, wantOpset = 3, 13
		}
		if v != wantOpset || resize == nil || resize.OpType != "Resize" || len(resize.Inputs) != wantInputs {
			t.Errorf("per-channel %v: opset %d, node %+v; want a Resize with %d inputs at opset %d", perChannel, v, resize, wantInputs, wantOpset)
			continue
		}
		if err := m.Verify(); err != nil {
			t.Errorf("per-channel %v: %v", perChannel, err)
		}
		if s := worstSQNR(want, outputs(t, m, feeds)); s < 20 {
			t.Errorf("per-channel %v: SQNR %.1f dB", perChannel, s)
		}
	}
}

// A MatMul whose constant is its first operand (W·x) stays float, with
// that reason: onnxq takes a MatMul's second operand as its weight.
func TestQuantizeConstantFirstMatMul(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 4, 3)
	w := f32(b, "w", 1, 5, 4)
	y := b.Op("MatMul", w, b.Op("Relu", x))
	b.Output(b.Op("MatMul", b.Op("Relu", y), f32(b, "w2", 2, 3, 2)))
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	found := false
	for _, f := range r.FP32 {
		if f.Node == y.Producer.Name {
			found = strings.Contains(f.Reason, "first operand")
		}
	}
	if !found || weightDQ(m.Graph, "w") != nil || weightDQ(m.Graph, "w2") == nil {
		t.Errorf("FP32 %+v; W·x should stay float with its reason, the second MatMul be quantized", r.FP32)
	}
}

// An op --include-op asks for whose output nothing reads as 8-bit stays
// float, and the report says so rather than leaving it out of both lists.
func TestQuantizeIncludedIdle(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	sig := b.Op("Sigmoid", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1)))
	b.Output(sig)
	m := build(t, b)
	opts := DefaultQuantOptions()
	opts.IncludeOps = []string{"Sigmoid"}
	r := quantize(t, m, fixedRanges(m, nil), opts)
	found := false
	for _, f := range r.FP32 {
		found = found || f.Op == "Sigmoid" && f.Reason == reasonIncludedIdle
	}
	if !found || r.OpCounts["Sigmoid"] != 0 {
		t.Errorf("FP32 %+v, int8 ops %v: want the Sigmoid float, with its reason", r.FP32, r.OpCounts)
	}
}

// A range set on a value that shares its grid (a MaxPool of a Relu) is
// the group's: the calibrated range of the values beside it does not
// widen it.
func TestQuantizeOverrideNarrowsGroup(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	pool := b.Op("MaxPool", b.Op("Relu", b.Op("Conv", x, convW(b, "w", 1, 2, 2, 1))), graph.IntsAttr("kernel_shape", 2, 2))
	b.Output(b.Op("Conv", pool, convW(b, "w2", 2, 2, 2, 1)))
	m := build(t, b)
	ranges := fixedRanges(m, nil)
	for name := range ranges {
		ranges[name] = Range{Min: -6, Max: 6}
	}
	opts := DefaultQuantOptions()
	opts.Overrides = map[string]TensorOverride{pool.Name: {Range: &Range{Min: 0, Max: 0.5}}}
	quantize(t, m, ranges, opts)
	s := qParam(m.Graph, pool.Name, 1)
	if s == nil {
		s = qParam(m.Graph, pool.Producer.Input(0).Name, 1)
	}
	if s == nil || s.Const == nil {
		t.Fatal("no Q on the pooled group")
	}
	if f, _ := s.Const.Float32s(); len(f) != 1 || math.Abs(float64(f[0])-0.5/255) > 1e-6 {
		t.Errorf("scale %v, want 0.5/255 from the set range", f)
	}
}

// The default options restrict int8 weights to [-127, 127]; with another
// weight type (int4, uint8) that restriction does not apply and the
// options stay valid.
func TestRestrictedOnlyInt8(t *testing.T) {
	for _, wt := range []qdq.Type{qdq.Int4, qdq.Uint8} {
		o := DefaultQuantOptions()
		o.WeightType = wt
		if wt == qdq.Uint8 {
			o.SymmetricWeights = false
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%v weights with the default restriction: %v", wt, err)
		}
	}
}

// torch's x.view(x.size(0), -1) on a batch of unknown size: a Shape reads
// the Relu after the last Conv beside the Reshape. Prepared and
// quantized, the Shape reads the Conv's DequantizeLinear, the Relu folds
// and the Conv's output feeds its QuantizeLinear alone, a complete unit.
func TestQuantizeShapeOfRelu(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, -1, 2, 4, 4)
	y := b.Op("Relu", b.Op("Conv", x, f32(b, "w", 1, 3, 2, 1, 1), f32(b, "bias", 2, 3)))
	n := b.Op("Unsqueeze", b.Op("Gather", b.Op("Shape", y), b.Const(graph.FromInt64s("i0", nil, []int64{0}))), b.Const(graph.FromInt64s("ax", []int64{1}, []int64{0})))
	flat := b.Op("Reshape", y, b.Op("Concat", n, b.Const(graph.FromInt64s("m1", []int64{1}, []int64{-1})), graph.IntAttr("axis", 0)))
	b.Output(b.Op("Gemm", flat, f32(b, "fc", 4, 48, 5)))
	m := build(t, b)
	if err := Run(m, &Context{Values: map[string]any{}}, PreparePasses(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	ranges := fixedRanges(m, nil)
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Relu" || n.OpType == "Reshape" {
			ranges[n.Outputs[0].Name] = Range{0, 2}
		}
	}
	r := quantize(t, m, ranges, DefaultQuantOptions())
	if r.ActivationsFolded != 1 {
		t.Errorf("%d activations folded, want the Relu", r.ActivationsFolded)
	}
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Shape":
			if p := n.Input(0).Producer; p == nil || p.OpType != "DequantizeLinear" {
				t.Errorf("Shape reads %s, want a DequantizeLinear's output", n.Input(0).Name)
			}
		case "Conv":
			if c := n.Outputs[0].Consumers; len(c) != 1 || c[0].OpType != "QuantizeLinear" {
				t.Errorf("the Conv's output feeds %d nodes, want its QuantizeLinear alone", len(c))
			}
		}
	}
}

// An op without a rule (Tanh) or kept float for its small values
// (HardSigmoid), left between a DequantizeLinear and a QuantizeLinear by
// the quantized ops around it, is said to compute in float there; a
// Sigmoid there, which ONNX Runtime runs as QLinearSigmoid, is counted
// among the quantized ops (want "").
func TestNoteQuantizedAround(t *testing.T) {
	for _, c := range []struct{ op, want string }{
		{"Tanh", reasonNoRuleBetween},
		{"HardSigmoid", reasonProbBetween},
		{"Sigmoid", ""},
	} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		y := b.Op(c.op, b.Op("Conv", x, f32(b, "w1", 1, 2, 2, 1, 1)))
		b.Output(b.Op("Conv", y, f32(b, "w2", 2, 2, 2, 1, 1)))
		m := build(t, b)
		opts := DefaultQuantOptions()
		opts.CompleteUnits = true
		r := quantize(t, m, fixedRanges(m, nil), opts)
		r.NoteQuantizedAround(m)
		var got []string
		for _, f := range r.FP32 {
			if f.Op == c.op {
				got = append(got, f.Reason)
			}
		}
		if c.want == "" {
			if len(got) != 0 || r.OpCounts[c.op] != 1 {
				t.Errorf("%s: FP32 reasons %q, %d quantized; want it counted quantized", c.op, got, r.OpCounts[c.op])
			}
			continue
		}
		if len(got) != 1 || got[0] != c.want || r.OpCounts[c.op] != 0 {
			t.Errorf("%s: reasons %q (%d quantized), want %q", c.op, got, r.OpCounts[c.op], c.want)
		}
	}
}

// A sigmoid or Softmax kept float is called a probability output only
// where its values reach a graph output (here through a Concat); a gate
// (SiLU) and attention-like weights inside the network say what they are,
// and a max reduction writing an output is not said to scale a
// normalisation.
func TestProbabilityReasons(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c1 := b.Op("Conv", x, f32(b, "w1", 1, 2, 2, 1, 1))
	gate := b.Op("Sigmoid", c1)
	gate.Producer.Name = "gate"
	inner := b.Op("Softmax", b.Op("Mul", c1, gate), graph.IntAttr("axis", 3))
	inner.Producer.Name = "weights"
	c2 := b.Op("Conv", inner, f32(b, "w2", 2, 2, 2, 1, 1))
	prob := b.Op("Sigmoid", c2)
	prob.Producer.Name = "prob"
	b.Output(b.Op("Concat", prob, c2, graph.IntAttr("axis", 1)))
	peak := b.Op("ReduceMax", c2, graph.IntsAttr("axes", 1))
	peak.Producer.Name = "peak"
	b.Output(peak)
	m := build(t, b)
	r := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	r.NoteQuantizedAround(m)
	got := map[string]string{}
	for _, f := range r.FP32 {
		got[f.Node] = f.Reason
	}
	for node, want := range map[string]string{"gate": reasonGate, "weights": reasonProbInner, "prob": reasonProb, "peak": reasonExtremeOutput} {
		if got[node] != want {
			t.Errorf("%s: reason %q, want %q", node, got[node], want)
		}
	}
}

// A linear Resize between float ops computes in float and is listed so,
// with its output's name; a nearest one only moves values and is not.
func TestFloatResizeListed(t *testing.T) {
	for _, mode := range []string{"linear", "nearest"} {
		b := graph.NewBuilder(13)
		x := b.Input("x", graph.Float32, 1, 2, 4, 4)
		scales := b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
		r := b.Op("Resize", b.Op("Softmax", x, graph.IntAttr("axis", 1)), nil, scales, graph.StringAttr("mode", mode))
		r.Producer.Name = "resize"
		b.Output(b.Op("Exp", r))
		m := build(t, b)
		rep := quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
		listed := slices.ContainsFunc(rep.FP32, func(f FP32Node) bool {
			return f.Node == "resize" && f.Reason == reasonBetweenFloat && f.Output == r.Name
		})
		if listed != (mode == "linear") || rep.OpCounts["Resize"] != 0 {
			t.Errorf("%s: listed float %v, %d quantized: %+v", mode, listed, rep.OpCounts["Resize"], rep.FP32)
		}
	}
}

// With symmetric activations a Relu cannot fold into the QuantizeLinear
// after it (the grid reaches below 0): the Conv before it gets a Q/DQ of
// its own when units are completed, its unit complete.
func TestQuantizeSymmetricReluUnit(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	y := b.Op("Relu", b.Op("Conv", x, f32(b, "w1", 1, 2, 2, 1, 1)))
	b.Output(b.Op("Conv", y, f32(b, "w2", 2, 2, 2, 1, 1)))
	m := build(t, b)
	opts := DefaultQuantOptions()
	opts.ActivationType, opts.SymmetricActivations, opts.CompleteUnits = qdq.Int8, true, true
	r := quantize(t, m, fixedRanges(m, nil), opts)
	if r.ActivationsFolded != 0 || r.UnitsCompleted != 1 {
		t.Errorf("%d folded, %d units completed; want the Relu kept and the first Conv's unit completed", r.ActivationsFolded, r.UnitsCompleted)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" && !macs.QDQUnit(n) && !slices.Contains(m.Graph.Outputs, n.Outputs[0]) {
			t.Errorf("Conv %s is no complete unit", n.Outputs[0].Name)
		}
	}
}
