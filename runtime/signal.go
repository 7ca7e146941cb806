// Signal kernels: DFT (forward, inverse, one-sided real transforms; the
// axis as attribute before opset 20 and as input from 20), STFT, the
// Hann, Hamming and Blackman windows, MelWeightMatrix and Det. Transforms
// run in float64 in O(n log n) for every length (see fftPlan).

package runtime

import (
	"fmt"
	"math"
	"math/bits"
	"math/cmplx"

	"github.com/onnxq/onnxq/graph"
)

func registerSignal(r *Registry) {
	r.Register("", "DFT", buildDFT)
	r.Register("", "STFT", buildSTFT)
	r.Register("", "HannWindow", windowBuilder(func(x float64) float64 {
		return 0.5 - 0.5*math.Cos(x)
	}))
	r.Register("", "HammingWindow", windowBuilder(func(x float64) float64 {
		const alpha = 25.0 / 46.0
		return alpha - (1-alpha)*math.Cos(x)
	}))
	r.Register("", "BlackmanWindow", windowBuilder(func(x float64) float64 {
		return 0.42 - 0.5*math.Cos(x) + 0.08*math.Cos(2*x)
	}))
	r.Register("", "MelWeightMatrix", buildMelWeightMatrix)
	r.Register("", "Det", buildDet)
}

// maxSignalLength bounds transform and window lengths read from data.
const maxSignalLength = 1 << 26

// fftPlan transforms sequences of one length n: a radix-2 FFT for powers
// of two, a direct sum for other short lengths, and Bluestein's chirp
// convolution (over a radix-2 FFT) for other long ones.
type fftPlan struct {
	n  int
	tw []complex128 // tw[k] = exp(-2πi·k/n), radix-2 and direct sums

	sub   *fftPlan     // Bluestein: radix-2 plan of length m >= 2n-1
	chirp []complex128 // chirp[k] = exp(-πi·k²/n)
	bhat  []complex128 // transform of the conjugate chirp wrapped to m
}

// directMax is the longest non-power-of-two length summed directly.
const directMax = 64

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n}
	if n&(n-1) == 0 || n <= directMax {
		p.tw = make([]complex128, n)
		for k := range p.tw {
			// Angles from exact index fractions keep the table accurate.
			s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
			p.tw[k] = complex(c, s)
		}
		return p
	}
	m := 1
	for m < 2*n-1 {
		m <<= 1
	}
	p.sub = newFFTPlan(m)
	p.chirp = make([]complex128, n)
	for k := range p.chirp {
		// k² mod 2n keeps the angle small and exact.
		e := (k * k) % (2 * n)
		s, c := math.Sincos(-math.Pi * float64(e) / float64(n))
		p.chirp[k] = complex(c, s)
	}
	b := make([]complex128, m)
	b[0] = cmplx.Conj(p.chirp[0])
	for k := 1; k < n; k++ {
		b[k] = cmplx.Conj(p.chirp[k])
		b[m-k] = b[k]
	}
	p.bhat = make([]complex128, m)
	p.sub.transform(p.bhat, b, nil, false)
	return p
}

// scratchLen is the length of the scratch buffer transform needs.
func (p *fftPlan) scratchLen() int {
	if p.sub != nil {
		return 2 * p.sub.n
	}
	return 0
}

// transform sets out to the DFT of in (both of length n); inverse uses
// exp(+2πi·kn/N) and divides by n. scratch holds scratchLen() values and
// lets goroutines share one plan.
func (p *fftPlan) transform(out, in, scratch []complex128, inverse bool) {
	n := p.n
	if n == 0 {
		return
	}
	if p.sub != nil {
		// X[k] = chirp[k]·Σ_t (x[t]·chirp[t])·conj(chirp[k-t]); the inverse
		// is conj(DFT(conj(X)))/n.
		m := p.sub.n
		a, fa := scratch[:m], scratch[m:2*m]
		for k := range a {
			a[k] = 0
		}
		for k := 0; k < n; k++ {
			v := in[k]
			if inverse {
				v = cmplx.Conj(v)
			}
			a[k] = v * p.chirp[k]
		}
		p.sub.transform(fa, a, nil, false)
		for i := range fa {
			fa[i] *= p.bhat[i]
		}
		p.sub.transform(a, fa, nil, true)
		for k := 0; k < n; k++ {
			v := a[k] * p.chirp[k]
			if inverse {
				v = cmplx.Conj(v) / complex(float64(n), 0)
			}
			out[k] = v
		}
		return
	}
	conj := func(v complex128) complex128 {
		if inverse {
			return cmplx.Conj(v)
		}
		return v
	}
	if n&(n-1) == 0 {
		// Iterative radix-2 in bit-reversed order.
		shift := 64 - bits.TrailingZeros(uint(n))
		for i := 0; i < n; i++ {
			j := 0
			if n > 1 {
				j = int(bits.Reverse64(uint64(i)) >> shift)
			}
			out[j] = in[i]
		}
		for size := 2; size <= n; size <<= 1 {
			half, step := size/2, n/size
			for start := 0; start < n; start += size {
				for k := 0; k < half; k++ {
					w := conj(p.tw[k*step])
					a, b := out[start+k], out[start+k+half]*w
					out[start+k], out[start+k+half] = a+b, a-b
				}
			}
		}
	} else {
		for k := 0; k < n; k++ {
			var s complex128
			idx := 0
			for t := 0; t < n; t++ {
				s += in[t] * conj(p.tw[idx])
				idx += k
				if idx >= n {
					idx -= n
				}
			}
			out[k] = s
		}
	}
	if inverse {
		inv := complex(1/float64(n), 0)
		for i := range out[:n] {
			out[i] *= inv
		}
	}
}

type dftKernel struct {
	inverse, onesided bool
	axisAttr          int64
	axisInput         bool
}

func buildDFT(n *graph.Node, opset int64) (Kernel, error) {
	k := &dftKernel{
		inverse:  n.AttrInt("inverse", 0) != 0,
		onesided: n.AttrInt("onesided", 0) != 0,
	}
	if opset < 20 {
		k.axisAttr = n.AttrInt("axis", 1)
	} else {
		k.axisAttr, k.axisInput = -2, true
	}
	return k, nil
}

func (k *dftKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if err := dmNeedInputs(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := checkTensorData(x, "input"); err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		return nil, fmt.Errorf("input must be a float tensor, got %v", x.DType)
	}
	r := len(x.Shape)
	if r < 2 || x.Shape[r-1] != 1 && x.Shape[r-1] != 2 {
		return nil, fmt.Errorf("input of shape %v must end in a dimension of 1 (real) or 2 (complex)", x.Shape)
	}
	complexIn := x.Shape[r-1] == 2
	axis := k.axisAttr
	if t := dmInput(in, 2); k.axisInput && t != nil {
		v, err := dmInts(t, "axis")
		if err != nil {
			return nil, err
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("axis must be a scalar, got shape %v", t.Shape)
		}
		axis = v[0]
	}
	// The last dimension holds the real and imaginary parts, so valid
	// axes are [-r, -2] and [0, r-2].
	given := axis
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis > int64(r-2) {
		return nil, fmt.Errorf("axis %d is out of range for input of rank %d (the last axis holds complex parts)", given, r)
	}
	a := int(axis)
	dim := x.Shape[a]
	n := dim
	if k.onesided && k.inverse {
		n = 2 * (dim - 1)
	}
	if t := dmInput(in, 1); t != nil {
		v, err := dmInts(t, "dft_length")
		if err != nil {
			return nil, err
		}
		if len(v) != 1 || v[0] <= 0 || v[0] > maxSignalLength {
			return nil, fmt.Errorf("dft_length must be a positive scalar, got %v", v)
		}
		n = int(v[0])
	}
	if n <= 0 {
		return nil, fmt.Errorf("the transform length %d is not positive", n)
	}
	outLen, outC := n, 2
	switch {
	case k.onesided && !k.inverse:
		outLen = n/2 + 1
	case k.onesided && k.inverse:
		outC = 1
	}
	outShape := append([]int{}, x.Shape...)
	outShape[a], outShape[r-1] = outLen, outC
	if _, err := shapeElements(outShape); err != nil {
		return nil, err
	}
	xs, err := floatsOf64(x)
	if err != nil {
		return nil, err
	}
	outer, inner := prodInts(x.Shape[:a]), prodInts(x.Shape[a+1:r-1])
	c := x.Shape[r-1]
	res := make([]float64, prodInts(outShape))
	plan := newFFTPlan(n)
	ctx.Parallel(outer*inner, func(lo, hi int) {
		sig, spec := make([]complex128, n), make([]complex128, n)
		scratch := make([]complex128, plan.scratchLen())
		for oi := lo; oi < hi; oi++ {
			o, i := oi/inner, oi%inner
			at := func(t int) complex128 {
				base := ((o*dim+t)*inner + i) * c
				if complexIn {
					return complex(xs[base], xs[base+1])
				}
				return complex(xs[base], 0)
			}
			if k.onesided && k.inverse {
				// Rebuild the full spectrum from its Hermitian half.
				m := n/2 + 1
				for t := 0; t < n; t++ {
					sig[t] = 0
				}
				for t := 0; t < min(m, dim); t++ {
					sig[t] = at(t)
				}
				for t := 1; t < m; t++ {
					if n-t >= m {
						sig[n-t] = cmplx.Conj(sig[t])
					}
				}
			} else {
				for t := 0; t < n; t++ {
					if t < dim {
						sig[t] = at(t)
					} else {
						sig[t] = 0
					}
				}
			}
			plan.transform(spec, sig, scratch, k.inverse)
			for t := 0; t < outLen; t++ {
				base := ((o*outLen+t)*inner + i) * outC
				res[base] = real(spec[t])
				if outC == 2 {
					res[base+1] = imag(spec[t])
				}
			}
		}
	})
	out := ctx.Alloc(x.DType, outShape...)
	storeFloats64(out, res)
	return []*Tensor{out}, nil
}

// buildSTFT transforms frames of frame_length samples taken every
// frame_step samples, each multiplied by the window.
func buildSTFT(n *graph.Node, opset int64) (Kernel, error) {
	onesided := n.AttrInt("onesided", 1) != 0
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		for i, name := range []string{"signal", "frame_step", "window", "frame_length"} {
			if t := dmInput(in, i); t != nil {
				if err := checkTensorData(t, name); err != nil {
					return nil, err
				}
			}
		}
		sig := in[0]
		if !sig.DType.IsFloat() {
			return nil, fmt.Errorf("signal must be a float tensor, got %v", sig.DType)
		}
		if len(sig.Shape) != 3 || sig.Shape[2] != 1 && sig.Shape[2] != 2 {
			return nil, fmt.Errorf("signal must have shape [batch, length, 1 or 2], got %v", sig.Shape)
		}
		scalar := func(t *Tensor, name string) (int, error) {
			v, err := dmInts(t, name)
			if err != nil {
				return 0, err
			}
			if len(v) != 1 || v[0] <= 0 || v[0] > maxSignalLength {
				return 0, fmt.Errorf("%s must be a positive scalar, got %v", name, v)
			}
			return int(v[0]), nil
		}
		step, err := scalar(in[1], "frame_step")
		if err != nil {
			return nil, err
		}
		win := dmInput(in, 2)
		nfft := 0
		if t := dmInput(in, 3); t != nil {
			if nfft, err = scalar(t, "frame_length"); err != nil {
				return nil, err
			}
		}
		var wv []float64
		if win != nil {
			if len(win.Shape) != 1 {
				return nil, fmt.Errorf("window must be 1-D, got shape %v", win.Shape)
			}
			if nfft == 0 {
				nfft = win.Shape[0]
			}
			if win.Shape[0] != nfft {
				return nil, fmt.Errorf("window of length %d does not match frame_length %d", win.Shape[0], nfft)
			}
			if wv, err = floatsOf64(win); err != nil {
				return nil, err
			}
		}
		if nfft == 0 {
			return nil, fmt.Errorf("STFT needs a window or a frame_length")
		}
		b, length, c := sig.Shape[0], sig.Shape[1], sig.Shape[2]
		if length < nfft {
			return nil, fmt.Errorf("signal of length %d is shorter than a frame of %d", length, nfft)
		}
		frames := (length-nfft)/step + 1
		bins := nfft
		if onesided {
			bins = nfft/2 + 1
		}
		outShape := []int{b, frames, bins, 2}
		if _, err := shapeElements(outShape); err != nil {
			return nil, err
		}
		xs, err := floatsOf64(sig)
		if err != nil {
			return nil, err
		}
		res := make([]float64, b*frames*bins*2)
		plan := newFFTPlan(nfft)
		ctx.Parallel(b*frames, func(lo, hi int) {
			frame, spec := make([]complex128, nfft), make([]complex128, nfft)
			scratch := make([]complex128, plan.scratchLen())
			for bf := lo; bf < hi; bf++ {
				bi, f := bf/frames, bf%frames
				for t := 0; t < nfft; t++ {
					base := (bi*length + f*step + t) * c
					v := complex(xs[base], 0)
					if c == 2 {
						v = complex(xs[base], xs[base+1])
					}
					if wv != nil {
						v *= complex(wv[t], 0)
					}
					frame[t] = v
				}
				plan.transform(spec, frame, scratch, false)
				for k := 0; k < bins; k++ {
					res[(bf*bins+k)*2] = real(spec[k])
					res[(bf*bins+k)*2+1] = imag(spec[k])
				}
			}
		})
		out := ctx.Alloc(sig.DType, outShape...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

// outputType reads the output_datatype attribute (default float).
func outputType(n *graph.Node) (graph.DType, error) {
	dt := graph.DType(n.AttrInt("output_datatype", int64(graph.Float32)))
	if !isNumeric(dt) || makeSlice(dt, 0) == nil || miniFloatOf(dt) != nil && dt != graph.Float16 && dt != graph.BFloat16 {
		return 0, fmt.Errorf("output_datatype %d is not a supported numeric type", int64(dt))
	}
	return dt, nil
}

// windowBuilder makes a window op: w[i] = f(2π·i/N) with N = size when
// periodic, size-1 when symmetric.
func windowBuilder(f func(x float64) float64) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		dt, err := outputType(n)
		if err != nil {
			return nil, err
		}
		periodic := n.AttrInt("periodic", 1) != 0
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if err := dmNeedInputs(in, 1); err != nil {
				return nil, err
			}
			v, err := dmInts(in[0], "size")
			if err != nil {
				return nil, err
			}
			if len(v) != 1 || v[0] < 0 || v[0] > maxSignalLength {
				return nil, fmt.Errorf("size must be a non-negative scalar, got %v", v)
			}
			size := int(v[0])
			den := float64(size)
			if !periodic {
				den = float64(size - 1)
			}
			res := make([]float64, size)
			for i := range res {
				if den > 0 {
					res[i] = f(2 * math.Pi * float64(i) / den)
				} else {
					res[i] = f(0)
				}
			}
			out := ctx.Alloc(dt, size)
			storeFloats64(out, res)
			return []*Tensor{out}, nil
		}), nil
	}
}

// buildMelWeightMatrix builds [dft_length/2+1, num_mel_bins] triangular
// filters, equally spaced on the mel scale mel(f) = 2595·log10(1+f/700),
// each peaking at 1.
func buildMelWeightMatrix(n *graph.Node, opset int64) (Kernel, error) {
	dt, err := outputType(n)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 5); err != nil {
			return nil, err
		}
		ints := make([]int64, 3)
		for i, name := range []string{"num_mel_bins", "dft_length", "sample_rate"} {
			v, err := dmInts(in[i], name)
			if err != nil {
				return nil, err
			}
			if len(v) != 1 || v[0] <= 0 || v[0] > maxSignalLength {
				return nil, fmt.Errorf("%s must be a positive scalar, got %v", name, v)
			}
			ints[i] = v[0]
		}
		lower, err := dmScalarFloat(in[3], "lower_edge_hertz")
		if err != nil {
			return nil, err
		}
		upper, err := dmScalarFloat(in[4], "upper_edge_hertz")
		if err != nil {
			return nil, err
		}
		mels, dftLen, rate := int(ints[0]), float64(ints[1]), float64(ints[2])
		specBins := int(ints[1])/2 + 1
		if _, err := shapeElements([]int{specBins, mels}); err != nil {
			return nil, err
		}
		lowMel := 2595 * math.Log10(1+lower/700)
		highMel := 2595 * math.Log10(1+upper/700)
		step := (highMel - lowMel) / float64(mels+2)
		edges := make([]int, mels+2)
		for i := range edges {
			hz := 700 * (math.Pow(10, (float64(i)*step+lowMel)/2595) - 1)
			e := math.Floor((dftLen + 1) * hz / rate)
			if !(e >= -1 && e <= float64(specBins)) {
				return nil, fmt.Errorf("mel band edge %g Hz falls outside the spectrum", hz)
			}
			edges[i] = int(e)
		}
		res := make([]float64, specBins*mels)
		set := func(j, i int, v float64) {
			if j >= 0 && j < specBins {
				res[j*mels+i] = v
			}
		}
		for i := 0; i < mels; i++ {
			lo, mid, hi := edges[i], edges[i+1], edges[i+2]
			if mid == lo {
				set(mid, i, 1)
			} else {
				for j := lo; j <= mid; j++ {
					set(j, i, float64(j-lo)/float64(mid-lo))
				}
			}
			if hi > mid {
				for j := mid; j < hi; j++ {
					set(j, i, float64(hi-j)/float64(hi-mid))
				}
			}
		}
		out := ctx.Alloc(dt, specBins, mels)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

// buildDet computes determinants of [..., M, M] by LU decomposition with
// partial pivoting in float64.
func buildDet(n *graph.Node, opset int64) (Kernel, error) {
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if err := checkTensorData(x, "X"); err != nil {
			return nil, err
		}
		if !x.DType.IsFloat() {
			return nil, fmt.Errorf("X must be a float tensor, got %v", x.DType)
		}
		r := len(x.Shape)
		if r < 2 || x.Shape[r-1] != x.Shape[r-2] {
			return nil, fmt.Errorf("X must end in square matrices, got shape %v", x.Shape)
		}
		m := x.Shape[r-1]
		xs, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		batch := prodInts(x.Shape[:r-2])
		res := make([]float64, batch)
		ctx.Parallel(batch, func(lo, hi int) {
			a := make([]float64, m*m)
			for b := lo; b < hi; b++ {
				copy(a, xs[b*m*m:(b+1)*m*m])
				res[b] = luDet(a, m)
			}
		})
		out := ctx.Alloc(x.DType, x.Shape[:r-2]...)
		storeFloats64(out, res)
		return []*Tensor{out}, nil
	}), nil
}

// luDet returns the determinant of the m×m matrix a, destroying a.
func luDet(a []float64, m int) float64 {
	det := 1.0
	for col := 0; col < m; col++ {
		p := col
		for i := col + 1; i < m; i++ {
			if math.Abs(a[i*m+col]) > math.Abs(a[p*m+col]) {
				p = i
			}
		}
		if a[p*m+col] == 0 {
			return 0
		}
		if p != col {
			for j := 0; j < m; j++ {
				a[p*m+j], a[col*m+j] = a[col*m+j], a[p*m+j]
			}
			det = -det
		}
		piv := a[col*m+col]
		det *= piv
		for i := col + 1; i < m; i++ {
			f := a[i*m+col] / piv
			for j := col + 1; j < m; j++ {
				a[i*m+j] -= f * a[col*m+j]
			}
		}
	}
	return det
}
