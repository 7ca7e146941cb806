package graph

import "syscall"

// maxTensorBytes is the largest single tensor onnxq will allocate: the
// machine's physical memory.
func maxTensorBytes() int64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil || info.Totalram == 0 {
		return 1 << 40
	}
	return int64(info.Totalram) * int64(info.Unit)
}
