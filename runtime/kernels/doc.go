// Package kernels holds the compute kernels of the runtime: plain Go loops
// and, on amd64, assembly twins of their innermost parts. Every assembly
// function's Go stub shows in its doc comment the loop it computes; the
// build tag noasm, or a CPU without the features, selects the Go loops
// (dispatch by golang.org/x/sys/cpu).
//
// # FP32 GEMM
//
// Sgemm and SgemmParallel compute C = alpha·op(A)·op(B) + beta·C on
// row-major matrices with leading dimensions (row strides) lda, ldb, ldc;
// SgemmBias adds a per-row bias instead of beta·C, and SgemmPacker takes B
// from a BPacker (an implicit im2col) instead of a stored matrix. The
// driver packs A into panels of MR rows (element (i, p) of a panel at
// p*MR+i, alpha folded in) and B into panels of NR columns (element (p, j)
// at p*NR+j), zero-padding partial panels, and a register-blocked
// microkernel computes one MR×NR tile of C per call. The depth K is cut
// into blocks whose size depends only on K; each block adds its partial
// sums to C in order. A bias is the first term of every sum: one more
// depth step with A's column holding the bias and B's row holding ones.
// Microkernels, from the fastest the CPU supports:
//
//	avx512  8×32 tile, ZMM registers, VFMADD231PS            (amd64)
//	avx2    6×16 tile, YMM registers, VFMADD231PS            (amd64)
//	go      4×8 tile, plain Go                               (everywhere)
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
// Products of at most four rows (matrix-vector like) skip the tiles: each
// row of C gains alpha·a[i,p]·B[p,:] for p in order (Saxpy), or with B
// stored transposed each element is one Sdot.
//
// When alpha is 0 or K is 0, A and B are not read and C becomes beta·C;
// when beta is 0, C is not read (NaNs in it do not propagate).
//
// # Row kernels
//
// Direct convolution and pooling work on whole rows: ConvRows (a bias
// plus a weighted sum of rows taken at offsets into one buffer, in order),
// ConvRows4 (four such sums over the same rows, each rounded as
// ConvRows rounds it alone), MaxRows (the running maximum of rows, with
// MAXPS semantics for NaN), Saxpy, Sdot and Deinterleave. The assembly versions
// use fused multiply-add for every element, the vector body and the tail
// alike, so an element's value does not depend on its position.
package kernels
