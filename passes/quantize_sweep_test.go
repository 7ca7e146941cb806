package passes

import (
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// rampFeeds gives n samples of ramps for input x of shape dims.
func rampFeeds(n int, name string, dims ...int) []map[string]*runtime.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	var feeds []map[string]*runtime.Tensor
	for s := range n {
		feeds = append(feeds, map[string]*runtime.Tensor{name: runtime.FromFloat32(dims, ramp(size, float64(s+1)))})
	}
	return feeds
}

// An AveragePool in ceil mode counting the padding stays float: ONNX
// Runtime's integer kernel averages the windows past the padding by
// another count than the float op; the same pool without ceil_mode is
// quantized.
func TestQuantizeAveragePoolCeilIncludePad(t *testing.T) {
	for _, ceil := range []int64{1, 0} {
		model := func() *graph.Model {
			b := graph.NewBuilder(13)
			x := b.Input("x", graph.Float32, 1, 2, 7, 7)
			c := b.Op("Conv", x, convW(b, "w", 1, 4, 2, 1))
			p := b.Op("AveragePool", c, graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2),
				graph.IntsAttr("pads", 0, 0, 1, 1), graph.IntAttr("count_include_pad", 1), graph.IntAttr("ceil_mode", ceil))
			b.Output(b.Op("Conv", p, convW(b, "w2", 2, 3, 4, 1)))
			return build(t, b)
		}
		m := model()
		r := quantize(t, m, calibrate(t, model(), rampFeeds(3, "x", 1, 2, 7, 7)), DefaultQuantOptions())
		float := slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "AveragePool" && f.Reason == reasonCeilAveragePool })
		if float != (ceil == 1) || (r.OpCounts["AveragePool"] == 1) == (ceil == 1) {
			t.Errorf("ceil_mode %d: AveragePool float %v, quantized %d", ceil, float, r.OpCounts["AveragePool"])
		}
	}
}

// A dilated AveragePool (opset 19) stays float: ONNX Runtime fuses the
// Q/DQ around it into QLinearAveragePool, which has no dilations, and
// refused such a file; dilations of 1 are quantized.
func TestQuantizeDilatedAveragePool(t *testing.T) {
	for _, d := range []int64{2, 1} {
		model := func() *graph.Model {
			b := graph.NewBuilder(19)
			x := b.Input("x", graph.Float32, 1, 2, 9, 9)
			c := b.Op("Conv", x, convW(b, "w", 1, 4, 2, 1))
			p := b.Op("AveragePool", c, graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("dilations", d, d))
			b.Output(b.Op("Conv", p, convW(b, "w2", 2, 3, 4, 1)))
			return build(t, b)
		}
		m := model()
		r := quantize(t, m, calibrate(t, model(), rampFeeds(3, "x", 1, 2, 9, 9)), DefaultQuantOptions())
		float := slices.ContainsFunc(r.FP32, func(f FP32Node) bool { return f.Op == "AveragePool" && f.Reason == reasonDilatedAveragePool })
		if float != (d != 1) || (r.OpCounts["AveragePool"] == 1) == (d != 1) {
			t.Errorf("dilations %d: AveragePool float %v, quantized %d", d, float, r.OpCounts["AveragePool"])
		}
	}
}

// With one weight scale (--per-channel=false) a grouped ConvTranspose has
// no axis to cover and is quantized; per channel it stays float.
func TestQuantizeGroupedConvTransposePerTensor(t *testing.T) {
	for _, perChannel := range []bool{false, true} {
		model := func() *graph.Model {
			b := graph.NewBuilder(13)
			x := b.Input("x", graph.Float32, 1, 4, 5, 5)
			w := f32(b, "w", 3, 4, 1, 3, 3)
			b.Output(b.Op("ConvTranspose", x, w, graph.IntAttr("group", 4), graph.IntsAttr("strides", 2, 2)))
			return build(t, b)
		}
		m := model()
		opts := DefaultQuantOptions()
		opts.PerChannel = perChannel
		r := quantize(t, m, calibrate(t, model(), rampFeeds(3, "x", 1, 4, 5, 5)), opts)
		if got := r.OpCounts["ConvTranspose"] == 1; got == perChannel {
			t.Errorf("per-channel %v: ConvTranspose quantized %v (FP32 %v)", perChannel, got, r.FP32)
		}
	}
}
