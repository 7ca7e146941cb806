//go:build !linux

package runtime

func threadCPUSeconds() float64 { return 0 }
