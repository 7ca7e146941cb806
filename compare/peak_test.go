package compare

import "testing"

// The peak of an activation is the loudest clipped value over the range end
// it passed, on every path that accumulates errors: 8-bit codes (the
// energy kernel), 16-bit codes, and a rescaled tensor, whose values count
// times their channel's factor.
func TestPeakOfClippedValues(t *testing.T) {
	// range [-1, 2]; values 6 (3x the top) and -4 (4x the bottom) clip
	b := actBounds{lo: -1.005, hi: 2.005, scale: 0.01, zp: 100, qlo: -1, qhi: 2}
	f := []float32{0.5, 6, -0.2, -4, 1.9, 0}
	codes8 := make([]uint8, len(f))
	codes16 := make([]uint16, len(f))
	if got := accumulate(f, codes8, b); got.peak != 4 || got.clipped != 2 {
		t.Errorf("8-bit: peak %v, clipped %d; want 4 and 2", got.peak, got.clipped)
	}
	if got := accumulate(f, codes16, b); got.peak != 4 || got.clipped != 2 {
		t.Errorf("16-bit: peak %v, clipped %d; want 4 and 2", got.peak, got.clipped)
	}
	// factor 2: 6 counts as 12 (6x the top), -4 as -8 (8x the bottom)
	ch := channels{factors: []float32{2}, inner: len(f)}
	if got := accumulateCh(f, codes8, b, ch, 0, len(f)); got.peak != 8 {
		t.Errorf("rescaled 8-bit: peak %v, want 8", got.peak)
	}
	if got := accumulateCh(f, codes16, b, ch, 0, len(f)); got.peak != 8 {
		t.Errorf("rescaled 16-bit: peak %v, want 8", got.peak)
	}
	// nothing outside: no peak; a range ending at 0 gives no multiple
	if got := accumulate(f[:1], codes8[:1], b); got.peak != 0 {
		t.Errorf("inside the range: peak %v, want 0", got.peak)
	}
	relu := actBounds{lo: -0.005, hi: 2.005, scale: 0.01, qlo: 0, qhi: 2}
	if got := accumulate([]float32{-3, 5}, []uint8{0, 0}, relu); got.peak != 2.5 || got.clipped != 2 {
		t.Errorf("range [0, 2]: peak %v, clipped %d; want 2.5 (from 5 alone) and 2", got.peak, got.clipped)
	}
	// chunks merge by the largest peak
	parts := []sums{{peak: 1.5}, {peak: 7}, {}}
	if got := chunked(3*chunkSize, 1, func(lo, hi int) sums { return parts[lo/chunkSize] }); got.peak != 7 {
		t.Errorf("merged peak %v, want 7", got.peak)
	}
}
