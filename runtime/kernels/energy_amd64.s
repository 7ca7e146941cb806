//go:build amd64 && !noasm

#include "textflag.h"

// Add the float32 squares of the eight values in Y(src) to the float64
// lanes Y(lo4) (elements 0-3) and Y(hi4) (elements 4-7); X13 and Y12,
// Y13 are scratch.
#define SQUARES(src, srcx, lo4, hi4) \
	VCVTPS2PD    srcx, Y12; \
	VEXTRACTF128 $1, src, X13; \
	VCVTPS2PD    X13, Y13; \
	VMULPD       Y12, Y12, Y12; \
	VMULPD       Y13, Y13, Y13; \
	VADDPD       Y12, lo4, lo4; \
	VADDPD       Y13, hi4, hi4

// func codeEnergiesAVX2(ref *float32, codes *byte, n int, signed bool, zp int32, scale, lo, hi float32, e *Energies) int
TEXT ·codeEnergiesAVX2(SB), NOSPLIT, $0-64
	MOVQ         ref+0(FP), SI
	MOVQ         codes+8(FP), DI
	MOVQ         n+16(FP), CX
	MOVBLZX      signed+24(FP), DX
	MOVL         zp+28(FP), AX
	MOVQ         AX, X4
	VPBROADCASTD X4, Y4
	VBROADCASTSS scale+32(FP), Y5
	VBROADCASTSS lo+36(FP), Y6
	VBROADCASTSS hi+40(FP), Y7
	MOVQ         e+48(FP), R8
	VMOVUPD      0(R8), Y0
	VMOVUPD      32(R8), Y1
	VMOVUPD      64(R8), Y2
	VMOVUPD      96(R8), Y3
	XORQ         R9, R9

loop:
	TESTQ     DX, DX
	JNZ       signedcodes
	VPMOVZXBD (DI), Y8
	JMP       widened

signedcodes:
	VPMOVSXBD (DI), Y8

widened:
	VPSUBD    Y4, Y8, Y8
	VCVTDQ2PS Y8, Y8
	VMULPS    Y5, Y8, Y8        // dq
	VMOVUPS   (SI), Y9          // ref
	VSUBPS    Y9, Y8, Y8        // dq - ref
	VCMPPS    $1, Y6, Y9, Y10   // ref < lo
	VCMPPS    $1, Y9, Y7, Y11   // hi < ref
	VORPS     Y11, Y10, Y10
	VMOVMSKPS Y10, AX
	POPCNTL   AX, AX
	ADDQ      AX, R9
	SQUARES(Y9, X9, Y0, Y1)
	SQUARES(Y8, X8, Y2, Y3)
	ADDQ      $32, SI
	ADDQ      $8, DI
	SUBQ      $8, CX
	JNZ       loop

	VMOVUPD Y0, 0(R8)
	VMOVUPD Y1, 32(R8)
	VMOVUPD Y2, 64(R8)
	VMOVUPD Y3, 96(R8)
	VZEROUPPER
	MOVQ    R9, ret+56(FP)
	RET

// func floatEnergiesAVX2(got, ref *float32, n int, e *Energies)
TEXT ·floatEnergiesAVX2(SB), NOSPLIT, $0-32
	MOVQ    got+0(FP), DI
	MOVQ    ref+8(FP), SI
	MOVQ    n+16(FP), CX
	MOVQ    e+24(FP), R8
	VMOVUPD 0(R8), Y0
	VMOVUPD 32(R8), Y1
	VMOVUPD 64(R8), Y2
	VMOVUPD 96(R8), Y3

floop:
	VMOVUPS (SI), Y9
	VMOVUPS (DI), Y8
	VSUBPS  Y9, Y8, Y8
	SQUARES(Y9, X9, Y0, Y1)
	SQUARES(Y8, X8, Y2, Y3)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     floop

	VMOVUPD Y0, 0(R8)
	VMOVUPD Y1, 32(R8)
	VMOVUPD Y2, 64(R8)
	VMOVUPD Y3, 96(R8)
	VZEROUPPER
	RET
