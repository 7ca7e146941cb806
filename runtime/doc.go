// Package runtime executes graphs: an executor over a kernel registry with
// FP32 and integer kernels, an observer hook that sees every value as it is
// produced, and buffer reuse after each value's last use.
//
// Integer kernels are bit-exact with their reference loops on every code
// path; FP32 results do not depend on the number of threads. The runtime
// never imports passes, lower or calib.
package runtime
