// quant_conv_act_test.go checks ai.onnxq QLinearConv with a HardSwish
// activation: its fast paths against its reference bit for bit, and the
// reference against the float QDQ computation it stands for.
package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func TestQLinearConvHardSwish(t *testing.T) {
	for _, name := range kernels.IgemmKernelNames() {
		restore, _ := kernels.UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(25, 26))
			total, exact := 0, 0
			for trial := range 60 {
				depthwise := trial%2 == 0
				C, M, G := 1+rng.IntN(6), 1+rng.IntN(9), 1
				if depthwise {
					C = 1 + rng.IntN(8)
					M, G = C, C
				}
				k := 1 + 2*rng.IntN(2)
				H, W := k+rng.IntN(12), k+rng.IntN(40)
				s := 1 + rng.IntN(2)
				n, e := checkHardSwishConv(t, rng, C, M, G, k, H, W, s)
				total, exact = total+n, exact+e
			}
			if exact < total*99/100 {
				t.Errorf("%d of %d outputs equal the float QDQ computation", exact, total)
			}
		})
		restore()
	}
}

// checkHardSwishConv runs one random case through the fast path and the
// reference (which must agree exactly) and compares with the float
// computation (within one step); it returns the outputs and how many
// equal the float computation.
func checkHardSwishConv(t *testing.T, rng *rand.Rand, C, M, G, k, H, W, s int) (int, int) {
	t.Helper()
	x := New(graph.Uint8, 1, C, H, W)
	xd := x.Data.([]uint8)
	for i := range xd {
		xd[i] = uint8(rng.IntN(256))
	}
	w := New(graph.Int8, M, C/G, k, k)
	wd := w.Data.([]int8)
	for i := range wd {
		wd[i] = int8(rng.IntN(255) - 127)
	}
	ws := New(graph.Float32, M)
	for i := range ws.F32() {
		ws.F32()[i] = float32(rng.Float64()*0.004 + 1e-4)
	}
	bias := New(graph.Int32, M)
	for i := range bias.Data.([]int32) {
		bias.Data.([]int32)[i] = int32(rng.IntN(20001) - 10000)
	}
	xs, ys := float32(0.02+rng.Float64()*0.02), float32(0.01+rng.Float64()*0.05)
	xzp, wzp, yzp := New(graph.Uint8), New(graph.Int8, M), New(graph.Uint8)
	xzp.Data.([]uint8)[0], yzp.Data.([]uint8)[0] = uint8(rng.IntN(256)), uint8(rng.IntN(60))
	p := int64(k / 2)
	node := &graph.Node{OpType: "QLinearConv", Domain: OnnxqDomain, Attrs: []*graph.Attribute{
		graph.StringAttr("activation", "HardSwish"),
		graph.IntAttr("group", int64(G)),
		graph.IntsAttr("strides", int64(s), int64(s)),
		graph.IntsAttr("pads", p, p, p, p),
	}}
	kern, err := newIntConvAct(node)
	if err != nil {
		t.Fatal(err)
	}
	in := []*Tensor{x, Scalar(xs), xzp, w, ws, wzp, Scalar(ys), yzp, bias}
	name := fmt.Sprintf("C%d M%d G%d k%d %dx%d s%d", C, M, G, k, H, W, s)
	forceReferenceQConv = true
	want, err := kern.Run(&Context{Threads: 1, Node: node}, in)
	forceReferenceQConv = false
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, threads := range []int{1, 3} {
		got, err := kern.Run(&Context{Threads: threads, Node: node}, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got[0].Data.([]uint8), want[0].Data.([]uint8)) {
			t.Fatalf("%s, %d threads: fast path differs from the reference", name, threads)
		}
	}
	// The float computation: dequantize, convolve in float64, hard-swish
	// in float32, quantize.
	out := want[0].Data.([]uint8)
	OH, OW := want[0].Shape[2], want[0].Shape[3]
	cg, mg := C/G, M/G
	zx := float64(xzp.Data.([]uint8)[0])
	exact := 0
	for m := range M {
		g := m / mg
		for oh := range OH {
			for ow := range OW {
				v := float64(bias.Data.([]int32)[m]) * float64(xs*ws.F32()[m])
				for ci := range cg {
					for i := range k {
						for j := range k {
							ih, iw := oh*s-int(p)+i, ow*s-int(p)+j
							if ih < 0 || ih >= H || iw < 0 || iw >= W {
								continue
							}
							xv := (float64(xd[((g*cg+ci)*H+ih)*W+iw]) - zx) * float64(xs)
							v += xv * float64(wd[((m*cg+ci)*k+i)*k+j]) * float64(ws.F32()[m])
						}
					}
				}
				f := float32(v)
				h := f * min(max(f+3, 0), 6) / 6
				q := math.RoundToEven(float64(h/ys)) + float64(yzp.Data.([]uint8)[0])
				q = min(max(q, 0), 255)
				got := float64(out[(m*OH+oh)*OW+ow])
				if math.Abs(got-q) > 1 {
					t.Fatalf("%s: output (%d,%d,%d) = %v, float computation %v", name, m, oh, ow, got, q)
				}
				if got == q {
					exact++
				}
			}
		}
	}
	return len(out), exact
}

// TestQLinearConvFloatOutput checks ai.onnxq QLinearConv without y_scale:
// the fast path equals the reference bit for bit, and both equal
// float32(sum)·x_scale·w_scale of the exact integer sum.
func TestQLinearConvFloatOutput(t *testing.T) {
	for _, name := range kernels.IgemmKernelNames() {
		restore, _ := kernels.UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(31, 32))
			for trial := range 40 {
				C, M, k := 1+rng.IntN(20), 1+rng.IntN(13), 1+2*rng.IntN(2)
				G := 1
				if trial%3 == 0 { // depthwise
					C, G = M, M
				}
				H, W, s := k+rng.IntN(9), k+rng.IntN(30), 1+rng.IntN(2)
				x := New(graph.Uint8, 1, C, H, W)
				for i := range x.Data.([]uint8) {
					x.Data.([]uint8)[i] = uint8(rng.IntN(256))
				}
				w := New(graph.Int8, M, C/G, k, k)
				for i := range w.Data.([]int8) {
					w.Data.([]int8)[i] = int8(rng.IntN(255) - 127)
				}
				ws := New(graph.Float32, M)
				for i := range ws.F32() {
					ws.F32()[i] = float32(rng.Float64()*0.01 + 1e-4)
				}
				bias := New(graph.Int32, M)
				for i := range bias.Data.([]int32) {
					bias.Data.([]int32)[i] = int32(rng.IntN(2001) - 1000)
				}
				xzp, wzp := New(graph.Uint8), New(graph.Int8, M)
				xzp.Data.([]uint8)[0] = uint8(rng.IntN(256))
				p := int64(k / 2)
				node := &graph.Node{OpType: "QLinearConv", Domain: OnnxqDomain, Attrs: []*graph.Attribute{
					graph.IntAttr("group", int64(G)), graph.IntsAttr("strides", int64(s), int64(s)), graph.IntsAttr("pads", p, p, p, p),
				}}
				kern, err := newIntConvAct(node)
				if err != nil {
					t.Fatal(err)
				}
				xs := float32(0.03)
				in := []*Tensor{x, Scalar(xs), xzp, w, ws, wzp, nil, nil, bias}
				forceReferenceQConv = true
				want, err := kern.Run(&Context{Threads: 1, Node: node}, in)
				forceReferenceQConv = false
				if err != nil {
					t.Fatal(err)
				}
				got, err := kern.Run(&Context{Threads: 2, Node: node}, in)
				if err != nil {
					t.Fatal(err)
				}
				if want[0].DType != graph.Float32 || !slices.Equal(got[0].F32(), want[0].F32()) {
					t.Fatalf("trial %d: fast path differs from the reference", trial)
				}
				// One output by hand: channel 0 at (0, 0).
				var sum int64 = int64(bias.Data.([]int32)[0])
				zx := int64(xzp.Data.([]uint8)[0])
				for ci := range C / G {
					for i := range k {
						for j := range k {
							ih, iw := i-int(p), j-int(p)
							if ih < 0 || iw < 0 || ih >= H || iw >= W {
								continue
							}
							sum += (int64(x.Data.([]uint8)[(ci*H+ih)*W+iw]) - zx) * int64(w.Data.([]int8)[(ci*k+i)*k+j])
						}
					}
				}
				if v := float32(sum) * (xs * ws.F32()[0]); got[0].F32()[0] != v {
					t.Fatalf("trial %d: output (0,0,0) = %v, want %v", trial, got[0].F32()[0], v)
				}
			}
		})
		restore()
	}
}
