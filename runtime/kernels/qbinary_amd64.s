//go:build amd64 && !noasm

#include "textflag.h"

// func qLinearBinaryAVX512(dst, a, b *byte, n int, p *qbinaryArgs)
TEXT ·qLinearBinaryAVX512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVQ         p+32(FP), AX
	VPBROADCASTD 0(AX), Z10  // za
	VPBROADCASTD 4(AX), Z11  // zb
	VBROADCASTSS 8(AX), Z12  // sa
	VBROADCASTSS 12(AX), Z13 // sb
	VBROADCASTSS 16(AX), Z14 // sc
	VBROADCASTSS 20(AX), Z15 // lo
	VBROADCASTSS 24(AX), Z16 // hi
	VPBROADCASTD 28(AX), Z17 // zc
	VPBROADCASTB 32(AX), X18 // flip
	MOVL         36(AX), BX  // mul

qbloop:
	VPXORD           (SI), X18, X0
	VPXORD           (DX), X18, X1
	VPMOVZXBD        X0, Z0
	VPMOVZXBD        X1, Z1
	VPSUBD           Z10, Z0, Z0
	VPSUBD           Z11, Z1, Z1
	VCVTDQ2PS        Z0, Z0
	VCVTDQ2PS        Z1, Z1
	VMULPS           Z12, Z0, Z0
	VMULPS           Z13, Z1, Z1
	TESTL            BX, BX
	JNZ              qbmul
	VADDPS           Z1, Z0, Z0
	JMP              qbquant

qbmul:
	VMULPS           Z1, Z0, Z0

qbquant:
	VDIVPS           Z14, Z0, Z0
	VMAXPS           Z15, Z0, Z0
	VMINPS           Z16, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD           Z17, Z0, Z0
	VPMOVDB          Z0, (DI)
	ADDQ             $16, SI
	ADDQ             $16, DX
	ADDQ             $16, DI
	SUBQ             $16, CX
	JNZ              qbloop
	VZEROUPPER
	RET
