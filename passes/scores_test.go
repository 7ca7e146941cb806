// scores_test.go checks which outputs ScoreOutput takes for score
// vectors along their last axis.
package passes_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

func TestScoreOutput(t *testing.T) {
	w := func(b *graph.Builder, name string, dims ...int64) *graph.Value {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		return b.Const(graph.FromFloat32s(name, dims, make([]float32, n)))
	}
	for _, c := range []struct {
		name  string
		opset int64
		want  bool
		build func(b *graph.Builder) *graph.Value
	}{
		{"Gemm logits", 17, true, func(b *graph.Builder) *graph.Value {
			return b.Op("Gemm", b.Input("x", graph.Float32, 1, 16), w(b, "w", 16, 10))
		}},
		{"MatMul + bias, Softmax", 17, true, func(b *graph.Builder) *graph.Value {
			mm := b.Op("MatMul", b.Input("x", graph.Float32, 1, 16), w(b, "w", 16, 10))
			return b.Op("Softmax", b.Op("Add", mm, w(b, "bias", 10)))
		}},
		{"Softmax over channels of a map", 17, false, func(b *graph.Builder) *graph.Value {
			return b.Op("Softmax", b.Input("x", graph.Float32, 1, 4, 8, 8), graph.IntAttr("axis", 1))
		}},
		{"Softmax, opset 11 default axis, [1, 10]", 11, true, func(b *graph.Builder) *graph.Value {
			return b.Op("Softmax", b.Input("x", graph.Float32, 1, 10))
		}},
		{"global pool flattened (a SqueezeNet head)", 17, true, func(b *graph.Builder) *graph.Value {
			conv := b.Op("Conv", b.Input("x", graph.Float32, 1, 3, 8, 8), w(b, "w", 10, 3, 1, 1))
			return b.Op("Flatten", b.Op("GlobalAveragePool", b.Op("Relu", conv)))
		}},
		{"Conv map", 17, false, func(b *graph.Builder) *graph.Value {
			return b.Op("Conv", b.Input("x", graph.Float32, 1, 3, 8, 8), w(b, "w", 10, 3, 1, 1))
		}},
		{"Conv channels moved last (keypoints)", 17, false, func(b *graph.Builder) *graph.Value {
			conv := b.Op("Conv", b.Input("x", graph.Float32, 1, 3, 8, 8), w(b, "w", 10, 3, 1, 1))
			moved := b.Op("Transpose", conv, graph.IntsAttr("perm", 0, 2, 3, 1))
			return b.Op("Reshape", moved, b.Const(graph.FromInt64s("shape", []int64{3}, []int64{1, 64, 10})))
		}},
		{"Sigmoid of logits (a mask)", 17, false, func(b *graph.Builder) *graph.Value {
			return b.Op("Sigmoid", b.Op("MatMul", b.Input("x", graph.Float32, 1, 16), w(b, "w", 16, 10)))
		}},
		{"Identity of a Softmax", 17, true, func(b *graph.Builder) *graph.Value {
			return b.Op("Identity", b.Op("Softmax", b.Input("x", graph.Float32, 2, 10)))
		}},
		{"the sum of two logits", 17, false, func(b *graph.Builder) *graph.Value {
			x := b.Input("x", graph.Float32, 1, 16)
			return b.Op("Add", b.Op("MatMul", x, w(b, "w1", 16, 10)), b.Op("Relu", b.Op("MatMul", x, w(b, "w2", 16, 10))))
		}},
		{"graph input", 17, false, func(b *graph.Builder) *graph.Value {
			return b.Input("x", graph.Float32, 1, 10)
		}},
	} {
		b := graph.NewBuilder(c.opset)
		out := c.build(b)
		b.Output(out)
		m, err := b.Model()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := passes.ScoreOutput(m, m.Graph.Outputs[0]); got != c.want {
			t.Errorf("%s: ScoreOutput %v, want %v", c.name, got, c.want)
		}
	}
}

// Where shape inference leaves the values between a Softmax and the
// output without shapes, the output's runtime shape decides which axis
// the Softmax normalizes: torch's classifier export (opset 13, axis 1,
// an Identity after it) holds scores, a probability map softmaxed over
// its channels (opset 11, axis 1 of four) does not.
func TestScoreOutputShaped(t *testing.T) {
	for _, c := range []struct {
		name  string
		opset int64
		axis  int64
		shape []int
		want  bool
	}{
		{"classifier, opset 13", 13, 1, []int{1, 10}, true},
		{"probability map, opset 11", 11, 1, []int{1, 4, 16, 16}, false},
		{"probability map, opset 13", 13, 1, []int{1, 4, 16, 16}, false},
		{"channels last map, opset 13", 13, 3, []int{1, 16, 16, 4}, true},
	} {
		b := graph.NewBuilder(c.opset)
		x := b.Input("x", graph.Float32, -1, -1)
		x.Shape = nil // unknown rank: nothing to infer from
		out := b.Op("Identity", b.Op("Softmax", x, graph.IntAttr("axis", c.axis)))
		b.Output(out)
		m, err := b.Model()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		v := m.Graph.Outputs[0]
		shapeOf := func(w *graph.Value) []int {
			if w == v {
				return c.shape
			}
			return nil
		}
		if got := passes.ScoreOutputShaped(m, v, shapeOf); got != c.want {
			t.Errorf("%s: ScoreOutputShaped %v, want %v", c.name, got, c.want)
		}
	}
}
