// This file holds the record of rescaled values: the equalization passes
// multiply channels of some values by per-channel factors and rename them
// (RescaledSuffix), and the model's metadata_props entry RescaledKey says
// by how much, so a tool matching tensors by name (onnxq compare) can
// undo the factors and compare those values with the original model's.

package passes

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// RescaledKey is the metadata_props key under which the equalization
// passes record the values they rescaled: a compact JSON list of Rescale,
// sorted by Value, e.g.
//
//	[{"value":"c1_equalized","original":"c1","axis":1,"factors":[1,4.5]}]
//
// Each entry says that the main-graph value named Value holds the
// original model's tensor named Original with its channel c along Axis
// multiplied by Factors[c]. Rescaling a value again composes the factors
// into its entry. The quantize pass drops the entries of values the
// quantized graph no longer holds.
const RescaledKey = "onnxq.rescaled"

// Rescale is one entry of RescaledKey.
type Rescale struct {
	Value    string    `json:"value"`
	Original string    `json:"original"`
	Axis     int       `json:"axis"`
	Factors  []float32 `json:"factors"`
}

// Rescales returns the entries of m's RescaledKey metadata, nil when
// there is none.
func Rescales(m *graph.Model) ([]Rescale, error) {
	if m == nil {
		return nil, nil
	}
	i := rescaledIndex(m)
	if i < 0 {
		return nil, nil
	}
	var rs []Rescale
	if err := json.Unmarshal([]byte(m.Metadata[i].Value), &rs); err != nil {
		return nil, fmt.Errorf("metadata %s: %v", RescaledKey, err)
	}
	return rs, nil
}

func rescaledIndex(m *graph.Model) int {
	return slices.IndexFunc(m.Metadata, func(p graph.StringPair) bool { return p.Key == RescaledKey })
}

// setRescales writes rs as m's RescaledKey entry (removing it when rs is
// empty), sorted by value name so the bytes depend only on the entries.
func setRescales(m *graph.Model, rs []Rescale) error {
	i := rescaledIndex(m)
	if len(rs) == 0 {
		if i >= 0 {
			m.Metadata = slices.Delete(m.Metadata, i, i+1)
		}
		return nil
	}
	slices.SortFunc(rs, func(a, b Rescale) int { return strings.Compare(a.Value, b.Value) })
	data, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("metadata %s: %v", RescaledKey, err)
	}
	if i < 0 {
		m.Metadata = append(m.Metadata, graph.StringPair{Key: RescaledKey, Value: string(data)})
		return nil
	}
	m.Metadata[i] = graph.StringPair{Key: RescaledKey, Value: string(data)}
	return nil
}

// recordRescale notes that the main-graph value once named before, now
// named after, was multiplied by factors along axis: it composes them
// into before's entry, or starts one whose original is before.
func recordRescale(m *graph.Model, before, after string, axis int, factors []float64) error {
	rs, err := Rescales(m)
	if err != nil {
		return err
	}
	f := make([]float32, len(factors))
	for k, v := range factors {
		f[k] = float32(v)
	}
	i := slices.IndexFunc(rs, func(r Rescale) bool { return r.Value == before })
	switch {
	case i < 0:
		rs = append(rs, Rescale{Value: after, Original: before, Axis: axis, Factors: f})
	case rs[i].Axis != axis || len(rs[i].Factors) != len(factors):
		// Factors that cannot compose: the value no longer relates to
		// the original by a per-channel scale on one axis.
		rs = slices.Delete(rs, i, i+1)
	default:
		for k, v := range factors {
			rs[i].Factors[k] = float32(float64(rs[i].Factors[k]) * v)
		}
		rs[i].Value = after
	}
	return setRescales(m, rs)
}

// pruneRescales drops the entries whose value m's main graph lacks.
func pruneRescales(m *graph.Model) error {
	rs, err := Rescales(m)
	if err != nil || rs == nil {
		return err
	}
	kept := slices.DeleteFunc(rs, func(r Rescale) bool { return m.Graph.Value(r.Value) == nil })
	return setRescales(m, kept)
}

// invert returns 1/s for each scale.
func invert(s []float64) []float64 {
	out := make([]float64, len(s))
	for k, v := range s {
		out[k] = 1 / v
	}
	return out
}
