package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// bnAfter appends an inference BatchNormalization over c channels to x.
func bnAfter(b *graph.Builder, x *graph.Value, c int64, seed float64) *graph.Value {
	v := ramp(int(c), seed+4)
	for i := range v {
		v[i] = v[i]*v[i] + 0.05
	}
	u := b.Graph().UniqueName
	return b.Op("BatchNormalization", x, f32(b, u("scale"), seed, c), f32(b, u("beta"), seed+1, c),
		f32(b, u("mean"), seed+2, c), b.Const(graph.FromFloat32s(u("var"), []int64{c}, v)), graph.FloatAttr("epsilon", 1e-3))
}

func opCount(m *graph.Model, op string) int {
	k := 0
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if n.OpType == op {
				k++
			}
		}
	})
	return k
}

func TestFoldBatchNorm(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *graph.Builder) // adds nodes reading input "x" and sets the outputs
		x     []int
		bnOut int // BatchNormalization nodes left
	}{
		{"conv", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", bnAfter(b, b.Op("Conv", x, f32(b, "w", 1, 4, 2, 3, 3), f32(b, "b", 2, 4)), 4, 1)))
		}, []int{1, 2, 5, 5}, 0},
		{"conv-nobias-grouped", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", bnAfter(b, b.Op("Conv", x, f32(b, "w", 1, 4, 1, 3, 3), graph.IntAttr("group", 2)), 4, 1)))
		}, []int{1, 2, 5, 5}, 0},
		{"convtranspose-grouped", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			// 4 input channels in 2 groups, 3 outputs per group: 6 output channels.
			b.Output(b.Op("Relu", bnAfter(b, b.Op("ConvTranspose", x, f32(b, "w", 1, 4, 3, 2, 2), f32(b, "b", 3, 6),
				graph.IntAttr("group", 2), graph.IntsAttr("strides", 2, 2)), 6, 1)))
		}, []int{1, 4, 3, 3}, 0},
		{"gemm-transb", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", bnAfter(b, b.Op("Gemm", x, f32(b, "w", 1, 5, 3), f32(b, "c", 2, 1, 5),
				graph.IntAttr("transB", 1), graph.FloatAttr("alpha", 0.5), graph.FloatAttr("beta", 2)), 5, 1)))
		}, []int{2, 3}, 0},
		{"matmul", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", bnAfter(b, b.Op("MatMul", x, f32(b, "w", 1, 3, 5)), 5, 1)))
		}, []int{2, 3}, 0},
		{"shared-weight", func(b *graph.Builder) {
			// Two convs share w: the folded one gets its own copy.
			x := b.Graph().Value("x")
			w := f32(b, "w", 1, 4, 2, 1, 1)
			b.Output(b.Op("Relu", bnAfter(b, b.Op("Conv", x, w), 4, 1)), b.Op("Conv", x, w))
		}, []int{1, 2, 3, 3}, 0},
		{"left-alone", func(b *graph.Builder) {
			// After Relu; after a conv whose output is read twice; after a
			// conv whose weight is a graph input; a BN that is a graph output
			// (its name must stay).
			x := b.Graph().Value("x")
			c := b.Op("Conv", x, f32(b, "w", 1, 2, 2, 1, 1))
			w2 := b.Input("w2", graph.Float32, 2, 2, 1, 1)
			b.Output(bnAfter(b, b.Op("Relu", x), 2, 1), bnAfter(b, c, 2, 2), c, b.Op("Relu", bnAfter(b, b.Op("Conv", x, w2), 2, 3)),
				bnAfter(b, b.Op("Conv", x, f32(b, "w3", 1, 2, 2, 1, 1)), 2, 4))
		}, []int{1, 2, 3, 3}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder(17)
			sizes := make([]int64, len(tc.x))
			for i, d := range tc.x {
				sizes[i] = int64(d)
			}
			b.Input("x", graph.Float32, sizes...)
			tc.build(b)
			m := build(t, b)
			before := clone(t, m)
			changed := runPasses(t, m, FoldBatchNorm())
			if got := opCount(m, "BatchNormalization"); got != tc.bnOut {
				t.Errorf("%d BatchNormalization left, want %d", got, tc.bnOut)
			}
			if changed != (tc.bnOut == 0) {
				t.Errorf("changed = %v", changed)
			}
			feeds := map[string]*runtime.Tensor{"x": input(0.3, tc.x...)}
			if tc.name == "left-alone" {
				feeds["w2"] = input(0.7, 2, 2, 1, 1)
			}
			sameOutputs(t, before, m, feeds, 1e-5)
			checkGolden(t, "fold-batchnorm", tc.name, m)
		})
	}
}

func TestFoldBatchNormOddInput(t *testing.T) {
	// Empty channels and a negative variance: left alone, no panic.
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 0, 2, 2)
	empty := func(name string) *graph.Value { return b.Const(graph.FromFloat32s(name, []int64{0}, nil)) }
	conv := b.Op("Conv", x, b.Const(graph.FromFloat32s("w", []int64{0, 0, 1, 1}, nil)))
	b.Output(b.Op("Relu", b.Op("BatchNormalization", conv, empty("s"), empty("b"), empty("m"), empty("v"))))
	y := b.Input("y", graph.Float32, 1, 1, 2, 2)
	neg := b.Const(graph.FromFloat32s("neg", []int64{1}, []float32{-1}))
	one := b.Const(graph.FromFloat32s("one", []int64{1}, []float32{1}))
	conv2 := b.Op("Conv", y, b.Const(graph.FromFloat32s("w2", []int64{1, 1, 1, 1}, []float32{2})))
	b.Output(b.Op("Relu", b.Op("BatchNormalization", conv2, one, one, one, neg)))
	m := build(t, b)
	if runPasses(t, m, FoldBatchNorm()) {
		t.Error("folded a degenerate BatchNormalization")
	}
}
