//go:build !amd64 || noasm

// This file uses the portable elementwise loops where no assembly runs.

package kernels

func vecBinary(op int, dst, a, b []float32)         { vecBinaryGo(op, dst, a, b) }
func vecScalar(op int, dst, a []float32, s float32) { vecScalarGo(op, dst, a, s) }
func affine(dst, a []float32, m, c float32)         { affineGo(dst, a, m, c) }
func clamp(dst, a []float32, lo, hi float32)        { clampGo(dst, a, lo, hi) }
func vecExp(dst, a []float32, shift float32)        { expGo(dst, a, shift) }
func vecSigmoid(dst, a []float32)                   { sigmoidGo(dst, a) }
