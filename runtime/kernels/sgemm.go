// This file holds the FP32 GEMM driver: argument checks, cache blocking,
// packing of A and B panels, edge tiles and the split over threads.

package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Cache blocking, in elements. An A micro-panel (MR×kc) stays in L1 while
// the microkernel sweeps the packed B block (kc×nc, up to 512 KiB, in L2);
// the packed A block (mc×kc) sits in L2/L3.
const (
	blockK = 256
	blockN = 512
	blockM = 1024
)

// minThreadFlops is the work below which extra goroutines cost more than
// they save. It changes only the speed, never the result.
const minThreadFlops = 1 << 18

// sgemmKernel is one microkernel: fn computes an mr×nr tile of C from a
// packed A panel and a packed B panel of depth k (see kernelRef).
type sgemmKernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c []float32, ldc int, add bool)
}

// active is the microkernel in use (the best the CPU supports).
var active = bestKernel()

// KernelName names the microkernel Sgemm uses: "avx512", "avx2" or "go".
func KernelName() string { return active.name }

// kernelRef is the plain loop every microkernel equals (up to the rounding
// of fused multiply-add): with a holding k steps of mr values and b k
// steps of nr values,
//
//	c[i*ldc+j] = Σ_p a[p*mr+i]·b[p*nr+j]           (add false)
//	c[i*ldc+j] = c[i*ldc+j] + Σ_p a[p*mr+i]·b[p*nr+j]  (add true)
//
// where the sum runs over p = 0..k-1 in order, starting from 0.
func kernelRef(mr, nr, k int, a, b, c []float32, ldc int, add bool) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[p*nr+j]
			}
			if add {
				s = c[i*ldc+j] + s
			}
			c[i*ldc+j] = s
		}
	}
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on one thread, where op(A)
// is m×k, op(B) is k×n and C is m×n, all row-major: element (i, j) of C is
// c[i*ldc+j]; op(A) is A (a[i*lda+p]) or, with transA, Aᵀ (a[p*lda+i]);
// likewise for B. It panics when a slice is too short for its dimensions.
func Sgemm(m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, transB bool,
	c []float32, ldc int, alpha, beta float32) {
	SgemmParallel(1, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, beta)
}

// SgemmParallel is Sgemm on up to threads goroutines. The result is
// bit-identical for every value of threads.
func SgemmParallel(threads, m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, transB bool,
	c []float32, ldc int, alpha, beta float32) {
	sgemm(threads, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, beta, nil)
}

// SgemmBias computes C = alpha·op(A)·op(B) + bias[i] on every row i (C is
// not read), on up to threads goroutines. The bias enters the sums as
// their first term (one more depth step with A's column bias and B's row
// of ones), so it costs no pass over C.
func SgemmBias(threads, m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, transB bool,
	c []float32, ldc int, alpha float32, bias []float32) {
	if len(bias) < m {
		panic(fmt.Sprintf("kernels: bias has %d values for %d rows", len(bias), m))
	}
	sgemm(threads, m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, 0, bias[:m])
}

// BPacker produces B (k×n) for SgemmPacker without it being stored as a
// matrix (an implicit im2col, for instance). Pack writes rows pc..pc+kc
// and columns jc..jc+nc of B into panels of nr columns: element (p, j)
// goes to dst[q*panelStride + (p-pc)*nr + (j-jc)%nr] with q = (j-jc)/nr,
// and the columns of the last panel past jc+nc are set to zero. Pack is
// called from several goroutines at once, on disjoint dst.
type BPacker interface {
	Pack(dst []float32, panelStride, pc, kc, jc, nc, nr int)
}

// SgemmPacker computes C = alpha·op(A)·B + bias[i] on every row i (bias
// may be nil: no bias; C is not read), with B produced by packB, on up to
// threads goroutines. The result is bit-identical for every thread count,
// and equal to SgemmBias (or SgemmParallel with beta 0) on the stored B.
func SgemmPacker(threads, m, n, k int, a []float32, lda int, transA bool, packB BPacker,
	c []float32, ldc int, alpha float32, bias []float32) {
	if bias != nil && len(bias) < m {
		panic(fmt.Sprintf("kernels: bias has %d values for %d rows", len(bias), m))
	}
	if bias != nil {
		bias = bias[:m]
	}
	if packB == nil {
		panic("kernels: SgemmPacker needs a packer")
	}
	if g := newGemm(m, n, k, a, lda, transA, nil, 0, false, c, ldc, alpha, 0, bias); g != nil {
		g.packer = packB
		g.start(threads)
	}
}

func sgemm(threads, m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, transB bool,
	c []float32, ldc int, alpha, beta float32, bias []float32) {
	if transB {
		checkMatrix("B", b, n, k, ldb)
	} else {
		checkMatrix("B", b, k, n, ldb)
	}
	if g := newGemm(m, n, k, a, lda, transA, b, ldb, transB, c, ldc, alpha, beta, bias); g != nil {
		g.start(threads)
	}
}

// newGemm checks the arguments and handles the cases without products; it
// returns nil when nothing is left to multiply.
func newGemm(m, n, k int, a []float32, lda int, transA bool, b []float32, ldb int, transB bool,
	c []float32, ldc int, alpha, beta float32, bias []float32) *gemm {
	checkMatrix("C", c, m, n, ldc)
	if transA {
		checkMatrix("A", a, k, m, lda)
	} else {
		checkMatrix("A", a, m, k, lda)
	}
	if m == 0 || n == 0 {
		return nil
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, c, ldc, beta)
		if bias != nil {
			for i := 0; i < m; i++ {
				row := c[i*ldc : i*ldc+n]
				for j := range row {
					row[j] = bias[i]
				}
			}
		}
		return nil
	}
	if beta != 0 && beta != 1 {
		scaleC(m, n, c, ldc, beta)
	}
	return &gemm{
		kern: active, m: m, n: n, k: k,
		a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
		c: c, ldc: ldc, alpha: alpha, beta0: beta == 0, bias: bias,
	}
}

func (g *gemm) start(threads int) {
	if flops := 2 * float64(g.m) * float64(g.n) * float64(g.k); flops < float64(threads)*minThreadFlops {
		threads = max(1, int(flops/minThreadFlops))
	}
	if g.m <= smallM && g.packer == nil {
		g.runSmall(threads)
		return
	}
	g.run(threads)
}

// smallM is the largest m multiplied row by row with the vector kernels
// (Saxpy, Sdot) rather than by the tiled microkernel, most of whose rows
// would be padding.
const smallM = 4

// runSmall computes each row of C on its own: with B stored k×n, row i
// starts from its bias, zero or beta·C and gains alpha·a[i,p]·B[p,:] for
// p in order (Saxpy); with B stored n×k (transB), element (i, j) is its
// start plus Sdot(alpha·a[i,:], B[j,:]). Threads split the columns; an
// element's operations do not depend on the split.
func (g *gemm) runSmall(threads int) {
	abuf := getBuf(g.m * g.k)
	defer putBuf(abuf)
	arows := *abuf
	for i := 0; i < g.m; i++ {
		row := arows[i*g.k : (i+1)*g.k]
		for p := range row {
			if g.transA {
				row[p] = g.a[p*g.lda+i] * g.alpha
			} else {
				row[p] = g.a[i*g.lda+p] * g.alpha
			}
		}
	}
	work := func(jlo, jhi int) {
		for i := 0; i < g.m; i++ {
			arow := arows[i*g.k : (i+1)*g.k]
			crow := g.c[i*g.ldc+jlo : i*g.ldc+jhi]
			switch {
			case g.bias != nil:
				fillValue(crow, g.bias[i])
			case g.beta0:
				clear(crow)
			}
			if !g.transB {
				for p, av := range arow {
					Saxpy(av, g.b[p*g.ldb+jlo:p*g.ldb+jhi], crow)
				}
				continue
			}
			for j := range crow {
				crow[j] += Sdot(arow, g.b[(jlo+j)*g.ldb:(jlo+j)*g.ldb+g.k])
			}
		}
	}
	chunk := g.n
	if threads > 1 {
		chunk = max(64, roundUp((g.n+threads-1)/threads, 16))
	}
	if chunk >= g.n {
		work(0, g.n)
		return
	}
	var wg sync.WaitGroup
	for jlo := 0; jlo < g.n; jlo += chunk {
		wg.Add(1)
		go func(jlo int) {
			defer wg.Done()
			work(jlo, min(g.n, jlo+chunk))
		}(jlo)
	}
	wg.Wait()
}

func fillValue(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

func checkMatrix(name string, s []float32, rows, cols, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: negative dimension %d×%d of %s", rows, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: leading dimension %d of %s is below its %d columns", ld, name, cols))
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("kernels: %s has %d elements, a %d×%d matrix with stride %d needs %d", name, len(s), rows, cols, ld, need))
	}
}

// scaleC sets C = beta·C, writing zeros without reading C when beta is 0.
func scaleC(m, n int, c []float32, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemm is one call's arguments.
type gemm struct {
	kern    sgemmKernel
	m, n, k int
	a       []float32
	lda     int
	transA  bool
	b       []float32
	ldb     int
	transB  bool
	c       []float32
	ldc     int
	alpha   float32
	beta0   bool      // C starts as alpha·A·B, not read
	bias    []float32 // per-row first term of the sums, or nil
	packer  BPacker   // produces B instead of b, or nil
}

// bufPool recycles packing buffers between calls.
var bufPool sync.Pool

func getBuf(n int) *[]float32 {
	if p, ok := bufPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func putBuf(p *[]float32) { bufPool.Put(p) }

func (g *gemm) run(threads int) {
	mr, nr := g.kern.mr, g.kern.nr
	// Depth blocks depend on k alone, so every thread count sums in the
	// same order.
	nk := (g.k + blockK - 1) / blockK
	kcMax := (g.k + nk - 1) / nk
	mcMax := min(blockM/mr*mr, roundUp(g.m, mr))
	chunk := blockN
	if threads > 1 {
		chunk = min(blockN, max(4*nr, roundUp((g.n+threads-1)/threads, nr)))
	}
	chunks := (g.n + chunk - 1) / chunk
	threads = max(1, min(threads, chunks))

	apBuf := getBuf(mcMax * (kcMax + 1))
	defer putBuf(apBuf)
	ap := *apBuf
	work := make([]*worker, threads)
	for t := range work {
		work[t] = newWorker((kcMax+1)*min(chunk, roundUp(g.n, nr)), mr*nr)
		defer work[t].release()
	}

	for ic := 0; ic < g.m; ic += mcMax {
		mc := min(mcMax, g.m-ic)
		for pc := 0; pc < g.k; pc += kcMax {
			kc := min(kcMax, g.k-pc)
			g.packA(ap, ic, mc, pc, kc)
			add := pc > 0 || !g.beta0
			if pc == 0 && g.bias != nil {
				kc++ // the bias step
				add = false
			}
			if threads == 1 {
				for jc := 0; jc < g.n; jc += chunk {
					g.block(work[0], ap, ic, mc, pc, kc, jc, min(chunk, g.n-jc), add)
				}
				continue
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			for t := 0; t < threads; t++ {
				wg.Add(1)
				go func(w *worker) {
					defer wg.Done()
					for {
						ci := int(next.Add(1) - 1)
						if ci >= chunks {
							return
						}
						jc := ci * chunk
						g.block(w, ap, ic, mc, pc, kc, jc, min(chunk, g.n-jc), add)
					}
				}(work[t])
			}
			wg.Wait()
		}
	}
}

// worker holds one goroutine's packed B block and scratch tile.
type worker struct {
	bp, tmp *[]float32
}

func newWorker(bpLen, tileLen int) *worker {
	return &worker{bp: getBuf(bpLen), tmp: getBuf(tileLen)}
}

func (w *worker) release() {
	putBuf(w.bp)
	putBuf(w.tmp)
}

// block multiplies the packed A block (rows ic..ic+mc, depth pc..pc+kc) by
// columns jc..jc+nc of B into C.
func (g *gemm) block(w *worker, ap []float32, ic, mc, pc, kc, jc, nc int, add bool) {
	mr, nr := g.kern.mr, g.kern.nr
	bp := *w.bp
	tmp := *w.tmp
	g.packB(bp, pc, kc, jc, nc)
	fn := g.kern.fn
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		apan := ap[ir*kc : (ir+mr)*kc]
		for jr := 0; jr < nc; jr += nr {
			cols := min(nr, nc-jr)
			bpan := bp[jr*kc : (jr+nr)*kc]
			off := (ic+ir)*g.ldc + jc + jr
			if rows == mr && cols == nr {
				fn(kc, apan, bpan, g.c[off:], g.ldc, add)
				continue
			}
			// Edge tile: the same full-tile computation, then only
			// the valid part is stored, with the same final addition.
			fn(kc, apan, bpan, tmp, nr, false)
			for i := 0; i < rows; i++ {
				dst := g.c[off+i*g.ldc : off+i*g.ldc+cols]
				src := tmp[i*nr : i*nr+cols]
				if add {
					for j, v := range src {
						dst[j] = dst[j] + v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

// packA copies rows ic..ic+mc, depth pc..pc+kc of alpha·op(A) into panels
// of mr rows: element (i, p) of a panel at p*mr+i, missing rows zero.
func (g *gemm) packA(ap []float32, ic, mc, pc, kc int) {
	mr := g.kern.mr
	alpha := g.alpha
	if pc == 0 && g.bias != nil {
		// Depth step 0 holds the bias column.
		for ir := 0; ir < mc; ir += mr {
			dst := ap[ir*(kc+1) : (ir+mr)*(kc+1)]
			rows := min(mr, mc-ir)
			copy(dst[:rows], g.bias[ic+ir:ic+ir+rows])
			clear(dst[rows:mr])
			g.packAPanel(dst[mr:], ic+ir, rows, pc, kc, alpha)
		}
		return
	}
	for ir := 0; ir < mc; ir += mr {
		g.packAPanel(ap[ir*kc:(ir+mr)*kc], ic+ir, min(mr, mc-ir), pc, kc, alpha)
	}
}

// packAPanel packs rows i0..i0+rows of alpha·op(A), depth pc..pc+kc, into
// one panel of mr rows.
func (g *gemm) packAPanel(dst []float32, i0, rows, pc, kc int, alpha float32) {
	mr := g.kern.mr
	if !g.transA {
		for i := 0; i < rows; i++ {
			src := g.a[(i0+i)*g.lda+pc:]
			src = src[:kc]
			for p, v := range src {
				dst[p*mr+i] = v * alpha
			}
		}
		for i := rows; i < mr; i++ {
			for p := 0; p < kc; p++ {
				dst[p*mr+i] = 0
			}
		}
		return
	}
	for p := 0; p < kc; p++ {
		src := g.a[(pc+p)*g.lda+i0:]
		src = src[:rows]
		d := dst[p*mr : p*mr+mr]
		for i, v := range src {
			d[i] = v * alpha
		}
		clear(d[rows:])
	}
}

// packB copies depth pc..pc+kc, columns jc..jc+nc of op(B) into panels of
// nr columns: element (p, j) of a panel at p*nr+j, missing columns zero.
// With a bias, kc counts the extra first step: a row of ones.
func (g *gemm) packB(bp []float32, pc, kc, jc, nc int) {
	nr := g.kern.nr
	ones := pc == 0 && g.bias != nil
	if g.packer != nil {
		if ones {
			for jr := 0; jr < nc; jr += nr {
				fillOnes(bp[jr*kc : jr*kc+nr])
			}
			g.packer.Pack(bp[nr:], nr*kc, pc, kc-1, jc, nc, nr)
			return
		}
		g.packer.Pack(bp, nr*kc, pc, kc, jc, nc, nr)
		return
	}
	for jr := 0; jr < nc; jr += nr {
		dst := bp[jr*kc : (jr+nr)*kc]
		cols := min(nr, nc-jr)
		depth := kc
		if ones {
			for j := range dst[:nr] {
				dst[j] = 1
			}
			dst = dst[nr:]
			depth--
		}
		if !g.transB {
			for p := 0; p < depth; p++ {
				src := g.b[(pc+p)*g.ldb+jc+jr:]
				d := dst[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		for j := 0; j < cols; j++ {
			src := g.b[(jc+jr+j)*g.ldb+pc:]
			src = src[:depth]
			for p, v := range src {
				dst[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < depth; p++ {
				dst[p*nr+j] = 0
			}
		}
	}
}

func fillOnes(s []float32) {
	for i := range s {
		s[i] = 1
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }
