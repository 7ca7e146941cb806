package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAvgPool3S2RowsMatchesGo compares AvgPool3S2Rows (the AVX2 kernel
// where it runs) with the portable loop: output counts around the block
// of 16, 1 to 85 rows, uint8 and int8, random and extreme parameters
// (outputs that saturate), several output rows with gaps between them
// and guard bytes after them (left untouched).
func TestAvgPool3S2RowsMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nearTies, total := 0, 0
	for iter := range 600 {
		n := []int{1, 15, 16, 17, 22, 31, 32, 33, 47, 64, 100}[iter%11]
		rows := 1 + r.IntN(4)
		if iter%7 == 0 {
			rows = 1 + r.IntN(85)
		}
		stride := 2*n + 1 + r.IntN(5)
		count := 1 + r.IntN(3)
		srcStride := stride * (1 + r.IntN(2))
		outStride := n + r.IntN(3)
		src := make([]byte, (count-1)*srcStride+(rows-1)*stride+2*n+1)
		for i := range src {
			src[i] = byte(r.Uint32())
			if r.IntN(6) == 0 {
				src[i] = []byte{0, 0x7F, 0x80, 0xFF}[r.IntN(4)]
			}
		}
		taps := int32(3 * rows)
		p := &AvgParams{M: float32(1 / (float64(taps) * (0.2 + r.Float64()*2))), Eps: float32(r.Float64() * 0.05)}
		if iter%5 == 0 {
			p.M = 1000 / float32(taps) // saturates
		}
		lo, hi := int32(0), int32(255)
		if iter%2 == 1 {
			lo, hi, p.Flip, p.Signed = -128, 127, 0x80808080, 1
		}
		zx := r.Int32N(256)
		p.Bias = -taps * zx
		p.Zy = lo + r.Int32N(hi-lo+1)
		p.Lo, p.Hi = float32(lo-p.Zy), float32(hi-p.Zy)
		orig := slices.Clone(src)
		size := (count-1)*outStride + n
		want, wantFlags := make([]byte, size+16), make([]byte, size+16)
		got, gotFlags := make([]byte, size+16), make([]byte, size+16)
		for i := range got {
			got[i], want[i], gotFlags[i], wantFlags[i] = 0xA5, 0xA5, 0x5A, 0x5A
		}
		avgPool3S2RowsGo(want[:size], wantFlags[:size], outStride, src, srcStride, stride, rows, n, count, p)
		AvgPool3S2Rows(got[:size], gotFlags[:size], outStride, src, srcStride, stride, rows, n, count, p)
		if !slices.Equal(got, want) {
			t.Fatalf("n %d rows %d count %d signed %d: %v, want %v", n, rows, count, p.Signed, got, want)
		}
		if !slices.Equal(gotFlags, wantFlags) {
			t.Fatalf("n %d rows %d count %d: flags %v, want %v", n, rows, count, gotFlags, wantFlags)
		}
		for _, f := range wantFlags[:size] {
			nearTies += int(f & 1)
		}
		total += size
		if !slices.Equal(src, orig) {
			t.Fatal("the source changed")
		}
	}
	// With Eps up to 0.05 some outputs are near a tie, most not.
	if nearTies == 0 || nearTies > total/4 {
		t.Fatalf("%d of %d outputs near a tie", nearTies, total)
	}
}
