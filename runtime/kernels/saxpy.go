// This file holds the vector kernels Saxpy and Sdot, behind the
// matrix-vector products, with their portable loops.

package kernels

// Saxpy sets y[i] = a·x[i] + y[i] for i < len(y); x must be at least as
// long as y. On amd64 with AVX2/FMA or AVX-512 every element is one fused
// multiply-add, whatever its position (the vector body and the scalar tail
// round alike).
func Saxpy(a float32, x, y []float32) {
	if len(y) == 0 {
		return
	}
	if len(x) < len(y) {
		panic("kernels: Saxpy x is shorter than y")
	}
	saxpy(a, x[:len(y)], y)
}

// saxpyGo is the plain loop.
func saxpyGo(a float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += a * v
	}
}

// Sdot returns Σ x[i]·y[i] over i < len(x); y must be at least as long.
// The assembly versions keep several partial sums (by lane and by
// unrolled step) and add them in a fixed order, so the result depends
// only on the inputs and the CPU's kernel, not on the caller.
func Sdot(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	if len(y) < len(x) {
		panic("kernels: Sdot y is shorter than x")
	}
	return sdot(x, y[:len(x)])
}

// sdotGo is the plain loop.
func sdotGo(x, y []float32) float32 {
	var s float32
	y = y[:len(x)]
	for i, v := range x {
		s += v * y[i]
	}
	return s
}
