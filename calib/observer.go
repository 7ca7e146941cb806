// Observer interface, per-tensor statistics and the scan of one batch that
// every observer starts from.

package calib

import (
	"encoding/json"
	"math"
)

// Observer accumulates the values of one tensor over calibration batches and
// turns them into a range.
//
// Observe ignores NaN and ±Inf values (they are counted in Stats). Range
// returns (0, 0) until a finite value has been observed. Merge folds the
// statistics of another observer of the same kind and options into the
// receiver without modifying the other. The JSON form holds the whole state,
// so an observer unmarshalled from it behaves exactly like the original.
type Observer interface {
	Observe(data []float32)
	Range() (min, max float32)
	Merge(other Observer) error
	Stats() Stats
	json.Marshaler
	json.Unmarshaler
}

// Stats counts what an observer has seen.
type Stats struct {
	Values  uint64 `json:"values"`  // finite values observed
	NaN     uint64 `json:"nan"`     // NaN values ignored
	Inf     uint64 `json:"inf"`     // +Inf and -Inf values ignored
	Batches uint64 `json:"batches"` // Observe calls that held at least one finite value
}

func (s *Stats) add(o Stats) {
	s.Values += o.Values
	s.NaN += o.NaN
	s.Inf += o.Inf
	s.Batches += o.Batches
}

// Range is the calibrated range of one tensor.
type Range struct {
	Min float32 `json:"min"`
	Max float32 `json:"max"`
}

// scan returns the extremes of the finite values of data and what it held.
// With no finite value, min and max are 0 and st.Batches is 0.
func scan(data []float32) (min, max float32, st Stats) {
	first := true
	for _, x := range data {
		// NaN and ±Inf are the values with every exponent bit set.
		if b := math.Float32bits(x); b&0x7f800000 == 0x7f800000 {
			if b&0x007fffff != 0 {
				st.NaN++
			} else {
				st.Inf++
			}
			continue
		}
		st.Values++
		if first {
			min, max, first = x, x, false
			continue
		}
		if x < min {
			min = x
		}
		if x > max {
			max = x
		}
	}
	if st.Values > 0 {
		st.Batches = 1
	}
	return min, max, st
}

func finite32(x float32) bool { return math.Float32bits(x)&0x7f800000 != 0x7f800000 }
