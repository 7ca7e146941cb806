// lower_test.go checks the lower-qdq pass: which units it rewrites, that
// the rewritten model computes the same integers as the QDQ model (up to
// one step where float and integer accumulation round differently), and
// what it leaves alone.
package lower_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// convMatMulModel is x → Conv(+bias) → Relu → Conv → Reshape → MatMul,
// with a Softmax reading the last MatMul so that one unit stays float.
func convMatMulModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3, 8, 8)
	w1 := make([]float32, 6*3*3*3)
	for i := range w1 {
		w1[i] = float32((i*7)%11-5) / 4
	}
	b1 := []float32{0.5, -0.25, 0, 1, -1, 0.125}
	y := b.Op("Conv", x, b.Const(graph.FromFloat32s("w1", []int64{6, 3, 3, 3}, w1)), b.Const(graph.FromFloat32s("b1", []int64{6}, b1)),
		graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	w2 := make([]float32, 4*6)
	for i := range w2 {
		w2[i] = float32((i*5)%9-4) / 3
	}
	y = b.Op("Conv", y, b.Const(graph.FromFloat32s("w2", []int64{4, 6, 1, 1}, w2)), graph.IntsAttr("strides", 2, 2))
	y = b.Op("Reshape", y, b.Const(graph.FromInt64s("shape", []int64{2}, []int64{4, 16})))
	w3 := make([]float32, 16*5)
	for i := range w3 {
		w3[i] = float32((i*3)%7-3) / 2
	}
	y = b.Op("MatMul", y, b.Const(graph.FromFloat32s("w3", []int64{16, 5}, w3)))
	b.Output(b.Op("Softmax", y))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lowerModel(t *testing.T, m *graph.Model) (*graph.Model, *lower.Report, string) {
	t.Helper()
	return lowerModelWith(t, m, lower.Options{})
}

// lowerModelWith is lowerModel with opts.
func lowerModelWith(t *testing.T, m *graph.Model, opts lower.Options) (*graph.Model, *lower.Report, string) {
	t.Helper()
	low, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ctx := &passes.Context{Log: &log, Values: map[string]any{}}
	if err := passes.Run(low, ctx, []passes.Pass{lower.PassWith(opts)}, passes.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := low.Graph.Verify(); err != nil {
		t.Fatal(err)
	}
	rep, _ := ctx.Values[lower.ReportKey].(*lower.Report)
	if rep == nil {
		t.Fatal("no report")
	}
	return low, rep, log.String()
}

// quantizeSynthetic quantizes m in place with the default configuration
// (without bias correction) on n synthetic samples from seed, and returns
// them.
func quantizeSynthetic(t *testing.T, m *graph.Model, n int, seed int64, adjust ...func(*quant.Config)) *calibdata.Source {
	t.Helper()
	src := calibdata.Synthetic(calibdata.Inputs(m), n, seed)
	cfg := quant.DefaultConfig()
	cfg.BiasCorrection = false
	// lowering is about Q/DQ: keep the inputs of float-running Convs
	// quantized as well
	cfg.Quant.FloatIdleInputs = false
	for _, f := range adjust {
		f(&cfg)
	}
	if _, err := quant.Run(m, src, cfg); err != nil {
		t.Fatal(err)
	}
	return src
}

// sameOutputs runs m and low (at 1 and threads threads) on 20 random
// feeds of the inputs' declared shapes (normal values times 4; the first
// feed of extremes) and fails unless every output is identical.
func sameOutputs(t *testing.T, m, low *graph.Model, threads int, seed uint64) {
	t.Helper()
	closeOutputs(t, m, low, threads, seed, 0)
}

// closeOutputs is sameOutputs allowing each output element to differ by
// up to step: one quantization step of the outputs, where the lowered ops
// round an exact tie as ONNX Runtime's kernels do.
func closeOutputs(t *testing.T, m, low *graph.Model, threads int, seed uint64, step float32) {
	t.Helper()
	ref, err := runtime.NewSession(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := runtime.NewSession(low, runtime.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for trial := range 20 {
		feeds := map[string]*runtime.Tensor{}
		for _, in := range m.Graph.Inputs {
			shape := make([]int, len(in.Shape))
			for i, d := range in.Shape {
				shape[i] = int(d.Size)
			}
			v := runtime.New(graph.Float32, shape...)
			for i := range v.F32() {
				v.F32()[i] = float32(rng.NormFloat64() * 4)
				if trial == 0 {
					v.F32()[i] = []float32{-1e9, 1e9, 0, 6.375, -6.4, 0.025}[i%6]
				}
			}
			feeds[in.Name] = v
		}
		want, err := ref.Run(feeds)
		if err != nil {
			t.Fatal(err)
		}
		have, err := got.Run(feeds)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			if step == 0 {
				if fmt.Sprint(w.F32()) != fmt.Sprint(have[name].F32()) {
					t.Fatalf("trial %d, output %s: %v, want %v", trial, name, have[name].F32(), w.F32())
				}
				continue
			}
			for i, v := range w.F32() {
				if d := have[name].F32()[i] - v; d < -step*1.0001 || d > step*1.0001 {
					t.Fatalf("trial %d, output %s: element %d = %v, want %v within %v", trial, name, i, have[name].F32()[i], v, step)
				}
			}
		}
	}
}

// outputsClose runs m (one thread) and low (threads) on every sample of
// src and checks each output element of low within tol(want) of m's.
func outputsClose(t *testing.T, m, low *graph.Model, src *calibdata.Source, threads int, tol func(want float32) float64) {
	t.Helper()
	ref, err := runtime.NewSession(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := runtime.NewSession(low, runtime.Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	for i := range src.Len() {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		have, err := got.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			h := have[name].F32()
			for j, v := range w.F32() {
				if d := math.Abs(float64(h[j] - v)); d > tol(v) {
					t.Fatalf("sample %d, output %s[%d]: %v, want %v", i, name, j, h[j], v)
				}
			}
		}
	}
}

// integerValues runs m on src and returns every 8-bit value it computes,
// by name, concatenated over the samples.
func integerValues(t *testing.T, m *graph.Model, src *calibdata.Source) map[string][]int32 {
	t.Helper()
	out := map[string][]int32{}
	sess, err := runtime.NewSession(m, runtime.Options{Observer: func(v *graph.Value, x *runtime.Tensor) {
		switch d := x.Data.(type) {
		case []uint8:
			for _, e := range d {
				out[v.Name] = append(out[v.Name], int32(e))
			}
		case []int8:
			for _, e := range d {
				out[v.Name] = append(out[v.Name], int32(e))
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Run(s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// compareIntegers returns how many elements of the values both models
// compute are compared, how many differ, and the largest difference.
func compareIntegers(a, b map[string][]int32) (total, differ int, worst int32) {
	for name, va := range a {
		vb, ok := b[name]
		if !ok || len(vb) != len(va) {
			continue
		}
		for i := range va {
			total++
			d := max(va[i]-vb[i], vb[i]-va[i])
			if d != 0 {
				differ++
			}
			worst = max(worst, d)
		}
	}
	return total, differ, worst
}

func TestLowerSmallModel(t *testing.T) {
	m := convMatMulModel(t)
	src := quantizeSynthetic(t, m, 6, 3)
	low, rep, log := lowerModel(t, m)
	if rep.Lowered["QLinearConv"] != 2 {
		t.Errorf("lowered %v, want both Convs as QLinearConv; log:\n%s", rep.Lowered, log)
	}
	if rep.Lowered["QLinearMatMul"] != 0 || len(rep.Kept) != 1 || rep.Kept[0].Op != "MatMul" || !strings.Contains(rep.Kept[0].Reason, "Softmax") {
		t.Errorf("the MatMul feeding Softmax in float should stay, with the reason; report %+v", rep)
	}
	ops := map[string]int{}
	for _, n := range low.Graph.Nodes {
		ops[n.OpType]++
	}
	if ops["Conv"] != 0 || ops["QLinearConv"] != 2 || ops["MatMul"] != 1 {
		t.Errorf("ops after lowering: %v", ops)
	}
	// Every DequantizeLinear left is read; no Conv weight stays in float.
	for _, n := range low.Graph.Nodes {
		if n.OpType == "DequantizeLinear" && len(n.Outputs[0].Consumers) == 0 {
			t.Errorf("unread DequantizeLinear %s left behind", n.Name)
		}
	}
	if low.Graph.Value("w1") == nil || low.Graph.Value("w1").Const.DType != graph.Int8 {
		t.Error("the int8 weight w1 is not read by the lowered model")
	}
	total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
	t.Logf("%d integers compared, %d differ, largest difference %d", total, differ, worst)
	if total == 0 || worst > 1 || float64(differ) > 0.01*float64(total) {
		t.Errorf("lowered model: %d of %d integers differ from the QDQ model's, by up to %d", differ, total, worst)
	}
	// Graph inputs and outputs keep their names.
	if low.Graph.Inputs[0].Name != m.Graph.Inputs[0].Name || low.Graph.Outputs[0].Name != m.Graph.Outputs[0].Name {
		t.Error("graph input or output names changed")
	}
	// A second run finds nothing left to lower.
	again, rep2, _ := lowerModel(t, low)
	if len(rep2.Lowered) != 0 || len(again.Graph.Nodes) != len(low.Graph.Nodes) {
		t.Errorf("lowering twice changed the model: %v", rep2.Lowered)
	}
}

// nodeAlone returns a model of n alone: its first input a graph input of
// x's type and shape, its other inputs copies of their constants.
func nodeAlone(t *testing.T, n *graph.Node, x *runtime.Tensor) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(19)
	dims := make([]int64, len(x.Shape))
	for i, d := range x.Shape {
		dims[i] = int64(d)
	}
	args := []any{b.Input("x", x.DType, dims...)}
	for i, in := range n.Inputs[1:] {
		if in == nil {
			args = append(args, nil)
			continue
		}
		if in.Const == nil {
			t.Fatalf("input %d of %s is not constant", i+1, n.Name)
		}
		c := *in.Const
		c.Name = fmt.Sprintf("c%d", i+1)
		args = append(args, b.Const(&c, nil))
	}
	for _, a := range n.Attrs {
		args = append(args, a)
	}
	b.Output(b.Op(n.OpType, args...))
	m, err := b.Model()
	if err != nil {
		t.Fatalf("%s alone: %v", n.Name, err)
	}
	return m
}

// TestLowerSharedModels lowers quantized shared CNNs and checks each
// integer node on its own: fed the integer input the QDQ model computed,
// it must give the QDQ model's integer output within one step (float and
// integer accumulation may round a tie apart), nearly always exactly.
// Comparing whole models would count how a one-step difference spreads
// through later layers, not lowering errors.
func TestLowerSharedModels(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes shared models: not in -short mode")
	}
	const shared = "../../shared"
	for _, name := range []string{"mnist_cntk", "ppocr_cls_mobile_v2", "oww_speech_embedding", "yunet_n_320"} {
		path := filepath.Join(shared, "models", name+".onnx")
		if _, err := os.Stat(path); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v", name, err)
			}
			t.Skipf("%s: %v", name, err)
		}
		m, err := graph.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := calibdata.Open(filepath.Join(shared, "data", name), calibdata.Inputs(m), calibdata.ImageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		calibIdx, evalIdx := calibdata.Split(src.Names(), 4, 2)
		calibSrc, _ := src.Subset(calibIdx)
		evalSrc, _ := src.Subset(evalIdx)
		cfg := quant.DefaultConfig()
		cfg.BiasCorrection = false
		if _, err := quant.Run(m, calibSrc, cfg); err != nil {
			t.Fatal(err)
		}
		low, rep, _ := lowerModel(t, m)
		if rep.Lowered["QLinearConv"] == 0 {
			t.Errorf("%s: no Conv lowered", name)
		}
		// The QDQ model's integers, per sample, by name.
		var perSample []map[string]*runtime.Tensor
		sess, err := runtime.NewSession(m, runtime.Options{Observer: func(v *graph.Value, x *runtime.Tensor) {
			switch x.DType {
			case graph.Uint8, graph.Int8:
				perSample[len(perSample)-1][v.Name] = x.Clone()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < evalSrc.Len(); i++ {
			sample, err := evalSrc.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			perSample = append(perSample, map[string]*runtime.Tensor{})
			if _, err := sess.Run(sample); err != nil {
				t.Fatal(err)
			}
		}
		var total, equal, within, nodes int
		for _, n := range low.Graph.Nodes {
			if n.OpType != "QLinearConv" && n.OpType != "QLinearMatMul" {
				continue
			}
			in, out := n.Inputs[0].Name, n.Outputs[0].Name
			first := perSample[0][in]
			if first == nil || perSample[0][out] == nil {
				continue // an input the QDQ model does not compute under this name
			}
			alone, err := runtime.NewSession(nodeAlone(t, n, first), runtime.Options{})
			if err != nil {
				t.Fatalf("%s: %s alone: %v", name, n.Name, err)
			}
			nodes++
			for _, vals := range perSample {
				got, err := alone.Run(map[string]*runtime.Tensor{"x": vals[in]})
				if err != nil {
					t.Fatalf("%s: %s alone: %v", name, n.Name, err)
				}
				var g *runtime.Tensor
				for _, v := range got {
					g = v
				}
				a, _ := g.AsFloat64()
				b, _ := vals[out].AsFloat64()
				if len(a) != len(b) {
					t.Fatalf("%s: %s gives %d values, the QDQ model %d", name, n.Name, len(a), len(b))
				}
				for i := range a {
					total++
					switch d := a[i] - b[i]; {
					case d == 0:
						equal++
						within++
					case d == 1 || d == -1:
						within++
					}
				}
			}
		}
		t.Logf("%s: lowered %v, %d kept; %d nodes checked alone, %d integers: %.4f%% equal, %.4f%% within one step",
			name, rep.Lowered, len(rep.Kept), nodes, total, 100*float64(equal)/float64(total), 100*float64(within)/float64(total))
		if nodes == 0 || within != total || float64(equal) < 0.999*float64(total) {
			t.Errorf("%s: of %d integers, %d equal and %d within one step; want all within one step and 99.9%% equal", name, total, equal, within)
		}
	}
}

// TestLowerMatMulPerColumn: a MatMul with per-column int8 weights (no
// zero point in the QDQ form) becomes a QLinearMatMul whose weight zero
// point has the scale's shape, and computes what the QDQ model does.
func TestLowerMatMulPerColumn(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 4, 16)
	w := make([]float32, 16*5)
	for i := range w {
		w[i] = float32((i*7)%13-6) / float32(1+i%5)
	}
	y := b.Op("MatMul", x, b.Const(graph.FromFloat32s("w", []int64{16, 5}, w)))
	b.Output(b.Op("MatMul", y, b.Const(graph.FromFloat32s("w2", []int64{5, 3}, w[:15]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := quantizeSynthetic(t, m, 4, 5)
	low, rep, log := lowerModel(t, m)
	if rep.Lowered["QLinearMatMul"] != 1 {
		t.Fatalf("lowered %v; log:\n%s", rep.Lowered, log)
	}
	for _, n := range low.Graph.Nodes {
		if n.OpType == "QLinearMatMul" {
			s, z := n.Input(4), n.Input(5)
			if z == nil || z.Const == nil || !slices.Equal(z.Const.Dims, s.Const.Dims) {
				t.Errorf("b_zero_point %v for b_scale %v", z, s.Const.Dims)
			}
		}
	}
	total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
	if total == 0 || worst > 1 || float64(differ) > 0.01*float64(total) {
		t.Errorf("%d of %d integers differ, by up to %d", differ, total, worst)
	}
}

// TestLowerMatMulOfActivations: a MatMul of two quantized activations
// (attention's P·V) whose output is quantized becomes a QLinearMatMul
// reading both as integers, as ONNX Runtime fuses it, and computes what
// the QDQ model does.
func TestLowerMatMulOfActivations(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 4, 8)
	w := make([]float32, 8*6)
	for i := range w {
		w[i] = float32((i*7)%13-6) / float32(1+i%5)
	}
	a := b.Op("MatMul", x, b.Const(graph.FromFloat32s("wa", []int64{8, 6}, w)))
	c := b.Op("Transpose", b.Op("MatMul", x, b.Const(graph.FromFloat32s("wc", []int64{8, 6}, append(w[3:], w[:3]...)))))
	p := b.Op("MatMul", a, c)
	b.Output(b.Op("MatMul", p, b.Const(graph.FromFloat32s("wo", []int64{4, 3}, w[:12]))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	src := quantizeSynthetic(t, m, 4, 5)
	low, rep, log := lowerModel(t, m)
	dynamic := 0
	for _, n := range low.Graph.Nodes {
		if n.OpType == "QLinearMatMul" && n.Input(3).Const == nil {
			dynamic++
		}
	}
	if dynamic != 1 {
		t.Fatalf("%d QLinearMatMul read a computed second operand, want 1 (lowered %v); log:\n%s", dynamic, rep.Lowered, log)
	}
	total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
	if total == 0 || worst > 1 || float64(differ) > 0.01*float64(total) {
		t.Errorf("%d of %d integers differ, by up to %d", differ, total, worst)
	}
}

// TestIntegerExecutionSameOnEveryPath runs a lowered shared model with
// every INT8 microkernel and at 1 and 2 threads: every integer tensor and
// every output must be identical bit for bit.
func TestIntegerExecutionSameOnEveryPath(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes a shared model: not in -short mode")
	}
	const shared = "../../shared"
	name := "ultraface_rfb_320"
	path := filepath.Join(shared, "models", name+".onnx")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	m, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := calibdata.Open(filepath.Join(shared, "data", name), calibdata.Inputs(m), calibdata.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	calibSrc, _ := src.Subset([]int{0, 1, 2})
	cfg := quant.DefaultConfig()
	cfg.BiasCorrection, cfg.SelectMethods = false, nil
	// The heads keep their float outputs, a path of their own.
	cfg.Units = quant.UnitsOff
	if _, err := quant.Run(m, calibSrc, cfg); err != nil {
		t.Fatal(err)
	}
	// onnxq's execution form: the fused units (Add, float outputs) too.
	low, rep, _ := lowerModelWith(t, m, lower.Execution)
	if rep.Lowered["QLinearConv"] == 0 || rep.Lowered["ai.onnxq.QLinearConv(float output)"] == 0 {
		t.Fatalf("lowered %v", rep.Lowered)
	}
	sample, err := src.Sample(src.Len() - 1)
	if err != nil {
		t.Fatal(err)
	}
	run := func(threads int) string {
		var b strings.Builder
		sess, err := runtime.NewSession(low, runtime.Options{Threads: threads, Observer: func(v *graph.Value, x *runtime.Tensor) {
			if x.DType == graph.Uint8 || x.DType == graph.Int8 || x.DType == graph.Float32 {
				fmt.Fprintf(&b, "%s %v\n", v.Name, x.Data)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := sess.Run(sample)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range low.Graph.Outputs {
			fmt.Fprintf(&b, "%s %v\n", v.Name, outs[v.Name].Data)
		}
		return b.String()
	}
	want := ""
	for _, kern := range kernels.IgemmKernelNames() {
		restore, ok := kernels.UseIgemmKernel(kern)
		if !ok {
			t.Fatalf("kernel %s not selectable", kern)
		}
		for _, threads := range []int{1, 2} {
			got := run(threads)
			if want == "" {
				want = got
			} else if got != want {
				t.Errorf("kernel %s, %d threads: results differ from the first path's", kern, threads)
			}
		}
		restore()
	}
}

// A unit with int8 activations and uint8 weights stays in QDQ form, with
// the reason: ONNX Runtime has no integer kernel for that pair.
func TestLowerKeepsSignedInputUnsignedWeight(t *testing.T) {
	m := convMatMulModel(t)
	quantizeSynthetic(t, m, 6, 3, func(c *quant.Config) {
		c.Quant.ActivationType = qdq.Int8
		c.Quant.WeightType = qdq.Uint8
	})
	_, rep, log := lowerModel(t, m)
	if rep.Lowered["QLinearConv"] != 0 {
		t.Errorf("lowered %v with int8 inputs and uint8 weights; log:\n%s", rep.Lowered, log)
	}
	found := false
	for _, k := range rep.Kept {
		found = found || k.Op == "Conv" && strings.Contains(k.Reason, "int8 and its weight uint8")
	}
	if !found {
		t.Errorf("no Conv kept with the reason; report %+v", rep)
	}
}

// Without Options.Gemm (the execution form) a complete Gemm unit keeps
// its QDQ form, and the report says why: the standard ops have no integer
// Gemm.
func TestGemmUnitKept(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 2, 8)
	w := make([]float32, 8*4)
	for i := range w {
		w[i] = float32(i%7)/6 - 0.5
	}
	b.Output(b.Op("Relu", b.Op("Gemm", x, b.Const(graph.FromFloat32s("w", []int64{8, 4}, w)))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	quantizeSynthetic(t, m, 4, 1)
	_, rep, _ := lowerModel(t, m)
	if len(rep.Kept) != 1 || rep.Kept[0].Op != "Gemm" || !strings.Contains(rep.Kept[0].Reason, "no integer Gemm") {
		t.Errorf("kept %+v: want the Gemm with its reason", rep.Kept)
	}
}

// TestLowerGemmInteger: with Options.Gemm (the QOperator form), complete
// Gemm units, their weight stored transposed or not, per tensor or per
// column, with a bias and a quantized output or a float graph output
// read through a Relu, become MatMulInteger → Add → Cast → Mul, and compute
// what the QDQ model does.
func TestLowerGemmInteger(t *testing.T) {
	for _, perColumn := range []bool{true, false} {
		b := graph.NewBuilder(17)
		x := b.Input("x", graph.Float32, 3, 8)
		w := make([]float32, 8*6)
		for i := range w {
			w[i] = float32((i*7)%13-6) / float32(1+i%5)
		}
		bias := []float32{0.5, -0.25, 0, 1, -1, 0.125}
		h := b.Op("Gemm", x, b.Const(graph.FromFloat32s("w1", []int64{6, 8}, w)), b.Const(graph.FromFloat32s("b1", []int64{6}, bias)), graph.IntAttr("transB", 1))
		h = b.Op("Relu", h)
		y := b.Op("Gemm", h, b.Const(graph.FromFloat32s("w2", []int64{6, 4}, w[:24])), b.Const(graph.FromFloat32s("b2", []int64{4}, bias[:4])))
		b.Output(b.Op("Relu", y))
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		src := quantizeSynthetic(t, m, 4, 3, func(c *quant.Config) { c.Quant.PerChannel = perColumn })
		low, rep, log := lowerModelWith(t, m, lower.Options{Gemm: true})
		if rep.Lowered["MatMulInteger(Gemm)"] != 2 || len(rep.Kept) != 0 {
			t.Fatalf("per column %v: lowered %v, kept %+v; log:\n%s", perColumn, rep.Lowered, rep.Kept, log)
		}
		for _, n := range low.Graph.Nodes {
			if n.OpType == "Gemm" {
				t.Errorf("per column %v: a Gemm is left", perColumn)
			}
		}
		total, differ, worst := compareIntegers(integerValues(t, m, src), integerValues(t, low, src))
		if total == 0 || worst > 1 || float64(differ) > 0.01*float64(total) {
			t.Errorf("per column %v: %d of %d integers differ, by up to %d", perColumn, differ, total, worst)
		}
		outputsClose(t, m, low, src, 2, func(want float32) float64 { return 1e-4 * (1 + math.Abs(float64(want))) })
	}
}
