//go:build amd64 && !noasm

// This file holds the AVX2 byte row loops; bytes_amd64.go shows the loop
// each computes.

#include "textflag.h"

// MAXLOOP computes dst = max(a, b) (the instruction max) on CX ≥ 16 bytes
// at DI, SI, DX: 32 bytes a step, then one last 32- or 16-byte block that
// ends at the last byte and may overlap bytes already done (max is
// idempotent, so this is right also when dst is a or b).
#define MAXLOOP(max, l16, l32, ldone) \
	CMPQ    CX, $32          \
	JLT     l16          \
l32:                     \
	VMOVDQU (SI), Y0         \
	max     (DX), Y0, Y0     \
	VMOVDQU Y0, (DI)         \
	ADDQ    $32, SI          \
	ADDQ    $32, DX          \
	ADDQ    $32, DI          \
	SUBQ    $32, CX          \
	CMPQ    CX, $32          \
	JGE     l32          \
	TESTQ   CX, CX           \
	JZ      ldone        \
	SUBQ    $32, CX          \
	ADDQ    CX, SI           \
	ADDQ    CX, DX           \
	ADDQ    CX, DI           \
	VMOVDQU (SI), Y0         \
	max     (DX), Y0, Y0     \
	VMOVDQU Y0, (DI)         \
	JMP     ldone        \
l16:                     \
	VMOVDQU (SI), X0         \
	max     (DX), X0, X0     \
	VMOVDQU X0, (DI)         \
	SUBQ    $16, CX          \
	ADDQ    CX, SI           \
	ADDQ    CX, DX           \
	ADDQ    CX, DI           \
	VMOVDQU (SI), X0         \
	max     (DX), X0, X0     \
	VMOVDQU X0, (DI)         \
ldone:                   \
	VZEROUPPER               \
	RET

// func maxBytesAVX2(dst, a, b *byte, n int, signed bool)
TEXT ·maxBytesAVX2(SB), NOSPLIT, $0-33
	MOVQ    dst+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    b+16(FP), DX
	MOVQ    n+24(FP), CX
	MOVBLZX signed+32(FP), AX
	TESTQ   AX, AX
	JNZ     signedmax
	MAXLOOP(VPMAXUB, umax16, umax32, umaxdone)

signedmax:
	MAXLOOP(VPMAXSB, smax16, smax32, smaxdone)

// func deinterleaveBytesAVX2(even, odd, src *byte, n int)
TEXT ·deinterleaveBytesAVX2(SB), NOSPLIT, $0-32
	MOVQ     even+0(FP), DI
	MOVQ     odd+8(FP), DX
	MOVQ     src+16(FP), SI
	MOVQ     n+24(FP), CX
	VPCMPEQW Y7, Y7, Y7
	VPSRLW   $8, Y7, Y7 // 0x00FF in every word

dloop:
	VMOVDQU   (SI), Y0
	VMOVDQU   32(SI), Y1
	VPAND     Y7, Y0, Y2   // even bytes of the first 32, one per word
	VPAND     Y7, Y1, Y3
	VPSRLW    $8, Y0, Y0   // odd bytes
	VPSRLW    $8, Y1, Y1
	VPACKUSWB Y3, Y2, Y2   // per lane: 8 even of Y2, 8 even of Y3
	VPACKUSWB Y1, Y0, Y0
	VPERMQ    $0xD8, Y2, Y2
	VPERMQ    $0xD8, Y0, Y0
	VMOVDQU   Y2, (DI)
	VMOVDQU   Y0, (DX)
	ADDQ      $64, SI
	ADDQ      $32, DI
	ADDQ      $32, DX
	SUBQ      $32, CX
	CMPQ      CX, $32
	JGE       dloop
	TESTQ     CX, CX
	JZ        ddone
	// One last block of 32 pairs ending at the last pair, overlapping
	// pairs already split (the same values are written again).
	SUBQ      $32, CX
	ADDQ      CX, DI
	ADDQ      CX, DX
	ADDQ      CX, SI
	ADDQ      CX, SI
	MOVQ      $32, CX
	JMP       dloop

ddone:
	VZEROUPPER
	RET
