//go:build amd64 && !noasm

// This file holds the channel-major INT8 GEMM microkernel (AVX-512 VNNI)
// and the packing of its activations (AVX2); igemmwx_amd64.go documents
// the loop each one computes.

#include "textflag.h"

// One weight row of the tile: broadcast its 4 bytes at mem into t and add
// their products with the 32 columns in Z16, Z17 to c0, c1.
#define WX_ROW(mem, t, c0, c1) \
	VPBROADCASTD mem, t; \
	VPDPBUSD t, Z16, c0; \
	VPDPBUSD t, Z17, c1

// Clear the sixteen accumulators Z0…Z15.
#define WX_ZERO \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15

// The eight weight rows at SI (R9 = ldw, R10 = 3·ldw, R11 = 5·ldw, R12 =
// 7·ldw) against the 32 columns in Z16, Z17, into Z0…Z15.
#define WX_ROWS \
	WX_ROW((SI), Z20, Z0, Z1); \
	WX_ROW((SI)(R9*1), Z21, Z2, Z3); \
	WX_ROW((SI)(R9*2), Z22, Z4, Z5); \
	WX_ROW((SI)(R10*1), Z23, Z6, Z7); \
	WX_ROW((SI)(R9*4), Z24, Z8, Z9); \
	WX_ROW((SI)(R11*1), Z25, Z10, Z11); \
	WX_ROW((SI)(R10*2), Z26, Z12, Z13); \
	WX_ROW((SI)(R12*1), Z27, Z14, Z15)

#define WX_STORE(c0, c1) \
	VMOVDQU32 c0, (DX); \
	VMOVDQU32 c1, 64(DX); \
	ADDQ R8, DX

// R10, R11, R12: 3, 5 and 7 weight rows (of R9 bytes) from SI, as WX_ROWS
// reads them; the accumulators zeroed.
#define WX_START \
	LEAQ (R9)(R9*2), R10; \
	LEAQ (R9)(R9*4), R11; \
	LEAQ (R10)(R9*4), R12; \
	WX_ZERO

// The depth loop: CX steps of one weight quad (SI) against 32 columns of
// packed activations (DI).
#define WX_KLOOP(loop) \
loop: \
	VMOVDQU32 (DI), Z16; \
	VMOVDQU32 64(DI), Z17; \
	PREFETCHT0 512(DI); \
	WX_ROWS; \
	ADDQ $4, SI; \
	ADDQ $128, DI; \
	DECQ CX; \
	JNZ loop

// func igemmWX8x32VNNI(kq int, w *int8, ldw int, x *byte, c *int32, ldc int)
TEXT ·igemmWX8x32VNNI(SB), NOSPLIT, $0-48
	MOVQ kq+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), R9
	MOVQ x+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	WX_START

	WX_KLOOP(wxloop)

	WX_STORE(Z0, Z1)
	WX_STORE(Z2, Z3)
	WX_STORE(Z4, Z5)
	WX_STORE(Z6, Z7)
	WX_STORE(Z8, Z9)
	WX_STORE(Z10, Z11)
	WX_STORE(Z12, Z13)
	WX_STORE(Z14, Z15)
	VZEROUPPER
	RET

// func packQuadsAVX2(dst *byte, stride int, r0, r1, r2, r3 *byte, panels int, x byte)
TEXT ·packQuadsAVX2(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	MOVQ r0+16(FP), R8
	MOVQ r1+24(FP), R9
	MOVQ r2+32(FP), R10
	MOVQ r3+40(FP), R11
	MOVQ panels+48(FP), CX
	MOVBLZX x+56(FP), AX
	MOVD AX, X15
	VPBROADCASTB X15, Y15
	XORQ SI, SI

pqloop:
	VPXOR (R8)(SI*1), Y15, Y0
	VPXOR (R9)(SI*1), Y15, Y1
	VPXOR (R10)(SI*1), Y15, Y2
	VPXOR (R11)(SI*1), Y15, Y3
	// Byte pairs (r0, r1) and (r2, r3), then word pairs: quads of columns
	// 0-3 and 16-19 in Y8, 4-7 and 20-23 in Y9, 8-11 and 24-27 in Y10,
	// 12-15 and 28-31 in Y11 (per 128-bit lane).
	VPUNPCKLBW Y1, Y0, Y4
	VPUNPCKHBW Y1, Y0, Y5
	VPUNPCKLBW Y3, Y2, Y6
	VPUNPCKHBW Y3, Y2, Y7
	VPUNPCKLWD Y6, Y4, Y8
	VPUNPCKHWD Y6, Y4, Y9
	VPUNPCKLWD Y7, Y5, Y10
	VPUNPCKHWD Y7, Y5, Y11
	VPERM2I128 $0x20, Y9, Y8, Y12
	VPERM2I128 $0x20, Y11, Y10, Y13
	VPERM2I128 $0x31, Y9, Y8, Y14
	VPERM2I128 $0x31, Y11, Y10, Y4
	VMOVDQU Y12, (DI)
	VMOVDQU Y13, 32(DI)
	VMOVDQU Y14, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ $32, SI
	ADDQ BX, DI
	DECQ CX
	JNZ pqloop
	VZEROUPPER
	RET

// Requantize the 16 sums in z with Z26 add, Z27 scale, Z28 lo, Z29 hi,
// Z30 zero point.
#define WXQ_REQ(z) \
	VPADDD Z26, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Z27, z, z; \
	VMAXPS Z28, z, z; \
	VMINPS Z29, z, z; \
	VCVTPS2DQ.RN_SAE z, z; \
	VPADDD Z30, z, z

// Row i of the tile (its Requant at off(AX)) when i < R14 rows (else jump
// to done): requantize c0, c1 and store their 32 bytes at DX under K2,
// K3; then DX += R8.
#define WXQ_ROW(i, off, c0, c1, done) \
	CMPQ R14, $i; \
	JLE done; \
	VPBROADCASTD off(AX), Z26; \
	VBROADCASTSS (off+4)(AX), Z27; \
	VBROADCASTSS (off+8)(AX), Z28; \
	VBROADCASTSS (off+12)(AX), Z29; \
	VPBROADCASTD (off+16)(AX), Z30; \
	WXQ_REQ(c0); \
	WXQ_REQ(c1); \
	VPMOVDB c0, K2, (DX); \
	VPMOVDB c1, K3, 16(DX); \
	ADDQ R8, DX

// The hard-swish form of WXQ_REQ (hardSwishRequantizeGo): Z18 = 3,
// Z19 = 6, Z21 = 0, Z31 = the output scale, Z22 scratch.
#define WXH_REQ(z) \
	VPADDD Z26, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Z27, z, z; \
	VADDPS Z18, z, Z22; \
	VMAXPS Z21, Z22, Z22; \
	VMINPS Z19, Z22, Z22; \
	VMULPS Z22, z, z; \
	VDIVPS Z19, z, z; \
	VDIVPS Z31, z, z; \
	VMAXPS Z28, z, z; \
	VMINPS Z29, z, z; \
	VCVTPS2DQ.RN_SAE z, z; \
	VPADDD Z30, z, z

#define WXH_ROW(i, off, c0, c1, done) \
	CMPQ R14, $i; \
	JLE done; \
	VPBROADCASTD off(AX), Z26; \
	VBROADCASTSS (off+4)(AX), Z27; \
	VBROADCASTSS (off+8)(AX), Z28; \
	VBROADCASTSS (off+12)(AX), Z29; \
	VPBROADCASTD (off+16)(AX), Z30; \
	WXH_REQ(c0); \
	WXH_REQ(c1); \
	VPMOVDB c0, K2, (DX); \
	VPMOVDB c1, K3, 16(DX); \
	ADDQ R8, DX

// All eight rows of the tile, stopping at done after R14 rows.
#define WXQ_ROWS(done) \
	WXQ_ROW(0, 0, Z0, Z1, done); \
	WXQ_ROW(1, 20, Z2, Z3, done); \
	WXQ_ROW(2, 40, Z4, Z5, done); \
	WXQ_ROW(3, 60, Z6, Z7, done); \
	WXQ_ROW(4, 80, Z8, Z9, done); \
	WXQ_ROW(5, 100, Z10, Z11, done); \
	WXQ_ROW(6, 120, Z12, Z13, done); \
	WXQ_ROW(7, 140, Z14, Z15, done)

#define WXH_ROWS(done) \
	WXH_ROW(0, 0, Z0, Z1, done); \
	WXH_ROW(1, 20, Z2, Z3, done); \
	WXH_ROW(2, 40, Z4, Z5, done); \
	WXH_ROW(3, 60, Z6, Z7, done); \
	WXH_ROW(4, 80, Z8, Z9, done); \
	WXH_ROW(5, 100, Z10, Z11, done); \
	WXH_ROW(6, 120, Z12, Z13, done); \
	WXH_ROW(7, 140, Z14, Z15, done)

// func igemmWXQ8x32VNNI(kq int, w *int8, ldw int, x *byte, out *byte, ldo int, rq *Requant, rows int, mask uint32, yScale float32, hardSwish bool)
TEXT ·igemmWXQ8x32VNNI(SB), NOSPLIT, $0-73
	MOVQ kq+0(FP), CX
	MOVQ w+8(FP), SI
	MOVQ ldw+16(FP), R9
	MOVQ x+24(FP), DI
	MOVQ out+32(FP), DX
	MOVQ ldo+40(FP), R8
	MOVQ rq+48(FP), AX
	MOVQ rows+56(FP), R14
	MOVL mask+64(FP), BX
	KMOVD BX, K2
	KSHIFTRD $16, K2, K3
	WX_START

	WX_KLOOP(wxqloop)

	MOVBLZX hardSwish+72(FP), BX
	TESTQ BX, BX
	JNZ wxqhs
	WXQ_ROWS(wxqdone)
	JMP wxqdone

wxqhs:
	VBROADCASTSS yScale+68(FP), Z31
	MOVL $0x40400000, BX // 3
	VPBROADCASTD BX, Z18
	MOVL $0x40c00000, BX // 6
	VPBROADCASTD BX, Z19
	VPXORD Z21, Z21, Z21
	WXH_ROWS(wxqdone)

wxqdone:
	VZEROUPPER
	RET

// func igemmTapsQ8x32VNNI(ntaps, q int, w *int8, ldw int, x *byte, taps *int, quadStride int, out *byte, ldo int, rq *Requant, rows int, mask uint32)
TEXT ·igemmTapsQ8x32VNNI(SB), NOSPLIT, $0-92
	MOVQ w+16(FP), SI
	MOVQ ldw+24(FP), R9
	MOVQ taps+40(FP), R13
	MOVQ quadStride+48(FP), BX
	WX_START
	MOVQ ntaps+0(FP), R14

tqtap:
	MOVQ x+32(FP), DI
	ADDQ (R13), DI
	ADDQ $8, R13
	MOVQ q+8(FP), CX

tqquad:
	VMOVDQU32 (DI), Z16
	VMOVDQU32 64(DI), Z17
	WX_ROWS
	ADDQ $4, SI
	ADDQ BX, DI
	DECQ CX
	JNZ tqquad
	DECQ R14
	JNZ tqtap

	MOVQ out+56(FP), DX
	MOVQ ldo+64(FP), R8
	MOVQ rq+72(FP), AX
	MOVQ rows+80(FP), R14
	MOVL mask+88(FP), BX
	KMOVD BX, K2
	KSHIFTRD $16, K2, K3
	WXQ_ROWS(tqdone)

tqdone:
	VZEROUPPER
	RET
