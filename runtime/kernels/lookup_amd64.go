//go:build amd64 && !noasm

// This file selects the AVX-512 VBMI table lookup when the CPU has it.

package kernels

import "golang.org/x/sys/cpu"

// lookupVBMI tells whether the CPU has AVX-512 VBMI (VPERMI2B) and the
// byte instructions of AVX-512 BW.
var lookupVBMI = cpu.X86.HasAVX512VBMI && cpu.X86.HasAVX512BW

func lookupBytes(dst, src []byte, table *[256]byte) {
	if !lookupVBMI {
		lookupBytesGo(dst, src, table)
		return
	}
	n := len(dst)
	lookupBytesVBMI(&dst[0], &src[0], table, n/64, uint64(1)<<(n%64)-1)
}

// lookupBytesVBMI is lookupBytesGo on blocks blocks of 64 bytes, then on
// the bytes of the next block set in tail (masked loads and stores): the
// table is held in four ZMM registers, one VPERMI2B looks each byte's low
// seven bits up in entries 0…127, another in 128…255, and the byte's top
// bit (VPMOVB2M) picks one of the two:
//
//	for i := range 64*blocks + bits.OnesCount64(tail) {
//		dst[i] = table[src[i]]
//	}
//
//go:noescape
func lookupBytesVBMI(dst, src *byte, table *[256]byte, blocks int, tail uint64)
