//go:build amd64 && !noasm

// This file holds the AVX-512 VBMI byte table lookup; lookup_amd64.go
// shows the loop it computes.

#include "textflag.h"

// LOOKUP maps the 64 bytes v of Z4 through the table in Z0…Z3 into Z7:
// Z5 gets table[v&127] and Z6 table[128+v&127] (VPERMI2B overwrites its
// index register, hence the copies), and v's top bit picks Z6.
#define LOOKUP \
	VMOVDQA64 Z4, Z5          \
	VMOVDQA64 Z4, Z6          \
	VPERMI2B  Z1, Z0, Z5      \
	VPERMI2B  Z3, Z2, Z6      \
	VPMOVB2M  Z4, K2          \
	VPBLENDMB Z6, Z5, K2, Z7

// func lookupBytesVBMI(dst, src *byte, table *[256]byte, blocks int, tail uint64)
TEXT ·lookupBytesVBMI(SB), NOSPLIT, $0-40
	MOVQ      dst+0(FP), DI
	MOVQ      src+8(FP), SI
	MOVQ      table+16(FP), DX
	MOVQ      blocks+24(FP), CX
	MOVQ      tail+32(FP), AX
	KMOVQ     AX, K1
	VMOVDQU64 (DX), Z0
	VMOVDQU64 64(DX), Z1
	VMOVDQU64 128(DX), Z2
	VMOVDQU64 192(DX), Z3
	TESTQ     CX, CX
	JZ        lbtail

lbloop:
	VMOVDQU64 (SI), Z4
	LOOKUP
	VMOVDQU64 Z7, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       lbloop

lbtail:
	KORTESTQ   K1, K1
	JZ         lbdone
	VMOVDQU8.Z (SI), K1, Z4
	LOOKUP
	VMOVDQU8   Z7, K1, (DI)

lbdone:
	VZEROUPPER
	RET
