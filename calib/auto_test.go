// Tests of the auto method: MinMax without outliers, clipping of rare far
// outliers, one-sided and signed data, exact merges and save/load.

package calib

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func autoRangeOf(t *testing.T, o Options, data ...[]float32) Range {
	t.Helper()
	c := newColl(t, Auto, o)
	for _, d := range data {
		c.Observe("x", d)
	}
	return c.Ranges()["x"]
}

func TestAutoKeepsMinMaxWithoutOutliers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ho := range histOptions {
		d := uniform(r, 50000, -3, 5)
		mm := newColl(t, MinMax, Options{})
		mm.Observe("x", d)
		if got, want := autoRangeOf(t, ho.opts, d), mm.Ranges()["x"]; got != want {
			t.Errorf("%s: uniform data gave %v, MinMax %v", ho.name, got, want)
		}
		// A classifier's few logits: nothing is rare enough to clip.
		few := []float32{0.1, -0.2, 0.3, 40}
		if got := autoRangeOf(t, ho.opts, few); got.Min != -0.2 || got.Max != 40 {
			t.Errorf("%s: few values gave %v, want [-0.2, 40]", ho.name, got)
		}
	}
}

func TestAutoClipsRareOutliers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Without Signed the clip is the MSE threshold from the bulk's edge up,
	// which for two outliers in a million is near 56; with Signed each side
	// is clipped at its edge.
	d := append(gaussian(r, 1000000, 0, 1), 200, -200)
	for _, ho := range histOptions {
		got := autoRangeOf(t, ho.opts, d)
		if got.Max > 100 || got.Max < 3 || got.Min < -100 || got.Min > -3 {
			t.Errorf("%s: gaussian with two outliers at ±200 gave %v, want each bound within 3 to 100 in size", ho.name, got)
		}
	}
	// Many values far out are no outliers: the range stays MinMax.
	d = append(gaussian(r, 10000, 0, 1), uniform(r, 1000, 100, 200)...)
	if got := autoRangeOf(t, Options{}, d); got.Max < 199 {
		t.Errorf("a tenth of the values far out was clipped: %v", got)
	}
}

func TestAutoOneSided(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// A Relu output: never below zero, a few loud values. Its asymmetric
	// range spends all levels on one side, so the MSE clip sits higher
	// (near 56) than it would for a symmetric tensor.
	d := append(uniform(r, 1000000, 0, 6), 0, 90, 95)
	for _, ho := range histOptions {
		got := autoRangeOf(t, ho.opts, d)
		if got.Min != 0 || got.Max < 5.9 || got.Max > 80 {
			t.Errorf("%s: relu with outliers gave %v, want [0, 6 to 80]", ho.name, got)
		}
	}
	// Signed: only the side with outliers is clipped.
	d = append(uniform(r, 100000, -8, 1), 60)
	got := autoRangeOf(t, Options{Signed: true}, d)
	if got.Max > 4 || got.Max < 0.9 || got.Min > -7.9 {
		t.Errorf("signed: outlier above, bulk below gave %v, want the low side kept near -8 and the high clipped near 1", got)
	}
}

func TestAutoMergeAndSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	first := gaussian(r, 40000, 0, 1)
	second := append(gaussian(r, 40000, 0.5, 2), 500)
	for _, ho := range histOptions {
		whole, a, b := newColl(t, Auto, ho.opts), newColl(t, Auto, ho.opts), newColl(t, Auto, ho.opts)
		for _, d := range batches(first, 999) {
			whole.Observe("x", d)
			a.Observe("x", d)
		}
		for _, d := range batches(second, 777) {
			whole.Observe("x", d)
			b.Observe("x", d)
		}
		if err := b.Merge(a); err != nil {
			t.Fatal(err)
		}
		if saved(t, b) != saved(t, whole) || b.Ranges()["x"] != whole.Ranges()["x"] {
			t.Errorf("%s: merged %v, whole %v", ho.name, b.Ranges()["x"], whole.Ranges()["x"])
		}
		if whole.Ranges()["x"].Max >= 500 {
			t.Errorf("%s: the outlier at 500 was kept: %v", ho.name, whole.Ranges()["x"])
		}
		l, err := Load(strings.NewReader(saved(t, whole)))
		if err != nil {
			t.Fatal(err)
		}
		if l.Method() != Auto || l.Ranges()["x"] != whole.Ranges()["x"] {
			t.Errorf("%s: loaded %s with %v, saved %v", ho.name, l.Method(), l.Ranges()["x"], whole.Ranges()["x"])
		}
	}
}
