//go:build !amd64 || noasm

// This file has no extra row kernels to test.

package kernels

func extraRowImpls() []rowImpl { return nil }
