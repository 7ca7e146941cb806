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
	if lo, hi, ok := scanFinite(data); ok {
		st.Values = uint64(len(data))
		if st.Values > 0 {
			st.Batches = 1
		}
		return lo, hi, st
	}
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

// scanFinite is scan's fast path: the extremes of data when every value
// is finite (ok false otherwise, or when data is empty). It compares the
// values as ordered integers (the bits with the magnitude flipped for
// negatives), which the compiler turns into conditional moves, and tests
// finiteness by a carry out of the exponent bits instead of a branch per
// value. Of equal values −0 and +0 the first found is kept, as scan does.
func scanFinite(data []float32) (lo, hi float32, ok bool) {
	if len(data) == 0 {
		return 0, 0, false
	}
	var nonFinite uint32
	ordered := func(x float32) int32 {
		b := math.Float32bits(x)
		nonFinite |= (b & 0x7f800000) + 0x00800000
		return int32(b) ^ (int32(b)>>31)&0x7fffffff
	}
	k0 := ordered(data[0])
	lo0, hi0, lo1, hi1 := k0, k0, k0, k0
	i := 1
	for ; i+1 < len(data); i += 2 {
		a, b := ordered(data[i]), ordered(data[i+1])
		if a < lo0 {
			lo0 = a
		}
		if a > hi0 {
			hi0 = a
		}
		if b < lo1 {
			lo1 = b
		}
		if b > hi1 {
			hi1 = b
		}
	}
	if i < len(data) {
		a := ordered(data[i])
		lo0, hi0 = min(lo0, a), max(hi0, a)
	}
	if nonFinite&0x80000000 != 0 {
		return 0, 0, false
	}
	kl, kh := min(lo0, lo1), max(hi0, hi1)
	unordered := func(k int32) float32 {
		return math.Float32frombits(uint32(k ^ (k>>31)&0x7fffffff))
	}
	lo, hi = unordered(kl), unordered(kh)
	// −0 and +0 order apart here but compare equal as floats: keep the
	// one scan's first-found rule gives.
	if lo == 0 {
		lo = firstZero(data, lo)
	}
	if hi == 0 {
		hi = firstZero(data, hi)
	}
	return lo, hi, true
}

// firstZero returns the first zero of data (+0 or −0), z when none.
func firstZero(data []float32, z float32) float32 {
	for _, x := range data {
		if x == 0 {
			return x
		}
	}
	return z
}

func finite32(x float32) bool { return math.Float32bits(x)&0x7f800000 != 0x7f800000 }
