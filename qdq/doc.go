// Package qdq holds onnxq's quantization arithmetic: quantization
// parameters (scale, zero point, axis, block size, integer type), the
// mapping from an observed range to parameters (symmetric, asymmetric,
// reduced range), quantize and dequantize with round-half-to-even and
// saturation, int4 packing, and the int32 bias rule (scale = s_in·s_w,
// zero point 0).
//
// It imports nothing else of onnxq, so the arithmetic can be checked on
// its own against the ONNX QuantizeLinear/DequantizeLinear definitions.
package qdq
