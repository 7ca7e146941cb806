// This file holds max pooling of uint8 and int8 planes (1-D and 2-D)
// on the bytes themselves. ONNX MaxPool of 8-bit integers takes the
// largest value in the window; padding never wins. Each output row is the
// maximum of its window's input rows (kernels.MaxBytes) laid into a row
// padded with the type's smallest value, then, for each column tap, the
// maximum of that row's elements at the tap's offset and the stride
// (a stride-2 row is split into its even and odd elements first). A
// window entirely in the padding gives the smallest value, which is what
// the general path's -Inf saturates to.

package runtime

import "github.com/onnxq/onnxq/runtime/kernels"

// maxPoolBytesFits reports whether maxPoolBytes handles the window.
func maxPoolBytesFits(win *window) bool {
	return len(win.in) == 1 || len(win.in) == 2
}

// maxPoolBytes max-pools planes of x into y; signed reads the bytes as
// int8.
func maxPoolBytes(ctx *Context, win *window, x, y []byte, planes int, signed bool) {
	ih, oh, kh, sh, dh, padT := 1, 1, 1, 1, 1, 0
	if len(win.in) == 2 {
		ih, oh, kh, sh, dh, padT = win.in[0], win.out[0], win.k[0], win.s[0], win.d[0], win.padB[0]
	}
	last := len(win.in) - 1
	iw, ow, kw, sw, dw, padL := win.in[last], win.out[last], win.k[last], win.s[last], win.d[last], win.padB[last]
	var low byte // the smallest value: 0, or int8 -128
	if signed {
		low = 0x80
	}
	if len(win.in) == 2 && kh == 3 && kw == 3 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && padT == 1 && padL == 1 &&
		2*(oh-1)-1 < ih && 2*(ow-1)-1 < iw && 2*(oh-1)+1 <= ih && 2*(ow-1)+1 <= iw {
		// 3×3, stride 2, one row and column of padding (a ShuffleNet or
		// ResNet stem): every window reaches at most one padding row or
		// column on each side.
		ctx.Parallel(planes, func(first, end int) {
			buf := make([]byte, iw+66)
			for pl := first; pl < end; pl++ {
				kernels.MaxPool3x3S2(y[pl*oh*ow:(pl+1)*oh*ow], x[pl*ih*iw:(pl+1)*ih*iw], ih, iw, oh, ow, signed, buf)
			}
		})
		return
	}
	if len(win.in) == 2 && kh == 2 && kw == 2 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && padT == 0 && padL == 0 && 2*oh <= ih && 2*ow <= iw {
		// The common 2×2, stride-2 window, no padding: one pass per
		// output row over its two input rows.
		ctx.Parallel(planes, func(first, end int) {
			for pl := first; pl < end; pl++ {
				kernels.MaxPool2x2(y[pl*oh*ow:(pl+1)*oh*ow], x[pl*ih*iw:(pl+1)*ih*iw], iw, oh, ow, signed)
			}
		})
		return
	}
	// The padded row holds every column a tap reads.
	width := max(padL+iw, (ow-1)*sw+(kw-1)*dw+1)
	// With stride 2 each tap reads one half of the split row; larger
	// strides gather their columns.
	ctx.Parallel(planes, func(first, end int) {
		wide := make([]byte, width)
		var even, odd []byte
		var cols [][]byte
		switch {
		case sw == 2:
			even, odd = make([]byte, (width+1)/2), make([]byte, width/2)
		case sw > 2:
			cols = make([][]byte, kw)
			for i := range cols {
				cols[i] = make([]byte, ow)
			}
		}
		for i := range padL {
			wide[i] = low
		}
		for i := padL + iw; i < width; i++ {
			wide[i] = low
		}
		row := wide[padL : padL+iw]
		// The taps read fixed places of the per-goroutine buffers.
		taps := make([][]byte, kw)
		for kx := range taps {
			off := kx * dw
			switch {
			case sw == 1:
				taps[kx] = wide[off : off+ow]
			case sw == 2 && off%2 == 0:
				taps[kx] = even[off/2 : off/2+ow]
			case sw == 2:
				taps[kx] = odd[off/2 : off/2+ow]
			default:
				taps[kx] = cols[kx]
			}
		}
		for pl := first; pl < end; pl++ {
			src := x[pl*ih*iw : (pl+1)*ih*iw]
			dst := y[pl*oh*ow : (pl+1)*oh*ow]
			for oy := range oh {
				out := dst[oy*ow : (oy+1)*ow]
				// The window's rows inside the input: ky0 ≤ ky < ky1.
				base := oy*sh - padT
				ky0, ky1 := 0, kh
				for ky0 < kh && base+ky0*dh < 0 {
					ky0++
				}
				for ky1 > ky0 && base+(ky1-1)*dh >= ih {
					ky1--
				}
				if ky0 == ky1 {
					for i := range out {
						out[i] = low
					}
					continue
				}
				first := src[(base+ky0*dh)*iw:][:iw]
				if ky1-ky0 == 1 {
					copy(row, first)
				}
				for ky := ky0 + 1; ky < ky1; ky++ {
					in := src[(base+ky*dh)*iw:][:iw]
					if ky == ky0+1 {
						kernels.MaxBytes(row, first, in, signed)
					} else {
						kernels.MaxBytes(row, row, in, signed)
					}
				}
				switch {
				case sw == 2:
					kernels.DeinterleaveBytes(even, odd, wide)
				case sw > 2:
					for kx, c := range cols {
						off := kx * dw
						for ox := range c {
							c[ox] = wide[ox*sw+off]
						}
					}
				}
				if kw == 1 {
					copy(out, taps[0])
				}
				for kx := 1; kx < kw; kx++ {
					if kx == 1 {
						kernels.MaxBytes(out, taps[0], taps[1], signed)
					} else {
						kernels.MaxBytes(out, out, taps[kx], signed)
					}
				}
			}
		}
	})
}
