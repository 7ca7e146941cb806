// Package kernels holds the compute kernels of the runtime: plain Go loops
// and, on amd64, assembly twins of their innermost parts.
//
// # FP32 GEMM
//
// Sgemm and SgemmParallel compute C = alpha·op(A)·op(B) + beta·C on
// row-major matrices with leading dimensions (row strides) lda, ldb, ldc.
// The driver packs A into panels of MR rows (element (i, p) of a panel at
// p*MR+i, alpha folded in) and B into panels of NR columns (element (p, j)
// at p*NR+j), zero-padding partial panels, and a register-blocked
// microkernel computes one MR×NR tile of C per call. The depth K is cut into
// blocks whose size depends only on K; each block adds its partial sums to C
// in order. Microkernels, from the fastest the CPU supports:
//
//	avx512  8×32 tile, ZMM registers, VFMADD231PS            (amd64)
//	avx2    6×16 tile, YMM registers, VFMADD231PS            (amd64)
//	go      4×8 tile, plain Go                               (everywhere; build tag noasm forces it)
//
// Determinism: every element of C is the same sequence of operations
// whatever the thread count: threads split the columns of C into chunks,
// never the depth, and edge tiles are computed as full tiles into a
// scratch tile before being copied out. Results are bit-identical for any
// thread count on one microkernel. The assembly kernels use fused
// multiply-add (one rounding per step) while the Go kernel rounds the
// product and the sum separately, so results of different microkernels
// differ in the last bits (about K·2⁻²⁴ relative to Σ|a·b|).
//
// When alpha is 0 or K is 0, A and B are not read and C becomes beta·C;
// when beta is 0, C is not read (NaNs in it do not propagate).
package kernels
