//go:build !amd64 || noasm

// This file selects the portable INT8 microkernel where no assembly runs.

package kernels

func igemmKernels() []igemmKernel { return []igemmKernel{goIgemmKernel} }

func bestIgemmKernel() igemmKernel { return goIgemmKernel }

func narrowIgemmKernel(kern igemmKernel) igemmKernel { return kern }
