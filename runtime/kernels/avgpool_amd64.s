//go:build amd64 && !noasm

// This file holds the AVX2 average-pooling row kernel; avgpool_amd64.go
// shows the loop it computes.

#include "textflag.h"

// AvgParams offsets.
#define P_BIAS 0
#define P_M 4
#define P_LO 8
#define P_HI 12
#define P_ZY 16
#define P_FLIP 20
#define P_SIGNED 24
#define P_EPS 28

DATA avgAbs<>+0(SB)/4, $0x7fffffff
GLOBL avgAbs<>(SB), RODATA|NOPTR, $4
DATA avgHalf<>+0(SB)/4, $0x3f000000
GLOBL avgHalf<>(SB), RODATA|NOPTR, $4

// REQUANT turns the eight int32 window sums in reg into requantized
// int32 outputs, and sets near to all ones where the value v is within
// Eps (Y7) of a tie: 0.5 (Y11) − |v − round(v)| (Y10: the abs mask) ≤ Eps.
#define REQUANT(reg, near) \
	VPADDD    Y8, reg, reg       \
	VCVTDQ2PS reg, reg           \
	VMULPS    Y9, reg, reg       \
	VROUNDPS  $0, reg, near      \
	VSUBPS    near, reg, near    \
	VANDPS    Y10, near, near    \
	VSUBPS    near, Y11, near    \
	VCMPPS    $2, Y7, near, near \
	VMAXPS    Y12, reg, reg      \
	VMINPS    Y13, reg, reg      \
	VCVTPS2DQ reg, reg           \
	VPADDD    Y14, reg, reg

// func avgPool3S2RowsAVX2(out *byte, outStride int, src *byte, srcStride, rowStride, rows, n, count int, p *AvgParams, flags *byte)
TEXT ·avgPool3S2RowsAVX2(SB), NOSPLIT, $0-80
	MOVQ out+0(FP), DI
	MOVQ outStride+8(FP), R13
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R14
	MOVQ rowStride+32(FP), R9
	MOVQ rows+40(FP), R10
	MOVQ n+48(FP), R11
	MOVQ count+56(FP), R12
	MOVQ p+64(FP), AX

	VPBROADCASTD P_BIAS(AX), Y8
	VBROADCASTSS P_M(AX), Y9
	VBROADCASTSS avgAbs<>(SB), Y10
	VBROADCASTSS avgHalf<>(SB), Y11
	VBROADCASTSS P_LO(AX), Y12
	VBROADCASTSS P_HI(AX), Y13
	VPBROADCASTD P_ZY(AX), Y14
	VPBROADCASTD P_FLIP(AX), Y15
	MOVL         P_SIGNED(AX), BX

outrow:
	XORQ DX, DX                 // j: the block's first output

block:
	VPCMPEQW Y7, Y7, Y7
	VPSRLW   $8, Y7, Y7         // 0x00FF in every word
	LEAQ (SI)(DX*2), R8         // src + 2j
	MOVQ R10, CX
	VPXOR Y0, Y0, Y0            // columns 2j (even bytes at 2j)
	VPXOR Y1, Y1, Y1            // columns 2j+1 (low bytes at 2j+1)
	VPXOR Y2, Y2, Y2            // columns 2j+2 (high bytes at 2j+1)

rowloop:
	VMOVDQU (R8), Y3
	VPXOR   Y15, Y3, Y3
	VMOVDQU 1(R8), Y4
	VPXOR   Y15, Y4, Y4
	VPAND   Y7, Y3, Y5
	VPADDW  Y5, Y0, Y0
	VPAND   Y7, Y4, Y5
	VPADDW  Y5, Y1, Y1
	VPSRLW  $8, Y4, Y4
	VPADDW  Y4, Y2, Y2
	ADDQ    R9, R8
	DECQ    CX
	JNZ     rowloop

	VPADDW       Y1, Y0, Y0
	VPADDW       Y2, Y0, Y0     // 16 window sums, in order
	VPMOVZXWD    X0, Y3         // sums 0..7
	VEXTRACTI128 $1, Y0, X4
	VPMOVZXWD    X4, Y4         // sums 8..15
	VBROADCASTSS P_EPS(AX), Y7  // the byte mask is reloaded per block
	REQUANT(Y3, Y1)
	REQUANT(Y4, Y2)
	// The near-tie masks, packed to 16 flag bytes in order.
	VPACKSSDW    Y2, Y1, Y1
	VPERMQ       $0xD8, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPACKSSWB    X2, X1, X1
	MOVQ         flags+72(FP), CX
	ADDQ         DI, CX
	SUBQ         out+0(FP), CX
	VMOVDQU      X1, (CX)(DX*1)
	VPACKSSDW    Y4, Y3, Y5     // per lane: 4 of Y3, 4 of Y4
	VPERMQ       $0xD8, Y5, Y5  // 16 words in order
	VEXTRACTI128 $1, Y5, X6
	TESTL        BX, BX
	JNZ          signedpack
	VPACKUSWB    X6, X5, X5
	JMP          store

signedpack:
	VPACKSSWB X6, X5, X5

store:
	VMOVDQU X5, (DI)(DX*1)
	ADDQ    $16, DX
	LEAQ    16(DX), CX
	CMPQ    CX, R11
	JLE     block
	CMPQ    DX, R11
	JGE     nextrow
	// One last block of 16 ending at the last output, overlapping
	// outputs already written (the same values are written again).
	MOVQ R11, DX
	SUBQ $16, DX
	JMP  block

nextrow:
	ADDQ R13, DI
	ADDQ R14, SI
	DECQ R12
	JNZ  outrow

done:
	VZEROUPPER
	RET
