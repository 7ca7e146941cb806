// This file benchmarks Conv on layer shapes of the shared CNNs, by path
// (GEMM with implicit im2col, direct row kernels, depthwise), reporting
// GFLOP/s.

package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

var benchConvCases = []struct {
	name string
	cc   convCase
}{
	{"first3x3s2_3to16_320", convCase{n: 1, c: 3, m: 16, group: 1, in: []int{320, 320}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"mnist5x5_8to16_14", convCase{n: 1, c: 8, m: 16, group: 1, in: []int{14, 14}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}, bias: true}},
	{"mnist5x5_1to8_28", convCase{n: 1, c: 1, m: 8, group: 1, in: []int{28, 28}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}, bias: true}},
	{"3x3_8to16_30x40", convCase{n: 1, c: 8, m: 16, group: 1, in: []int{30, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"3x3d3_16to16_30x40", convCase{n: 1, c: 16, m: 16, group: 1, in: []int{30, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{3, 3}, pads: []int{3, 3, 3, 3}, bias: true}},
	{"3x3_96to24_160", convCase{n: 1, c: 96, m: 24, group: 1, in: []int{160, 160}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}}},
	{"3x3_64to64_40", convCase{n: 1, c: 64, m: 64, group: 1, in: []int{40, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"3x3_128to128_20", convCase{n: 1, c: 128, m: 128, group: 1, in: []int{20, 20}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"3x3_256to12_4x5", convCase{n: 1, c: 256, m: 12, group: 1, in: []int{4, 5}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"3x3s2_64to128_40", convCase{n: 1, c: 64, m: 128, group: 1, in: []int{40, 40}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"1x1_128to256_8x10", convCase{n: 1, c: 128, m: 256, group: 1, in: []int{8, 10}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_336to96_22", convCase{n: 1, c: 336, m: 96, group: 1, in: []int{22, 22}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_16to64_80", convCase{n: 1, c: 16, m: 64, group: 1, in: []int{80, 80}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_96to24_160", convCase{n: 1, c: 96, m: 24, group: 1, in: []int{160, 160}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_96to96_22", convCase{n: 1, c: 96, m: 96, group: 1, in: []int{22, 22}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_48to48_22", convCase{n: 1, c: 48, m: 48, group: 1, in: []int{22, 22}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"1x1_24to24_44", convCase{n: 1, c: 24, m: 24, group: 1, in: []int{44, 44}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"first3x3s2_3to24_352", convCase{n: 1, c: 3, m: 24, group: 1, in: []int{352, 352}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"1x1_64to64_80", convCase{n: 1, c: 64, m: 64, group: 1, in: []int{80, 80}, k: []int{1, 1}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}, bias: true}},
	{"dw3x3_64_80", convCase{n: 1, c: 64, m: 64, group: 64, in: []int{80, 80}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"dw3x3_64_40", convCase{n: 1, c: 64, m: 64, group: 64, in: []int{40, 40}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, bias: true}},
	{"dw3x3s2_32_120x160", convCase{n: 1, c: 32, m: 32, group: 32, in: []int{120, 160}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}}},
	{"dw5x5_96_22", convCase{n: 1, c: 96, m: 96, group: 96, in: []int{22, 22}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}, bias: true}},
}

// convBenchModel is X → Conv → Shape: the Conv output goes back to the
// session's buffer pool, as inside a model.
func convBenchModel(b *testing.B, r *rand.Rand, cc convCase) (*Session, map[string]*Tensor, float64) {
	bl := graph.NewBuilder(17)
	constF := func(name string, shape ...int) *graph.Value {
		t := randTensorF32(r, shape...)
		dims := make([]int64, len(shape))
		for i, d := range shape {
			dims[i] = int64(d)
		}
		return bl.Const(graph.FromFloat32s(name, dims, t.F32()))
	}
	xs := append([]int{cc.n, cc.c}, cc.in...)
	dims := make([]int64, len(xs))
	for i, d := range xs {
		dims[i] = int64(d)
	}
	x := bl.Input("x", graph.Float32, dims...)
	args := []any{x, constF("w", append([]int{cc.m, cc.c / cc.group}, cc.k...)...)}
	if cc.bias {
		args = append(args, constF("b", cc.m))
	}
	for _, a := range cc.node("Conv").Attrs {
		args = append(args, a)
	}
	y := bl.Op("Conv", args...)
	bl.Output(bl.Op("Shape", y))
	m, err := bl.Model()
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSession(m, Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	k, _ := buildConv(cc.node("Conv"), 17)
	sh, err := k.(*convKernel).shape(randTensorF32(r, xs...), New(graph.Float32, append([]int{cc.m, cc.c / cc.group}, cc.k...)...), nil)
	if err != nil {
		b.Fatal(err)
	}
	macs := float64(product(sh.outShape)) * float64(cc.c/cc.group*product(cc.k))
	return s, map[string]*Tensor{"x": randTensorF32(r, xs...)}, macs
}

func BenchmarkConv(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, bc := range benchConvCases {
		cc := bc.cc
		s, in, macs := convBenchModel(b, r, cc)
		paths := []string{""}
		if cc.group == 1 {
			paths = []string{"gemm", "direct"}
		}
		for _, path := range paths {
			b.Run(fmt.Sprintf("%s/%s", bc.name, path), func(b *testing.B) {
				convPath = path
				defer func() { convPath = "" }()
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					s.Run(in)
				}
				b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
