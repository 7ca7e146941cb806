// quant_conv_fast_test.go checks the fast QLinearConv path against the
// reference kernel over random shapes, groups, strides, dilations, pads,
// zero points and types, at several thread counts.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	goruntime "runtime"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func TestFastQLinearConvMatchesReference(t *testing.T) {
	for _, name := range kernels.IgemmKernelNames() {
		t.Run(name, func(t *testing.T) {
			restore, ok := kernels.UseIgemmKernel(name)
			if !ok {
				t.Fatalf("kernel %s listed but not selectable", name)
			}
			defer restore()
			fastMatchesReference(t)
		})
	}
}

// fastMatchesReference compares the two paths on 300 random cases with
// the selected INT8 microkernel.
func fastMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	paths := map[string]int{}
	for trial := range 300 {
		G := []int{1, 1, 2, 3}[rng.IntN(4)]
		depthwise := rng.IntN(4) == 0
		cg, mg := 1+rng.IntN(5), 1+rng.IntN(6)
		if depthwise {
			cg, mg, G = 1, 1, 1+rng.IntN(9)
		}
		C, M := cg*G, mg*G
		kh, kw := 1+rng.IntN(3), 1+rng.IntN(3)
		H, W := kh+rng.IntN(9), kw+rng.IntN(9)
		N := 1 + rng.IntN(2)
		sh, sw := 1+rng.IntN(2), 1+rng.IntN(2)
		dh, dw := 1+rng.IntN(2), 1+rng.IntN(2)
		if (kh-1)*dh+1 > H+2 || (kw-1)*dw+1 > W+2 {
			dh, dw = 1, 1
		}
		pads := []int64{int64(rng.IntN(2)), int64(rng.IntN(2)), int64(rng.IntN(2)), int64(rng.IntN(2))}
		xType := []graph.DType{graph.Uint8, graph.Int8}[rng.IntN(2)]
		yType := []graph.DType{graph.Uint8, graph.Int8}[rng.IntN(2)]

		paths[checkFastQConv(t, rng, trial, qconvCase{N, C, M, G, kh, kw, H, W, sh, sw, dh, dw, pads, xType, yType, 0, false, rng.IntN(4) == 0})]++
	}
	// The symmetric-weight cases take the channel-major and VNNI
	// depthwise paths when the microkernel has them: make sure they ran.
	if kernels.WXPreferred() && paths["channel-major"] < 60 {
		t.Errorf("paths taken %v: too few channel-major", paths)
	}
	if kernels.VNNISelected() && paths["depthwise-vnni"] < 20 {
		t.Errorf("paths taken %v: too few depthwise-vnni", paths)
	}
}

// qconvCase is one QLinearConv shape of the fast-path tests.
type qconvCase struct {
	N, C, M, G, kh, kw, H, W, sh, sw, dh, dw int
	pads                                     []int64
	xType, yType                             graph.DType
	// wAll, when not 0, is every weight's value (the extreme ones).
	wAll int8
	// symmetric makes every weight zero point 0.
	symmetric bool
	// uint8Weights stores the weights and their zero points as uint8,
	// each value 128 above the int8 one (the fast paths shift them back).
	uint8Weights bool
}

// TestFastQLinearConvPointwiseAndWide covers what the random shapes above
// rarely reach: 1×1 convolutions over many channels and positions (the
// 8×8 block transpose and its edges), 3×3 windows over wide rows (the
// run copies of im2col), and depthwise kernels too large for the float32
// path (the int32 fallback).
func TestFastQLinearConvPointwiseAndWide(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 3))
	trial := 0
	for _, c := range []int{1, 7, 8, 9, 16, 17, 31} {
		for _, hw := range [][2]int{{1, 1}, {3, 5}, {8, 8}, {12, 13}, {16, 9}} {
			checkFastQConv(t, rng, trial, qconvCase{1, c, 1 + rng.IntN(9), 1, 1, 1, hw[0], hw[1], 1, 1, 1, 1, []int64{0, 0, 0, 0}, graph.Uint8, graph.Uint8, 0, false, false})
			checkFastQConv(t, rng, trial+1, qconvCase{2, 2 * c, 2 * (1 + rng.IntN(5)), 2, 1, 1, hw[0], hw[1], 1, 1, 1, 1, []int64{0, 0, 0, 0}, graph.Int8, graph.Uint8, 0, false, false})
			trial += 2
		}
	}
	for _, s := range []int{1, 2} {
		for _, k := range []int{2, 3, 5} {
			for _, w := range []int{k, 17, 40} {
				p := int64(k / 2)
				checkFastQConv(t, rng, trial, qconvCase{1, 3, 4, 1, k, k, 6, w, s, s, 1, 1, []int64{p, p, p, p}, graph.Uint8, graph.Int8, 0, false, false})
				trial++
			}
		}
	}
	tapCases := 0
	// Windows read tap by tap (eight or more channels per group): odd
	// channel counts (padded quads), strides, dilations, groups, padding,
	// both input types, symmetric weights so the path is taken.
	for rep := range 24 {
		G := 1 + rep%2
		cg := 8 + rng.IntN(13)
		k := 1 + 2*(rep%3)
		st, dl := 1+rep/3%2, 1+rep/6%2
		H, W := (k-1)*dl+1+rng.IntN(9), (k-1)*dl+1+rng.IntN(40)
		p := int64(rng.IntN(k/2 + 1))
		xt := []graph.DType{graph.Uint8, graph.Int8}[rep/12]
		q := qconvCase{1 + rep%2, cg * G, G * (1 + rng.IntN(12)), G, k, k, H, W, st, st, dl, dl, []int64{p, p, p, p}, xt, graph.Uint8, 0, true, false}
		if checkFastQConv(t, rng, trial, q) == "taps" {
			tapCases++
		}
		trial++
	}
	if kernels.VNNISelected() && tapCases < 12 {
		t.Errorf("only %d of 24 cases read their taps in place", tapCases)
	}
	// Depthwise windows wider than four taps (several tap groups per row),
	// strided and dilated, on planes wider than one 64-output block.
	for _, k := range []int{4, 5, 7} {
		for _, st := range []int{1, 2} {
			for rep := range 3 {
				p := int64(k / 2)
				checkFastQConv(t, rng, trial, qconvCase{1, 3, 3, 3, k, k, 9 + rep, 70 + 3*rep, st, st, 1 + rep%2, 1 + rep/2, []int64{p, p, p, p}, graph.Uint8, graph.Uint8, 0, false, false})
				trial++
			}
		}
	}
	// Windows wider than the input, with pads and dilations that put
	// whole runs of taps in the padding.
	for _, c := range []qconvCase{
		{1, 2, 3, 1, 1, 3, 1, 1, 1, 1, 1, 4, []int64{0, 5, 0, 5}, graph.Uint8, graph.Uint8, 0, false, true},
		{1, 1, 2, 1, 3, 3, 2, 1, 1, 2, 2, 3, []int64{3, 4, 3, 4}, graph.Int8, graph.Uint8, 0, false, false},
		{2, 2, 2, 1, 2, 2, 1, 2, 2, 1, 1, 1, []int64{2, 2, 2, 2}, graph.Uint8, graph.Int8, 0, false, true},
	} {
		checkFastQConv(t, rng, trial, c)
		trial++
	}
	// 25×25 taps of weight −128 against a zero point of at most 10:
	// Σ|w−zw|·255 passes 2^24, so the depthwise path must stay in int32.
	big := qconvCase{1, 2, 2, 2, 25, 25, 30, 30, 1, 1, 1, 1, []int64{12, 12, 12, 12}, graph.Uint8, graph.Uint8, -128, false, false}
	w := make([]int8, 2*25*25)
	for i := range w {
		w[i] = -128
	}
	if depthwiseExactInF32(&qconvArgs{w: w, M: 2, kh: 25, kw: 25, zw: []int32{10, 10}}) {
		t.Fatal("a 25×25 kernel of −128 passes the float32 bound")
	}
	checkFastQConv(t, rng, trial, big)
}

// TestFastQLinearConvHugeStride runs a QLinearConv whose stride is far
// past its input (one output position): its phase planes would number a
// trillion, so the channel-major path must not lay them out (it ran out
// of memory before).
func TestFastQLinearConvHugeStride(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial, x := range []graph.DType{graph.Uint8, graph.Int8} {
		checkFastQConv(t, rng, trial, qconvCase{1, 8, 4, 1, 3, 3, 8, 8, 1000000, 1000000, 1, 1, []int64{0, 0, 0, 0}, x, graph.Uint8, 0, true, false})
	}
}

// checkFastQConv runs one case with random data through the reference and
// the fast path (1 and 3 threads) and fails unless they agree bit for bit.
func checkFastQConv(t *testing.T, rng *rand.Rand, trial int, q qconvCase) (path string) {
	t.Helper()
	N, C, M, G, kh, kw, H, W := q.N, q.C, q.M, q.G, q.kh, q.kw, q.H, q.W
	sh, sw, dh, dw, pads, xType, yType := q.sh, q.sw, q.dh, q.dw, q.pads, q.xType, q.yType
	cg := C / G
	x := New(xType, N, C, H, W)
	switch d := x.Data.(type) {
	case []uint8:
		for i := range d {
			d[i] = uint8(rng.IntN(256))
		}
	case []int8:
		for i := range d {
			d[i] = int8(rng.IntN(256) - 128)
		}
	}
	w := New(graph.Int8, M, cg, kh, kw)
	for i := range w.Data.([]int8) {
		w.Data.([]int8)[i] = int8(rng.IntN(256) - 128)
		if q.wAll != 0 {
			w.Data.([]int8)[i] = q.wAll
		}
	}
	xzp := New(xType)
	if xType == graph.Uint8 {
		xzp.Data.([]uint8)[0] = uint8(rng.IntN(256))
	} else {
		xzp.Data.([]int8)[0] = int8(rng.IntN(256) - 128)
	}
	nz := 1
	if rng.IntN(2) == 0 {
		nz = M
	}
	wzp := New(graph.Int8, nz)
	if nz == 1 {
		wzp.Shape = nil
	}
	asymmetric := rng.IntN(2) == 0 && !q.symmetric // otherwise every zero point is 0, as quantizers write
	for i := range wzp.Data.([]int8) {
		if asymmetric && rng.IntN(3) == 0 {
			wzp.Data.([]int8)[i] = int8(rng.IntN(21) - 10)
		}
	}
	if q.uint8Weights {
		w, wzp = uint8Shifted(w), uint8Shifted(wzp)
	}
	ws := New(graph.Float32, M)
	for i := range ws.F32() {
		ws.F32()[i] = float32(rng.Float64()*0.02 + 1e-4)
	}
	var bias *Tensor
	if rng.IntN(3) != 0 {
		bias = New(graph.Int32, M)
		for i := range bias.Data.([]int32) {
			bias.Data.([]int32)[i] = int32(rng.IntN(20001) - 10000)
		}
	}
	yzp := New(yType)
	if yType == graph.Uint8 {
		yzp.Data.([]uint8)[0] = uint8(rng.IntN(256))
	} else {
		yzp.Data.([]int8)[0] = int8(rng.IntN(256) - 128)
	}
	in := []*Tensor{x, Scalar(float32(rng.Float64()*0.05 + 1e-3)), xzp, w, ws, wzp, Scalar(float32(rng.Float64()*0.5 + 0.01)), yzp}
	if bias != nil {
		in = append(in, bias)
	}
	attrs := []*graph.Attribute{
		graph.IntAttr("group", int64(G)),
		graph.IntsAttr("strides", int64(sh), int64(sw)),
		graph.IntsAttr("dilations", int64(dh), int64(dw)),
		graph.IntsAttr("pads", pads...),
	}
	name := fmt.Sprintf("trial %d: N%d C%d M%d G%d k%dx%d in %dx%d s%d,%d d%d,%d pads %v x %v y %v w %v", trial, N, C, M, G, kh, kw, H, W, sh, sw, dh, dw, pads, xType, yType, w.DType)
	node := &graph.Node{OpType: "QLinearConv", Attrs: attrs}
	kern, err := newIntConv(node, true)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	forceReferenceQConv = true
	want, werr := kern.Run(&Context{Threads: 1, Node: node}, in)
	forceReferenceQConv = false
	if werr != nil {
		return "" // a shape the attributes do not allow: both paths refuse it
	}
	args := kern.(*intConvKernel).newQConvArgs(x, xzp, w, wzp, bias, make([]float32, M), 0, 0, 255, yType)
	if args == nil {
		t.Fatalf("%s: does not take the fast path", name)
	}
	switch {
	case C == G && M == G && dwFits(args):
		path = "depthwise-vnni"
	case C == G && M == G:
		path = "depthwise"
	case wxFits(args) && C/G >= 8 && !newPhaseLayout(args).inPlace && kernels.VNNISelected():
		path = "taps"
	case wxFits(args):
		path = "channel-major"
	default:
		path = "gemm"
	}
	for _, threads := range []int{1, 3} {
		got, err := kern.Run(&Context{Threads: threads, Node: node}, in)
		if err != nil {
			t.Fatalf("%s: fast path: %v", name, err)
		}
		if !slices.Equal(got[0].Shape, want[0].Shape) {
			t.Fatalf("%s: shape %v, want %v", name, got[0].Shape, want[0].Shape)
		}
		g8, w8 := fmt.Sprint(got[0].Data), fmt.Sprint(want[0].Data)
		if g8 != w8 {
			t.Fatalf("%s, %d threads: fast path (%s) differs from the reference", name, threads, path)
		}
	}
	return path
}

// uint8Shifted returns an int8 tensor as uint8, each value 128 higher.
func uint8Shifted(t *Tensor) *Tensor {
	u := New(graph.Uint8, t.Shape...)
	for i, v := range t.Data.([]int8) {
		u.Data.([]uint8)[i] = uint8(v) ^ 0x80
	}
	return u
}

// TestRequantizerMatchesRequantizeF32 checks the float32 requantizer
// against requantize on extreme accumulators, exact ties and random
// values, for uint8 and int8 outputs and scales from tiny to huge.
func TestRequantizerMatchesRequantizeF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	accs := []int32{0, 1, -1, 2, -2, 3, -3, 127, 128, -128, 255, 256, 1 << 24, -1 << 24, 1<<24 + 1, 1<<31 - 1, -1 << 31}
	for range 2000 {
		accs = append(accs, int32(rng.Uint32()), int32(rng.IntN(20001)-10000))
	}
	scales := []float32{0.5, 0.25, 1, 1.5, 2.5e-3, 1e-9, 1e-30, 3e4, 1e30, 7.25e-5}
	for range 200 {
		scales = append(scales, float32(rng.Float64()*0.1))
	}
	for _, rng := range [][3]int64{{0, 0, 255}, {128, 0, 255}, {255, 0, 255}, {0, -128, 127}, {-128, -128, 127}, {127, -128, 127}, {-7, -128, 127}} {
		zp, lo, hi := rng[0], rng[1], rng[2]
		for _, s := range scales {
			for _, sign := range []float32{1, -1} {
				rq := newRequantizer(sign*s, zp, lo, hi)
				if !rq.exact {
					t.Fatalf("scale %g: not exact", s)
				}
				got := make([]byte, len(accs))
				rq.run(got, accs, 0)
				for i, acc := range accs {
					want := byte(requantize(acc, sign*s, zp, lo, hi))
					if got[i] != want {
						t.Fatalf("acc %d scale %g zp %d [%d,%d]: %d, want %d", acc, sign*s, zp, lo, hi, got[i], want)
					}
				}
			}
		}
	}
	for _, s := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if newRequantizer(s, 0, 0, 255).exact {
			t.Errorf("scale %g: a non-finite scale must take requantize", s)
		}
	}
}

// BenchmarkQLinearConv times the fast paths on layer shapes of the shared
// CNNs (uint8 activations, symmetric per-channel weights, one thread).
func BenchmarkQLinearConv(b *testing.B) {
	for _, c := range []struct {
		name                      string
		C, M, G, k, H, W, s, pads int
	}{
		{"pointwise64x80x80", 64, 64, 1, 1, 80, 80, 1, 0},
		{"pointwise16to32x120x160", 16, 32, 1, 1, 120, 160, 1, 0},
		{"depthwise64x80x80", 64, 64, 64, 3, 80, 80, 1, 1},
		{"depthwise32x120x160s2", 32, 32, 32, 3, 120, 160, 2, 1},
		{"depthwise256x8x10", 256, 256, 256, 3, 8, 10, 1, 1},
		{"depthwise96x22x22k5", 96, 96, 96, 5, 22, 22, 1, 2},
		{"conv3x3s2from3x320x320", 3, 16, 1, 3, 320, 320, 2, 1},
		{"conv3x3_96to24x80x80", 96, 24, 1, 3, 80, 80, 1, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			x := New(graph.Uint8, 1, c.C, c.H, c.W)
			for i := range x.Data.([]uint8) {
				x.Data.([]uint8)[i] = uint8(rng.IntN(256))
			}
			w := New(graph.Int8, c.M, c.C/c.G, c.k, c.k)
			for i := range w.Data.([]int8) {
				w.Data.([]int8)[i] = int8(rng.IntN(255) - 127)
			}
			ws := New(graph.Float32, c.M)
			for i := range ws.F32() {
				ws.F32()[i] = 0.003
			}
			bias := New(graph.Int32, c.M)
			p := int64(c.pads)
			node := &graph.Node{OpType: "QLinearConv", Attrs: []*graph.Attribute{
				graph.IntAttr("group", int64(c.G)),
				graph.IntsAttr("strides", int64(c.s), int64(c.s)),
				graph.IntsAttr("pads", p, p, p, p),
			}}
			kern, err := newIntConv(node, true)
			if err != nil {
				b.Fatal(err)
			}
			xzp, wzp, yzp := New(graph.Uint8), New(graph.Int8), New(graph.Uint8)
			xzp.Data.([]uint8)[0], yzp.Data.([]uint8)[0] = 7, 128
			in := []*Tensor{x, Scalar(0.02), xzp, w, ws, wzp, Scalar(0.05), yzp, bias}
			ctx := &Context{Threads: 1, Node: node}
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			cpu0 := threadCPUSeconds()
			for b.Loop() {
				if _, err := kern.Run(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := threadCPUSeconds() - cpu0; cpu > 0 {
				b.ReportMetric(cpu*1e9/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// A kernel keeps what it derives from its scale, zero-point and bias
// inputs between calls; calls with other values must not reuse it. The
// same kernel runs alternately on two sets of those inputs (weights
// shared), depthwise and pointwise, each call equal to the reference.
func TestQLinearConvKernelReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct{ C, M, G, k int }{{16, 16, 16, 3}, {16, 24, 1, 1}, {8, 16, 1, 3}} {
		x := New(graph.Uint8, 1, tc.C, 9, 11)
		for i := range x.Data.([]uint8) {
			x.Data.([]uint8)[i] = uint8(rng.IntN(256))
		}
		w := New(graph.Int8, tc.M, tc.C/tc.G, tc.k, tc.k)
		for i := range w.Data.([]int8) {
			w.Data.([]int8)[i] = int8(rng.IntN(255) - 127)
		}
		// One pair of zero points: the sets differ in scales and bias only,
		// what the cached epilogue is derived from besides them.
		xzp, yzp := New(graph.Uint8), New(graph.Uint8)
		xzp.Data.([]uint8)[0], yzp.Data.([]uint8)[0] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
		inputs := func() []*Tensor {
			ws := New(graph.Float32, tc.M)
			for i := range ws.F32() {
				ws.F32()[i] = float32(rng.Float64()*0.01 + 0.005)
			}
			bias := New(graph.Int32, tc.M)
			for i := range bias.Data.([]int32) {
				bias.Data.([]int32)[i] = int32(rng.IntN(4001) - 2000)
			}
			return []*Tensor{x, Scalar(float32(rng.Float64()*0.01 + 0.005)), xzp, w, ws, New(graph.Int8, tc.M), Scalar(float32(rng.Float64()*0.1 + 0.05)), yzp, bias}
		}
		sets := [][]*Tensor{inputs(), inputs(), nil}
		// The third set is the first with another bias only.
		sets[2] = slices.Clone(sets[0])
		sets[2][8] = New(graph.Int32, tc.M)
		for i := range sets[2][8].Data.([]int32) {
			sets[2][8].Data.([]int32)[i] = int32(rng.IntN(4001) - 2000)
		}
		node := &graph.Node{OpType: "QLinearConv", Attrs: []*graph.Attribute{graph.IntAttr("group", int64(tc.G)), graph.IntsAttr("pads", 1, 1, 1, 1)}}
		var want [3]*Tensor
		forceReferenceQConv = true
		for i, in := range sets {
			ref, err := newIntConv(node, true) // a fresh kernel per set: nothing kept
			if err != nil {
				forceReferenceQConv = false
				t.Fatal(err)
			}
			out, err := ref.Run(&Context{Threads: 1, Node: node}, in)
			if err != nil {
				forceReferenceQConv = false
				t.Fatal(err)
			}
			want[i] = out[0]
		}
		forceReferenceQConv = false
		// The sets must lead to other outputs (not all saturated) for the
		// check to mean anything.
		for i := 1; i < 3; i++ {
			a, b := want[0].Data.([]uint8), want[i].Data.([]uint8)
			differ := 0
			for j := range a {
				if a[j] != b[j] {
					differ++
				}
			}
			if differ < len(a)/4 {
				t.Fatalf("input sets 0 and %d give nearly the same output (%d of %d differ)", i, differ, len(a))
			}
		}
		kern, err := newIntConv(node, true)
		if err != nil {
			t.Fatal(err)
		}
		for call, i := range []int{0, 1, 0, 2, 1, 1, 2, 0} {
			got, err := kern.Run(&Context{Threads: 2, Node: node}, sets[i])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[0].Data, want[i].Data) {
				t.Fatalf("C%d M%d G%d k%d: call %d on input set %d differs from the reference", tc.C, tc.M, tc.G, tc.k, call, i)
			}
		}
	}
}
