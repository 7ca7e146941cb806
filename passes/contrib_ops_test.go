package passes

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// msOp adds a com.microsoft node to b.
func msOp(b *graph.Builder, op string, args ...any) *graph.Value {
	v := b.Op(op, args...)
	v.Producer.Domain = "com.microsoft"
	return v
}

// runOutputY runs m on x (input "x") and returns output "y"'s values.
func runOutputY(t *testing.T, m *graph.Model, x *runtime.Tensor) []float32 {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return out[m.Graph.Outputs[0].Name].F32()
}

// ONNX Runtime's fused ops become the standard ops they fuse and compute
// what those compute: FusedConv with a LeakyRelu, then Gelu, FastGelu,
// QuickGelu, and SkipLayerNormalization with its sum output read, at
// opset 13 (its ops written out) and 17 (LayerNormalization).
func TestContribOps(t *testing.T) {
	x := runtime.FromFloat32([]int{1, 2, 4, 4}, ramp(32, 3))
	for _, opset := range []int64{13, 17} {
		fused := func() *graph.Model {
			b := graph.NewBuilder(opset)
			in := b.Input("x", graph.Float32, 1, 2, 4, 4)
			c := msOp(b, "FusedConv", in, convW(b, "w", 1, 4, 2, 1), f32(b, "b", 2, 4),
				graph.IntsAttr("kernel_shape", 1, 1), graph.StringAttr("activation", "LeakyRelu"), graph.FloatsAttr("activation_params", 0.1))
			g := msOp(b, "QuickGelu", msOp(b, "FastGelu", msOp(b, "Gelu", c)))
			sl := b.OpN("SkipLayerNormalization", 4, g, c, f32(b, "gamma", 4, 4), f32(b, "beta", 5, 4), graph.FloatAttr("epsilon", 1e-5))
			sl[0].Producer.Domain = "com.microsoft"
			b.Output(b.Op("Add", sl[0], sl[3]))
			m := graph.NewModel(b.Graph(), opset)
			m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: "com.microsoft", Version: 1})
			if err := m.Verify(); err != nil {
				t.Fatal(err)
			}
			return m
		}
		plain := func() *graph.Model {
			b := graph.NewBuilder(opset)
			in := b.Input("x", graph.Float32, 1, 2, 4, 4)
			c := b.Op("LeakyRelu", b.Op("Conv", in, convW(b, "w", 1, 4, 2, 1), f32(b, "b", 2, 4), graph.IntsAttr("kernel_shape", 1, 1)), graph.FloatAttr("alpha", 0.1))
			k := func(name string, v float32) *graph.Value { return b.Const(graph.FromFloat32s(name, nil, []float32{v})) }
			gelu := b.Op("Mul", b.Op("Mul", c, b.Op("Add", b.Op("Erf", b.Op("Div", c, k("r2", float32(math.Sqrt2)))), k("one", 1))), k("half", 0.5))
			cube := b.Op("Mul", b.Op("Mul", gelu, gelu), gelu)
			inner := b.Op("Mul", b.Op("Add", gelu, b.Op("Mul", cube, k("a", 0.044715))), k("s", float32(math.Sqrt(2/math.Pi))))
			fast := b.Op("Mul", b.Op("Mul", gelu, k("half2", 0.5)), b.Op("Add", b.Op("Tanh", inner), k("one2", 1)))
			quick := b.Op("Mul", fast, b.Op("Sigmoid", b.Op("Mul", fast, k("q", 1.702))))
			sum := b.Op("Add", quick, c)
			axes := graph.IntsAttr("axes", -1)
			mean := b.Op("ReduceMean", sum, axes)
			d := b.Op("Sub", sum, mean)
			dev := b.Op("Sqrt", b.Op("Add", b.Op("ReduceMean", b.Op("Mul", d, d), axes), k("eps", 1e-5)))
			ln := b.Op("Add", b.Op("Mul", b.Op("Div", d, dev), f32(b, "gamma", 4, 4)), f32(b, "beta", 5, 4))
			b.Output(b.Op("Add", ln, sum))
			return build(t, b)
		}
		m := fused()
		runPasses(t, m, ContribOps())
		for _, n := range m.Graph.Nodes {
			if n.Domain == "com.microsoft" {
				t.Fatalf("opset %d: %s is still a com.microsoft op", opset, n.OpType)
			}
		}
		p := plain()
		got, want := runOutputY(t, m, x), runOutputY(t, p, x)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("opset %d: element %d is %v, want %v", opset, i, got[i], want[i])
			}
		}
	}
}
