package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// BenchmarkQLinearConvTranspose times the k2 s2 upsampling heads of a
// text detector (ppocr): 24 → 24 channels with a quantized output, and
// 24 → 1 with a float output.
func BenchmarkQLinearConvTranspose(b *testing.B) {
	for _, c := range []struct {
		C, M, H  int
		floatOut bool
	}{{24, 24, 80, false}, {24, 1, 160, true}} {
		b.Run(fmt.Sprintf("C%d_M%d_%dx%d_float=%v", c.C, c.M, c.H, c.H, c.floatOut), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := New(graph.Uint8, 1, c.C, c.H, c.H)
			for i := range x.Data.([]uint8) {
				x.Data.([]uint8)[i] = uint8(rng.IntN(256))
			}
			w := New(graph.Int8, c.C, c.M, 2, 2)
			for i := range w.Data.([]int8) {
				w.Data.([]int8)[i] = int8(rng.IntN(255) - 127)
			}
			ws := New(graph.Float32, c.M)
			for i := range ws.F32() {
				ws.F32()[i] = 0.002
			}
			bias := New(graph.Int32, c.M)
			in := []*Tensor{x, Scalar(float32(0.02)), New(graph.Uint8), w, ws, New(graph.Int8, c.M), Scalar(float32(0.05)), New(graph.Uint8), bias}
			if c.floatOut {
				in[6], in[7] = nil, nil
			}
			node := &graph.Node{OpType: "QLinearConvTranspose", Domain: OnnxqDomain, Attrs: []*graph.Attribute{graph.IntsAttr("strides", 2, 2)}}
			kern, err := newIntConvTranspose(node, 1)
			if err != nil {
				b.Fatal(err)
			}
			ctx := &Context{Threads: 1, Node: node}
			for b.Loop() {
				if _, err := kern.Run(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
