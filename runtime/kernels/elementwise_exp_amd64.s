//go:build amd64 && !noasm

// This file holds the AVX2 loops of ExpF32 and SigmoidF32;
// elementwise_amd64.go documents them and elementwise_exp.go holds the Go
// twin they equal bit for bit.

#include "textflag.h"

DATA expConsts<>+0(SB)/4, $0xc2d00000
DATA expConsts<>+4(SB)/4, $0xc2d00000
DATA expConsts<>+8(SB)/4, $0xc2d00000
DATA expConsts<>+12(SB)/4, $0xc2d00000
DATA expConsts<>+16(SB)/4, $0xc2d00000
DATA expConsts<>+20(SB)/4, $0xc2d00000
DATA expConsts<>+24(SB)/4, $0xc2d00000
DATA expConsts<>+28(SB)/4, $0xc2d00000
DATA expConsts<>+32(SB)/4, $0x42b20000
DATA expConsts<>+36(SB)/4, $0x42b20000
DATA expConsts<>+40(SB)/4, $0x42b20000
DATA expConsts<>+44(SB)/4, $0x42b20000
DATA expConsts<>+48(SB)/4, $0x42b20000
DATA expConsts<>+52(SB)/4, $0x42b20000
DATA expConsts<>+56(SB)/4, $0x42b20000
DATA expConsts<>+60(SB)/4, $0x42b20000
DATA expConsts<>+64(SB)/4, $0x3fb8aa3b
DATA expConsts<>+68(SB)/4, $0x3fb8aa3b
DATA expConsts<>+72(SB)/4, $0x3fb8aa3b
DATA expConsts<>+76(SB)/4, $0x3fb8aa3b
DATA expConsts<>+80(SB)/4, $0x3fb8aa3b
DATA expConsts<>+84(SB)/4, $0x3fb8aa3b
DATA expConsts<>+88(SB)/4, $0x3fb8aa3b
DATA expConsts<>+92(SB)/4, $0x3fb8aa3b
DATA expConsts<>+96(SB)/4, $0x4b400000
DATA expConsts<>+100(SB)/4, $0x4b400000
DATA expConsts<>+104(SB)/4, $0x4b400000
DATA expConsts<>+108(SB)/4, $0x4b400000
DATA expConsts<>+112(SB)/4, $0x4b400000
DATA expConsts<>+116(SB)/4, $0x4b400000
DATA expConsts<>+120(SB)/4, $0x4b400000
DATA expConsts<>+124(SB)/4, $0x4b400000
DATA expConsts<>+128(SB)/4, $0x3f318000
DATA expConsts<>+132(SB)/4, $0x3f318000
DATA expConsts<>+136(SB)/4, $0x3f318000
DATA expConsts<>+140(SB)/4, $0x3f318000
DATA expConsts<>+144(SB)/4, $0x3f318000
DATA expConsts<>+148(SB)/4, $0x3f318000
DATA expConsts<>+152(SB)/4, $0x3f318000
DATA expConsts<>+156(SB)/4, $0x3f318000
DATA expConsts<>+160(SB)/4, $0xb95e8083
DATA expConsts<>+164(SB)/4, $0xb95e8083
DATA expConsts<>+168(SB)/4, $0xb95e8083
DATA expConsts<>+172(SB)/4, $0xb95e8083
DATA expConsts<>+176(SB)/4, $0xb95e8083
DATA expConsts<>+180(SB)/4, $0xb95e8083
DATA expConsts<>+184(SB)/4, $0xb95e8083
DATA expConsts<>+188(SB)/4, $0xb95e8083
DATA expConsts<>+192(SB)/4, $0x39500d01
DATA expConsts<>+196(SB)/4, $0x39500d01
DATA expConsts<>+200(SB)/4, $0x39500d01
DATA expConsts<>+204(SB)/4, $0x39500d01
DATA expConsts<>+208(SB)/4, $0x39500d01
DATA expConsts<>+212(SB)/4, $0x39500d01
DATA expConsts<>+216(SB)/4, $0x39500d01
DATA expConsts<>+220(SB)/4, $0x39500d01
DATA expConsts<>+224(SB)/4, $0x3ab60b61
DATA expConsts<>+228(SB)/4, $0x3ab60b61
DATA expConsts<>+232(SB)/4, $0x3ab60b61
DATA expConsts<>+236(SB)/4, $0x3ab60b61
DATA expConsts<>+240(SB)/4, $0x3ab60b61
DATA expConsts<>+244(SB)/4, $0x3ab60b61
DATA expConsts<>+248(SB)/4, $0x3ab60b61
DATA expConsts<>+252(SB)/4, $0x3ab60b61
DATA expConsts<>+256(SB)/4, $0x3c088889
DATA expConsts<>+260(SB)/4, $0x3c088889
DATA expConsts<>+264(SB)/4, $0x3c088889
DATA expConsts<>+268(SB)/4, $0x3c088889
DATA expConsts<>+272(SB)/4, $0x3c088889
DATA expConsts<>+276(SB)/4, $0x3c088889
DATA expConsts<>+280(SB)/4, $0x3c088889
DATA expConsts<>+284(SB)/4, $0x3c088889
DATA expConsts<>+288(SB)/4, $0x3d2aaaab
DATA expConsts<>+292(SB)/4, $0x3d2aaaab
DATA expConsts<>+296(SB)/4, $0x3d2aaaab
DATA expConsts<>+300(SB)/4, $0x3d2aaaab
DATA expConsts<>+304(SB)/4, $0x3d2aaaab
DATA expConsts<>+308(SB)/4, $0x3d2aaaab
DATA expConsts<>+312(SB)/4, $0x3d2aaaab
DATA expConsts<>+316(SB)/4, $0x3d2aaaab
DATA expConsts<>+320(SB)/4, $0x3e2aaaab
DATA expConsts<>+324(SB)/4, $0x3e2aaaab
DATA expConsts<>+328(SB)/4, $0x3e2aaaab
DATA expConsts<>+332(SB)/4, $0x3e2aaaab
DATA expConsts<>+336(SB)/4, $0x3e2aaaab
DATA expConsts<>+340(SB)/4, $0x3e2aaaab
DATA expConsts<>+344(SB)/4, $0x3e2aaaab
DATA expConsts<>+348(SB)/4, $0x3e2aaaab
DATA expConsts<>+352(SB)/4, $0x3f000000
DATA expConsts<>+356(SB)/4, $0x3f000000
DATA expConsts<>+360(SB)/4, $0x3f000000
DATA expConsts<>+364(SB)/4, $0x3f000000
DATA expConsts<>+368(SB)/4, $0x3f000000
DATA expConsts<>+372(SB)/4, $0x3f000000
DATA expConsts<>+376(SB)/4, $0x3f000000
DATA expConsts<>+380(SB)/4, $0x3f000000
DATA expConsts<>+384(SB)/4, $0x3f800000
DATA expConsts<>+388(SB)/4, $0x3f800000
DATA expConsts<>+392(SB)/4, $0x3f800000
DATA expConsts<>+396(SB)/4, $0x3f800000
DATA expConsts<>+400(SB)/4, $0x3f800000
DATA expConsts<>+404(SB)/4, $0x3f800000
DATA expConsts<>+408(SB)/4, $0x3f800000
DATA expConsts<>+412(SB)/4, $0x3f800000
DATA expConsts<>+416(SB)/4, $0x0000007f
DATA expConsts<>+420(SB)/4, $0x0000007f
DATA expConsts<>+424(SB)/4, $0x0000007f
DATA expConsts<>+428(SB)/4, $0x0000007f
DATA expConsts<>+432(SB)/4, $0x0000007f
DATA expConsts<>+436(SB)/4, $0x0000007f
DATA expConsts<>+440(SB)/4, $0x0000007f
DATA expConsts<>+444(SB)/4, $0x0000007f
DATA expConsts<>+448(SB)/4, $0x80000000
DATA expConsts<>+452(SB)/4, $0x80000000
DATA expConsts<>+456(SB)/4, $0x80000000
DATA expConsts<>+460(SB)/4, $0x80000000
DATA expConsts<>+464(SB)/4, $0x80000000
DATA expConsts<>+468(SB)/4, $0x80000000
DATA expConsts<>+472(SB)/4, $0x80000000
DATA expConsts<>+476(SB)/4, $0x80000000
GLOBL expConsts<>(SB), RODATA|NOPTR, $480

// func expAVX2(dst, a *float32, shift float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	VBROADCASTSS shift+16(FP), Y15
	MOVQ n+24(FP), CX
	VMOVUPS expConsts<>+0(SB), Y14
	VMOVUPS expConsts<>+32(SB), Y13

loop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y13, Y0
	VMULPS expConsts<>+64(SB), Y0, Y1
	VADDPS expConsts<>+96(SB), Y1, Y1
	VSUBPS expConsts<>+96(SB), Y1, Y1
	VMULPS expConsts<>+128(SB), Y1, Y2
	VSUBPS Y2, Y0, Y0
	VMULPS expConsts<>+160(SB), Y1, Y2
	VSUBPS Y2, Y0, Y0
	VMOVUPS expConsts<>+192(SB), Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+224(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+256(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+288(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+320(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+352(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+384(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+384(SB), Y2, Y2
	VCVTPS2DQ Y1, Y1
	VPSRAD $1, Y1, Y3
	VPSUBD Y3, Y1, Y1
	VPADDD expConsts<>+416(SB), Y3, Y3
	VPSLLD $23, Y3, Y3
	VPADDD expConsts<>+416(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y3, Y2, Y2
	VMULPS Y1, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  loop
	VZEROUPPER
	RET

// func sigmoidAVX2(dst, a *float32, n int)
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPS expConsts<>+0(SB), Y14
	VMOVUPS expConsts<>+32(SB), Y13

loop:
	VMOVUPS (SI), Y4
	VORPS expConsts<>+448(SB), Y4, Y0
	VMAXPS Y0, Y14, Y0
	VMINPS Y0, Y13, Y0
	VMULPS expConsts<>+64(SB), Y0, Y1
	VADDPS expConsts<>+96(SB), Y1, Y1
	VSUBPS expConsts<>+96(SB), Y1, Y1
	VMULPS expConsts<>+128(SB), Y1, Y2
	VSUBPS Y2, Y0, Y0
	VMULPS expConsts<>+160(SB), Y1, Y2
	VSUBPS Y2, Y0, Y0
	VMOVUPS expConsts<>+192(SB), Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+224(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+256(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+288(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+320(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+352(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+384(SB), Y2, Y2
	VMULPS Y0, Y2, Y2
	VADDPS expConsts<>+384(SB), Y2, Y2
	VCVTPS2DQ Y1, Y1
	VPSRAD $1, Y1, Y3
	VPSUBD Y3, Y1, Y1
	VPADDD expConsts<>+416(SB), Y3, Y3
	VPSLLD $23, Y3, Y3
	VPADDD expConsts<>+416(SB), Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y3, Y2, Y2
	VMULPS Y1, Y2, Y0
	VADDPS expConsts<>+384(SB), Y0, Y1
	VMOVUPS expConsts<>+384(SB), Y2
	VDIVPS Y1, Y2, Y2
	VMULPS Y2, Y0, Y3
	VBLENDVPS Y4, Y3, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  loop
	VZEROUPPER
	RET
