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
	VBROADCASTSS 8(AX), Z12  // rA
	VBROADCASTSS 12(AX), Z13 // rB
	VBROADCASTSS 16(AX), Z14 // fixed
	VBROADCASTSS 20(AX), Z19 // r
	VBROADCASTSS 24(AX), Z15 // lo
	VBROADCASTSS 28(AX), Z16 // hi
	VBROADCASTSS 32(AX), Z17 // zc
	MOVL         36(AX), R8  // signed
	MOVL         40(AX), BX  // mul

qbloop:
	TESTL     R8, R8
	JNZ       qbsigned
	VPMOVZXBD (SI), Z0
	VPMOVZXBD (DX), Z1
	JMP       qbcodes

qbsigned:
	VPMOVSXBD (SI), Z0
	VPMOVSXBD (DX), Z1

qbcodes:
	TESTL BX, BX
	JNZ   qbmul

	// Add: fma(a, rA, fma(b, rB, fixed)).
	VCVTDQ2PS    Z0, Z0
	VCVTDQ2PS    Z1, Z1
	VMOVAPS      Z14, Z2
	VFMADD231PS  Z13, Z1, Z2
	VFMADD231PS  Z12, Z0, Z2
	JMP          qbquant

qbmul:
	// Mul: float32((a-za)*(b-zb))*r + zc, two roundings.
	VPSUBD    Z10, Z0, Z0
	VPSUBD    Z11, Z1, Z1
	VPMULLD   Z1, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z19, Z0, Z2
	VADDPS    Z17, Z2, Z2

qbquant:
	VMAXPS           Z15, Z2, Z2
	VMINPS           Z16, Z2, Z2
	VCVTPS2DQ.RN_SAE Z2, Z2
	VPMOVDB          Z2, (DI)
	ADDQ             $16, SI
	ADDQ             $16, DX
	ADDQ             $16, DI
	SUBQ             $16, CX
	JNZ              qbloop
	VZEROUPPER
	RET
