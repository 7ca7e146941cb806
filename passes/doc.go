// Package passes holds the graph transformations of the quantization
// pipeline (preparation such as constant folding and BatchNormalization
// folding, then insertion of QuantizeLinear/DequantizeLinear pairs by a
// per-op rule table) and the runner that executes them in order.
//
// A pass is a value with a name, a description and a Run function; the
// runner verifies the graph after each pass and turns a panic inside a pass
// into an error naming it.
//
// The prepare pipeline (PreparePasses, ordered by PrepareOrder) leaves a
// model that computes the same outputs as the original (up to float32
// rounding where BatchNormalization folds into weights or an Add into a
// bias) and in which:
// no node calls a model-local function (inline-functions puts the bodies
// in), the nodes are in dependency order with names of their own, and
// ONNX Runtime's fused com.microsoft ops (FusedConv, Gelu, BiasGelu,
// FastGelu, QuickGelu, SkipLayerNormalization) are the standard ops they
// fuse (contrib-ops);
// every constant is an initializer that is not a graph input (IR >= 4);
// no node outside QuantizeLinear/DequantizeLinear and random ops has only
// constant inputs, unless its output is a graph output, would exceed
// MaxFoldElements, or has no kernel; no inference BatchNormalization
// directly follows a Conv, ConvTranspose, Gemm or 2-D MatMul with constant
// weights that it alone reads; no Add of a per-output-channel constant
// directly follows a Conv or ConvTranspose with a constant (or no) bias
// whose only output it alone reads; no ImageScaler (dropped at opset 10)
// remains, written as a Mul and an Add; no node or initializer is unread.
// Value names are kept: a folded node's outputs become initializers of the
// same name, and graph outputs are never renamed. Passes edit the IR in place
// and are deterministic. A float16 or bfloat16 model computes in float32
// (upcast-half): its half-precision inputs and outputs keep their types
// through Casts, and its outputs differ from the original's by the
// original's half-precision rounding.
//
// The equalization passes (equalize, equalize-activations) are the
// exception to kept names: a value whose channels they rescale takes a
// name ending RescaledSuffix, and the model's metadata_props entry
// RescaledKey ("onnxq.rescaled") records, for each such value of the main
// graph, the original name, the channel axis and the per-channel factors
// (composed when a value is rescaled again), so tools can relate it to the
// original model's tensor (see Rescale).
//
// The quantize pass gives activations QuantOptions.ActivationType (8 bits
// in the presets), except the inputs of filterbanks feeding a Log and the
// values sharing their Q/DQ parameters, which QuantOptions.WideFrontEnd
// quantizes with 16 bits (quantize_wide.go): below opset 21 those Q/DQ are
// com.microsoft's QuantizeLinear/DequantizeLinear (version 1), from 21 the
// default domain's; their scale and zero-point initializers are never
// shared with 8-bit ones. A constant operand of an elementwise op (an Add's
// bias, a Mul's factor) takes the type and range rules of the op's output
// activation, not the weight type, so that a runtime can fuse the op into
// one integer kernel (ONNX Runtime's QLinearAdd and QLinearMul want one type
// throughout).
//
// After the quantization flow's choices, FloatWeightsOutsideUnits gives
// the weighted ops that form no complete Q/DQ unit (grouped Convs, or
// every one) their FP32 weights back from the prepared FP32
// model: a runtime runs them in float either way. PinFloatLayers then
// gives every Conv, ConvTranspose and Gemm with an FP32 weight on a
// quantized input its bias through an int32 DequantizeLinear of the same
// values, which keeps ONNX Runtime's optimizer from quantizing that weight
// per tensor itself. A bias that would overflow int32 at s_in·s_w widens
// its channel's weight scale instead of staying float.
package passes
