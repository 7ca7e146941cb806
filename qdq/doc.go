// Package qdq holds onnxq's quantization arithmetic: quantization
// parameters (scale, zero point, axis, block size, integer type), the
// mapping from an observed range to parameters (symmetric, asymmetric,
// reduced range), quantize and dequantize with round-half-to-even and
// saturation, int4 packing, and the int32 bias rule (scale = s_in·s_w,
// zero point 0).
//
// It imports nothing else of onnxq, so the arithmetic can be checked on
// its own against the ONNX QuantizeLinear/DequantizeLinear definitions.
//
// # Arithmetic
//
// Quantize is ONNX QuantizeLinear bit for bit: q = saturate(round(x/s) +
// zp), with x/s computed in float32, rounded half to even, and saturated
// to the type's full range (int8 [-128, 127], uint8 [0, 255], int16,
// uint16, int4 [-8, 7], uint4 [0, 15]); NaN becomes the type's minimum,
// as in ONNX Runtime.
// Dequantize is ONNX DequantizeLinear: (q - zp)·s, the difference exact,
// the product in float32. The node tests of both operators (and the scale
// and zero point of DynamicQuantizeLinear, which equal ParamsFromRange
// for uint8) are checked bit-exactly.
//
// # Invariants of ParamsFromRange and WeightParams
//
//   - The range is widened to contain 0, and 0 quantizes to the zero point
//     exactly, which dequantizes to 0.
//   - The scale is finite and at least MinScale (1e-8) whatever the input:
//     all-zero ranges, NaN (read as 0) and ±Inf (read as ±MaxFloat32).
//   - The zero point lies in RangeOptions.Bounds(): the type's range,
//     narrowed to 7 bits for 8-bit types with ReduceRange (int8 [-64, 63],
//     uint8 [0, 127]) and to [-qmax, qmax] for signed types with
//     Restricted.
//   - Every finite x in the (widened) range quantizes inside Bounds(); at
//     rounding ties that would step past a bound the zero point moves or
//     the scale grows by a few ulps. So weights quantized with their own
//     WeightParams respect reduced and restricted bounds even though
//     Quantize saturates only to the type's range.
//   - Asymmetric: s = (max-min)/(qmax-qmin), zp = round(qmin - min/s).
//     Symmetric: zp = 0 for signed types and (qmin+qmax+1)/2 for unsigned
//     ones (uint8: 128), s = max(|min|, |max|)/(qmax - zp), so the largest
//     magnitude is exact (int8: /127, restricted or not).
//   - Inside the representable range |x - deq(q(x))| <= s/2 (up to float32
//     rounding of x/s and of the product); outside it q saturates.
//   - WeightParams ignores non-finite values; a channel or block without a
//     finite value gets the zero range.
//
// # Layouts
//
// Tensors are row-major. Params holds len(Scale) == len(ZeroPoint) sets:
//
//   - per tensor: one set, BlockSize 0 (Axis ignored);
//   - per axis: BlockSize 0, one set per position of dimension Axis;
//   - blocked: BlockSize B > 0, the sets laid out row-major over the
//     tensor's shape with dimension Axis replaced by ceil(shape[Axis]/B);
//     element (…, a, …) uses block a/B, and the last block may be partial.
//
// ScaleShape gives the matching ONNX scale/zero-point tensor shape.
// PackInt4 stores 4-bit values two per byte, the first in the low nibble,
// as ONNX int4/uint4 tensors are stored.
//
// # Bias
//
// QuantizeBias: int32, zero point 0, scale s_in·s_w per weight scale (the
// product in float32), round half to even; values beyond int32 saturate
// and are counted so callers can guard against overflow.
package qdq
