//go:build !amd64 || noasm

// This file selects the portable INT8 microkernel where no assembly runs.

package kernels

func igemmKernels() []igemmKernel { return []igemmKernel{goIgemmKernel} }

func bestIgemmKernel() igemmKernel { return goIgemmKernel }

func narrowIgemmKernel(kern igemmKernel) igemmKernel { return kern }

// sumBytes32 is Σ p[i]^x, x the low byte of flip (a multiple of 32 bytes).
func sumBytes32(p []byte, flip uint64) uint64 { return sumBytesGo(p, flip) }
