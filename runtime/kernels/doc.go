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
// # INT8 GEMM
//
// Igemm computes C = A·B in int32, c[i*ldc+j] = Σ_p int32(A[i,p])·int32(B[p,j]),
// with A m×k of uint8 (row-major, row stride lda) and B k×n of int8 packed
// once by PackB8 (row-major or transposed). IgemmS8 is the same with A of
// int8. Zero points are not applied: with x = A - zx and w = B - zw, the
// caller forms
//
//	Σ_p x·w = C[i,j] - zx·ColSums[j] - zw·rowSums[i] + K·zx·zw
//
// from the column sums PackB8 stores (PackedB8.ColSums) and the row sums
// Igemm writes when given a rowSums slice. Per-row or per-column scales
// and the bias belong to the caller's epilogue as well.
//
// PackB8 cuts B into panels of nr columns (zero-padded) and the depth into
// groups of 4 (zero-padded): group g of a panel holds, for each of its
// columns j, the bytes B[4g..4g+3, j] next to each other, the operand
// layout of VPDPBUSD. A is read in place, four bytes of a row broadcast to
// every column; a panel of fewer than mr rows, or one that would read past
// the end of a, is copied first. The depth is cut into blocks of at most
// 512, the rows into blocks of 256 and the columns into groups of 1024;
// each microkernel call computes one mr×nr tile of C over one depth block
// (rows of A in L1, the B group in L2), edge tiles into a scratch tile.
// Threads split the panels of B (the columns of C), or the rows of C when
// B has fewer than four panels per thread; integer sums do not depend on
// the split. The microkernel is chosen when B is packed:
//
//	vnni    8×32 tile, ZMM registers, VPDPBUSD (u8×s8, 4 products per lane)  (amd64, AVX-512 VNNI)
//	vnni16  16×16 tile, the same, for B of at most 16 columns             (amd64, AVX-512 VNNI)
//	avx2    6×8 tile, YMM registers, VPMOVZXBW/VPMOVSXBW, VPMADDWD         (amd64, AVX2)
//	go      4×8 tile, plain Go                                            (everywhere)
//
// VPMADDUBSW is not used: it saturates its int16 pair sums (255·127·2
// exceeds 32767), while widening to int16 first makes every product and
// pair sum exact. int8 A goes through the unsigned multiply as A+128 (each
// byte xored with 0x80 as it is broadcast) into sums that start at
// -128·ColSums[j], which is exact.
//
// Exactness: every path computes the true sum modulo 2³² (int32 additions
// wrap around, nothing saturates), so all paths and thread counts give the
// same bits. The sum itself fits in int32, and C is exact, for
// k ≤ IgemmMaxDepthU8 = 65793 with uint8 A (|a·b| ≤ 255·128) and
// k ≤ IgemmMaxDepthS8 = 131071 (k < 2¹⁷) with int8 A (|a·b| ≤ 128·128);
// deeper products wrap. ColSums (|·| ≤ 128·k) and the row sums
// (≤ 255·k) are exact for any k below 2²³.
//
// Convolution through im2col: the weights (Cout×Cin·kh·kw) are the packed
// B, transposed (PackB8 with transB), so n = Cout and k = Cin·kh·kw; the
// im2col matrix of the activations streams as A, one row per output pixel
// (m = Hout·Wout). C is then pixels×channels (NHWC): per-channel scales
// and ColSums index its columns, and the epilogue writes NCHW output by
// storing column j of C as channel j. The weights are packed once per
// model, the activations never: A is read where im2col wrote it.
//
// # Channel-major INT8 GEMM
//
// IgemmWX computes C = W·X with the int8 weights as rows (PackW8: rows
// padded to 8, depth to 4) and the uint8 activations packed four depth
// steps per column in panels of 32 columns (PackQuads), so C's rows are
// output channels: the layout of NCHW. Its 8×32 microkernel broadcasts
// four weight bytes per row and multiplies them with two ZMM registers of
// activations (VPDPBUSD). IgemmWXQ and IgemmWXH requantize (or apply
// hard-swish and quantize) in the registers and store bytes under a
// column mask; IgemmTapsQ reads every tap of a convolution window as a
// shifted run of channel-interleaved planes instead of a packed panel.
// DepthwiseRow and DepthwiseRowsQ/H compute depthwise windows four taps
// per VPDPBUSD over a bordered plane (strides 1 and 2): the bytes at
// offsets 0…3 give the outputs of each residue mod 4, put back in order
// after requantization by a byte interleave. QLinearBinary is the Add or
// Mul of two dequantized 8-bit tensors, quantized, in one pass.
// AvgPool3S2Rows is integer average pooling over full 3-wide, stride-2
// windows: byte sums in 16-bit lanes, then float32(sum + bias)·m
// clamped, rounded half to even, plus the zero point, with a flag for the
// values within Eps of a tie. All have Go loops they equal bit for bit.
//
// # Row kernels
//
// Direct convolution and pooling work on whole rows: ConvRows (a bias
// plus a weighted sum of rows taken at offsets into one buffer, in order),
// ConvRows4 (four such sums over the same rows, each rounded as
// ConvRows rounds it alone), MaxRows (the running maximum of rows, with
// MAXPS semantics for NaN), Saxpy, Sdot and Deinterleave. The assembly versions
// use fused multiply-add for every element, the vector body and the tail
// alike, so an element's value does not depend on its position. Byte rows
// have DeinterleaveBytes, InterleaveBytes (the rows of a stride-2 integer
// ConvTranspose), CopyRows and the max-pooling loops; they move bytes, so
// every path gives the same bytes.
//
// # Requantization
//
// Requantize turns int32 sums into 8-bit outputs the way ONNX Runtime's
// QLinearConv does: float32(sum)·scale, rounded half to even, plus the
// zero point, saturated. The product is clamped to [qmin−zp, qmax−zp]
// before rounding (the bounds are integers and rounding is monotone, so
// this is the same integer), which lets the AVX2 loop use VMAXPS/VMINPS,
// VROUNDPS and a byte pack, and the Go loop a 1.5·2^23 rounding constant;
// both give the same bits. RequantizeSums does the same for integer sums
// held in float32 (the depthwise path computes Σ(x−zx)(w−zw) with
// ConvRows, exact while every partial sum stays below 2^24), and
// WidenBytes turns 8-bit activations minus their zero point into float32.
//
// # Quantization
//
// QuantizeBytes is QuantizeLinear of float32 to an 8-bit type with one
// scale and zero point in a single pass (AVX-512, 64 a step, or AVX2, 32
// a step): the float32 quotient x/scale (VDIVPS, never a multiplication
// by the reciprocal), NaN as qmin−zp, clamped to [qmin−zp, qmax−zp], rounded
// half to even, plus the zero point.
// DequantizeBytes is DequantizeLinear of 8-bit integers, (x − zp)·scale
// with the exact difference and one rounded product. Both are bit-exact
// with their Go loops.
//
// # Byte tables
//
// LookupBytes maps every byte through a 256-byte table (dst[i] =
// table[src[i]]), which is how an 8-bit value is requantized to other
// parameters. With AVX-512 VBMI the table sits in four ZMM registers: one
// VPERMI2B looks the low seven bits of 64 bytes up in entries 0…127,
// another in 128…255, and each byte's top bit (VPMOVB2M) picks the
// result; the last partial block loads and stores under a mask. Without
// VBMI (or with noasm) the Go loop runs; both give the same bytes.
package kernels
