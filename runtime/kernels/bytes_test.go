package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestMaxBytesMatchesDefinition checks MaxBytes, unsigned and signed, at
// lengths around the 32-byte step, in place and not, guarding the bytes
// past dst and the inputs.
func TestMaxBytesMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 257} {
		a, b := make([]byte, n), make([]byte, n)
		for i := range a {
			a[i], b[i] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if n > 4 {
			a[0], b[0], a[1], b[1], a[2], b[2] = 0x7F, 0x80, 0x80, 0x7F, 0xFF, 0x00
		}
		for _, signed := range []bool{false, true} {
			got := make([]byte, n+33)
			for i := range got {
				got[i] = 0xA5
			}
			ac, bc := append([]byte(nil), a...), append([]byte(nil), b...)
			MaxBytes(got[:n], a, b, signed)
			inPlace := append([]byte(nil), a...)
			MaxBytes(inPlace, inPlace, b, signed)
			inPlaceB := append([]byte(nil), b...)
			MaxBytes(inPlaceB, a, inPlaceB, signed)
			for i := range n {
				want := max(a[i], b[i])
				if signed {
					want = byte(max(int8(a[i]), int8(b[i])))
				}
				if got[i] != want || inPlace[i] != want || inPlaceB[i] != want {
					t.Fatalf("n %d signed %v: max(%#x, %#x) is %#x (in place %#x, %#x), want %#x", n, signed, a[i], b[i], got[i], inPlace[i], inPlaceB[i], want)
				}
			}
			for i := n; i < len(got); i++ {
				if got[i] != 0xA5 {
					t.Fatalf("n %d: wrote past the destination at %d", n, i)
				}
			}
			if string(ac) != string(a) || string(bc) != string(b) {
				t.Fatalf("n %d: an input changed", n)
			}
		}
	}
}

// TestDeinterleaveBytesMatchesDefinition checks DeinterleaveBytes on odd
// and even lengths around the 64-byte step.
func TestDeinterleaveBytesMatchesDefinition(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 63, 64, 65, 66, 127, 128, 129, 200, 301} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*7 + 3)
		}
		even := make([]byte, (n+1)/2+32)
		odd := make([]byte, n/2+32)
		for i := range even {
			even[i] = 0xA5
		}
		for i := range odd {
			odd[i] = 0xA5
		}
		DeinterleaveBytes(even[:(n+1)/2], odd[:n/2], src)
		for i := range (n + 1) / 2 {
			if even[i] != src[2*i] {
				t.Fatalf("n %d: even[%d] = %d, want %d", n, i, even[i], src[2*i])
			}
		}
		for i := range n / 2 {
			if odd[i] != src[2*i+1] {
				t.Fatalf("n %d: odd[%d] = %d, want %d", n, i, odd[i], src[2*i+1])
			}
		}
		for i := (n + 1) / 2; i < len(even); i++ {
			if even[i] != 0xA5 {
				t.Fatalf("n %d: wrote past even at %d", n, i)
			}
		}
		for i := n / 2; i < len(odd); i++ {
			if odd[i] != 0xA5 {
				t.Fatalf("n %d: wrote past odd at %d", n, i)
			}
		}
	}
}

// TestCopyRows checks CopyRows against per-row copies for row lengths
// around the 16- and 32-byte steps, with and without the flip, and that
// the bytes between rows stay.
func TestCopyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{1, 5, 15, 16, 17, 31, 32, 33, 63, 64, 80, 100} {
		for _, flip := range []bool{false, true} {
			rows, ss, ds := 5, n+rng.IntN(7), n+1+rng.IntN(5)
			src := make([]byte, rows*ss)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			dst := make([]byte, rows*ds+3)
			for i := range dst {
				dst[i] = 0x5A
			}
			CopyRows(dst, ds, src, ss, rows, n, flip)
			var x byte
			if flip {
				x = 0x80
			}
			for r := range rows {
				for i := range ds {
					got, want := dst[r*ds+i], byte(0x5A)
					if i < n {
						want = src[r*ss+i] ^ x
					}
					if got != want {
						t.Fatalf("n=%d flip=%v: row %d byte %d = %#x, want %#x", n, flip, r, i, got, want)
					}
				}
			}
		}
	}
}

// TestMaxPool2x2 checks the 2×2 stride-2 plane pooling against its
// definition, uint8 and int8, widths around the 32-output step (masked
// tails) and input rows longer than twice the output.
func TestMaxPool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, n := range []int{1, 10, 20, 31, 32, 33, 40, 64, 80, 100} {
		for _, extra := range []int{0, 1} {
			rows, iw := 3, 2*n+extra
			in := make([]byte, 2*rows*iw)
			for i := range in {
				in[i] = byte(rng.Uint32())
			}
			for _, signed := range []bool{false, true} {
				out := make([]byte, rows*n+2)
				MaxPool2x2(out[:rows*n], in, iw, rows, n, signed)
				for r := range rows {
					for o := range n {
						vals := []byte{in[2*r*iw+2*o], in[2*r*iw+2*o+1], in[(2*r+1)*iw+2*o], in[(2*r+1)*iw+2*o+1]}
						want := vals[0]
						for _, v := range vals[1:] {
							if (signed && int8(v) > int8(want)) || (!signed && v > want) {
								want = v
							}
						}
						if got := out[r*n+o]; got != want {
							t.Fatalf("n=%d iw=%d signed=%v: out[%d,%d] = %d, want %d", n, iw, signed, r, o, got, want)
						}
					}
				}
				if out[rows*n] != 0 || out[rows*n+1] != 0 {
					t.Fatal("wrote past the output")
				}
			}
		}
	}
}

// TestMaxPool3x3S2 checks the 3×3 stride-2 pad-1 plane pooling against
// the window definition, uint8 and int8, odd and even sizes, widths
// around the 32- and 64-byte steps.
func TestMaxPool3x3S2(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	for _, ih := range []int{1, 2, 5, 8} {
		for _, iw := range []int{1, 2, 3, 30, 63, 64, 65, 130, 177} {
			oh, ow := (ih-1)/2+1, (iw-1)/2+1
			in := make([]byte, ih*iw)
			for i := range in {
				in[i] = byte(rng.Uint32())
				if rng.IntN(6) == 0 {
					in[i] = []byte{0, 0x7F, 0x80, 0xFF}[rng.IntN(4)]
				}
			}
			for _, signed := range []bool{false, true} {
				out := make([]byte, oh*ow+2)
				buf := make([]byte, iw+66)
				MaxPool3x3S2(out[:oh*ow], in, ih, iw, oh, ow, signed, buf)
				for oy := range oh {
					for ox := range ow {
						first := true
						var want byte
						for y := 2*oy - 1; y <= 2*oy+1; y++ {
							for x := 2*ox - 1; x <= 2*ox+1; x++ {
								if y < 0 || y >= ih || x < 0 || x >= iw {
									continue
								}
								v := in[y*iw+x]
								if first || (signed && int8(v) > int8(want)) || (!signed && v > want) {
									want, first = v, false
								}
							}
						}
						if got := out[oy*ow+ox]; got != want {
							t.Fatalf("%dx%d signed=%v: out[%d,%d] = %d, want %d", ih, iw, signed, oy, ox, got, want)
						}
					}
				}
				if out[oh*ow] != 0 || out[oh*ow+1] != 0 {
					t.Fatal("wrote past the output")
				}
			}
		}
	}
}

// TestInterleaveBytesMatchesDefinition checks InterleaveBytes on odd and
// even lengths around the 32-pair step, and that it writes nothing past
// dst.
func TestInterleaveBytesMatchesDefinition(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 15, 16, 17, 63, 64, 65, 66, 127, 128, 129, 200, 301} {
		even, odd := make([]byte, (n+1)/2), make([]byte, n/2)
		for i := range even {
			even[i] = byte(i*7 + 3)
		}
		for i := range odd {
			odd[i] = byte(200 - i*5)
		}
		dst := make([]byte, n+40)
		for i := range dst {
			dst[i] = 0xA5
		}
		InterleaveBytes(dst[:n], even, odd)
		for i := range n {
			want := even[i/2]
			if i%2 == 1 {
				want = odd[i/2]
			}
			if dst[i] != want {
				t.Fatalf("n %d: dst[%d] = %d, want %d", n, i, dst[i], want)
			}
		}
		for i := n; i < len(dst); i++ {
			if dst[i] != 0xA5 {
				t.Fatalf("n %d: wrote past dst at %d", n, i)
			}
		}
	}
}
