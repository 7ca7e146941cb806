//go:build !amd64 || noasm

package kernels

func qLinearBinary(dst, a, b []byte, p QBinaryParams) { qLinearBinaryGo(dst, a, b, p) }
