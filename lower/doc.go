// Package lower rewrites QuantizeLinear/DequantizeLinear node units into
// integer operators (QLinearConv, QLinearMatMul, ConvInteger,
// MatMulInteger), folding scales so the integer kernels can apply them in
// their epilogue.
package lower
