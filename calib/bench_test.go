// Benchmarks: the memory observers hold after 32 and 512 samples, and the
// cost of observing and of choosing ranges.

package calib

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchTensors is the number of tensors and benchValues the values per
// tensor of one calibration sample.
const (
	benchTensors = 16
	benchValues  = 4096
)

// calibrate observes samples samples of benchTensors tensors; each sample
// is louder than the last, so the histograms keep re-binning.
func calibrate(b *testing.B, m Method, samples int, pool [][]float32) *Collection {
	c := newColl(b, m, Options{})
	scaled := make([]float32, benchValues)
	for s := range samples {
		f := float32(1 + s)
		for t := range benchTensors {
			for i, x := range pool[(s+t)%len(pool)] {
				scaled[i] = x * f
			}
			c.Observe(fmt.Sprintf("t%02d", t), scaled)
		}
	}
	return c
}

// BenchmarkEntropyMemory reports, for each histogram method and for
// MinMax, the heap the collection holds after calibrating on 32 and on 512
// samples (held-B, measured with runtime.MemStats after a collection) and
// the observers' own size (state-B). Both stay flat as the samples grow:
//
//	go test ./calib -run '^$' -bench EntropyMemory -benchtime 3x
func BenchmarkEntropyMemory(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	pool := make([][]float32, 8)
	for i := range pool {
		pool[i] = gaussian(r, benchValues, 0, 1)
	}
	for _, m := range []Method{Entropy, Percentile, MSE, MinMax} {
		for _, samples := range []int{32, 512} {
			b.Run(fmt.Sprintf("%s/samples=%d", m, samples), func(b *testing.B) {
				var held, state int
				for b.Loop() {
					var before, after runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&before)
					c := calibrate(b, m, samples, pool)
					runtime.GC()
					runtime.ReadMemStats(&after)
					held = int(after.HeapAlloc) - int(before.HeapAlloc)
					state = c.HeldBytes()
					runtime.KeepAlive(c)
				}
				b.ReportMetric(float64(held), "held-B")
				b.ReportMetric(float64(state), "state-B")
			})
		}
	}
}

// BenchmarkRanges measures choosing the range of one full histogram.
func BenchmarkRanges(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	data := gaussian(r, 1<<16, 0, 1)
	data[0] = 40
	for _, m := range []Method{Entropy, Percentile, MSE} {
		for _, ho := range histOptions {
			b.Run(fmt.Sprintf("%s/%s", m, ho.name), func(b *testing.B) {
				c := newColl(b, m, ho.opts)
				c.Observe("x", data)
				for b.Loop() {
					c.Ranges()
				}
			})
		}
	}
}

// BenchmarkObserve measures feeding one 64K-value batch to a histogram.
func BenchmarkObserve(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	data := gaussian(r, 1<<16, 0, 1)
	c := newColl(b, Entropy, Options{})
	b.SetBytes(int64(4 * len(data)))
	for b.Loop() {
		c.Observe("x", data)
	}
}
