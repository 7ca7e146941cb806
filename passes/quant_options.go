// Typed options of the quantize pass (QuantOptions), their default, their
// validation, and the target presets (ort-cpu, tensorrt, generic) as
// functions returning the struct.

package passes

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/qdq"
)

// QuantOptions say how the quantize pass quantizes a model.
type QuantOptions struct {
	// ActivationType is the integer type of activations (Int8, Uint8,
	// Int16, Uint16).
	ActivationType qdq.Type
	// SymmetricActivations centres activation ranges on zero (zero point 0
	// for signed types).
	SymmetricActivations bool
	// WeightType is the integer type of weights (Int8, Uint8, Int16,
	// Uint16, Int4, Uint4).
	WeightType qdq.Type
	// SymmetricWeights centres weight ranges on zero; RestrictedWeights
	// then keeps signed 8-bit weights in [-127,127] so that -w is exact
	// (other weight types keep their full range).
	SymmetricWeights  bool
	RestrictedWeights bool
	// ReduceRange quantizes 8-bit weights to 7 bits, for integer kernels
	// whose 16-bit intermediate sums would otherwise saturate.
	ReduceRange bool
	// PerChannel quantizes weights with one scale per output channel
	// (DequantizeLinear axis, opset 13); off: one scale per tensor.
	PerChannel bool
	// BlockSize > 0 quantizes MatMul/Gemm weights in blocks of that many
	// elements along the reduction axis (opset 21).
	BlockSize int
	// FoldActivations removes a Relu or Clip after a quantized op when the
	// saturation of its output's QuantizeLinear does the same clipping, so
	// the producer and its Q form one unit.
	FoldActivations bool
	// ExcludeOps and ExcludeNodes (MatchGlob patterns of op types and node
	// names; a node without a name is matched by its output names) keep
	// matching nodes in FP32. IncludeOps quantizes matching op
	// types that stay FP32 by default (when the rule table knows how).
	ExcludeOps   []string
	ExcludeNodes []string
	IncludeOps   []string
	// Opset is the lowest default-domain opset the output imports; 0 means
	// only as high as the features in use need.
	Opset int64
	// Overrides adjust single tensors, by value name (an activation) or
	// initializer name (a weight).
	Overrides map[string]TensorOverride
	// WeightOnly stores the large float weights of nodes that stay FP32
	// by the rule table's WeightOnly column (the recurrence weights R of
	// LSTM/GRU/RNN; not nodes excluded by
	// ExcludeOps/ExcludeNodes nor weights with an FP32 override) as
	// per-channel integers of WeightType read through DequantizeLinear:
	// the node still computes in float on the dequantized weight, so the
	// file shrinks (these weights are most of a recurrent model's bytes)
	// at the cost of the weight's rounding. Weights under
	// weightOnlyMinElems elements stay float: their DequantizeLinear
	// would cost about what it saves. The summary lists each such weight.
	// A Gather's constant table (an embedding) whose output float ops
	// read is stored so too, per tensor on a grid spanning its values,
	// with a Q/DQ pair of that grid after the Gather
	// (quantize_gather.go).
	WeightOnly bool
	// CompleteUnits gives the output of a quantized Conv or ConvTranspose
	// a Q/DQ pair even when no reader asks for it (the readers are float
	// ops: a hard-swish, a Sigmoid, a Transpose to an output), and makes
	// those readers read its DequantizeLinear: the node then forms a
	// complete Q/DQ unit that ONNX Runtime runs as an integer kernel,
	// for one more rounding of its output. An output some readers read
	// quantized and others float (the Mul and the Sigmoid of a SiLU) has
	// those float readers read its DequantizeLinear too, unless the user
	// excluded one of them. Graph outputs themselves, and outputs a
	// Relu/Clip folds into a Q of its own, are left as they are.
	CompleteUnits bool
	// OpenUnits names the Conv/ConvTranspose outputs CompleteUnits leaves
	// without a Q/DQ of their own: the units whose completion costs the
	// outputs more than it is worth (quant.ChooseUnits).
	OpenUnits map[string]bool
	// FloatIdleInputs, a choice for the quant facade (quant.Run), tries
	// the model again with the activations whose every reader is a Conv
	// or ConvTranspose outside a complete Q/DQ unit kept in float, and
	// keeps that when its worst output on the calibration samples is no
	// worse. ONNX Runtime runs such a Conv in float: the Q/DQ of its input
	// only adds rounding (and two ops) to it; its weights stay integers.
	FloatIdleInputs bool
	// ChannelDequantize lets the quant facade rescale the channels of a
	// Conv output a hard-swish reads when that output's unit is completed
	// (passes.IslandCandidates), undone by a DequantizeLinear with a scale
	// per channel in front of the hard-swish (FoldRescaleMuls). ONNX
	// Runtime runs it somewhat slower than a per-tensor one; TensorRT
	// takes per-channel scales for weights only.
	ChannelDequantize bool
	// WideFrontEnd quantizes with 16 bits (uint16 for uint8 activations,
	// int16 for int8) the activation a weighted op reads as its data input
	// when that op's output reaches a Log through non-weighted ops only (a
	// filterbank whose output is log-compressed: the logarithm spreads out
	// the small magnitudes 8 bits lose), and every value sharing its Q/DQ
	// parameters; likewise the input of a weighted op whose output only
	// moves (data-movement ops, Pad) into such a 16-bit input (the
	// decimating low-pass of a constant-Q transform, whose output is the
	// next octave's waveform). Weights stay 8-bit. Below opset 21 the 16-bit Q/DQ
	// are com.microsoft's QuantizeLinear/DequantizeLinear (default-domain
	// 16-bit Q/DQ need opset 21), so the model's opset does not rise.
	WideFrontEnd bool
	// Extremes are the observed smallest and largest value of each
	// activation (by value name): a 16-bit activation's range reaches
	// them whatever the calibration method clipped, since 16 bits leave
	// room for the tails. Absent: the calibrated range.
	Extremes map[string]Range
}

// TensorOverride changes how one tensor is quantized.
type TensorOverride struct {
	// Range replaces the calibrated range of an activation, and of the
	// values that share its Q/DQ parameters (a Relu folded into it, a
	// MaxPool or Reshape of it): their calibrated ranges do not widen it.
	Range *Range
	// FP32 keeps the tensor float: no Q/DQ on an activation, float
	// storage for a weight.
	FP32 bool
	// PerTensor quantizes a weight with one scale.
	PerTensor bool
	// Bits sets the width of an activation and of every value sharing
	// its Q/DQ: 16 quantizes them with 16 bits of the activation type's
	// signedness (as WideFrontEnd does for filterbank inputs), 8 keeps
	// them at 8 bits even where WideFrontEnd would widen them, 0 leaves
	// the choice to the options. No effect with 16-bit activation types.
	Bits int
}

// DefaultQuantOptions is the ort-cpu preset.
func DefaultQuantOptions() QuantOptions { return PresetORTCPU() }

// Default returns the default options (the ort-cpu preset).
func (QuantOptions) Default() QuantOptions { return PresetORTCPU() }

// PresetORTCPU is what ONNX Runtime's x86 CPU provider fuses into integer
// kernels: uint8 asymmetric activations (ORT rewrites int8 activations to
// uint8 only for single-consumer Q nodes, so int8 often runs in float),
// int8 symmetric per-channel weights in [-127,127], Relu/Clip folded,
// 16-bit filterbank inputs (WideFrontEnd).
func PresetORTCPU() QuantOptions {
	return QuantOptions{
		ActivationType:    qdq.Uint8,
		WeightType:        qdq.Int8,
		SymmetricWeights:  true,
		RestrictedWeights: true,
		PerChannel:        true,
		FoldActivations:   true,
		WeightOnly:        true,
		WideFrontEnd:      true,
		FloatIdleInputs:   true,
		ChannelDequantize: true,
	}
}

// PresetTensorRT follows TensorRT's explicit-quantization rules: int8
// symmetric activations and weights (TensorRT supports zero point 0
// only), per-channel weights. Q/DQ sit on the inputs of quantized ops;
// a weighted op's output gets a Q only where a quantized consumer reads
// it (the pass never adds an output Q for its own sake), and Relu/Clip
// stay in the graph because TensorRT fuses them itself (with zero point
// 0 the saturation of Q cannot replace them). No 16-bit activations:
// TensorRT's Q/DQ are 8-bit.
func PresetTensorRT() QuantOptions {
	return QuantOptions{
		ActivationType:       qdq.Int8,
		SymmetricActivations: true,
		WeightType:           qdq.Int8,
		SymmetricWeights:     true,
		RestrictedWeights:    true,
		PerChannel:           true,
	}
}

// PresetGeneric is the portable choice of the ONNX quantization tools:
// int8 asymmetric activations, int8 symmetric per-channel weights,
// 16-bit filterbank inputs (WideFrontEnd).
func PresetGeneric() QuantOptions {
	return QuantOptions{
		ActivationType:    qdq.Int8,
		WeightType:        qdq.Int8,
		SymmetricWeights:  true,
		RestrictedWeights: true,
		PerChannel:        true,
		FoldActivations:   true,
		WideFrontEnd:      true,
		ChannelDequantize: true,
	}
}

// Preset returns the options of a --target name.
func Preset(target string) (QuantOptions, error) {
	switch target {
	case "", "ort-cpu":
		return PresetORTCPU(), nil
	case "tensorrt":
		return PresetTensorRT(), nil
	case "generic":
		return PresetGeneric(), nil
	}
	return QuantOptions{}, fmt.Errorf("unknown target %q (want ort-cpu, tensorrt or generic)", target)
}

// Validate reports the first inconsistent setting.
func (o QuantOptions) Validate() error {
	switch o.ActivationType {
	case qdq.Int8, qdq.Uint8, qdq.Int16, qdq.Uint16:
	default:
		return fmt.Errorf("activation type %v is not supported (want int8, uint8, int16 or uint16)", o.ActivationType)
	}
	switch o.WeightType {
	case qdq.Int8, qdq.Uint8, qdq.Int16, qdq.Uint16, qdq.Int4, qdq.Uint4:
	default:
		return fmt.Errorf("weight type %v is not supported", o.WeightType)
	}
	if o.RestrictedWeights && o.WeightType == qdq.Int8 && !o.SymmetricWeights {
		return fmt.Errorf("restricted weights need symmetric int8 weights")
	}
	if o.BlockSize < 0 {
		return fmt.Errorf("block size %d is negative", o.BlockSize)
	}
	if o.BlockSize > 0 && (o.BlockSize < 16 || o.BlockSize&(o.BlockSize-1) != 0) {
		return fmt.Errorf("block size %d: want a power of two, at least 16", o.BlockSize)
	}
	if o.Opset != 0 && o.Opset < 10 {
		return fmt.Errorf("opset %d cannot hold QuantizeLinear (needs 10 or later)", o.Opset)
	}
	for _, name := range slices.Sorted(maps.Keys(o.Overrides)) {
		if r := o.Overrides[name].Range; r != nil && !(r.Min <= r.Max) {
			return fmt.Errorf("override of %q: range [%v, %v] is empty", name, r.Min, r.Max)
		}
		if b := o.Overrides[name].Bits; b != 0 && b != 8 && b != 16 {
			return fmt.Errorf("override of %q: %d bits (want 8 or 16)", name, b)
		}
	}
	for _, list := range [][]string{o.ExcludeOps, o.ExcludeNodes, o.IncludeOps} {
		for _, p := range list {
			if err := GlobError(p); err != nil {
				return fmt.Errorf("bad pattern %q: %v", p, err)
			}
		}
	}
	return nil
}

// AllowsOpset reports whether an optional rewrite may raise the output's
// opset to v: Opset, when set, is the opset the user asked for, and only
// what the options need (neededOpset) goes past it.
func (o QuantOptions) AllowsOpset(v int64) bool {
	return o.Opset == 0 || o.Opset >= v
}

// neededOpset is the default-domain opset the options' Q/DQ nodes need,
// given whether weights and activations get them.
func (o QuantOptions) neededOpset(weights, activations bool) int64 {
	need := int64(10)
	if weights {
		if o.PerChannel {
			need = 13
		}
		switch o.WeightType {
		case qdq.Int4, qdq.Uint4, qdq.Int16, qdq.Uint16:
			need = 21
		}
		if o.BlockSize > 0 {
			need = 21
		}
	}
	switch o.ActivationType {
	case qdq.Int16, qdq.Uint16:
		if activations {
			need = 21
		}
	}
	return max(need, o.Opset)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if MatchGlob(p, s) {
			return true
		}
	}
	return false
}

// MatchGlob tells whether name matches the glob pattern (* ? [abc], \
// escapes), path.Match's syntax except that * and ? also match "/":
// exported node names are paths ("/blocks.0/fcn_layer/Gemm"), and
// "*Gemm" means every Gemm. A malformed pattern matches nothing
// (GlobError says why).
func MatchGlob(pattern, name string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(name, "/", "\x00"))
	return err == nil && ok
}

// GlobError says why pattern is not a valid glob, nil when it is.
func GlobError(pattern string) error {
	_, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), "")
	return err
}

// wideType is the type of WideFrontEnd activations: 16 bits of the
// activation type's signedness.
func (o QuantOptions) wideType() qdq.Type {
	if o.ActivationType.Signed() {
		return qdq.Int16
	}
	return qdq.Uint16
}
