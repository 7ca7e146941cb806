//go:build !linux

package runtime

// physicalMemory returns 0: the RAM is not looked up on this system, and
// only GOMEMLIMIT bounds a tensor.
func physicalMemory() int64 { return 0 }
