// This file holds Saxpy, the vector update behind the direct depthwise
// convolution, with its portable loop.

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
