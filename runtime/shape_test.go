// shape_test.go checks the shape and layout kernels against naive
// index arithmetic, across element types and thread counts, and checks
// that bad inputs give errors rather than panics.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// dmRun builds one node of the default registry and runs it outside a
// session. A panic fails the test: kernels must return errors.
func dmRun(t *testing.T, op string, opset int64, threads int, attrs []*graph.Attribute, nout int, in ...*Tensor) (outs []*Tensor, err error) {
	t.Helper()
	n := &graph.Node{OpType: op, Attrs: attrs}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, &graph.Value{Name: fmt.Sprint("y", i)})
	}
	b := DefaultRegistry().Lookup("", op)
	if b == nil {
		t.Fatalf("no kernel for %s", op)
	}
	k, err := b(n, opset)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", op, r)
			err = fmt.Errorf("panic")
		}
	}()
	return k.Run(&Context{Node: n, Opset: opset, Threads: threads}, in)
}

// dmMust is dmRun that fails the test on an error.
func dmMust(t *testing.T, op string, opset int64, threads int, attrs []*graph.Attribute, nout int, in ...*Tensor) []*Tensor {
	t.Helper()
	outs, err := dmRun(t, op, opset, threads, attrs, nout, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return outs
}

func dmInt64s(v ...int64) *Tensor { return FromInt64([]int{len(v)}, v) }

// dmRandom returns a tensor of the given type with distinct-ish values.
func dmRandom(rng *rand.Rand, dt graph.DType, shape ...int) *Tensor {
	t := New(dt, shape...)
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
	case []float64:
		for i := range d {
			d[i] = rng.NormFloat64()
		}
	case []float16.Float16:
		for i := range d {
			d[i] = float16.Fromfloat32(float32(rng.IntN(2000) - 1000))
		}
	case []int8:
		for i := range d {
			d[i] = int8(rng.IntN(256) - 128)
		}
	case []int32:
		for i := range d {
			d[i] = rng.Int32()
		}
	case []int64:
		for i := range d {
			d[i] = rng.Int64()
		}
	case []bool:
		for i := range d {
			d[i] = rng.IntN(2) == 1
		}
	case []string:
		for i := range d {
			d[i] = fmt.Sprint("s", rng.IntN(1000))
		}
	case []complex128:
		for i := range d {
			d[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
	}
	return t
}

// dmAt reads element i of any tensor as an interface value.
func dmAt(t *Tensor, i int) any { return reflect.ValueOf(t.Data).Index(i).Interface() }

func dmSameTensor(t *testing.T, what string, got, want *Tensor) {
	t.Helper()
	if got.DType != want.DType || !equalShape(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	if !reflect.DeepEqual(got.Data, want.Data) {
		n := want.Len()
		for i := 0; i < n; i++ {
			a, b := dmAt(got, i), dmAt(want, i)
			if a != b {
				t.Fatalf("%s: element %d is %v, want %v", what, i, a, b)
			}
		}
	}
}

// dmNaive builds the tensor whose element at output multi-index idx is
// x's element at src(idx) (-1: zero value).
func dmNaive(x *Tensor, shape []int, src func(idx []int) int) *Tensor {
	out := New(x.DType, shape...)
	ov, xv := reflect.ValueOf(out.Data), reflect.ValueOf(x.Data)
	idx := make([]int, len(shape))
	for i := 0; i < out.Len(); i++ {
		if s := src(idx); s >= 0 {
			ov.Index(i).Set(xv.Index(s))
		}
		for a := len(shape) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < shape[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

var dmTypes = []graph.DType{graph.Float32, graph.Float64, graph.Float16, graph.Int8, graph.Int64, graph.Bool, graph.String, graph.Complex128}

func TestDMTransposeMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dims := []int{0, 1, 2, 3, 7, 9, 33}
	cases := [][]int{{1, 64, 40, 40}, {1, 40, 40, 64}, {300, 200}, {2, 3, 130, 70}}
	for i := 0; i < 60; i++ {
		r := 1 + rng.IntN(5)
		s := make([]int, r)
		for a := range s {
			s[a] = dims[rng.IntN(len(dims))]
		}
		cases = append(cases, s)
	}
	for ci, shape := range cases {
		dt := dmTypes[ci%len(dmTypes)]
		if len(shape) == 4 && shape[1] == 64 || len(shape) == 2 {
			dt = graph.Float32 // large: tiled and threaded paths
		}
		x := dmRandom(rng, dt, shape...)
		r := len(shape)
		perms := [][]int{rng.Perm(r)}
		if r == 4 {
			perms = append(perms, []int{0, 2, 3, 1}, []int{0, 3, 1, 2})
		}
		for _, perm := range perms {
			p64 := make([]int64, r)
			oshape := make([]int, r)
			for i, p := range perm {
				p64[i] = int64(p)
				oshape[i] = shape[p]
			}
			st := Strides(shape)
			want := dmNaive(x, oshape, func(idx []int) int {
				off := 0
				for i, p := range perm {
					off += idx[i] * st[p]
				}
				return off
			})
			for _, threads := range []int{1, 3} {
				got := dmMust(t, "Transpose", 13, threads, []*graph.Attribute{graph.IntsAttr("perm", p64...)}, 1, x)[0]
				dmSameTensor(t, fmt.Sprintf("transpose %v by %v (%v, %d threads)", shape, perm, dt, threads), got, want)
			}
		}
	}
}

// dmSliceRef is the Slice rule written out directly: the selected
// indices of one axis.
func dmSliceRef(start, end, step int64, dim int) []int {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	var out []int
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		for i := start; i < end; i += step {
			out = append(out, int(i))
			if end-i <= step {
				break // the next step would overflow
			}
		}
	} else {
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
		for i := start; i > end; i += step {
			out = append(out, int(i))
			if i-end <= -step {
				break
			}
		}
	}
	return out
}

func TestDMSliceMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bounds := []int64{math.MinInt64, -100, -5, -2, -1, 0, 1, 2, 3, 5, 100, math.MaxInt64}
	steps := []int64{1, 1, 2, 3, -1, -2, -3, math.MaxInt64, math.MinInt64 + 1}
	for i := 0; i < 300; i++ {
		r := 1 + rng.IntN(4)
		shape := make([]int, r)
		for a := range shape {
			shape[a] = rng.IntN(6)
		}
		x := dmRandom(rng, dmTypes[i%len(dmTypes)], shape...)
		naxes := 1 + rng.IntN(r)
		axes := rng.Perm(r)[:naxes]
		var starts, ends, ax, st []int64
		sel := make([][]int, r)
		for a := range sel {
			for j := 0; j < shape[a]; j++ {
				sel[a] = append(sel[a], j)
			}
		}
		for _, a := range axes {
			s, e := bounds[rng.IntN(len(bounds))], bounds[rng.IntN(len(bounds))]
			p := steps[rng.IntN(len(steps))]
			starts, ends, st = append(starts, s), append(ends, e), append(st, p)
			axis := int64(a)
			if rng.IntN(2) == 0 {
				axis -= int64(r)
			}
			ax = append(ax, axis)
			sel[a] = dmSliceRef(s, e, p, shape[a])
		}
		oshape := make([]int, r)
		for a := range oshape {
			oshape[a] = len(sel[a])
		}
		strides := Strides(shape)
		want := dmNaive(x, oshape, func(idx []int) int {
			off := 0
			for a, c := range idx {
				off += sel[a][c] * strides[a]
			}
			return off
		})
		got := dmMust(t, "Slice", 13, 2, nil, 1, x, dmInt64s(starts...), dmInt64s(ends...), dmInt64s(ax...), dmInt64s(st...))[0]
		dmSameTensor(t, fmt.Sprintf("slice %v starts %v ends %v axes %v steps %v", shape, starts, ends, ax, st), got, want)
	}
	// Opset 1 takes attributes.
	x := FromFloat32([]int{2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	got := dmMust(t, "Slice", 1, 1, []*graph.Attribute{graph.IntsAttr("starts", 1, 0), graph.IntsAttr("ends", 2, 3)}, 1, x)[0]
	dmSameTensor(t, "slice opset 1", got, FromFloat32([]int{1, 3}, []float32{5, 6, 7}))
}

func TestDMConcatSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dt := range dmTypes {
		x := dmRandom(rng, dt, 2, 7, 3)
		parts := dmMust(t, "Split", 13, 2, []*graph.Attribute{graph.IntAttr("axis", 1)}, 3, x, dmInt64s(2, 0, 5))
		if !equalShape(parts[1].Shape, []int{2, 0, 3}) || !equalShape(parts[2].Shape, []int{2, 5, 3}) {
			t.Fatalf("split shapes %v %v", parts[1].Shape, parts[2].Shape)
		}
		back := dmMust(t, "Concat", 13, 2, []*graph.Attribute{graph.IntAttr("axis", -2)}, 1, parts...)[0]
		dmSameTensor(t, fmt.Sprintf("split+concat %v", dt), back, x)
	}
	// num_outputs (opset 18): the last chunk is smaller.
	x := dmRandom(rng, graph.Float32, 7)
	parts := dmMust(t, "Split", 18, 1, []*graph.Attribute{graph.IntAttr("num_outputs", 3)}, 3, x)
	for i, want := range []int{3, 3, 1} {
		if parts[i].Shape[0] != want {
			t.Fatalf("num_outputs split: part %d has %v", i, parts[i].Shape)
		}
	}
	// Before opset 13 the sizes are an attribute; without them, equal parts.
	parts = dmMust(t, "Split", 11, 1, []*graph.Attribute{graph.IntsAttr("split", 2, 5)}, 2, x)
	if parts[0].Len() != 2 || parts[1].Len() != 5 {
		t.Fatalf("split attribute: %v %v", parts[0].Shape, parts[1].Shape)
	}
	if _, err := dmRun(t, "Split", 13, 1, nil, 2, x); err == nil {
		t.Fatal("uneven equal split accepted")
	}
}

func TestDMViews(t *testing.T) {
	x := dmRandom(rand.New(rand.NewPCG(7, 8)), graph.Float32, 2, 3, 4)
	check := func(what string, got *Tensor, shape ...int) {
		t.Helper()
		if !equalShape(got.Shape, shape) {
			t.Fatalf("%s: shape %v, want %v", what, got.Shape, shape)
		}
		if &got.F32()[0] != &x.F32()[0] {
			t.Fatalf("%s: copied instead of a view", what)
		}
	}
	check("reshape 0,-1", dmMust(t, "Reshape", 14, 1, nil, 1, x, dmInt64s(0, -1))[0], 2, 12)
	check("reshape -1,4", dmMust(t, "Reshape", 14, 1, nil, 1, x, dmInt64s(-1, 4))[0], 6, 4)
	check("flatten 0", dmMust(t, "Flatten", 13, 1, []*graph.Attribute{graph.IntAttr("axis", 0)}, 1, x)[0], 1, 24)
	check("flatten -1", dmMust(t, "Flatten", 13, 1, []*graph.Attribute{graph.IntAttr("axis", -1)}, 1, x)[0], 6, 4)
	u := dmMust(t, "Unsqueeze", 13, 1, nil, 1, x, dmInt64s(0, -1))[0]
	check("unsqueeze", u, 1, 2, 3, 4, 1)
	check("unsqueeze attr", dmMust(t, "Unsqueeze", 11, 1, []*graph.Attribute{graph.IntsAttr("axes", 1)}, 1, x)[0], 2, 1, 3, 4)
	check("squeeze all", dmMust(t, "Squeeze", 13, 1, nil, 1, u)[0], 2, 3, 4)
	check("squeeze axis", dmMust(t, "Squeeze", 13, 1, nil, 1, u, dmInt64s(-1))[0], 1, 2, 3, 4)
	check("identity", dmMust(t, "Identity", 16, 1, nil, 1, x)[0], 2, 3, 4)
	check("dropout", dmMust(t, "Dropout", 13, 1, nil, 2, x)[0], 2, 3, 4)
	check("expand same", dmMust(t, "Expand", 13, 1, nil, 1, x, dmInt64s(3, 1))[0], 2, 3, 4)
	// allowzero keeps a literal zero dimension.
	e := New(graph.Float32, 0, 3)
	if got := dmMust(t, "Reshape", 14, 1, []*graph.Attribute{graph.IntAttr("allowzero", 1)}, 1, e, dmInt64s(3, 0))[0]; !equalShape(got.Shape, []int{3, 0}) {
		t.Fatalf("allowzero reshape: %v", got.Shape)
	}
	if _, err := dmRun(t, "Reshape", 14, 1, nil, 1, x, dmInt64s(5, -1)); err == nil {
		t.Fatal("reshape to an incompatible shape accepted")
	}
}

func TestDMExpandTile(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, dt := range dmTypes {
		x := dmRandom(rng, dt, 3, 1, 2)
		got := dmMust(t, "Expand", 13, 2, nil, 1, x, dmInt64s(2, 1, 4, 1))[0]
		want := dmNaive(x, []int{2, 3, 4, 2}, func(idx []int) int { return idx[1]*2 + idx[3] })
		dmSameTensor(t, "expand", got, want)
		got = dmMust(t, "Tile", 13, 2, nil, 1, x, dmInt64s(2, 3, 2))[0]
		want = dmNaive(x, []int{6, 3, 4}, func(idx []int) int { return idx[0]%3*2 + idx[2]%2 })
		dmSameTensor(t, "tile", got, want)
	}
}

func TestDMPadModes(t *testing.T) {
	x := FromFloat32([]int{3, 2}, []float32{1.0, 1.2, 2.3, 3.4, 4.5, 5.7})
	cases := []struct {
		mode  string
		pads  []int64
		shape []int
		want  []float32
	}{
		{"constant", []int64{0, 2, 0, 0}, []int{3, 4}, []float32{0, 0, 1.0, 1.2, 0, 0, 2.3, 3.4, 0, 0, 4.5, 5.7}},
		{"reflect", []int64{0, 2, 0, 0}, []int{3, 4}, []float32{1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7}},
		{"edge", []int64{0, 2, 0, 0}, []int{3, 4}, []float32{1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7}},
		{"wrap", []int64{2, 1, 1, 1}, []int{6, 4}, []float32{
			3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0,
			3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5, 1.2, 1.0, 1.2, 1.0}},
		// Negative pads crop.
		{"constant", []int64{-1, 0, 0, 1}, []int{2, 3}, []float32{2.3, 3.4, 0, 4.5, 5.7, 0}},
		// Reflection beyond one period, as numpy does.
		{"reflect", []int64{0, 3, 0, 0}, []int{3, 5}, []float32{1.2, 1.0, 1.2, 1.0, 1.2, 3.4, 2.3, 3.4, 2.3, 3.4, 5.7, 4.5, 5.7, 4.5, 5.7}},
	}
	for _, c := range cases {
		got := dmMust(t, "Pad", 19, 2, []*graph.Attribute{graph.StringAttr("mode", c.mode)}, 1, x, dmInt64s(c.pads...))[0]
		dmSameTensor(t, c.mode+fmt.Sprint(c.pads), got, FromFloat32(c.shape, c.want))
	}
	// Opset 2 takes pads and value as attributes; axes (opset 18) pick axes.
	got := dmMust(t, "Pad", 2, 1, []*graph.Attribute{graph.IntsAttr("pads", 0, 1, 0, 0), graph.FloatAttr("value", 9)}, 1, x)[0]
	dmSameTensor(t, "pad attributes", got, FromFloat32([]int{3, 3}, []float32{9, 1.0, 1.2, 9, 2.3, 3.4, 9, 4.5, 5.7}))
	got = dmMust(t, "Pad", 18, 1, nil, 1, x, dmInt64s(1, 0), Scalar(7), dmInt64s(-1))[0]
	dmSameTensor(t, "pad axes", got, FromFloat32([]int{3, 3}, []float32{7, 1.0, 1.2, 7, 2.3, 3.4, 7, 4.5, 5.7}))
	// Strings pad with the empty string.
	s := &Tensor{DType: graph.String, Shape: []int{2}, Data: []string{"a", "b"}}
	got = dmMust(t, "Pad", 13, 1, nil, 1, s, dmInt64s(1, 1))[0]
	dmSameTensor(t, "pad strings", got, &Tensor{DType: graph.String, Shape: []int{4}, Data: []string{"", "a", "b", ""}})
}

func TestDMDepthSpaceRoundTrip(t *testing.T) {
	x := dmRandom(rand.New(rand.NewPCG(11, 12)), graph.Float32, 2, 8, 3, 5)
	for _, mode := range []string{"DCR", "CRD"} {
		y := dmMust(t, "DepthToSpace", 13, 2, []*graph.Attribute{graph.IntAttr("blocksize", 2), graph.StringAttr("mode", mode)}, 1, x)[0]
		if !equalShape(y.Shape, []int{2, 2, 6, 10}) {
			t.Fatalf("DepthToSpace shape %v", y.Shape)
		}
		if mode == "DCR" {
			back := dmMust(t, "SpaceToDepth", 13, 2, []*graph.Attribute{graph.IntAttr("blocksize", 2)}, 1, y)[0]
			dmSameTensor(t, "space/depth round trip", back, x)
		}
	}
}

func TestDMSmallOps(t *testing.T) {
	x := New(graph.Float32, 2, 3, 4)
	sh := dmMust(t, "Shape", 15, 1, []*graph.Attribute{graph.IntAttr("start", -2)}, 1, x)[0]
	dmSameTensor(t, "shape", sh, dmInt64s(3, 4))
	sh = dmMust(t, "Shape", 15, 1, []*graph.Attribute{graph.IntAttr("start", 2), graph.IntAttr("end", 1)}, 1, x)[0]
	dmSameTensor(t, "empty shape", sh, dmInt64s())
	dmSameTensor(t, "size", dmMust(t, "Size", 13, 1, nil, 1, x)[0], FromInt64(nil, []int64{24}))
	r := dmMust(t, "Range", 11, 1, nil, 1, FromInt64(nil, []int64{10}), FromInt64(nil, []int64{1}), FromInt64(nil, []int64{-3}))[0]
	dmSameTensor(t, "range", r, dmInt64s(10, 7, 4))
	r = dmMust(t, "Range", 11, 1, nil, 1, Scalar(1), Scalar(2), Scalar(0.25))[0]
	dmSameTensor(t, "float range", r, FromFloat32([]int{4}, []float32{1, 1.25, 1.5, 1.75}))
	eye := dmMust(t, "EyeLike", 9, 1, []*graph.Attribute{graph.IntAttr("k", 1), graph.IntAttr("dtype", int64(graph.Int32))}, 1, New(graph.Float32, 2, 3))[0]
	dmSameTensor(t, "eyelike", eye, &Tensor{DType: graph.Int32, Shape: []int{2, 3}, Data: []int32{0, 1, 0, 0, 0, 1}})
	tri := dmMust(t, "Trilu", 14, 1, []*graph.Attribute{graph.IntAttr("upper", 0)}, 1, FromInt64([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6}), FromInt64(nil, []int64{-1}))[0]
	dmSameTensor(t, "trilu", tri, FromInt64([]int{2, 3}, []int64{0, 0, 0, 4, 0, 0}))
	cs := dmMust(t, "ConstantOfShape", 9, 1, []*graph.Attribute{graph.TensorAttr("value", dmGraphTensor(t, FromInt64([]int{1}, []int64{7})))}, 1, dmInt64s(2, 2))[0]
	dmSameTensor(t, "constantofshape", cs, FromInt64([]int{2, 2}, []int64{7, 7, 7, 7}))
	nz := dmMust(t, "NonZero", 13, 1, nil, 1, FromFloat32([]int{2, 2}, []float32{0, 1, float32(math.Copysign(0, -1)), 2}))[0]
	dmSameTensor(t, "nonzero", nz, FromInt64([]int{2, 2}, []int64{0, 1, 1, 1}))
	cmp := dmMust(t, "Compress", 11, 1, []*graph.Attribute{graph.IntAttr("axis", 1)}, 1, FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}), &Tensor{DType: graph.Bool, Shape: []int{2}, Data: []bool{false, true}})[0]
	dmSameTensor(t, "compress", cmp, FromFloat32([]int{2, 1}, []float32{2, 5}))
	rs := dmMust(t, "ReverseSequence", 10, 1, []*graph.Attribute{graph.IntAttr("time_axis", 1), graph.IntAttr("batch_axis", 0)}, 1,
		FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}), dmInt64s(3, 2))[0]
	dmSameTensor(t, "reversesequence", rs, FromFloat32([]int{2, 3}, []float32{3, 2, 1, 5, 4, 6}))
	ccp := dmMust(t, "CenterCropPad", 18, 1, nil, 1, FromFloat32([]int{1, 5}, []float32{1, 2, 3, 4, 5}), dmInt64s(2, 2))[0]
	dmSameTensor(t, "centercroppad", ccp, FromFloat32([]int{2, 2}, []float32{2, 3, 0, 0}))
	c := dmMust(t, "Constant", 13, 1, []*graph.Attribute{graph.FloatsAttr("value_floats", 1, 2)}, 1)[0]
	dmSameTensor(t, "constant", c, FromFloat32([]int{2}, []float32{1, 2}))
}

func dmGraphTensor(t *testing.T, x *Tensor) *graph.Tensor {
	t.Helper()
	g, err := ToGraph("value", x)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestDMBadInputs feeds inputs that break each op: every one must give
// an error, never a panic (dmRun fails the test on a panic).
func TestDMBadInputs(t *testing.T) {
	f := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	i64 := dmInt64s
	huge := int64(1) << 62
	cases := []struct {
		op    string
		opset int64
		attrs []*graph.Attribute
		nout  int
		in    []*Tensor
	}{
		{"Reshape", 14, nil, 1, []*Tensor{f(2, 3), i64(-1, -1)}},
		{"Reshape", 14, nil, 1, []*Tensor{f(2, 3), i64(huge, huge)}},
		{"Reshape", 14, nil, 1, []*Tensor{f(2, 3), i64(0, 0, 0)}},
		{"Reshape", 14, nil, 1, []*Tensor{f(2, 3)}},
		{"Reshape", 14, nil, 1, []*Tensor{f(2, 3), f(2)}},
		{"Flatten", 13, []*graph.Attribute{graph.IntAttr("axis", 5)}, 1, []*Tensor{f(2, 3)}},
		{"Squeeze", 13, nil, 1, []*Tensor{f(2, 3), i64(0)}},
		{"Squeeze", 13, nil, 1, []*Tensor{f(2, 3), i64(7)}},
		{"Unsqueeze", 13, nil, 1, []*Tensor{f(2, 3), i64(0, 0)}},
		{"Unsqueeze", 13, nil, 1, []*Tensor{f(2, 3)}},
		{"Transpose", 13, []*graph.Attribute{graph.IntsAttr("perm", 0, 0)}, 1, []*Tensor{f(2, 3)}},
		{"Transpose", 13, []*graph.Attribute{graph.IntsAttr("perm", 0)}, 1, []*Tensor{f(2, 3)}},
		{"Transpose", 13, []*graph.Attribute{graph.IntsAttr("perm", 0, 9)}, 1, []*Tensor{f(2, 3)}},
		{"Concat", 13, []*graph.Attribute{graph.IntAttr("axis", 0)}, 1, []*Tensor{f(2, 3), f(2, 4)}},
		{"Concat", 13, []*graph.Attribute{graph.IntAttr("axis", 3)}, 1, []*Tensor{f(2, 3), f(2, 3)}},
		{"Concat", 13, []*graph.Attribute{graph.IntAttr("axis", 0)}, 1, []*Tensor{f(2, 3), i64(1, 2)}},
		{"Concat", 13, []*graph.Attribute{graph.IntAttr("axis", 0)}, 1, []*Tensor{f(2, 3), f(3)}},
		{"Split", 13, nil, 2, []*Tensor{f(4), i64(1, 2)}},
		{"Split", 13, nil, 2, []*Tensor{f(4), i64(5, -1)}},
		{"Split", 13, nil, 2, []*Tensor{f(4), i64(4)}},
		{"Split", 18, []*graph.Attribute{graph.IntAttr("num_outputs", 3)}, 2, []*Tensor{f(4)}},
		{"Slice", 13, nil, 1, []*Tensor{f(4), i64(0), i64(2), i64(0), i64(0)}},
		{"Slice", 13, nil, 1, []*Tensor{f(4), i64(0), i64(2, 3)}},
		{"Slice", 13, nil, 1, []*Tensor{f(4), i64(0), i64(2), i64(3)}},
		{"Slice", 13, nil, 1, []*Tensor{f(4), i64(0, 0), i64(2, 2)}},
		{"Slice", 13, nil, 1, []*Tensor{f(4), i64(0)}},
		{"Expand", 13, nil, 1, []*Tensor{f(2, 3), i64(4, 3)}},
		{"Expand", 13, nil, 1, []*Tensor{f(2, 3), i64(-2, 3)}},
		{"Expand", 13, nil, 1, []*Tensor{f(1), i64(huge, huge)}},
		{"Tile", 13, nil, 1, []*Tensor{f(2, 3), i64(2)}},
		{"Tile", 13, nil, 1, []*Tensor{f(2, 3), i64(-1, 2)}},
		{"Tile", 13, nil, 1, []*Tensor{f(2, 3), i64(huge, huge)}},
		{"Pad", 13, nil, 1, []*Tensor{f(2, 3), i64(1, 1)}},
		{"Pad", 13, nil, 1, []*Tensor{f(2, 3), i64(-3, 0, 0, 0)}},
		{"Pad", 13, nil, 1, []*Tensor{f(2, 3), i64(huge, 0, 0, 0)}},
		{"Pad", 13, nil, 1, []*Tensor{f(2, 3), i64(0, 0, 0, 0), i64(1)}},
		{"Pad", 13, []*graph.Attribute{graph.StringAttr("mode", "reflect")}, 1, []*Tensor{f(0, 3), i64(1, 0, 0, 0)}},
		{"Pad", 13, []*graph.Attribute{graph.StringAttr("mode", "bogus")}, 1, []*Tensor{f(2), i64(1, 0)}},
		{"DepthToSpace", 13, []*graph.Attribute{graph.IntAttr("blocksize", 2)}, 1, []*Tensor{f(1, 3, 2, 2)}},
		{"DepthToSpace", 13, []*graph.Attribute{graph.IntAttr("blocksize", 2)}, 1, []*Tensor{f(4, 2, 2)}},
		{"SpaceToDepth", 13, []*graph.Attribute{graph.IntAttr("blocksize", 2)}, 1, []*Tensor{f(1, 1, 3, 2)}},
		{"ConstantOfShape", 9, nil, 1, []*Tensor{i64(-1)}},
		{"ConstantOfShape", 9, nil, 1, []*Tensor{i64(huge, huge)}},
		{"ConstantOfShape", 9, nil, 1, []*Tensor{f(2)}},
		{"Range", 11, nil, 1, []*Tensor{Scalar(0), Scalar(1e30), Scalar(1e-30)}},
		{"Range", 11, nil, 1, []*Tensor{Scalar(0), Scalar(1), Scalar(0)}},
		{"Range", 11, nil, 1, []*Tensor{FromInt64(nil, []int64{0}), FromInt64(nil, []int64{math.MaxInt64}), FromInt64(nil, []int64{1})}},
		{"Range", 11, nil, 1, []*Tensor{Scalar(0), FromInt64(nil, []int64{1}), Scalar(1)}},
		{"EyeLike", 9, nil, 1, []*Tensor{f(2)}},
		{"Trilu", 14, nil, 1, []*Tensor{f(3)}},
		{"Trilu", 14, nil, 1, []*Tensor{f(3, 3), i64(1, 2)}},
		{"Compress", 11, nil, 1, []*Tensor{f(2), &Tensor{DType: graph.Bool, Shape: []int{3}, Data: []bool{false, false, true}}}},
		{"Compress", 11, nil, 1, []*Tensor{f(2), f(2)}},
		{"ReverseSequence", 10, nil, 1, []*Tensor{f(3, 2), i64(4, 1)}},
		{"ReverseSequence", 10, nil, 1, []*Tensor{f(3, 2), i64(1)}},
		{"CenterCropPad", 18, nil, 1, []*Tensor{f(3, 2), i64(1)}},
		{"Shape", 15, nil, 1, nil},
		{"Dropout", 13, nil, 1, []*Tensor{f(2), Scalar(1.5), &Tensor{DType: graph.Bool, Shape: []int{}, Data: []bool{true}}}},
	}
	for i, c := range cases {
		if _, err := dmRun(t, c.op, c.opset, 2, c.attrs, c.nout, c.in...); err == nil {
			t.Errorf("case %d (%s): bad input accepted", i, c.op)
		}
	}
}

// TestDMSessionPooled runs a chain of layout ops through a session twice
// with recycled buffers poisoned: every output element must be written.
func TestDMSessionPooled(t *testing.T) {
	poisonFreed = true
	defer func() { poisonFreed = false }()
	b := graph.NewBuilder(19)
	x := b.Input("x", graph.Float32, 1, 4, 6, 6)
	perm := b.Op("Transpose", x, graph.IntsAttr("perm", 0, 2, 3, 1))
	back := b.Op("Transpose", perm, graph.IntsAttr("perm", 0, 3, 1, 2))
	cat := b.Op("Concat", back, x, graph.IntAttr("axis", 1))
	pads := b.Const(graph.FromInt64s("pads", []int64{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1}))
	pad := b.Op("Pad", cat, pads, graph.StringAttr("mode", "edge"))
	scales := b.Const(graph.FromFloat32s("scales", []int64{4}, []float32{1, 1, 2, 2}))
	up := b.Op("Resize", pad, nil, scales, graph.StringAttr("mode", "linear"))
	near := b.Op("Resize", up, nil, scales)
	b.Output(near)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, Options{Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	in := dmRandom(rand.New(rand.NewPCG(13, 14)), graph.Float32, 1, 4, 6, 6)
	var first *Tensor
	for run := 0; run < 3; run++ {
		outs, err := s.Run(map[string]*Tensor{"x": in})
		if err != nil {
			t.Fatal(err)
		}
		y := outs[near.Name]
		if !equalShape(y.Shape, []int{1, 8, 32, 32}) {
			t.Fatalf("output shape %v", y.Shape)
		}
		for i, v := range y.F32() {
			if v != v {
				t.Fatalf("run %d: element %d is NaN (a recycled buffer was read)", run, i)
			}
		}
		if first == nil {
			first = y.Clone()
		} else {
			dmSameTensor(t, "repeat run", y, first)
		}
	}
}

// benchTranspose times the permutation alone: in a session the output
// buffer comes from the pool.
func benchTranspose(b *testing.B, threads int, perm []int, shape ...int) {
	x := dmRandom(rand.New(rand.NewPCG(1, 1)), graph.Float32, shape...)
	dst := make([]float32, x.Len())
	ctx := &Context{Threads: threads}
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		if err := transposeInto(ctx, dst, x, perm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDMTransposeNCHWToNHWC(b *testing.B) {
	benchTranspose(b, 1, []int{0, 2, 3, 1}, 1, 64, 80, 80)
}
func BenchmarkDMTransposeNHWCToNCHW(b *testing.B) {
	benchTranspose(b, 1, []int{0, 3, 1, 2}, 1, 80, 80, 64)
}
func BenchmarkDMTranspose2D(b *testing.B)        { benchTranspose(b, 1, []int{1, 0}, 1000, 1000) }
func BenchmarkDMTranspose2DThreads(b *testing.B) { benchTranspose(b, 2, []int{1, 0}, 1000, 1000) }

// BenchmarkDMShuffle is the channel shuffle of ShuffleNet-like detectors:
// [1, 2, 58, 40, 40] with axes 1 and 2 swapped.
func BenchmarkDMShuffle(b *testing.B) { benchTranspose(b, 1, []int{0, 2, 1, 3, 4}, 1, 2, 58, 40, 40) }

// BenchmarkDMMemcpy is the bound the copies are measured against.
func BenchmarkDMMemcpy(b *testing.B) {
	x := dmRandom(rand.New(rand.NewPCG(1, 1)), graph.Float32, 1, 64, 80, 80)
	dst := make([]float32, x.Len())
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		copy(dst, x.F32())
	}
}

// TestDMRandomInputsNoPanic throws random small shapes and random
// integer parameters at every data-movement op: results may be errors,
// never panics.
func TestDMRandomInputsNoPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	ops := []struct {
		op     string
		opset  int64
		nin    int
		nout   int
		attrs  func() []*graph.Attribute
		intsAt []bool // which inputs after the first are integer parameters
	}{
		{"Reshape", 14, 2, 1, nil, []bool{true}},
		{"Squeeze", 13, 2, 1, nil, []bool{true}},
		{"Unsqueeze", 13, 2, 1, nil, []bool{true}},
		{"Slice", 13, 5, 1, nil, []bool{true, true, true, true}},
		{"Expand", 13, 2, 1, nil, []bool{true}},
		{"Tile", 13, 2, 1, nil, []bool{true}},
		{"Pad", 19, 2, 1, func() []*graph.Attribute {
			return []*graph.Attribute{graph.StringAttr("mode", []string{"constant", "reflect", "edge", "wrap"}[rng.IntN(4)])}
		}, []bool{true}},
		{"Split", 13, 2, 2, nil, []bool{true}},
		{"Gather", 13, 2, 1, nil, []bool{true}},
		{"GatherElements", 13, 2, 1, nil, []bool{true}},
		{"GatherND", 13, 2, 1, nil, []bool{true}},
		{"ScatterND", 13, 3, 1, nil, []bool{true, false}},
		{"ScatterElements", 13, 3, 1, nil, []bool{true, false}},
		{"TopK", 11, 2, 2, nil, []bool{true}},
		{"Trilu", 14, 2, 1, nil, []bool{true}},
		{"CenterCropPad", 18, 2, 1, nil, []bool{true}},
		{"ReverseSequence", 10, 2, 1, nil, []bool{true}},
		{"ConstantOfShape", 9, 1, 1, nil, nil},
		{"Resize", 19, 4, 1, nil, []bool{false, false, true}},
		{"Transpose", 13, 1, 1, func() []*graph.Attribute {
			return []*graph.Attribute{graph.IntsAttr("perm", int64(rng.IntN(4)), int64(rng.IntN(4)), int64(rng.IntN(4)))}
		}, nil},
		{"Concat", 13, 2, 1, func() []*graph.Attribute { return []*graph.Attribute{graph.IntAttr("axis", int64(rng.IntN(7)-3))} }, []bool{false}},
	}
	randShape := func() []int {
		s := make([]int, rng.IntN(4))
		for i := range s {
			s[i] = rng.IntN(4)
		}
		return s
	}
	for iter := 0; iter < 3000; iter++ {
		c := ops[iter%len(ops)]
		in := []*Tensor{dmRandom(rng, graph.Float32, randShape()...)}
		if c.op == "ConstantOfShape" {
			in[0] = dmRandomInts(rng, randShape())
		}
		for i := 1; i < c.nin; i++ {
			switch {
			case c.op == "Resize" && i == 1:
				in = append(in, nil)
			case c.op == "Resize" && i == 2:
				in = append(in, nil)
			case i-1 < len(c.intsAt) && c.intsAt[i-1]:
				in = append(in, dmRandomInts(rng, randShape()))
			default:
				in = append(in, dmRandom(rng, graph.Float32, randShape()...))
			}
		}
		var attrs []*graph.Attribute
		if c.attrs != nil {
			attrs = c.attrs()
		}
		dmRun(t, c.op, c.opset, 2, attrs, c.nout, in...) // a panic fails the test
	}
}

// dmRandomInts is an int64 tensor of small values, negative included.
func dmRandomInts(rng *rand.Rand, shape []int) *Tensor {
	t := New(graph.Int64, shape...)
	for i := range t.I64() {
		t.I64()[i] = int64(rng.IntN(11) - 5)
	}
	return t
}

func TestDoubleBytes(t *testing.T) {
	for n := range 20 {
		src := make([]uint8, n)
		for i := range src {
			src[i] = uint8(i*37 + 200)
		}
		dst := make([]uint8, 2*n+3)
		if !doubleBytes(dst[:2*n], src) {
			t.Fatal("bytes not taken")
		}
		for i, v := range src {
			if dst[2*i] != v || dst[2*i+1] != v {
				t.Fatalf("n=%d: %v from %v", n, dst, src)
			}
		}
		if dst[2*n] != 0 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
	if doubleBytes([]float32{0, 0}, []float32{1}) {
		t.Error("float32 data taken as bytes")
	}
}

func TestDMShortRows(t *testing.T) {
	for n := 1; n <= 4; n++ {
		rows, ss, ds := 7, n+3, n+1
		src := make([]int32, rows*ss+5)
		for i := range src {
			src[i] = int32(i*31 + 7)
		}
		dst := make([]int32, rows*ds+4)
		dmShortRows(dst, src, 2, 1, ds, ss, rows, n)
		for i := range rows {
			for j := range ds {
				got, want := dst[2+i*ds+j], int32(0)
				if j < n {
					want = src[1+i*ss+j]
				}
				if got != want {
					t.Fatalf("n=%d: dst row %d[%d] = %d, want %d", n, i, j, got, want)
				}
			}
		}
	}
}

// TestUpsamplePlanes checks nearest upsampling by integer factors of the
// last two axes (the plane path of dmRemap) against the definition, for
// bytes and float32, with an outer axis kept.
func TestUpsamplePlanes(t *testing.T) {
	for _, f := range [][2]int{{1, 2}, {2, 2}, {2, 3}, {4, 4}, {3, 1}} {
		for _, dt := range []graph.DType{graph.Uint8, graph.Float32} {
			in := []int{2, 3, 5, 7}
			x := New(dt, in...)
			for i := range x.Len() {
				switch d := x.Data.(type) {
				case []uint8:
					d[i] = uint8(i*13 + 1)
				case []float32:
					d[i] = float32(i) + 0.5
				}
			}
			shape := []int{2, 3, 5 * f[0], 7 * f[1]}
			tabs := make([][]int, 4)
			for a := range tabs {
				fa := shape[a] / in[a]
				for o := range shape[a] {
					tabs[a] = append(tabs[a], o/fa)
				}
			}
			y, err := dmRemap(&Context{Threads: 2}, x, shape, tabs, nil)
			if err != nil {
				t.Fatal(err)
			}
			for n := range 2 {
				for c := range 3 {
					for oy := range shape[2] {
						for ox := range shape[3] {
							oi := ((n*3+c)*shape[2]+oy)*shape[3] + ox
							ii := ((n*3+c)*5+oy/f[0])*7 + ox/f[1]
							var got, want float64
							switch d := y.Data.(type) {
							case []uint8:
								got, want = float64(d[oi]), float64(x.Data.([]uint8)[ii])
							case []float32:
								got, want = float64(d[oi]), float64(x.Data.([]float32)[ii])
							}
							if got != want {
								t.Fatalf("factors %v %v: output (%d,%d,%d,%d) = %v, want %v", f, dt, n, c, oy, ox, got, want)
							}
						}
					}
				}
			}
		}
	}
}
