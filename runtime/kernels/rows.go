// This file holds the row kernels behind direct depthwise convolution and
// pooling: a sum of scaled rows, a maximum of rows, and the split of a row
// into its even and odd elements, with their portable loops.

package kernels

import "fmt"

// checkRows panics unless every src[off[t] : off[t]+n] is in range.
func checkRows(n int, src []float32, off []int) {
	for _, o := range off {
		if o < 0 || o+n > len(src) {
			panic(fmt.Sprintf("kernels: row at offset %d of length %d is outside a source of %d", o, n, len(src)))
		}
	}
}

// ConvRows sets dst[i] = bias + Σ_t w[t]·src[off[t]+i] for i < len(dst),
// adding the taps in order of t. On amd64 with AVX2/FMA or AVX-512 each
// step is a fused multiply-add for every element alike.
func ConvRows(dst []float32, bias float32, src []float32, off []int, w []float32) {
	if len(off) != len(w) {
		panic("kernels: ConvRows needs one weight per row")
	}
	if len(dst) == 0 {
		return
	}
	checkRows(len(dst), src, off)
	if len(off) == 0 {
		for i := range dst {
			dst[i] = bias
		}
		return
	}
	convRows(dst, bias, src, off, w)
}

func convRowsGo(dst []float32, bias float32, src []float32, off []int, w []float32) {
	for i := range dst {
		acc := bias
		for t, o := range off {
			acc += w[t] * src[o+i]
		}
		dst[i] = acc
	}
}

// ConvRows4 is ConvRows for four outputs sharing the rows: for j < 4,
// dst[j*ldd+i] = bias[j] + Σ_t w[4t+j]·src[off[t]+i] for i < n, each
// output rounded exactly as ConvRows rounds it.
func ConvRows4(dst []float32, ldd, n int, bias []float32, src []float32, off []int, w []float32) {
	if len(w) != 4*len(off) || len(bias) < 4 {
		panic("kernels: ConvRows4 needs four weights per row and four biases")
	}
	if n <= 0 {
		return
	}
	if ldd < n || len(dst) < 3*ldd+n {
		panic("kernels: ConvRows4 destination is too short")
	}
	checkRows(n, src, off)
	if len(off) == 0 {
		for j := 0; j < 4; j++ {
			fill32(dst[j*ldd:j*ldd+n], bias[j])
		}
		return
	}
	convRows4(dst, ldd, n, bias, src, off, w)
}

func fill32(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// convRows4Split computes ConvRows4 as four ConvRows calls.
func convRows4Split(dst []float32, ldd, n int, bias []float32, src []float32, off []int, w []float32) {
	wj := make([]float32, len(off))
	for j := 0; j < 4; j++ {
		for t := range off {
			wj[t] = w[4*t+j]
		}
		convRows(dst[j*ldd:j*ldd+n], bias[j], src, off, wj)
	}
}

// MaxRows sets dst[i] to the largest src[off[t]+i]: starting from the
// first row, each further value v replaces the running m unless m > v (so
// a NaN row value replaces m, as the x86 MAXPS instruction does).
func MaxRows(dst []float32, src []float32, off []int) {
	if len(dst) == 0 {
		return
	}
	if len(off) == 0 {
		panic("kernels: MaxRows needs at least one row")
	}
	checkRows(len(dst), src, off)
	maxRows(dst, src, off)
}

func maxRowsGo(dst []float32, src []float32, off []int) {
	for i := range dst {
		m := src[off[0]+i]
		for _, o := range off[1:] {
			if v := src[o+i]; !(m > v) {
				m = v
			}
		}
		dst[i] = m
	}
}

// Deinterleave sets even[i] = src[2i] and odd[i] = src[2i+1]; even holds
// (len(src)+1)/2 values and odd len(src)/2.
func Deinterleave(even, odd, src []float32) {
	if len(even) != (len(src)+1)/2 || len(odd) != len(src)/2 {
		panic("kernels: Deinterleave lengths do not match")
	}
	deinterleave(even, odd, src)
}

func deinterleaveGo(even, odd, src []float32) { deinterleaveAny(even, odd, src) }

// deinterleaveAny is the plain loop of Deinterleave and DeinterleaveBytes.
func deinterleaveAny[T byte | float32](even, odd, src []T) {
	for i := range odd {
		even[i] = src[2*i]
		odd[i] = src[2*i+1]
	}
	if len(even) > len(odd) {
		even[len(odd)] = src[len(src)-1]
	}
}

// Interleave sets dst[2i] = even[i] and dst[2i+1] = odd[i]; even holds
// (len(dst)+1)/2 values and odd len(dst)/2.
func Interleave(dst, even, odd []float32) {
	if len(even) != (len(dst)+1)/2 || len(odd) != len(dst)/2 {
		panic("kernels: Interleave lengths do not match")
	}
	interleave(dst, even, odd)
}

func interleaveGo(dst, even, odd []float32) { interleaveAny(dst, even, odd) }

// interleaveAny is the plain loop of Interleave and InterleaveBytes.
func interleaveAny[T byte | float32](dst, even, odd []T) {
	for i := range odd {
		dst[2*i] = even[i]
		dst[2*i+1] = odd[i]
	}
	if len(even) > len(odd) {
		dst[len(dst)-1] = even[len(odd)]
	}
}
