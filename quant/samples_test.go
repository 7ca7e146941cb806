package quant_test

import (
	"math"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// Samples made in memory quantize as the synthetic ones they copy; a
// sample of the wrong shape is an error when read; Run without samples is
// an error, not a model with its weights alone quantized.
func TestMemorySamples(t *testing.T) {
	m := chainModel(t, 3)
	syn, err := quant.SyntheticSamples(m, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	var held []map[string]*runtime.Tensor
	for i := range syn.Len() {
		s, err := syn.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	mem, err := quant.MemorySamples(m, held)
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Run(m, mem, quant.DefaultConfig())
	if err != nil || res.Report == nil || res.Report.TensorsQuantized == 0 {
		t.Fatalf("quantized on samples in memory: %v", err)
	}
	bad, _ := quant.MemorySamples(chainModel(t, 3), []map[string]*runtime.Tensor{{"x": runtime.New(graph.Float32, 1, 8, 8, 7)}})
	if _, err := bad.Sample(0); err == nil {
		t.Error("a sample of the wrong shape was read")
	}
	if _, err := quant.Run(chainModel(t, 3), nil, quant.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "no calibration samples") {
		t.Errorf("Run without samples: %v", err)
	}
	if _, err := quant.MemorySamples(m, nil); err == nil {
		t.Error("MemorySamples took no samples")
	}
	for _, n := range []int{0, -3} {
		if _, err := quant.SyntheticSamples(m, n, 1); err == nil {
			t.Errorf("SyntheticSamples took %d samples", n)
		}
	}
}

// A tensor of which calibration saw no finite value has no range, so it
// stays float rather than getting a scale of nothing.
func TestRangesSkipUnseen(t *testing.T) {
	c, err := calib.New(calib.MinMax, calib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Observe("empty", nil)
	c.Observe("nan", []float32{float32(math.NaN())})
	c.Observe("seen", []float32{-1, 2})
	r := quant.Ranges(c)
	if _, ok := r["empty"]; ok {
		t.Error("an empty tensor got a range")
	}
	if _, ok := r["nan"]; ok {
		t.Error("a NaN-only tensor got a range")
	}
	if got := r["seen"]; got.Min != -1 || got.Max != 2 {
		t.Errorf("seen: %v", got)
	}
}
