package graph_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// Einsum's output shape follows its equation: explicit and implicit
// outputs, ellipses broadcast across inputs, a symbolic size carried.
func TestInferEinsumShapes(t *testing.T) {
	for _, c := range []struct {
		eq   string
		ins  [][]int64 // -1: symbolic
		want string
	}{
		{"bsk,kh->bsh", [][]int64{{2, 5, 8}, {8, 16}}, "[2,5,16]"},
		{"bhqd,bhkd->bhqk", [][]int64{{-1, 4, 7, 8}, {-1, 4, 9, 8}}, "[B,4,7,9]"},
		{"ij,jk", [][]int64{{3, 4}, {4, 6}}, "[3,6]"},
		{"...ij,...jk->...ik", [][]int64{{2, 1, 3, 4}, {5, 4, 6}}, "[2,5,3,6]"},
		{"ii->i", [][]int64{{5, 5}}, "[5]"},
		{"ij->", [][]int64{{5, 6}}, "[]"},
		{"ij,jk->ik", [][]int64{{3, 4, 1}, {4, 6}}, "?"}, // rank does not fit
	} {
		b := graph.NewBuilder(13)
		var args []any
		for i, dims := range c.ins {
			v := b.Input(string(rune('a'+i)), graph.Float32, dims...)
			for k, d := range dims {
				if d < 0 {
					v.Shape[k] = graph.Dim{Size: -1, Param: "B"}
				}
			}
			args = append(args, v)
		}
		args = append(args, graph.StringAttr("equation", c.eq))
		y := b.Op("Einsum", args...)
		b.Output(y)
		m, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		if err := graph.InferShapes(m); err != nil {
			t.Fatalf("%s: %v", c.eq, err)
		}
		got := "?"
		if y.Shape != nil {
			got = graph.TypeString(graph.Float32, y.Shape)[len("float32"):]
		}
		if got != c.want {
			t.Errorf("%s: shape %s, want %s", c.eq, got, c.want)
		}
	}
}
