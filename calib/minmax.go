// MinMax and moving-average MinMax observers.

package calib

import (
	"encoding/json"
	"fmt"
	"math"
)

// MinMaxObserver keeps the exact minimum and maximum of every finite value.
// Its merge is exact and order-independent.
type MinMaxObserver struct {
	min, max float32
	stats    Stats
}

// NewMinMax returns an empty MinMax observer.
func NewMinMax() *MinMaxObserver { return &MinMaxObserver{} }

// Observe folds the finite values of data into the range.
func (o *MinMaxObserver) Observe(data []float32) {
	lo, hi, st := scan(data)
	o.fold(lo, hi, st)
}

func (o *MinMaxObserver) fold(lo, hi float32, st Stats) {
	if st.Values > 0 {
		if o.stats.Values == 0 {
			o.min, o.max = lo, hi
		} else {
			o.min = min(o.min, lo)
			o.max = max(o.max, hi)
		}
	}
	o.stats.add(st)
}

// Range returns the extremes seen, or (0, 0) before any finite value.
func (o *MinMaxObserver) Range() (float32, float32) { return o.min, o.max }

// Stats reports what the observer has seen.
func (o *MinMaxObserver) Stats() Stats { return o.stats }

// Merge folds another MinMax observer into o.
func (o *MinMaxObserver) Merge(other Observer) error {
	p, ok := other.(*MinMaxObserver)
	if !ok {
		return fmt.Errorf("calib: cannot merge %T into a MinMax observer", other)
	}
	o.fold(p.min, p.max, p.stats)
	return nil
}

type minMaxState struct {
	Min   float32 `json:"min"`
	Max   float32 `json:"max"`
	Stats Stats   `json:"stats"`
}

// MarshalJSON writes the observer's state.
func (o *MinMaxObserver) MarshalJSON() ([]byte, error) {
	return json.Marshal(minMaxState{o.min, o.max, o.stats})
}

// UnmarshalJSON restores a state written by MarshalJSON.
func (o *MinMaxObserver) UnmarshalJSON(b []byte) error {
	var s minMaxState
	if err := StrictUnmarshal(b, &s); err != nil {
		return fmt.Errorf("calib: minmax state: %v", err)
	}
	if err := checkExtremes(s.Min, s.Max, s.Stats); err != nil {
		return fmt.Errorf("calib: minmax state: %v", err)
	}
	o.min, o.max, o.stats = s.Min, s.Max, s.Stats
	return nil
}

// checkExtremes validates the extremes stored with a state.
func checkExtremes(lo, hi float32, st Stats) error {
	if st.Values == 0 {
		if lo != 0 || hi != 0 || st.Batches != 0 {
			return fmt.Errorf("no values observed but range [%g, %g] and %d batches", lo, hi, st.Batches)
		}
		return nil
	}
	if !finite32(lo) || !finite32(hi) || lo > hi {
		return fmt.Errorf("invalid range [%g, %g]", lo, hi)
	}
	if st.Batches == 0 || st.Batches > st.Values {
		return fmt.Errorf("%d batches for %d values", st.Batches, st.Values)
	}
	return nil
}

// EMAObserver keeps an exponential moving average of the per-batch minimum
// and maximum: the first batch sets them, each later batch moves them by
// Constant times the difference (min += c·(batchMin − min)).
//
// The average depends on the order of the batches. Merging two EMA
// observers that have seen n1 and n2 batches gives the average of their
// ranges weighted by n1 and n2 (and n1+n2 batches); it is commutative but
// not equal to calibrating on the concatenated batches.
type EMAObserver struct {
	c        float64
	min, max float64
	stats    Stats
}

// NewEMA returns an empty moving-average observer with averaging constant
// c in (0, 1].
func NewEMA(c float64) (*EMAObserver, error) {
	if !(c > 0 && c <= 1) {
		return nil, fmt.Errorf("calib: EMA constant %g outside (0, 1]", c)
	}
	return &EMAObserver{c: c}, nil
}

// Observe moves the averages towards the extremes of data's finite values.
func (o *EMAObserver) Observe(data []float32) {
	lo, hi, st := scan(data)
	if st.Values > 0 {
		if o.stats.Batches == 0 {
			o.min, o.max = float64(lo), float64(hi)
		} else {
			o.min += o.c * (float64(lo) - o.min)
			o.max += o.c * (float64(hi) - o.max)
		}
	}
	o.stats.add(st)
}

// Range returns the averaged extremes, or (0, 0) before any finite value.
func (o *EMAObserver) Range() (float32, float32) { return float32(o.min), float32(o.max) }

// Stats reports what the observer has seen.
func (o *EMAObserver) Stats() Stats { return o.stats }

// Merge replaces o's averages with the batch-count weighted average of o's
// and other's.
func (o *EMAObserver) Merge(other Observer) error {
	p, ok := other.(*EMAObserver)
	if !ok {
		return fmt.Errorf("calib: cannot merge %T into an EMA observer", other)
	}
	if p.c != o.c {
		return fmt.Errorf("calib: cannot merge EMA observers with constants %g and %g", o.c, p.c)
	}
	n1, n2 := float64(o.stats.Batches), float64(p.stats.Batches)
	switch {
	case n2 == 0:
	case n1 == 0:
		o.min, o.max = p.min, p.max
	default:
		o.min = (n1*o.min + n2*p.min) / (n1 + n2)
		o.max = (n1*o.max + n2*p.max) / (n1 + n2)
	}
	o.stats.add(p.stats)
	return nil
}

type emaState struct {
	Constant float64 `json:"constant"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Stats    Stats   `json:"stats"`
}

// MarshalJSON writes the observer's state.
func (o *EMAObserver) MarshalJSON() ([]byte, error) {
	return json.Marshal(emaState{o.c, o.min, o.max, o.stats})
}

// UnmarshalJSON restores a state written by MarshalJSON.
func (o *EMAObserver) UnmarshalJSON(b []byte) error {
	var s emaState
	if err := StrictUnmarshal(b, &s); err != nil {
		return fmt.Errorf("calib: ema state: %v", err)
	}
	if !(s.Constant > 0 && s.Constant <= 1) {
		return fmt.Errorf("calib: ema state: constant %g outside (0, 1]", s.Constant)
	}
	if s.Stats.Values > 0 && (s.Min > s.Max || math.Abs(s.Min) > math.MaxFloat32 || math.Abs(s.Max) > math.MaxFloat32) {
		return fmt.Errorf("calib: ema state: invalid range [%g, %g]", s.Min, s.Max)
	}
	if err := checkExtremes(float32(s.Min), float32(s.Max), s.Stats); err != nil {
		return fmt.Errorf("calib: ema state: %v", err)
	}
	o.c, o.min, o.max, o.stats = s.Constant, s.Min, s.Max, s.Stats
	return nil
}
