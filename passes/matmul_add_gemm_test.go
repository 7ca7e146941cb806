package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

func TestMatMulAddToGemm(t *testing.T) {
	cases := []struct {
		name  string
		x     []int64 // -1: a symbolic dimension
		build func(b *graph.Builder, x *graph.Value)
		gemms int
	}{
		{"rank2-output", []int64{3, 4}, func(b *graph.Builder, x *graph.Value) {
			// the Gemm takes over the graph output's name
			b.Output(b.Op("Add", b.Op("MatMul", x, f32(b, "w", 1, 4, 5)), f32(b, "c", 2, 5)))
		}, 1},
		{"rank3-shared-input", []int64{2, 3, 4}, func(b *graph.Builder, x *graph.Value) {
			// two MatMuls of one input share its reshape; bias first, [1,1,N]
			q := b.Op("Add", f32(b, "c1", 2, 1, 1, 5), b.Op("MatMul", x, f32(b, "w1", 1, 4, 5)))
			k := b.Op("Add", b.Op("MatMul", x, f32(b, "w2", 3, 4, 5)), f32(b, "c2", 4, 5))
			b.Output(b.Op("Relu", q), k)
		}, 2},
		{"rank3-dynamic", []int64{-1, 3, 4}, func(b *graph.Builder, x *graph.Value) {
			// one size known at run time only: -1 in a constant shape
			b.Output(b.Op("Relu", b.Op("Add", b.Op("MatMul", x, f32(b, "w", 1, 4, 5)), f32(b, "c", 2, 5))))
		}, 1},
		{"rank3-two-dynamic", []int64{-1, -1, 4}, func(b *graph.Builder, x *graph.Value) {
			// two: the shape comes from the input's Shape, and two MatMuls
			// of one input and N share it
			y := b.Op("Add", b.Op("MatMul", x, f32(b, "w", 1, 4, 5)), f32(b, "c", 2, 5))
			z := b.Op("Add", b.Op("MatMul", x, f32(b, "w2", 3, 4, 5)), f32(b, "c2", 4, 5))
			b.Output(b.Op("Relu", y), z)
		}, 2},
		{"left-alone", []int64{2, 4}, func(b *graph.Builder, x *graph.Value) {
			// a bias along rows, a MatMul read twice, a weight that is an
			// input, an Add of two MatMuls
			w := f32(b, "w", 1, 4, 5)
			m1 := b.Op("MatMul", x, w)
			m2 := b.Op("MatMul", x, w)
			m3 := b.Op("MatMul", x, b.Graph().Value("wi"))
			b.Output(
				b.Op("Add", b.Op("MatMul", x, w), f32(b, "rows", 2, 2, 1)),
				b.Op("Add", m1, f32(b, "c1", 3, 5)), m1,
				b.Op("Add", m3, f32(b, "c3", 4, 5)),
				b.Op("Add", m2, b.Op("MatMul", x, w)),
			)
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder(13)
			x := b.Input("x", graph.Float32, tc.x...)
			if tc.name == "left-alone" {
				b.Input("wi", graph.Float32, 4, 5)
			}
			tc.build(b, x)
			m := build(t, b)
			before := clone(t, m)
			outNames := map[string]bool{}
			for _, v := range m.Graph.Outputs {
				outNames[v.Name] = true
			}
			runPasses(t, m, MatMulAddToGemm(), RemoveDeadNodes())
			if got := opCount(m, "Gemm"); got != tc.gemms {
				t.Errorf("%d Gemm, want %d", got, tc.gemms)
			}
			if tc.gemms > 0 && opCount(m, "MatMul") != 0 {
				t.Errorf("%d MatMul left", opCount(m, "MatMul"))
			}
			if tc.name == "rank3-shared-input" && opCount(m, "Reshape") != 3 {
				t.Errorf("%d Reshape, want 3 (one of the input, one back per Gemm)", opCount(m, "Reshape"))
			}
			shapes := map[string]int{"rank3-dynamic": 0, "rank3-two-dynamic": 1}
			if want, ok := shapes[tc.name]; ok && opCount(m, "Shape") != want {
				t.Errorf("%d Shape, want %d", opCount(m, "Shape"), want)
			}
			if tc.name == "rank3-two-dynamic" && opCount(m, "Reshape") != 3 {
				t.Errorf("%d Reshape, want 3", opCount(m, "Reshape"))
			}
			for _, v := range m.Graph.Outputs {
				if !outNames[v.Name] {
					t.Errorf("output %q renamed", v.Name)
				}
			}
			dims := make([]int, len(tc.x))
			for i, d := range tc.x {
				dims[i] = int(max(d, 2))
			}
			feeds := map[string]*runtime.Tensor{"x": input(0.3, dims...)}
			if tc.name == "left-alone" {
				feeds["wi"] = input(0.7, 4, 5)
			}
			sameOutputs(t, before, m, feeds, 1e-5)
		})
	}
}
