package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

func TestFoldConvAdd(t *testing.T) {
	cases := []struct {
		name   string
		build  func(b *graph.Builder) // adds nodes reading input "x" and sets the outputs
		x      []int
		addOut int // Add nodes left
	}{
		{"conv-bias-c11", func(b *graph.Builder) {
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", b.Op("Add", b.Op("Conv", x, f32(b, "w", 1, 4, 2, 3, 3), f32(b, "b", 2, 4)), f32(b, "c", 3, 4, 1, 1))))
		}, []int{1, 2, 5, 5}, 0},
		{"conv-nobias-1c11-first", func(b *graph.Builder) {
			// The constant is the first input; the conv has no bias.
			x := b.Graph().Value("x")
			b.Output(b.Op("Relu", b.Op("Add", f32(b, "c", 3, 1, 4, 1, 1), b.Op("Conv", x, f32(b, "w", 1, 4, 2, 3, 3)))))
		}, []int{1, 2, 5, 5}, 0},
		{"conv1d-scalar", func(b *graph.Builder) {
			// 1-D conv: [C,1] is per channel, a scalar adds to every channel.
			x := b.Graph().Value("x")
			y := b.Op("Add", b.Op("Conv", x, f32(b, "w", 1, 3, 2, 3)), f32(b, "c", 3, 3, 1))
			b.Output(b.Op("Relu", b.Op("Add", b.Op("Conv", y, f32(b, "w2", 2, 3, 3, 1)), b.Const(graph.FromFloat32s("s", nil, []float32{0.25})))))
		}, []int{2, 2, 7}, 0},
		{"convtranspose-grouped-output", func(b *graph.Builder) {
			// Grouped ConvTranspose (6 output channels) whose Add is a graph
			// output: the output keeps its name.
			x := b.Graph().Value("x")
			b.Output(b.Op("Add", b.Op("ConvTranspose", x, f32(b, "w", 1, 4, 3, 2, 2),
				graph.IntAttr("group", 2), graph.IntsAttr("strides", 2, 2)), f32(b, "c", 3, 6, 1, 1)))
		}, []int{1, 4, 3, 3}, 0},
		{"convtranspose-add-bn", func(b *graph.Builder) {
			// ConvTranspose, Add, BatchNormalization, as in ppocr's head.
			x := b.Graph().Value("x")
			ct := b.Op("ConvTranspose", x, f32(b, "w", 1, 4, 3, 2, 2), graph.IntsAttr("strides", 2, 2))
			b.Output(b.Op("Relu", bnAfter(b, b.Op("Add", ct, f32(b, "c", 5, 3, 1, 1)), 3, 1)))
		}, []int{1, 4, 3, 3}, 0},
		{"shared-bias", func(b *graph.Builder) {
			// Two convs share their bias: the folded one gets its own.
			x := b.Graph().Value("x")
			bias := f32(b, "b", 2, 4)
			w := f32(b, "w", 1, 4, 2, 3, 3)
			b.Output(b.Op("Add", b.Op("Conv", x, w, bias), f32(b, "c", 3, 4, 1, 1)), b.Op("Conv", x, w, bias))
		}, []int{1, 2, 5, 5}, 0},
		{"left-alone", func(b *graph.Builder) {
			// A constant that varies along W; one of higher rank; one
			// along H; a conv output read twice; an Add of two convs; a
			// bias that is a graph input.
			x := b.Graph().Value("x")
			w := f32(b, "w", 1, 2, 2, 1, 1)
			c1 := b.Op("Conv", x, w)
			c2 := b.Op("Conv", x, w)
			c3 := b.Op("Conv", x, w)
			c4 := b.Op("Conv", x, w)
			c5 := b.Op("Conv", x, w)
			c6 := b.Op("Conv", x, w)
			c8 := b.Op("Conv", x, w)
			bias := b.Input("bias", graph.Float32, 2)
			c7 := b.Op("Conv", x, w, bias)
			b.Output(
				b.Op("Add", c1, f32(b, "k1", 3, 1, 1, 1, 3)),
				b.Op("Add", c2, f32(b, "k2", 3, 1, 1, 2, 1, 1)),
				b.Op("Add", c3, f32(b, "k3", 3, 2, 1, 1, 1)),
				b.Op("Add", c4, f32(b, "k4", 3, 3, 1)),
				b.Op("Add", c8, f32(b, "k8", 3, 2, 1, 1)),
				c8,
				b.Op("Add", c5, c6),
				b.Op("Add", c7, f32(b, "k7", 3, 2, 1, 1)),
			)
		}, []int{1, 2, 3, 3}, 7},
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
			runPasses(t, m, FoldConvAdd(), FoldBatchNorm())
			if got := opCount(m, "Add"); got != tc.addOut {
				t.Errorf("%d Add left, want %d", got, tc.addOut)
			}
			if got := opCount(m, "BatchNormalization"); got != 0 && tc.name != "left-alone" {
				t.Errorf("%d BatchNormalization left", got)
			}
			feeds := map[string]*runtime.Tensor{"x": input(0.3, tc.x...)}
			if tc.name == "left-alone" {
				feeds["bias"] = input(0.7, 2)
			}
			sameOutputs(t, before, m, feeds, 1e-5)
			checkGolden(t, "fold-conv-add", tc.name, m)
		})
	}
}
