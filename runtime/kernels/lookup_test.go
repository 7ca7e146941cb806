package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestLookupBytesMatchesLoop checks LookupBytes against the plain loop on
// every length from 0 to 300 and on long rows, with random tables (and
// the identity and a constant table), misaligned starts, in place and
// not, guarding the bytes past dst and checking that src is unchanged.
func TestLookupBytesMatchesLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ident, constant [256]byte
	for i := range ident {
		ident[i], constant[i] = byte(i), 0x5C
	}
	sizes := make([]int, 0, 310)
	for n := 0; n <= 300; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 4095, 4096, 65536+63, 1<<20+1)
	for _, n := range sizes {
		tables := []*[256]byte{&ident, &constant}
		for range 2 {
			var tb [256]byte
			for i := range tb {
				tb[i] = byte(rng.Uint32())
			}
			tables = append(tables, &tb)
		}
		off := rng.IntN(64)
		buf := make([]byte, off+n)
		src := buf[off:]
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		if n >= 2 {
			src[0], src[n-1] = 0x80, 0x7F
		}
		orig := append([]byte(nil), src...)
		for k, tb := range tables {
			got := make([]byte, off+n+70)
			for i := range got {
				got[i] = 0xA5
			}
			LookupBytes(got[off:off+n], src, tb)
			want := make([]byte, n)
			lookupBytesGo(want, src, tb)
			for i := range n {
				if w := tb[src[i]]; want[i] != w || got[off+i] != w {
					t.Fatalf("n %d table %d: byte %d (%#x) is %#x (loop %#x), want %#x", n, k, i, src[i], got[off+i], want[i], w)
				}
			}
			for i := range got {
				if (i < off || i >= off+n) && got[i] != 0xA5 {
					t.Fatalf("n %d table %d: wrote outside the destination at %d", n, k, i-off)
				}
			}
			if string(src) != string(orig) {
				t.Fatalf("n %d table %d: the source changed", n, k)
			}
			inPlace := append([]byte(nil), src...)
			LookupBytes(inPlace, inPlace, tb)
			if string(inPlace) != string(want) {
				t.Fatalf("n %d table %d: in place differs", n, k)
			}
		}
	}
}

// TestLookupBytesEveryValue maps all 256 values, in every position of a
// 64-byte block, through a table whose entries all differ.
func TestLookupBytesEveryValue(t *testing.T) {
	var tb [256]byte
	for i := range tb {
		tb[i] = byte(i*73 + 11) // 73 is odd: a permutation
	}
	for shift := range 64 {
		src := make([]byte, 256+shift)
		for i := range src {
			src[i] = byte(i - shift)
		}
		dst := make([]byte, len(src))
		LookupBytes(dst, src, &tb)
		for i, v := range src {
			if dst[i] != tb[v] {
				t.Fatalf("shift %d: table[%#x] is %#x, want %#x", shift, v, dst[i], tb[v])
			}
		}
	}
}

// TestLookupBytesShortSource checks that a source shorter than the
// destination is refused.
func TestLookupBytesShortSource(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	var tb [256]byte
	LookupBytes(make([]byte, 3), make([]byte, 2), &tb)
}

func BenchmarkLookupBytes(b *testing.B) {
	var tb [256]byte
	for i := range tb {
		tb[i] = byte(255 - i)
	}
	src := make([]byte, 336*22*22)
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		LookupBytes(dst, src, &tb)
	}
}
