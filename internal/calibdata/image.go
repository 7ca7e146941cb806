// image.go turns png/jpeg files into input tensors: decode, bilinear
// resize, channel order, scaling and normalisation, layout.

package calibdata

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the jpeg decoder
	_ "image/png"  // registers the png decoder
	"math"
	"path/filepath"
	"strings"
	"sync"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
)

// ImageOptions says how images become an input tensor. Pixels are first
// scaled to [0,1] (value/255), then normalised per channel as
// (x - Mean[c]) / Std[c]; Mean and Std are therefore in [0,1] units
// (ImageNet: Mean 0.485,0.456,0.406, Std 0.229,0.224,0.225; raw 0..255
// pixels: Std 1/255). Channels are counted in the order the model gets
// them (after the BGR swap).
type ImageOptions struct {
	// Size is the model's image height and width; zero takes them from the
	// input's declared shape.
	Size [2]int
	// Mean and Std hold one value per channel, or one for all channels;
	// empty means 0 and 1.
	Mean, Std []float32
	// Layout is "nchw" or "nhwc"; empty guesses from the input's shape
	// (channels last when dimension 3 is 1 or 3 and dimension 1 is not).
	Layout string
	// BGR feeds the channels in blue, green, red order.
	BGR bool
}

// imageSpec is an ImageOptions resolved against a model input.
type imageSpec struct {
	h, w, c   int
	nhwc, bgr bool
	mean, std []float32
	dtype     graph.DType // float32, or a half-precision type the values are rounded to
}

func resolveImage(in Input, o ImageOptions) (imageSpec, error) {
	what := fmt.Sprintf("input %q (%s)", in.Name, graph.TypeString(in.DType, in.Shape))
	if in.DType != graph.Float32 && in.DType != graph.Float16 && in.DType != graph.BFloat16 {
		return imageSpec{}, fmt.Errorf("images can only feed a float32, float16 or bfloat16 input; %s is not", what)
	}
	if len(in.Shape) != 4 {
		return imageSpec{}, fmt.Errorf("images can only feed a 4-D input (N,C,H,W or N,H,W,C); %s is not", what)
	}
	dim := func(i int) int {
		if in.Shape[i].Known() {
			return int(in.Shape[i].Size)
		}
		return -1
	}
	s := imageSpec{bgr: o.BGR, dtype: in.DType}
	switch strings.ToLower(o.Layout) {
	case "nchw":
	case "nhwc":
		s.nhwc = true
	case "":
		c1, c3 := dim(1), dim(3)
		s.nhwc = (c3 == 1 || c3 == 3) && c1 != 1 && c1 != 3
	default:
		return imageSpec{}, fmt.Errorf("image layout %q: want nchw or nhwc", o.Layout)
	}
	cAxis, hAxis, wAxis := 1, 2, 3
	if s.nhwc {
		cAxis, hAxis, wAxis = 3, 1, 2
	}
	if b := dim(0); b != -1 && b != 1 {
		return imageSpec{}, fmt.Errorf("images feed one at a time; %s has batch size %d", what, b)
	}
	s.c = dim(cAxis)
	if s.c == -1 {
		s.c = 3
	}
	if s.c != 1 && s.c != 3 {
		hint := ""
		if o.Layout != "" {
			hint = fmt.Sprintf(" (--layout %s puts them there)", strings.ToLower(o.Layout))
		}
		return imageSpec{}, fmt.Errorf("%s has %d channels on axis %d%s; images give 1 (grey) or 3", what, s.c, cAxis, hint)
	}
	s.h, s.w = o.Size[0], o.Size[1]
	if s.h == 0 && s.w == 0 {
		s.h, s.w = dim(hAxis), dim(wAxis)
		if s.h == -1 || s.w == -1 {
			return imageSpec{}, fmt.Errorf("%s has a symbolic height or width: give the image size", what)
		}
	}
	if s.h <= 0 || s.w <= 0 || s.h > 1<<14 || s.w > 1<<14 {
		return imageSpec{}, fmt.Errorf("image size %dx%d: want a height and width in 1..16384", s.h, s.w)
	}
	if (dim(hAxis) != -1 && dim(hAxis) != s.h) || (dim(wAxis) != -1 && dim(wAxis) != s.w) {
		return imageSpec{}, fmt.Errorf("image size %dx%d does not fit %s", s.h, s.w, what)
	}
	var err error
	if s.mean, err = perChannel("mean", o.Mean, s.c, 0); err != nil {
		return imageSpec{}, err
	}
	if s.std, err = perChannel("std", o.Std, s.c, 1); err != nil {
		return imageSpec{}, err
	}
	for _, v := range s.std {
		if v == 0 || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return imageSpec{}, fmt.Errorf("image std %v: every value must be finite and non-zero", o.Std)
		}
	}
	return s, nil
}

func perChannel(what string, v []float32, c int, def float32) ([]float32, error) {
	out := make([]float32, c)
	switch len(v) {
	case 0:
		for i := range out {
			out[i] = def
		}
	case 1:
		for i := range out {
			out[i] = v[0]
		}
	case c:
		copy(out, v)
	default:
		return nil, fmt.Errorf("image %s has %d values; the input has %d channels (give 1 or %d)", what, len(v), c, c)
	}
	for _, x := range out {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("image %s %v: values must be finite", what, v)
		}
	}
	return out, nil
}

func imageSource(dir string, files []string, inputs []Input, o ImageOptions) (*Source, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%s: images can only feed a model with one input; this one has %d (%s)", dir, len(inputs), strings.Join(inputNames(inputs), ", "))
	}
	in := inputs[0]
	spec, err := resolveImage(in, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	// Every pass over the samples reads them again (calibration, bias
	// correction, the method and unit choices...): each image is decoded
	// once and its small resized tensor kept, up to imageCacheBytes.
	cache := make([]*runtime.Tensor, len(files))
	var cached int64
	var mu sync.Mutex
	return &Source{kind: "images", inputs: inputs, names: files, load: func(i int) (map[string]*runtime.Tensor, error) {
		p := filepath.Join(dir, files[i])
		mu.Lock()
		t := cache[i]
		mu.Unlock()
		if t == nil {
			var err error
			if t, err = readImage(p, spec); err != nil {
				return nil, err
			}
			mu.Lock()
			if cache[i] == nil && cached+t.Bytes() <= imageCacheBytes {
				cache[i], cached = t, cached+t.Bytes()
			}
			mu.Unlock()
		}
		out := map[string]*runtime.Tensor{in.Name: t}
		return out, check(inputs, out, map[string]string{in.Name: p})
	}}, nil
}

// imageCacheBytes bounds the resized image tensors a source keeps: 256
// MiB holds about 200 samples of 3x320x320.
const imageCacheBytes = 256 << 20

// maxImagePixels bounds the decoded size, so a crafted header cannot make
// the decoder allocate gigabytes.
const maxImagePixels = 1 << 26

func readImage(path string, s imageSpec) (*runtime.Tensor, error) {
	f, err := graph.OpenRead(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, plainError(err))
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: image does not decode: %v", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("%s: image is %dx%d, outside 1..%d pixels", path, cfg.Width, cfg.Height, maxImagePixels)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: image does not decode: %v", path, err)
	}
	if ycc, ok := img.(*image.YCbCr); ok {
		if rgb, ok := libjpegRGB(ycc); ok {
			img = rgb
		}
	}
	return imageTensor(img, s), nil
}

// imageTensor resizes img to s.h x s.w with bilinear interpolation
// (half-pixel centres, edges clamped) and lays it out as s says.
func imageTensor(img image.Image, s imageSpec) *runtime.Tensor {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	// Each output row and column maps to two source indices and a weight.
	taps := func(out, in int) []tap {
		t := make([]tap, out)
		scale := float64(in) / float64(out)
		for o := range t {
			p := (float64(o)+0.5)*scale - 0.5
			if p < 0 {
				p = 0
			}
			i0 := int(p)
			if i0 > in-1 {
				i0 = in - 1
			}
			i1 := i0 + 1
			if i1 > in-1 {
				i1 = in - 1
			}
			t[o] = tap{i0, i1, float32(p - float64(i0))}
		}
		return t
	}
	ty, tx := taps(s.h, sh), taps(s.w, sw)
	// Only the source rows and columns the taps name are read, as
	// float32 RGB in [0,1]: a large image costs its decoding, not a float
	// copy of every pixel.
	rowAt, rows := tapIndex(ty, sh)
	colAt, cols := tapIndex(tx, sw)
	src := make([]float32, len(rows)*len(cols)*3)
	for r, y := range rows {
		for c, x := range cols {
			px := straightRGB(img, b.Min.X+x, b.Min.Y+y)
			o := (r*len(cols) + c) * 3
			src[o] = float32(px.R) / 65535
			src[o+1] = float32(px.G) / 65535
			src[o+2] = float32(px.B) / 65535
		}
	}
	var shape []int
	if s.nhwc {
		shape = []int{1, s.h, s.w, s.c}
	} else {
		shape = []int{1, s.c, s.h, s.w}
	}
	out := runtime.New(graph.Float32, shape...)
	data := out.F32()
	var rgb [3]float32
	for y, vy := range ty {
		for x, vx := range tx {
			for ch := 0; ch < 3; ch++ {
				at := func(yy, xx int) float32 { return src[(rowAt[yy]*len(cols)+colAt[xx])*3+ch] }
				top := at(vy.i0, vx.i0)*(1-vx.f) + at(vy.i0, vx.i1)*vx.f
				bot := at(vy.i1, vx.i0)*(1-vx.f) + at(vy.i1, vx.i1)*vx.f
				rgb[ch] = top*(1-vy.f) + bot*vy.f
			}
			var px [3]float32
			switch {
			case s.c == 1 && rgb[0] == rgb[1] && rgb[1] == rgb[2]:
				px[0] = rgb[0] // grey already: as it is, not through the weights' rounding
			case s.c == 1:
				// ITU-R BT.601 luma, as image/color's Gray model uses.
				px[0] = 0.299*rgb[0] + 0.587*rgb[1] + 0.114*rgb[2]
			case s.bgr:
				px = [3]float32{rgb[2], rgb[1], rgb[0]}
			default:
				px = rgb
			}
			for ch := 0; ch < s.c; ch++ {
				v := (px[ch] - s.mean[ch]) / s.std[ch]
				if s.nhwc {
					data[(y*s.w+x)*s.c+ch] = v
				} else {
					data[(ch*s.h+y)*s.w+x] = v
				}
			}
		}
	}
	return asType(out, s.dtype)
}

// straightRGB is the colour of img's pixel at x, y with its alpha left
// out: the stored red, green and blue of a non-premultiplied image (a
// transparent pixel keeps its colour, as image readers that drop alpha
// give it), 16 bits each.
func straightRGB(img image.Image, x, y int) color.NRGBA64 {
	switch m := img.(type) {
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		return color.NRGBA64{R: uint16(m.Pix[i]) * 257, G: uint16(m.Pix[i+1]) * 257, B: uint16(m.Pix[i+2]) * 257, A: 0xffff}
	case *image.NRGBA64:
		i := m.PixOffset(x, y)
		p := m.Pix[i : i+6 : i+6]
		return color.NRGBA64{R: uint16(p[0])<<8 | uint16(p[1]), G: uint16(p[2])<<8 | uint16(p[3]), B: uint16(p[4])<<8 | uint16(p[5]), A: 0xffff}
	case *image.Paletted:
		if c, ok := m.Palette[m.ColorIndexAt(x, y)].(color.NRGBA); ok {
			return color.NRGBA64{R: uint16(c.R) * 257, G: uint16(c.G) * 257, B: uint16(c.B) * 257, A: 0xffff}
		}
	}
	return color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
}

// tap is one output row or column of the bilinear resize: the two source
// indices it reads and the weight of the second.
type tap struct {
	i0, i1 int
	f      float32
}

// tapIndex lists in order the source indices (of n) the taps read, and
// gives each index its place in that list (-1 for those not read).
func tapIndex(ts []tap, n int) (at, used []int) {
	at = make([]int, n)
	for i := range at {
		at[i] = -1
	}
	for _, t := range ts {
		at[t.i0], at[t.i1] = 0, 0
	}
	for i := range at {
		if at[i] == 0 {
			at[i] = len(used)
			used = append(used, i)
		}
	}
	return at, used
}

// asType rounds a float32 tensor to dt when dt is a half-precision type.
func asType(t *runtime.Tensor, dt graph.DType) *runtime.Tensor {
	if dt != graph.Float16 && dt != graph.BFloat16 {
		return t
	}
	out := runtime.New(dt, t.Shape...)
	switch d := out.Data.(type) {
	case []float16.Float16:
		for i, v := range t.F32() {
			d[i] = float16.Fromfloat32(v)
		}
	case []runtime.BFloat16:
		for i, v := range t.F32() {
			d[i] = runtime.BFloat16From(v)
		}
	}
	return out
}
