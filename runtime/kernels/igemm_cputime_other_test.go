//go:build !linux

package kernels

// threadCPUSeconds is not measured here: cpu-Gops/s is not reported.
func threadCPUSeconds() float64 { return 0 }
