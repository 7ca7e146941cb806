//go:build !amd64 || noasm

// This file selects the portable microkernel where no assembly runs.

package kernels

func kernels() []sgemmKernel { return []sgemmKernel{goKernel} }

func bestKernel() sgemmKernel { return goKernel }
