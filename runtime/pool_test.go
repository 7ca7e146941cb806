// This file tests the pooling kernels against a naive per-window loop:
// random 1-D/2-D/3-D geometries with strides, dilations, pads, auto_pad,
// ceil_mode and count_include_pad; the Indices output with both storage
// orders; global pools; MaxUnpool; thread bit-identity and bad inputs.

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

type poolCase struct {
	op         string
	n, c       int
	in, k, s   []int
	d          []int
	pads       []int
	autoPad    string
	ceil       bool
	includePad bool
	p          int
}

func (pc poolCase) String() string {
	return fmt.Sprintf("%s N%d C%d in%v k%v s%v d%v pads%v %s ceil=%v incl=%v p=%d",
		pc.op, pc.n, pc.c, pc.in, pc.k, pc.s, pc.d, pc.pads, pc.autoPad, pc.ceil, pc.includePad, pc.p)
}

func ints64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func (pc poolCase) node(outputs int) *graph.Node {
	n := &graph.Node{OpType: pc.op}
	n.Attrs = append(n.Attrs, graph.IntsAttr("kernel_shape", ints64(pc.k)...), graph.IntsAttr("strides", ints64(pc.s)...),
		graph.IntsAttr("dilations", ints64(pc.d)...))
	if pc.autoPad != "" {
		n.Attrs = append(n.Attrs, graph.StringAttr("auto_pad", pc.autoPad))
	} else {
		n.Attrs = append(n.Attrs, graph.IntsAttr("pads", ints64(pc.pads)...))
	}
	if pc.ceil {
		n.Attrs = append(n.Attrs, graph.IntAttr("ceil_mode", 1))
	}
	if pc.includePad {
		n.Attrs = append(n.Attrs, graph.IntAttr("count_include_pad", 1))
	}
	if pc.op == "LpPool" {
		n.Attrs = append(n.Attrs, graph.IntAttr("p", int64(pc.p)))
	}
	for i := 0; i < outputs; i++ {
		n.Outputs = append(n.Outputs, &graph.Value{Name: fmt.Sprint("out", i)})
	}
	return n
}

func randPoolCase(r *rand.Rand, op string, rank int) poolCase {
	pc := poolCase{op: op, n: 1 + r.IntN(2), c: 1 + r.IntN(3), p: 1 + r.IntN(3)}
	for i := 0; i < rank; i++ {
		k := 1 + r.IntN(4)
		d := 1 + r.IntN(2)
		dk := (k-1)*d + 1
		pb := r.IntN(min(k, 3))
		pc.in = append(pc.in, max(1, dk-2*pb)+r.IntN(10))
		pc.k, pc.s, pc.d = append(pc.k, k), append(pc.s, 1+r.IntN(3)), append(pc.d, d)
		pc.pads = append(pc.pads, pb)
	}
	for i := 0; i < rank; i++ {
		pe := r.IntN(min(pc.k[i], 3))
		if pc.in[i]+pc.pads[i]+pe < (pc.k[i]-1)*pc.d[i]+1 {
			pe = (pc.k[i]-1)*pc.d[i] + 1 - pc.in[i] - pc.pads[i]
		}
		pc.pads = append(pc.pads, pe)
	}
	switch r.IntN(8) {
	case 0:
		pc.autoPad = "SAME_UPPER"
	case 1:
		pc.autoPad = "SAME_LOWER"
	case 2:
		pc.autoPad = "VALID"
	}
	for i := range pc.in {
		if pc.autoPad == "VALID" && pc.in[i] < (pc.k[i]-1)*pc.d[i]+1 {
			pc.autoPad = ""
		}
	}
	pc.ceil = pc.autoPad == "" && r.IntN(2) == 0
	pc.includePad = r.IntN(2) == 0
	return pc
}

// naivePool computes pooling one window at a time (float64), and for max
// the row-major flat index of the first largest value.
func naivePool(pc poolCase, win *window, x []float64) ([]float64, []int64) {
	r := len(win.in)
	inPlane, outPlane := product(win.in), product(win.out)
	y := make([]float64, pc.n*pc.c*outPlane)
	idx := make([]int64, len(y))
	opos, kpos := make([]int, r), make([]int, r)
	for pl := 0; pl < pc.n*pc.c; pl++ {
		for o := 0; o < outPlane; o++ {
			unravel(o, win.out, opos)
			best, at := math.Inf(-1), int64(-1)
			sum, count, padCount := 0.0, 0, 0
			for t := 0; t < product(win.k); t++ {
				unravel(t, win.k, kpos)
				flat, inside, inPad := 0, true, true
				for j := 0; j < r; j++ {
					i := opos[j]*win.s[j] - win.padB[j] + kpos[j]*win.d[j]
					if i < 0 || i >= win.in[j] {
						inside = false
					}
					if i < -win.padB[j] || i >= win.in[j]+win.padE[j] {
						inPad = false
					}
					flat = flat*win.in[j] + i
				}
				if inPad {
					padCount++
				}
				if !inside {
					continue
				}
				v := x[pl*inPlane+flat]
				count++
				switch pc.op {
				case "MaxPool":
					if at < 0 || v > best {
						best, at = v, int64(pl*inPlane+flat)
					}
				case "AveragePool":
					sum += v
				case "LpPool":
					sum += math.Pow(math.Abs(v), float64(pc.p))
				}
			}
			out := &y[pl*outPlane+o]
			switch pc.op {
			case "MaxPool":
				*out, idx[pl*outPlane+o] = best, at
			case "AveragePool":
				n := count
				if pc.includePad {
					n = padCount
				}
				*out = sum / float64(n)
			case "LpPool":
				*out = math.Pow(sum, 1/float64(pc.p))
			}
		}
	}
	return y, idx
}

func TestPoolRandomGeometries(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for iter := 0; iter < 600; iter++ {
		op := []string{"MaxPool", "AveragePool", "LpPool"}[iter%3]
		pc := randPoolCase(r, op, 1+(iter/3)%3)
		k, err := buildPool(pc.node(1), 22, map[string]poolKind{"MaxPool": poolMax, "AveragePool": poolAvg, "LpPool": poolLp}[op])
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{pc.n, pc.c}, pc.in...)...)
		out, err := k.Run(&Context{Threads: 1}, []*Tensor{x})
		if err != nil {
			t.Fatalf("%v: %v", pc, err)
		}
		win, _ := k.(*poolKernel).resolvePool(pc.in)
		xv, _ := x.AsFloat64()
		want, _ := naivePool(pc, win, xv)
		got := out[0].F32()
		if len(got) != len(want) {
			t.Fatalf("%v: %d outputs, want %d", pc, len(got), len(want))
		}
		for i := range want {
			if d := math.Abs(float64(got[i]) - want[i]); !(d <= 1e-5*(1+math.Abs(want[i]))) && !(math.IsInf(want[i], -1) && math.IsInf(float64(got[i]), -1)) {
				t.Fatalf("%v: element %d is %v, want %v", pc, i, got[i], want[i])
			}
		}
		// The float64 path agrees too, and threads do not change bits.
		out64, err := k.Run(&Context{Threads: 2}, []*Tensor{toF64Tensor(x)})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out64[0].Data.([]float64) {
			if d := math.Abs(v - want[i]); !(d <= 1e-9*(1+math.Abs(want[i]))) && !(math.IsInf(want[i], -1) && math.IsInf(v, -1)) {
				t.Fatalf("%v float64: element %d is %v, want %v", pc, i, v, want[i])
			}
		}
		out3, _ := k.Run(&Context{Threads: 3}, []*Tensor{x})
		if i := sameF32Bits(got, out3[0].F32()); i >= 0 {
			t.Fatalf("%v: threads 3 differ at %d", pc, i)
		}
	}
}

// TestMaxPoolIndices checks the Indices output (first largest tap, flat
// over the whole input) in row-major and column-major storage order.
func TestMaxPoolIndices(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for iter := 0; iter < 200; iter++ {
		pc := randPoolCase(r, "MaxPool", 1+iter%3)
		columnMajor := iter%2 == 1
		n := pc.node(2)
		if columnMajor {
			n.Attrs = append(n.Attrs, graph.IntAttr("storage_order", 1))
		}
		k, err := buildPool(n, 22, poolMax)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensorF32(r, append([]int{pc.n, pc.c}, pc.in...)...)
		// Ties: repeat some values so the first one must win.
		for i := range x.F32() {
			if r.IntN(4) == 0 {
				x.F32()[i] = 0.5
			}
		}
		out, err := k.Run(&Context{Threads: 2, Node: n}, []*Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[1].DType != graph.Int64 {
			t.Fatalf("%v: want values and int64 indices", pc)
		}
		win, _ := k.(*poolKernel).resolvePool(pc.in)
		xv, _ := x.AsFloat64()
		_, want := naivePool(pc, win, xv)
		inPlane := product(pc.in)
		pos := make([]int, len(pc.in))
		for i, got := range out[1].I64() {
			w := want[i]
			if columnMajor && w >= 0 {
				plane, flat := int(w)/inPlane, int(w)%inPlane
				unravel(flat, pc.in, pos)
				cm, st := 0, 1
				for j := range pos {
					cm += pos[j] * st
					st *= pc.in[j]
				}
				w = int64(plane*inPlane + cm)
			}
			if got != w {
				t.Fatalf("%v storage_order=%v: index %d is %d, want %d", pc, columnMajor, i, got, w)
			}
		}
	}
}

func TestGlobalPools(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	x := randTensorF32(r, 2, 3, 5, 4, 3)
	xv, _ := x.AsFloat64()
	for _, kind := range []poolKind{poolMax, poolAvg, poolLp} {
		k := &globalPoolKernel{kind: kind, p: 3}
		out, err := k.Run(&Context{Threads: 2}, []*Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		if !equalShape(out[0].Shape, []int{2, 3, 1, 1, 1}) {
			t.Fatalf("shape %v", out[0].Shape)
		}
		for pl := 0; pl < 6; pl++ {
			vals := xv[pl*60 : (pl+1)*60]
			var want float64
			switch kind {
			case poolMax:
				want = math.Inf(-1)
				for _, v := range vals {
					want = math.Max(want, v)
				}
			case poolAvg:
				for _, v := range vals {
					want += v / 60
				}
			case poolLp:
				for _, v := range vals {
					want += math.Pow(math.Abs(v), 3)
				}
				want = math.Pow(want, 1.0/3)
			}
			if got := float64(out[0].F32()[pl]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("kind %d plane %d: %v, want %v", kind, pl, got, want)
			}
		}
	}
}

// poolForUnpool max-pools a random n×c×h×w tensor x with 2x2 windows at
// stride 2 and returns x, MaxPool's values and indices, and the matching
// MaxUnpool kernel.
func poolForUnpool(t *testing.T, r *rand.Rand, n, c, h, w int) (*Tensor, []*Tensor, Kernel) {
	t.Helper()
	pc := poolCase{op: "MaxPool", n: n, c: c, in: []int{h, w}, k: []int{2, 2}, s: []int{2, 2}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}}
	node := pc.node(2)
	k, _ := buildPool(node, 22, poolMax)
	x := randTensorF32(r, n, c, h, w)
	out, err := k.Run(&Context{Threads: 1, Node: node}, []*Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	u, err := buildMaxUnpool(&graph.Node{OpType: "MaxUnpool", Attrs: []*graph.Attribute{
		graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)}}, 22)
	if err != nil {
		t.Fatal(err)
	}
	return x, out, u
}

// TestMaxUnpoolRoundTrip unpools MaxPool's values at its indices.
func TestMaxUnpoolRoundTrip(t *testing.T) {
	x, out, u := poolForUnpool(t, rand.New(rand.NewPCG(37, 38)), 2, 3, 6, 8)
	y, err := u.Run(&Context{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if !equalShape(y[0].Shape, x.Shape) {
		t.Fatalf("shape %v", y[0].Shape)
	}
	nonzero := 0
	for i, v := range y[0].F32() {
		if v != 0 {
			nonzero++
			if v != x.F32()[i] {
				t.Fatalf("element %d is %v, input %v", i, v, x.F32()[i])
			}
		}
	}
	if nonzero != out[0].Len() {
		t.Fatalf("%d values placed, want %d", nonzero, out[0].Len())
	}
	bad := FromInt64(out[1].Shape, append([]int64(nil), out[1].I64()...))
	bad.I64()[0] = 1 << 40
	if _, err := u.Run(&Context{}, []*Tensor{out[0], bad}); err == nil {
		t.Fatal("out-of-range index accepted")
	}
}

func TestPoolTypes(t *testing.T) {
	pc := poolCase{op: "MaxPool", n: 1, c: 1, in: []int{3, 3}, k: []int{2, 2}, s: []int{1, 1}, d: []int{1, 1}, pads: []int{0, 0, 0, 0}}
	k, _ := buildPool(pc.node(1), 22, poolMax)
	x := New(graph.Uint8, 1, 1, 3, 3)
	copy(x.Data.([]uint8), []uint8{1, 200, 3, 4, 5, 6, 250, 8, 9})
	out, err := k.Run(&Context{}, []*Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]uint8); fmt.Sprint(got) != "[200 200 250 9]" {
		t.Fatalf("uint8 MaxPool gives %v", got)
	}
	avg, _ := buildPool(pc.node(1), 22, poolAvg)
	if _, err := avg.Run(&Context{}, []*Tensor{x}); err == nil {
		t.Fatal("AveragePool accepted uint8")
	}
	h := New(graph.Float16, 1, 1, 3, 3)
	storeFloats32(h, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	out, err = avg.Run(&Context{}, []*Tensor{h})
	if err != nil || out[0].DType != graph.Float16 || fmt.Sprint(floatsOf32(out[0])) != "[3 4 6 7]" {
		t.Fatalf("float16 AveragePool gives %v, %v", out, err)
	}
}

func TestPoolBadInputs(t *testing.T) {
	f32 := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	mk := func(attrs ...*graph.Attribute) *graph.Node { return &graph.Node{OpType: "MaxPool", Attrs: attrs} }
	if _, err := buildPool(mk(), 22, poolMax); err == nil {
		t.Error("no kernel_shape accepted")
	}
	cases := []struct {
		n  *graph.Node
		in []*Tensor
	}{
		{mk(graph.IntsAttr("kernel_shape", 2, 2)), []*Tensor{f32(1, 3, 5)}},
		{mk(graph.IntsAttr("kernel_shape", 2, 2)), []*Tensor{f32(1, 3)}},
		{mk(graph.IntsAttr("kernel_shape", 6, 6)), []*Tensor{f32(1, 1, 5, 5)}},
		{mk(graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("pads", 1, 1)), []*Tensor{f32(1, 1, 5, 5)}},
		{mk(graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 1, 1, 1)), []*Tensor{f32(1, 1, 5, 5)}},
		{mk(graph.IntsAttr("kernel_shape", 2, 2)), []*Tensor{nil}},
		{mk(graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("pads", 2, 0, 0, 0)), []*Tensor{f32(1, 1, 5, 5)}},
		{mk(graph.IntsAttr("kernel_shape", 1<<30), graph.IntsAttr("pads", 1<<29, 1<<29)), []*Tensor{f32(1, 1, 5)}},
	}
	for i, c := range cases {
		k, err := buildPool(c.n, 22, poolMax)
		if err != nil {
			continue
		}
		if _, err := k.Run(&Context{}, c.in); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	// Empty axes give an error or an output, never a panic.
	for _, shape := range [][]int{{1, 1, 0, 4}, {1, 1, 4, 0}, {0, 2, 4, 4}, {1, 0, 4, 4}, {1, 1, 3, 0, 2}} {
		for _, kind := range []poolKind{poolMax, poolAvg, poolLp} {
			r := len(shape) - 2
			kshape := make([]int64, r)
			pads := make([]int64, 2*r)
			for i := range kshape {
				kshape[i], pads[i], pads[r+i] = 2, 1, 1
			}
			k, err := buildPool(mk(graph.IntsAttr("kernel_shape", kshape...), graph.IntsAttr("pads", pads...)), 22, kind)
			if err != nil {
				t.Fatal(err)
			}
			k.Run(&Context{Threads: 2}, []*Tensor{f32(shape...)})
		}
		(&globalPoolKernel{kind: poolAvg}).Run(&Context{}, []*Tensor{f32(shape...)})
	}
	if _, err := (&globalPoolKernel{kind: poolAvg}).Run(&Context{}, []*Tensor{f32(3)}); err == nil {
		t.Error("global pool of rank 1 accepted")
	}
}

// TestMaxUnpoolOddOutputShape: MaxPool of a 2x5x5 input floors it to 2x2,
// whose unpooling infers 4x4; with output_shape 5x5 the indices number the
// 5x5 input's elements (as a PyTorch export of an odd size gives them,
// and as ONNX Runtime reads them), and the values go back where MaxPool
// took them.
func TestMaxUnpoolOddOutputShape(t *testing.T) {
	x, out, u := poolForUnpool(t, rand.New(rand.NewPCG(41, 42)), 1, 2, 5, 5)
	y, err := u.Run(&Context{}, append(out, FromInt64([]int{4}, []int64{1, 2, 5, 5})))
	if err != nil {
		t.Fatal(err)
	}
	if !equalShape(y[0].Shape, x.Shape) {
		t.Fatalf("shape %v", y[0].Shape)
	}
	for i, at := range out[1].I64() {
		if got, want := y[0].F32()[at], out[0].F32()[i]; got != want || want != x.F32()[at] {
			t.Fatalf("index %d: unpooled %v, pooled %v, input %v", at, got, want, x.F32()[at])
		}
	}
}
