//go:build amd64 && !noasm

// This file holds the AVX-512 and AVX2 loops of QuantizeBytes and the
// AVX2 loop of DequantizeBytes; quant_amd64.go shows the loop each
// computes.

#include "textflag.h"

// quantPerm puts the dwords of two VPACKUSDW/VPACKUSWB rounds back in
// element order.
DATA quantPerm<>+0(SB)/4, $0
DATA quantPerm<>+4(SB)/4, $4
DATA quantPerm<>+8(SB)/4, $1
DATA quantPerm<>+12(SB)/4, $5
DATA quantPerm<>+16(SB)/4, $2
DATA quantPerm<>+20(SB)/4, $6
DATA quantPerm<>+24(SB)/4, $3
DATA quantPerm<>+28(SB)/4, $7
GLOBL quantPerm<>(SB), RODATA|NOPTR, $32

// QUANT8 turns the eight floats in r into eight int32 of 0..255 (the
// byte of the quantized value), with the scale in Y1, lo in Y2, hi in Y3,
// the zero point in Y4 and 0xFF dwords in Y7. A NaN quotient becomes lo:
// VMAXPS gives its second source when either is NaN (so does ONNX
// Runtime's quantization, which makes NaN the type's minimum).
#define QUANT8(r) \
	VDIVPS     Y1, r, r     \
	VMAXPS     Y2, r, r     \
	VMINPS     Y3, r, r     \
	VROUNDPS   $0, r, r     \
	VCVTTPS2DQ r, r         \
	VPADDD     Y4, r, r     \
	VPAND      Y7, r, r

// func quantizeBytesAVX2(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)
TEXT ·quantizeBytesAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y1
	VBROADCASTSS lo+28(FP), Y2
	VBROADCASTSS hi+32(FP), Y3
	MOVL         zp+36(FP), AX
	MOVQ         AX, X4
	VPBROADCASTD X4, Y4
	VPCMPEQD     Y7, Y7, Y7
	VPSRLD       $24, Y7, Y7 // 0xFF in every dword
	VMOVDQU      quantPerm<>(SB), Y15

qloop32:
	CMPQ    CX, $32
	JLT     qloop8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	VMOVUPS 64(SI), Y9
	VMOVUPS 96(SI), Y10
	QUANT8(Y0)
	QUANT8(Y8)
	QUANT8(Y9)
	QUANT8(Y10)
	VPACKUSDW Y8, Y0, Y0
	VPACKUSDW Y10, Y9, Y9
	VPACKUSWB Y9, Y0, Y0
	VPERMD    Y0, Y15, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $128, SI
	ADDQ      $32, DI
	SUBQ      $32, CX
	JMP       qloop32

qloop8:
	CMPQ         CX, $8
	JLT          qdone
	VMOVUPS      (SI), Y0
	QUANT8(Y0)
	VPACKUSDW    Y0, Y0, Y0
	VPACKUSWB    Y0, Y0, Y0
	VEXTRACTI128 $1, Y0, X6
	VPUNPCKLDQ   X6, X0, X0
	MOVQ         X0, (DI)
	ADDQ         $32, SI
	ADDQ         $8, DI
	SUBQ         $8, CX
	JMP          qloop8

qdone:
	VZEROUPPER
	RET

// DEQ8 widens eight bytes at off(SI) with the instruction widen, subtracts
// the zero point in Y2, multiplies by the scale in Y3 and stores the
// floats at 4·off(DI).
#define DEQ8(widen, off, r) \
	widen     off(SI), r          \
	VCVTDQ2PS r, r                \
	VSUBPS    Y2, r, r            \
	VMULPS    Y3, r, r            \
	VMOVUPS   r, (4*off)(DI)

// func dequantizeBytesAVX2(dst *float32, src *byte, n int, zp, scale float32, signed bool)
TEXT ·dequantizeBytesAVX2(SB), NOSPLIT, $0-33
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS zp+24(FP), Y2
	VBROADCASTSS scale+28(FP), Y3
	MOVBLZX      signed+32(FP), AX
	TESTQ        AX, AX
	JNZ          sloop32

uloop32:
	CMPQ CX, $32
	JLT  uloop8
	DEQ8(VPMOVZXBD, 0, Y0)
	DEQ8(VPMOVZXBD, 8, Y1)
	DEQ8(VPMOVZXBD, 16, Y4)
	DEQ8(VPMOVZXBD, 24, Y5)
	ADDQ $32, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  uloop32

uloop8:
	CMPQ CX, $8
	JLT  ddone
	DEQ8(VPMOVZXBD, 0, Y0)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  uloop8

sloop32:
	CMPQ CX, $32
	JLT  sloop8
	DEQ8(VPMOVSXBD, 0, Y0)
	DEQ8(VPMOVSXBD, 8, Y1)
	DEQ8(VPMOVSXBD, 16, Y4)
	DEQ8(VPMOVSXBD, 24, Y5)
	ADDQ $32, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  sloop32

sloop8:
	CMPQ CX, $8
	JLT  ddone
	DEQ8(VPMOVSXBD, 0, Y0)
	ADDQ $8, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  sloop8

ddone:
	VZEROUPPER
	RET

// QUANT16 is QUANT8 on sixteen floats in a ZMM register, with the scale
// in Z1, lo in Z2, hi in Z3 and the zero point in Z4 (NaN becomes lo, as
// there).
#define QUANT16(r) \
	VDIVPS      Z1, r, r      \
	VMAXPS      Z2, r, r      \
	VMINPS      Z3, r, r      \
	VRNDSCALEPS $0, r, r      \
	VCVTTPS2DQ  r, r          \
	VPADDD      Z4, r, r

// func quantizeBytesAVX512(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)
TEXT ·quantizeBytesAVX512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z1
	VBROADCASTSS lo+28(FP), Z2
	VBROADCASTSS hi+32(FP), Z3
	MOVL         zp+36(FP), AX
	VPBROADCASTD AX, Z4

zloop64:
	CMPQ    CX, $64
	JLT     zloop16
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	QUANT16(Z0)
	QUANT16(Z5)
	QUANT16(Z6)
	QUANT16(Z7)
	VPMOVDB Z0, (DI)
	VPMOVDB Z5, 16(DI)
	VPMOVDB Z6, 32(DI)
	VPMOVDB Z7, 48(DI)
	ADDQ    $256, SI
	ADDQ    $64, DI
	SUBQ    $64, CX
	JMP     zloop64

zloop16:
	CMPQ    CX, $16
	JLT     zdone
	VMOVUPS (SI), Z0
	QUANT16(Z0)
	VPMOVDB Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $16, DI
	SUBQ    $16, CX
	JMP     zloop16

zdone:
	VZEROUPPER
	RET
