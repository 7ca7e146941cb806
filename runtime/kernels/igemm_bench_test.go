// This file benchmarks the INT8 GEMM on one thread, reporting Gops/s
// (2·m·n·k operations: one multiply and one add per product) per second of
// wall time and, on Linux, per second of the benchmark thread's CPU time.

package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

func benchIgemm(b *testing.B, m, n, k, threads int, signed, rowSums bool) {
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]byte, m*k)
	bb := make([]int8, k*n)
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	for i := range bb {
		bb[i] = int8(r.Uint32())
	}
	pb := PackB8(k, n, bb, n, false)
	c := make([]int32, m*n)
	as := int8s(a)
	var sums []int32
	if rowSums {
		sums = make([]int32, m)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPUSeconds()
	for b.Loop() {
		if signed {
			IgemmS8(threads, m, n, k, as, k, pb, c, n, sums)
		} else {
			Igemm(threads, m, n, k, a, k, pb, c, n, sums)
		}
	}
	ops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "Gops/s")
	if cpu := threadCPUSeconds() - cpu0; threads == 1 && cpu > 0 {
		// Per second of this thread's CPU time: the speed of the
		// kernel on a core of its own when other work shares the
		// machine.
		b.ReportMetric(ops/cpu/1e9, "cpu-Gops/s")
	}
}

// BenchmarkIgemm runs one thread with the best microkernel on square
// shapes and on convolution shapes seen through im2col: m output pixels,
// n output channels, k = input channels × kernel area.
func BenchmarkIgemm(b *testing.B) {
	for _, s := range [][3]int{
		{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
		{3136, 64, 576},  // 56×56 pixels, 64 channels, 3×3×64
		{784, 128, 1152}, // 28×28, 128, 3×3×128
		{196, 256, 2304}, // 14×14, 256, 3×3×256
		{6400, 32, 288},  // 80×80, 32, 3×3×32
		{1600, 64, 64},   // 40×40, 64, 1×1×64
		{25600, 16, 144}, // 160×160, 16, 3×3×16
		{6400, 24, 216},  // 80×80, 24, 3×3×24
	} {
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) { benchIgemm(b, s[0], s[1], s[2], 1, false, false) })
	}
}

// BenchmarkIgemmS8 runs int8 activations (the +128 shift) at 512³.
func BenchmarkIgemmS8(b *testing.B) {
	b.Run("512x512x512", func(b *testing.B) { benchIgemm(b, 512, 512, 512, 1, true, false) })
}

// BenchmarkIgemmRowSums asks for the row sums of A as well, on a
// convolution shape.
func BenchmarkIgemmRowSums(b *testing.B) {
	b.Run("3136x64x576", func(b *testing.B) { benchIgemm(b, 3136, 64, 576, 1, false, true) })
}

// BenchmarkIgemmKernels runs each microkernel on one thread at 256³.
func BenchmarkIgemmKernels(b *testing.B) {
	saved := activeI8
	defer func() { activeI8 = saved }()
	for _, k := range igemmKernels() {
		activeI8 = k
		b.Run(fmt.Sprintf("%s/256", k.name), func(b *testing.B) { benchIgemm(b, 256, 256, 256, 1, false, false) })
	}
}

// BenchmarkIgemmThreads runs 1024³ on 2 threads.
func BenchmarkIgemmThreads(b *testing.B) {
	b.Run("1024x2", func(b *testing.B) { benchIgemm(b, 1024, 1024, 1024, 2, false, false) })
}
