//go:build amd64 && !noasm

// This file holds the INT8 GEMM microkernels for AVX-512 VNNI and AVX2;
// igemm_amd64.go documents the loop each one computes.

#include "textflag.h"

// One row of the VNNI tile: broadcast 4 bytes of A (at mem) into t, xored
// with Z28 (0x80 bytes to read int8 A plus 128, or zeros), and add their
// products with the 32 columns in b0, b1 to c0, c1.
#define VNNI_ROW(mem, t, b0, b1, c0, c1) \
	VPXORD.BCST mem, Z28, t; \
	VPDPBUSD b0, t, c0; \
	VPDPBUSD b1, t, c1

// One group of 4 depth steps of the 8×32 tile: B at boff0, boff1 (two
// halves of 16 columns) into b0, b1; row i of A at d(SI) + i·lda, with
// R9 = lda, R10 = 3·lda, R11 = 5·lda, R12 = 7·lda.
#define VNNI_GROUP(boff0, boff1, b0, b1, d) \
	VMOVDQU32 boff0(DI), b0; \
	VMOVDQU32 boff1(DI), b1; \
	VNNI_ROW(d(SI), Z20, b0, b1, Z0, Z1); \
	VNNI_ROW(d(SI)(R9*1), Z21, b0, b1, Z2, Z3); \
	VNNI_ROW(d(SI)(R9*2), Z22, b0, b1, Z4, Z5); \
	VNNI_ROW(d(SI)(R10*1), Z23, b0, b1, Z6, Z7); \
	VNNI_ROW(d(SI)(R9*4), Z24, b0, b1, Z8, Z9); \
	VNNI_ROW(d(SI)(R11*1), Z25, b0, b1, Z10, Z11); \
	VNNI_ROW(d(SI)(R10*2), Z26, b0, b1, Z12, Z13); \
	VNNI_ROW(d(SI)(R12*1), Z27, b0, b1, Z14, Z15)

// Store two accumulators as one row of 32 int32 at DX, adding C first,
// then advance DX by R8.
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

// func igemmKernel8x32VNNI(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)
TEXT ·igemmKernel8x32VNNI(SB), NOSPLIT, $0-58
	MOVQ kg+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ b+24(FP), DI
	MOVQ init+32(FP), AX
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	LEAQ (R10)(R9*4), R12
	VPXORD Z28, Z28, Z28
	MOVBLZX flip+57(FP), BX
	TESTQ BX, BX
	JZ vnninoflip
	MOVL $0x80808080, BX
	VPBROADCASTD BX, Z28

vnninoflip:
	VMOVDQU32 (AX), Z0
	VMOVDQU32 64(AX), Z1
	VMOVDQA32 Z0, Z2
	VMOVDQA32 Z1, Z3
	VMOVDQA32 Z0, Z4
	VMOVDQA32 Z1, Z5
	VMOVDQA32 Z0, Z6
	VMOVDQA32 Z1, Z7
	VMOVDQA32 Z0, Z8
	VMOVDQA32 Z1, Z9
	VMOVDQA32 Z0, Z10
	VMOVDQA32 Z1, Z11
	VMOVDQA32 Z0, Z12
	VMOVDQA32 Z1, Z13
	VMOVDQA32 Z0, Z14
	VMOVDQA32 Z1, Z15
	MOVQ CX, BX
	SHRQ $2, BX
	JZ vnnitail

vnniloop4:
	PREFETCHT0 512(DI)
	PREFETCHT0 576(DI)
	VNNI_GROUP(0, 64, Z16, Z17, 0)
	PREFETCHT0 640(DI)
	PREFETCHT0 704(DI)
	VNNI_GROUP(128, 192, Z18, Z19, 4)
	PREFETCHT0 768(DI)
	PREFETCHT0 832(DI)
	VNNI_GROUP(256, 320, Z16, Z17, 8)
	PREFETCHT0 896(DI)
	PREFETCHT0 960(DI)
	VNNI_GROUP(384, 448, Z18, Z19, 12)
	ADDQ $16, SI
	ADDQ $512, DI
	DECQ BX
	JNZ vnniloop4

vnnitail:
	ANDQ $3, CX
	JZ vnnistore

vnniloop1:
	VNNI_GROUP(0, 64, Z16, Z17, 0)
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ vnniloop1

vnnistore:
	MOVBLZX add+56(FP), AX
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

// One group of 4 depth steps of the 16×16 tile: 16 columns of B at boff
// into b; row i of A at d(SI) + i·lda for i < 8 and d(R13) + (i-8)·lda
// after, with R9 = lda, R10 = 3·lda, R11 = 5·lda, R12 = 7·lda.
#define VNNI16_ROW(mem, t, b, c) \
	VPXORD.BCST mem, Z28, t; \
	VPDPBUSD b, t, c

#define VNNI16_GROUP(boff, b, d) \
	VMOVDQU32 boff(DI), b; \
	VNNI16_ROW(d(SI), Z20, b, Z0); \
	VNNI16_ROW(d(SI)(R9*1), Z21, b, Z1); \
	VNNI16_ROW(d(SI)(R9*2), Z22, b, Z2); \
	VNNI16_ROW(d(SI)(R10*1), Z23, b, Z3); \
	VNNI16_ROW(d(SI)(R9*4), Z24, b, Z4); \
	VNNI16_ROW(d(SI)(R11*1), Z25, b, Z5); \
	VNNI16_ROW(d(SI)(R10*2), Z26, b, Z6); \
	VNNI16_ROW(d(SI)(R12*1), Z27, b, Z7); \
	VNNI16_ROW(d(R13), Z20, b, Z8); \
	VNNI16_ROW(d(R13)(R9*1), Z21, b, Z9); \
	VNNI16_ROW(d(R13)(R9*2), Z22, b, Z10); \
	VNNI16_ROW(d(R13)(R10*1), Z23, b, Z11); \
	VNNI16_ROW(d(R13)(R9*4), Z24, b, Z12); \
	VNNI16_ROW(d(R13)(R11*1), Z25, b, Z13); \
	VNNI16_ROW(d(R13)(R10*2), Z26, b, Z14); \
	VNNI16_ROW(d(R13)(R12*1), Z27, b, Z15)

// Store one accumulator as one row of 16 int32 at DX, adding C first when
// AX is not zero, then advance DX by R8.
#define VNNI16_STORE(c) \
	TESTQ AX, AX; \
	JZ 2(PC); \
	VPADDD (DX), c, c; \
	VMOVDQU32 c, (DX); \
	ADDQ R8, DX

// func igemmKernel16x16VNNI(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)
TEXT ·igemmKernel16x16VNNI(SB), NOSPLIT, $0-58
	MOVQ kg+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ b+24(FP), DI
	MOVQ init+32(FP), AX
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	LEAQ (R10)(R9*4), R12
	LEAQ (SI)(R9*8), R13
	VPXORD Z28, Z28, Z28
	MOVBLZX flip+57(FP), BX
	TESTQ BX, BX
	JZ vnni16noflip
	MOVL $0x80808080, BX
	VPBROADCASTD BX, Z28

vnni16noflip:
	VMOVDQU32 (AX), Z0
	VMOVDQA32 Z0, Z1
	VMOVDQA32 Z0, Z2
	VMOVDQA32 Z0, Z3
	VMOVDQA32 Z0, Z4
	VMOVDQA32 Z0, Z5
	VMOVDQA32 Z0, Z6
	VMOVDQA32 Z0, Z7
	VMOVDQA32 Z0, Z8
	VMOVDQA32 Z0, Z9
	VMOVDQA32 Z0, Z10
	VMOVDQA32 Z0, Z11
	VMOVDQA32 Z0, Z12
	VMOVDQA32 Z0, Z13
	VMOVDQA32 Z0, Z14
	VMOVDQA32 Z0, Z15
	MOVQ CX, BX
	SHRQ $2, BX
	JZ vnni16tail

vnni16loop4:
	PREFETCHT0 512(DI)
	VNNI16_GROUP(0, Z16, 0)
	VNNI16_GROUP(64, Z17, 4)
	PREFETCHT0 576(DI)
	VNNI16_GROUP(128, Z16, 8)
	VNNI16_GROUP(192, Z17, 12)
	ADDQ $16, SI
	ADDQ $16, R13
	ADDQ $256, DI
	DECQ BX
	JNZ vnni16loop4

vnni16tail:
	ANDQ $3, CX
	JZ vnni16store

vnni16loop1:
	VNNI16_GROUP(0, Z16, 0)
	ADDQ $4, SI
	ADDQ $4, R13
	ADDQ $64, DI
	DECQ CX
	JNZ vnni16loop1

vnni16store:
	MOVBLZX add+56(FP), AX
	VNNI16_STORE(Z0)
	VNNI16_STORE(Z1)
	VNNI16_STORE(Z2)
	VNNI16_STORE(Z3)
	VNNI16_STORE(Z4)
	VNNI16_STORE(Z5)
	VNNI16_STORE(Z6)
	VNNI16_STORE(Z7)
	VNNI16_STORE(Z8)
	VNNI16_STORE(Z9)
	VNNI16_STORE(Z10)
	VNNI16_STORE(Z11)
	VNNI16_STORE(Z12)
	VNNI16_STORE(Z13)
	VNNI16_STORE(Z14)
	VNNI16_STORE(Z15)
	VZEROUPPER
	RET

// One row of the AVX2 tile: broadcast 4 bytes of A (at mem), widen them to
// int16 in Y14, multiply with the widened B in Y12 (columns 0-3) and Y13
// (columns 4-7), summing pairs into int32, and add to c0, c1.
#define AVX2_ROW(mem, c0, c1) \
	VPBROADCASTD mem, X14; \
	VPMOVZXBW X14, Y14; \
	VPMADDWD Y12, Y14, Y15; \
	VPADDD Y15, c0, c0; \
	VPMADDWD Y13, Y14, Y15; \
	VPADDD Y15, c1, c1

// AVX2_ROW for int8 A: the broadcast bytes are xored with 0x80 (the 16
// bytes at R13) first, which reads A plus 128.
#define AVX2_ROWX(mem, c0, c1) \
	VPBROADCASTD mem, X14; \
	VPXOR (R13), X14, X14; \
	VPMOVZXBW X14, Y14; \
	VPMADDWD Y12, Y14, Y15; \
	VPADDD Y15, c0, c0; \
	VPMADDWD Y13, Y14, Y15; \
	VPADDD Y15, c1, c1

// One group of 4 depth steps: 32 bytes of B at boff and boff16, row i of A
// at d(SI) + i·lda, with R9 = lda, R10 = 3·lda, R11 = 5·lda.
#define AVX2_GROUP(boff, boff16, d) \
	VPMOVSXBW boff(DI), Y12; \
	VPMOVSXBW boff16(DI), Y13; \
	AVX2_ROW(d(SI), Y0, Y1); \
	AVX2_ROW(d(SI)(R9*1), Y2, Y3); \
	AVX2_ROW(d(SI)(R9*2), Y4, Y5); \
	AVX2_ROW(d(SI)(R10*1), Y6, Y7); \
	AVX2_ROW(d(SI)(R9*4), Y8, Y9); \
	AVX2_ROW(d(SI)(R11*1), Y10, Y11)

#define AVX2_GROUPX(boff, boff16, d) \
	VPMOVSXBW boff(DI), Y12; \
	VPMOVSXBW boff16(DI), Y13; \
	AVX2_ROWX(d(SI), Y0, Y1); \
	AVX2_ROWX(d(SI)(R9*1), Y2, Y3); \
	AVX2_ROWX(d(SI)(R9*2), Y4, Y5); \
	AVX2_ROWX(d(SI)(R10*1), Y6, Y7); \
	AVX2_ROWX(d(SI)(R9*4), Y8, Y9); \
	AVX2_ROWX(d(SI)(R11*1), Y10, Y11)

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

DATA igemmFlip<>+0(SB)/8, $0x8080808080808080
DATA igemmFlip<>+8(SB)/8, $0x8080808080808080
GLOBL igemmFlip<>(SB), RODATA|NOPTR, $16

// func igemmKernel6x8AVX2(kg int, a *byte, lda int, b *int8, init, c *int32, ldc int, add, flip bool)
TEXT ·igemmKernel6x8AVX2(SB), NOSPLIT, $0-58
	MOVQ kg+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ b+24(FP), DI
	MOVQ init+32(FP), AX
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	LEAQ igemmFlip<>(SB), R13
	// Row sums are pairs of lanes: init[j] goes to the first of pair j.
	VPMOVZXDQ (AX), Y0
	VPMOVZXDQ 16(AX), Y1
	VMOVDQA Y0, Y2
	VMOVDQA Y1, Y3
	VMOVDQA Y0, Y4
	VMOVDQA Y1, Y5
	VMOVDQA Y0, Y6
	VMOVDQA Y1, Y7
	VMOVDQA Y0, Y8
	VMOVDQA Y1, Y9
	VMOVDQA Y0, Y10
	VMOVDQA Y1, Y11
	MOVBLZX flip+57(FP), AX
	MOVQ CX, BX
	SHRQ $1, BX
	TESTQ AX, AX
	JNZ avx2xstart
	TESTQ BX, BX
	JZ avx2tail

avx2loop2:
	PREFETCHT0 256(DI)
	AVX2_GROUP(0, 16, 0)
	AVX2_GROUP(32, 48, 4)
	ADDQ $8, SI
	ADDQ $64, DI
	DECQ BX
	JNZ avx2loop2

avx2tail:
	ANDQ $1, CX
	JZ avx2store
	AVX2_GROUP(0, 16, 0)
	JMP avx2store

avx2xstart:
	TESTQ BX, BX
	JZ avx2xtail

avx2xloop2:
	PREFETCHT0 256(DI)
	AVX2_GROUPX(0, 16, 0)
	AVX2_GROUPX(32, 48, 4)
	ADDQ $8, SI
	ADDQ $64, DI
	DECQ BX
	JNZ avx2xloop2

avx2xtail:
	ANDQ $1, CX
	JZ avx2store
	AVX2_GROUPX(0, 16, 0)

avx2store:
	MOVBLZX add+56(FP), AX
	AVX2_STORE(Y0, Y1)
	AVX2_STORE(Y2, Y3)
	AVX2_STORE(Y4, Y5)
	AVX2_STORE(Y6, Y7)
	AVX2_STORE(Y8, Y9)
	AVX2_STORE(Y10, Y11)
	VZEROUPPER
	RET

// func sumBytesAVX2(p *byte, n int, flip uint64) uint64
TEXT ·sumBytesAVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPBROADCASTQ flip+16(FP), Y3
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	SHRQ $5, CX

sumloop:
	VPXOR (SI), Y3, Y4
	VPSADBW Y2, Y4, Y4
	VPADDQ Y4, Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ sumloop
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET
