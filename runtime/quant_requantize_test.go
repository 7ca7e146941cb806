package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// requantCase is one set of Requantize parameters.
type requantCase struct {
	xt, yt graph.DType
	sx, sy float32
	zx, zy int64
	noZero bool // both zero points omitted (y then uint8)
}

func (c requantCase) String() string {
	return fmt.Sprintf("%v→%v sx=%g zx=%d sy=%g zy=%d omitted=%v", c.xt, c.yt, c.sx, c.zx, c.sy, c.zy, c.noZero)
}

func (c requantCase) inputs(x *Tensor) []*Tensor {
	if c.noZero {
		return []*Tensor{x, Scalar(c.sx), nil, Scalar(c.sy), nil}
	}
	return []*Tensor{x, Scalar(c.sx), zeroTensor(c.xt, c.zx), Scalar(c.sy), zeroTensor(c.yt, c.zy)}
}

// randRequantCase draws types, scales (one time in three in simple
// ratios or equal, which makes exact ties x·sx/sy = k+½ common, and now
// and then extreme) and zero points.
func randRequantCase(r *rand.Rand) requantCase {
	c := requantCase{xt: graph.Uint8, yt: graph.Uint8}
	if r.IntN(2) == 0 {
		c.xt = graph.Int8
	}
	if r.IntN(2) == 0 {
		c.yt = graph.Int8
	}
	c.sx = float32(math.Exp(r.Float64()*8 - 7))
	c.sy = float32(math.Exp(r.Float64()*8 - 7))
	switch r.IntN(6) {
	case 0, 1:
		base := []float32{0.1, 0.05, 0.0034, 0.037, 0.0063, 1, 0.25}[r.IntN(7)]
		c.sx, c.sy = base, base*[]float32{2, 4, 0.5, 1, 3, 10}[r.IntN(6)]
	case 2:
		c.sy = c.sx
	case 3:
		c.sx, c.sy = []float32{1e-30, 1e30, 3e-39, 1}[r.IntN(4)], []float32{1e-30, 1e30, 1, 1e-3}[r.IntN(4)]
	}
	lo := func(dt graph.DType) int64 {
		if dt == graph.Int8 {
			return -128
		}
		return 0
	}
	c.zx, c.zy = lo(c.xt)+r.Int64N(256), lo(c.yt)+r.Int64N(256)
	if r.IntN(10) == 0 {
		c.noZero, c.zx, c.zy, c.yt = true, 0, 0, graph.Uint8
	}
	return c
}

// qdqFormula is DequantizeLinear then QuantizeLinear of one value in
// float32, written out: the product, the quotient, rounding half to
// even, the zero point, saturation.
func qdqFormula(c requantCase, x int64) int64 {
	v := float32(x-c.zx) * c.sx
	q := math.RoundToEven(float64(v / c.sy))
	lo, hi := int64(0), int64(255)
	if c.yt == graph.Int8 {
		lo, hi = -128, 127
	}
	return int64(math.Max(float64(lo), math.Min(float64(hi), q+float64(c.zy))))
}

// TestRequantizeMatchesQDQ checks ai.onnxq Requantize against the
// runtime's DequantizeLinear → QuantizeLinear on the same tensor and
// against the formula, for all 256 inputs (and a long random tensor over
// several threads) under many random parameters, both types each side.
func TestRequantizeMatchesQDQ(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "Requantize"), &graph.Node{OpType: "Requantize", Domain: OnnxqDomain}, 1)
	if err != nil {
		t.Fatal(err)
	}
	qnode, dqnode := &graph.Node{OpType: "QuantizeLinear"}, &graph.Node{OpType: "DequantizeLinear"}
	run := func(kern Kernel, ctx *Context, in ...*Tensor) *Tensor {
		t.Helper()
		out, err := kern.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	qk, err := buildKernel(DefaultRegistry().Lookup("", "QuantizeLinear"), qnode, 21)
	if err != nil {
		t.Fatal(err)
	}
	dqk, err := buildKernel(DefaultRegistry().Lookup("", "DequantizeLinear"), dqnode, 21)
	if err != nil {
		t.Fatal(err)
	}
	ties := 0
	for i := range 2000 {
		c := randRequantCase(r)
		n := 256
		threads := 1
		if i%50 == 0 {
			n, threads = 300000+r.IntN(100), 3
		}
		x := New(c.xt, n)
		xb := bytesOf(x)
		for j := range xb {
			xb[j] = byte(j)
			if j >= 256 {
				xb[j] = byte(r.Uint32())
			}
		}
		orig := append([]byte(nil), xb...)
		in := c.inputs(x)
		got := run(k, &Context{Threads: threads}, in...)
		f := run(dqk, &Context{Threads: 1}, in[0], in[1], in[2])
		want := run(qk, &Context{Threads: 1}, f, in[3], in[4])
		if got.DType != want.DType || len(got.Shape) != 1 || got.Shape[0] != n {
			t.Fatalf("%v: output %v, QDQ %v", c, got, want)
		}
		g, _ := int32sOf(got)
		w, _ := int32sOf(want)
		xs, _ := intsOf(x)
		for j := range g {
			if g[j] != w[j] || int64(g[j]) != qdqFormula(c, xs[j]) {
				t.Fatalf("%v: x=%d gives %d, QDQ %d, formula %d", c, xs[j], g[j], w[j], qdqFormula(c, xs[j]))
			}
		}
		for j := range 256 {
			q := float32(xs[j]-c.zx) * c.sx / c.sy
			if q-float32(math.Floor(float64(q))) == 0.5 {
				ties++
			}
		}
		if string(orig) != string(xb) {
			t.Fatalf("%v: x changed", c)
		}
	}
	if ties < 1000 {
		t.Errorf("only %d exact ties: the scales do not exercise rounding half to even", ties)
	}
}

// TestRequantizeParametersChange checks that one kernel follows
// parameters that change between runs (its table is cached per set).
func TestRequantizeParametersChange(t *testing.T) {
	k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "Requantize"), &graph.Node{OpType: "Requantize", Domain: OnnxqDomain}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Uint8, 3)
	copy(bytesOf(x), []byte{0, 100, 255})
	for _, c := range []struct {
		sx, sy float32
		want   []byte
	}{{0.1, 0.1, []byte{0, 100, 255}}, {0.1, 0.2, []byte{0, 50, 128}}, {0.1, 0.1, []byte{0, 100, 255}}} {
		out, err := k.Run(&Context{Threads: 1}, []*Tensor{x, Scalar(c.sx), nil, Scalar(c.sy), nil})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytesOf(out[0]); string(got) != string(c.want) {
			t.Fatalf("sx %g sy %g: %v, want %v", c.sx, c.sy, got, c.want)
		}
	}
}

// TestRequantizeBadInputs checks errors instead of panics.
func TestRequantizeBadInputs(t *testing.T) {
	k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "Requantize"), &graph.Node{OpType: "Requantize", Domain: OnnxqDomain}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := New(graph.Uint8, 4)
	for name, in := range map[string][]*Tensor{
		"float x":      {New(graph.Float32, 4), Scalar(0.1), nil, Scalar(0.1), nil},
		"int16 x":      {New(graph.Int16, 4), Scalar(0.1), nil, Scalar(0.1), nil},
		"few inputs":   {x, Scalar(0.1)},
		"missing x":    {nil, Scalar(0.1), nil, Scalar(0.1), nil},
		"mixed zero":   {x, Scalar(0.1), zeroTensor(graph.Int8, 0), Scalar(0.1), nil},
		"two x scales": {x, New(graph.Float32, 2), nil, Scalar(0.1), nil},
		"int y scale":  {x, Scalar(0.1), nil, New(graph.Int32), nil},
		"int16 y zero": {x, Scalar(0.1), nil, Scalar(0.1), New(graph.Int16)},
		"two y zeros":  {x, Scalar(0.1), nil, Scalar(0.1), New(graph.Uint8, 2)},
	} {
		if _, err := k.Run(&Context{Threads: 1}, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
