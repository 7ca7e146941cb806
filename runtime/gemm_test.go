// This file tests MatMul and Gemm against naive loops: numpy broadcasting
// of batch dimensions and 1-D operands, every Gemm attribute with each
// form of C, the element types, thread bit-identity and bad inputs.

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// naiveMatMul multiplies with numpy matmul semantics in float64.
func naiveMatMul(as, bs []int, a, b []float64) ([]int, []float64) {
	p, err := planMatMul(as, bs)
	if err != nil {
		panic(err)
	}
	// Recompute offsets without the tall-product shortcut.
	aa, bb := as, bs
	if len(aa) == 1 {
		aa = []int{1, aa[0]}
	}
	if len(bb) == 1 {
		bb = []int{bb[0], 1}
	}
	m, k, n := aa[len(aa)-2], aa[len(aa)-1], bb[len(bb)-1]
	batch, _ := BroadcastShape(aa[:len(aa)-2], bb[:len(bb)-2])
	ai := BroadcastIndex(aa[:len(aa)-2], batch)
	bi := BroadcastIndex(bb[:len(bb)-2], batch)
	out := make([]float64, len(ai)*m*n)
	for t := range ai {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for q := 0; q < k; q++ {
					s += a[ai[t]*m*k+i*k+q] * b[bi[t]*k*n+q*n+j]
				}
				out[t*m*n+i*n+j] = s
			}
		}
	}
	return p.out, out
}

func TestMatMulShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	cases := [][2][]int{
		{{3}, {3}}, {{4}, {2, 4, 1}}, {{3, 4}, {4, 3}}, {{2, 3, 4}, {2, 4, 3}}, {{1, 2, 3, 4}, {1, 2, 4, 3}},
		{{1, 2, 4, 3}, {3}}, {{3, 1, 3, 4}, {1, 2, 4, 2}}, {{5, 7, 9}, {9, 11}}, {{9}, {9, 11}}, {{2, 1, 7, 9}, {3, 9, 11}},
		{{70, 33}, {33, 129}}, {{2, 40, 70}, {70, 50}}, {{0, 3}, {3, 4}}, {{3, 0}, {0, 4}}, {{2, 3, 4}, {4, 0}},
	}
	for _, c := range cases {
		a, b := randTensorF32(r, c[0]...), randTensorF32(r, c[1]...)
		av, _ := a.AsFloat64()
		bv, _ := b.AsFloat64()
		shape, want := naiveMatMul(c[0], c[1], av, bv)
		for _, threads := range []int{1, 3} {
			out, err := runMatMul(&Context{Threads: threads}, []*Tensor{a, b})
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			if !equalShape(out[0].Shape, shape) {
				t.Fatalf("%v: shape %v, want %v", c, out[0].Shape, shape)
			}
			for i, w := range want {
				if g := float64(out[0].F32()[i]); math.Abs(g-w) > 1e-5*float64(c[0][len(c[0])-1]+1)*(1+math.Abs(w)) {
					t.Fatalf("%v: element %d is %v, want %v", c, i, g, w)
				}
			}
		}
		// Other element types follow the same loop.
		for _, dt := range []graph.DType{graph.Float64, graph.Int32, graph.Int64, graph.Uint32, graph.Uint64, graph.Float16} {
			ai, bi := intTensor(r, dt, c[0]), intTensor(r, dt, c[1])
			aiv, _ := ai.AsFloat64()
			biv, _ := bi.AsFloat64()
			_, want := naiveMatMul(c[0], c[1], aiv, biv)
			out, err := runMatMul(&Context{Threads: 2}, []*Tensor{ai, bi})
			if err != nil {
				t.Fatalf("%v %v: %v", c, dt, err)
			}
			got, _ := out[0].AsFloat64()
			if out[0].DType != dt {
				t.Fatalf("%v: result type %v", dt, out[0].DType)
			}
			for i, w := range want {
				if got[i] != w {
					t.Fatalf("%v %v: element %d is %v, want %v", c, dt, i, got[i], w)
				}
			}
		}
	}
}

// intTensor holds small integers (exact in every type and sum).
func intTensor(r *rand.Rand, dt graph.DType, shape []int) *Tensor {
	t := New(dt, shape...)
	switch d := t.Data.(type) {
	case []float64:
		for i := range d {
			d[i] = float64(r.IntN(7))
		}
	case []int32:
		for i := range d {
			d[i] = int32(r.IntN(7) - 3)
		}
	case []int64:
		for i := range d {
			d[i] = int64(r.IntN(7) - 3)
		}
	case []uint32:
		for i := range d {
			d[i] = uint32(r.IntN(7))
		}
	case []uint64:
		for i := range d {
			d[i] = uint64(r.IntN(7))
		}
	default:
		v := make([]float32, t.Len())
		for i := range v {
			v[i] = float32(r.IntN(5))
		}
		storeFloats32(t, v)
	}
	return t
}

func TestGemmAttributes(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	const m, k, n = 13, 37, 21
	cShapes := [][]int{nil, {}, {1}, {n}, {1, n}, {m, 1}, {m, n}}
	for iter := 0; iter < 112; iter++ {
		transA, transB := iter&1 != 0, iter&2 != 0
		alpha := []float32{1, 0.25, -2, 0}[iter>>2&3]
		beta := []float32{1, 0.35}[iter>>4&1]
		cs := cShapes[iter%len(cShapes)]
		as, bs := []int{m, k}, []int{k, n}
		if transA {
			as = []int{k, m}
		}
		if transB {
			bs = []int{n, k}
		}
		node := &graph.Node{OpType: "Gemm", Attrs: []*graph.Attribute{graph.FloatAttr("alpha", alpha), graph.FloatAttr("beta", beta),
			graph.IntAttr("transA", map[bool]int64{false: 0, true: 1}[transA]), graph.IntAttr("transB", map[bool]int64{false: 0, true: 1}[transB])}}
		kern, err := buildGemm(node, 13)
		if err != nil {
			t.Fatal(err)
		}
		a, b := randTensorF32(r, as...), randTensorF32(r, bs...)
		in := []*Tensor{a, b}
		var c *Tensor
		if cs != nil {
			c = randTensorF32(r, cs...)
			in = append(in, c)
		}
		name := fmt.Sprintf("tA=%v tB=%v alpha=%v beta=%v C%v", transA, transB, alpha, beta, cs)
		out, err := kern.Run(&Context{Threads: 1}, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out4, _ := kern.Run(&Context{Threads: 4}, in)
		if i := sameF32Bits(out[0].F32(), out4[0].F32()); i >= 0 {
			t.Fatalf("%s: threads differ at %d", name, i)
		}
		av, bv := a.F32(), b.F32()
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for q := 0; q < k; q++ {
					x, w := av[i*k+q], bv[q*n+j]
					if transA {
						x = av[q*m+i]
					}
					if transB {
						w = bv[j*k+q]
					}
					s += float64(x) * float64(w)
				}
				want := float64(alpha) * s
				if c != nil {
					cv := c.F32()
					var e float32
					switch len(cs) {
					case 0:
						e = cv[0]
					case 1:
						e = cv[j%cs[0]]
					case 2:
						e = cv[(i%cs[0])*cs[1]+j%cs[1]]
					}
					want += float64(beta) * float64(e)
				}
				if g := float64(out[0].F32()[i*n+j]); math.Abs(g-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%s: Y[%d,%d] = %v, want %v", name, i, j, g, want)
				}
			}
		}
	}
}

func TestGemmTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, dt := range []graph.DType{graph.Float64, graph.Int32, graph.Int64, graph.Uint32, graph.Uint64, graph.Float16, graph.BFloat16} {
		a, b, c := intTensor(r, dt, []int{4, 3}), intTensor(r, dt, []int{5, 4}), intTensor(r, dt, []int{5})
		node := &graph.Node{OpType: "Gemm", Attrs: []*graph.Attribute{graph.IntAttr("transA", 1), graph.IntAttr("transB", 1)}}
		kern, _ := buildGemm(node, 13)
		out, err := kern.Run(&Context{Threads: 2}, []*Tensor{a, b, c})
		if err != nil {
			t.Fatalf("%v: %v", dt, err)
		}
		av, _ := a.AsFloat64()
		bv, _ := b.AsFloat64()
		cv, _ := c.AsFloat64()
		got, _ := out[0].AsFloat64()
		for i := 0; i < 3; i++ {
			for j := 0; j < 5; j++ {
				want := cv[j]
				for q := 0; q < 4; q++ {
					want += av[q*3+i] * bv[j*4+q]
				}
				if got[i*5+j] != want {
					t.Fatalf("%v: Y[%d,%d] = %v, want %v", dt, i, j, got[i*5+j], want)
				}
			}
		}
	}
}

func TestMatMulGemmBadInputs(t *testing.T) {
	f32 := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	for i, in := range [][]*Tensor{
		{f32(3, 4), f32(5, 3)}, {f32(), f32(3)}, {f32(2, 3, 4), f32(3, 4, 5)}, {f32(3, 4), New(graph.Float64, 4, 3)},
		{f32(3, 4), nil}, {New(graph.Bool, 2, 2), New(graph.Bool, 2, 2)},
	} {
		if _, err := runMatMul(&Context{}, in); err == nil {
			t.Errorf("MatMul case %d: no error", i)
		}
	}
	kern, _ := buildGemm(&graph.Node{OpType: "Gemm"}, 13)
	for i, in := range [][]*Tensor{
		{f32(3, 4), f32(5, 3)}, {f32(3, 4, 1), f32(4, 3)}, {f32(3, 4), f32(4, 5), f32(2, 5)}, {f32(3, 4), f32(4, 5), f32(1, 1, 5)},
		{f32(3, 4), f32(4, 5), New(graph.Float64, 5)}, {f32(3)},
	} {
		if _, err := kern.Run(&Context{}, in); err == nil {
			t.Errorf("Gemm case %d: no error", i)
		}
	}
	// A broadcast whose result would be huge fails before allocating.
	if _, err := runMatMul(&Context{}, []*Tensor{f32(1<<20, 1, 1, 0), f32(1, 1<<20, 0, 1<<12)}); err == nil {
		t.Error("huge broadcast accepted")
	}
}
