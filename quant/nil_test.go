package quant_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
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

// TestQuantizeOmittedOutputs quantizes the ONNX node tests whose
// recurrent node leaves its first output out (Y "", Y_h read): the pass
// took the omitted output for a value and failed on a nil pointer.
func TestQuantizeOmittedOutputs(t *testing.T) {
	for _, name := range []string{"test_lstm_defaults", "test_gru_defaults", "test_rnn_seq_length"} {
		path := filepath.Join("../../shared/onnx/node-tests", name, "model.onnx")
		if _, err := os.Stat(path); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v (CI has the shared ONNX node tests)", name, err)
			}
			t.Skipf("%s: %v (the shared ONNX node tests)", name, err)
		}
		m, err := graph.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		omitted := false
		for _, n := range m.Graph.Nodes {
			omitted = omitted || slices.Contains(n.Outputs, nil)
		}
		if !omitted {
			t.Fatalf("%s: no node leaves an output out; the test needs one", name)
		}
		src := calibdata.Synthetic(calibdata.Inputs(m), 2, 1)
		if _, err := quant.Run(m, src, quant.DefaultConfig()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sample, err := src.Sample(0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := runtime.NewSession(m, runtime.Options{})
		if err != nil {
			t.Fatalf("%s: the quantized model: %v", name, err)
		}
		if _, err := s.Run(sample); err != nil {
			t.Errorf("%s: the quantized model does not run: %v", name, err)
		}
	}
}

// TestRunRefusesQuantized: Run refuses a model that holds Q/DQ already,
// before any calibration (the sample source here fails if read).
func TestRunRefusesQuantized(t *testing.T) {
	m := chainModel(t, 2)
	src := calibdata.Synthetic(calibdata.Inputs(m), 2, 1)
	if _, err := quant.Run(m, src, quant.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	unreadable := calibdata.Memory(calibdata.Inputs(m), []map[string]*runtime.Tensor{{}})
	_, err := quant.Run(m, unreadable, quant.DefaultConfig())
	if err == nil || !strings.Contains(err.Error(), "already quantized") {
		t.Fatalf("got %v, want the model refused as quantized", err)
	}
}
