// This file tests Saxpy against a float64 reference over lengths around
// its vector widths, with guard elements after y.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSaxpy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	impls := map[string]func(a float32, x, y []float32){"go": saxpyGo, "best": saxpy}
	for name, f := range impls {
		for n := 0; n < 300; n++ {
			a := float32(r.NormFloat64())
			x := make([]float32, n+3)
			y := make([]float32, n+5)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			for i := range y {
				y[i] = float32(r.NormFloat64())
			}
			y0 := append([]float32(nil), y...)
			x0 := append([]float32(nil), x...)
			if n > 0 {
				f(a, x, y[:n])
			}
			for i := range y {
				if i >= n {
					if y[i] != y0[i] {
						t.Fatalf("%s n=%d: guard %d written", name, n, i)
					}
					continue
				}
				want := float64(a)*float64(x[i]) + float64(y0[i])
				// One rounding (fused) or two (product, then sum).
				bound := math.Abs(float64(math.Nextafter32(float32(want), float32(math.Inf(1))) - float32(want)))
				if name == "go" || KernelName() == "go" {
					bound = math.Abs(float64(a)*float64(x[i]))/(1<<23) + math.Abs(want)/(1<<23)
				}
				if d := math.Abs(float64(y[i]) - want); d > bound {
					t.Fatalf("%s n=%d: y[%d] = %v, want %v", name, n, i, y[i], want)
				}
			}
			for i := range x {
				if x[i] != x0[i] {
					t.Fatalf("%s: x modified", name)
				}
			}
		}
	}
	Saxpy(2, nil, nil)
}

func TestSdot(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	for n := 0; n < 400; n++ {
		x := make([]float32, n)
		y := make([]float32, n+3)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for i := range y {
			y[i] = float32(r.NormFloat64())
		}
		var want, mag float64
		for i := range x {
			want += float64(x[i]) * float64(y[i])
			mag += math.Abs(float64(x[i]) * float64(y[i]))
		}
		for name, f := range map[string]func(x, y []float32) float32{"go": sdotGo, "best": Sdot} {
			if n == 0 && name == "go" {
				continue
			}
			got := f(x, y)
			if d := math.Abs(float64(got) - want); d > float64(n+1)*mag/(1<<23)+1e-30 {
				t.Fatalf("%s n=%d: %v, want %v", name, n, got, want)
			}
			if again := f(x, y); math.Float32bits(again) != math.Float32bits(got) {
				t.Fatalf("%s n=%d: not repeatable", name, n)
			}
		}
	}
}
