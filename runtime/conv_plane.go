// This file holds the plane layout behind the direct (row-kernel) paths of
// depthwise convolution and 1-D/2-D pooling.
//
// A plane is copied, padded, into sh×sw phase blocks (rows modulo the
// vertical stride, columns modulo the horizontal one), all with the same
// pitch. Output (oy, ox) then reads, for kernel tap t, element
// taps[t] + oy·pitch + ox of the layout: every tap is one contiguous run
// over the whole output plane (computed at the pitch's width, the columns
// past ow being discarded), so a single row-kernel call produces a plane.

package runtime

import "github.com/onnxq/onnxq/runtime/kernels"

type planeWindow struct {
	ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw int
	rows, pitch                                    int    // of each phase block
	used                                           []bool // blocks some tap reads
	size                                           int    // floats in a layout
	taps                                           []int  // offset of tap ky·kw+kx for output (0, 0)
	n                                              int    // (oh-1)·pitch + ow
}

// planeDims views a 1-D window as 2-D with a height of one: the sizes of
// a planeWindow, without its layout.
func planeDims(win *window) *planeWindow {
	p := &planeWindow{ih: 1, iw: win.in[0], oh: 1, ow: win.out[0], kh: 1, kw: win.k[0],
		sh: 1, sw: win.s[0], dh: 1, dw: win.d[0], pw: win.padB[0]}
	if len(win.in) == 2 {
		p.ih, p.iw, p.oh, p.ow, p.kh, p.kw = win.in[0], win.in[1], win.out[0], win.out[1], win.k[0], win.k[1]
		p.sh, p.sw, p.dh, p.dw, p.ph, p.pw = win.s[0], win.s[1], win.d[0], win.d[1], win.padB[0], win.padB[1]
	}
	return p
}

// newPlaneWindow lays a 1-D or 2-D window out in phase blocks; only for a
// window layoutFits accepts (the blocks number sh·sw).
func newPlaneWindow(win *window) *planeWindow {
	p := planeDims(win)
	p.rows = p.oh + (p.kh-1)*p.dh/p.sh
	p.pitch = p.ow + (p.kw-1)*p.dw/p.sw
	p.used = make([]bool, p.sh*p.sw)
	p.taps = make([]int, p.kh*p.kw)
	block := p.rows * p.pitch
	for ky := 0; ky < p.kh; ky++ {
		ay := ky * p.dh
		for kx := 0; kx < p.kw; kx++ {
			ax := kx * p.dw
			b := (ay%p.sh)*p.sw + ax%p.sw
			p.used[b] = true
			p.taps[ky*p.kw+kx] = b*block + ay/p.sh*p.pitch + ax/p.sw
		}
	}
	p.size = p.sh * p.sw * block
	p.n = (p.oh-1)*p.pitch + p.ow
	return p
}

// layoutFits reports whether a window can use the plane layout: 1-D or
// 2-D, and a layout not much larger than the input and output planes
// (huge pads or dilations would make it so; the other paths do not
// allocate by them).
func layoutFits(win *window) bool {
	if len(win.in) > 2 {
		return false
	}
	// The layout's size, in float64 so that no product overflows.
	size := 1.0
	for i := range win.in {
		rows := float64(win.out[i]) + float64(win.k[i]-1)*float64(win.d[i])/float64(win.s[i])
		size *= float64(win.s[i]) * (rows + 1)
	}
	return size <= 4*float64(product(win.in)+product(win.out))+1<<16
}

// layout copies the plane src (ih×iw) into buf (p.size floats), padding
// with pad; tmp holds at least iw floats of scratch.
func (p *planeWindow) layout(buf, src []float32, pad float32, tmp []float32) {
	block := p.rows * p.pitch
	for qy := 0; qy < p.sh; qy++ {
		for r := 0; r < p.rows; r++ {
			iy := r*p.sh + qy - p.ph
			var row []float32
			if iy >= 0 && iy < p.ih {
				row = src[iy*p.iw : (iy+1)*p.iw]
			}
			if p.sw == 2 && row != nil && p.splitInPlace(buf, row, qy, r, pad) {
				continue
			}
			var even, odd []float32
			if p.sw == 2 && row != nil {
				// Split the row once; each column phase is then a
				// shifted copy of one half.
				even, odd = tmp[:(p.iw+1)/2], tmp[(p.iw+1)/2:p.iw]
				kernels.Deinterleave(even, odd, row)
			}
			for qx := 0; qx < p.sw; qx++ {
				b := qy*p.sw + qx
				if !p.used[b] {
					continue
				}
				dst := buf[b*block+r*p.pitch : b*block+(r+1)*p.pitch]
				if row == nil {
					fill(dst, pad)
					continue
				}
				// Entry t is input column t·sw + a.
				a := qx - p.pw
				part, base, step := row, a, p.sw
				if p.sw == 2 {
					part, base, step = even, floorDiv(a, 2), 1
					if a-2*base != 0 {
						part = odd
					}
				}
				lo, hi := validRange(base, step, len(part), p.pitch)
				if lo >= hi {
					fill(dst, pad)
					continue
				}
				fill(dst[:lo], pad)
				fill(dst[hi:], pad)
				if step == 1 {
					copy(dst[lo:hi], part[lo+base:])
					continue
				}
				for t := lo; t < hi; t++ {
					dst[t] = part[t*step+base]
				}
			}
		}
	}
}

// splitInPlace lays out row r of both column phases of row phase qy
// (stride 2) by splitting the input row straight into them, when both
// halves fit whole; it reports whether it did.
func (p *planeWindow) splitInPlace(buf, row []float32, qy, r int, pad float32) bool {
	if !p.used[qy*2] || !p.used[qy*2+1] {
		return false
	}
	block := p.rows * p.pitch
	var dst [2][]float32 // destination of the even and the odd half
	halves := [2]int{(p.iw + 1) / 2, p.iw / 2}
	for qx := 0; qx < 2; qx++ {
		a := qx - p.pw
		base := floorDiv(a, 2)
		half := a - 2*base // 0: entries read even columns, 1: odd
		if base > 0 || halves[half]-base > p.pitch {
			return false
		}
		d := buf[(qy*2+qx)*block+r*p.pitch : (qy*2+qx)*block+(r+1)*p.pitch]
		fill(d[:-base], pad)
		fill(d[halves[half]-base:], pad)
		dst[half] = d[-base : halves[half]-base]
	}
	if dst[0] == nil || dst[1] == nil {
		return false
	}
	kernels.Deinterleave(dst[0], dst[1], row)
	return true
}

// scratch returns n floats (not zeroed) from the scratch pool and the
// function that gives them back.
func scratch(n int) ([]float32, func()) {
	p := getScratch(n)
	return *p, func() { scratchPool.Put(p) }
}

// compact copies the oh rows of a result computed at the pitch's width
// into the dense output plane.
func (p *planeWindow) compact(dst, wide []float32) {
	for oy := 0; oy < p.oh; oy++ {
		copy(dst[oy*p.ow:(oy+1)*p.ow], wide[oy*p.pitch:oy*p.pitch+p.ow])
	}
}

// depthwiseF32 runs a convolution with one input channel per group (1-D
// or 2-D) directly: each output plane is the bias plus every kernel tap's
// weight times its run of the laid-out input plane, taps in row-major
// order (padding taps add w·0).
func depthwiseF32(ctx *Context, s *convShape, x, w, bias, y []float32) {
	p := newPlaneWindow(s.win)
	mult := s.coutG
	kk := p.kh * p.kw
	ctx.Parallel(s.n*s.c, func(lo, hi int) {
		buf, done := scratch(p.size)
		defer done()
		tmp := make([]float32, p.iw)
		var wide []float32
		if p.pitch != p.ow {
			w, done := scratch(p.n)
			defer done()
			wide = w
		}
		for idx := lo; idx < hi; idx++ {
			n, c := idx/s.c, idx%s.c
			p.layout(buf, x[idx*p.ih*p.iw:(idx+1)*p.ih*p.iw], 0, tmp)
			for j := 0; j < mult; j++ {
				oc := c*mult + j
				dst := y[(n*s.m+oc)*p.oh*p.ow : (n*s.m+oc+1)*p.oh*p.ow]
				var b float32
				if bias != nil {
					b = bias[oc]
				}
				wk := w[oc*kk : (oc+1)*kk]
				if wide == nil {
					kernels.ConvRows(dst, b, buf, p.taps, wk)
					continue
				}
				kernels.ConvRows(wide, b, buf, p.taps, wk)
				p.compact(dst, wide)
			}
		}
	})
}

// directConvF32 runs a 1-D or 2-D convolution without a GEMM: the input
// planes of an image are laid out once (a 1×1 unit-stride unpadded window
// reads them as they are), and each output plane is its bias plus every
// (input channel, kernel tap) weight times that tap's run, in weight
// order; four output channels of a group go through the rows together
// (kernels.ConvRows4), each rounded as alone.
func directConvF32(ctx *Context, s *convShape, x, w, bias, y []float32) {
	p := newPlaneWindow(s.win)
	kk := p.kh * p.kw
	K := s.cinG * kk
	taps := make([]int, K)
	for c := 0; c < s.cinG; c++ {
		for t, o := range p.taps {
			taps[c*kk+t] = c*p.size + o
		}
	}
	// A 1×1 unit-stride unpadded window reads the input as it is.
	var buf []float32
	if !s.pointwise {
		bufp := getScratch(s.c * p.size)
		defer scratchPool.Put(bufp)
		buf = *bufp
	}
	for n := 0; n < s.n; n++ {
		if s.pointwise {
			buf = x[n*s.c*p.size : (n+1)*s.c*p.size]
		} else {
			ctx.Parallel(s.c, func(lo, hi int) {
				tmp := make([]float32, p.iw)
				for c := lo; c < hi; c++ {
					p.layout(buf[c*p.size:(c+1)*p.size], x[(n*s.c+c)*p.ih*p.iw:(n*s.c+c+1)*p.ih*p.iw], 0, tmp)
				}
			})
		}
		// Work units: up to four output channels of one group, which
		// share their input rows.
		type unit struct{ m, count int }
		var units []unit
		for g := 0; g < s.group; g++ {
			for m := g * s.coutG; m < (g+1)*s.coutG; m += 4 {
				units = append(units, unit{m, min(4, (g+1)*s.coutG-m)})
			}
		}
		plane := p.oh * p.ow
		ctx.Parallel(len(units), func(lo, hi int) {
			var wide []float32
			if p.pitch != p.ow {
				w, done := scratch(4 * p.n)
				defer done()
				wide = w
			}
			w4 := make([]float32, 4*K)
			var b4 [4]float32
			for _, u := range units[lo:hi] {
				g := u.m / s.coutG
				src := buf[g*s.cinG*p.size : (g+1)*s.cinG*p.size]
				dst := y[(n*s.m+u.m)*plane : (n*s.m+u.m+u.count)*plane]
				if u.count < 4 {
					for j := 0; j < u.count; j++ {
						var b float32
						if bias != nil {
							b = bias[u.m+j]
						}
						wm := w[(u.m+j)*K : (u.m+j+1)*K]
						d := dst[j*plane : (j+1)*plane]
						if wide == nil {
							kernels.ConvRows(d, b, src, taps, wm)
							continue
						}
						kernels.ConvRows(wide[:p.n], b, src, taps, wm)
						p.compact(d, wide)
					}
					continue
				}
				for j := 0; j < 4; j++ {
					b4[j] = 0
					if bias != nil {
						b4[j] = bias[u.m+j]
					}
					for t := 0; t < K; t++ {
						w4[4*t+j] = w[(u.m+j)*K+t]
					}
				}
				if wide == nil {
					kernels.ConvRows4(dst, plane, p.n, b4[:], src, taps, w4)
					continue
				}
				kernels.ConvRows4(wide, p.n, p.n, b4[:], src, taps, w4)
				for j := 0; j < 4; j++ {
					p.compact(dst[j*plane:(j+1)*plane], wide[j*p.n:(j+1)*p.n])
				}
			}
		})
	}
}

// transposeScatters reports whether a ConvTranspose window never sends two
// kernel taps of one input to the same output ((k-1)·d < s on every
// axis, 1-D or 2-D): each output then receives at most one product sum.
func transposeScatters(win *window) bool {
	if len(win.in) > 2 {
		return false
	}
	for i := range win.k {
		if (win.k[i]-1)*win.d[i] >= win.s[i] {
			return false
		}
	}
	return true
}

// convTransposeScatterF32 runs a ConvTranspose whose kernel taps do not
// overlap: for each output channel and kernel tap, the plane
// bias + Σ_c w[c, o, tap]·x[c] over the input positions (kernels.ConvRows4,
// input channels in order) is written to the outputs that tap reaches;
// outputs no tap reaches keep the bias.
func convTransposeScatterF32(ctx *Context, s *transposeShape, x, w, bias, y []float32) {
	win := s.win
	ih, iw, oh, ow, kh, kw := 1, win.in[0], 1, win.out[0], 1, win.k[0]
	sh, sw, dh, dw, ph, pw := 1, win.s[0], 1, win.d[0], 0, win.padB[0]
	if len(win.in) == 2 {
		ih, iw, oh, ow, kh, kw = win.in[0], win.in[1], win.out[0], win.out[1], win.k[0], win.k[1]
		sh, sw, dh, dw, ph, pw = win.s[0], win.s[1], win.d[0], win.d[1], win.padB[0], win.padB[1]
	}
	// Whether every output is reached (else the plane starts as bias).
	covered := func(in, out, k, st, d, p int) bool {
		hit := make([]bool, out)
		for i := 0; i < in; i++ {
			for t := 0; t < k; t++ {
				if o := i*st - p + t*d; o >= 0 && o < out {
					hit[o] = true
				}
			}
		}
		for _, h := range hit {
			if !h {
				return false
			}
		}
		return true
	}
	full := covered(ih, oh, kh, sh, dh, ph) && covered(iw, ow, kw, sw, dw, pw)
	// A 2-wide, stride-2 kernel row fills whole output rows in pairs.
	pairs := kw == 2 && sw == 2 && dw == 1 && pw == 0 && ow == 2*iw
	inPlane, outPlane, kk := ih*iw, oh*ow, kh*kw
	taps := make([]int, s.cinG)
	for c := range taps {
		taps[c] = c * inPlane
	}
	for n := 0; n < s.n; n++ {
		for g := 0; g < s.group; g++ {
			xg := x[(n*s.c+g*s.cinG)*inPlane : (n*s.c+(g+1)*s.cinG)*inPlane]
			ctx.Parallel(s.coutG, func(lo, hi int) {
				res, done := scratch(4 * inPlane)
				defer done()
				w4 := make([]float32, 4*s.cinG)
				var b4 [4]float32
				for o := lo; o < hi; o++ {
					oc := g*s.coutG + o
					dst := y[(n*s.m+oc)*outPlane : (n*s.m+oc+1)*outPlane]
					var b float32
					if bias != nil {
						b = bias[oc]
					}
					if !full {
						fill(dst, b)
					}
					b4 = [4]float32{b, b, b, b}
					for k0 := 0; k0 < kk; k0 += 4 {
						cnt := min(4, kk-k0)
						for j := 0; j < 4; j++ {
							for c := 0; c < s.cinG; c++ {
								var v float32
								if j < cnt {
									v = w[((g*s.cinG+c)*s.coutG+o)*kk+k0+j]
								}
								w4[4*c+j] = v
							}
						}
						if s.cinG == 0 {
							for j := 0; j < 4; j++ {
								fill(res[j*inPlane:(j+1)*inPlane], b)
							}
						} else {
							kernels.ConvRows4(res, inPlane, inPlane, b4[:], xg, taps, w4)
						}
						for j := 0; j < cnt; j++ {
							ky, kx := (k0+j)/kw, (k0+j)%kw
							if pairs && kx == 0 && j+1 < cnt {
								// Taps (ky, 0) and (ky, 1) fill the even
								// and odd columns of one output row.
								r0 := res[j*inPlane : (j+1)*inPlane]
								r1 := res[(j+1)*inPlane : (j+2)*inPlane]
								for iy := 0; iy < ih; iy++ {
									if oy := iy*sh - ph + ky*dh; oy >= 0 && oy < oh {
										kernels.Interleave(dst[oy*ow:(oy+1)*ow], r0[iy*iw:(iy+1)*iw], r1[iy*iw:(iy+1)*iw])
									}
								}
								j++
								continue
							}
							off := kx*dw - pw
							lo, hi := validRange(off, sw, ow, iw)
							r := res[j*inPlane : (j+1)*inPlane]
							for iy := 0; iy < ih; iy++ {
								oy := iy*sh - ph + ky*dh
								if oy < 0 || oy >= oh || lo >= hi {
									continue
								}
								d := dst[oy*ow : (oy+1)*ow]
								src := r[iy*iw : (iy+1)*iw]
								for ix := lo; ix < hi; ix++ {
									d[ix*sw+off] = src[ix]
								}
							}
						}
					}
				}
			})
		}
	}
}
