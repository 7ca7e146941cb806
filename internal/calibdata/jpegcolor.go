// jpegcolor.go turns a decoded JPEG's YCbCr planes into RGB the way
// libjpeg does by default, which PIL and OpenCV read JPEGs with: chroma
// subsampled 2x is interpolated ("fancy upsampling") rather than repeated,
// and the colour conversion uses libjpeg's fixed-point tables. Go's own
// conversion repeats each chroma sample, so a 4:2:0 photo read through it
// differs from those readers by up to 16 levels of 255 at colour edges.

package calibdata

import "image"

// libjpegRGB converts m to RGB as libjpeg does; ok is false for the
// subsampling ratios it leaves to Go (4:1:1, 4:1:0), whose upsampling
// libjpeg does not interpolate either.
func libjpegRGB(m *image.YCbCr) (out *image.NRGBA, ok bool) {
	b := m.Bounds()
	if b.Min != (image.Point{}) {
		return nil, false // not as the JPEG decoder makes them
	}
	w, h := b.Dx(), b.Dy()
	var hs, vs int // chroma subsampling, horizontal and vertical
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		return nil, false
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	plane := func(p []uint8) []uint8 {
		out := make([]uint8, cw*ch)
		for y := range ch {
			copy(out[y*cw:(y+1)*cw], p[y*m.CStride:y*m.CStride+cw])
		}
		return out
	}
	cb := upsample(plane(m.Cb), cw, ch, hs, vs)
	cr := upsample(plane(m.Cr), cw, ch, hs, vs)
	uw := cw * hs // the upsampled planes' width, cropped to w below
	out = image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			yy := int32(m.Y[y*m.YStride+x])
			u, v := int32(cb[y*uw+x])-128, int32(cr[y*uw+x])-128
			o := out.PixOffset(x, y)
			out.Pix[o] = clamp255(yy + (crR*v+half)>>scaleBits)
			out.Pix[o+1] = clamp255(yy + (cbG*u+half+crG*v)>>scaleBits)
			out.Pix[o+2] = clamp255(yy + (cbB*u+half)>>scaleBits)
			out.Pix[o+3] = 0xff
		}
	}
	return out, true
}

// libjpeg's YCbCr to RGB factors, in 16-bit fixed point.
const (
	scaleBits = 16
	half      = 1 << (scaleBits - 1)
	crR       = 91881  // 1.40200
	cbB       = 116130 // 1.77200
	crG       = -46802 // -0.71414
	cbG       = -22554 // -0.34414
)

func clamp255(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}

// upsample interpolates a w x h chroma plane by hs horizontally and vs
// vertically (1 or 2 each) with libjpeg's triangle filters and their
// rounding: each output sample weighs its nearer input 3/4 and the next
// nearer 1/4 along every doubled axis, the edges repeating. As in libjpeg,
// a plane doubled in width but under 3 samples wide is repeated instead.
func upsample(p []uint8, w, h, hs, vs int) []uint8 {
	repeat := hs == 2 && w <= 2
	at := func(x, y int) int32 {
		return int32(p[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)])
	}
	ow := w * hs
	out := make([]uint8, ow*h*vs)
	for y := range h {
		for v := range vs {
			row := out[(y*vs+v)*ow : (y*vs+v+1)*ow]
			// the row beside: above for the upper output row, below for
			// the lower
			near := y - 1
			if v == 1 {
				near = y + 1
			}
			switch {
			case repeat:
				for x := range ow {
					row[x] = uint8(at(x/2, y))
				}
			case hs == 2 && vs == 2:
				sum := func(x int) int32 { return 3*at(x, y) + at(x, near) }
				for x := range w {
					this := sum(x)
					if x == 0 {
						row[0] = uint8((this*4 + 8) >> 4)
					} else {
						row[2*x] = uint8((this*3 + sum(x-1) + 8) >> 4)
					}
					if x == w-1 {
						row[2*x+1] = uint8((this*4 + 7) >> 4)
					} else {
						row[2*x+1] = uint8((this*3 + sum(x+1) + 7) >> 4)
					}
				}
			case hs == 2:
				for x := range w {
					this := at(x, y)
					if x == 0 {
						row[0] = uint8(this)
					} else {
						row[2*x] = uint8((3*this + at(x-1, y) + 1) >> 2)
					}
					if x == w-1 {
						row[2*x+1] = uint8(this)
					} else {
						row[2*x+1] = uint8((3*this + at(x+1, y) + 2) >> 2)
					}
				}
			case vs == 2:
				bias := int32(1 + v)
				for x := range w {
					row[x] = uint8((3*at(x, y) + at(x, near) + bias) >> 2)
				}
			default:
				for x := range w {
					row[x] = uint8(at(x, y))
				}
			}
		}
	}
	return out
}
