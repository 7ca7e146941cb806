// This file tests 8-bit MaxPool against the naive per-window loop:
// random 1-D and 2-D geometries (strides, dilations, pads, auto_pad,
// ceil_mode), wide rows that reach the vector loops, uint8 and int8, and
// several thread counts.

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestMaxPoolBytesMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	var cases []poolCase
	for iter := 0; iter < 400; iter++ {
		cases = append(cases, randPoolCase(r, "MaxPool", 1+iter%2))
	}
	// Model-sized rows: 2×2 stride 2, 3×3 stride 2 pad 1, 3×3 stride 1,
	// 5×5 stride 1 pad 2 (SPP), dilated and ceil_mode ones.
	cases = append(cases,
		poolCase{op: "MaxPool", n: 1, c: 3, in: []int{40, 130}, k: []int{2, 2}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "MaxPool", n: 2, c: 3, in: []int{41, 131}, k: []int{2, 2}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "MaxPool", n: 1, c: 2, in: []int{37, 177}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		poolCase{op: "MaxPool", n: 2, c: 2, in: []int{20, 99}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		poolCase{op: "MaxPool", n: 1, c: 2, in: []int{21, 70}, k: []int{5, 5}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{2, 2, 2, 2}},
		poolCase{op: "MaxPool", n: 1, c: 2, in: []int{21, 150}, k: []int{3, 3}, s: []int{2, 2}, d: []int{2, 3}, pads: []int{2, 1, 1, 2}},
		poolCase{op: "MaxPool", n: 1, c: 2, in: []int{22, 141}, k: []int{2, 3}, s: []int{3, 3}, d: []int{1, 1}, pads: []int{0, 1, 1, 1}, ceil: true},
		poolCase{op: "MaxPool", n: 1, c: 4, in: []int{300}, k: []int{4}, s: []int{2}, d: []int{1}, pads: []int{1, 2}, ceil: true},
	)
	for _, pc := range cases {
		k, err := buildPool(pc.node(1), 22, poolMax)
		if err != nil {
			t.Fatal(err)
		}
		win, err := k.(*poolKernel).resolvePool(pc.in)
		if err != nil {
			t.Fatalf("%v: %v", pc, err)
		}
		shape := append([]int{pc.n, pc.c}, pc.in...)
		for _, dt := range []graph.DType{graph.Uint8, graph.Int8} {
			x := New(dt, shape...)
			xb := bytesOf(x)
			for i := range xb {
				xb[i] = byte(r.Uint32())
				if r.IntN(8) == 0 {
					xb[i] = []byte{0, 0x7F, 0x80, 0xFF}[r.IntN(4)]
				}
			}
			orig := append([]byte(nil), xb...)
			xv, _ := x.AsFloat64()
			want, _ := naivePool(pc, win, xv)
			lo, hi := 0.0, 255.0
			if dt == graph.Int8 {
				lo, hi = -128, 127
			}
			for _, threads := range []int{1, 3} {
				out, err := k.Run(&Context{Threads: threads}, []*Tensor{x})
				if err != nil {
					t.Fatalf("%v %v: %v", pc, dt, err)
				}
				got, _ := out[0].AsFloat64()
				if len(got) != len(want) {
					t.Fatalf("%v %v: %d outputs, want %d", pc, dt, len(got), len(want))
				}
				for i := range want {
					if w := math.Max(lo, math.Min(hi, want[i])); got[i] != w {
						t.Fatalf("%v %v threads %d: element %d is %v, want %v", pc, dt, threads, i, got[i], w)
					}
				}
			}
			if string(orig) != string(xb) {
				t.Fatalf("%v %v: the input changed", pc, dt)
			}
		}
	}
}

// BenchmarkMaxPool times MaxPool on model-sized planes (YuNet's 2×2
// stride 2, FastestDet's 3×3 stride 2 pad 1), float32 against uint8.
func BenchmarkMaxPool(b *testing.B) {
	geoms := []poolCase{
		{op: "MaxPool", n: 1, c: 16, in: []int{160, 160}, k: []int{2, 2}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{op: "MaxPool", n: 1, c: 24, in: []int{176, 176}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
	}
	for _, pc := range geoms {
		for _, dt := range []graph.DType{graph.Float32, graph.Uint8} {
			b.Run(fmt.Sprintf("%v_k%d_%v", pc.in, pc.k[0], dt), func(b *testing.B) {
				k, err := buildPool(pc.node(1), 22, poolMax)
				if err != nil {
					b.Fatal(err)
				}
				x := New(dt, append([]int{pc.n, pc.c}, pc.in...)...)
				ctx := &Context{Threads: 1}
				for b.Loop() {
					if _, err := k.Run(ctx, []*Tensor{x}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
