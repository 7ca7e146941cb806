// louder.go compares the values evaluation samples reach with those the
// calibration samples reached: ranges drawn from calibration clip what
// goes far past it.

package quant

import (
	"math"
	"sort"

	"github.com/onnxq/onnxq/calib"
)

// Louder is an activation that evaluation samples drive past the values
// the calibration samples reached.
type Louder struct {
	Name string
	// Factor is how many times the calibration samples' extreme on that
	// side the evaluation samples reach: eval max / calib max above, eval
	// min / calib min below.
	Factor float64
}

// LouderThan returns the values of eval (extremes on evaluation samples)
// that go at least minFactor times past their extremes in cal (on the
// calibration samples, as calib.Collection.Extremes gives them), loudest
// first, ties by name. A side whose calibration extreme is 0 or of the
// other sign has no factor.
func LouderThan(eval, cal map[string]calib.Range, minFactor float64) []Louder {
	var out []Louder
	for name, e := range eval {
		c, ok := cal[name]
		if !ok {
			continue
		}
		f := 0.0
		if c.Max > 0 && e.Max > c.Max {
			f = float64(e.Max) / float64(c.Max)
		}
		if c.Min < 0 && e.Min < c.Min {
			f = math.Max(f, float64(e.Min)/float64(c.Min))
		}
		if f >= minFactor {
			out = append(out, Louder{name, f})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Factor != out[j].Factor {
			return out[i].Factor > out[j].Factor
		}
		return out[i].Name < out[j].Name
	})
	return out
}
