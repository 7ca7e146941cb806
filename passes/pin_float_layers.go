// pin_float_layers.go keeps the float Conv, ConvTranspose and Gemm nodes
// of a quantized model float in ONNX Runtime.

package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// PinFloatLayers makes each Conv, ConvTranspose and Gemm of m (subgraphs
// too) that reads a per-tensor DequantizeLinear input (directly or through
// MaxPool, Reshape, Transpose, Squeeze, Unsqueeze or Slice, which ONNX
// Runtime moves DequantizeLinear nodes across) but an FP32 initializer
// weight read its bias through a DequantizeLinear of int32
// values, adding a zero bias where it has none. The values do not change:
// each bias channel gets a power-of-two scale (one for all channels below
// opset 13) under which its float32 value is an exact integer.
//
// Why: ONNX Runtime's graph optimizer (from its basic level, so by
// default) quantizes the FP32 weight of such a node itself, per tensor and
// to int8, and its bias to int32, so that the node becomes an integer
// unit. A layer onnxq keeps in FP32 on purpose (--target-sqnr,
// --fallback-budget, a "fp32" weight in --config, float weights outside
// units) would run with weights coarser than onnxq's own per-channel ones:
// oww_speech_embedding with every weight in FP32 read 17.6 dB there
// against 27.6 as written. That rewrite leaves alone a node whose bias is
// not an initializer, and the node stays float. A bias that is not 1-D (a
// Gemm's [1, N]) already keeps it away; a Gemm's one-element C becomes one
// value per channel. It returns the nodes changed, as "name (op)".
func PinFloatLayers(m *graph.Model) ([]string, error) {
	if m == nil || m.Graph == nil {
		return nil, nil
	}
	perChannel := mainOpset(m) >= 13
	var done []string
	var err error
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range slices.Clone(g.Nodes) {
			if err != nil {
				return
			}
			channels, bias, ok := floatLayerBias(n)
			if !ok {
				continue
			}
			if err = pinBias(g, n, channels, bias, perChannel); err != nil {
				err = fmt.Errorf("pinning float layer %s: %v", n.Name, err)
				return
			}
			done = append(done, fmt.Sprintf("%s (%s)", n.Name, n.OpType))
		}
	})
	return done, err
}

// floatLayerBias tells whether n is a node PinFloatLayers changes, with
// its output channel count and its FP32 bias values (nil for none).
func floatLayerBias(n *graph.Node) (channels int, bias []float32, ok bool) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return 0, nil, false
	}
	switch n.OpType {
	case "Conv", "ConvTranspose", "Gemm":
	default:
		return 0, nil, false
	}
	w := n.Input(1)
	if !isFloatConst(w) || !dequantizedInput(n.Input(0)) {
		return 0, nil, false
	}
	dims := w.Const.Dims
	if len(dims) < 2 {
		return 0, nil, false
	}
	switch n.OpType {
	case "Conv":
		channels = int(dims[0])
	case "ConvTranspose":
		channels = int(dims[1] * n.AttrInt("group", 1))
	case "Gemm":
		if n.AttrInt("transB", 0) != 0 {
			channels = int(dims[0])
		} else {
			channels = int(dims[1])
		}
	}
	b := n.Input(2)
	if b == nil {
		return channels, nil, channels > 0
	}
	// A Gemm's C of one element broadcasts as the same value per channel
	// would, and ONNX Runtime's rewrite takes it as a 1-D bias too.
	oneGemmC := n.OpType == "Gemm" && isFloatConst(b) && len(b.Const.Dims) == 1 && b.Const.Dims[0] == 1
	if !isFloatConst(b) || len(b.Const.Dims) != 1 || int(b.Const.Dims[0]) != channels && !oneGemmC {
		return 0, nil, false
	}
	data, err := b.Const.Float32s()
	if err != nil || slices.ContainsFunc(data, func(v float32) bool { return math.IsInf(float64(v), 0) || v != v }) {
		return 0, nil, false
	}
	if len(data) != channels {
		full := make([]float32, channels)
		for i := range full {
			full[i] = data[0]
		}
		data = full
	}
	return channels, data, true
}

// dequantizedInput tells whether x is, or will be once ONNX Runtime has
// moved DequantizeLinear nodes forward through the data-movement ops it
// moves them through, the output of a DequantizeLinear with one scale (a
// per-axis scale of several entries keeps the rewrite away already).
func dequantizedInput(x *graph.Value) bool {
	for x != nil && x.Producer != nil {
		p := x.Producer
		switch p.OpType {
		case "DequantizeLinear":
			s := p.Input(1)
			return s == nil || s.Const == nil || s.Const.NumElements() <= 1
		case "MaxPool", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Slice":
			if p.Domain != "" && p.Domain != "ai.onnx" {
				return false
			}
			x = p.Input(0)
		default:
			return false
		}
	}
	return false
}

// pinBias gives n the bias values (zeros when nil) through a
// DequantizeLinear of int32 values placed just before n.
func pinBias(g *graph.Graph, n *graph.Node, channels int, bias []float32, perChannel bool) error {
	if bias == nil {
		bias = make([]float32, channels)
	}
	var scales []float32
	if perChannel && channels > 1 {
		scales = make([]float32, channels)
		for i, b := range bias {
			scales[i] = exactBiasScale(b)
		}
	} else {
		var peak float32
		for _, b := range bias {
			peak = max(peak, float32(math.Abs(float64(b))))
		}
		scales = []float32{exactBiasScale(peak)}
	}
	ints := make([]int32, channels)
	for i, b := range bias {
		s := scales[0]
		if len(scales) > 1 {
			s = scales[i]
		}
		ints[i] = int32(math.RoundToEven(float64(b) / float64(s)))
	}
	base := n.Name
	if base == "" {
		base = n.Outputs[0].Name
	}
	it, err := graph.NewTensor(g.UniqueName(base+"_bias_int32"), graph.Int32, []int64{int64(channels)}, intBytes32(ints))
	if err != nil {
		return err
	}
	iv, err := g.AddInitializer(it)
	if err != nil {
		return err
	}
	var sdims []int64
	if len(scales) > 1 {
		sdims = []int64{int64(channels)}
	}
	st, err := graph.NewTensor(g.UniqueName(base+"_bias_scale"), graph.Float32, sdims, f32Bytes(scales))
	if err != nil {
		return err
	}
	sv, err := g.AddInitializer(st)
	if err != nil {
		return err
	}
	dq := &graph.Node{Name: g.UniqueName(base + "_bias_dq"), OpType: "DequantizeLinear", Inputs: []*graph.Value{iv, sv}}
	if len(scales) > 1 {
		dq.Attrs = append(dq.Attrs, graph.IntAttr("axis", 0))
	}
	if err := g.InsertNode(slices.Index(g.Nodes, n), dq, g.UniqueName(base+"_bias")); err != nil {
		return err
	}
	dq.Outputs[0].DType, dq.Outputs[0].Shape = graph.Float32, graph.Fixed(int64(channels))
	old := n.Input(2)
	n.SetInput(2, dq.Outputs[0])
	if old != nil {
		return removeOrphans(g, []*graph.Value{old})
	}
	return nil
}

// exactBiasScale is the power of two under which |b| (a float32, whose
// 24 significant bits then sit in the low 31 of the integer) is an exact
// int32 below 2^30; 1 for 0, and at least the smallest normal float32.
func exactBiasScale(b float32) float32 {
	if b == 0 {
		return 1
	}
	_, exp := math.Frexp(math.Abs(float64(b))) // |b| < 2^exp
	return float32(math.Ldexp(1, max(exp-30, -126)))
}
