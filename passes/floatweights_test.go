package passes

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
)

// buildTanhChain builds x → Conv c1 → Tanh → Conv c2 → Relu → Conv c3 →
// output: c1's output is read by a float op and c3's is a graph output,
// so only c2 forms a complete unit.
func buildTanhChain(b *graph.Builder) {
	x := b.Input("x", graph.Float32, 1, 2, 5, 5)
	h := b.Op("Tanh", b.Op("Conv", x, f32(b, "w1", 1, 3, 2, 3, 3), f32(b, "b1", 2, 3)))
	h = b.Op("Relu", b.Op("Conv", h, f32(b, "w2", 3, 3, 3, 1, 1), f32(b, "b2", 4, 3)))
	b.Output(b.Op("Conv", h, f32(b, "w3", 5, 2, 3, 1, 1), f32(b, "b3", 6, 2)))
}

// within tells whether got and want have the same length and differ by
// at most tol anywhere.
func within(got, want []float32, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			return false
		}
	}
	return true
}

// floatConst returns the data of v when it is an FP32 initializer.
func floatConst(v *graph.Value) ([]float32, bool) {
	if v == nil || v.Const == nil || v.DType != graph.Float32 {
		return nil, false
	}
	f, err := v.Const.Float32s()
	return f, err == nil
}

// The Convs outside complete units get the FP32 weights of the reference
// and their biases as quantized (int32 × scale, within half a step of the
// reference's), under their own names, and no integer, scale or
// DequantizeLinear of theirs is left; the unit keeps its int8 ones.
func TestFloatWeightsOutsideUnits(t *testing.T) {
	b := graph.NewBuilder(13)
	buildTanhChain(b)
	ref := build(t, b)
	m := clone(t, ref)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	done, err := FloatWeightsOutsideUnits(m, ref, FloatWeightsAll)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"conv1 (Conv)", "conv3 (Conv)"}; !slices.Equal(done, want) {
		t.Errorf("changed %v, want %v", done, want)
	}
	for i, name := range []string{"conv1", "conv2", "conv3"} {
		n := nodeNamed(m.Graph, name)
		if unit := macs.QDQUnit(n); unit != (i == 1) {
			t.Fatalf("%s unit %v", name, unit)
		}
		for slot := 1; slot <= 2; slot++ {
			got, isFloat := floatConst(n.Input(slot))
			if isFloat != (i != 1) {
				t.Errorf("%s input %d FP32 %v", name, slot, isFloat)
				continue
			}
			want, _ := floatConst(nodeNamed(ref.Graph, name).Input(slot))
			same := slices.Equal(got, want)
			if slot == 2 {
				same = within(got, want, 1e-3) // the bias step s_in·s_w is under 1e-3 here
			}
			if isFloat && (!same || n.Input(slot).Name != nodeNamed(ref.Graph, name).Input(slot).Name) {
				t.Errorf("%s input %d is not the reference's %s: %v, want %v", name, slot, nodeNamed(ref.Graph, name).Input(slot).Name, got, want)
			}
		}
	}
	dqs := 0
	for _, n := range m.Graph.Nodes {
		if n.OpType == "DequantizeLinear" && n.Input(0).Const != nil {
			dqs++
		}
	}
	if dqs != 2 {
		t.Errorf("%d DequantizeLinear of constants, want the unit's weight and bias", dqs)
	}
	for _, v := range m.Graph.Initializers {
		if len(v.Consumers) == 0 {
			t.Errorf("initializer %s is read by nothing", v.Name)
		}
	}
	// a second call finds nothing left to do
	if again, err := FloatWeightsOutsideUnits(m, ref, FloatWeightsAll); err != nil || len(again) != 0 {
		t.Errorf("second call changed %v (%v)", again, err)
	}
}

// sharedWeightPair quantizes x → Conv(w) → first → Conv(w) → Tanh and
// returns it with its FP32 reference: with first a Relu the first Conv
// forms a unit, with a Tanh neither does.
func sharedWeightPair(t *testing.T, first string) (m, ref *graph.Model) {
	t.Helper()
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 4, 4)
	w := f32(b, "w", 1, 3, 3, 1, 1)
	h := b.Op(first, b.Op("Conv", x, w))
	b.Output(b.Op("Tanh", b.Op("Conv", h, w)))
	ref = build(t, b)
	m = clone(t, ref)
	quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
	return m, ref
}

// A weight shared by a unit and a Conv outside any unit stays int8 for
// the unit; the other reads an FP32 copy.
func TestFloatWeightsOutsideUnitsShared(t *testing.T) {
	m, ref := sharedWeightPair(t, "Relu")
	if _, err := FloatWeightsOutsideUnits(m, ref, FloatWeightsAll); err != nil {
		t.Fatal(err)
	}
	unit, outside := nodeNamed(m.Graph, "conv1"), nodeNamed(m.Graph, "conv2")
	if !macs.QDQUnit(unit) {
		t.Fatalf("conv1 is no unit")
	}
	got, ok := floatConst(outside.Input(1))
	want, _ := floatConst(ref.Graph.Value("w"))
	if !ok || !slices.Equal(got, want) {
		t.Errorf("conv2 does not read the FP32 weight")
	}
}

// Convs outside units that read one weight read one FP32 initializer,
// the weight's own.
func TestFloatWeightsOutsideUnitsOneCopy(t *testing.T) {
	m, ref := sharedWeightPair(t, "Tanh")
	done, err := FloatWeightsOutsideUnits(m, ref, FloatWeightsAll)
	if err != nil || len(done) != 2 {
		t.Fatalf("changed %v (%v)", done, err)
	}
	c1, c2 := nodeNamed(m.Graph, "conv1"), nodeNamed(m.Graph, "conv2")
	if c1.Input(1) != c2.Input(1) {
		t.Errorf("weights %s and %s, want one shared FP32 weight", c1.Input(1).Name, c2.Input(1).Name)
	}
	for _, v := range m.Graph.Initializers {
		if v.DType == graph.Int8 || len(v.Consumers) == 0 {
			t.Errorf("initializer %s (%v) left behind", v.Name, v.DType)
		}
	}
	if got, ok := floatConst(c1.Input(1)); !ok || c1.Input(1).Name != "w" || !slices.Equal(got, ramp(9, 1)) {
		t.Errorf("the shared weight is not the FP32 w")
	}
}

// The grouped scope takes the depthwise Conv outside a unit and leaves
// the dense one beside it; none takes nothing.
func TestFloatWeightsScope(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 3, 4, 4)
	h := b.Op("Tanh", b.Op("Conv", x, f32(b, "dw", 1, 3, 1, 3, 3), graph.IntAttr("group", 3), graph.IntsAttr("pads", 1, 1, 1, 1)))
	b.Output(b.Op("Tanh", b.Op("Conv", h, f32(b, "pw", 2, 3, 3, 1, 1))))
	ref := build(t, b)
	for _, c := range []struct {
		scope FloatWeightsScope
		want  []string
	}{
		{FloatWeightsGrouped, []string{"conv1 (Conv)"}},
		{FloatWeightsAll, []string{"conv1 (Conv)", "conv2 (Conv)"}},
		{FloatWeightsNone, nil},
	} {
		m := clone(t, ref)
		quantize(t, m, fixedRanges(m, nil), DefaultQuantOptions())
		done, err := FloatWeightsOutsideUnits(m, ref, c.scope)
		if err != nil || !slices.Equal(done, c.want) {
			t.Errorf("%v: changed %v (%v), want %v", c.scope, done, err, c.want)
		}
		if s, err := ParseFloatWeightsScope(c.scope.String()); err != nil || s != c.scope {
			t.Errorf("%v does not parse back: %v %v", c.scope, s, err)
		}
	}
	if _, err := ParseFloatWeightsScope("some"); err == nil {
		t.Errorf("an unknown scope parses")
	}
}

// The grouped scope also takes a MatMul outside a unit (its input kept
// float), which ONNX Runtime would otherwise run with its weight-only
// kernel, quantizing the float input itself; a Gemm with a transposed
// weight it leaves.
func TestFloatWeightsScopeMatMul(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Op("Tanh", b.Input("x", graph.Float32, 2, 4))
	h := b.Op("Tanh", b.Op("MatMul", x, f32(b, "wm", 1, 4, 3)))
	b.Output(b.Op("Tanh", b.Op("Gemm", h, f32(b, "wg", 2, 2, 3), graph.IntAttr("transB", 1))))
	ref := build(t, b)
	m := clone(t, ref)
	opts := DefaultQuantOptions()
	opts.Overrides = map[string]TensorOverride{x.Name: {FP32: true}, h.Name: {FP32: true}}
	quantize(t, m, fixedRanges(m, nil), opts)
	if n := len(Int8OutsideUnits(m.Graph)); n != 2 {
		t.Fatalf("%d weighted ops outside units with int8 weights, want 2", n)
	}
	done, err := FloatWeightsOutsideUnits(m, ref, FloatWeightsGrouped)
	if err != nil || len(done) != 1 || !strings.HasSuffix(done[0], "(MatMul)") {
		t.Errorf("changed %v (%v), want the MatMul", done, err)
	}
}
