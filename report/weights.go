// weights.go gathers the per-output-channel weight ranges of quantized
// layers: the FP32 weights' min and max, the range the quantized weights
// represent and the quantization step, from the two models' constants.

package report

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// maxChannels bounds the channels a weight chart draws.
const maxChannels = 512

// weightRanges is one layer's weights, per output channel.
type weightRanges struct {
	node, op, output string
	harm             float64
	// fp32 is true when the FP32 weights were found in FLOAT; otherwise
	// the min and max are those of the dequantized weights.
	fp32     bool
	channels int // all channels; the slices hold at most maxChannels
	axis     int
	min, max []float64 // per channel
	lo, hi   []float64 // representable: (qmin−zp)·s, (qmax−zp)·s
	scale    []float64
}

// weightedOps are the ops whose weights the report plots, with the axis of
// their output channels in the weight tensor.
var weightedOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true}

// layerWeights returns the weight ranges of the quantized node of quant
// writing output, reading FP32 weights from float when it holds the same
// node (the producer of output, of the same op type, with a constant
// weight of the same shape). It returns why not when it cannot.
func layerWeights(float, quant *graph.Model, output string) (*weightRanges, string) {
	v := quant.Graph.Value(output)
	if v == nil || v.Producer == nil {
		return nil, "no node writes it in QUANT"
	}
	n := v.Producer
	if !weightedOps[n.OpType] {
		return nil, "not a weighted op"
	}
	wv := n.Input(1)
	if wv == nil || wv.Producer == nil || wv.Producer.OpType != "DequantizeLinear" {
		return nil, "its weight is not dequantized"
	}
	dq := wv.Producer
	codes, scale, zp := dq.Input(0), dq.Input(1), dq.Input(2)
	if codes == nil || codes.Const == nil || scale == nil || scale.Const == nil || (zp != nil && zp.Const == nil) {
		return nil, "its weight DequantizeLinear has non-constant inputs"
	}
	dims := codes.Const.Dims
	if len(dims) < 1 {
		return nil, "scalar weight"
	}
	q, err := constFloats(codes.Const)
	if err != nil {
		return nil, err.Error()
	}
	s, err := constFloats(scale.Const)
	if err != nil {
		return nil, err.Error()
	}
	z := make([]float64, len(s))
	if zp != nil {
		if z, err = constFloats(zp.Const); err != nil || len(z) != len(s) {
			return nil, "zero point and scale differ in size"
		}
	}
	qmin, qmax, ok := intRange(codes.Const.DType)
	if !ok {
		return nil, fmt.Sprintf("weights of type %v", codes.Const.DType)
	}
	axis := outputAxis(n, len(dims))
	if len(s) > 1 {
		a := int(dq.AttrInt("axis", 1))
		if a < 0 {
			a += len(dims)
		}
		if a < 0 || a >= len(dims) || int(dims[a]) != len(s) {
			return nil, "per-channel scale does not match the weight's shape"
		}
		axis = a
	}
	w := &weightRanges{op: n.OpType, output: output, axis: axis, channels: int(dims[axis])}
	// The FP32 weights: FLOAT's node writing the same output.
	vals := make([]float64, len(q))
	for i := range q {
		c := 0
		if len(s) > 1 {
			c = channelOf(i, dims, axis)
		}
		vals[i] = float64(float32(q[i]-z[c]) * float32(s[c]))
	}
	if fv := float.Graph.Value(output); fv != nil && fv.Producer != nil && fv.Producer.OpType == n.OpType {
		if fw := fv.Producer.Input(1); fw != nil && fw.Const != nil && slices.Equal(fw.Const.Dims, dims) {
			if f, err := fw.Const.Float32s(); err == nil && len(f) == len(vals) {
				for i, x := range f {
					vals[i] = float64(x)
				}
				w.fp32 = true
			}
		}
	}
	nc := min(w.channels, maxChannels)
	w.min, w.max = make([]float64, nc), make([]float64, nc)
	w.lo, w.hi, w.scale = make([]float64, nc), make([]float64, nc), make([]float64, nc)
	seen := make([]bool, nc)
	for i, x := range vals {
		c := channelOf(i, dims, axis)
		if c >= nc {
			continue
		}
		if !seen[c] || x < w.min[c] {
			w.min[c] = x
		}
		if !seen[c] || x > w.max[c] {
			w.max[c] = x
		}
		seen[c] = true
	}
	for c := range nc {
		k := 0
		if len(s) > 1 {
			k = c
		}
		w.scale[c] = s[k]
		w.lo[c] = float64(float32(qmin-z[k]) * float32(s[k]))
		w.hi[c] = float64(float32(qmax-z[k]) * float32(s[k]))
	}
	return w, ""
}

// outputAxis is the axis of a weight's output channels for a per-tensor
// scale: Conv 0, ConvTranspose 1, Gemm 0 with transB else 1, MatMul the
// last.
func outputAxis(n *graph.Node, rank int) int {
	switch n.OpType {
	case "Conv":
		return 0
	case "ConvTranspose":
		return min(1, rank-1)
	case "Gemm":
		if n.AttrInt("transB", 0) != 0 {
			return 0
		}
		return min(1, rank-1)
	}
	return rank - 1
}

// channelOf is the index along axis of element i of a row-major tensor.
func channelOf(i int, dims []int64, axis int) int {
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= int(d)
	}
	return (i / inner) % int(dims[axis])
}

func constFloats(t *graph.Tensor) ([]float64, error) {
	rt, err := runtime.FromGraph(t)
	if err != nil {
		return nil, err
	}
	return rt.AsFloat64()
}

// intRange is the code range of an integer weight type.
func intRange(dt graph.DType) (lo, hi float64, ok bool) {
	switch dt {
	case graph.Int8:
		return -128, 127, true
	case graph.Uint8:
		return 0, 255, true
	case graph.Int16:
		return -32768, 32767, true
	case graph.Uint16:
		return 0, 65535, true
	case graph.Int4:
		return -8, 7, true
	case graph.Uint4:
		return 0, 15, true
	}
	return 0, 0, false
}
