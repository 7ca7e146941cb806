//go:build !linux

package graph

// maxTensorBytes is the largest single tensor onnxq will allocate.
func maxTensorBytes() int64 { return 1 << 40 }
