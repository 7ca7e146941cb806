//go:build amd64 && !noasm

// This file holds the INT8 GEMM microkernels for AVX-512 VNNI and AVX2;
// igemm_amd64.go documents the loop each one computes.

#include "textflag.h"

// One row of the VNNI tile: broadcast 4 bytes of A (row at aoff) into t and
// add their products with the 32 columns in b0, b1 to c0, c1.
#define VNNI_ROW(aoff, t, b0, b1, c0, c1) \
	VPBROADCASTD aoff(SI), t; \
	VPDPBUSD b0, t, c0; \
	VPDPBUSD b1, t, c1

// One group of 4 depth steps of the 8×32 tile: B at boff0, boff1 (two
// halves of 16 columns), A rows at aoff..aoff+28.
#define VNNI_GROUP(boff0, boff1, b0, b1, aoff0, aoff1, aoff2, aoff3, aoff4, aoff5, aoff6, aoff7) \
	VMOVDQU32 boff0(DI), b0; \
	VMOVDQU32 boff1(DI), b1; \
	VNNI_ROW(aoff0, Z20, b0, b1, Z0, Z1); \
	VNNI_ROW(aoff1, Z21, b0, b1, Z2, Z3); \
	VNNI_ROW(aoff2, Z22, b0, b1, Z4, Z5); \
	VNNI_ROW(aoff3, Z23, b0, b1, Z6, Z7); \
	VNNI_ROW(aoff4, Z24, b0, b1, Z8, Z9); \
	VNNI_ROW(aoff5, Z25, b0, b1, Z10, Z11); \
	VNNI_ROW(aoff6, Z26, b0, b1, Z12, Z13); \
	VNNI_ROW(aoff7, Z27, b0, b1, Z14, Z15)

// Store two accumulators as one row of 32 int32 at DX, adding C first
// when AX is not zero, then advance DX by R8.
#define VNNI_STORE_ADD(c0, c1) \
	VPADDD (DX), c0, c0; \
	VPADDD 64(DX), c1, c1; \
	VMOVDQU32 c0, (DX); \
	VMOVDQU32 c1, 64(DX); \
	ADDQ R8, DX

#define VNNI_STORE(c0, c1) \
	VMOVDQU32 c0, (DX); \
	VMOVDQU32 c1, 64(DX); \
	ADDQ R8, DX

// func igemmKernel8x32VNNI(kg int, a *byte, b *int8, c *int32, ldc int, add bool)
TEXT ·igemmKernel8x32VNNI(SB), NOSPLIT, $0-41
	MOVQ kg+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	MOVQ CX, BX
	SHRQ $2, BX
	JZ vnnitail

vnniloop4:
	PREFETCHT0 512(DI)
	PREFETCHT0 576(DI)
	VNNI_GROUP(0, 64, Z16, Z17, 0, 4, 8, 12, 16, 20, 24, 28)
	PREFETCHT0 640(DI)
	PREFETCHT0 704(DI)
	VNNI_GROUP(128, 192, Z18, Z19, 32, 36, 40, 44, 48, 52, 56, 60)
	PREFETCHT0 768(DI)
	PREFETCHT0 832(DI)
	VNNI_GROUP(256, 320, Z16, Z17, 64, 68, 72, 76, 80, 84, 88, 92)
	PREFETCHT0 896(DI)
	PREFETCHT0 960(DI)
	VNNI_GROUP(384, 448, Z18, Z19, 96, 100, 104, 108, 112, 116, 120, 124)
	ADDQ $128, SI
	ADDQ $512, DI
	DECQ BX
	JNZ vnniloop4

vnnitail:
	ANDQ $3, CX
	JZ vnnistore

vnniloop1:
	VNNI_GROUP(0, 64, Z16, Z17, 0, 4, 8, 12, 16, 20, 24, 28)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNZ vnniloop1

vnnistore:
	MOVBLZX add+40(FP), AX
	TESTQ AX, AX
	JZ vnniwrite
	VNNI_STORE_ADD(Z0, Z1)
	VNNI_STORE_ADD(Z2, Z3)
	VNNI_STORE_ADD(Z4, Z5)
	VNNI_STORE_ADD(Z6, Z7)
	VNNI_STORE_ADD(Z8, Z9)
	VNNI_STORE_ADD(Z10, Z11)
	VNNI_STORE_ADD(Z12, Z13)
	VNNI_STORE_ADD(Z14, Z15)
	VZEROUPPER
	RET

vnniwrite:
	VNNI_STORE(Z0, Z1)
	VNNI_STORE(Z2, Z3)
	VNNI_STORE(Z4, Z5)
	VNNI_STORE(Z6, Z7)
	VNNI_STORE(Z8, Z9)
	VNNI_STORE(Z10, Z11)
	VNNI_STORE(Z12, Z13)
	VNNI_STORE(Z14, Z15)
	VZEROUPPER
	RET

// One row of the AVX2 tile: broadcast the 4 uint16 of A at aoff into Y14,
// multiply with the widened B in Y12 (columns 0-3) and Y13 (columns 4-7),
// summing pairs into int32, and add to c0, c1.
#define AVX2_ROW(aoff, c0, c1) \
	VPBROADCASTQ aoff(SI), Y14; \
	VPMADDWD Y12, Y14, Y15; \
	VPADDD Y15, c0, c0; \
	VPMADDWD Y13, Y14, Y15; \
	VPADDD Y15, c1, c1

// One group of 4 depth steps: 32 bytes of B at boff, 6 rows of A from aoff
// (8 bytes each).
#define AVX2_GROUP(boff, aoff0, aoff1, aoff2, aoff3, aoff4, aoff5) \
	VPMOVSXBW boff(DI), Y12; \
	VPMOVSXBW boff+16(DI), Y13; \
	AVX2_ROW(aoff0, Y0, Y1); \
	AVX2_ROW(aoff1, Y2, Y3); \
	AVX2_ROW(aoff2, Y4, Y5); \
	AVX2_ROW(aoff3, Y6, Y7); \
	AVX2_ROW(aoff4, Y8, Y9); \
	AVX2_ROW(aoff5, Y10, Y11)

// Reduce the pair sums of c0 (columns 0-3) and c1 (columns 4-7) to one row
// of 8 int32 in c0, add C when AX is not zero, store it at DX and advance
// DX by R8.
#define AVX2_STORE(c0, c1) \
	VPHADDD c1, c0, c0; \
	VPERMQ $0xd8, c0, c0; \
	TESTQ AX, AX; \
	JZ 2(PC); \
	VPADDD (DX), c0, c0; \
	VMOVDQU c0, (DX); \
	ADDQ R8, DX

// func igemmKernel6x8AVX2(kg int, a *byte, b *int8, c *int32, ldc int, add bool)
TEXT ·igemmKernel6x8AVX2(SB), NOSPLIT, $0-41
	MOVQ kg+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	MOVQ CX, BX
	SHRQ $1, BX
	JZ avx2tail

avx2loop2:
	PREFETCHT0 256(DI)
	AVX2_GROUP(0, 0, 8, 16, 24, 32, 40)
	AVX2_GROUP(32, 48, 56, 64, 72, 80, 88)
	ADDQ $96, SI
	ADDQ $64, DI
	DECQ BX
	JNZ avx2loop2

avx2tail:
	ANDQ $1, CX
	JZ avx2store
	AVX2_GROUP(0, 0, 8, 16, 24, 32, 40)

avx2store:
	MOVBLZX add+40(FP), AX
	AVX2_STORE(Y0, Y1)
	AVX2_STORE(Y2, Y3)
	AVX2_STORE(Y4, Y5)
	AVX2_STORE(Y6, Y7)
	AVX2_STORE(Y8, Y9)
	AVX2_STORE(Y10, Y11)
	VZEROUPPER
	RET
