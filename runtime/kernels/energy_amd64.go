//go:build amd64 && !noasm

// This file selects the AVX2 energy loops when the CPU has them.

package kernels

import "golang.org/x/sys/cpu"

var energyAVX2 = hasAVX2() && cpu.X86.HasPOPCNT

// codeEnergiesAVX2 is codeEnergiesGo on n elements, n a multiple of 8,
// from offset 0 of the lanes, eight at a time, returning the count
// outside [lo, hi].
//
//go:noescape
func codeEnergiesAVX2(ref *float32, codes *byte, n int, signed bool, zp int32, scale, lo, hi float32, e *Energies) int

// floatEnergiesAVX2 is floatEnergiesGo on n elements, n a multiple of 8,
// from offset 0 of the lanes.
//
//go:noescape
func floatEnergiesAVX2(got, ref *float32, n int, e *Energies)
