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

// func interleaveBytesAVX2(dst, even, odd *byte, n int)
TEXT ·interleaveBytesAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ even+8(FP), SI
	MOVQ odd+16(FP), DX
	MOVQ n+24(FP), CX

iloop:
	VMOVDQU    (SI), Y0
	VMOVDQU    (DX), Y1
	VPUNPCKLBW Y1, Y0, Y2       // per lane: pairs 0-7 (low lane), 16-23 (high lane)
	VPUNPCKHBW Y1, Y0, Y3       // per lane: pairs 8-15, 24-31
	VPERM2I128 $0x20, Y3, Y2, Y4 // pairs 0-15
	VPERM2I128 $0x31, Y3, Y2, Y5 // pairs 16-31
	VMOVDQU    Y4, (DI)
	VMOVDQU    Y5, 32(DI)
	ADDQ       $32, SI
	ADDQ       $32, DX
	ADDQ       $64, DI
	SUBQ       $32, CX
	CMPQ       CX, $32
	JGE        iloop
	TESTQ      CX, CX
	JZ         idone
	// One last block of 32 pairs ending at the last pair, overlapping
	// pairs already written (the same values are written again).
	SUBQ       $32, CX
	ADDQ       CX, SI
	ADDQ       CX, DX
	ADDQ       CX, DI
	ADDQ       CX, DI
	MOVQ       $32, CX
	JMP        iloop

idone:
	VZEROUPPER
	RET

// func copyRowsAVX2(dst *byte, dstStride int, src *byte, srcStride int, rows, n int, x byte)
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-49
	MOVQ dst+0(FP), DI
	MOVQ dstStride+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ srcStride+24(FP), R9
	MOVQ rows+32(FP), CX
	MOVQ n+40(FP), R10
	MOVBLZX x+48(FP), AX
	MOVD AX, X15
	VPBROADCASTB X15, Y15

crrow:
	XORQ BX, BX
	CMPQ R10, $32
	JLT cr16

cr32:
	LEAQ 32(BX), DX
	CMPQ DX, R10
	JGT crtail32
	VPXOR (SI)(BX*1), Y15, Y0
	VMOVDQU Y0, (DI)(BX*1)
	MOVQ DX, BX
	JMP cr32

crtail32:
	CMPQ BX, R10
	JEQ crnext
	// The last 32 bytes of the row.
	MOVQ R10, BX
	SUBQ $32, BX
	VPXOR (SI)(BX*1), Y15, Y0
	VMOVDQU Y0, (DI)(BX*1)
	JMP crnext

cr16:
	// 16 ≤ n < 32: the first and the last 16 bytes.
	VPXOR (SI), X15, X0
	VMOVDQU X0, (DI)
	MOVQ R10, BX
	SUBQ $16, BX
	VPXOR (SI)(BX*1), X15, X1
	VMOVDQU X1, (DI)(BX*1)

crnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ crrow
	VZEROUPPER
	RET

// func maxPool2x2AVX512(out, in *byte, iw, rows, blocks int, tail uint64, signed bool)
TEXT ·maxPool2x2AVX512(SB), NOSPLIT, $0-49
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), R8
	MOVQ iw+16(FP), R9
	MOVQ rows+24(FP), R10
	MOVQ tail+40(FP), AX
	KMOVQ AX, K1
	// The outputs' mask: every other bit of the input mask.
	MOVQ AX, BX
	XORQ DX, DX
	TESTQ AX, AX
	JZ mpmaskdone
	POPCNTQ AX, CX
	SHRQ $1, CX
	MOVQ $1, DX
	SHLQ CX, DX
	DECQ DX

mpmaskdone:
	KMOVD DX, K2
	MOVBLZX signed+48(FP), R11
	LEAQ (R9)(R9*1), R12 // two input rows

mprow:
	MOVQ R8, SI
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JZ mptail

mpblock:
	VMOVDQU8 (SI), Z0
	VMOVDQU8 (SI)(R9*1), Z1
	TESTQ R11, R11
	JNZ mpbs
	VPMAXUB Z1, Z0, Z0
	VPSRLW $8, Z0, Z1
	VPMAXUB Z1, Z0, Z0
	JMP mpbstore

mpbs:
	VPMAXSB Z1, Z0, Z0
	VPSRLW $8, Z0, Z1
	VPMAXSB Z1, Z0, Z0

mpbstore:
	VPMOVWB Z0, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ mpblock

mptail:
	KORTESTQ K1, K1
	JZ mpnext
	VMOVDQU8.Z (SI), K1, Z0
	VMOVDQU8.Z (SI)(R9*1), K1, Z1
	TESTQ R11, R11
	JNZ mpts
	VPMAXUB Z1, Z0, Z0
	VPSRLW $8, Z0, Z1
	VPMAXUB Z1, Z0, Z0
	JMP mptstore

mpts:
	VPMAXSB Z1, Z0, Z0
	VPSRLW $8, Z0, Z1
	VPMAXSB Z1, Z0, Z0

mptstore:
	VPMOVWB Z0, K2, (DI)
	POPCNTQ AX, DX
	SHRQ $1, DX
	ADDQ DX, DI

mpnext:
	ADDQ R12, R8
	DECQ R10
	JNZ mprow
	VZEROUPPER
	RET

// func maxRows3AVX512(dst, a, b, c *byte, blocks int, tail uint64, signed bool)
TEXT ·maxRows3AVX512(SB), NOSPLIT, $0-49
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ c+24(FP), R8
	MOVQ blocks+32(FP), CX
	MOVQ tail+40(FP), AX
	KMOVQ AX, K1
	MOVBLZX signed+48(FP), R11
	XORQ BX, BX
	TESTQ CX, CX
	JZ mr3tail

mr3loop:
	VMOVDQU8 (SI)(BX*1), Z0
	VMOVDQU8 (DX)(BX*1), Z1
	VMOVDQU8 (R8)(BX*1), Z2
	TESTQ R11, R11
	JNZ mr3s
	VPMAXUB Z1, Z0, Z0
	VPMAXUB Z2, Z0, Z0
	JMP mr3store

mr3s:
	VPMAXSB Z1, Z0, Z0
	VPMAXSB Z2, Z0, Z0

mr3store:
	VMOVDQU8 Z0, (DI)(BX*1)
	ADDQ $64, BX
	DECQ CX
	JNZ mr3loop

mr3tail:
	KORTESTQ K1, K1
	JZ mr3done
	VMOVDQU8.Z (SI)(BX*1), K1, Z0
	VMOVDQU8.Z (DX)(BX*1), K1, Z1
	VMOVDQU8.Z (R8)(BX*1), K1, Z2
	TESTQ R11, R11
	JNZ mr3ts
	VPMAXUB Z1, Z0, Z0
	VPMAXUB Z2, Z0, Z0
	JMP mr3tstore

mr3ts:
	VPMAXSB Z1, Z0, Z0
	VPMAXSB Z2, Z0, Z0

mr3tstore:
	VMOVDQU8 Z0, K1, (DI)(BX*1)

mr3done:
	VZEROUPPER
	RET

// func maxPairs3AVX512(out, buf *byte, blocks int, tail uint32, signed bool)
TEXT ·maxPairs3AVX512(SB), NOSPLIT, $0-29
	MOVQ out+0(FP), DI
	MOVQ buf+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVL tail+24(FP), AX
	KMOVD AX, K2
	MOVBLZX signed+28(FP), R11
	TESTQ CX, CX
	JZ mp3tail

mp3loop:
	VMOVDQU8 (SI), Z0
	VMOVDQU8 1(SI), Z1
	TESTQ R11, R11
	JNZ mp3s
	VPSRLW $8, Z0, Z2
	VPMAXUB Z2, Z0, Z0
	VPSRLW $8, Z1, Z3
	VPMAXUB Z3, Z1, Z1
	VPMAXUB Z1, Z0, Z0
	JMP mp3store

mp3s:
	VPSRLW $8, Z0, Z2
	VPMAXSB Z2, Z0, Z0
	VPSRLW $8, Z1, Z3
	VPMAXSB Z3, Z1, Z1
	VPMAXSB Z1, Z0, Z0

mp3store:
	VPMOVWB Z0, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ mp3loop

mp3tail:
	KORTESTD K2, K2
	JZ mp3done
	// The tail's outputs read at most 2·31+2 bytes past SI: buf holds
	// them (iw+66 bytes), so whole loads are safe.
	VMOVDQU8 (SI), Z0
	VMOVDQU8 1(SI), Z1
	TESTQ R11, R11
	JNZ mp3ts
	VPSRLW $8, Z0, Z2
	VPMAXUB Z2, Z0, Z0
	VPSRLW $8, Z1, Z3
	VPMAXUB Z3, Z1, Z1
	VPMAXUB Z1, Z0, Z0
	JMP mp3tstore

mp3ts:
	VPSRLW $8, Z0, Z2
	VPMAXSB Z2, Z0, Z0
	VPSRLW $8, Z1, Z3
	VPMAXSB Z3, Z1, Z1
	VPMAXSB Z1, Z0, Z0

mp3tstore:
	VPMOVWB Z0, K2, (DI)

mp3done:
	VZEROUPPER
	RET
