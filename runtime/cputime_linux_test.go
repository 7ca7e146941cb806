//go:build linux

package runtime

import "golang.org/x/sys/unix"

// threadCPUSeconds is the CPU time of the calling OS thread: benchmarks
// report it beside the wall time, which other processes inflate.
func threadCPUSeconds() float64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)*1e-9
}
