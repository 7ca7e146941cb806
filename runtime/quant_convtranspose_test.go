// quant_convtranspose_test.go checks ai.onnxq QLinearConvTranspose
// against a plain loop written here, on every INT8 GEMM microkernel and
// thread count: its direct path (taps that do not overlap), its GEMM and
// col2im path, and its reference (other ranks, weight zero points).
package runtime

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

// ctCase is one QLinearConvTranspose problem.
type ctCase struct {
	name     string
	in       []*Tensor
	node     *graph.Node
	want     *Tensor
	fastPath bool // the fast paths take it
}

// newCTCase draws a random problem of rank r (spatial axes) and computes
// its expected output with the plain loop; upsample makes every axis a
// 2-wide, stride-2 window without padding, as in a detector's head.
func newCTCase(rng *rand.Rand, r int, upsample bool) ctCase {
	G := 1 + rng.IntN(3)
	cg, og := 1+rng.IntN(9), 1+rng.IntN(7)
	if rng.IntN(4) == 0 {
		cg = 4 + 4*rng.IntN(3) // whole quads of depth
	}
	C, M := cg*G, og*G
	N := 1 + rng.IntN(2)
	in, k, s, d, pb, pe, op := make([]int, r), make([]int, r), make([]int, r), make([]int, r), make([]int, r), make([]int, r), make([]int, r)
	for i := range r {
		in[i] = 1 + rng.IntN(13)
		k[i] = 1 + rng.IntN(3)
		s[i] = 1 + rng.IntN(3)
		d[i] = 1 + rng.IntN(2)
		if rng.IntN(3) == 0 {
			d[i] = 1
			k[i] = min(k[i], s[i]) // taps that do not overlap
		}
		if rng.IntN(2) == 0 {
			pb[i], pe[i] = rng.IntN(k[i]), rng.IntN(k[i])
		}
		if s[i] > 1 && rng.IntN(3) == 0 {
			op[i] = rng.IntN(s[i])
		}
		if upsample {
			in[i] += rng.IntN(60)
			k[i], s[i], d[i], pb[i], pe[i] = 2, 2, 1, 0, 0
		}
		// The output must not be empty.
		for (in[i]-1)*s[i]+op[i]+(k[i]-1)*d[i]+1-pb[i]-pe[i] < 1 {
			pb[i], pe[i] = 0, 0
		}
	}
	xType := graph.Uint8
	if rng.IntN(2) == 0 {
		xType = graph.Int8
	}
	x := New(xType, append([]int{N, C}, in...)...)
	xb := outputBytes(x)
	for i := range xb {
		xb[i] = byte(rng.IntN(256))
	}
	w := New(graph.Int8, append([]int{C, og}, k...)...)
	wd := w.Data.([]int8)
	for i := range wd {
		wd[i] = int8(rng.IntN(255) - 127)
		if rng.IntN(9) == 0 {
			wd[i] = -128
		}
	}
	perChannel := rng.IntN(2) == 0
	ws := New(graph.Float32, 1)
	if perChannel {
		ws = New(graph.Float32, M)
	}
	for i := range ws.F32() {
		ws.F32()[i] = float32(rng.Float64()*0.004 + 1e-4)
	}
	wzp := New(graph.Int8, ws.Len())
	zw := make([]int32, M)
	fastPath := r == 2
	if rng.IntN(6) == 0 {
		fastPath = false
		for i := range wzp.Data.([]int8) {
			wzp.Data.([]int8)[i] = int8(rng.IntN(21) - 10)
		}
	}
	for m := range zw {
		zw[m] = int32(wzp.Data.([]int8)[min(m, wzp.Len()-1)])
	}
	var bias *Tensor
	if rng.IntN(4) != 0 {
		bias = New(graph.Int32, M)
		for i := range bias.Data.([]int32) {
			bias.Data.([]int32)[i] = int32(rng.IntN(200001) - 100000)
		}
	}
	xzp := New(xType)
	outputBytes(xzp)[0] = byte(rng.IntN(256))
	zx := int32(outputBytes(xzp)[0])
	if xType == graph.Int8 {
		zx = int32(int8(zx))
	}
	xs := float32(0.02 + rng.Float64()*0.02)
	floatOut := rng.IntN(3) == 0
	var ys, yzp *Tensor
	yType := xType
	if !floatOut {
		ys = Scalar(float32(0.5 + rng.Float64()*2))
		if rng.IntN(3) == 0 {
			yType = graph.Uint8 + graph.Int8 - xType
		}
		yzp = New(yType)
		outputBytes(yzp)[0] = byte(rng.IntN(256))
	}
	ints := func(v []int) []int64 {
		out := make([]int64, len(v))
		for i, e := range v {
			out[i] = int64(e)
		}
		return out
	}
	node := &graph.Node{OpType: "QLinearConvTranspose", Domain: OnnxqDomain, Attrs: []*graph.Attribute{
		graph.IntAttr("group", int64(G)),
		graph.IntsAttr("strides", ints(s)...),
		graph.IntsAttr("dilations", ints(d)...),
		graph.IntsAttr("pads", append(ints(pb), ints(pe)...)...),
		graph.IntsAttr("output_padding", ints(op)...),
	}}
	in8 := []*Tensor{x, Scalar(xs), xzp, w, ws, wzp, ys, yzp, bias}
	if bias == nil {
		in8 = in8[:8]
	}

	// The plain loop: every input position and tap adds its product to
	// the output position it reaches.
	out := make([]int, r)
	for i := range r {
		out[i] = (in[i]-1)*s[i] + op[i] + (k[i]-1)*d[i] + 1 - pb[i] - pe[i]
	}
	inPlane, outPlane, kk := product(in), product(out), product(k)
	acc := make([]int32, N*M*outPlane)
	xv, _ := int32sOf(x)
	ip, kp := make([]int, r), make([]int, r)
	for n := range N {
		for m := range M {
			g, o := m/og, m%og
			plane := acc[(n*M+m)*outPlane:][:outPlane]
			if bias != nil {
				for i := range plane {
					plane[i] = bias.Data.([]int32)[m]
				}
			}
			for c := range cg {
				ci := g*cg + c
				for p := range inPlane {
					unravel(p, in, ip)
					for t := range kk {
						unravel(t, k, kp)
						pos, ok := 0, true
						for i := range r {
							q := ip[i]*s[i] - pb[i] + kp[i]*d[i]
							ok = ok && q >= 0 && q < out[i]
							pos = pos*out[i] + q
						}
						if ok {
							plane[pos] += (xv[(n*C+ci)*inPlane+p] - zx) * (int32(wd[(ci*og+o)*kk+t]) - zw[m])
						}
					}
				}
			}
		}
	}
	var want *Tensor
	shape := append([]int{N, M}, out...)
	if floatOut {
		want = New(graph.Float32, shape...)
		for e, v := range acc {
			m := e / outPlane % M
			want.F32()[e] = float32(v) * (xs * ws.F32()[min(m, ws.Len()-1)])
		}
	} else {
		want = New(yType, shape...)
		lo, hi, _ := quantRange(yType)
		zy := int64(outputBytes(yzp)[0])
		if yType == graph.Int8 {
			zy = int64(int8(zy))
		}
		wb := outputBytes(want)
		for e, v := range acc {
			m := e / outPlane % M
			scale := xs * ws.F32()[min(m, ws.Len()-1)] / ys.F32()[0]
			wb[e] = byte(requantize(v, scale, zy, lo, hi))
		}
	}
	name := fmt.Sprintf("N%d C%d M%d G%d in%v k%v s%v d%v pads%v/%v outpad%v x%v y%v float=%v zw=%v", N, C, M, G, in, k, s, d, pb, pe, op, xType, yType, floatOut, zw)
	return ctCase{name: name, in: in8, node: node, want: want, fastPath: fastPath}
}

func TestQLinearConvTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var cases []ctCase
	for trial := range 120 {
		r := 2
		switch trial % 10 {
		case 3:
			r = 1
		case 7:
			r = 3
		}
		cases = append(cases, newCTCase(rng, r, trial%5 == 1))
	}
	direct, gemm, pairs := 0, 0, 0
	for _, c := range cases {
		if !c.fastPath {
			continue
		}
		win, err := c.win()
		if err != nil {
			t.Fatal(err)
		}
		if win.k[1] == 2 && win.s[1] == 2 && win.d[1] == 1 && win.padB[1] == 0 {
			pairs++
		}
		if transposeScatters(win) {
			direct++
		} else {
			gemm++
		}
	}
	if direct < 10 || gemm < 10 || pairs < 10 {
		t.Fatalf("%d cases on the direct path (%d of them pairs), %d on the GEMM one: too few", direct, pairs, gemm)
	}
	for _, name := range kernels.IgemmKernelNames() {
		restore, _ := kernels.UseIgemmKernel(name)
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				kern, err := newIntConvTranspose(c.node, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, ref := range []bool{false, true} {
					for _, threads := range []int{1, 3} {
						forceReferenceQConv = ref
						got, err := kern.Run(&Context{Threads: threads, Node: c.node}, c.in)
						forceReferenceQConv = false
						if err != nil {
							t.Fatalf("%s: %v", c.name, err)
						}
						if !slices.Equal(got[0].Shape, c.want.Shape) || fmt.Sprint(got[0].Data) != fmt.Sprint(c.want.Data) {
							t.Fatalf("%s (reference %v, %d threads): got %v, want %v", c.name, ref, threads, got[0].Data, c.want.Data)
						}
					}
				}
			}
		})
		restore()
	}
}

// win resolves the case's window as the kernel does.
func (c ctCase) win() (*window, error) {
	kern, err := newIntConvTranspose(c.node, 1)
	if err != nil {
		return nil, err
	}
	s, err := kern.(*intConvTransposeKernel).ct.shape(c.in[0], c.in[3], nil)
	if err != nil {
		return nil, err
	}
	return s.win, nil
}

func TestQLinearConvTransposeBadInput(t *testing.T) {
	node := &graph.Node{OpType: "QLinearConvTranspose", Domain: OnnxqDomain}
	kern, err := newIntConvTranspose(node, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Uint8, 1, 2, 3, 3)
	w := New(graph.Int8, 2, 3, 2, 2)
	one := Scalar(float32(1))
	bad := map[string][]*Tensor{
		"no w":             {x, one, nil},
		"float x":          {New(graph.Float32, 1, 2, 3, 3), one, nil, w, one, nil, one, nil},
		"channels":         {New(graph.Uint8, 1, 3, 3, 3), one, nil, w, one, nil, one, nil},
		"w scales":         {x, one, nil, w, New(graph.Float32, 2), nil, one, nil},
		"bias length":      {x, one, nil, w, one, nil, one, nil, New(graph.Int32, 2)},
		"x zero point":     {x, one, New(graph.Int8), w, one, nil, one, nil},
		"two y scales":     {x, one, nil, w, one, nil, New(graph.Float32, 2), nil},
		"int32 zero point": {x, one, nil, w, one, nil, one, New(graph.Int32)},
	}
	for name, in := range bad {
		if _, err := kern.Run(&Context{Threads: 1, Node: node}, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := kern.Run(&Context{Threads: 1, Node: node}, []*Tensor{x, one, nil, w, one, nil, one, nil}); err != nil {
		t.Errorf("a good call failed: %v", err)
	}
}

// TestQLinearConvTransposeFixedPoint runs a k2 s2 QLinearConvTranspose in
// a session with both requantizers: every output within one step of the
// float one, nearly all equal, and the fixed-point results those of the
// fixed multipliers applied to the exact sums.
func TestQLinearConvTransposeFixedPoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Uint8, 1, 4, 7, 9)
	f32, bytesOf := constMakers(b)
	w := make([]byte, 4*3*2*2)
	for i := range w {
		w[i] = byte(int8(rng.IntN(255) - 127))
	}
	scales := []float32{0.01, 0.02, 0.005}
	y := b.Op("QLinearConvTranspose", x, f32("xs", 0.04), bytesOf("xz", graph.Uint8, nil, []byte{120}),
		bytesOf("w", graph.Int8, []int64{4, 3, 2, 2}, w), f32("ws", scales...),
		bytesOf("wz", graph.Int8, []int64{3}, make([]byte, 3)), f32("ys", 0.3), bytesOf("yz", graph.Uint8, nil, []byte{128}),
		graph.IntsAttr("strides", 2, 2))
	b.Graph().AddOutput(y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	y.Producer.Domain = OnnxqDomain
	m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: OnnxqDomain, Version: 1})
	in := New(graph.Uint8, 1, 4, 7, 9)
	for i := range in.Data.([]uint8) {
		in.Data.([]uint8)[i] = uint8(rng.IntN(256))
	}
	run := func(r Requantizer) []uint8 {
		s, err := NewSession(m, Options{Threads: 2, Requantizer: r})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(map[string]*Tensor{"x": in})
		if err != nil {
			t.Fatal(err)
		}
		return out[m.Graph.Outputs[0].Name].Data.([]uint8)
	}
	fl, fx := run(RequantizeFloat), run(RequantizeFixedPoint)
	// The exact sums, from the reference path's float output.
	node := &graph.Node{OpType: "QLinearConvTranspose", Domain: OnnxqDomain, Attrs: []*graph.Attribute{graph.IntsAttr("strides", 2, 2)}}
	kern, err := newIntConvTranspose(node, 1)
	if err != nil {
		t.Fatal(err)
	}
	wt := New(graph.Int8, 4, 3, 2, 2)
	for i, v := range w {
		wt.Data.([]int8)[i] = int8(v)
	}
	xz := New(graph.Uint8)
	xz.Data.([]uint8)[0] = 120
	ones := New(graph.Float32, 3)
	for i := range ones.F32() {
		ones.F32()[i] = 1
	}
	sums, err := kern.Run(&Context{Threads: 1, Node: node}, []*Tensor{in, Scalar(float32(1)), xz, wt, ones, nil, nil, nil})
	if err != nil {
		t.Fatal(err)
	}
	q := make([]float32, 3)
	for c := range q {
		q[c] = scaleMath(graph.Float32).combine(0.04, scales[c], 0.3)
	}
	fm, err := fixedMultipliers(q)
	if err != nil {
		t.Fatal(err)
	}
	plane := 14 * 18
	same := 0
	for i := range fl {
		if d := int(fl[i]) - int(fx[i]); d < -1 || d > 1 {
			t.Fatalf("element %d: float %d, fixed %d", i, fl[i], fx[i])
		}
		if fl[i] == fx[i] {
			same++
		}
		if want := fm[i/plane].apply(int32(sums[0].F32()[i]), 128, 0, 255); int64(fx[i]) != want {
			t.Fatalf("element %d: fixed point %d, want %d", i, fx[i], want)
		}
	}
	if same < len(fl)*95/100 {
		t.Errorf("only %d of %d outputs equal", same, len(fl))
	}
}
