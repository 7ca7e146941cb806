package passes

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
)

// halfTensor stores vals as dt (Float16 or BFloat16).
func halfTensor(t *testing.T, name string, dt graph.DType, dims []int64, vals []float32) *graph.Tensor {
	t.Helper()
	raw := make([]byte, 2*len(vals))
	for i, v := range vals {
		bits := float16.Fromfloat32(v).Bits()
		if dt == graph.BFloat16 {
			bits = uint16(math.Float32bits(v) >> 16)
		}
		binary.LittleEndian.PutUint16(raw[2*i:], bits)
	}
	h := &graph.Tensor{Name: name, DType: dt, Dims: dims}
	if err := h.SetRaw(raw); err != nil {
		t.Fatal(err)
	}
	return h
}

// halfModel is x → Conv → Mul by a constant → Relu → Cast to dt → y, all
// in dt (float16 or bfloat16), with a second output z, the Relu's, as
// well; halfInput is an input for it.
func halfModel(t *testing.T, dt graph.DType) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", dt, 1, 4, 5, 5)
	w := make([]float32, 8*4*3*3)
	for i := range w {
		w[i] = float32(math.Sin(float64(i))) * 0.4
	}
	y := b.Op("Conv", x, b.Const(halfTensor(t, "w", dt, []int64{8, 4, 3, 3}, w), nil), b.Const(halfTensor(t, "bias", dt, []int64{8}, w[:8]), nil), graph.IntsAttr("pads", 1, 1, 1, 1))
	z := b.Op("Relu", b.Op("Mul", y, b.Const(halfTensor(t, "k", dt, nil, []float32{1.5}), nil)))
	y = b.Op("Cast", z, graph.IntAttr("to", int64(dt)))
	if err := b.Graph().Rename(y, "y"); err != nil {
		t.Fatal(err)
	}
	if err := b.Graph().Rename(z, "z"); err != nil {
		t.Fatal(err)
	}
	b.Output(y)
	b.Output(z)
	return build(t, b)
}

func halfInput(dt graph.DType) map[string]*runtime.Tensor {
	x := runtime.New(dt, 1, 4, 5, 5)
	for i := range 100 {
		v := float32(math.Cos(float64(i)*0.7)) * 2
		switch d := x.Data.(type) {
		case []float16.Float16:
			d[i] = float16.Fromfloat32(v)
		case []runtime.BFloat16:
			d[i] = runtime.BFloat16(math.Float32bits(v) >> 16)
		}
	}
	return map[string]*runtime.Tensor{"x": x}
}

// A half-precision model computes in float32 after upcast-half: its
// weights and every inner value are float32, its input and outputs keep
// their types and names (through Casts), its outputs match the half
// model's within half precision, and a second run changes nothing.
func TestUpcastHalf(t *testing.T) {
	for _, dt := range []graph.DType{graph.Float16, graph.BFloat16} {
		m := halfModel(t, dt)
		feeds := halfInput(dt)
		want := outputs(t, m, feeds)
		if err := Run(m, &Context{}, []Pass{UpcastHalf()}, RunOptions{}); err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		g := m.Graph
		if g.Inputs[0].DType != dt || g.Outputs[0].Name != "y" || g.Outputs[0].DType != dt || g.Outputs[1].Name != "z" || g.Outputs[1].DType != dt {
			t.Fatalf("%v: input %v, outputs %s %v, %s %v", dt, g.Inputs[0].DType, g.Outputs[0].Name, g.Outputs[0].DType, g.Outputs[1].Name, g.Outputs[1].DType)
		}
		for _, v := range g.Initializers {
			if v.DType != graph.Float32 || v.Const.DType != graph.Float32 {
				t.Errorf("%v: initializer %s is %v", dt, v.Name, v.Const.DType)
			}
		}
		for _, n := range g.Nodes {
			if out := n.Outputs[0]; out.DType != graph.Float32 && !slices.Contains(g.Outputs, out) {
				t.Errorf("%v: %s %s writes %v", dt, n.OpType, n.Name, out.DType)
			}
		}
		got := outputs(t, m, feeds)
		for name, w := range want {
			a, _ := w.AsFloat64()
			b, err := got[name].AsFloat64()
			if err != nil || got[name].DType != dt {
				t.Fatalf("%v: output %s: %v (%v)", dt, name, err, got[name].DType)
			}
			for i := range a {
				if math.Abs(a[i]-b[i]) > 0.02*(1+math.Abs(a[i])) {
					t.Fatalf("%v: output %s[%d] = %g, was %g", dt, name, i, b[i], a[i])
				}
			}
		}
		nodes := len(g.Nodes)
		ctx := &Context{}
		if err := Run(m, ctx, []Pass{UpcastHalf()}, RunOptions{}); err != nil || len(g.Nodes) != nodes {
			t.Errorf("%v: a second run: %v, %d nodes (was %d)", dt, err, len(g.Nodes), nodes)
		}
	}
}

// A float32 model is left alone.
func TestUpcastHalfFloat32(t *testing.T) {
	b := graph.NewBuilder(17)
	b.Output(b.Op("Relu", b.Input("x", graph.Float32, 2, 3)))
	m := build(t, b)
	if HasHalfFloats(m) {
		t.Fatal("float32 model counted as half")
	}
	if err := Run(m, &Context{}, []Pass{UpcastHalf()}, RunOptions{}); err != nil || len(m.Graph.Nodes) != 1 {
		t.Errorf("%v, %d nodes", err, len(m.Graph.Nodes))
	}
}

// A float64 model stays as it is, its nodes listed as FP32 and why, and
// no op counted as quantized.
func TestQuantizeFloat64StaysFloat(t *testing.T) {
	b := graph.NewBuilder(17)
	w := &graph.Tensor{Name: "w", DType: graph.Float64, Dims: []int64{2, 2, 1, 1}}
	raw := make([]byte, 32)
	for i := range 4 {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(float64(i)-1.5))
	}
	if err := w.SetRaw(raw); err != nil {
		t.Fatal(err)
	}
	b.Output(b.Op("Relu", b.Op("Conv", b.Input("x", graph.Float64, 1, 2, 3, 3), b.Const(w, nil))))
	m := build(t, b)
	r := quantize(t, m, map[string]Range{"x": {Min: -1, Max: 1}, "conv1_out0": {Min: -1, Max: 1}}, DefaultQuantOptions())
	if len(r.OpCounts) != 0 || r.WeightsQuantized+r.TensorsQuantized != 0 {
		t.Errorf("quantized %v, %d weights, %d activations", r.OpCounts, r.WeightsQuantized, r.TensorsQuantized)
	}
	if len(r.FP32) != 2 || r.FP32[0].Reason != reasonFloat64 {
		t.Errorf("FP32 list %+v", r.FP32)
	}
}
