// This file tests ai.onnxq QLinearAveragePool and
// QLinearGlobalAveragePool: the fast path against the reference loop
// (random 1-D and 2-D geometries, odd sizes, pads, ceil_mode,
// count_include_pad, dilations, uint8 and int8, thread counts), and both
// equal to the float unit DequantizeLinear → AveragePool → QuantizeLinear
// run by the runtime's own kernels, ties included.

package runtime

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// qpoolCase is one QLinearAveragePool run: geometry, type, parameters.
type qpoolCase struct {
	pc     poolCase
	dt     graph.DType
	sx, sy float32
	zx, zy int64
}

func (c qpoolCase) String() string {
	return fmt.Sprintf("%v %v sx=%g zx=%d sy=%g zy=%d", c.pc, c.dt, c.sx, c.zx, c.sy, c.zy)
}

// zeroTensor is a scalar 8-bit zero point of dt.
func zeroTensor(dt graph.DType, z int64) *Tensor {
	t := New(dt)
	bytesOf(t)[0] = byte(z)
	return t
}

// randQPoolCase draws parameters around a geometry: output scales near
// the input's (averages narrow the range) or, one time in three, scales
// in simple ratios (ties), zero points anywhere.
func randQPoolCase(r *rand.Rand, pc poolCase) qpoolCase {
	c := qpoolCase{pc: pc, dt: graph.Uint8, sx: float32(0.005 + r.Float64()*0.05)}
	c.sy = c.sx * float32(0.3+r.Float64()*1.2)
	if r.IntN(3) == 0 {
		// Scales in a simple ratio make exact and near ties common.
		c.sx = []float32{0.07, 0.05, 0.1, 0.008195465}[r.IntN(4)]
		c.sy = []float32{0.05, 0.07, 0.1, 0.006127451, 0.02}[r.IntN(5)]
	}
	lo, hi := int64(0), int64(255)
	if r.IntN(2) == 0 {
		c.dt, lo, hi = graph.Int8, -128, 127
	}
	c.zx, c.zy = lo+r.Int64N(hi-lo+1), lo+r.Int64N(hi-lo+1)
	return c
}

// inputs returns the node inputs with random data for x (extremes
// included).
func (c qpoolCase) inputs(r *rand.Rand) []*Tensor {
	x := New(c.dt, append([]int{c.pc.n, c.pc.c}, c.pc.in...)...)
	for i, b := range bytesOf(x) {
		_ = b
		bytesOf(x)[i] = byte(r.Uint32())
		if r.IntN(8) == 0 {
			bytesOf(x)[i] = []byte{0, 0x7F, 0x80, 0xFF}[r.IntN(4)]
		}
	}
	return []*Tensor{x, Scalar(c.sx), zeroTensor(c.dt, c.zx), Scalar(c.sy), zeroTensor(c.dt, c.zy)}
}

func qpoolKernel(t *testing.T, pc poolCase) Kernel {
	t.Helper()
	n := pc.node(1)
	n.OpType, n.Domain = "QLinearAveragePool", OnnxqDomain
	k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "QLinearAveragePool"), n, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// qpoolGeometries are random 1-D and 2-D windows plus model-sized ones
// (FastestDet's 3×3 stride 2 unpadded, 2×2 stride 2, 3×3 stride 1 pad 1
// with and without count_include_pad, a 1-D ceil_mode one).
func qpoolGeometries(r *rand.Rand, random int) []poolCase {
	var cases []poolCase
	for i := range random {
		pc := randPoolCase(r, "AveragePool", 1+i%2)
		pc.p = 0
		cases = append(cases, pc)
	}
	return append(cases,
		poolCase{op: "AveragePool", n: 1, c: 3, in: []int{46, 46}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "AveragePool", n: 2, c: 3, in: []int{41, 131}, k: []int{2, 2}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{21, 77}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, includePad: true},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{21, 77}, k: []int{3, 3}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{23, 67}, k: []int{3, 5}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 2, 1, 2}, ceil: true, includePad: true},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{22, 61}, k: []int{3, 3}, s: []int{3, 4}, d: []int{2, 1}, pads: []int{2, 1, 0, 2}, ceil: true},
		poolCase{op: "AveragePool", n: 1, c: 4, in: []int{300}, k: []int{4}, s: []int{2}, d: []int{1}, pads: []int{1, 2}, ceil: true},
		// 3-wide stride-2 windows with padding, dilated rows, tall
		// windows, 1-D: the row kernel with edges around it.
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{40, 77}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{31, 70}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 2, 1, 2}, includePad: true, ceil: true},
		poolCase{op: "AveragePool", n: 1, c: 2, in: []int{30, 101}, k: []int{5, 3}, s: []int{1, 2}, d: []int{2, 1}, pads: []int{2, 0, 3, 0}},
		poolCase{op: "AveragePool", n: 2, c: 2, in: []int{9, 35}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "AveragePool", n: 1, c: 3, in: []int{95}, k: []int{3}, s: []int{2}, d: []int{1}, pads: []int{1, 1}},
		poolCase{op: "AveragePool", n: 1, c: 1, in: []int{20, 40}, k: []int{16, 16}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		poolCase{op: "AveragePool", n: 1, c: 1, in: []int{20, 40}, k: []int{17, 17}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
	)
}

func TestQLinearAveragePoolFastMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, pc := range qpoolGeometries(r, 400) {
		k := qpoolKernel(t, pc)
		c := randQPoolCase(r, pc)
		in := c.inputs(r)
		orig := slices.Clone(bytesOf(in[0]))
		forceReferenceQAvgPool = true
		want, err := k.Run(&Context{Threads: 1}, in)
		forceReferenceQAvgPool = false
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		for _, threads := range []int{1, 3} {
			got, err := k.Run(&Context{Threads: threads}, in)
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			if got[0].DType != c.dt || !slices.Equal(got[0].Shape, want[0].Shape) {
				t.Fatalf("%v: output %v, want %v", c, got[0], want[0])
			}
			if i := firstDiff(bytesOf(got[0]), bytesOf(want[0])); i >= 0 {
				t.Fatalf("%v, %d threads: element %d is %d, reference %d", c, threads, i, bytesOf(got[0])[i], bytesOf(want[0])[i])
			}
		}
		if !slices.Equal(orig, bytesOf(in[0])) {
			t.Fatalf("%v: the input changed", c)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// floatUnit runs DequantizeLinear → pool → QuantizeLinear with the
// runtime's float kernels.
func floatUnit(t *testing.T, pool *graph.Node, in []*Tensor) *Tensor {
	t.Helper()
	reg := DefaultRegistry()
	run := func(n *graph.Node, args ...*Tensor) *Tensor {
		k, err := buildKernel(reg.Lookup("", n.OpType), n, 21)
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.Run(&Context{Threads: 1, Node: n}, args)
		if err != nil {
			t.Fatalf("%s: %v", n.OpType, err)
		}
		return out[0]
	}
	f := run(&graph.Node{OpType: "DequantizeLinear"}, in[0], in[1], in[2])
	f = run(pool, f)
	return run(&graph.Node{OpType: "QuantizeLinear"}, f, in[3], in[4])
}

// checkAgainstFloat fails unless got is the float unit's want.
func checkAgainstFloat(t *testing.T, what fmt.Stringer, got, want *Tensor) {
	t.Helper()
	g, _ := int32sOf(got)
	w, _ := int32sOf(want)
	if len(g) != len(w) {
		t.Fatalf("%v: %d outputs, float unit %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%v: element %d is %d, float unit %d", what, i, g[i], w[i])
		}
	}
}

func TestQLinearAveragePoolMatchesFloatUnit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, pc := range qpoolGeometries(r, 300) {
		k := qpoolKernel(t, pc)
		c := randQPoolCase(r, pc)
		for range 3 {
			in := c.inputs(r)
			for _, ref := range []bool{false, true} {
				forceReferenceQAvgPool = ref
				got, err := k.Run(&Context{Threads: 2}, in)
				forceReferenceQAvgPool = false
				if err != nil {
					t.Fatalf("%v: %v", c, err)
				}
				checkAgainstFloat(t, c, got[0], floatUnit(t, pc.node(1), in))
			}
		}
	}
}

// globalCase names a QLinearGlobalAveragePool run.
type globalCase struct {
	shape []int
	q     qpoolCase
}

func (c globalCase) String() string { return fmt.Sprintf("global %v %v", c.shape, c.q) }

func TestQLinearGlobalAveragePoolMatchesFloatUnit(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "QLinearGlobalAveragePool"), &graph.Node{OpType: "QLinearGlobalAveragePool", Domain: OnnxqDomain}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{1, 3, 7, 7}, {2, 5, 1, 1}, {1, 4, 13}, {1, 2, 20, 20}, {2, 3, 2, 3, 5}} {
		for range 10 {
			c := globalCase{shape: shape, q: randQPoolCase(r, poolCase{n: shape[0], c: shape[1], in: shape[2:]})}
			in := c.q.inputs(r)
			got, err := k.Run(&Context{Threads: 2}, in)
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			checkAgainstFloat(t, c, got[0], floatUnit(t, &graph.Node{OpType: "GlobalAveragePool"}, in))
		}
	}
}

// TestQLinearAveragePoolBadInputs checks errors for wrong types and
// scales instead of panics.
func TestQLinearAveragePoolBadInputs(t *testing.T) {
	pc := poolCase{op: "AveragePool", n: 1, c: 1, in: []int{4, 4}, k: []int{2, 2}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}}
	k := qpoolKernel(t, pc)
	x := New(graph.Uint8, 1, 1, 4, 4)
	for name, in := range map[string][]*Tensor{
		"float x":     {New(graph.Float32, 1, 1, 4, 4), Scalar(0.1), nil, Scalar(0.1), nil},
		"zero scale":  {x, Scalar(0), nil, Scalar(0.1), nil},
		"mixed zero":  {x, Scalar(0.1), zeroTensor(graph.Int8, 0), Scalar(0.1), nil},
		"rank 2":      {New(graph.Uint8, 4, 4), Scalar(0.1), nil, Scalar(0.1), nil},
		"few inputs":  {x, Scalar(0.1)},
		"missing x":   {nil, Scalar(0.1), nil, Scalar(0.1), nil},
		"two y scale": {x, Scalar(0.1), nil, New(graph.Float32, 2), nil},
	} {
		if _, err := k.Run(&Context{Threads: 1}, in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkQLinearAveragePool times FastestDet's unit, 48 planes, 3×3
// stride 2: on the padded 46×46 planes and with the padding as the
// pooling's pads (44×44, count_include_pad), on the fast path and the
// reference loop.
func BenchmarkQLinearAveragePool(b *testing.B) {
	for _, pc := range []poolCase{
		{op: "AveragePool", n: 1, c: 48, in: []int{46, 46}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}},
		{op: "AveragePool", n: 1, c: 48, in: []int{44, 44}, k: []int{3, 3}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{1, 1, 1, 1}, includePad: true},
	} {
		n := pc.node(1)
		n.OpType, n.Domain = "QLinearAveragePool", OnnxqDomain
		k, err := buildKernel(DefaultRegistry().Lookup(OnnxqDomain, "QLinearAveragePool"), n, 1)
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		in := randQPoolCase(r, pc).inputs(r)
		for _, ref := range []bool{false, true} {
			b.Run(fmt.Sprintf("%v_pads%v/reference=%v", pc.in, pc.pads[0], ref), func(b *testing.B) {
				forceReferenceQAvgPool = ref
				defer func() { forceReferenceQAvgPool = false }()
				ctx := &Context{Threads: 1}
				for b.Loop() {
					if _, err := k.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
