//go:build !amd64 || noasm

// This file uses the portable Saxpy where no assembly runs.

package kernels

func saxpy(a float32, x, y []float32) { saxpyGo(a, x, y) }

func sdot(x, y []float32) float32 { return sdotGo(x, y) }
