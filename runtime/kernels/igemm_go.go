// This file holds the portable INT8 microkernel, used when no assembly
// kernel runs on the CPU or with the build tag noasm.

package kernels

var goIgemmKernel = igemmKernel{name: "go", mr: 4, nr: 8, fn: igemmKernel4x8Go}

// igemmKernel4x8Go is igemmKernelRef with mr=4, nr=8, accumulating the
// tile in local variables.
func igemmKernel4x8Go(kg int, a []byte, lda int, b []int8, init, c []int32, ldc int, add, flip bool) {
	x := byte(0)
	if flip {
		x = 0x80
	}
	var acc [4][8]int32
	for i := range acc {
		acc[i] = *(*[8]int32)(init)
	}
	b = b[:32*kg]
	var rows [4][]byte
	for i := range rows {
		rows[i] = a[i*lda : i*lda+4*kg]
	}
	for g := 0; g < kg; g++ {
		bg := (*[32]int8)(b[g*32:])
		for i := range acc {
			ag := (*[4]byte)(rows[i][4*g:])
			a0, a1, a2, a3 := int32(ag[0]^x), int32(ag[1]^x), int32(ag[2]^x), int32(ag[3]^x)
			r := &acc[i]
			for j := range r {
				r[j] += a0*int32(bg[4*j]) + a1*int32(bg[4*j+1]) + a2*int32(bg[4*j+2]) + a3*int32(bg[4*j+3])
			}
		}
	}
	for i := range acc {
		row := (*[8]int32)(c[i*ldc:])
		if add {
			for j, v := range acc[i] {
				row[j] += v
			}
		} else {
			*row = acc[i]
		}
	}
}
