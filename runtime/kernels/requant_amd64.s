//go:build amd64 && !noasm

#include "textflag.h"

// The arguments of requantizeAVX2 and requantizeSumsAVX2 (the same
// frame): DI dst, SI src, CX n, Y4 add, Y1 scale, Y2 lo, Y3 hi, Y5 zp,
// Y7 0xFF in every dword.
#define REQ8_ARGS \
	MOVQ         dst+0(FP), DI; \
	MOVQ         src+8(FP), SI; \
	MOVQ         n+16(FP), CX; \
	MOVL         add+24(FP), AX; \
	MOVQ         AX, X4; \
	VPBROADCASTD X4, Y4; \
	VBROADCASTSS scale+28(FP), Y1; \
	VBROADCASTSS lo+32(FP), Y2; \
	VBROADCASTSS hi+36(FP), Y3; \
	MOVL         zp+40(FP), AX; \
	MOVQ         AX, X5; \
	VPBROADCASTD X5, Y5; \
	VPCMPEQD     Y7, Y7, Y7; \
	VPSRLD       $24, Y7, Y7

// Requantize the eight int32 sums in Y0 and store their bytes at DI.
#define REQ8_STORE \
	VPADDD      Y4, Y0, Y0; \
	VCVTDQ2PS   Y0, Y0; \
	VMULPS      Y1, Y0, Y0; \
	VMAXPS      Y2, Y0, Y0; \
	VMINPS      Y3, Y0, Y0; \
	VROUNDPS    $0, Y0, Y0; \
	VCVTTPS2DQ  Y0, Y0; \
	VPADDD      Y5, Y0, Y0; \
	VPAND       Y7, Y0, Y0; \
	VPACKUSDW   Y0, Y0, Y0; \
	VPACKUSWB   Y0, Y0, Y0; \
	VEXTRACTI128 $1, Y0, X6; \
	VPUNPCKLDQ  X6, X0, X0; \
	MOVQ        X0, (DI)

// func requantizeAVX2(dst *byte, src *int32, n int, add int32, scale, lo, hi float32, zp int32)
TEXT ·requantizeAVX2(SB), NOSPLIT, $0-44
	REQ8_ARGS

loop8:
	CMPQ        CX, $8
	JLT         done
	VMOVDQU     (SI), Y0
	REQ8_STORE
	ADDQ        $32, SI
	ADDQ        $8, DI
	SUBQ        $8, CX
	JMP         loop8

done:
	VZEROUPPER
	RET

// func requantizeSumsAVX2(dst *byte, src *float32, n int, add int32, scale, lo, hi float32, zp int32)
TEXT ·requantizeSumsAVX2(SB), NOSPLIT, $0-44
	REQ8_ARGS

sloop8:
	CMPQ        CX, $8
	JLT         sdone
	VMOVUPS     (SI), Y0
	VCVTTPS2DQ  Y0, Y0
	REQ8_STORE
	ADDQ        $32, SI
	ADDQ        $8, DI
	SUBQ        $8, CX
	JMP         sloop8

sdone:
	VZEROUPPER
	RET

// func widenBytesAVX2(dst *float32, src *byte, n int, sub float32, signed bool)
TEXT ·widenBytesAVX2(SB), NOSPLIT, $0-29
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS sub+24(FP), Y1
	MOVBLZX      signed+28(FP), AX
	TESTQ        AX, AX
	JNZ          sloop

uloop:
	CMPQ      CX, $8
	JLT       wdone
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VSUBPS    Y1, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       uloop

sloop:
	CMPQ      CX, $8
	JLT       wdone
	VPMOVSXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VSUBPS    Y1, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       sloop

wdone:
	VZEROUPPER
	RET

// func requantizeAVX512(dst *byte, src *int32, n int, add int32, scale, lo, hi float32, zp int32)
TEXT ·requantizeAVX512(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         add+24(FP), AX
	VPBROADCASTD AX, Z4
	VBROADCASTSS scale+28(FP), Z1
	VBROADCASTSS lo+32(FP), Z2
	VBROADCASTSS hi+36(FP), Z3
	MOVL         zp+40(FP), AX
	VPBROADCASTD AX, Z5

r512loop32:
	CMPQ            CX, $32
	JLT             r512loop16
	VPADDD          (SI), Z4, Z0
	VPADDD          64(SI), Z4, Z6
	VCVTDQ2PS       Z0, Z0
	VCVTDQ2PS       Z6, Z6
	VMULPS          Z1, Z0, Z0
	VMULPS          Z1, Z6, Z6
	VMAXPS          Z2, Z0, Z0
	VMAXPS          Z2, Z6, Z6
	VMINPS          Z3, Z0, Z0
	VMINPS          Z3, Z6, Z6
	VCVTPS2DQ.RN_SAE Z0, Z0
	VCVTPS2DQ.RN_SAE Z6, Z6
	VPADDD          Z5, Z0, Z0
	VPADDD          Z5, Z6, Z6
	VPMOVDB         Z0, (DI)
	VPMOVDB         Z6, 16(DI)
	ADDQ            $128, SI
	ADDQ            $32, DI
	SUBQ            $32, CX
	JMP             r512loop32

r512loop16:
	CMPQ            CX, $16
	JLT             r512done
	VPADDD          (SI), Z4, Z0
	VCVTDQ2PS       Z0, Z0
	VMULPS          Z1, Z0, Z0
	VMAXPS          Z2, Z0, Z0
	VMINPS          Z3, Z0, Z0
	VCVTPS2DQ.RN_SAE Z0, Z0
	VPADDD          Z5, Z0, Z0
	VPMOVDB         Z0, (DI)
	ADDQ            $64, SI
	ADDQ            $16, DI
	SUBQ            $16, CX
	JMP             r512loop16

r512done:
	VZEROUPPER
	RET

// func scaleSumsAVX512(dst *float32, src *int32, n int, add int32, scale float32)
TEXT ·scaleSumsAVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         add+24(FP), AX
	VPBROADCASTD AX, Z4
	VBROADCASTSS scale+28(FP), Z1

ssloop:
	VPADDD    (SI), Z4, Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       ssloop
	VZEROUPPER
	RET
