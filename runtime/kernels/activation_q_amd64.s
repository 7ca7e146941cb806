//go:build amd64 && !noasm

#include "textflag.h"

// func hardSwishRequantizeAVX512(dst *byte, src *int32, n int, add int32, scale, yScale, lo, hi float32, zp int32)
TEXT ·hardSwishRequantizeAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         add+24(FP), AX
	VPBROADCASTD AX, Z4
	VBROADCASTSS scale+28(FP), Z1
	VBROADCASTSS yScale+32(FP), Z6
	VBROADCASTSS lo+36(FP), Z2
	VBROADCASTSS hi+40(FP), Z3
	MOVL         zp+44(FP), AX
	VPBROADCASTD AX, Z5
	MOVL         $0x40400000, AX // 3
	VPBROADCASTD AX, Z7
	MOVL         $0x40c00000, AX // 6
	VPBROADCASTD AX, Z8
	VPXORD       Z9, Z9, Z9      // 0

hsloop:
	VPADDD           (SI), Z4, Z0
	VCVTDQ2PS        Z0, Z0
	VMULPS           Z1, Z0, Z0
	VADDPS           Z7, Z0, Z10
	VMAXPS           Z9, Z10, Z10
	VMINPS           Z8, Z10, Z10
	VMULPS           Z10, Z0, Z0
	VDIVPS           Z8, Z0, Z0
	VDIVPS           Z6, Z0, Z0
	VMAXPS           Z2, Z0, Z0
	VMINPS           Z3, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD           Z5, Z0, Z0
	VPMOVDB          Z0, (DI)
	ADDQ             $64, SI
	ADDQ             $16, DI
	SUBQ             $16, CX
	JNZ              hsloop
	VZEROUPPER
	RET
