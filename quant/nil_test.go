package quant_test

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// The public entry points return errors (or empty results) on missing
// models, samples and statistics, as the package promises: no panic.
func TestNilInputs(t *testing.T) {
	m := chainModel(t, 2)
	empty := &graph.Model{}
	if _, err := quant.WorstOutputSQNR(m, m, nil, 1); err == nil {
		t.Error("WorstOutputSQNR without samples: no error")
	}
	if _, err := quant.QuantizeCollected(m, nil, quant.DefaultConfig()); err == nil {
		t.Error("QuantizeCollected without statistics: no error")
	}
	if w, c := quant.Coverage(empty); w != 0 || c != 0 {
		t.Error("Coverage of an empty model")
	}
	if quant.IdleActivations(empty) != nil {
		t.Error("IdleActivations of an empty model")
	}
	if len(quant.RangesFor(m, nil, quant.DefaultConfig())) != 0 {
		t.Error("RangesFor without statistics")
	}
	if _, err := quant.Clone(nil); err == nil {
		t.Error("Clone(nil): no error")
	}
	if _, err := runtime.NewSession(empty, runtime.Options{}); err == nil {
		t.Error("NewSession of an empty model: no error")
	}
	if _, err := graph.Encode(nil); err == nil {
		t.Error("Encode(nil): no error")
	}
}
