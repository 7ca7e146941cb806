// This file holds the portable microkernel, used when no assembly kernel
// runs on the CPU or with the build tag noasm.

package kernels

var goKernel = sgemmKernel{name: "go", mr: 4, nr: 8, fn: kernel4x8Go}

// kernel4x8Go is kernelRef with mr=4, nr=8, accumulating each row of the
// tile in local variables.
func kernel4x8Go(k int, a, b, c []float32, ldc int, add bool) {
	var acc [4][8]float32
	a = a[:4*k]
	b = b[:8*k]
	for p := 0; p < k; p++ {
		bp := (*[8]float32)(b[p*8:])
		ap := (*[4]float32)(a[p*4:])
		for i, av := range ap {
			r := &acc[i]
			r[0] += av * bp[0]
			r[1] += av * bp[1]
			r[2] += av * bp[2]
			r[3] += av * bp[3]
			r[4] += av * bp[4]
			r[5] += av * bp[5]
			r[6] += av * bp[6]
			r[7] += av * bp[7]
		}
	}
	for i := range acc {
		row := (*[8]float32)(c[i*ldc:])
		if add {
			for j, v := range acc[i] {
				row[j] = row[j] + v
			}
		} else {
			*row = acc[i]
		}
	}
}
