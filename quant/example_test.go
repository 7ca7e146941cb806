package quant_test

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// calibrationSamples holds a caller's own inputs as samples; quant.Samples
// names their type outside this module too.
func calibrationSamples(m *graph.Model, n int) (*quant.Samples, error) {
	var samples []map[string]*runtime.Tensor
	for s := range n {
		x := make([]float32, 2*4*4)
		for i := range x {
			x[i] = float32((i*7+s*3)%10)/5 - 1
		}
		samples = append(samples, map[string]*runtime.Tensor{"x": runtime.FromFloat32([]int{1, 2, 4, 4}, x)})
	}
	return quant.MemorySamples(m, samples)
}

// Quantizing a model with samples held in memory, as the command line
// does with --calib.
func ExampleRun() {
	b := graph.NewBuilder(13)
	w := make([]float32, 3*2*3*3)
	for i := range w {
		w[i] = float32(i%5-2) / 4
	}
	y := b.Op("Conv", b.Input("x", graph.Float32, 1, 2, 4, 4), b.Const(graph.FromFloat32s("w", []int64{3, 2, 3, 3}, w)), graph.IntsAttr("pads", 1, 1, 1, 1))
	b.Output(b.Op("Relu", y))
	m, err := b.Model()
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := calibrationSamples(m, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := quant.Run(m, src, quant.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("weights quantized:", res.Report.WeightsQuantized)
	// Output: weights quantized: 1
}
