package peer_test

import (
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/quant"
)

// Every shared model quantized with int4 weights, which raises its opset
// to 21 (rewriting the ops whose form changed on the way: the Reduce ops'
// axes at 18, Resize and Upsample, Softmax, Clip, Pad...), runs in ONNX
// Runtime.
func TestInt4ModelsRunInORT(t *testing.T) { int4ModelsRunInORT(t, qdq.Uint8) }

// The same with int8 activations (as --target tensorrt --weight-type
// int4): ONNX Runtime moves an int8 DequantizeLinear across a data move
// that float ops read and, at opset 21, writes a QuantizeLinear it then
// refuses to load unless one is there already (passes.GuardDQPropagation).
func TestInt4Int8ActivationModelsRunInORT(t *testing.T) { int4ModelsRunInORT(t, qdq.Int8) }

func int4ModelsRunInORT(t *testing.T, activations qdq.Type) {
	if testing.Short() {
		t.Skip("quantizes every shared model: not in -short mode")
	}
	models, script := ortpeer.Setup(t, shared)
	eachModelWithSamples(t, models, func(name, data string, m *graph.Model, src *calibdata.Source) {
		calibSrc, _ := src.Subset([]int{0, 1})
		cfg := quant.DefaultConfig()
		cfg.SelectMethods = nil
		cfg.BiasCorrection = false
		cfg.Quant.WeightType, cfg.Quant.RestrictedWeights = qdq.Int4, false // as --weight-type int4
		cfg.Quant.ActivationType = activations
		if _, err := quant.Run(m, calibSrc, cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v, _ := m.Opset(""); v != 21 {
			t.Errorf("%s: opset %d, want 21", name, v)
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "int4.onnx")
		if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		var inputs []string
		for _, in := range calibdata.Inputs(m) {
			inputs = append(inputs, in.Name)
		}
		if err := ortpeer.Run(script, out, filepath.Join(data, src.Names()[0]), inputs, filepath.Join(dir, "ort")); err != nil {
			t.Errorf("%s: ONNX Runtime: %v", name, err)
		}
	})
}
