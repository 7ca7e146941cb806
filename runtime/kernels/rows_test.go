// This file tests the row kernels: every implementation against the plain
// loops, lengths around the vector widths, guard elements after dst.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// rowImpls lists the implementations of a row kernel runnable here.
type rowImpl struct {
	name  string
	conv  func(dst []float32, bias float32, src []float32, off []int, w []float32)
	max   func(dst []float32, src []float32, off []int)
	fused bool
}

func rowImpls() []rowImpl {
	impls := []rowImpl{{name: "go", conv: convRowsGo, max: maxRowsGo}}
	impls = append(impls, rowImpl{name: "best", conv: convRows, max: maxRows, fused: KernelName() != "go"})
	return append(impls, extraRowImpls()...)
}

func TestConvRows(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	for _, impl := range rowImpls() {
		for n := 1; n < 150; n++ {
			taps := 1 + n%11
			src := make([]float32, 3*n+40)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			off := make([]int, taps)
			w := make([]float32, taps)
			for i := range off {
				off[i] = r.IntN(len(src) - n + 1)
				w[i] = float32(r.NormFloat64())
			}
			dst := make([]float32, n+9)
			for i := range dst {
				dst[i] = -7
			}
			bias := float32(r.NormFloat64())
			impl.conv(dst[:n], bias, src, off, w)
			for i := range dst {
				if i >= n {
					if dst[i] != -7 {
						t.Fatalf("%s n=%d: guard %d written", impl.name, n, i)
					}
					continue
				}
				want, mag := float64(bias), math.Abs(float64(bias))
				for k := range off {
					p := float64(w[k]) * float64(src[off[k]+i])
					want += p
					mag += math.Abs(p)
				}
				if d := math.Abs(float64(dst[i]) - want); d > float64(taps+1)*mag/(1<<23) {
					t.Fatalf("%s n=%d taps=%d: dst[%d] = %v, want %v", impl.name, n, taps, i, dst[i], want)
				}
			}
		}
	}
}

// TestConvRowsFusedAgree checks that the fused implementations give the
// same bits (vector body and tail alike).
func TestConvRowsFusedAgree(t *testing.T) {
	var fused []rowImpl
	for _, impl := range rowImpls() {
		if impl.fused {
			fused = append(fused, impl)
		}
	}
	if len(fused) < 2 {
		t.Skip("fewer than two fused implementations")
	}
	r := rand.New(rand.NewPCG(6, 7))
	for n := 1; n < 200; n++ {
		src := make([]float32, n+30)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		off := []int{0, 1, 2, 10, 20, 30}
		w := []float32{0.3, -1.7, 2.5, 0.1, -0.01, 1e3}
		var want []float32
		for _, impl := range fused {
			dst := make([]float32, n)
			impl.conv(dst, 0.25, src, off, w)
			if want == nil {
				want = dst
				continue
			}
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d: %s gives %v at %d, %s %v", n, impl.name, dst[i], i, fused[0].name, want[i])
				}
			}
		}
	}
}

func TestMaxRows(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	nan := float32(math.NaN())
	for _, impl := range rowImpls() {
		for n := 1; n < 150; n++ {
			taps := 1 + n%10
			src := make([]float32, 2*n+30)
			for i := range src {
				src[i] = float32(r.NormFloat64())
				if r.IntN(40) == 0 {
					src[i] = nan
				}
				if r.IntN(40) == 0 {
					src[i] = float32(math.Copysign(0, r.NormFloat64()))
				}
			}
			off := make([]int, taps)
			for i := range off {
				off[i] = r.IntN(len(src) - n + 1)
			}
			dst := make([]float32, n+5)
			for i := range dst {
				dst[i] = -9
			}
			want := make([]float32, n)
			maxRowsGo(want, src, off)
			impl.max(dst[:n], src, off)
			for i := range dst {
				if i >= n {
					if dst[i] != -9 {
						t.Fatalf("%s n=%d: guard %d written", impl.name, n, i)
					}
					continue
				}
				g, w := dst[i], want[i]
				if g != g && w != w {
					continue
				}
				if math.Float32bits(g) != math.Float32bits(w) {
					t.Fatalf("%s n=%d: dst[%d] = %v, loop gives %v", impl.name, n, i, g, w)
				}
			}
		}
	}
}

func TestDeinterleave(t *testing.T) {
	for n := 0; n < 100; n++ {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(i)
		}
		even := make([]float32, (n+1)/2)
		odd := make([]float32, n/2)
		Deinterleave(even, odd, src)
		for i := range even {
			if even[i] != float32(2*i) {
				t.Fatalf("n=%d: even[%d] = %v", n, i, even[i])
			}
		}
		for i := range odd {
			if odd[i] != float32(2*i+1) {
				t.Fatalf("n=%d: odd[%d] = %v", n, i, odd[i])
			}
		}
	}
}

func TestRowsOutOfRangePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a row past the source")
		}
	}()
	ConvRows(make([]float32, 4), 0, make([]float32, 5), []int{2}, []float32{1})
}

// TestConvRows4 checks that the four-output form gives the bits of four
// ConvRows calls, with guards between and after the outputs.
func TestConvRows4(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	for n := 1; n < 200; n++ {
		taps := 1 + n%13
		src := make([]float32, 2*n+50)
		for i := range src {
			src[i] = float32(r.NormFloat64())
		}
		off := make([]int, taps)
		w := make([]float32, 4*taps)
		for i := range off {
			off[i] = r.IntN(len(src) - n + 1)
		}
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		bias := []float32{0.5, -1, 2, 0}
		ldd := n + 3
		dst := make([]float32, 4*ldd+7)
		for i := range dst {
			dst[i] = -5
		}
		ConvRows4(dst, ldd, n, bias, src, off, w)
		wj := make([]float32, taps)
		for j := 0; j < 4; j++ {
			for t := range wj {
				wj[t] = w[4*t+j]
			}
			want := make([]float32, n)
			ConvRows(want, bias[j], src, off, wj)
			for i := 0; i < ldd; i++ {
				got := dst[j*ldd+i]
				if i >= n {
					if got != -5 {
						t.Fatalf("n=%d: guard after output %d written", n, j)
					}
					continue
				}
				if math.Float32bits(got) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d taps=%d: output %d element %d is %v, ConvRows gives %v", n, taps, j, i, got, want[i])
				}
			}
		}
		for _, v := range dst[4*ldd:] {
			if v != -5 {
				t.Fatalf("n=%d: tail guard written", n)
			}
		}
	}
}

func TestInterleave(t *testing.T) {
	for n := 0; n < 100; n++ {
		even := make([]float32, (n+1)/2)
		odd := make([]float32, n/2)
		for i := range even {
			even[i] = float32(2 * i)
		}
		for i := range odd {
			odd[i] = float32(2*i + 1)
		}
		dst := make([]float32, n+3)
		for i := range dst {
			dst[i] = -1
		}
		Interleave(dst[:n], even, odd)
		for i, v := range dst {
			want := float32(i)
			if i >= n {
				want = -1
			}
			if v != want {
				t.Fatalf("n=%d: dst[%d] = %v", n, i, v)
			}
		}
	}
}
