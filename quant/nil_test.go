package quant_test

import (
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
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
	var none *graph.Model
	if none.Verify() == nil {
		t.Error("Verify of a nil model: no error")
	}
	if _, err := calib.Load(nil); err == nil {
		t.Error("calib.Load(nil): no error")
	}
	if rs, err := passes.Rescales(nil); rs != nil || err != nil {
		t.Error("Rescales(nil)")
	}
	if _, err := graph.NewGraph("g").AddInitializer(nil); err == nil {
		t.Error("AddInitializer(nil): no error")
	}
	src, err := quant.SyntheticSamples(m, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := quant.ChooseMethod(m, src, quant.DefaultConfig(), []calib.Method{calib.MinMax}, nil, nil); err == nil {
		t.Error("ChooseMethod without a quantize function: no error")
	}
	if _, err := quant.RoundGuarded(m, m, src, quant.DefaultConfig(), nil, nil); err == nil {
		t.Error("RoundGuarded without a finish function: no error")
	}
	bad := quant.DefaultConfig()
	bad.Fallback.MaxLayers = -3
	if _, err := quant.Run(chainModel(t, 2), src, bad); err == nil {
		t.Error("Run with a negative fallback budget: no error")
	}
	cfg := quant.DefaultConfig()
	cfg.Units = quant.UnitsAuto
	if _, err := quant.ChooseUnits(m, m, src, cfg, 30, nil); err == nil {
		t.Error("ChooseUnits without a quantize function: no error")
	}
}
