// This file benchmarks Sgemm on square matrices, reporting GFLOP/s.

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchSgemm(b *testing.B, n, threads int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]float32, n*n)
	bb := make([]float32, n*n)
	c := make([]float32, n*n)
	for i := range a {
		a[i] = float32(r.Float64())
		bb[i] = float32(r.Float64())
	}
	b.ResetTimer()
	for b.Loop() {
		SgemmParallel(threads, n, n, n, a, n, false, bb, n, false, c, n, 1, 0)
	}
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm runs one thread with the best microkernel.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchSgemm(b, n, 1) })
	}
}

// BenchmarkSgemmKernels runs each microkernel on one thread.
func BenchmarkSgemmKernels(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	for _, k := range kernels() {
		active = k
		b.Run(fmt.Sprintf("%s/256", k.name), func(b *testing.B) { benchSgemm(b, 256, 1) })
	}
}

// BenchmarkSgemmThreads runs 1024³ on 2 threads.
func BenchmarkSgemmThreads(b *testing.B) {
	b.Run("1024x2", func(b *testing.B) { benchSgemm(b, 1024, 2) })
}
