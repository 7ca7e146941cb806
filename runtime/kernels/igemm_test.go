// This file tests the INT8 GEMM against the plain triple loop on every
// microkernel, bit for bit: sizes around tile and block edges, full-range
// data with extremes, strides, guard bands, unmodified inputs, row and
// column sums, int8 activations, thread counts, and a fuzz target.

package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var igemmSizes = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257}

const (
	iguard      = 29         // elements of guard band before and after each buffer
	iguardValue = 0x7eadbeef // written around C and the row sums
)

// igemmCase is one call with its operands in strided buffers surrounded by
// guard values.
type igemmCase struct {
	m, n, k       int
	signed        bool // A holds int8 (IgemmS8)
	transB        bool
	lda, ldb, ldc int
	a             []byte // A as bytes (int8 bit patterns when signed)
	b             []int8
	c             []int32
	sums          []int32
	aOrig         []byte
	bOrig         []int8
}

// fullRange draws a byte whose value is an extreme (0x00, 0x7f, 0x80,
// 0xff) a quarter of the time and uniform otherwise.
func fullRange(r *rand.Rand) byte {
	if r.IntN(4) == 0 {
		return []byte{0x00, 0x7f, 0x80, 0xff}[r.IntN(4)]
	}
	return byte(r.Uint32())
}

func newIgemmCase(r *rand.Rand, m, n, k int, signed, transB bool, pad int) *igemmCase {
	g := &igemmCase{m: m, n: n, k: k, signed: signed, transB: transB}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = k+pad, bc+pad+1, n+pad
	g.a = make([]byte, stored(m, k, g.lda)+2*iguard)
	for i := range g.a {
		g.a[i] = fullRange(r)
	}
	g.b = make([]int8, stored(br, bc, g.ldb)+2*iguard)
	for i := range g.b {
		g.b[i] = int8(fullRange(r))
	}
	g.c = make([]int32, stored(m, n, g.ldc)+2*iguard)
	for i := range g.c {
		g.c[i] = iguardValue
	}
	g.sums = make([]int32, m+2*iguard)
	for i := range g.sums {
		g.sums[i] = iguardValue
	}
	g.aOrig = slices.Clone(g.a)
	g.bOrig = slices.Clone(g.b)
	return g
}

func stored(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func (g *igemmCase) pack() *PackedB8 {
	return PackB8(g.k, g.n, g.b[iguard:len(g.b)-iguard], g.ldb, g.transB)
}

func (g *igemmCase) run(threads int, pb *PackedB8) {
	a := g.a[iguard : len(g.a)-iguard]
	c := g.c[iguard : len(g.c)-iguard]
	sums := g.sums[iguard : iguard+g.m]
	if g.signed {
		IgemmS8(threads, g.m, g.n, g.k, int8s(a), g.lda, pb, c, g.ldc, sums)
		return
	}
	Igemm(threads, g.m, g.n, g.k, a, g.lda, pb, c, g.ldc, sums)
}

func int8s(b []byte) []int8 {
	s := make([]int8, len(b))
	for i, v := range b {
		s[i] = int8(v)
	}
	return s
}

func (g *igemmCase) aAt(i, p int) int32 {
	v := g.aOrig[iguard+i*g.lda+p]
	if g.signed {
		return int32(int8(v))
	}
	return int32(v)
}

func (g *igemmCase) bAt(p, j int) int32 {
	if g.transB {
		return int32(g.bOrig[iguard+j*g.ldb+p])
	}
	return int32(g.bOrig[iguard+p*g.ldb+j])
}

// check compares C, the row sums and the column sums with the plain loops
// and verifies that the guards, the padding of C and the inputs are
// untouched.
func (g *igemmCase) check(t *testing.T, name string, pb *PackedB8) {
	t.Helper()
	isC := make([]bool, len(g.c))
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s int32
			for p := 0; p < g.k; p++ {
				s += g.aAt(i, p) * g.bAt(p, j)
			}
			off := iguard + i*g.ldc + j
			isC[off] = true
			if g.c[off] != s {
				t.Fatalf("%s: C[%d,%d] = %d, want %d", name, i, j, g.c[off], s)
			}
		}
	}
	for i, v := range g.c {
		if !isC[i] && v != iguardValue {
			t.Fatalf("%s: element %d outside C was written (%d)", name, i-iguard, v)
		}
	}
	for i, v := range g.sums {
		want := int32(iguardValue)
		if i >= iguard && i < iguard+g.m {
			want = 0
			for p := 0; p < g.k; p++ {
				want += g.aAt(i-iguard, p)
			}
		}
		if v != want {
			t.Fatalf("%s: row sum %d is %d, want %d", name, i-iguard, v, want)
		}
	}
	for j := 0; j < g.n; j++ {
		var s int32
		for p := 0; p < g.k; p++ {
			s += g.bAt(p, j)
		}
		if pb.ColSums[j] != s {
			t.Fatalf("%s: column sum %d is %d, want %d", name, j, pb.ColSums[j], s)
		}
	}
	if !slices.Equal(g.a, g.aOrig) {
		t.Fatalf("%s: A was modified", name)
	}
	if !slices.Equal(g.b, g.bOrig) {
		t.Fatalf("%s: B was modified", name)
	}
}

// withIgemmKernel runs f with each available INT8 microkernel selected.
func withIgemmKernel(t *testing.T, f func(t *testing.T)) {
	saved := activeI8
	defer func() { activeI8 = saved }()
	for _, k := range igemmKernels() {
		activeI8 = k
		t.Run(k.name, f)
	}
}

func (g *igemmCase) runCheck(t *testing.T, threads int) {
	t.Helper()
	pb := g.pack()
	g.run(threads, pb)
	g.check(t, fmt.Sprintf("m=%d n=%d k=%d signed=%v transB=%v lda=%d ldb=%d ldc=%d threads=%d",
		g.m, g.n, g.k, g.signed, g.transB, g.lda, g.ldb, g.ldc, threads), pb)
}

// TestIgemmEdges crosses every pair of edge sizes for m and n, with the
// depth running through the edge sizes too.
func TestIgemmEdges(t *testing.T) {
	withIgemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		idx := 0
		for _, m := range igemmSizes {
			for _, n := range igemmSizes {
				idx++
				k := igemmSizes[(idx*7)%len(igemmSizes)]
				if testing.Short() && m*n*k > 1<<20 {
					continue
				}
				g := newIgemmCase(r, m, n, k, idx&1 != 0, idx&2 != 0, idx%3)
				g.runCheck(t, 1)
			}
		}
	})
}

// TestIgemmDepths runs every edge depth on shapes around one tile.
func TestIgemmDepths(t *testing.T) {
	withIgemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, k := range igemmSizes {
			for v := 0; v < 4; v++ {
				for _, s := range [][2]int{{9, 33}, {8, 32}, {7, 31}, {13, 70}} {
					g := newIgemmCase(r, s[0], s[1], k, v&1 != 0, v&2 != 0, v)
					g.runCheck(t, 1)
				}
			}
		}
	})
}

// TestIgemmBlocks crosses the cache-block boundaries in depth and rows.
func TestIgemmBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("large sizes")
	}
	withIgemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{9, 40, 2*igemmBlockK + 5}, {igemmBlockM + 9, 11, 7}, {igemmBlockM*2 + 1, 65, igemmBlockK + 1}, {70, 300, 1030}, {17, igemmBlockN + 33, 45}} {
			for v := 0; v < 4; v++ {
				g := newIgemmCase(r, s[0], s[1], s[2], v&1 != 0, v&2 != 0, v)
				g.runCheck(t, 1+v)
			}
		}
	})
}

// TestIgemmThreads checks that every thread count gives the one-thread
// result.
func TestIgemmThreads(t *testing.T) {
	withIgemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, s := range [][3]int{{100, 100, 100}, {64, 700, 300}, {129, 257, 65}, {3, 2000, 600}, {257, 33, 517}, {1000, 16, 77}, {517, 70, 40}} {
			for v := 0; v < 2; v++ {
				g := newIgemmCase(r, s[0], s[1], s[2], v == 1, v == 0, 1)
				for _, th := range []int{1, 2, 3, 4, 7} {
					for i := range g.c {
						g.c[i] = iguardValue
					}
					for i := range g.sums {
						g.sums[i] = iguardValue
					}
					g.runCheck(t, th)
				}
			}
		}
	})
}

// TestIgemmKernelsEqualLoop compares each microkernel with the loop it
// documents, on full-range data, with and without add.
func TestIgemmKernelsEqualLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, kern := range igemmKernels() {
		for _, kg := range []int{1, 2, 3, 4, 5, 8, 17, 64, 300} {
			for v := 0; v < 4; v++ {
				add, flip := v&1 != 0, v&2 != 0
				lda := 4*kg + kg%5
				a := make([]byte, (kern.mr-1)*lda+4*kg)
				for i := range a {
					a[i] = fullRange(r)
				}
				b := make([]int8, kg*4*kern.nr)
				for i := range b {
					b[i] = int8(fullRange(r))
				}
				ldc := kern.nr + 3
				c := make([]int32, kern.mr*ldc)
				for i := range c {
					c[i] = int32(r.Uint32())
				}
				init := make([]int32, kern.nr)
				for i := range init {
					init[i] = int32(r.Uint32())
				}
				want := slices.Clone(c)
				igemmKernelRef(kern, kg, a, lda, b, init, want, ldc, add, flip)
				kern.fn(kg, a, lda, b, init, c, ldc, add, flip)
				if !slices.Equal(c, want) {
					t.Fatalf("%s kg=%d add=%v flip=%v: the tile differs from the loop", kern.name, kg, add, flip)
				}
			}
		}
	}
}

// TestIgemmExtremes fills A and B with their most negative products up to
// the depth bound that stays exact, and checks the wrap-around beyond it.
func TestIgemmExtremes(t *testing.T) {
	if testing.Short() {
		t.Skip("large depth")
	}
	withIgemmKernel(t, func(t *testing.T) {
		for _, c := range []struct {
			signed bool
			a      byte
			b      int8
			k      int
			want   int64
		}{
			{false, 255, -128, IgemmMaxDepthU8, -255 * 128 * IgemmMaxDepthU8},
			{false, 255, 127, IgemmMaxDepthU8, 255 * 127 * IgemmMaxDepthU8},
			{true, 0x80, -128, IgemmMaxDepthS8, 128 * 128 * IgemmMaxDepthS8},
			{true, 0x80, 127, IgemmMaxDepthS8, -128 * 127 * IgemmMaxDepthS8},
			{false, 255, -128, IgemmMaxDepthU8 + 1000, -255 * 128 * (IgemmMaxDepthU8 + 1000)}, // wraps
		} {
			const m, n = 9, 33
			a := make([]byte, m*c.k)
			for i := range a {
				a[i] = c.a
			}
			b := make([]int8, c.k*n)
			for i := range b {
				b[i] = c.b
			}
			pb := PackB8(c.k, n, b, n, false)
			out := make([]int32, m*n)
			sums := make([]int32, m)
			if c.signed {
				IgemmS8(2, m, n, c.k, int8s(a), c.k, pb, out, n, sums)
			} else {
				Igemm(2, m, n, c.k, a, c.k, pb, out, n, sums)
			}
			for i, v := range out {
				if v != int32(c.want) {
					t.Fatalf("%+v: element %d is %d, want %d", c, i, v, int32(c.want))
				}
			}
		}
	})
}

func TestIgemmPanics(t *testing.T) {
	pb := PackB8(2, 2, make([]int8, 4), 2, false)
	cases := []func(){
		func() { PackB8(2, 2, make([]int8, 3), 2, false) },
		func() { PackB8(2, 3, make([]int8, 6), 2, false) },
		func() { Igemm(1, 2, 2, 2, make([]byte, 3), 2, pb, make([]int32, 4), 2, nil) },
		func() { Igemm(1, 2, 2, 2, make([]byte, 4), 2, pb, make([]int32, 3), 2, nil) },
		func() { Igemm(1, 2, 3, 2, make([]byte, 4), 2, pb, make([]int32, 6), 3, nil) },
		func() { Igemm(1, 2, 2, 2, make([]byte, 4), 2, pb, make([]int32, 4), 2, make([]int32, 1)) },
		func() { Igemm(1, 2, 2, 2, make([]byte, 4), 2, nil, make([]int32, 4), 2, nil) },
		func() { IgemmS8(1, -1, 2, 2, nil, 2, pb, nil, 2, nil) },
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

func FuzzIgemm(f *testing.F) {
	f.Add(uint8(5), uint8(9), uint8(3), uint8(0), uint64(1))
	f.Add(uint8(33), uint8(1), uint8(65), uint8(7), uint64(2))
	f.Add(uint8(8), uint8(32), uint8(17), uint8(3), uint64(3))
	f.Add(uint8(9), uint8(65), uint8(255), uint8(6), uint64(4))
	f.Fuzz(func(t *testing.T, m, n, k, flags uint8, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 11))
		saved := activeI8
		defer func() { activeI8 = saved }()
		for _, kern := range igemmKernels() {
			activeI8 = kern
			g := newIgemmCase(r, int(m%80), int(n%80), int(k), flags&1 != 0, flags&2 != 0, int(flags>>2)%4)
			g.runCheck(t, 1+int(seed%4))
		}
	})
}

// TestSumBytes compares the byte sums of the row sums with a plain loop.
func TestSumBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	buf := make([]byte, 5000)
	for i := range buf {
		buf[i] = fullRange(r)
	}
	for _, n := range []int{0, 1, 7, 8, 31, 32, 33, 64, 1023, 1024, 1025, 2048, 5000} {
		for _, flip := range []uint64{0, 0x8080808080808080} {
			var want uint64
			for _, v := range buf[:n] {
				want += uint64(v ^ byte(flip))
			}
			if got := sumBytesGo(buf[:n], flip); got != want {
				t.Fatalf("sumBytesGo n=%d flip=%x: %d, want %d", n, flip, got, want)
			}
			if m := n &^ 31; sumBytes32(buf[:m], flip)+sumBytesGo(buf[m:n], flip) != want {
				t.Fatalf("sumBytes32 n=%d flip=%x differs", n, flip)
			}
		}
	}
}
