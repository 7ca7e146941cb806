// resize_test.go checks Resize against direct formulas of the ONNX
// specification, across thread counts and element types, and its errors.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// resizeRef computes one output element of a 4-D NCHW resize of the last
// two axes the slow way: the bilinear or nearest formula per element.
func resizeRef(x []float32, c, h, w, oh, ow int, mode, coord string, i, j int) float32 {
	src := func(o, in, out int) float64 {
		scale := float64(out) / float64(in)
		switch coord {
		case "asymmetric":
			return float64(o) / scale
		case "align_corners":
			if out == 1 {
				return 0
			}
			return float64(o) * float64(in-1) / float64(out-1)
		}
		return (float64(o)+0.5)/scale - 0.5
	}
	clamp := func(v, n int) int { return min(max(v, 0), n-1) }
	y, xx := src(i, h, oh), src(j, w, ow)
	plane := x[c*h*w : (c+1)*h*w]
	if mode == "nearest" {
		// round_prefer_floor: halves go down.
		r := func(v float64) int { return int(math.Ceil(v - 0.5)) }
		return plane[clamp(r(y), h)*w+clamp(r(xx), w)]
	}
	y0, x0 := math.Floor(y), math.Floor(xx)
	fy, fx := y-y0, xx-x0
	at := func(a, b int) float64 { return float64(plane[clamp(a, h)*w+clamp(b, w)]) }
	v := (1-fy)*((1-fx)*at(int(y0), int(x0))+fx*at(int(y0), int(x0)+1)) +
		fy*((1-fx)*at(int(y0)+1, int(x0))+fx*at(int(y0)+1, int(x0)+1))
	return float32(v)
}

func TestResizeMatchesFormulas(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 40; iter++ {
		c, h, w := 1+rng.IntN(3), 1+rng.IntN(9), 1+rng.IntN(9)
		oh, ow := 1+rng.IntN(20), 1+rng.IntN(20)
		if iter == 0 {
			c, h, w, oh, ow = 64, 40, 40, 80, 80 // large enough for threads
		}
		x := dmRandom(rng, graph.Float32, 1, c, h, w)
		for _, mode := range []string{"nearest", "linear"} {
			for _, coord := range []string{"half_pixel", "asymmetric", "align_corners"} {
				attrs := []*graph.Attribute{graph.StringAttr("mode", mode), graph.StringAttr("coordinate_transformation_mode", coord)}
				sizes := dmInt64s(1, int64(c), int64(oh), int64(ow))
				var first *Tensor
				for _, threads := range []int{1, 3} {
					got := dmMust(t, "Resize", 13, threads, attrs, 1, x, nil, nil, sizes)[0]
					if first == nil {
						first = got
					} else {
						dmSameTensor(t, "resize with threads", got, first)
					}
				}
				g := first.F32()
				for ci := 0; ci < c; ci++ {
					for i := 0; i < oh; i++ {
						for j := 0; j < ow; j++ {
							want := resizeRef(x.F32(), ci, h, w, oh, ow, mode, coord, i, j)
							v := g[(ci*oh+i)*ow+j]
							if math.Abs(float64(v-want)) > 1e-5*(1+math.Abs(float64(want))) {
								t.Fatalf("%s %s %dx%d->%dx%d at (%d,%d,%d): %v, want %v", mode, coord, h, w, oh, ow, ci, i, j, v, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestResizeTypes(t *testing.T) {
	// Nearest moves any element type; linear computes in float64 for
	// types other than float32.
	x := &Tensor{DType: graph.Uint8, Shape: []int{1, 2}, Data: []uint8{10, 20}}
	scales := FromFloat32([]int{2}, []float32{1, 2})
	got := dmMust(t, "Resize", 19, 1, []*graph.Attribute{graph.StringAttr("coordinate_transformation_mode", "asymmetric")}, 1, x, nil, scales)[0]
	dmSameTensor(t, "uint8 nearest", got, &Tensor{DType: graph.Uint8, Shape: []int{1, 4}, Data: []uint8{10, 10, 20, 20}})
	s := &Tensor{DType: graph.String, Shape: []int{2}, Data: []string{"a", "b"}}
	got = dmMust(t, "Resize", 19, 1, nil, 1, s, nil, FromFloat32([]int{1}, []float32{1.5}))[0]
	dmSameTensor(t, "string nearest", got, &Tensor{DType: graph.String, Shape: []int{3}, Data: []string{"a", "a", "b"}})
	f := &Tensor{DType: graph.Float64, Shape: []int{2}, Data: []float64{0, 1}}
	got = dmMust(t, "Resize", 19, 1, []*graph.Attribute{graph.StringAttr("mode", "linear"), graph.StringAttr("coordinate_transformation_mode", "align_corners")}, 1, f, nil, nil, dmInt64s(5))[0]
	dmSameTensor(t, "float64 linear", got, &Tensor{DType: graph.Float64, Shape: []int{5}, Data: []float64{0, 0.25, 0.5, 0.75, 1}})
	// Upsample 7 reads its scales from an attribute.
	got = dmMust(t, "Upsample", 7, 1, []*graph.Attribute{graph.FloatsAttr("scales", 1, 2)}, 1, FromFloat32([]int{1, 2}, []float32{1, 2}))[0]
	dmSameTensor(t, "upsample 7", got, FromFloat32([]int{1, 4}, []float32{1, 1, 2, 2}))
	// Axes (opset 18) and keep_aspect_ratio_policy.
	x4 := dmRandom(rand.New(rand.NewPCG(1, 2)), graph.Float32, 1, 1, 4, 6)
	got = dmMust(t, "Resize", 19, 1, []*graph.Attribute{graph.IntsAttr("axes", 3, 2), graph.StringAttr("keep_aspect_ratio_policy", "not_larger")}, 1, x4, nil, nil, dmInt64s(3, 8))[0]
	if !equalShape(got.Shape, []int{1, 1, 2, 3}) {
		t.Fatalf("not_larger shape %v", got.Shape)
	}
}

func TestResizeBadInputs(t *testing.T) {
	x := New(graph.Float32, 1, 1, 2, 2)
	cases := []struct {
		attrs []*graph.Attribute
		in    []*Tensor
	}{
		{nil, []*Tensor{x}},
		{nil, []*Tensor{x, nil, FromFloat32([]int{2}, []float32{2, 2})}},
		{nil, []*Tensor{x, nil, FromFloat32([]int{4}, []float32{1, 1, -2, 2})}},
		{nil, []*Tensor{x, nil, FromFloat32([]int{4}, []float32{1, 1, float32(math.NaN()), 2})}},
		{nil, []*Tensor{x, nil, FromFloat32([]int{4}, []float32{1, 1, 1e30, 1e30})}},
		{nil, []*Tensor{x, nil, FromFloat32([]int{4}, []float32{1, 1, 2, 2}), dmInt64s(1, 1, 4, 4)}},
		{nil, []*Tensor{x, nil, nil, dmInt64s(1, 1, -4, 4)}},
		{nil, []*Tensor{x, nil, nil, dmInt64s(1, 1, 1<<40, 1<<40)}},
		{nil, []*Tensor{x, nil, nil, dmInt64s(4, 4)}},
		{[]*graph.Attribute{graph.IntsAttr("axes", 2, 2)}, []*Tensor{x, nil, nil, dmInt64s(4, 4)}},
		{[]*graph.Attribute{graph.StringAttr("mode", "bogus")}, []*Tensor{x, nil, nil, dmInt64s(1, 1, 4, 4)}},
		{[]*graph.Attribute{graph.StringAttr("coordinate_transformation_mode", "tf_crop_and_resize")}, []*Tensor{x, FromFloat32([]int{2}, []float32{0, 1}), nil, dmInt64s(1, 1, 4, 4)}},
		{nil, []*Tensor{New(graph.Float32, 0, 2), nil, nil, dmInt64s(3, 2)}},
	}
	for i, c := range cases {
		if _, err := dmRun(t, "Resize", 19, 2, c.attrs, 1, c.in...); err == nil {
			t.Errorf("case %d: bad input accepted", i)
		}
	}
}

// benchSession times one op inside a session, followed by Shape so that
// the op's output goes back to the buffer pool as in a real model.
func benchSession(b *testing.B, threads int, in *Tensor, op func(g *graph.Builder, x *graph.Value) *graph.Value) {
	g := graph.NewBuilder(19)
	dims := make([]int64, len(in.Shape))
	for i, d := range in.Shape {
		dims[i] = int64(d)
	}
	x := g.Input("x", in.DType, dims...)
	g.Output(g.Op("Shape", op(g, x)))
	m, err := g.Model()
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSession(m, Options{Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	feeds := map[string]*Tensor{"x": in}
	for b.Loop() {
		if _, err := s.Run(feeds); err != nil {
			b.Fatal(err)
		}
	}
}

func benchResize(b *testing.B, mode string, threads int) {
	x := dmRandom(rand.New(rand.NewPCG(1, 1)), graph.Float32, 1, 64, 40, 40)
	b.SetBytes(int64(x.Len() * 4 * 4))
	benchSession(b, threads, x, func(g *graph.Builder, x *graph.Value) *graph.Value {
		scales := g.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
		return g.Op("Resize", x, nil, scales, graph.StringAttr("mode", mode))
	})
}

func BenchmarkResizeNearest2x(b *testing.B)  { benchResize(b, "nearest", 1) }
func BenchmarkResizeBilinear2x(b *testing.B) { benchResize(b, "linear", 1) }
