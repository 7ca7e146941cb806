// This file tests Sgemm against a float64 reference on every microkernel:
// sizes around tile edges, transposes, alpha/beta, strides, guard bands,
// unmodified inputs, thread-count determinism, and a fuzz target.

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var edgeSizes = []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 65, 100, 129}

// gemmCase is one call with its operands laid out in strided buffers
// surrounded by guard values.
type gemmCase struct {
	m, n, k          int
	transA, transB   bool
	alpha, beta      float32
	lda, ldb, ldc    int
	a, b, c          []float32
	aOrig, bOrig, c0 []float32
	bias             []float32 // SgemmBias when set
}

const guard = 37 // elements of guard band before and after each buffer

var guardValue = math.Float32frombits(0x7fc0dead) // a NaN with a payload

func newCase(r *rand.Rand, m, n, k int, transA, transB bool, alpha, beta float32, pad int) *gemmCase {
	g := &gemmCase{m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = ac+pad, bc+pad, n+pad
	g.a = filled(r, ar, ac, g.lda)
	g.b = filled(r, br, bc, g.ldb)
	g.c = filled(r, m, n, g.ldc)
	g.aOrig = append([]float32(nil), g.a...)
	g.bOrig = append([]float32(nil), g.b...)
	g.c0 = append([]float32(nil), g.c...)
	return g
}

// filled returns guard|matrix with padding columns set to guardValue|guard.
func filled(r *rand.Rand, rows, cols, ld int) []float32 {
	n := 0
	if rows > 0 {
		n = (rows-1)*ld + cols
	}
	s := make([]float32, n+2*guard)
	for i := range s {
		s[i] = guardValue
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			s[guard+i*ld+j] = float32(r.Float64()*2 - 1)
		}
	}
	return s
}

func (g *gemmCase) run(threads int) {
	body := func(s []float32) []float32 { return s[guard : len(s)-guard] }
	if g.bias != nil {
		SgemmBias(threads, g.m, g.n, g.k, body(g.a), g.lda, g.transA, body(g.b), g.ldb, g.transB,
			body(g.c), g.ldc, g.alpha, g.bias)
		return
	}
	SgemmParallel(threads, g.m, g.n, g.k, body(g.a), g.lda, g.transA, body(g.b), g.ldb, g.transB,
		body(g.c), g.ldc, g.alpha, g.beta)
}

func (g *gemmCase) opA(i, p int) float64 {
	if g.transA {
		return float64(g.aOrig[guard+p*g.lda+i])
	}
	return float64(g.aOrig[guard+i*g.lda+p])
}

func (g *gemmCase) opB(p, j int) float64 {
	if g.transB {
		return float64(g.bOrig[guard+j*g.ldb+p])
	}
	return float64(g.bOrig[guard+p*g.ldb+j])
}

// check compares C with the float64 reference and verifies that the
// guards, the padding of C and the inputs are untouched.
func (g *gemmCase) check(t *testing.T, name string) {
	t.Helper()
	const eps = 1.0 / (1 << 23)
	isC := make([]bool, len(g.c))
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			off := guard + i*g.ldc + j
			isC[off] = true
			var s, mag float64
			for p := 0; p < g.k; p++ {
				v := g.opA(i, p) * g.opB(p, j)
				s += v
				mag += math.Abs(v)
			}
			c0 := float64(g.c0[off])
			want := float64(g.alpha)*s + float64(g.beta)*c0
			if g.beta == 0 {
				want = float64(g.alpha) * s
			}
			extra := math.Abs(float64(g.beta) * c0)
			if g.bias != nil {
				want = float64(g.alpha)*s + float64(g.bias[i])
				extra = math.Abs(float64(g.bias[i]))
			}
			bound := 2*float64(g.k+3)*eps*(math.Abs(float64(g.alpha))*mag+extra) + 1e-30
			got := float64(g.c[off])
			if !(math.Abs(got-want) <= bound) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (bound %.3g)", name, i, j, got, want, bound)
			}
		}
	}
	for i, v := range g.c {
		if !isC[i] && math.Float32bits(v) != math.Float32bits(g.c0[i]) {
			t.Fatalf("%s: element %d outside C was written (%v)", name, i-guard, v)
		}
	}
	for i := range g.a {
		if math.Float32bits(g.a[i]) != math.Float32bits(g.aOrig[i]) {
			t.Fatalf("%s: A was modified at %d", name, i-guard)
		}
	}
	for i := range g.b {
		if math.Float32bits(g.b[i]) != math.Float32bits(g.bOrig[i]) {
			t.Fatalf("%s: B was modified at %d", name, i-guard)
		}
	}
}

// withKernel runs f with each available microkernel active.
func withKernel(t *testing.T, f func(t *testing.T, k sgemmKernel)) {
	saved := active
	defer func() { active = saved }()
	for _, k := range kernels() {
		active = k
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

func TestSgemmEdges(t *testing.T) {
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(1, 2))
		params := []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {2, 1}}
		idx := 0
		for _, m := range edgeSizes {
			for _, n := range edgeSizes {
				idx++
				k := edgeSizes[(idx*7)%len(edgeSizes)]
				p := params[idx%len(params)]
				tA, tB := idx&1 != 0, idx&2 != 0
				pad := idx % 3
				g := newCase(r, m, n, k, tA, tB, p.alpha, p.beta, pad)
				g.run(1)
				g.check(t, fmt.Sprintf("m=%d n=%d k=%d tA=%v tB=%v alpha=%v beta=%v pad=%d", m, n, k, tA, tB, p.alpha, p.beta, pad))
			}
		}
	})
}

func TestSgemmDepthsAndTransposes(t *testing.T) {
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, k := range edgeSizes {
			for tr := 0; tr < 4; tr++ {
				g := newCase(r, 17, 33, k, tr&1 != 0, tr&2 != 0, 1, 0.5, 1)
				g.run(1)
				g.check(t, fmt.Sprintf("k=%d tr=%d", k, tr))
			}
		}
	})
}

// TestSgemmBlocks crosses the cache-block boundaries in every dimension.
func TestSgemmBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("large sizes")
	}
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{9, 13, blockK*2 + 5}, {blockM + 9, 11, 7}, {5, blockN*2 + 3, 19}, {70, 600, 300}} {
			for tr := 0; tr < 4; tr++ {
				g := newCase(r, s[0], s[1], s[2], tr&1 != 0, tr&2 != 0, 1.25, 1, tr)
				g.run(1)
				g.check(t, fmt.Sprintf("%v tr=%d", s, tr))
			}
		}
	})
}

// TestSgemmThreadsBitIdentical checks that the thread count never changes
// a single bit of the result.
func TestSgemmThreadsBitIdentical(t *testing.T) {
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, s := range [][3]int{{100, 100, 100}, {64, 700, 300}, {129, 1100, 65}, {3, 2000, 600}, {257, 33, 517}} {
			for tr := 0; tr < 4; tr++ {
				g := newCase(r, s[0], s[1], s[2], tr&1 != 0, tr&2 != 0, 0.75, 0.5, 2)
				c0 := append([]float32(nil), g.c...)
				g.run(1)
				want := append([]float32(nil), g.c...)
				g.check(t, fmt.Sprint(s))
				for _, th := range []int{2, 3, 4, 7} {
					copy(g.c, c0)
					g.run(th)
					for i := range want {
						if math.Float32bits(g.c[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v tr=%d threads=%d: element %d is %v, one thread gives %v", s, tr, th, i, g.c[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestSgemmKernelsAgree compares each microkernel with the plain loop it
// documents, and the drivers' results across microkernels. Fused and
// separate multiply-add round differently, so agreement is within a
// tolerance, not exact.
func TestSgemmKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, kern := range kernels() {
		for _, k := range []int{1, 2, 3, 4, 5, 8, 17, 64} {
			for _, add := range []bool{false, true} {
				a := make([]float32, k*kern.mr)
				b := make([]float32, k*kern.nr)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				for i := range b {
					b[i] = float32(r.NormFloat64())
				}
				ldc := kern.nr + 3
				c := make([]float32, kern.mr*ldc)
				for i := range c {
					c[i] = float32(r.NormFloat64())
				}
				want := append([]float32(nil), c...)
				kernelRef(kern.mr, kern.nr, k, a, b, want, ldc, add)
				kern.fn(k, a, b, c, ldc, add)
				for i := range c {
					if i%ldc >= kern.nr {
						if c[i] != want[i] {
							t.Fatalf("%s: padding element %d written", kern.name, i)
						}
						continue
					}
					if d := math.Abs(float64(c[i] - want[i])); d > 1e-5*float64(k+1) {
						t.Fatalf("%s k=%d add=%v: element %d is %v, loop gives %v", kern.name, k, add, i, c[i], want[i])
					}
				}
			}
		}
	}
	ks := kernels()
	saved := active
	defer func() { active = saved }()
	g0 := newCase(r, 45, 77, 91, false, true, 1, 0, 0)
	var results [][]float32
	for _, k := range ks {
		g := *g0
		g.c = append([]float32(nil), g0.c...)
		active = k
		g.run(1)
		results = append(results, g.c)
	}
	for i := 1; i < len(results); i++ {
		for j := range results[0] {
			if d := math.Abs(float64(results[i][j] - results[0][j])); d > 1e-4 {
				t.Fatalf("%s and %s differ at %d by %v", ks[0].name, ks[i].name, j, d)
			}
		}
	}
}

// TestSgemmBias checks the per-row bias form over edge sizes, blocks and
// thread counts.
func TestSgemmBias(t *testing.T) {
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(12, 13))
		sizes := [][3]int{{1, 1, 1}, {7, 33, 0}, {9, 17, 5}, {16, 64, 300}, {33, 100, 600}, {65, 47, 129}, {129, 1100, 31}}
		for i, s := range sizes {
			for tr := 0; tr < 4; tr++ {
				alpha := []float32{1, 0.5, 0, -2}[tr]
				g := newCase(r, s[0], s[1], s[2], tr&1 != 0, tr&2 != 0, alpha, 0, i%3)
				g.bias = make([]float32, s[0])
				for j := range g.bias {
					g.bias[j] = float32(r.NormFloat64())
				}
				c0 := append([]float32(nil), g.c...)
				g.run(1)
				g.check(t, fmt.Sprint("bias ", s, " tr ", tr))
				want := append([]float32(nil), g.c...)
				for _, th := range []int{2, 3, 5} {
					copy(g.c, c0)
					g.run(th)
					for j := range want {
						if math.Float32bits(g.c[j]) != math.Float32bits(want[j]) {
							t.Fatalf("bias %v threads %d: element %d differs", s, th, j)
						}
					}
				}
			}
		}
	})
}

func TestSgemmSpecialScalars(t *testing.T) {
	nan := float32(math.NaN())
	a := []float32{1, 2, 3, 4}
	b := []float32{1, 0, 0, 1}
	// beta 0: C is not read, NaN in it does not propagate.
	c := []float32{nan, nan, nan, nan}
	Sgemm(2, 2, 2, a, 2, false, b, 2, false, c, 2, 1, 0)
	for i, v := range c {
		if v != a[i] {
			t.Fatalf("beta=0: C = %v, want %v", c, a)
		}
	}
	// alpha 0: A and B are not read.
	an := []float32{nan, nan, nan, nan}
	c = []float32{1, 2, 3, 4}
	Sgemm(2, 2, 2, an, 2, false, b, 2, false, c, 2, 0, 2)
	for i, v := range c {
		if v != 2*a[i] {
			t.Fatalf("alpha=0: C = %v", c)
		}
	}
	// k 0 with beta 0 clears C.
	c = []float32{nan, 1, 2, 3}
	Sgemm(2, 2, 0, nil, 0, false, nil, 2, false, c, 2, 1, 0)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0: C = %v", c)
		}
	}
	// NaN in A propagates to its row only.
	a2 := []float32{nan, 0, 1, 1}
	c = make([]float32, 4)
	Sgemm(2, 2, 2, a2, 2, false, b, 2, false, c, 2, 1, 0)
	if !math.IsNaN(float64(c[0])) || math.IsNaN(float64(c[2])) {
		t.Fatalf("NaN propagation: C = %v", c)
	}
}

func TestSgemmShortSlicesPanic(t *testing.T) {
	cases := []func(){
		func() {
			Sgemm(2, 2, 2, make([]float32, 3), 2, false, make([]float32, 4), 2, false, make([]float32, 4), 2, 1, 0)
		},
		func() {
			Sgemm(2, 2, 2, make([]float32, 4), 2, false, make([]float32, 4), 1, false, make([]float32, 4), 2, 1, 0)
		},
		func() {
			Sgemm(2, 2, 2, make([]float32, 4), 2, false, make([]float32, 4), 2, false, make([]float32, 3), 2, 1, 0)
		},
		func() { Sgemm(-1, 2, 2, nil, 2, false, nil, 2, false, nil, 2, 1, 0) },
	}
	for i, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: no panic", i)
				}
			}()
			f()
		}()
	}
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(5), uint8(9), uint8(3), uint8(0), uint64(1))
	f.Add(uint8(33), uint8(1), uint8(65), uint8(7), uint64(2))
	f.Add(uint8(8), uint8(32), uint8(17), uint8(3), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 11))
		mm, nn, kk := int(m%80), int(n%80), int(k%140)
		alphas := []float32{1, -1, 0.5, 0, 3}
		betas := []float32{0, 1, -0.25, 2}
		g := newCase(r, mm, nn, kk, flags&1 != 0, flags&2 != 0, alphas[int(flags>>2)%len(alphas)],
			betas[int(flags>>5)%len(betas)], int(flags>>4)%3)
		saved := active
		defer func() { active = saved }()
		c0 := append([]float32(nil), g.c...)
		for _, kern := range kernels() {
			active = kern
			copy(g.c, c0)
			g.run(1 + int(seed%4))
			g.check(t, kern.name)
		}
	})
}

// matrixPacker packs a stored row-major B (k×n, row stride ld), as a
// BPacker over it should.
type matrixPacker struct {
	b  []float32
	ld int
	n  int
}

func (mp matrixPacker) Pack(dst []float32, panelStride, pc, kc, jc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		panel := dst[(jr/nr)*panelStride:]
		for p := 0; p < kc; p++ {
			for l := 0; l < nr; l++ {
				v := float32(0)
				if jr+l < nc {
					v = mp.b[(pc+p)*mp.ld+jc+jr+l]
				}
				panel[p*nr+l] = v
			}
		}
	}
}

// TestSgemmPacker checks that a packed B gives the very bits of the stored
// B, with and without bias, for several thread counts.
func TestSgemmPacker(t *testing.T) {
	withKernel(t, func(t *testing.T, _ sgemmKernel) {
		r := rand.New(rand.NewPCG(14, 15))
		for _, s := range [][3]int{{1, 1, 1}, {8, 32, 7}, {9, 33, 300}, {24, 1100, 600}, {5, 70, 0}} {
			m, n, k := s[0], s[1], s[2]
			a := make([]float32, m*k)
			b := make([]float32, k*(n+3))
			bias := make([]float32, m)
			for _, v := range [][]float32{a, b, bias} {
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
			}
			for _, withBias := range []bool{false, true} {
				want := make([]float32, m*n)
				var bb []float32
				if withBias {
					bb = bias
					SgemmBias(1, m, n, k, a, k, false, b, n+3, false, want, n, 0.5, bias)
				} else {
					SgemmParallel(1, m, n, k, a, k, false, b, n+3, false, want, n, 0.5, 0)
				}
				for _, th := range []int{1, 2, 3} {
					got := make([]float32, m*n)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					SgemmPacker(th, m, n, k, a, k, false, matrixPacker{b, n + 3, n}, got, n, 0.5, bb)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v bias=%v threads=%d: element %d is %v, stored B gives %v", s, withBias, th, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}
