//go:build amd64 && !noasm

package kernels

import "golang.org/x/sys/cpu"

// deinterleaveBytes splits the first 32·k bytes of src with AVX2 and
// returns how many it did.
func deinterleaveBytes(even, odd, src []byte) int {
	blocks := len(src) / 32
	if blocks == 0 || !cpu.X86.HasAVX2 {
		return 0
	}
	deinterleaveBytesAVX2(&even[0], &odd[0], &src[0], blocks)
	return 32 * blocks
}

// deinterleaveBytesAVX2 splits blocks blocks of 32 bytes: per block, a
// byte shuffle gathers each 128-bit lane's even bytes before its odd ones,
// and a quadword permutation joins the two lanes' halves.
//
//go:noescape
func deinterleaveBytesAVX2(even, odd, src *byte, blocks int)
