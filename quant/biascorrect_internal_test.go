package quant

import (
	"math"
	"testing"
)

// A sample whose channel mean is not finite (a NaN reached it) is left
// out of the correction; with none left the correction is 0.
func TestMeanErrorSkipsNonFinite(t *testing.T) {
	want := [][]float64{{1}, {2}, {3}}
	got := [][]float64{{1.5}, {math.NaN()}, {3.5}}
	if e := meanError(got, want, 0); e != 0.5 {
		t.Errorf("mean error %v, want 0.5 from the two finite samples", e)
	}
	got = [][]float64{{math.Inf(1)}, {math.NaN()}, {math.NaN()}}
	if e := meanError(got, want, 0); e != 0 {
		t.Errorf("mean error %v with no finite sample, want 0", e)
	}
}
