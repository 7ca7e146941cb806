// This file holds the matrix-product kernels MatMul (numpy broadcasting of
// batch dimensions, 1-D operands) and Gemm (transposes, alpha/beta, C
// broadcast). Float32 runs on kernels.Sgemm; float16 and bfloat16 go
// through float32; float64 and the integer types use a plain loop.

package runtime

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerGemm(r *Registry) {
	r.Register("", "MatMul", func(n *graph.Node, opset int64) (Kernel, error) {
		return KernelFunc(runMatMul), nil
	})
	r.Register("", "Gemm", buildGemm)
}

// maxElements bounds the size of an output computed from input shapes, so
// a broadcast of large dimensions fails cleanly instead of exhausting
// memory.
const maxElements = 1 << 30

// checkedElements multiplies dims, failing on overflow or when the product
// exceeds maxElements.
func checkedElements(dims ...int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d", d)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("output of %v elements is too large", dims)
		}
		n *= d
	}
	return n, nil
}

// matmulPlan describes a batched product: nb products of m×k by k×n; the
// i-th reads A at aOff(i) and B at bOff(i) (element offsets).
type matmulPlan struct {
	out          []int
	m, k, n, nb  int
	batch        []int // broadcast batch shape
	aStr, bStr   []int // per batch axis, in matrices (0 where broadcast)
	aSize, bSize int   // elements of one A and one B matrix
}

func (p *matmulPlan) offsets(i int) (int, int) {
	ao, bo := 0, 0
	for ax := len(p.batch) - 1; ax >= 0; ax-- {
		c := i % p.batch[ax]
		i /= p.batch[ax]
		ao += c * p.aStr[ax]
		bo += c * p.bStr[ax]
	}
	return ao * p.aSize, bo * p.bSize
}

func planMatMul(as, bs []int) (*matmulPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("MatMul operands must have rank >= 1, got shapes %v and %v", as, bs)
	}
	a1, b1 := len(as) == 1, len(bs) == 1
	if a1 {
		as = []int{1, as[0]}
	}
	if b1 {
		bs = []int{bs[0], 1}
	}
	p := &matmulPlan{m: as[len(as)-2], k: as[len(as)-1], n: bs[len(bs)-1]}
	if bs[len(bs)-2] != p.k {
		return nil, fmt.Errorf("MatMul inner dimensions differ: shapes %v and %v", as, bs)
	}
	aBatch, bBatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := BroadcastShape(aBatch, bBatch)
	if err != nil {
		return nil, fmt.Errorf("MatMul batch dimensions: %v", err)
	}
	p.out = append([]int{}, batch...)
	if !a1 {
		p.out = append(p.out, p.m)
	}
	if !b1 {
		p.out = append(p.out, p.n)
	}
	if p.nb, err = checkedElements(batch...); err != nil {
		return nil, err
	}
	if _, err := checkedElements(p.nb, p.m, p.n); err != nil {
		return nil, err
	}
	p.batch = batch
	p.aStr = broadcastStrides(aBatch, batch)
	p.bStr = broadcastStrides(bBatch, batch)
	p.aSize, p.bSize = p.m*p.k, p.k*p.n
	// A stack of A matrices times one B matrix is one tall product.
	if p.nb > 1 && allOnes(bBatch) && len(aBatch) == len(batch) && equalShape(aBatch, batch) {
		p.m *= p.nb
		p.nb, p.batch, p.aStr, p.bStr = 1, nil, nil, nil
		p.aSize = p.m * p.k
	}
	return p, nil
}

func allOnes(s []int) bool {
	for _, d := range s {
		if d != 1 {
			return false
		}
	}
	return true
}

func runMatMul(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("MatMul needs inputs A and B")
	}
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return nil, fmt.Errorf("MatMul operand types differ: %v and %v", a.DType, b.DType)
	}
	p, err := planMatMul(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	threads := 1
	if ctx != nil {
		threads = ctx.Threads
	}
	switch a.DType {
	case graph.Float32:
		out := ctx.Alloc(graph.Float32, p.out...)
		matmulF32(ctx, threads, p, a.F32(), b.F32(), out.F32())
		return []*Tensor{out}, nil
	case graph.Float16, graph.BFloat16:
		af, bf := floatsOf32(a), floatsOf32(b)
		c := make([]float32, p.nb*p.m*p.n)
		matmulF32(ctx, threads, p, af, bf, c)
		out := New(a.DType, p.out...)
		storeFloats32(out, c)
		return []*Tensor{out}, nil
	case graph.Float64:
		return matmulLoopTensor[float64](ctx, p, a, b)
	case graph.Int32:
		return matmulLoopTensor[int32](ctx, p, a, b)
	case graph.Int64:
		return matmulLoopTensor[int64](ctx, p, a, b)
	case graph.Uint32:
		return matmulLoopTensor[uint32](ctx, p, a, b)
	case graph.Uint64:
		return matmulLoopTensor[uint64](ctx, p, a, b)
	}
	return nil, fmt.Errorf("MatMul does not support %v", a.DType)
}

// matmulF32 runs the batch of products. Each product's values do not
// depend on the threads it gets, so the split is free.
func matmulF32(ctx *Context, threads int, p *matmulPlan, a, b, c []float32) {
	nb := p.nb
	mn := p.m * p.n
	if mn == 0 {
		return
	}
	one := func(i, th int) {
		ao, bo := p.offsets(i)
		kernels.SgemmParallel(th, p.m, p.n, p.k, a[ao:], p.k, false, b[bo:], p.n, false,
			c[i*mn:(i+1)*mn], p.n, 1, 0)
	}
	if nb >= threads && nb > 1 {
		ctx.Parallel(nb, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, 1)
			}
		})
		return
	}
	for i := 0; i < nb; i++ {
		one(i, threads)
	}
}

// mmNumber are the element types multiplied with a plain loop.
type mmNumber interface {
	~float64 | ~int32 | ~int64 | ~uint32 | ~uint64
}

func matmulLoopTensor[T mmNumber](ctx *Context, p *matmulPlan, a, b *Tensor) ([]*Tensor, error) {
	out := New(a.DType, p.out...)
	av, bv, cv := a.Data.([]T), b.Data.([]T), out.Data.([]T)
	mn := p.m * p.n
	ctx.Parallel(p.nb, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ao, bo := p.offsets(i)
			matmulLoop(p.m, p.n, p.k, av[ao:], bv[bo:], cv[i*mn:(i+1)*mn])
		}
	})
	return []*Tensor{out}, nil
}

// matmulLoop sets c (m×n) to a (m×k) times b (k×n); integers wrap.
func matmulLoop[T mmNumber](m, n, k int, a, b, c []T) {
	for i := 0; i < m; i++ {
		row := c[i*n : i*n+n]
		clear(row)
		for p := 0; p < k; p++ {
			av := a[i*k+p]
			brow := b[p*n : p*n+n]
			for j, bv := range brow {
				row[j] += av * bv
			}
		}
	}
}

// gemmKernel is Gemm with its attributes read.
type gemmKernel struct {
	alpha, beta    float32
	transA, transB bool
}

func buildGemm(n *graph.Node, opset int64) (Kernel, error) {
	return &gemmKernel{
		alpha:  n.AttrFloat("alpha", 1),
		beta:   n.AttrFloat("beta", 1),
		transA: n.AttrInt("transA", 0) != 0,
		transB: n.AttrInt("transB", 0) != 0,
	}, nil
}

func (g *gemmKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Gemm needs inputs A and B")
	}
	a, b := in[0], in[1]
	var c *Tensor
	if len(in) > 2 {
		c = in[2]
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("Gemm needs 2-D A and B, got shapes %v and %v", a.Shape, b.Shape)
	}
	if a.DType != b.DType || c != nil && c.DType != a.DType {
		return nil, fmt.Errorf("Gemm operand types differ")
	}
	m, k := a.Shape[0], a.Shape[1]
	if g.transA {
		m, k = k, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if g.transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, fmt.Errorf("Gemm inner dimensions differ: A %v (transA %v), B %v (transB %v)", a.Shape, g.transA, b.Shape, g.transB)
	}
	if _, err := checkedElements(m, n); err != nil {
		return nil, err
	}
	useC := c != nil && g.beta != 0
	if c != nil {
		if c.Rank() > 2 {
			return nil, fmt.Errorf("Gemm C of shape %v does not broadcast to [%d %d]", c.Shape, m, n)
		}
		if s, err := BroadcastShape(c.Shape, []int{m, n}); err != nil || s[0] != m || s[1] != n {
			return nil, fmt.Errorf("Gemm C of shape %v does not broadcast to [%d %d]", c.Shape, m, n)
		}
	}
	lda, ldb := a.Shape[1], b.Shape[1]
	threads := 1
	if ctx != nil {
		threads = ctx.Threads
	}
	switch a.DType {
	case graph.Float32, graph.Float16, graph.BFloat16:
		var y *Tensor
		var yv []float32
		if a.DType == graph.Float32 {
			y = ctx.Alloc(graph.Float32, m, n)
			yv = y.F32()
		} else {
			y = New(a.DType, m, n)
			yv = make([]float32, m*n)
		}
		beta := float32(0)
		if useC {
			broadcastFill(yv, floatsOf32(c), c.Shape, m, n)
			beta = g.beta
		}
		kernels.SgemmParallel(threads, m, n, k, floatsOf32(a), lda, g.transA, floatsOf32(b), ldb, g.transB, yv, n, g.alpha, beta)
		if a.DType != graph.Float32 {
			storeFloats32(y, yv)
		}
		return []*Tensor{y}, nil
	case graph.Float64:
		return gemmLoop[float64](g, a, b, c, useC, m, n, k)
	case graph.Int32:
		return gemmLoop[int32](g, a, b, c, useC, m, n, k)
	case graph.Int64:
		return gemmLoop[int64](g, a, b, c, useC, m, n, k)
	case graph.Uint32:
		return gemmLoop[uint32](g, a, b, c, useC, m, n, k)
	case graph.Uint64:
		return gemmLoop[uint64](g, a, b, c, useC, m, n, k)
	}
	return nil, fmt.Errorf("Gemm does not support %v", a.DType)
}

// broadcastFill writes C (shape cs, rank <= 2, broadcastable to m×n) into
// the m×n matrix y.
func broadcastFill[T any](y, c []T, cs []int, m, n int) {
	rows, cols := 1, 1
	switch len(cs) {
	case 1:
		cols = cs[0]
	case 2:
		rows, cols = cs[0], cs[1]
	}
	for i := 0; i < m; i++ {
		src := c[(i%rows)*cols:]
		row := y[i*n : i*n+n]
		if cols == n {
			copy(row, src[:n])
			continue
		}
		v := src[0]
		for j := range row {
			row[j] = v
		}
	}
}

// gemmLoop is Gemm for float64 and integers: the sum of products in T,
// then alpha and beta applied in float64 when they are not 1 (integers
// truncate toward zero, as a cast does).
func gemmLoop[T mmNumber](g *gemmKernel, a, b, c *Tensor, useC bool, m, n, k int) ([]*Tensor, error) {
	av, bv := a.Data.([]T), b.Data.([]T)
	y := New(a.DType, m, n)
	yv := y.Data.([]T)
	var cb []T
	if useC {
		cb = make([]T, m*n)
		broadcastFill(cb, c.Data.([]T), c.Shape, m, n)
	}
	lda, ldb := a.Shape[1], b.Shape[1]
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s T
			for p := 0; p < k; p++ {
				x, w := av[i*lda+p], bv[p*ldb+j]
				if g.transA {
					x = av[p*lda+i]
				}
				if g.transB {
					w = bv[j*ldb+p]
				}
				s += x * w
			}
			if g.alpha != 1 {
				s = T(float64(g.alpha) * float64(s))
			}
			if useC {
				if g.beta == 1 {
					s += cb[i*n+j]
				} else {
					s += T(float64(g.beta) * float64(cb[i*n+j]))
				}
			}
			yv[i*n+j] = s
		}
	}
	return []*Tensor{y}, nil
}
