package quant

import (
	"math"
	"testing"
)

// The climb's cap leaves room for held-out samples that read lower than
// the calibration ones, and only for that.
func TestClimbCap(t *testing.T) {
	for _, c := range []struct{ target, calib, held, want float64 }{
		{47, 48.3, 45.3, 51},       // calibration past target+1: the 3 dB gap is added
		{35, 30, 28, 38},           // both below the target: still the gap
		{35, 28, 30, 36},           // held-out higher: target+1
		{35, math.Inf(1), 30, 36},  // an infinite gap measures nothing
		{35, 40, math.Inf(-1), 36}, // nor does a broken held-out figure
		{35, math.NaN(), 30, 36},   // nor a missing one
	} {
		if got := climbCap(c.target, c.calib, c.held); got != c.want {
			t.Errorf("climbCap(%v, %v, %v) = %v; want %v", c.target, c.calib, c.held, got, c.want)
		}
	}
	// What the cap changes: an output past it scores the same, whatever
	// a layer does to it.
	if a, b := climbScore([]float64{49, 60}, 48), climbScore([]float64{50, 60}, 48); a != b {
		t.Errorf("capped scores differ: %v, %v", a, b)
	}
	if a, b := climbScore([]float64{49, 60}, climbCap(47, 48.3, 45.3)), climbScore([]float64{50, 60}, climbCap(47, 48.3, 45.3)); !(b > a) {
		t.Errorf("with the gap a gain past target+1 must count: %v, %v", a, b)
	}
}
