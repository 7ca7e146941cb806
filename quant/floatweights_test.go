package quant_test

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
)

// With Config.FloatWeights all, Run gives the pointwise Conv, whose
// output is the graph's and so forms no unit, the reference's FP32 weight
// (its bias, the corrected one, read through an int32 DequantizeLinear so
// that ONNX Runtime leaves the weight float: passes.PinFloatLayers), names
// it in the result, and leaves the depthwise unit before it integer. The
// model still runs.
func TestRunFloatWeightsOutsideUnits(t *testing.T) {
	m := depthwiseModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 9)
	cfg := quant.DefaultConfig()
	cfg.FloatWeights = passes.FloatWeightsAll
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FloatWeights) != 1 {
		t.Fatalf("float weights %v, want the pointwise Conv", res.FloatWeights)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Conv" {
			continue
		}
		pointwise := n.Outputs[0] == m.Graph.Outputs[0]
		if macs.QDQUnit(n) == pointwise {
			t.Errorf("%s: unit %v", n.Name, !pointwise)
		}
		if !pointwise {
			continue
		}
		w, b := n.Input(1), n.Input(2)
		if w.Const == nil || w.DType != graph.Float32 || b.Producer == nil || b.Producer.OpType != "DequantizeLinear" || b.Producer.Input(0).DType != graph.Int32 {
			t.Fatalf("the pointwise Conv reads %s and %s, not an FP32 weight and a pinned bias", w.Name, b.Name)
		}
		got, err := w.Const.Float32s()
		want, _ := res.Reference.Graph.Value("pw").Const.Float32s()
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("the weight is not the FP32 pw")
		}
	}
	if _, err := quant.OutputSQNR(res.Reference, m, src, src.Len(), 0); err != nil {
		t.Fatal(err)
	}
}
