// dwconv_test.go checks DepthwiseRow against a plain loop on every
// microkernel: strides 1 and 2, more quads than one call takes, odd
// lengths, extreme bytes and weights, guard values after the outputs.

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestDepthwiseRowMatchesLoop(t *testing.T) {
	for _, name := range IgemmKernelNames() {
		restore, _ := UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			for _, stride := range []int{1, 2} {
				for _, n := range []int{1, 31, 32, 33, 63, 64, 65, 200, 1000} {
					for _, nq := range []int{1, 3, 7, 16, 17, 40} {
						checkDepthwiseRow(t, rng, n, nq, stride)
					}
				}
			}
		})
		restore()
	}
}

func checkDepthwiseRow(t *testing.T, rng *rand.Rand, n, nq, stride int) {
	t.Helper()
	quads := make([]DWQuad, nq)
	for i := range quads {
		q := &quads[i]
		q.Off = rng.IntN(37)
		for j := range q.W {
			q.W[j] = int8(byte(rng.Uint32()))
			if rng.IntN(4) == 0 {
				q.W[j] = []int8{-128, 127, 0}[rng.IntN(3)]
			}
		}
	}
	taps := NewDWTaps(quads)
	src := make([]byte, taps.Reach(n, stride))
	extremeBytes(rng, src)
	block := DWBlock(stride)
	written := (n + block - 1) / block * block
	const guard = int32(-0x21524111)
	dst := make([]int32, written+8)
	for i := range dst {
		dst[i] = guard
	}
	DepthwiseRow(dst, src, taps, n, stride)
	for o := range written {
		var want int32
		for _, q := range quads {
			for j, w := range q.W {
				want += int32(src[o*stride+q.Off+j]) * int32(w)
			}
		}
		if dst[o] != want {
			t.Fatalf("stride %d, n=%d, %d quads: output %d = %d, want %d", stride, n, nq, o, dst[o], want)
		}
	}
	for _, v := range dst[written:] {
		if v != guard {
			t.Fatalf("stride %d, n=%d: wrote past the blocks", stride, n)
		}
	}
}

func BenchmarkDepthwiseRow(b *testing.B) {
	for _, stride := range []int{1, 2} {
		n := 160 / stride
		b.Run(fmt.Sprintf("%d/stride%d", n, stride), func(b *testing.B) {
			taps := NewDWTaps([]DWQuad{{0, [4]int8{1, 2, 3, 0}}, {162, [4]int8{1, 2, 3, 0}}, {324, [4]int8{1, 2, 3, 0}}})
			src := make([]byte, taps.Reach(n, stride))
			dst := make([]int32, n+64)
			b.SetBytes(int64(n))
			for b.Loop() {
				DepthwiseRow(dst, src, taps, n, stride)
			}
		})
	}
}

// TestDepthwiseRowsQMatchesLoop checks the fused rows-and-requantize
// kernel against DepthwiseRow and the portable requantization, with
// guard bytes between and after the output rows.
func TestDepthwiseRowsQMatchesLoop(t *testing.T) {
	for _, name := range IgemmKernelNames() {
		restore, _ := UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, 14))
			for _, stride := range []int{1, 2} {
				for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 80, 129} {
					for _, nq := range []int{1, 3, 14, 70} {
						rows := 1 + rng.IntN(4)
						checkDepthwiseRowsQ(t, rng, rows, n, nq, stride, false)
						checkDepthwiseRowsQ(t, rng, rows, n, nq, stride, true)
					}
				}
			}
		})
		restore()
	}
}

func checkDepthwiseRowsQ(t *testing.T, rng *rand.Rand, rows, n, nq, stride int, hardSwish bool) {
	t.Helper()
	quads := make([]DWQuad, nq)
	for i := range quads {
		q := &quads[i]
		q.Off = rng.IntN(37)
		for j := range q.W {
			q.W[j] = int8(byte(rng.Uint32()))
		}
	}
	lds := n*stride + rng.IntN(40)
	taps := NewDWTaps(quads)
	src := make([]byte, (rows-1)*lds+taps.Reach(n, stride))
	extremeBytes(rng, src)
	ldo := n + rng.IntN(5)
	const guard = 0xC3
	out := make([]byte, (rows-1)*ldo+n+70)
	for i := range out {
		out[i] = guard
	}
	zp := int32(rng.IntN(256))
	rq := Requant{Add: int32(rng.IntN(20001) - 10000), Scale: float32(rng.Float64() * 1e-3), Lo: float32(-zp), Hi: float32(255 - zp), ZP: zp}
	yScale := float32(0.04)
	if hardSwish {
		rq.Scale *= 30 // values of a few units, around hard-swish's bend
		DepthwiseRowsH(out, ldo, src, lds, taps, rows, n, stride, rq, yScale)
	} else {
		DepthwiseRowsQ(out, ldo, src, lds, taps, rows, n, stride, rq)
	}
	block := DWBlock(stride)
	sums := make([]int32, (n+block-1)/block*block)
	want := make([]byte, n)
	for r := range rows {
		DepthwiseRow(sums, src[r*lds:], taps, n, stride)
		if hardSwish {
			hardSwishRequantizeGo(want, sums, rq.Add, rq.Scale, yScale, rq.Lo, rq.Hi, rq.ZP)
		} else {
			requantizeGo(want, sums, rq.Add, rq.Scale, rq.Lo, rq.Hi, rq.ZP)
		}
		for i, v := range want {
			if got := out[r*ldo+i]; got != v {
				t.Fatalf("stride %d, %d rows of %d, %d quads: row %d output %d = %d, want %d", stride, rows, n, nq, r, i, got, v)
			}
		}
		end := len(out)
		if r+1 < rows {
			end = (r + 1) * ldo
		}
		for i := r*ldo + n; i < end; i++ {
			if out[i] != guard {
				t.Fatalf("stride %d, %d rows of %d: byte %d after row %d written", stride, rows, n, i, r)
			}
		}
	}
}

func BenchmarkDepthwiseRowsQ(b *testing.B) {
	for _, stride := range []int{1, 2} {
		oh, ow := 80/stride, 80/stride
		wp := (ow-1)*stride + 3
		b.Run(fmt.Sprintf("%dx%d/stride%d", oh, ow, stride), func(b *testing.B) {
			taps := NewDWTaps([]DWQuad{{0, [4]int8{1, 2, 3, 0}}, {wp, [4]int8{1, 2, 3, 0}}, {2 * wp, [4]int8{1, 2, 3, 0}}})
			src := make([]byte, (oh-1)*stride*wp+taps.Reach(ow, stride))
			out := make([]byte, oh*ow)
			rq := Requant{Scale: 0.01, Lo: -128, Hi: 127, ZP: 128}
			b.SetBytes(int64(oh * ow))
			for b.Loop() {
				DepthwiseRowsQ(out, ow, src, stride*wp, taps, oh, ow, stride, rq)
			}
		})
	}
}
