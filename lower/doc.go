// Package lower rewrites QuantizeLinear/DequantizeLinear node units into
// integer operators (QLinearConv, QLinearMatMul), folding scales so the
// integer kernels can apply them in their epilogue, and runs
// data-movement units (Reshape, Concat, MaxPool, Pad, Resize…) on the
// integers. With Options it also fuses units ONNX has no integer op for
// into onnxq's own ai.onnxq ops, for onnxq's runtime only: a convolution
// followed by hard-swish (activation.go), the Add or Mul of two
// quantized tensors (binary.go), average pooling (pool.go:
// QLinearAveragePool, QLinearGlobalAveragePool) and ConvTranspose
// (QLinearConvTranspose, Options.ConvTranspose), whose output may stay
// float as a Conv's may. With Options.Requantize the data-movement units
// whose inputs and output are quantized differently run on the integers
// too, each differently quantized input (or a shrinking op's output)
// passing through ai.onnxq Requantize: QuantizeLinear(DequantizeLinear(x))
// as a 256-byte table, the float unit's bits (move.go).
package lower
