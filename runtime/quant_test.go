// Tests of the quantization kernels: bit-exact node-test outputs (float8
// and float4 included), integer convolutions against a plain loop,
// ONNX Runtime peer checks (when installed), rounding and saturation
// corners, and bad inputs.
package runtime

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// TestQuantNodeTestsBitExact runs the quantization node tests and compares
// every output bit for bit (the float8 and float4 patterns too, which a
// numeric comparison cannot read).
func TestQuantNodeTestsBitExact(t *testing.T) {
	var dirs []string
	for _, glob := range []string{"../../shared/onnx/node-tests/test_*", "/usr/share/libonnx-testdata/data/*/test_*"} {
		d, _ := filepath.Glob(glob)
		dirs = append(dirs, d...)
	}
	ran := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if !strings.Contains(name, "quantizelinear") || strings.Contains(name, "expanded") {
			continue
		}
		m, err := graph.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(m, Options{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		for _, set := range sets {
			ins := map[string]*Tensor{}
			for i, v := range s.Inputs() {
				p := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
				if _, err := os.Stat(p); err != nil {
					continue
				}
				if ins[v.Name], err = ReadTensorFile(p); err != nil {
					t.Fatal(err)
				}
			}
			outs, err := s.Run(ins)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for i, v := range s.Outputs() {
				want, err := ReadTensorFile(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := sameBits(outs[v.Name], want); err != nil {
					t.Errorf("%s %s: %v", name, v.Name, err)
				}
			}
			ran++
		}
	}
	if ran == 0 {
		t.Skip("no node tests found")
	}
}

// sameBits compares type, shape and the encoded bytes of two tensors.
func sameBits(got, want *Tensor) error {
	if got.DType != want.DType || !equalShape(got.Shape, want.Shape) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	g, err := ToGraph("g", got)
	if err != nil {
		return err
	}
	w, err := ToGraph("w", want)
	if err != nil {
		return err
	}
	gr, _ := g.Raw()
	wr, _ := w.Raw()
	if string(gr) != string(wr) {
		return fmt.Errorf("bytes %x, want %x", gr, wr)
	}
	return nil
}

func TestQuantizeRounding(t *testing.T) {
	k, err := newQuantize(&graph.Node{OpType: "QuantizeLinear"}, 21)
	if err != nil {
		t.Fatal(err)
	}
	x := FromFloat32([]int{8}, []float32{0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000, float32(math.NaN())})
	zp := New(graph.Int8)
	zp.Data.([]int8)[0] = 1
	out, err := k.Run(&Context{}, []*Tensor{x, Scalar(1), zp})
	if err != nil {
		t.Fatal(err)
	}
	want := []int8{1, 3, 3, 1, -1, 127, -128, -128} // NaN: the type's minimum, as in ONNX Runtime
	for i, w := range want {
		if g := out[0].Data.([]int8)[i]; g != w {
			t.Errorf("element %d (%v): %d, want %d", i, x.F32()[i], g, w)
		}
	}
	// Without a zero point the output is uint8.
	out, err = k.Run(&Context{}, []*Tensor{x, Scalar(2)})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType != graph.Uint8 || out[0].Data.([]uint8)[2] != 1 || out[0].Data.([]uint8)[5] != 255 || out[0].Data.([]uint8)[4] != 0 {
		t.Errorf("uint8 default: %v %v", out[0], out[0].Data)
	}
}

// TestQuantizeFloat8Saturate covers out-of-range values of the float8
// types with and without saturation.
func TestQuantizeFloat8Saturate(t *testing.T) {
	x := FromFloat32([]int{4}, []float32{1000, -1e6, float32(math.Inf(1)), 0.3})
	for _, c := range []struct {
		dt       graph.DType
		saturate int64
		want     []uint8
	}{
		{graph.Float8E4M3FN, 1, []uint8{0x7E, 0xFE, 0x7E, 0x2A}},
		{graph.Float8E4M3FN, 0, []uint8{0x7F, 0xFF, 0x7F, 0x2A}},
		{graph.Float8E5M2, 1, []uint8{0x64, 0xFB, 0x7B, 0x35}},
		{graph.Float8E5M2, 0, []uint8{0x64, 0xFC, 0x7C, 0x35}},
		{graph.Float8E4M3FNUZ, 0, []uint8{0x80, 0x80, 0x80, 0x32}},
	} {
		k, err := newQuantize(&graph.Node{OpType: "QuantizeLinear", Attrs: []*graph.Attribute{graph.IntAttr("saturate", c.saturate)}}, 21)
		if err != nil {
			t.Fatal(err)
		}
		zp := New(c.dt)
		out, err := k.Run(&Context{}, []*Tensor{x, Scalar(1), zp})
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.want {
			if g := out[0].Data.([]uint8)[i]; g != w {
				t.Errorf("%v saturate=%d element %d: %#x, want %#x", c.dt, c.saturate, i, g, w)
			}
		}
	}
}

func TestQuantLayouts(t *testing.T) {
	x := New(graph.Float32, 2, 5)
	for i := range x.F32() {
		x.F32()[i] = float32(i)
	}
	// Blocks of 2 along axis 1: scale shape [2, 3] (the last block short).
	scale := FromFloat32([]int{2, 3}, []float32{1, 2, 4, 1, 2, 4})
	k, err := newQuantize(&graph.Node{OpType: "QuantizeLinear", Attrs: []*graph.Attribute{graph.IntAttr("block_size", 2)}}, 21)
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.Run(&Context{}, []*Tensor{x, scale})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 1, 1, 2, 1, 5, 6, 4, 4, 2}
	for i, w := range want {
		if g := out[0].Data.([]uint8)[i]; g != w {
			t.Errorf("blocked element %d: %d, want %d", i, g, w)
		}
	}
	// Dequantize per axis 0 back.
	dk, err := newDequantize(&graph.Node{OpType: "DequantizeLinear", Attrs: []*graph.Attribute{graph.IntAttr("axis", 0)}}, 21)
	if err != nil {
		t.Fatal(err)
	}
	q := New(graph.Int8, 2, 2)
	copy(q.Data.([]int8), []int8{1, -2, 3, 4})
	zp := New(graph.Int8, 2)
	copy(zp.Data.([]int8), []int8{1, 2})
	dq, err := dk.Run(&Context{}, []*Tensor{q, FromFloat32([]int{2}, []float32{0.5, 2}), zp})
	if err != nil {
		t.Fatal(err)
	}
	cfCheck(t, "dequantize axis 0", dq[0], []int{2, 2}, 0, -1.5, 2, 4)
	// Bad layouts.
	for i, s := range []*Tensor{
		FromFloat32([]int{3}, []float32{1, 2, 3}),
		FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}),
	} {
		if _, err := k.Run(&Context{}, []*Tensor{x, s}); err == nil {
			t.Errorf("bad scale %d: no error", i)
		}
	}
}

func TestDynamicQuantizeLinear(t *testing.T) {
	for _, c := range []struct {
		x     []float32
		scale float32
		zp    uint8
	}{
		{[]float32{0, 2, -3, -2.5, 1.34, 0.5}, 5.0 / 255, 153},
		{[]float32{1, 2, 3}, 3.0 / 255, 0},
		{[]float32{0, 0}, 1.0 / 255, 0},
		{[]float32{-1, -2}, 2.0 / 255, 255},
	} {
		out, err := dynamicQuantize(&Context{}, []*Tensor{FromFloat32([]int{len(c.x)}, c.x)})
		if err != nil {
			t.Fatal(err)
		}
		if s := out[1].F32()[0]; s != c.scale {
			t.Errorf("%v: scale %v, want %v", c.x, s, c.scale)
		}
		if z := out[2].Data.([]uint8)[0]; z != c.zp {
			t.Errorf("%v: zero point %d, want %d", c.x, z, c.zp)
		}
	}
}

// refConv is a plain integer convolution loop for 1-D to 3-D inputs (as
// [N,C,D,H,W] with unit leading spatial sizes).
func refConv(x, w []int32, xs, ws []int, group int, strides, pads, dil []int, bias []int32) ([]int32, []int) {
	r := len(xs) - 2
	pad := func(s []int, v int) []int { // left-pad spatial lists to 3 axes
		return append(append([]int{}, []int{v, v, v}[:3-r]...), s...)
	}
	in := pad(xs[2:], 1)
	k := pad(ws[2:], 1)
	st := pad(strides, 1)
	dl := pad(dil, 1)
	pb := pad(pads[:r], 0)
	pe := pad(pads[r:], 0)
	out := make([]int, 3)
	for i := range out {
		out[i] = (in[i]+pb[i]+pe[i]-((k[i]-1)*dl[i]+1))/st[i] + 1
	}
	N, C, M := xs[0], xs[1], ws[0]
	cg, mg := C/group, M/group
	res := make([]int32, N*M*out[0]*out[1]*out[2])
	e := 0
	for n := 0; n < N; n++ {
		for m := 0; m < M; m++ {
			g := m / mg
			for o0 := 0; o0 < out[0]; o0++ {
				for o1 := 0; o1 < out[1]; o1++ {
					for o2 := 0; o2 < out[2]; o2++ {
						var s int32
						if bias != nil {
							s = bias[m]
						}
						for c := 0; c < cg; c++ {
							for k0 := 0; k0 < k[0]; k0++ {
								for k1 := 0; k1 < k[1]; k1++ {
									for k2 := 0; k2 < k[2]; k2++ {
										i0 := o0*st[0] - pb[0] + k0*dl[0]
										i1 := o1*st[1] - pb[1] + k1*dl[1]
										i2 := o2*st[2] - pb[2] + k2*dl[2]
										if i0 < 0 || i1 < 0 || i2 < 0 || i0 >= in[0] || i1 >= in[1] || i2 >= in[2] {
											continue
										}
										xi := (((n*C+g*cg+c)*in[0]+i0)*in[1]+i1)*in[2] + i2
										wi := (((m*cg+c)*k[0]+k0)*k[1]+k1)*k[2] + k2
										s += x[xi] * w[wi]
									}
								}
							}
						}
						res[e] = s
						e++
					}
				}
			}
		}
	}
	return res, append([]int{N, M}, out[3-r:]...)
}

// TestConvIntegerAgainstLoop checks the tiled im2col path against the
// plain loop over shapes that cross tile edges, groups, strides, pads,
// dilations and 1-D to 3-D.
func TestConvIntegerAgainstLoop(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	cases := []struct {
		xs, ws             []int
		group              int
		strides, pads, dil []int
	}{
		{[]int{1, 1, 3, 3}, []int{1, 1, 2, 2}, 1, []int{1, 1}, []int{0, 0, 0, 0}, []int{1, 1}},
		{[]int{2, 4, 17, 19}, []int{6, 2, 3, 3}, 2, []int{2, 1}, []int{1, 2, 0, 1}, []int{1, 2}},
		{[]int{1, 3, 23, 23}, []int{3, 1, 3, 3}, 3, []int{1, 1}, []int{1, 1, 1, 1}, []int{1, 1}},
		{[]int{1, 2, 300}, []int{4, 2, 5}, 1, []int{1}, []int{2, 2}, []int{1}},
		{[]int{1, 2, 5, 6, 7}, []int{2, 2, 2, 3, 2}, 1, []int{1, 2, 1}, []int{1, 0, 1, 0, 1, 1}, []int{2, 1, 1}},
		{[]int{1, 1, 16, 16}, []int{2, 1, 1, 1}, 1, []int{1, 1}, []int{0, 0, 0, 0}, []int{1, 1}},
	}
	for ci, c := range cases {
		x := New(graph.Uint8, c.xs...)
		for i := range x.Data.([]uint8) {
			x.Data.([]uint8)[i] = uint8(rng.Intn(256))
		}
		w := New(graph.Int8, c.ws...)
		for i := range w.Data.([]int8) {
			w.Data.([]int8)[i] = int8(rng.Intn(256) - 128)
		}
		xzp := New(graph.Uint8)
		xzp.Data.([]uint8)[0] = 131
		wzp := New(graph.Int8, c.ws[0])
		for i := range wzp.Data.([]int8) {
			wzp.Data.([]int8)[i] = int8(rng.Intn(9) - 4)
		}
		toI64 := func(v []int) []int64 {
			out := make([]int64, len(v))
			for i, x := range v {
				out[i] = int64(x)
			}
			return out
		}
		n := &graph.Node{OpType: "ConvInteger", Attrs: []*graph.Attribute{
			graph.IntAttr("group", int64(c.group)), graph.IntsAttr("strides", toI64(c.strides)...),
			graph.IntsAttr("pads", toI64(c.pads)...), graph.IntsAttr("dilations", toI64(c.dil)...)}}
		k, err := newIntConv(n, false)
		if err != nil {
			t.Fatal(err)
		}
		var ref []int32
		var shape []int
		for _, threads := range []int{1, 3} {
			out, err := k.Run(&Context{Threads: threads}, []*Tensor{x, w, xzp, wzp})
			if err != nil {
				t.Fatalf("case %d: %v", ci, err)
			}
			if ref == nil {
				xv, _ := int32sOf(x)
				for i := range xv {
					xv[i] -= 131
				}
				wv, _ := int32sOf(w)
				per := len(wv) / c.ws[0]
				for i := range wv {
					wv[i] -= int32(wzp.Data.([]int8)[i/per])
				}
				ref, shape = refConv(xv, wv, c.xs, c.ws, c.group, c.strides, c.pads, c.dil, nil)
			}
			if !equalShape(out[0].Shape, shape) {
				t.Fatalf("case %d: shape %v, want %v", ci, out[0].Shape, shape)
			}
			for i, v := range out[0].Data.([]int32) {
				if v != ref[i] {
					t.Fatalf("case %d threads %d: element %d is %d, want %d", ci, threads, i, v, ref[i])
				}
			}
		}
	}
}

// quantModel builds a one-node model whose inputs are all graph inputs.
func quantModel(t *testing.T, opset int64, op string, ins []*Tensor, names []string, attrs ...*graph.Attribute) (*graph.Model, map[string]*Tensor) {
	t.Helper()
	b := graph.NewBuilder(opset)
	feeds := map[string]*Tensor{}
	var args []any
	for i, v := range ins {
		if v == nil {
			args = append(args, nil)
			continue
		}
		dims := make([]int64, len(v.Shape))
		for j, d := range v.Shape {
			dims[j] = int64(d)
		}
		args = append(args, b.Input(names[i], v.DType, dims...))
		feeds[names[i]] = v
	}
	for _, a := range attrs {
		args = append(args, a)
	}
	b.Output(b.Op(op, args...))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m, feeds
}

func randInts(rng *rand.Rand, dt graph.DType, lo, hi int, shape ...int) *Tensor {
	x := New(dt, shape...)
	switch d := x.Data.(type) {
	case []uint8:
		for i := range d {
			d[i] = uint8(lo + rng.Intn(hi-lo+1))
		}
	case []int8:
		for i := range d {
			d[i] = int8(lo + rng.Intn(hi-lo+1))
		}
	case []int32:
		for i := range d {
			d[i] = int32(lo + rng.Intn(hi-lo+1))
		}
	}
	return x
}

// compareInts checks integer outputs: exactly, or within slack (the
// requantizing operators, where ONNX Runtime rounds a float32 product).
func compareInts(t *testing.T, name string, got, want *Tensor, slack float64) {
	t.Helper()
	if got.DType != want.DType || !equalShape(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
	g, _ := got.AsFloat64()
	w, _ := want.AsFloat64()
	off := 0
	for i := range w {
		if d := math.Abs(g[i] - w[i]); d > slack {
			t.Fatalf("%s: element %d is %v, want %v", name, i, g[i], w[i])
		} else if d > 0 {
			off++
		}
	}
	if off > len(w)/100+1 {
		t.Errorf("%s: %d of %d elements differ by one", name, off, len(w))
	}
}

// TestQuantAgainstORT compares the integer operators with ONNX Runtime.
func TestQuantAgainstORT(t *testing.T) {
	if !rqORTAvailable() {
		t.Skip("ONNX Runtime not installed (set ORT_NODE_DIR)")
	}
	rng := rand.New(rand.NewSource(5))
	scalar := func(v float32) *Tensor { return Scalar(v) }
	u8 := func(v uint8) *Tensor { x := New(graph.Uint8); x.Data.([]uint8)[0] = v; return x }
	i8 := func(v int8) *Tensor { x := New(graph.Int8); x.Data.([]int8)[0] = v; return x }
	ints := func(v ...int64) []int64 { return v }

	// QLinearConv: uint8 activations, int8 per-channel weights.
	for ci, c := range []struct {
		xs, ws []int
		attrs  []*graph.Attribute
	}{
		{[]int{1, 4, 13, 11}, []int{6, 2, 3, 3}, []*graph.Attribute{graph.IntAttr("group", 2), graph.IntsAttr("pads", ints(1, 1, 1, 1)...), graph.IntsAttr("strides", ints(2, 1)...)}},
		{[]int{2, 3, 20, 20}, []int{3, 1, 3, 3}, []*graph.Attribute{graph.IntAttr("group", 3), graph.IntsAttr("pads", ints(2, 1, 2, 0)...), graph.IntsAttr("dilations", ints(2, 2)...)}},
		{[]int{1, 3, 15, 16}, []int{5, 3, 3, 3}, []*graph.Attribute{graph.StringAttr("auto_pad", "SAME_UPPER"), graph.IntsAttr("strides", ints(2, 2)...)}},
		{[]int{1, 8, 9, 9}, []int{16, 8, 1, 1}, nil},
		{[]int{1, 2, 40}, []int{3, 2, 4}, []*graph.Attribute{graph.StringAttr("auto_pad", "SAME_LOWER"), graph.IntsAttr("strides", ints(3)...)}},
	} {
		m := c.ws[0]
		ws := New(graph.Float32, m)
		for i := range ws.F32() {
			ws.F32()[i] = 0.002 + rng.Float32()*0.01
		}
		wzp := New(graph.Int8, m)
		bias := randInts(rng, graph.Int32, -3000, 3000, m)
		ins := []*Tensor{randInts(rng, graph.Uint8, 0, 255, c.xs...), scalar(0.02), u8(120),
			randInts(rng, graph.Int8, -127, 127, c.ws...), ws, wzp, scalar(0.05), u8(110), bias}
		names := []string{"x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "B"}
		model, feeds := quantModel(t, 13, "QLinearConv", ins, names, c.attrs...)
		want := rqRunORT(t, model, feeds)
		got := rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			compareInts(t, fmt.Sprintf("QLinearConv case %d", ci), got[name], w, 1)
		}
	}
	// ConvInteger (ONNX Runtime takes a scalar weight zero point only).
	{
		ins := []*Tensor{randInts(rng, graph.Uint8, 0, 255, 1, 3, 10, 12), randInts(rng, graph.Uint8, 0, 255, 4, 3, 3, 3), u8(100), u8(131)}
		model, feeds := quantModel(t, 13, "ConvInteger", ins, []string{"x", "w", "xzp", "wzp"}, graph.IntsAttr("pads", ints(1, 0, 0, 2)...))
		want := rqRunORT(t, model, feeds)
		got := rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			compareInts(t, "ConvInteger", got[name], w, 0)
		}
	}
	// MatMulInteger with broadcast batches and per-row/column zero points.
	{
		ins := []*Tensor{randInts(rng, graph.Uint8, 0, 255, 2, 1, 5, 7), randInts(rng, graph.Int8, -128, 127, 3, 7, 4), u8(3), randInts(rng, graph.Int8, -5, 5, 3, 1, 4)}
		model, feeds := quantModel(t, 13, "MatMulInteger", ins, []string{"a", "b", "azp", "bzp"})
		want := rqRunORT(t, model, feeds)
		got := rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			compareInts(t, "MatMulInteger", got[name], w, 0)
		}
	}
	// QLinearMatMul, int8 and uint8, batched.
	for _, signed := range []bool{false, true} {
		dt, zp := graph.Uint8, u8(128)
		lo, hi := 0, 255
		if signed {
			dt, zp = graph.Int8, i8(-3)
			lo, hi = -128, 127
		}
		yzp := u8(125)
		if signed {
			yzp = i8(5)
		}
		ins := []*Tensor{randInts(rng, dt, lo, hi, 2, 3, 16), scalar(0.03), zp, randInts(rng, dt, lo, hi, 16, 5), scalar(0.01), zp, scalar(0.2), yzp}
		model, feeds := quantModel(t, 13, "QLinearMatMul", ins, []string{"a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"})
		want := rqRunORT(t, model, feeds)
		got := rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			compareInts(t, fmt.Sprintf("QLinearMatMul signed=%v", signed), got[name], w, 1)
		}
	}
	// QuantizeLinear per axis and DequantizeLinear, DynamicQuantizeLinear.
	{
		x := rqRandTensor(rng, 3, 2, 3, 4)
		s := FromFloat32([]int{3}, []float32{0.01, 0.02, 0.03})
		z := New(graph.Int8, 3)
		copy(z.Data.([]int8), []int8{0, 5, -7})
		model, feeds := quantModel(t, 13, "QuantizeLinear", []*Tensor{x, s, z}, []string{"x", "s", "z"})
		want := rqRunORT(t, model, feeds)
		got := rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			compareInts(t, "QuantizeLinear", got[name], w, 0)
		}
		q := randInts(rng, graph.Int8, -128, 127, 2, 3, 4)
		model, feeds = quantModel(t, 13, "DequantizeLinear", []*Tensor{q, s, z}, []string{"q", "s", "z"})
		want = rqRunORT(t, model, feeds)
		got = rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			if e, err := rqMaxRelErr(got[name], w); err != nil || e != 0 {
				t.Errorf("DequantizeLinear: error %g %v", e, err)
			}
		}
		feeds = map[string]*Tensor{"x": x}
		b := graph.NewBuilder(13)
		xv := b.Input("x", graph.Float32, 2, 3, 4)
		outs := b.OpN("DynamicQuantizeLinear", 3, xv)
		b.Output(outs...)
		model, err := b.Model()
		if err != nil {
			t.Fatal(err)
		}
		want = rqRunORT(t, model, feeds)
		got = rqRunModel(t, model, feeds, 2)
		for name, w := range want {
			if w.DType == graph.Float32 {
				if e, err := rqMaxRelErr(got[name], w); err != nil || e > 1e-7 {
					t.Errorf("DynamicQuantizeLinear %s: error %g %v", name, e, err)
				}
			} else {
				compareInts(t, "DynamicQuantizeLinear "+name, got[name], w, 0)
			}
		}
	}
}

// TestQuantBadInputs checks wrong types, shapes and attributes give errors.
func TestQuantBadInputs(t *testing.T) {
	u8s := func(shape ...int) *Tensor { return New(graph.Uint8, shape...) }
	f := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	one := Scalar(1)
	ctx := &Context{Threads: 1}
	if _, err := newQuantize(&graph.Node{Attrs: []*graph.Attribute{graph.IntAttr("output_dtype", int64(graph.Float32))}}, 21); err == nil {
		t.Error("QuantizeLinear to float32: no error")
	}
	if _, err := newDequantize(&graph.Node{Attrs: []*graph.Attribute{graph.IntAttr("block_size", -1)}}, 21); err == nil {
		t.Error("negative block_size: no error")
	}
	qk, _ := newQuantize(&graph.Node{}, 21)
	dk, _ := newDequantize(&graph.Node{}, 21)
	cases := []struct {
		name string
		k    Kernel
		in   []*Tensor
	}{
		{"quantize no scale", qk, []*Tensor{f(2)}},
		{"quantize string", qk, []*Tensor{New(graph.String, 2), one}},
		{"quantize zp shape", qk, []*Tensor{f(2, 3), f(3), u8s(2)}},
		{"quantize to int32", qk, []*Tensor{f(2), one, New(graph.Int32)}},
		{"dequantize zp type", dk, []*Tensor{u8s(2), one, New(graph.Int8)}},
		{"dequantize bad axis", dk, []*Tensor{u8s(2), f(2)}},
		{"dequantize float", dk, []*Tensor{f(2), one}},
		{"dynamic int", KernelFunc(dynamicQuantize), []*Tensor{u8s(2)}},
		{"matmulinteger shapes", KernelFunc(matMulInteger), []*Tensor{u8s(2, 3), u8s(4, 2)}},
		{"matmulinteger float", KernelFunc(matMulInteger), []*Tensor{f(2, 3), u8s(3, 2)}},
		{"matmulinteger zp", KernelFunc(matMulInteger), []*Tensor{u8s(2, 3), u8s(3, 2), u8s(3)}},
		{"qlinearmatmul few", KernelFunc(qlinearMatMul), []*Tensor{u8s(2, 3)}},
		{"qlinearmatmul scale type", KernelFunc(qlinearMatMul), []*Tensor{u8s(2, 3), u8s(), u8s(), u8s(3, 2), one, u8s(), one, u8s()}},
	}
	ck, _ := newIntConv(&graph.Node{OpType: "ConvInteger"}, false)
	gk, _ := newIntConv(&graph.Node{OpType: "ConvInteger", Attrs: []*graph.Attribute{graph.IntAttr("group", 2)}}, false)
	qc, _ := newIntConv(&graph.Node{OpType: "QLinearConv"}, true)
	cases = append(cases, []struct {
		name string
		k    Kernel
		in   []*Tensor
	}{
		{"conv rank", ck, []*Tensor{u8s(1, 3), u8s(1, 3)}},
		{"conv channels", ck, []*Tensor{u8s(1, 3, 4, 4), u8s(2, 2, 3, 3)}},
		{"conv group", gk, []*Tensor{u8s(1, 3, 4, 4), u8s(2, 1, 3, 3)}},
		{"conv kernel too big", ck, []*Tensor{u8s(1, 1, 2, 2), u8s(1, 1, 3, 3)}},
		{"conv w zp", ck, []*Tensor{u8s(1, 1, 4, 4), u8s(2, 1, 3, 3), nil, u8s(3)}},
		{"qlinearconv scales", qc, []*Tensor{u8s(1, 1, 4, 4), one, u8s(), u8s(2, 1, 3, 3), f(3), u8s(), one, u8s()}},
		{"qlinearconv bias", qc, []*Tensor{u8s(1, 1, 4, 4), one, u8s(), u8s(2, 1, 3, 3), one, u8s(), one, u8s(), New(graph.Int32, 3)}},
	}...)
	for _, c := range cases {
		if _, err := c.k.Run(ctx, c.in); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestRNNQuantNoPanic feeds the recurrent and quantization kernels valid
// inputs with one input changed at random (dropped, resized, retyped or
// replaced): each call may fail, none may panic.
func TestRNNQuantNoPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	types := []graph.DType{graph.Float32, graph.Float64, graph.Uint8, graph.Int8, graph.Int32, graph.Int64,
		graph.Float16, graph.Int4, graph.Float8E4M3FN, graph.Bool}
	fill := func(x *Tensor) *Tensor {
		switch d := x.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = rng.Float32()*4 - 2
			}
		case []uint8:
			for i := range d {
				d[i] = uint8(rng.Intn(256))
			}
		case []int8:
			for i := range d {
				d[i] = int8(rng.Intn(256) - 128)
			}
		case []int32:
			for i := range d {
				d[i] = int32(rng.Intn(5))
			}
		}
		return x
	}
	ten := func(dt graph.DType, shape ...int) *Tensor { return fill(New(dt, shape...)) }
	f32 := func(shape ...int) *Tensor { return ten(graph.Float32, shape...) }
	type target struct {
		k     Kernel
		valid func() []*Tensor
	}
	var targets []target
	kinds := map[string]rnnKind{"RNN": rnnSimple, "GRU": rnnGRU, "LSTM": rnnLSTM}
	for op, kind := range kinds {
		for _, dir := range []string{"reverse", "bidirectional"} {
			outs := []*graph.Value{{Name: "y"}, {Name: "h"}}
			if kind == rnnLSTM {
				outs = append(outs, &graph.Value{Name: "c"})
			}
			k, err := newRecurrent(&graph.Node{OpType: op, Attrs: []*graph.Attribute{graph.StringAttr("direction", dir)}, Outputs: outs}, kind)
			if err != nil {
				t.Fatal(err)
			}
			d, g := 1, kind.gates()
			if dir == "bidirectional" {
				d = 2
			}
			targets = append(targets, target{k, func() []*Tensor {
				in := []*Tensor{f32(3, 2, 4), f32(d, g*3, 4), f32(d, g*3, 3), f32(d, 2*g*3), ten(graph.Int32, 2), f32(d, 2, 3)}
				if kind == rnnLSTM {
					in = append(in, f32(d, 2, 3), f32(d, 9))
				}
				return in
			}})
		}
	}
	attrs := func(a ...*graph.Attribute) *graph.Node { return &graph.Node{Attrs: a} }
	q, _ := newQuantize(attrs(), 21)
	qb, _ := newQuantize(attrs(graph.IntAttr("block_size", 2), graph.IntAttr("axis", 2)), 21)
	dq, _ := newDequantize(attrs(), 21)
	db, _ := newDequantize(attrs(graph.IntAttr("block_size", 2), graph.IntAttr("axis", -1)), 21)
	c, _ := newIntConv(&graph.Node{OpType: "ConvInteger"}, false)
	qc, _ := newIntConv(&graph.Node{OpType: "QLinearConv", Attrs: []*graph.Attribute{graph.IntAttr("group", 2),
		graph.IntsAttr("pads", 1, 0, 1, 2), graph.IntsAttr("strides", 2, 1)}}, true)
	targets = append(targets,
		target{q, func() []*Tensor { return []*Tensor{f32(2, 3, 4), f32(3), ten(graph.Int8, 3)} }},
		target{qb, func() []*Tensor { return []*Tensor{f32(2, 3, 4), f32(2, 3, 2), ten(graph.Uint8, 2, 3, 2)} }},
		target{dq, func() []*Tensor { return []*Tensor{ten(graph.Uint8, 2, 3, 4), f32(3), ten(graph.Uint8, 3)} }},
		target{db, func() []*Tensor { return []*Tensor{ten(graph.Int8, 2, 3, 4), f32(2, 3, 2), ten(graph.Int8, 2, 3, 2)} }},
		target{c, func() []*Tensor {
			return []*Tensor{ten(graph.Uint8, 1, 2, 5, 5), ten(graph.Uint8, 2, 2, 3, 3), ten(graph.Uint8), ten(graph.Uint8, 2)}
		}},
		target{qc, func() []*Tensor {
			return []*Tensor{ten(graph.Uint8, 1, 4, 5, 5), Scalar(0.1), ten(graph.Uint8), ten(graph.Int8, 4, 2, 3, 3), f32(4),
				ten(graph.Int8, 4), Scalar(0.2), ten(graph.Uint8), ten(graph.Int32, 4)}
		}},
		target{KernelFunc(dynamicQuantize), func() []*Tensor { return []*Tensor{f32(3, 4)} }},
		target{KernelFunc(matMulInteger), func() []*Tensor {
			return []*Tensor{ten(graph.Uint8, 2, 3, 4), ten(graph.Int8, 4, 5), ten(graph.Uint8, 3), ten(graph.Int8, 5)}
		}},
		target{KernelFunc(qlinearMatMul), func() []*Tensor {
			return []*Tensor{ten(graph.Int8, 2, 3, 4), Scalar(0.1), ten(graph.Int8), ten(graph.Int8, 2, 4, 5), f32(5),
				ten(graph.Int8, 5), Scalar(0.3), ten(graph.Int8)}
		}},
	)
	ok := 0
	for iter := 0; iter < 20000; iter++ {
		tg := targets[rng.Intn(len(targets))]
		in := tg.valid()
		if iter%5 != 0 { // every fifth call runs unchanged
			i := rng.Intn(len(in))
			x := in[i]
			switch rng.Intn(4) {
			case 0:
				in[i] = nil
			case 1:
				if x != nil && x.Rank() > 0 {
					shape := append([]int{}, x.Shape...)
					shape[rng.Intn(len(shape))] = rng.Intn(5)
					in[i] = ten(x.DType, shape...)
				}
			case 2:
				if x != nil {
					in[i] = ten(types[rng.Intn(len(types))], x.Shape...)
				}
			case 3:
				shape := make([]int, rng.Intn(5))
				for j := range shape {
					shape[j] = rng.Intn(4)
				}
				in[i] = ten(types[rng.Intn(len(types))], shape...)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					desc := make([]string, len(in))
					for i, x := range in {
						desc[i] = fmt.Sprint(x)
					}
					t.Fatalf("%T panicked on %v: %v", tg.k, desc, r)
				}
			}()
			if _, err := tg.k.Run(&Context{Threads: 2}, in); err == nil {
				ok++
			}
		}()
	}
	if ok < 4000 {
		t.Errorf("only %d of 20000 calls ran: the inputs are not exercising the kernels", ok)
	}
}
