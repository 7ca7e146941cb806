// This file holds the INT8 GEMM driver: packing of B (once), rows of A read
// in place, row sums, cache blocking, edge tiles and the split over threads.

package kernels

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Cache blocking of the INT8 GEMM, in elements. Eight rows of A (8×kc
// bytes) stay in L1 while the microkernel sweeps up to igemmBlockN columns
// of packed B (kc×igemmBlockN bytes, 512 KiB, in L2); C is written along
// rows. igemmBlockK is a multiple of 4. Measured on Zen 4 (1 MiB L2): this
// order beats keeping a B panel in L1 and sweeping A by 5-15% at 1024³.
const (
	igemmBlockK = 512
	igemmBlockM = 256
	igemmBlockN = 1024
)

// minThreadOps is the work (2·m·n·k) below which extra goroutines cost more
// than they save. It changes only the speed, never the result.
const minThreadOps = 1 << 19

// igemmKernel is one INT8 microkernel: fn computes an mr×nr tile of C from
// mr rows of A (row i at a[i*lda:], 4·kg bytes each) and a packed B panel
// holding kg groups of 4 depth steps (see igemmKernelRef).
type igemmKernel struct {
	name   string
	mr, nr int
	fn     func(kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool)
}

// activeI8 is the INT8 microkernel PackB8 selects (the best the CPU supports).
var activeI8 = bestIgemmKernel()

// VNNISelected reports whether the INT8 microkernel now selected
// (UseIgemmKernel) is a VNNI one: the channel-major, tap and depthwise
// kernels then run as assembly; with the others their Go loops are for
// tests, and callers with a faster path for those CPUs take it.
func VNNISelected() bool { return activeI8.name == "vnni" || activeI8.name == "vnni16" }

// IgemmKernelName names the microkernel PackB8 selects: "vnni" (or
// "vnni16" for at most 16 columns), "avx2" or "go".
func IgemmKernelName() string { return activeI8.name }

// igemmKernelRef is the plain loop every INT8 microkernel equals bit for
// bit. Depth step p of row i of A is the uint8 a[i*lda+p]^x, where x is
// 0x80 with flip (int8 A plus 128) and 0 otherwise; depth step p = 4g+r of
// column j of the B panel is the int8 b[(g*nr+j)*4+r]; every row of the
// tile starts from init (nr values):
//
//	for i := 0; i < mr; i++ {
//		for j := 0; j < nr; j++ {
//			s := init[j]
//			for p := 0; p < 4*kg; p++ {
//				s += int32(a[i*lda+p]^x) * int32(b[((p/4)*nr+j)*4+p%4])
//			}
//			if add {
//				s += c[i*ldc+j]
//			}
//			c[i*ldc+j] = s
//		}
//	}
//
// Sums wrap around modulo 2³².
func igemmKernelRef(kern igemmKernel, kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool) {
	mr, nr := kern.mr, kern.nr
	x := byte(0)
	if flip {
		x = 0x80
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			s := init[j]
			for p := 0; p < 4*kg; p++ {
				s += int32(a[i*lda+p]^x) * int32(b[((p/4)*nr+j)*4+p%4])
			}
			if add {
				s += c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// PackedB8 is the INT8 right-hand operand B (k×n, int8) packed once for a
// microkernel, with its column sums.
type PackedB8 struct {
	K, N int
	// ColSums[j] = Σ_p B[p,j] (exact: |ColSums[j]| ≤ 128·K).
	ColSums []int32

	kern igemmKernel
	kg   int     // groups of 4 depth steps: ⌈K/4⌉
	data []int8  // panel q of nr columns at q*kg*nr*4; group g of a panel at g*nr*4
	corr []int32 // -128·ColSums, zero past N: the start of the sums for int8 A
	zero []int32 // nr zeros: the start of the sums otherwise
}

// KernelName names the microkernel pb was packed for.
func (pb *PackedB8) KernelName() string { return pb.kern.name }

// PackB8 packs B, k×n and row-major (element (p, j) is b[p*ldb+j]) or,
// with transB, stored transposed as n×k (element (p, j) is b[j*ldb+p]),
// for the microkernel the CPU runs best (with a narrower tile when n is at
// most 16). It panics when b is too short.
func PackB8(k, n int, b []int8, ldb int, transB bool) *PackedB8 {
	if transB {
		checkDims("B", len(b), n, k, ldb)
	} else {
		checkDims("B", len(b), k, n, ldb)
	}
	kern := activeI8
	if n <= 16 {
		kern = narrowIgemmKernel(kern)
	}
	nr := kern.nr
	kg := (k + 3) / 4
	panels := (n + nr - 1) / nr
	pb := &PackedB8{K: k, N: n, ColSums: make([]int32, n), kern: kern, kg: kg,
		data: make([]int8, panels*kg*nr*4), corr: make([]int32, panels*nr), zero: make([]int32, nr)}
	at := func(p, j int) int8 {
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	for j := 0; j < n; j++ {
		panel := pb.data[(j/nr)*kg*nr*4:]
		jj := j % nr
		var s int32
		for p := 0; p < k; p++ {
			v := at(p, j)
			s += int32(v)
			panel[((p/4)*nr+jj)*4+p%4] = v
		}
		pb.ColSums[j] = s
		pb.corr[j] = -s << 7
	}
	return pb
}

// Igemm computes C = A·B in int32 on up to threads goroutines (splitting
// the columns of C, or its rows when B has few columns): C is m×n
// (element (i, j) at c[i*ldc+j]), A is m×k of uint8 (a[i*lda+p]) and B is
// pb (k×n of int8), so c[i*ldc+j] = Σ_p int32(A[i,p])·int32(B[p,j]). When
// rowSums is not nil, rowSums[i] is set to Σ_p A[i,p] (one more pass over
// A, about 50 GB/s with AVX2). Zero points are not applied; see the package
// documentation.
// It panics when m, n, k do not match pb or a slice is too short.
func Igemm(threads, m, n, k int, a []uint8, lda int, pb *PackedB8, c []int32, ldc int, rowSums []int32) {
	igemm(threads, m, n, k, a, lda, false, pb, c, ldc, rowSums)
}

// IgemmS8 is Igemm with A of int8: c[i*ldc+j] = Σ_p int32(A[i,p])·int32(B[p,j])
// and rowSums[i] = Σ_p A[i,p]. The kernels multiply A+128 (a uint8) into
// sums that start at -128·ColSums[j], which gives the same int32 as the
// plain loop.
func IgemmS8(threads, m, n, k int, a []int8, lda int, pb *PackedB8, c []int32, ldc int, rowSums []int32) {
	au := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
	igemm(threads, m, n, k, au, lda, true, pb, c, ldc, rowSums)
}

func igemm(threads, m, n, k int, a []byte, lda int, signed bool, pb *PackedB8, c []int32, ldc int, rowSums []int32) {
	if pb == nil {
		panic("kernels: Igemm needs a packed B")
	}
	if pb.K != k || pb.N != n {
		panic(fmt.Sprintf("kernels: Igemm of depth %d and %d columns with B packed as %d×%d", k, n, pb.K, pb.N))
	}
	checkDims("A", len(a), m, k, lda)
	checkDims("C", len(c), m, n, ldc)
	if rowSums != nil {
		if len(rowSums) < m {
			panic(fmt.Sprintf("kernels: rowSums has %d values for %d rows", len(rowSums), m))
		}
		rowSums = rowSums[:m]
		clear(rowSums)
	}
	if m == 0 {
		return
	}
	if n == 0 || k == 0 {
		if rowSums != nil && k > 0 {
			sumRows(m, k, a, lda, signed, rowSums)
		}
		for i := 0; n > 0 && i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	g := &igemmCall{kern: pb.kern, m: m, n: n, k: k, a: a, lda: lda, signed: signed, pb: pb, c: c, ldc: ldc, rowSums: rowSums}
	if ops := 2 * float64(m) * float64(n) * float64(k); ops < float64(threads)*minThreadOps {
		threads = int(ops / minThreadOps)
	}
	threads = max(1, threads)
	mr, nr := pb.kern.mr, pb.kern.nr
	if panels := (n + nr - 1) / nr; threads > 1 && panels < 4*threads && m >= 8*mr*threads {
		g.runRows(threads)
		return
	}
	g.run(threads)
}

// runRows splits the rows of C among threads when B has too few panels to
// share out evenly: each goroutine computes its rows as a call of its own.
// Rows of C do not depend on each other, so the result is the same.
func (g *igemmCall) runRows(threads int) {
	step := roundUp((g.m+threads-1)/threads, g.kern.mr)
	var wg sync.WaitGroup
	for i0 := 0; i0 < g.m; i0 += step {
		part := *g
		part.m = min(step, g.m-i0)
		part.a = g.a[i0*g.lda:]
		part.c = g.c[i0*g.ldc:]
		if g.rowSums != nil {
			part.rowSums = g.rowSums[i0 : i0+part.m]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part.run(1)
		}()
	}
	wg.Wait()
}

// sumRows sets sums[i] = Σ_p A[i,p] (A of int8 when signed): whole
// multiples of 32 bytes by sumBytes32, the rest eight bytes at a time.
func sumRows(m, k int, a []byte, lda int, signed bool, sums []int32) {
	var flip uint64
	if signed {
		flip = 0x8080808080808080
	}
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+k]
		p := len(row) &^ 31
		s := sumBytes32(row[:p], flip) + sumBytesGo(row[p:], flip)
		v := int32(s)
		if signed {
			v -= int32(128 * k)
		}
		sums[i] = v
	}
}

// sumBytesGo is sumBytes32 in plain Go (eight bytes at a time).
func sumBytesGo(p []byte, flip uint64) uint64 {
	const lo = 0x00ff00ff00ff00ff
	var s uint64
	for len(p) >= 8 {
		// Four 16-bit lanes gain at most 2·255 per word: 128 words fit.
		var acc uint64
		n := min(len(p)/8, 128)
		for _, x := range unsafe.Slice((*[8]byte)(unsafe.Pointer(unsafe.SliceData(p))), n) {
			w := binary.LittleEndian.Uint64(x[:]) ^ flip
			acc += w&lo + w>>8&lo
		}
		p = p[8*n:]
		acc = acc&0x0000ffff0000ffff + acc>>16&0x0000ffff0000ffff
		s += acc&0xffffffff + acc>>32
	}
	for _, v := range p {
		s += uint64(v ^ byte(flip))
	}
	return s
}

// checkDims panics unless a slice of length n holds a rows×cols matrix with
// row stride ld.
func checkDims(name string, n, rows, cols, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: negative dimension %d×%d of %s", rows, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: leading dimension %d of %s is below its %d columns", ld, name, cols))
	}
	if need := (rows-1)*ld + cols; n < need {
		panic(fmt.Sprintf("kernels: %s has %d elements, a %d×%d matrix with stride %d needs %d", name, n, rows, cols, ld, need))
	}
}

// igemmCall is one call's arguments.
type igemmCall struct {
	kern    igemmKernel
	m, n, k int
	a       []byte
	lda     int
	signed  bool // A holds int8: read as A+128 (flip), sums start at -128·ColSums
	pb      *PackedB8
	c       []int32
	ldc     int
	rowSums []int32
}

var bytePool sync.Pool

func getBytes(n int) *[]byte {
	if p, ok := bytePool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]byte, n)
	return &s
}

func (g *igemmCall) run(threads int) {
	mr, nr := g.kern.mr, g.kern.nr
	if g.rowSums != nil {
		sumRows(g.m, g.k, g.a, g.lda, g.signed, g.rowSums)
	}
	nk := (g.k + igemmBlockK - 1) / igemmBlockK
	kcMax := roundUp((g.k+nk-1)/nk, 4)
	mcMax := min(igemmBlockM/mr*mr, roundUp(g.m, mr))
	panels := (g.n + nr - 1) / nr
	chunk := panels // panels per job
	if threads > 1 {
		chunk = max(1, (panels+threads-1)/threads)
	}
	jobs := (panels + chunk - 1) / chunk
	threads = max(1, min(threads, jobs))

	apBuf := getBytes(mcMax * kcMax)
	defer bytePool.Put(apBuf)
	ap := *apBuf
	rows := make([]aRows, mcMax/mr)
	tmps := make([][]int32, threads)
	for t := range tmps {
		tmps[t] = make([]int32, mr*nr)
	}
	for ic := 0; ic < g.m; ic += mcMax {
		mc := min(mcMax, g.m-ic)
		for pc := 0; pc < g.k; pc += kcMax {
			kc := min(kcMax, g.k-pc)
			g.rowsOfA(rows, ap, ic, mc, pc, kc)
			blk := igemmBlock{ic: ic, mc: mc, pc: pc, kc: kc, add: pc > 0, rows: rows}
			if threads == 1 {
				g.block(tmps[0], &blk, 0, panels)
				continue
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for t := 0; t < threads; t++ {
				wg.Add(1)
				go func(tmp []int32) {
					defer wg.Done()
					for {
						ji := int(next.Add(1) - 1)
						if ji >= jobs {
							return
						}
						g.block(tmp, &blk, ji*chunk, min(panels, (ji+1)*chunk))
					}
				}(tmps[t])
			}
			wg.Wait()
		}
	}
}

// aRows locates mr rows of A for the microkernel: row i at a[i*lda:].
type aRows struct {
	a   []byte
	lda int
}

// igemmBlock is one block of rows ic..ic+mc and depth pc..pc+kc.
type igemmBlock struct {
	ic, mc, pc, kc int
	add            bool    // C already holds the sum over depth 0..pc
	rows           []aRows // the A rows of each panel of mr rows
}

// block computes the B panels q0..q1 of one block: for each group of
// panels of up to igemmBlockN columns, every panel of mr rows of A against
// each of them.
func (g *igemmCall) block(tmp []int32, blk *igemmBlock, q0, q1 int) {
	mr, nr := g.kern.mr, g.kern.nr
	kg := (blk.kc + 3) / 4
	bStride := g.pb.kg * nr * 4
	fn := g.kern.fn
	qStep := max(1, igemmBlockN/nr)
	for qc := q0; qc < q1; qc += qStep {
		qe := min(q1, qc+qStep)
		for ir := 0; ir < blk.mc; ir += mr {
			rows := min(mr, blk.mc-ir)
			ar := blk.rows[ir/mr]
			for q := qc; q < qe; q++ {
				bpan := g.pb.data[q*bStride+blk.pc*nr : q*bStride+blk.pc*nr+kg*nr*4]
				jc := q * nr
				cols := min(nr, g.n-jc)
				init := g.pb.zero
				if g.signed && blk.pc == 0 {
					init = g.pb.corr[jc : jc+nr]
				}
				off := (blk.ic+ir)*g.ldc + jc
				if rows == mr && cols == nr {
					fn(kg, ar.a, ar.lda, bpan, init, g.c[off:], g.ldc, blk.add, g.signed)
					continue
				}
				fn(kg, ar.a, ar.lda, bpan, init, tmp, nr, false, g.signed)
				for i := 0; i < rows; i++ {
					dst := g.c[off+i*g.ldc : off+i*g.ldc+cols]
					src := tmp[i*nr : i*nr+cols]
					if blk.add {
						for j, v := range src {
							dst[j] += v
						}
					} else {
						copy(dst, src)
					}
				}
			}
		}
	}
}

// rowsOfA locates the rows ic..ic+mc, depth pc..pc+kc of A for each panel
// of mr rows. A full panel is read in place (the bytes past kc up to the
// next multiple of 4 meet zeros in B); a panel of fewer than mr rows, or
// whose last group would read past the end of A, is copied to ap as rows
// of ⌈kc/4⌉·4 bytes, missing rows and depth steps zero.
func (g *igemmCall) rowsOfA(rows []aRows, ap []byte, ic, mc, pc, kc int) {
	mr := g.kern.mr
	w := roundUp(kc, 4)
	for ir := 0; ir < mc; ir += mr {
		n := min(mr, mc-ir)
		first := (ic+ir)*g.lda + pc
		if n == mr && first+(mr-1)*g.lda+w <= len(g.a) {
			rows[ir/mr] = aRows{g.a[first:], g.lda}
			continue
		}
		dst := ap[ir*w : (ir+mr)*w]
		for i := 0; i < mr; i++ {
			d := dst[i*w : (i+1)*w]
			if i >= n {
				clear(d)
				continue
			}
			copy(d, g.a[first+i*g.lda:first+i*g.lda+kc])
			clear(d[kc:])
		}
		rows[ir/mr] = aRows{dst, w}
	}
}

// The largest depths for which every sum is exact: k products of at most
// 255·128 (uint8 A) or 128·128 (int8 A) in magnitude stay within int32.
const (
	IgemmMaxDepthU8 = (1<<31 - 1) / (255 * 128) // 65793
	IgemmMaxDepthS8 = 1<<31/(128*128) - 1       // 131071
)

// IgemmKernelNames lists the INT8 microkernels this CPU can run, fastest
// first.
func IgemmKernelNames() []string {
	var names []string
	for _, k := range igemmKernels() {
		names = append(names, k.name)
	}
	return names
}

// UseIgemmKernel makes PackB8 select the named microkernel (one of
// IgemmKernelNames) until restore is called, so that tests can run every
// path. It must not be called while other goroutines pack; it reports
// false for a name this CPU cannot run.
func UseIgemmKernel(name string) (restore func(), ok bool) {
	for _, k := range igemmKernels() {
		if k.name == name {
			saved := activeI8
			activeI8 = k
			return func() { activeI8 = saved }, true
		}
	}
	return func() {}, false
}
