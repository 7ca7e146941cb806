// Tests of the normalization kernels against their formulas in float64:
// BatchNormalization (inference, spatial=0 before opset 9, training mode
// with running statistics), LayerNormalization with its Mean/InvStdDev
// outputs, RMSNormalization, InstanceNormalization as GroupNormalization
// with one channel per group, GroupNormalization's per-group scale of
// opset 18, LpNormalization, MeanVarianceNormalization; thread-count
// independence and bad inputs.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*math.Max(1, math.Abs(w))) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], w)
		}
	}
}

func TestBatchNormInference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := ewRand(r, 1, 2, 3, 4, 5)
	scale, bias, mean := ewRand(r, 1, 3), ewRand(r, 1, 3), ewRand(r, 1, 3)
	v := ewRand(r, 1, 3)
	for i := range v.F32() {
		v.F32()[i] = float32(math.Abs(float64(v.F32()[i])))
	}
	want := make([]float64, x.Len())
	for i, xv := range x.F32() {
		c := i / 20 % 3
		want[i] = (float64(xv)-float64(mean.F32()[c]))/math.Sqrt(float64(v.F32()[c])+1e-3)*float64(scale.F32()[c]) + float64(bias.F32()[c])
	}
	got := ewMust(t, ewNode("BatchNormalization", 1, ewFloat("epsilon", 1e-3)), 15, x, scale, bias, mean, v)
	closeTo(t, "batchnorm", got.F32(), want, 1e-5)

	// spatial=0 (opset 7): parameters per element of [C, H, W].
	per := func() *Tensor { return ewRand(r, 1, 3, 4, 5) }
	ps, pb, pm, pv := per(), per(), per(), per()
	for i := range pv.F32() {
		pv.F32()[i] = 1 + float32(math.Abs(float64(pv.F32()[i])))
	}
	for i, xv := range x.F32() {
		j := i % 60
		want[i] = (float64(xv)-float64(pm.F32()[j]))/math.Sqrt(float64(pv.F32()[j])+1e-5)*float64(ps.F32()[j]) + float64(pb.F32()[j])
	}
	got = ewMust(t, ewNode("BatchNormalization", 1, ewInt("spatial", 0)), 7, x, ps, pb, pm, pv)
	closeTo(t, "batchnorm spatial=0", got.F32(), want, 1e-5)
}

func TestBatchNormTraining(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	x := ewRand(r, 2, 3, 2, 7)
	ones := FromFloat32([]int{2}, []float32{1, 1})
	zeros := FromFloat32([]int{2}, []float32{0, 0})
	rm := FromFloat32([]int{2}, []float32{0.5, -0.5})
	rv := FromFloat32([]int{2}, []float32{2, 3})
	outs, err := ewRun(ewNode("BatchNormalization", 3, ewInt("training_mode", 1), ewFloat("momentum", 0.8)), 15, 2, x, ones, zeros, rm, rv)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 2; c++ {
		var s, q float64
		for b := 0; b < 3; b++ {
			for i := 0; i < 7; i++ {
				s += float64(x.F32()[(b*2+c)*7+i])
			}
		}
		m := s / 21
		for b := 0; b < 3; b++ {
			for i := 0; i < 7; i++ {
				d := float64(x.F32()[(b*2+c)*7+i]) - m
				q += d * d
			}
		}
		vr := q / 21
		if got, want := float64(outs[1].F32()[c]), float64(rm.F32()[c])*0.8+m*0.2; math.Abs(got-want) > 1e-5 {
			t.Fatalf("running mean %d: %v, want %v", c, got, want)
		}
		if got, want := float64(outs[2].F32()[c]), float64(rv.F32()[c])*0.8+vr*0.2; math.Abs(got-want) > 1e-5 {
			t.Fatalf("running var %d: %v, want %v", c, got, want)
		}
		y := float64(outs[0].F32()[c*7]) // batch 0, channel c, element 0
		if want := (float64(x.F32()[c*7]) - m) / math.Sqrt(vr+1e-5); math.Abs(y-want) > 1e-5 {
			t.Fatalf("y: %v, want %v", y, want)
		}
	}
}

func naiveLayerNorm(x []float32, rows, cols int, scale, bias []float32, eps float64, rms bool) (y, means, invs []float64) {
	y = make([]float64, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		var m float64
		if !rms {
			for _, v := range row {
				m += float64(v)
			}
			m /= float64(cols)
		}
		var q float64
		for _, v := range row {
			q += (float64(v) - m) * (float64(v) - m)
		}
		inv := 1 / math.Sqrt(q/float64(cols)+eps)
		means, invs = append(means, m), append(invs, inv)
		for i, v := range row {
			y[r*cols+i] = (float64(v) - m) * inv * float64(scale[i])
			if bias != nil {
				y[r*cols+i] += float64(bias[i])
			}
		}
	}
	return y, means, invs
}

func TestLayerAndRMSNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	x := ewRand(r, 2, 2, 3, 4, 5)
	for _, axis := range []int64{-1, 1, -3, 0} {
		ax := int(axis)
		if ax < 0 {
			ax += 4
		}
		rows, cols := prodInts(x.Shape[:ax]), prodInts(x.Shape[ax:])
		scale, bias := ewRand(r, 1, x.Shape[ax:]...), ewRand(r, 1, x.Shape[ax:]...)
		outs, err := ewRun(ewNode("LayerNormalization", 3, ewInt("axis", axis), ewFloat("epsilon", 1e-3)), 17, 2, x, scale, bias)
		if err != nil {
			t.Fatal(err)
		}
		y, means, invs := naiveLayerNorm(x.F32(), rows, cols, scale.F32(), bias.F32(), 1e-3, false)
		closeTo(t, "layernorm", outs[0].F32(), y, 1e-5)
		closeTo(t, "mean", outs[1].F32(), means, 1e-6)
		closeTo(t, "invstddev", outs[2].F32(), invs, 1e-5)
		if len(outs[1].Shape) != 4 || outs[1].Shape[3] != 1 || outs[1].Len() != rows {
			t.Fatalf("Mean shape %v", outs[1].Shape)
		}
		got := ewMust(t, ewNode("RMSNormalization", 1, ewInt("axis", axis)), 23, x, scale)
		y, _, _ = naiveLayerNorm(x.F32(), rows, cols, scale.F32(), nil, 1e-5, true)
		closeTo(t, "rmsnorm", got.F32(), y, 1e-5)
	}
	// A scale that broadcasts to the normalized shape.
	scale := FromFloat32([]int{1, 5}, []float32{1, 2, 3, 4, 5})
	full := FromFloat32([]int{4, 5}, []float32{1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5})
	a := ewMust(t, ewNode("LayerNormalization", 1, ewInt("axis", 2)), 17, x, scale)
	b := ewMust(t, ewNode("LayerNormalization", 1, ewInt("axis", 2)), 17, x, full)
	if i := ewSameBits(a, b); i >= 0 {
		t.Fatalf("broadcast scale differs at byte %d", i)
	}
}

func TestInstanceAndGroupNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := ewRand(r, 3, 2, 6, 3, 3)
	scale, bias := ewRand(r, 1, 6), ewRand(r, 1, 6)
	inst := ewMust(t, ewNode("InstanceNormalization", 1), 6, x, scale, bias)
	grp := ewMust(t, ewNode("GroupNormalization", 1, ewInt("num_groups", 6)), 21, x, scale, bias)
	closeTo(t, "instance vs group", inst.F32(), toF64(grp.F32()), 1e-6)
	// Two groups of three channels, per-group scale (opset 18).
	gs, gb := FromFloat32([]int{2}, []float32{2, -1}), FromFloat32([]int{2}, []float32{0.5, 0})
	got := ewMust(t, ewNode("GroupNormalization", 1, ewInt("num_groups", 2), ewFloat("epsilon", 1e-2)), 18, x, gs, gb)
	want := make([]float64, x.Len())
	for n := 0; n < 2; n++ {
		for g := 0; g < 2; g++ {
			blk := x.F32()[(n*2+g)*27 : (n*2+g+1)*27]
			var m, q float64
			for _, v := range blk {
				m += float64(v)
			}
			m /= 27
			for _, v := range blk {
				q += (float64(v) - m) * (float64(v) - m)
			}
			inv := 1 / math.Sqrt(q/27+1e-2)
			for i, v := range blk {
				want[(n*2+g)*27+i] = (float64(v)-m)*inv*float64(gs.F32()[g]) + float64(gb.F32()[g])
			}
		}
	}
	closeTo(t, "groupnorm opset 18", got.F32(), want, 1e-5)
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestLpAndMVN(t *testing.T) {
	x := FromFloat32([]int{2, 2}, []float32{3, 4, 0, 0})
	l2 := ewMust(t, ewNode("LpNormalization", 1), 1, x).F32()
	l1 := ewMust(t, ewNode("LpNormalization", 1, ewInt("p", 1), ewInt("axis", 0)), 1, x).F32()
	closeTo(t, "l2", l2, []float64{0.6, 0.8, 0, 0}, 1e-6)
	closeTo(t, "l1", l1, []float64{1, 1, 0, 0}, 1e-6)
	r := rand.New(rand.NewPCG(5, 5))
	y := ewRand(r, 2, 2, 3, 2, 2)
	got := ewMust(t, ewNode("MeanVarianceNormalization", 1), 13, y).F32()
	want := make([]float64, y.Len())
	for c := 0; c < 3; c++ {
		var idx []int
		for n := 0; n < 2; n++ {
			for i := 0; i < 4; i++ {
				idx = append(idx, (n*3+c)*4+i)
			}
		}
		var m, q float64
		for _, i := range idx {
			m += float64(y.F32()[i])
		}
		m /= float64(len(idx))
		for _, i := range idx {
			q += (float64(y.F32()[i]) - m) * (float64(y.F32()[i]) - m)
		}
		sd := math.Sqrt(q / float64(len(idx)))
		for _, i := range idx {
			want[i] = (float64(y.F32()[i]) - m) / (sd + 1e-9)
		}
	}
	closeTo(t, "mvn", got, want, 1e-5)
	last := ewMust(t, ewNode("MeanVarianceNormalization", 1, ewInts("axes", 3)), 13, y).F32()
	if math.Abs(float64(last[0]+last[1])) > 1e-5 {
		t.Fatalf("mvn over the last axis of size 2: %v", last[:2])
	}
}

func TestNormalizationThreadsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	x := ewRand(r, 2, 4, 32, 24, 24)
	c := func() *Tensor { return ewRand(r, 1, 32) }
	v := c()
	for i := range v.F32() {
		v.F32()[i] = 1 + float32(math.Abs(float64(v.F32()[i])))
	}
	s, b, m := c(), c(), c()
	ls := ewRand(r, 1, 24)
	cases := []struct {
		n     *graph.Node
		opset int64
		in    []*Tensor
	}{
		{ewNode("BatchNormalization", 1), 15, []*Tensor{x, s, b, m, v}},
		{ewNode("InstanceNormalization", 1), 6, []*Tensor{x, s, b}},
		{ewNode("GroupNormalization", 1, ewInt("num_groups", 4)), 21, []*Tensor{x, s, b}},
		{ewNode("LayerNormalization", 1), 17, []*Tensor{x, ls, ls}},
		{ewNode("LpNormalization", 1, ewInt("axis", 1)), 1, []*Tensor{x}},
		{ewNode("MeanVarianceNormalization", 1), 13, []*Tensor{x}},
	}
	for _, cs := range cases {
		one, err := ewRun(cs.n, cs.opset, 1, cs.in...)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range []int{2, 6} {
			many, _ := ewRun(cs.n, cs.opset, th, cs.in...)
			if i := ewSameBits(one[0], many[0]); i >= 0 {
				t.Fatalf("%s: %d threads differ at byte %d", cs.n.OpType, th, i)
			}
		}
	}
}

func TestNormalizationBadInputs(t *testing.T) {
	x := FromFloat32([]int{2, 3, 4}, make([]float32, 24))
	c3, c2 := FromFloat32([]int{3}, make([]float32, 3)), FromFloat32([]int{2}, make([]float32, 2))
	for _, cs := range []struct {
		n     *graph.Node
		opset int64
		in    []*Tensor
	}{
		{ewNode("BatchNormalization", 1), 15, []*Tensor{x, c2, c3, c3, c3}},
		{ewNode("BatchNormalization", 1), 15, []*Tensor{x, c3, c3, c3}},
		{ewNode("BatchNormalization", 1), 15, []*Tensor{Scalar(1), c3, c3, c3, c3}},
		{ewNode("InstanceNormalization", 1), 6, []*Tensor{x, c3, c2}},
		{ewNode("InstanceNormalization", 1), 6, []*Tensor{FromInt64([]int{2, 3}, make([]int64, 6)), c3, c3}},
		{ewNode("GroupNormalization", 1, ewInt("num_groups", 2)), 21, []*Tensor{x, c3, c3}},
		{ewNode("LayerNormalization", 1), 17, []*Tensor{x, c3}},
		{ewNode("LayerNormalization", 1, ewInt("axis", 3)), 17, []*Tensor{x, c3}},
		{ewNode("LpNormalization", 1, ewInt("axis", 3)), 1, []*Tensor{x}},
		{ewNode("MeanVarianceNormalization", 1), 13, []*Tensor{x}},
	} {
		if _, err := ewRun(cs.n, cs.opset, 2, cs.in...); err == nil {
			t.Errorf("%s %v: no error", cs.n.OpType, cs.in)
		}
	}
	for _, n := range []*graph.Node{ewNode("GroupNormalization", 1), ewNode("LpNormalization", 1, ewInt("p", 3))} {
		if _, err := ewRun(n, 21, 1, x); err == nil {
			t.Errorf("%s %v: no error", n.OpType, n.Attrs)
		}
	}
}

func BenchmarkBatchNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := ewRand(r, 1, 1, 64, 80, 80)
	c := func() *Tensor { return ewRand(r, 1, 64) }
	v := c()
	for i := range v.F32() {
		v.F32()[i] = 1
	}
	benchOp(b, ewNode("BatchNormalization", 1), 15, x, c(), c(), c(), v)
}

func BenchmarkLayerNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchOp(b, ewNode("LayerNormalization", 1), 17, ewRand(r, 1, 256, 768), ewRand(r, 1, 768), ewRand(r, 1, 768))
}

// ImageScaler: scale·x + bias[c]; one bias value for every channel; a
// bias list of the wrong length is an error.
func TestImageScaler(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := ewRand(r, 1, 2, 3, 2, 2)
	bias := &graph.Attribute{Name: "bias", Type: graph.AttrFloats, Floats: []float32{0.5, -1, 2}}
	want := make([]float64, x.Len())
	for i, v := range x.F32() {
		want[i] = 0.25*float64(v) + float64(bias.Floats[i/4%3])
	}
	got := ewMust(t, ewNode("ImageScaler", 1, ewFloat("scale", 0.25), bias), 8, x)
	closeTo(t, "image scaler", got.F32(), want, 1e-6)
	one := &graph.Attribute{Name: "bias", Type: graph.AttrFloats, Floats: []float32{3}}
	got = ewMust(t, ewNode("ImageScaler", 1, one), 8, x)
	for i, v := range x.F32() {
		want[i] = float64(v) + 3
	}
	closeTo(t, "one bias", got.F32(), want, 1e-6)
	two := &graph.Attribute{Name: "bias", Type: graph.AttrFloats, Floats: []float32{1, 2}}
	if _, err := ewRun(ewNode("ImageScaler", 1, two), 8, 1, x); err == nil {
		t.Error("2 biases for 3 channels accepted")
	}
}
