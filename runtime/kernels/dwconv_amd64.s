//go:build amd64 && !noasm

#include "textflag.h"

// The arguments of depthwiseRowVNNI and depthwiseRow2VNNI (one frame):
// DI dst, R8 src, R9 offs, R13 ws, R10 nq, R11 blocks; R12 the block's
// byte offset, 0.
#define DW_ROW_ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ src+8(FP), R8; \
	MOVQ offs+16(FP), R9; \
	MOVQ ws+24(FP), R13; \
	MOVQ nq+32(FP), R10; \
	MOVQ blocks+40(FP), R11; \
	XORQ R12, R12

// The arguments of depthwiseRowsQVNNI and depthwiseRowsQ2VNNI (one
// frame): DI out, R15 ldo, R8 src, BX lds, R9 offs, R13 ws, R10 nq, R14
// rows, the parameters loaded from p, and DX the tail's kind.
#define DW_ROWS_ARGS \
	MOVQ out+0(FP), DI; \
	MOVQ ldo+8(FP), R15; \
	MOVQ src+16(FP), R8; \
	MOVQ lds+24(FP), BX; \
	MOVQ offs+32(FP), R9; \
	MOVQ ws+40(FP), R13; \
	MOVQ nq+48(FP), R10; \
	MOVQ rows+56(FP), R14; \
	MOVQ p+72(FP), AX; \
	DW_LOAD_PARAMS; \
	MOVQ AX, DX

// Sums of the block at byte R12 of the row at R8, with registers r0…r3
// (Z or Y, 64 or 32 outputs): r_o gets the outputs ≡ o (mod 4).
#define DW1_SUMS(r0, r1, r2, r3, l4, l5, l6, l7, w, loop) \
	VPXORD r0, r0, r0; \
	VPXORD r1, r1, r1; \
	VPXORD r2, r2, r2; \
	VPXORD r3, r3, r3; \
	XORQ CX, CX; \
loop: \
	MOVQ (R9)(CX*8), SI; \
	ADDQ R8, SI; \
	ADDQ R12, SI; \
	VPBROADCASTD (R13)(CX*4), w; \
	VMOVDQU8 (SI), l4; \
	VMOVDQU8 1(SI), l5; \
	VMOVDQU8 2(SI), l6; \
	VMOVDQU8 3(SI), l7; \
	VPDPBUSD w, l4, r0; \
	VPDPBUSD w, l5, r1; \
	VPDPBUSD w, l6, r2; \
	VPDPBUSD w, l7, r3; \
	INCQ CX; \
	CMPQ CX, R10; \
	JNE loop

// Stride 2: r0 gets the outputs 2l from the bytes at 0, r1 the outputs
// 2l+1 from the bytes at 2.
#define DW2_SUMS(r0, r1, l4, l5, w, loop) \
	VPXORD r0, r0, r0; \
	VPXORD r1, r1, r1; \
	XORQ CX, CX; \
loop: \
	MOVQ (R9)(CX*8), SI; \
	ADDQ R8, SI; \
	ADDQ R12, SI; \
	VPBROADCASTD (R13)(CX*4), w; \
	VMOVDQU8 (SI), l4; \
	VMOVDQU8 2(SI), l5; \
	VPDPBUSD w, l4, r0; \
	VPDPBUSD w, l5, r1; \
	INCQ CX; \
	CMPQ CX, R10; \
	JNE loop

// func depthwiseRowVNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int)
TEXT ·depthwiseRowVNNI(SB), NOSPLIT, $0-48
	DW_ROW_ARGS

dw1block:
	DW1_SUMS(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, dw1quad)
	// Z_o holds outputs 4l+o in lane l: transpose the words of each
	// 128-bit lane (then lane j of Z12+m holds outputs 16j+4m…16j+4m+3),
	// then the lanes.
	VPUNPCKLDQ Z1, Z0, Z9
	VPUNPCKHDQ Z1, Z0, Z10
	VPUNPCKLDQ Z3, Z2, Z11
	VPUNPCKHDQ Z3, Z2, Z16
	VPUNPCKLQDQ Z11, Z9, Z12
	VPUNPCKHQDQ Z11, Z9, Z13
	VPUNPCKLQDQ Z16, Z10, Z14
	VPUNPCKHQDQ Z16, Z10, Z15
	VSHUFI32X4 $0x44, Z13, Z12, Z17
	VSHUFI32X4 $0x44, Z15, Z14, Z18
	VSHUFI32X4 $0xEE, Z13, Z12, Z19
	VSHUFI32X4 $0xEE, Z15, Z14, Z20
	VSHUFI32X4 $0x88, Z18, Z17, Z21
	VSHUFI32X4 $0xDD, Z18, Z17, Z22
	VSHUFI32X4 $0x88, Z20, Z19, Z23
	VSHUFI32X4 $0xDD, Z20, Z19, Z24
	VMOVDQU32 Z21, (DI)
	VMOVDQU32 Z22, 64(DI)
	VMOVDQU32 Z23, 128(DI)
	VMOVDQU32 Z24, 192(DI)
	ADDQ $256, DI
	ADDQ $64, R12
	DECQ R11
	JNZ dw1block
	VZEROUPPER
	RET

// func depthwiseRow2VNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int)
TEXT ·depthwiseRow2VNNI(SB), NOSPLIT, $0-48
	DW_ROW_ARGS

dw2block:
	DW2_SUMS(Z0, Z1, Z4, Z5, Z8, dw2quad)
	// Z0 holds outputs 2l, Z1 outputs 2l+1: lane j of Z9 holds outputs
	// 8j…8j+3 and of Z10 8j+4…8j+7; reorder the lanes.
	VPUNPCKLDQ Z1, Z0, Z9
	VPUNPCKHDQ Z1, Z0, Z10
	VSHUFI32X4 $0x44, Z10, Z9, Z11
	VSHUFI32X4 $0xEE, Z10, Z9, Z12
	VSHUFI32X4 $0xD8, Z11, Z11, Z13
	VSHUFI32X4 $0xD8, Z12, Z12, Z14
	VMOVDQU32 Z13, (DI)
	VMOVDQU32 Z14, 64(DI)
	ADDQ $128, DI
	ADDQ $64, R12
	DECQ R11
	JNZ dw2block
	VZEROUPPER
	RET

// Requantize the sums in z with Z25 add, Z26 scale, Z27 lo, Z28 hi, Z29
// zero point.
#define DW_REQZ(z) \
	VPADDD Z25, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Z26, z, z; \
	VMAXPS Z27, z, z; \
	VMINPS Z28, z, z; \
	VCVTPS2DQ.RN_SAE z, z; \
	VPADDD Z29, z, z

// The same on a Y register (embedded rounding is for Z registers only:
// VROUNDPS mode 0 rounds half to even, the truncation is then exact).
#define DW_REQY(z) \
	VPADDD Y25, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Y26, z, z; \
	VMAXPS Y27, z, z; \
	VMINPS Y28, z, z; \
	VROUNDPS $0, z, z; \
	VCVTTPS2DQ z, z; \
	VPADDD Y29, z, z

// The hard-swish forms (hardSwishRequantizeGo): Z30 = 3, Z31 = 6,
// Z24 = 0, Z23 = the output scale, Z22 scratch.
#define DW_HSWZ(z) \
	VPADDD Z25, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Z26, z, z; \
	VADDPS Z30, z, Z22; \
	VMAXPS Z24, Z22, Z22; \
	VMINPS Z31, Z22, Z22; \
	VMULPS Z22, z, z; \
	VDIVPS Z31, z, z; \
	VDIVPS Z23, z, z; \
	VMAXPS Z27, z, z; \
	VMINPS Z28, z, z; \
	VCVTPS2DQ.RN_SAE z, z; \
	VPADDD Z29, z, z

#define DW_HSWY(z) \
	VPADDD Y25, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS Y26, z, z; \
	VADDPS Y30, z, Y22; \
	VMAXPS Y24, Y22, Y22; \
	VMINPS Y31, Y22, Y22; \
	VMULPS Y22, z, z; \
	VDIVPS Y31, z, z; \
	VDIVPS Y23, z, z; \
	VMAXPS Y27, z, z; \
	VMINPS Y28, z, z; \
	VROUNDPS $0, z, z; \
	VCVTTPS2DQ z, z; \
	VPADDD Y29, z, z

// The epilogue of the sums in z0…zn: requantize, or hard-swish and
// quantize when K6 is set (labels h and e are the macro's own).
#define DW_EPI4Z(z0, z1, z2, z3, h, e) \
	KORTESTW K6, K6; \
	JNZ h; \
	DW_REQZ(z0); DW_REQZ(z1); DW_REQZ(z2); DW_REQZ(z3); \
	JMP e; \
h: \
	DW_HSWZ(z0); DW_HSWZ(z1); DW_HSWZ(z2); DW_HSWZ(z3); \
e:

#define DW_EPI4Y(z0, z1, z2, z3, h, e) \
	KORTESTW K6, K6; \
	JNZ h; \
	DW_REQY(z0); DW_REQY(z1); DW_REQY(z2); DW_REQY(z3); \
	JMP e; \
h: \
	DW_HSWY(z0); DW_HSWY(z1); DW_HSWY(z2); DW_HSWY(z3); \
e:

#define DW_EPI2Z(z0, z1, h, e) \
	KORTESTW K6, K6; \
	JNZ h; \
	DW_REQZ(z0); DW_REQZ(z1); \
	JMP e; \
h: \
	DW_HSWZ(z0); DW_HSWZ(z1); \
e:

#define DW_EPI2Y(z0, z1, h, e) \
	KORTESTW K6, K6; \
	JNZ h; \
	DW_REQY(z0); DW_REQY(z1); \
	JMP e; \
h: \
	DW_HSWY(z0); DW_HSWY(z1); \
e:

// The parameters at AX (a dwParams) into Z25…Z29, the tail's byte masks
// into K2…K5, the hard-swish flag into K6 with its constants in Z23,
// Z24, Z30, Z31, and the tail's kind into AX.
#define DW_LOAD_PARAMS \
	VPBROADCASTD 0(AX), Z25; \
	VBROADCASTSS 4(AX), Z26; \
	VBROADCASTSS 8(AX), Z27; \
	VBROADCASTSS 12(AX), Z28; \
	VPBROADCASTD 16(AX), Z29; \
	MOVQ 24(AX), CX; \
	KMOVQ CX, K2; \
	KSHIFTRQ $16, K2, K3; \
	KSHIFTRQ $32, K2, K4; \
	KSHIFTRQ $48, K2, K5; \
	VBROADCASTSS 40(AX), Z23; \
	MOVL 44(AX), CX; \
	KMOVW CX, K6; \
	MOVL $0x40400000, CX; \
	VPBROADCASTD CX, Z30; \
	MOVL $0x40c00000, CX; \
	VPBROADCASTD CX, Z31; \
	VPXORD Z24, Z24, Z24; \
	MOVQ 32(AX), AX

// Narrow the requantized sums in Z0…Z3 (Z_o holds outputs 4l+o in lane
// l) to bytes and interleave them: bytes, then words, give outputs 0-15,
// 16-31, 32-47, 48-63 in X12…X15.
#define DW1_NARROW \
	VPMOVDB Z0, X4; \
	VPMOVDB Z1, X5; \
	VPMOVDB Z2, X6; \
	VPMOVDB Z3, X7; \
	VPUNPCKLBW X5, X4, X8; \
	VPUNPCKHBW X5, X4, X9; \
	VPUNPCKLBW X7, X6, X10; \
	VPUNPCKHBW X7, X6, X11; \
	VPUNPCKLWD X10, X8, X12; \
	VPUNPCKHWD X10, X8, X13; \
	VPUNPCKLWD X11, X9, X14; \
	VPUNPCKHWD X11, X9, X15

// func depthwiseRowsQVNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)
TEXT ·depthwiseRowsQVNNI(SB), NOSPLIT, $0-80
	DW_ROWS_ARGS

dwqrow:
	MOVQ blocks+64(FP), R11
	XORQ R12, R12
	TESTQ R11, R11
	JZ dwqtail

dwqblock:
	DW1_SUMS(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, dwqquad)
	// Requantize the sums where they are, then narrow and interleave.
	DW_EPI4Z(Z0, Z1, Z2, Z3, dwh1, dwe1)
	DW1_NARROW
	LEAQ (DI)(R12*1), SI
	VMOVDQU X12, (SI)
	VMOVDQU X13, 16(SI)
	VMOVDQU X14, 32(SI)
	VMOVDQU X15, 48(SI)
	ADDQ $64, R12
	DECQ R11
	JNZ dwqblock

dwqtail:
	CMPQ DX, $1
	JEQ dwqtail32
	CMPQ DX, $2
	JNE dwqnext
	DW1_SUMS(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, dwqquad64)
	DW_EPI4Z(Z0, Z1, Z2, Z3, dwh2, dwe2)
	DW1_NARROW
	LEAQ (DI)(R12*1), SI
	VMOVDQU8 X12, K2, (SI)
	VMOVDQU8 X13, K3, 16(SI)
	VMOVDQU8 X14, K4, 32(SI)
	VMOVDQU8 X15, K5, 48(SI)
	JMP dwqnext

dwqtail32:
	// 32 outputs: Y_o holds outputs 4l+o, l < 8; 8 bytes each, then
	// outputs 0-15 and 16-31 in X12, X13.
	DW1_SUMS(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, dwqquad32)
	DW_EPI4Y(Y0, Y1, Y2, Y3, dwh3, dwe3)
	VPMOVDB Y0, X4
	VPMOVDB Y1, X5
	VPMOVDB Y2, X6
	VPMOVDB Y3, X7
	VPUNPCKLBW X5, X4, X8
	VPUNPCKLBW X7, X6, X10
	VPUNPCKLWD X10, X8, X12
	VPUNPCKHWD X10, X8, X13
	LEAQ (DI)(R12*1), SI
	VMOVDQU8 X12, K2, (SI)
	VMOVDQU8 X13, K3, 16(SI)

dwqnext:
	ADDQ R15, DI
	ADDQ BX, R8
	DECQ R14
	JNZ dwqrow
	VZEROUPPER
	RET

// func depthwiseRowsQ2VNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)
TEXT ·depthwiseRowsQ2VNNI(SB), NOSPLIT, $0-80
	DW_ROWS_ARGS

dwq2row:
	MOVQ blocks+64(FP), R11
	XORQ R12, R12 // byte offset of the block in the input row
	XORQ AX, AX   // and in the output row
	TESTQ R11, R11
	JZ dwq2tail

dwq2block:
	DW2_SUMS(Z0, Z1, Z4, Z5, Z8, dwq2quad)
	// Z0 holds outputs 2l, Z1 outputs 2l+1: requantize, narrow to bytes
	// and interleave them into outputs 0-15 (X6) and 16-31 (X7).
	DW_EPI2Z(Z0, Z1, dwh4, dwe4)
	VPMOVDB Z0, X4
	VPMOVDB Z1, X5
	VPUNPCKLBW X5, X4, X6
	VPUNPCKHBW X5, X4, X7
	LEAQ (DI)(AX*1), SI
	VMOVDQU X6, (SI)
	VMOVDQU X7, 16(SI)
	ADDQ $64, R12
	ADDQ $32, AX
	DECQ R11
	JNZ dwq2block

dwq2tail:
	CMPQ DX, $1
	JEQ dwq2tail16
	CMPQ DX, $2
	JNE dwq2next
	DW2_SUMS(Z0, Z1, Z4, Z5, Z8, dwq2quad32)
	DW_EPI2Z(Z0, Z1, dwh5, dwe5)
	VPMOVDB Z0, X4
	VPMOVDB Z1, X5
	VPUNPCKLBW X5, X4, X6
	VPUNPCKHBW X5, X4, X7
	LEAQ (DI)(AX*1), SI
	VMOVDQU8 X6, K2, (SI)
	VMOVDQU8 X7, K3, 16(SI)
	JMP dwq2next

dwq2tail16:
	DW2_SUMS(Y0, Y1, Y4, Y5, Y8, dwq2quad16)
	DW_EPI2Y(Y0, Y1, dwh6, dwe6)
	VPMOVDB Y0, X4
	VPMOVDB Y1, X5
	VPUNPCKLBW X5, X4, X6
	LEAQ (DI)(AX*1), SI
	VMOVDQU8 X6, K2, (SI)

dwq2next:
	ADDQ R15, DI
	ADDQ BX, R8
	DECQ R14
	JNZ dwq2row
	VZEROUPPER
	RET
