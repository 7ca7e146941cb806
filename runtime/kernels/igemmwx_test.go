// igemmwx_test.go checks the channel-major INT8 GEMM and its packing
// against plain loops on every microkernel: odd sizes, extreme values,
// int8 activations through flip, guard bands around every output.

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// extremeBytes fills p with random bytes, a third of them 0x00, 0x7f,
// 0x80 or 0xff.
func extremeBytes(rng *rand.Rand, p []byte) {
	for i := range p {
		switch rng.IntN(6) {
		case 0:
			p[i] = []byte{0x00, 0x7f, 0x80, 0xff}[rng.IntN(4)]
		default:
			p[i] = byte(rng.Uint32())
		}
	}
}

func TestPackQuadsMatchesLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 31, 32, 33, 64, 95, 200} {
		for _, flip := range []bool{false, true} {
			kp := 12
			rows := make([][]byte, 4)
			for j := range rows {
				rows[j] = make([]byte, n)
				extremeBytes(rng, rows[j])
			}
			size := QuadsLen(kp, n)
			dst := make([]byte, size+64)
			for i := range dst {
				dst[i] = 0xa5
			}
			q := 1
			PackQuads(dst, kp, q, rows[0], rows[1], rows[2], rows[3], n, flip)
			var x byte
			if flip {
				x = 0x80
			}
			panels := (n + 31) / 32
			for p := range panels * 32 {
				for j := range 4 {
					got := dst[((p/32)*(kp/4)+q)*128+4*(p%32)+j]
					want := byte(0)
					if p < n {
						want = rows[j][p] ^ x
					}
					if got != want {
						t.Fatalf("n=%d flip=%v: column %d byte %d = %#x, want %#x", n, flip, p, j, got, want)
					}
				}
			}
			// Other quads and the bytes past the buffer are untouched.
			for p := range panels {
				for qq := range kp / 4 {
					if qq == q {
						continue
					}
					for _, v := range dst[(p*(kp/4)+qq)*128:][:128] {
						if v != 0xa5 {
							t.Fatalf("n=%d: quad %d of panel %d written", n, qq, p)
						}
					}
				}
			}
			for _, v := range dst[size:] {
				if v != 0xa5 {
					t.Fatalf("n=%d: wrote past the packed buffer", n)
				}
			}
		}
	}
}

// TestIgemmWXMatchesLoop packs random activations and weights of many
// shapes and compares C with the plain triple loop on every microkernel.
func TestIgemmWXMatchesLoop(t *testing.T) {
	for _, name := range IgemmKernelNames() {
		restore, _ := UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for _, s := range [][3]int{{1, 1, 1}, {8, 4, 32}, {3, 5, 7}, {9, 13, 33}, {16, 64, 64}, {17, 147, 100}, {24, 9, 250}, {5, 576, 40}} {
				m, k, n := s[0], s[1], s[2]
				for _, flip := range []bool{false, true} {
					t.Run(fmt.Sprintf("%dx%dx%d/flip=%v", m, k, n, flip), func(t *testing.T) {
						checkIgemmWX(t, rng, m, k, n, flip)
					})
				}
			}
		})
		restore()
	}
}

func checkIgemmWX(t *testing.T, rng *rand.Rand, m, k, n int, flip bool) {
	const guard, guardValue = 17, int32(0x5eadbeef)
	ldw := k + rng.IntN(3)
	w := make([]int8, (m-1)*ldw+k)
	for i := range w {
		w[i] = int8(byte(rng.Uint32()))
		if rng.IntN(5) == 0 {
			w[i] = []int8{-128, 127, -127}[rng.IntN(3)]
		}
	}
	x := make([][]byte, k) // row p of X: depth step p, n columns
	for p := range x {
		x[p] = make([]byte, n)
		extremeBytes(rng, x[p])
	}
	pw := PackW8(m, k, w, ldw)
	xq := make([]byte, QuadsLen(pw.Kp, n))
	zero := make([]byte, n)
	row := func(p int) []byte {
		if p < k {
			return x[p]
		}
		return zero
	}
	for q := range pw.Kp / 4 {
		PackQuads(xq, pw.Kp, q, row(4*q), row(4*q+1), row(4*q+2), row(4*q+3), n, flip)
	}
	ldc := (n+31)/32*32 + rng.IntN(5)
	rows := pw.Rows()
	c := make([]int32, 2*guard+(rows-1)*ldc+(n+31)/32*32)
	for i := range c {
		c[i] = guardValue
	}
	IgemmWX(pw, n, xq, c[guard:len(c)-guard], ldc)
	var xor byte
	if flip {
		xor = 0x80
	}
	written := map[int]bool{}
	for i := range rows {
		for p := range (n + 31) / 32 * 32 {
			written[guard+i*ldc+p] = true
			if p >= n {
				continue
			}
			var want int32
			if i < m {
				for d := range k {
					want += int32(w[i*ldw+d]) * int32(x[d][p]^xor)
				}
			}
			if got := c[guard+i*ldc+p]; got != want {
				t.Fatalf("C[%d,%d] = %d, want %d", i, p, got, want)
			}
		}
	}
	for i, v := range c {
		if !written[i] && v != guardValue {
			t.Fatalf("C[%d] outside the tiles overwritten: %d", i-guard, v)
		}
	}
	for i := range m {
		var s int32
		for d := range k {
			s += int32(w[i*ldw+d])
		}
		if pw.RowSums[i] != s {
			t.Fatalf("row sum %d = %d, want %d", i, pw.RowSums[i], s)
		}
	}
}

func BenchmarkIgemmWX(b *testing.B) {
	for _, s := range [][3]int{{64, 576, 256}, {256, 256, 256}, {128, 1152, 256}} {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			w := make([]int8, m*k)
			for i := range w {
				w[i] = int8(byte(rng.Uint32()))
			}
			pw := PackW8(m, k, w, k)
			xq := make([]byte, QuadsLen(pw.Kp, n))
			extremeBytes(rng, xq)
			c := make([]int32, pw.Rows()*n)
			b.SetBytes(0)
			for b.Loop() {
				IgemmWX(pw, n, xq, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gops/s")
		})
	}
}

func BenchmarkPackQuads(b *testing.B) {
	n, kp := 4096, 64
	rows := make([][]byte, 4)
	for j := range rows {
		rows[j] = make([]byte, n)
	}
	dst := make([]byte, QuadsLen(kp, n))
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		PackQuads(dst, kp, 3, rows[0], rows[1], rows[2], rows[3], n, false)
	}
}

// TestIgemmWXQMatchesLoop checks the fused GEMM and requantization
// against IgemmWX and the portable requantization on every microkernel,
// with per-row parameters and guard bytes around every output row.
func TestIgemmWXQMatchesLoop(t *testing.T) {
	for _, name := range IgemmKernelNames() {
		restore, _ := UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(15, 16))
			for _, s := range [][3]int{{1, 1, 1}, {8, 4, 32}, {3, 5, 7}, {9, 13, 33}, {16, 64, 64}, {17, 147, 100}, {24, 9, 250}} {
				checkIgemmWXQ(t, rng, s[0], s[1], s[2])
			}
		})
		restore()
	}
}

func checkIgemmWXQ(t *testing.T, rng *rand.Rand, m, k, n int) {
	t.Helper()
	for _, hardSwish := range []bool{false, true} {
		checkIgemmWXQForm(t, rng, m, k, n, hardSwish)
	}
}

func checkIgemmWXQForm(t *testing.T, rng *rand.Rand, m, k, n int, hardSwish bool) {
	t.Helper()
	w := make([]int8, m*k)
	for i := range w {
		w[i] = int8(byte(rng.Uint32()))
	}
	pw := PackW8(m, k, w, k)
	xq := make([]byte, QuadsLen(pw.Kp, n))
	extremeBytes(rng, xq)
	rq := make([]Requant, m)
	for i := range rq {
		zp := int32(rng.IntN(256)) - 128*int32(rng.IntN(2))
		lo, hi := int32(0), int32(255)
		if zp < 0 || rng.IntN(2) == 0 {
			lo, hi = -128, 127
			zp = int32(rng.IntN(256)) - 128
		}
		rq[i] = Requant{Add: int32(rng.IntN(200001) - 100000), Scale: float32(rng.Float64() * 1e-3), Lo: float32(lo - zp), Hi: float32(hi - zp), ZP: zp}
	}
	ldo := n + rng.IntN(9)
	const guard = 0x3C
	out := make([]byte, m*ldo+40)
	for i := range out {
		out[i] = guard
	}
	yScale := float32(rng.Float64()*0.05 + 0.005)
	if hardSwish {
		for i := range rq {
			rq[i].Scale *= 20 // values of a few units, around hard-swish's bend
		}
		IgemmWXH(pw, n, xq, out, ldo, rq, yScale)
	} else {
		IgemmWXQ(pw, n, xq, out, ldo, rq)
	}
	ldc := (n + 31) / 32 * 32
	c := make([]int32, pw.Rows()*ldc)
	IgemmWX(pw, n, xq, c, ldc)
	want := make([]byte, n)
	for i := range m {
		if hardSwish {
			hardSwishRequantizeGo(want, c[i*ldc:], rq[i].Add, rq[i].Scale, yScale, rq[i].Lo, rq[i].Hi, rq[i].ZP)
		} else {
			requantizeGo(want, c[i*ldc:], rq[i].Add, rq[i].Scale, rq[i].Lo, rq[i].Hi, rq[i].ZP)
		}
		for p, v := range want {
			if got := out[i*ldo+p]; got != v {
				t.Fatalf("%dx%dx%d: out[%d,%d] = %d, want %d", m, k, n, i, p, got, v)
			}
		}
		for p := i*ldo + n; p < (i+1)*ldo; p++ {
			if out[p] != guard {
				t.Fatalf("%dx%dx%d: byte %d past row %d written", m, k, n, p, i)
			}
		}
	}
	for p := m * ldo; p < len(out); p++ {
		if out[p] != guard {
			t.Fatalf("%dx%dx%d: byte %d past the last row written", m, k, n, p)
		}
	}
}

// TestIgemmTapsQMatchesLoop checks the tap-shifted GEMM against the
// formula of IgemmTapsQ on every microkernel, with guard bytes.
func TestIgemmTapsQMatchesLoop(t *testing.T) {
	for _, name := range IgemmKernelNames() {
		restore, _ := UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(27, 28))
			for _, s := range [][3]int{{1, 1, 1}, {8, 9, 32}, {3, 4, 7}, {24, 9, 100}, {17, 25, 65}, {5, 1, 40}} {
				m, ntaps, n := s[0], s[1], s[2]
				q := 1 + rng.IntN(4)
				taps := make([]int, ntaps)
				for i := range taps {
					taps[i] = 4 * rng.IntN(50)
				}
				quadStride := 4 * (n + 90)
				base := 4 * rng.IntN(5)
				xq := make([]byte, base+(q-1)*quadStride+4*((n+31)/32*32)+4*50+8)
				extremeBytes(rng, xq)
				w := make([]int8, m*ntaps*q*4)
				for i := range w {
					w[i] = int8(byte(rng.Uint32()))
				}
				pw := PackW8(m, len(w)/m, w, len(w)/m)
				rq := make([]Requant, m)
				for i := range rq {
					rq[i] = Requant{Add: int32(rng.IntN(20001) - 10000), Scale: float32(rng.Float64() * 1e-4), Lo: -128, Hi: 127, ZP: 128}
				}
				ldo := n + 3
				out := make([]byte, m*ldo+20)
				for i := range out {
					out[i] = 0x5A
				}
				IgemmTapsQ(pw, n, xq, base, taps, quadStride, out, ldo, rq)
				for i := range m {
					for p := range n {
						var sum int32
						for ti, off := range taps {
							for qq := range q {
								for j := range 4 {
									sum += int32(w[i*ntaps*q*4+(ti*q+qq)*4+j]) * int32(xq[base+off+qq*quadStride+4*p+j])
								}
							}
						}
						want := []byte{0}
						requantizeGo(want, []int32{sum}, rq[i].Add, rq[i].Scale, rq[i].Lo, rq[i].Hi, rq[i].ZP)
						if got := out[i*ldo+p]; got != want[0] {
							t.Fatalf("%v: out[%d,%d] = %d, want %d", s, i, p, got, want[0])
						}
					}
					for p := i*ldo + n; p < (i+1)*ldo && p < len(out); p++ {
						if out[p] != 0x5A {
							t.Fatalf("%v: byte %d after row %d written", s, p, i)
						}
					}
				}
			}
		})
		restore()
	}
}
