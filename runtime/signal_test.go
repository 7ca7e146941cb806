// Tests of the signal kernels: the FFT against a direct float64 DFT for
// many lengths, DFT round trips (complex, real one-sided, padded and
// truncated lengths, axes), STFT against DFTs of frames, window shapes,
// MelWeightMatrix, Det on known matrices, and bad inputs.
package runtime

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestFFTMatchesDirectDFT(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 30, 64, 65, 97, 100, 128, 300, 1000} {
		in := make([]complex128, n)
		for i := range in {
			in[i] = complex(r.NormFloat64(), r.NormFloat64())
		}
		p := newFFTPlan(n)
		for _, inverse := range []bool{false, true} {
			out := make([]complex128, n)
			p.transform(out, in, make([]complex128, p.scratchLen()), inverse)
			sign := -1.0
			if inverse {
				sign = 1
			}
			for k := 0; k < n; k++ {
				var s complex128
				for j := 0; j < n; j++ {
					s += in[j] * cmplx.Exp(complex(0, sign*2*math.Pi*float64(j*k)/float64(n)))
				}
				if inverse {
					s /= complex(float64(n), 0)
				}
				if cmplx.Abs(s-out[k]) > 1e-10*float64(n) {
					t.Fatalf("n=%d inverse=%v: bin %d is %v, want %v", n, inverse, k, out[k], s)
				}
			}
		}
	}
}

// dftRun runs DFT at opset 20 with axis and dft_length inputs (dftLen 0:
// omitted).
func dftRun(t *testing.T, x *Tensor, axis int64, dftLen int64, attrs ...*graph.Attribute) *Tensor {
	t.Helper()
	var length *Tensor
	if dftLen > 0 {
		length = FromInt64(nil, []int64{dftLen})
	}
	return ewMust(t, ewNode("DFT", 1, attrs...), 20, x, length, FromInt64(nil, []int64{axis}))
}

func TestDFTRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	inv, one := ewInt("inverse", 1), ewInt("onesided", 1)
	for _, n := range []int{6, 7, 8} {
		x := ewRand(r, 1, 3, n, 2, 2) // complex, transform axis 1
		y := dftRun(t, x, 1, 0)
		back := dftRun(t, y, -3, 0, inv)
		if d := maxAbsDiff(f64s(back), f64s(x)); d > 1e-5 {
			t.Errorf("n=%d: complex round trip differs by %g", n, d)
		}
		sigR := ewRand(r, 1, 2, 3, n, 1) // real, transform axis 2
		half := dftRun(t, sigR, 2, 0, one)
		if !equalShape(half.Shape, []int{2, 3, n/2 + 1, 2}) {
			t.Fatalf("n=%d: one-sided shape %v", n, half.Shape)
		}
		full := dftRun(t, sigR, 2, 0)
		for i := 0; i < 2*3; i++ {
			for k := 0; k <= n/2; k++ {
				for c := 0; c < 2; c++ {
					if half.F32()[(i*(n/2+1)+k)*2+c] != full.F32()[(i*n+k)*2+c] {
						t.Fatalf("n=%d: one-sided bin %d differs from the full transform", n, k)
					}
				}
			}
		}
		// The inverse of a one-sided spectrum with the original length
		// recovers the real signal, odd lengths included.
		rec := dftRun(t, half, 2, int64(n), inv, one)
		if !equalShape(rec.Shape, sigR.Shape) {
			t.Fatalf("n=%d: IRFFT shape %v", n, rec.Shape)
		}
		if d := maxAbsDiff(f64s(rec), f64s(sigR)); d > 1e-5 {
			t.Errorf("n=%d: real round trip differs by %g", n, d)
		}
	}
	// dft_length pads with zeros or truncates.
	x := FromFloat32([]int{1, 3, 1}, []float32{1, 2, 3})
	padded := dftRun(t, x, 1, 4)
	want := []float64{6, 0, -2, -2, 2, 0, -2, 2} // fft([1 2 3 0])
	if d := maxAbsDiff(f64s(padded), want); d > 1e-6 {
		t.Errorf("padded transform %v, want %v", padded.F32(), want)
	}
	trunc := dftRun(t, x, 1, 2)
	if d := maxAbsDiff(f64s(trunc), []float64{3, 0, -1, 0}); d > 1e-6 {
		t.Errorf("truncated transform %v", trunc.F32())
	}
	// Before opset 20 the axis is an attribute (default 1).
	old := ewMust(t, ewNode("DFT", 1), 17, x)
	if i := ewSameBits(old, dftRun(t, x, 1, 0)); i >= 0 {
		t.Errorf("opset 17 differs at byte %d", i)
	}
	for i, c := range []struct {
		in    []*Tensor
		attrs []*graph.Attribute
	}{
		{[]*Tensor{FromFloat32([]int{3, 3}, make([]float32, 9))}, nil},
		{[]*Tensor{x, nil, FromInt64(nil, []int64{2})}, nil},
		{[]*Tensor{x, nil, FromInt64(nil, []int64{-1})}, nil},
		{[]*Tensor{x, FromInt64(nil, []int64{0})}, nil},
		{[]*Tensor{FromInt64([]int{1, 3, 1}, []int64{1, 2, 3})}, nil},
	} {
		if _, err := ewRun(ewNode("DFT", 1, c.attrs...), 20, 1, c.in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestSTFTFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	const b, l, nfft, step = 2, 40, 10, 3
	sig := ewRand(r, 1, b, l, 1)
	win := ewMust(t, ewNode("HannWindow", 1), 17, FromInt64(nil, []int64{nfft}))
	for _, onesided := range []int64{0, 1} {
		y := ewMust(t, ewNode("STFT", 1, ewInt("onesided", onesided)), 17, sig, FromInt64(nil, []int64{step}), win)
		frames, bins := (l-nfft)/step+1, nfft
		if onesided == 1 {
			bins = nfft/2 + 1
		}
		if !equalShape(y.Shape, []int{b, frames, bins, 2}) {
			t.Fatalf("onesided=%d: shape %v", onesided, y.Shape)
		}
		p := newFFTPlan(nfft)
		for bi := 0; bi < b; bi++ {
			for f := 0; f < frames; f++ {
				fr, spec := make([]complex128, nfft), make([]complex128, nfft)
				for i := range fr {
					fr[i] = complex(float64(sig.F32()[bi*l+f*step+i])*float64(win.F32()[i]), 0)
				}
				p.transform(spec, fr, make([]complex128, p.scratchLen()), false)
				for k := 0; k < bins; k++ {
					got := complex(float64(y.F32()[((bi*frames+f)*bins+k)*2]), float64(y.F32()[((bi*frames+f)*bins+k)*2+1]))
					if cmplx.Abs(got-spec[k]) > 1e-5 {
						t.Fatalf("onesided=%d: frame %d bin %d is %v, want %v", onesided, f, k, got, spec[k])
					}
				}
			}
		}
	}
	// frame_length without a window uses a rectangular one.
	rect := New(graph.Float32, nfft)
	for i := range rect.F32() {
		rect.F32()[i] = 1
	}
	a := ewMust(t, ewNode("STFT", 1), 17, sig, FromInt64(nil, []int64{step}), rect)
	bb := ewMust(t, ewNode("STFT", 1), 17, sig, FromInt64(nil, []int64{step}), nil, FromInt64(nil, []int64{nfft}))
	if i := ewSameBits(a, bb); i >= 0 {
		t.Errorf("frame_length without a window differs from a rectangular window at byte %d", i)
	}
	for i, in := range [][]*Tensor{
		{sig, FromInt64(nil, []int64{step})},
		{sig, FromInt64(nil, []int64{0}), win},
		{sig, FromInt64(nil, []int64{step}), win, FromInt64(nil, []int64{nfft + 1})},
		{sig, FromInt64(nil, []int64{step}), nil, FromInt64(nil, []int64{l + 1})},
		{ewRand(r, 1, b, l), FromInt64(nil, []int64{step}), win},
	} {
		if _, err := ewRun(ewNode("STFT", 1), 17, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestWindows(t *testing.T) {
	size := FromInt64(nil, []int64{8})
	hann := ewMust(t, ewNode("HannWindow", 1), 17, size)
	if math.Abs(float64(hann.F32()[0])) > 1e-7 || math.Abs(float64(hann.F32()[4]-1)) > 1e-7 || math.Abs(float64(hann.F32()[2]-0.5)) > 1e-7 {
		t.Errorf("periodic Hann %v", hann.F32())
	}
	for _, op := range []string{"HannWindow", "HammingWindow", "BlackmanWindow"} {
		w := ewMust(t, ewNode(op, 1, ewInt("periodic", 0), ewInt("output_datatype", int64(graph.Float64))), 17, size)
		if w.DType != graph.Float64 || len(w.Shape) != 1 || w.Shape[0] != 8 {
			t.Fatalf("%s: %v", op, w)
		}
		v := w.Data.([]float64)
		for i := range v {
			if math.Abs(v[i]-v[7-i]) > 1e-12 {
				t.Errorf("%s: symmetric window is not symmetric: %v", op, v)
				break
			}
		}
		if _, err := ewRun(ewNode(op, 1), 17, 1, FromInt64(nil, []int64{-1})); err == nil {
			t.Errorf("%s: negative size, no error", op)
		}
	}
	ham := ewMust(t, ewNode("HammingWindow", 1, ewInt("periodic", 0)), 17, size)
	if math.Abs(float64(ham.F32()[0])-(2*25.0/46-1)) > 1e-6 {
		t.Errorf("Hamming ends at %g", ham.F32()[0])
	}
	if _, err := ewRun(ewNode("HannWindow", 1, ewInt("output_datatype", int64(graph.String))), 17, 1, size); err == nil {
		t.Error("string output: no error")
	}
}

func TestMelWeightMatrix(t *testing.T) {
	in := []*Tensor{FromInt64(nil, []int64{6}), FromInt64(nil, []int64{64}), FromInt64(nil, []int64{16000}),
		FromFloat32(nil, []float32{100}), FromFloat32(nil, []float32{7000})}
	y := ewMust(t, ewNode("MelWeightMatrix", 1), 17, in...)
	if !equalShape(y.Shape, []int{33, 6}) {
		t.Fatalf("shape %v", y.Shape)
	}
	for m := 0; m < 6; m++ {
		peak := float32(0)
		for k := 0; k < 33; k++ {
			v := y.F32()[k*6+m]
			if v < 0 || v > 1 {
				t.Fatalf("band %d bin %d weight %g", m, k, v)
			}
			peak = max(peak, v)
		}
		if peak != 1 {
			t.Errorf("band %d peaks at %g", m, peak)
		}
	}
	bad := append([]*Tensor{}, in...)
	bad[4] = FromFloat32(nil, []float32{1e9})
	if _, err := ewRun(ewNode("MelWeightMatrix", 1), 17, 1, bad...); err == nil {
		t.Error("upper edge beyond the spectrum: no error")
	}
}

func TestDet(t *testing.T) {
	x := FromFloat32([]int{4, 3, 3}, []float32{
		1, 0, 0, 0, 1, 0, 0, 0, 1, // identity
		0, 1, 0, 1, 0, 0, 0, 0, 1, // swap: -1
		2, -3, 1, 2, 0, -1, 1, 4, 5, // 49
		1, 2, 3, 4, 5, 6, 7, 8, 9, // singular
	})
	y := ewMust(t, ewNode("Det", 1), 22, x)
	want := []float64{1, -1, 49, 0}
	if !equalShape(y.Shape, []int{4}) || maxAbsDiff(f64s(y), want) > 1e-5 {
		t.Errorf("Det %v, want %v", y.F32(), want)
	}
	s := ewMust(t, ewNode("Det", 1), 22, FromFloat32([]int{2, 2}, []float32{3, 8, 4, 6}))
	if len(s.Shape) != 0 || s.F32()[0] != -14 {
		t.Errorf("2-D Det %v %v", s.Shape, s.F32())
	}
	for i, in := range []*Tensor{
		FromFloat32([]int{2, 3}, make([]float32, 6)),
		FromFloat32([]int{3}, make([]float32, 3)),
		FromInt64([]int{1, 1}, []int64{1}),
	} {
		if _, err := ewRun(ewNode("Det", 1), 22, 1, in); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}
