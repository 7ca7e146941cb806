package calib

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastLogMatchesLog: across magnitudes and near the table rows'
// edges, fastLog stays within a few units in the last place of math.Log
// (of 0.5 where the logarithm is smaller: the KL sums weigh absolute
// errors).
func TestFastLogMatchesLog(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	var xs []float64
	for range 200000 {
		xs = append(xs, math.Ldexp(1+r.Float64(), r.IntN(200)-100))
	}
	for j := range 1 << logTableBits {
		edge := 1 + float64(j)/(1<<logTableBits)
		xs = append(xs, edge, math.Nextafter(edge, 0), math.Nextafter(edge, 2), edge*1024)
	}
	xs = append(xs, 1, 2, math.E, 1e-300, 1e300, math.SmallestNonzeroFloat64, 0, math.Inf(1))
	worst := 0.0
	for _, x := range xs {
		got, want := fastLog(x), math.Log(x)
		if math.IsInf(want, 0) {
			if got != want {
				t.Fatalf("fastLog(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		mag := max(math.Abs(want), 0.5)
		ulp := math.Nextafter(mag, math.Inf(1)) - mag
		if d := math.Abs(got-want) / ulp; d > worst {
			worst = d
		}
	}
	t.Logf("worst: %.2f units in the last place", worst)
	if worst > 4 {
		t.Errorf("fastLog is %v units in the last place from math.Log at worst, want at most 4", worst)
	}
}
