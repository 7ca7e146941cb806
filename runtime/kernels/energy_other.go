//go:build !amd64 || noasm

// This file leaves the energy sums to their Go loops where no assembly
// runs.

package kernels

const energyAVX2 = false

func codeEnergiesAVX2(ref *float32, codes *byte, n int, signed bool, zp int32, scale, lo, hi float32, e *Energies) int {
	panic("no assembly")
}

func floatEnergiesAVX2(got, ref *float32, n int, e *Energies) { panic("no assembly") }
