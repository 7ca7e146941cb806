//go:build amd64 && !noasm

#include "textflag.h"

// Per 128-bit lane: bytes 0, 2, …, 14, then 1, 3, …, 15.
DATA evenOddShuffle<>+0(SB)/8, $0x0e0c0a0806040200
DATA evenOddShuffle<>+8(SB)/8, $0x0f0d0b0907050301
DATA evenOddShuffle<>+16(SB)/8, $0x0e0c0a0806040200
DATA evenOddShuffle<>+24(SB)/8, $0x0f0d0b0907050301
GLOBL evenOddShuffle<>(SB), RODATA|NOPTR, $32

// func deinterleaveBytesAVX2(even, odd, src *byte, blocks int)
TEXT ·deinterleaveBytesAVX2(SB), NOSPLIT, $0-32
	MOVQ even+0(FP), DI
	MOVQ odd+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ blocks+24(FP), CX
	VMOVDQU evenOddShuffle<>(SB), Y1

dibloop:
	VMOVDQU (SI), Y0
	VPSHUFB Y1, Y0, Y0
	VPERMQ $0xD8, Y0, Y0
	VMOVDQU X0, (DI)
	VEXTRACTI128 $1, Y0, X2
	VMOVDQU X2, (DX)
	ADDQ $32, SI
	ADDQ $16, DI
	ADDQ $16, DX
	DECQ CX
	JNZ dibloop
	VZEROUPPER
	RET
