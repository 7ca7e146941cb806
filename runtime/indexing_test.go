// indexing_test.go checks the gather, scatter, sorting and Einsum
// kernels against direct definitions, and their errors on bad inputs.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestGatherFamilies(t *testing.T) {
	x := FromFloat32([]int{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	got := dmMust(t, "Gather", 13, 1, nil, 1, x, FromInt64([]int{2, 2}, []int64{0, -1, 2, 1}))[0]
	dmSameTensor(t, "gather axis 0", got, FromFloat32([]int{2, 2, 2}, []float32{1, 2, 5, 6, 5, 6, 3, 4}))
	got = dmMust(t, "Gather", 13, 1, []*graph.Attribute{graph.IntAttr("axis", 1)}, 1, x, &Tensor{DType: graph.Int32, Shape: []int{}, Data: []int32{-1}})[0]
	dmSameTensor(t, "gather scalar index", got, FromFloat32([]int{3}, []float32{2, 4, 6}))
	got = dmMust(t, "GatherElements", 13, 1, []*graph.Attribute{graph.IntAttr("axis", 1)}, 1, x, FromInt64([]int{2, 2}, []int64{1, 0, -1, 1}))[0]
	dmSameTensor(t, "gatherelements", got, FromFloat32([]int{2, 2}, []float32{2, 1, 4, 4}))
	// GatherND with batch_dims 1: data [2,2,2], indices [2,1].
	d := FromInt64([]int{2, 2, 2}, []int64{0, 1, 2, 3, 4, 5, 6, 7})
	got = dmMust(t, "GatherND", 13, 1, []*graph.Attribute{graph.IntAttr("batch_dims", 1)}, 1, d, FromInt64([]int{2, 1}, []int64{1, 0}))[0]
	dmSameTensor(t, "gathernd batch", got, FromInt64([]int{2, 2}, []int64{2, 3, 4, 5}))
	got = dmMust(t, "GatherND", 13, 1, nil, 1, d, FromInt64([]int{2, 3}, []int64{0, 1, 1, 1, 0, -2}))[0]
	dmSameTensor(t, "gathernd elements", got, FromInt64([]int{2}, []int64{3, 4}))
}

func TestScatterFamilies(t *testing.T) {
	data := FromFloat32([]int{4}, []float32{1, 2, 3, 4})
	idx := FromInt64([]int{3, 1}, []int64{1, -1, 1})
	upd := FromFloat32([]int{3}, []float32{10, 20, 30})
	for _, c := range []struct {
		red  string
		want []float32
	}{
		{"none", []float32{1, 30, 3, 20}},
		{"add", []float32{1, 42, 3, 24}},
		{"mul", []float32{1, 600, 3, 80}},
		{"max", []float32{1, 30, 3, 20}},
		{"min", []float32{1, 2, 3, 4}},
	} {
		got := dmMust(t, "ScatterND", 18, 2, []*graph.Attribute{graph.StringAttr("reduction", c.red)}, 1, data, idx, upd)[0]
		dmSameTensor(t, "scatternd "+c.red, got, FromFloat32([]int{4}, c.want))
		got = dmMust(t, "ScatterElements", 18, 2, []*graph.Attribute{graph.StringAttr("reduction", c.red)}, 1, data, FromInt64([]int{3}, []int64{1, -1, 1}), upd)[0]
		dmSameTensor(t, "scatterelements "+c.red, got, FromFloat32([]int{4}, c.want))
	}
	if _, err := dmRun(t, "ScatterND", 13, 1, []*graph.Attribute{graph.StringAttr("reduction", "add")}, 1, data, idx, upd); err == nil {
		t.Fatal("reduction accepted before opset 16")
	}
	// TensorScatter: a [2,3,1] cache, one update per batch entry.
	cache := FromFloat32([]int{2, 3, 1}, []float32{1, 2, 3, 4, 5, 6})
	up := FromFloat32([]int{2, 2, 1}, []float32{10, 11, 20, 21})
	got := dmMust(t, "TensorScatter", 24, 1, []*graph.Attribute{graph.StringAttr("mode", "circular")}, 1, cache, up, dmInt64s(0, 2))[0]
	dmSameTensor(t, "tensorscatter circular", got, FromFloat32([]int{2, 3, 1}, []float32{10, 11, 3, 21, 5, 20}))
	if _, err := dmRun(t, "TensorScatter", 24, 1, nil, 1, cache, up, dmInt64s(0, 2)); err == nil {
		t.Fatal("linear TensorScatter past the cache end accepted")
	}
	// Integer data and 2-D ScatterElements along axis 1.
	x := FromInt64([]int{2, 3}, []int64{0, 0, 0, 0, 0, 0})
	got = dmMust(t, "ScatterElements", 16, 1, []*graph.Attribute{graph.IntAttr("axis", 1), graph.StringAttr("reduction", "add")}, 1,
		x, FromInt64([]int{2, 2}, []int64{2, 2, 0, 1}), FromInt64([]int{2, 2}, []int64{5, 6, 7, 8}))[0]
	dmSameTensor(t, "scatterelements 2-D", got, FromInt64([]int{2, 3}, []int64{0, 0, 11, 7, 8, 0}))
}

func TestOneHotTopKUnique(t *testing.T) {
	got := dmMust(t, "OneHot", 11, 1, []*graph.Attribute{graph.IntAttr("axis", 0)}, 1,
		FromInt64([]int{3}, []int64{0, -1, 5}), Scalar(3), FromFloat32([]int{2}, []float32{-1, 1}))[0]
	dmSameTensor(t, "onehot", got, FromFloat32([]int{3, 3}, []float32{1, -1, -1, -1, -1, -1, -1, 1, -1}))

	x := FromFloat32([]int{2, 4}, []float32{3, 1, 3, 2, float32(math.NaN()), 0, 5, 5})
	outs := dmMust(t, "TopK", 11, 1, nil, 2, x, dmInt64s(2))
	dmSameTensor(t, "topk indices", outs[1], FromInt64([]int{2, 2}, []int64{0, 2, 0, 2}))
	outs = dmMust(t, "TopK", 11, 1, []*graph.Attribute{graph.IntAttr("largest", 0), graph.IntAttr("axis", 0)}, 2, x, dmInt64s(1))
	dmSameTensor(t, "topk smallest axis 0", outs[0], FromFloat32([]int{1, 4}, []float32{3, 0, 3, 2}))
	outs = dmMust(t, "TopK", 1, 1, []*graph.Attribute{graph.IntAttr("k", 1)}, 2, FromInt64([]int{3}, []int64{math.MaxInt64, math.MaxInt64 - 1, 7}))
	dmSameTensor(t, "topk int64 exact", outs[1], dmInt64s(0))

	outs = dmMust(t, "Unique", 11, 1, []*graph.Attribute{graph.IntAttr("sorted", 0)}, 4, FromFloat32([]int{6}, []float32{2, 1, 1, 3, 4, 3}))
	dmSameTensor(t, "unique y", outs[0], FromFloat32([]int{4}, []float32{2, 1, 3, 4}))
	dmSameTensor(t, "unique indices", outs[1], dmInt64s(0, 1, 3, 4))
	dmSameTensor(t, "unique inverse", outs[2], dmInt64s(0, 1, 1, 2, 3, 2))
	dmSameTensor(t, "unique counts", outs[3], dmInt64s(1, 2, 2, 1))
	outs = dmMust(t, "Unique", 11, 1, []*graph.Attribute{graph.IntAttr("axis", 0)}, 4, FromInt64([]int{3, 3}, []int64{1, 0, 0, 1, 0, 0, 2, 3, 4}))
	dmSameTensor(t, "unique axis y", outs[0], FromInt64([]int{2, 3}, []int64{1, 0, 0, 2, 3, 4}))
	dmSameTensor(t, "unique axis counts", outs[3], dmInt64s(2, 1))
}

// einsumBrute evaluates a letters-only equation with an explicit output
// by visiting every assignment of every label.
func einsumBrute(eq string, ins []*Tensor) *Tensor {
	lhs, out, _ := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	size := map[byte]int{}
	var letters []byte
	for i, term := range terms {
		for j := 0; j < len(term); j++ {
			if _, ok := size[term[j]]; !ok {
				letters = append(letters, term[j])
			}
			size[term[j]] = ins[i].Shape[j]
		}
	}
	oshape := make([]int, len(out))
	for i := range out {
		oshape[i] = size[out[i]]
	}
	res := New(graph.Float64, oshape...)
	r := res.Data.([]float64)
	vals := make([][]float64, len(ins))
	for i, t := range ins {
		vals[i], _ = t.AsFloat64()
	}
	assign := map[byte]int{}
	var walk func(k int)
	walk = func(k int) {
		if k == len(letters) {
			p := 1.0
			for i, term := range terms {
				off, st := 0, Strides(ins[i].Shape)
				for j := 0; j < len(term); j++ {
					off += assign[term[j]] * st[j]
				}
				p *= vals[i][off]
			}
			off, st := 0, Strides(oshape)
			for j := 0; j < len(out); j++ {
				off += assign[out[j]] * st[j]
			}
			r[off] += p
			return
		}
		for v := 0; v < size[letters[k]]; v++ {
			assign[letters[k]] = v
			walk(k + 1)
		}
	}
	walk(0)
	return res
}

func TestEinsumMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	cases := []struct {
		eq, brute string
		shapes    [][]int
	}{
		{"ij,jk->ik", "", [][]int{{3, 4}, {4, 5}}},
		{"bij,bjk->bik", "", [][]int{{2, 3, 4}, {2, 4, 5}}},
		{"bhid,bhjd->bhij", "", [][]int{{1, 2, 3, 4}, {1, 2, 5, 4}}},
		{"ii->i", "", [][]int{{4, 4}}},
		{"ii", "ii->", [][]int{{4, 4}}},
		{"ij->ji", "", [][]int{{3, 5}}},
		{"ba", "ba->ab", [][]int{{3, 5}}},
		{"ij->", "", [][]int{{3, 5}}},
		{"i,i", "i,i->", [][]int{{7}, {7}}},
		{"i,j->ij", "", [][]int{{3}, {4}}},
		{"abc,cd,de->abe", "", [][]int{{2, 3, 4}, {4, 2}, {2, 3}}},
		{"ij,ij->ij", "", [][]int{{3, 4}, {3, 4}}},
		{"bn,anm,bm->ba", "", [][]int{{2, 3}, {4, 3, 5}, {2, 5}}},
		{"iij->j", "", [][]int{{3, 3, 2}}},
		{"ij,jk", "ij,jk->ik", [][]int{{3, 4}, {4, 2}}},
		{"...ij,...jk->...ik", "xyij,yjk->xyik", [][]int{{2, 3, 4, 5}, {3, 5, 2}}},
		{"...ii->...i", "xii->xi", [][]int{{2, 3, 3}}},
		{"i...->...", "ixy->xy", [][]int{{3, 2, 4}}},
		{"ij , jk -> ik", "ij,jk->ik", [][]int{{2, 2}, {2, 2}}},
		{"ijk,ikl->ijl", "", [][]int{{2, 0, 3}, {2, 3, 4}}},
	}
	for _, c := range cases {
		ins := make([]*Tensor, len(c.shapes))
		for i, s := range c.shapes {
			ins[i] = dmRandom(rng, graph.Float64, s...)
		}
		brute := c.brute
		if brute == "" {
			brute = c.eq
		}
		want := einsumBrute(brute, ins)
		got := dmMust(t, "Einsum", 12, 2, []*graph.Attribute{graph.StringAttr("equation", c.eq)}, 1, ins...)[0]
		if !equalShape(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, want %v", c.eq, got.Shape, want.Shape)
		}
		g, w := got.Data.([]float64), want.Data.([]float64)
		for i := range w {
			if math.Abs(g[i]-w[i]) > 1e-9*(1+math.Abs(w[i])) {
				t.Fatalf("%s: element %d is %v, want %v", c.eq, i, g[i], w[i])
			}
		}
	}
	// Integer einsum is exact.
	a := FromInt64([]int{2, 2}, []int64{1, 2, 3, 4})
	got := dmMust(t, "Einsum", 12, 1, []*graph.Attribute{graph.StringAttr("equation", "ij,jk->ik")}, 1, a, a)[0]
	dmSameTensor(t, "int64 einsum", got, FromInt64([]int{2, 2}, []int64{7, 10, 15, 22}))
}

func TestIndexingBadInputs(t *testing.T) {
	f := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	i64 := func(shape []int, v ...int64) *Tensor { return FromInt64(shape, v) }
	eq := func(s string) []*graph.Attribute { return []*graph.Attribute{graph.StringAttr("equation", s)} }
	cases := []struct {
		op    string
		opset int64
		attrs []*graph.Attribute
		nout  int
		in    []*Tensor
	}{
		{"Gather", 13, nil, 1, []*Tensor{f(3), i64([]int{1}, 3)}},
		{"Gather", 13, nil, 1, []*Tensor{f(3), i64([]int{1}, -4)}},
		{"Gather", 13, []*graph.Attribute{graph.IntAttr("axis", 1)}, 1, []*Tensor{f(3), i64([]int{1}, 0)}},
		{"Gather", 13, nil, 1, []*Tensor{f(3), f(1)}},
		{"Gather", 13, nil, 1, []*Tensor{f(3)}},
		{"GatherElements", 13, nil, 1, []*Tensor{f(3, 2), i64([]int{2}, 0, 0)}},
		{"GatherElements", 13, nil, 1, []*Tensor{f(3, 2), i64([]int{1, 3}, 0, 0, 0)}},
		{"GatherElements", 13, nil, 1, []*Tensor{f(3, 2), i64([]int{1, 1}, 5)}},
		{"GatherND", 13, nil, 1, []*Tensor{f(3, 2), i64([]int{1, 3}, 0, 0, 0)}},
		{"GatherND", 13, nil, 1, []*Tensor{f(3, 2), i64([]int{1, 2}, 3, 0)}},
		{"GatherND", 13, []*graph.Attribute{graph.IntAttr("batch_dims", 2)}, 1, []*Tensor{f(3, 2), i64([]int{3, 1}, 0, 0, 0)}},
		{"GatherND", 13, []*graph.Attribute{graph.IntAttr("batch_dims", 1)}, 1, []*Tensor{f(3, 2), i64([]int{2, 1}, 0, 0)}},
		{"ScatterND", 13, nil, 1, []*Tensor{f(4), i64([]int{1, 1}, 4), f(1)}},
		{"ScatterND", 13, nil, 1, []*Tensor{f(4), i64([]int{1, 1}, 0), f(2)}},
		{"ScatterND", 13, nil, 1, []*Tensor{f(4), i64([]int{1, 1}, 0), i64([]int{1}, 1)}},
		{"ScatterElements", 13, nil, 1, []*Tensor{f(4), i64([]int{1}, 9), f(1)}},
		{"ScatterElements", 13, nil, 1, []*Tensor{f(4), i64([]int{2}, 0, 1), f(1)}},
		{"ScatterElements", 18, []*graph.Attribute{graph.StringAttr("reduction", "bogus")}, 1, []*Tensor{f(4), i64([]int{1}, 0), f(1)}},
		{"OneHot", 11, nil, 1, []*Tensor{i64([]int{1}, 0), Scalar(0), f(2)}},
		{"OneHot", 11, nil, 1, []*Tensor{i64([]int{1}, 0), Scalar(3), f(3)}},
		{"OneHot", 11, nil, 1, []*Tensor{i64([]int{1}, 0), Scalar(1e20), f(2)}},
		{"OneHot", 11, []*graph.Attribute{graph.IntAttr("axis", 3)}, 1, []*Tensor{i64([]int{1}, 0), Scalar(3), f(2)}},
		{"TopK", 11, nil, 2, []*Tensor{f(3), i64([]int{1}, 4)}},
		{"TopK", 11, nil, 2, []*Tensor{f(3), i64([]int{1}, -1)}},
		{"TopK", 11, nil, 2, []*Tensor{f(3), i64([]int{2}, 1, 1)}},
		{"TopK", 11, []*graph.Attribute{graph.IntAttr("axis", 2)}, 2, []*Tensor{f(3), i64([]int{1}, 1)}},
		{"Unique", 11, []*graph.Attribute{graph.IntAttr("axis", 2)}, 4, []*Tensor{f(3)}},
		{"Einsum", 12, eq("ij,jk->ik"), 1, []*Tensor{f(2, 3), f(4, 5)}},
		{"Einsum", 12, eq("ij,jk->ik"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("ij->ik"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("ij->ii"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("i1->i"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("ijk->i"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("......->"), 1, []*Tensor{f(2, 3)}},
		{"Einsum", 12, eq("ij,jk->ik"), 1, []*Tensor{f(2, 3), i64([]int{3, 1}, 1, 2, 3)}},
	}
	for i, c := range cases {
		if _, err := dmRun(t, c.op, c.opset, 2, c.attrs, c.nout, c.in...); err == nil {
			t.Errorf("case %d (%s): bad input accepted", i, c.op)
		}
	}
}

func BenchmarkGatherRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := dmRandom(rng, graph.Float32, 1000, 256)
	idx := make([]int64, 4096)
	for i := range idx {
		idx[i] = int64(rng.IntN(1000))
	}
	ind := FromInt64([]int{len(idx)}, idx)
	n := &graph.Node{OpType: "Gather", Outputs: []*graph.Value{{Name: "y"}}}
	k, _ := buildGather(n, 13)
	ctx := &Context{Node: n, Opset: 13, Threads: 1}
	b.SetBytes(int64(len(idx) * 256 * 4))
	for b.Loop() {
		if _, err := k.Run(ctx, []*Tensor{x, ind}); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
	}
}
