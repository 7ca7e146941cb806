// Tests of the vision kernels: GridSample on identity and out-of-range
// grids (with AffineGrid making them), RoiAlign on constant images,
// Col2Im against a brute-force count, DeformConv against Conv with zero
// offsets and against shifted inputs, NonMaxSuppression on hand-made
// boxes, thread independence and bad inputs.
package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// identityGrid makes the grid of an identity transform with AffineGrid.
func identityGrid(t *testing.T, align int64, size ...int64) *Tensor {
	t.Helper()
	r := len(size) - 2
	theta := New(graph.Float32, int(size[0]), r, r+1)
	for b := 0; b < int(size[0]); b++ {
		for i := 0; i < r; i++ {
			theta.F32()[(b*r+i)*(r+1)+i] = 1
		}
	}
	return ewMust(t, ewNode("AffineGrid", 1, ewInt("align_corners", align)), 20, theta, FromInt64([]int{len(size)}, size))
}

func TestGridSampleIdentity(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, shape := range [][]int{{2, 3, 5, 4}, {1, 2, 3, 4, 5}} {
		x := ewRand(r, 1, shape...)
		size := make([]int64, len(shape))
		for i, d := range shape {
			size[i] = int64(d)
		}
		for _, align := range []int64{0, 1} {
			grid := identityGrid(t, align, size...)
			for _, mode := range []string{"nearest", "linear", "cubic"} {
				for _, pad := range []string{"zeros", "border", "reflection"} {
					n := ewNode("GridSample", 1, ewString("mode", mode), ewString("padding_mode", pad), ewInt("align_corners", align))
					outs, err := ewRun(n, 22, 3, x, grid)
					if err != nil {
						t.Fatalf("%v %s %s: %v", shape, mode, pad, err)
					}
					if d := maxAbsDiff(f64s(outs[0]), f64s(x)); d > 1e-5 {
						t.Errorf("%v align=%d %s %s: identity grid changes X by %g", shape, align, mode, pad, d)
					}
				}
			}
		}
	}
	// Opset 16 spells the modes bilinear and bicubic.
	x := ewRand(r, 1, 1, 1, 3, 3)
	grid := identityGrid(t, 0, 1, 1, 3, 3)
	for _, mode := range []string{"bilinear", "bicubic"} {
		y := ewMust(t, ewNode("GridSample", 1, ewString("mode", mode)), 16, x, grid)
		if d := maxAbsDiff(f64s(y), f64s(x)); d > 1e-5 {
			t.Errorf("%s: identity grid changes X by %g", mode, d)
		}
	}
}

func TestGridSamplePadding(t *testing.T) {
	// X = [1 2 3] on one row; sample far left, far right and a point that
	// reflects. Coordinates are normalized with align_corners=1.
	x := FromFloat32([]int{1, 1, 1, 3}, []float32{1, 2, 3})
	grid := FromFloat32([]int{1, 1, 4, 2}, []float32{-3, 0, 3, 0, 1.5, 0, float32(math.NaN()), 0})
	for _, c := range []struct {
		pad  string
		want []float32
	}{
		// x = -3 is pixel -2, 3 is pixel 4, 1.5 is pixel 2.5; reflected
		// they become 2, 0 and 1.5.
		{"zeros", []float32{0, 0, 1.5, 0}},
		{"border", []float32{1, 3, 3, 1}},
		{"reflection", []float32{3, 1, 2.5, 0}},
	} {
		n := ewNode("GridSample", 1, ewString("padding_mode", c.pad), ewInt("align_corners", 1))
		y := ewMust(t, n, 20, x, grid)
		for i, w := range c.want {
			if i == 3 && c.pad == "reflection" {
				continue // NaN: any finite value, no panic
			}
			if math.Abs(float64(y.F32()[i]-w)) > 1e-6 {
				t.Errorf("%s: sample %d is %g, want %g", c.pad, i, y.F32()[i], w)
			}
		}
	}
	// Large and infinite coordinates do not panic.
	huge := FromFloat32([]int{1, 1, 3, 2}, []float32{1e30, -1e30, float32(math.Inf(1)), 0, 0, float32(math.Inf(-1))})
	for _, mode := range []string{"nearest", "linear", "cubic"} {
		for _, pad := range []string{"zeros", "border", "reflection"} {
			n := ewNode("GridSample", 1, ewString("mode", mode), ewString("padding_mode", pad))
			if _, err := ewRun(n, 20, 1, x, huge); err != nil {
				t.Errorf("%s %s: %v", mode, pad, err)
			}
		}
	}
}

func TestRoiAlignConstant(t *testing.T) {
	// On a constant image every bin of a box inside the image averages to
	// that constant; max mode weighs the corners, so it stays below it.
	x := New(graph.Float32, 2, 2, 6, 7)
	for i := range x.F32() {
		x.F32()[i] = float32(1 + i/(6*7)) // channel value
	}
	rois := FromFloat32([]int{3, 4}, []float32{0, 0, 5, 4, 1.2, 0.5, 3.3, 2.1, 2, 2, 2.5, 5})
	idx := FromInt64([]int{3}, []int64{1, 0, 1})
	for _, mode := range []string{"half_pixel", "output_half_pixel"} {
		n := ewNode("RoiAlign", 1, ewInt("output_height", 3), ewInt("output_width", 2), ewInt("sampling_ratio", 2),
			ewString("coordinate_transformation_mode", mode))
		outs, err := ewRun(n, 16, 2, x, rois, idx)
		if err != nil {
			t.Fatal(err)
		}
		y := outs[0]
		if !equalShape(y.Shape, []int{3, 2, 3, 2}) {
			t.Fatalf("shape %v", y.Shape)
		}
		for i, v := range y.F32() {
			ch := i / 6 % 2
			want := float32(1 + (int(idx.I64()[i/12])*2 + ch))
			if math.Abs(float64(v-want)) > 1e-5 {
				t.Fatalf("%s: element %d is %g, want %g", mode, i, v, want)
			}
		}
	}
	bad := [][]*Tensor{
		{x, rois, FromInt64([]int{3}, []int64{0, 2, 0})},
		{x, rois, FromInt64([]int{2}, []int64{0, 0})},
		{x, FromFloat32([]int{1, 4}, []float32{0, 0, 1e30, 1e30}), FromInt64([]int{1}, []int64{0})},
		{ewRand(rand.New(rand.NewPCG(1, 2)), 1, 2, 6, 7), rois, idx},
	}
	for i, in := range bad {
		if _, err := ewRun(ewNode("RoiAlign", 1), 16, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestCol2ImCountsOverlaps(t *testing.T) {
	// Folding columns of ones counts, per pixel, the blocks covering it.
	img, blk := []int{5, 6}, []int{2, 3}
	dil, pads, strides := []int{2, 1}, []int{1, 0, 0, 2}, []int{1, 2}
	cols := make([]int, 2)
	for i := range cols {
		cols[i] = (img[i]+pads[i]+pads[i+2]-(dil[i]*(blk[i]-1)+1))/strides[i] + 1
	}
	const n, c = 2, 3
	l := cols[0] * cols[1]
	x := New(graph.Float32, n, c*blk[0]*blk[1], l)
	for i := range x.F32() {
		x.F32()[i] = 1
	}
	node := ewNode("Col2Im", 1, ewInts("dilations", 2, 1), ewInts("pads", 1, 0, 0, 2), ewInts("strides", 1, 2))
	y := ewMust(t, node, 18, x, FromInt64([]int{2}, []int64{5, 6}), FromInt64([]int{2}, []int64{2, 3}))
	want := make([]float32, img[0]*img[1])
	for bi := 0; bi < cols[0]; bi++ {
		for bj := 0; bj < cols[1]; bj++ {
			for ki := 0; ki < blk[0]; ki++ {
				for kj := 0; kj < blk[1]; kj++ {
					p := bi*strides[0] - pads[0] + ki*dil[0]
					q := bj*strides[1] - pads[1] + kj*dil[1]
					if p >= 0 && p < img[0] && q >= 0 && q < img[1] {
						want[p*img[1]+q]++
					}
				}
			}
		}
	}
	for i, v := range y.F32() {
		if v != want[i%len(want)] {
			t.Fatalf("pixel %d is %g, want %g", i, v, want[i%len(want)])
		}
	}
	for i, in := range [][]*Tensor{
		{x, FromInt64([]int{2}, []int64{5, 7}), FromInt64([]int{2}, []int64{2, 3})},
		{x, FromInt64([]int{2}, []int64{5, 6}), FromInt64([]int{3}, []int64{2, 3, 1})},
		{x, FromInt64([]int{2}, []int64{-5, 6}), FromInt64([]int{2}, []int64{2, 3})},
		{x, FromInt64([]int{2}, []int64{1, 1}), FromInt64([]int{2}, []int64{2, 3})},
	} {
		if _, err := ewRun(node, 18, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestDeformConvZeroOffsetIsConv(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range []struct {
		x, w           []int
		group, offG    int64
		pads, strides  []int64
		dils           []int64
		withMask, bias bool
	}{
		{x: []int{2, 4, 6, 5}, w: []int{6, 2, 3, 2}, group: 2, offG: 2, pads: []int64{1, 0, 1, 1}, strides: []int64{1, 2}, dils: []int64{1, 1}, bias: true},
		{x: []int{1, 3, 7, 7}, w: []int{2, 3, 3, 3}, group: 1, offG: 3, pads: []int64{0, 0, 0, 0}, strides: []int64{2, 2}, dils: []int64{2, 1}, withMask: true},
		{x: []int{1, 2, 9}, w: []int{3, 2, 4}, group: 1, offG: 1, pads: []int64{2, 1}, strides: []int64{1}, dils: []int64{1}},
	} {
		x, w := ewRand(r, 1, c.x...), ewRand(r, 1, c.w...)
		attrs := []*graph.Attribute{ewInt("group", c.group), ewInts("pads", c.pads...), ewInts("strides", c.strides...), ewInts("dilations", c.dils...)}
		in := []*Tensor{x, w}
		if c.bias {
			in = append(in, ewRand(r, 1, c.w[0]))
		}
		conv := ewMust(t, ewNode("Conv", 1, attrs...), 22, in...)
		sp := conv.Shape[2:]
		kk := prodInts(c.w[2:])
		offShape := append([]int{c.x[0], int(c.offG) * kk * len(sp)}, sp...)
		dIn := []*Tensor{x, w, New(graph.Float32, offShape...)}
		if c.bias {
			dIn = append(dIn, in[2])
		} else {
			dIn = append(dIn, nil)
		}
		want := conv
		if c.withMask {
			// A mask of 0.5 everywhere halves the (bias-free) result.
			m := New(graph.Float32, append([]int{c.x[0], int(c.offG) * kk}, sp...)...)
			for i := range m.F32() {
				m.F32()[i] = 0.5
			}
			dIn = append(dIn, m)
			want = conv.Clone()
			for i := range want.F32() {
				want.F32()[i] *= 0.5
			}
		}
		dn := ewNode("DeformConv", 1, append(attrs, ewInt("offset_group", c.offG))...)
		var first *Tensor
		for _, th := range []int{1, 3} {
			outs, err := ewRun(dn, 22, th, dIn...)
			if err != nil {
				t.Fatalf("%v: %v", c.x, err)
			}
			if d := maxAbsDiff(f64s(outs[0]), f64s(want)); d > 1e-4 {
				t.Errorf("%v: zero offsets differ from Conv by %g", c.x, d)
			}
			if first == nil {
				first = outs[0]
			} else if i := ewSameBits(first, outs[0]); i >= 0 {
				t.Errorf("%v: threads change the result at byte %d", c.x, i)
			}
		}
	}
}

func TestDeformConvIntegerOffsetShifts(t *testing.T) {
	// An offset of +1 along W for every kernel point equals convolving the
	// input shifted left by one pixel (zero filled).
	r := rand.New(rand.NewPCG(25, 26))
	x, w := ewRand(r, 1, 1, 2, 5, 6), ewRand(r, 1, 3, 2, 2, 2)
	shifted := New(graph.Float32, 1, 2, 5, 6)
	for ch := 0; ch < 2; ch++ {
		for i := 0; i < 5; i++ {
			for j := 0; j+1 < 6; j++ {
				shifted.F32()[(ch*5+i)*6+j] = x.F32()[(ch*5+i)*6+j+1]
			}
		}
	}
	want := ewMust(t, ewNode("Conv", 1), 22, shifted, w)
	off := New(graph.Float32, 1, 8, 4, 5)
	for k := 0; k < 4; k++ {
		for o := 0; o < 20; o++ {
			off.F32()[(k*2+1)*20+o] = 1
		}
	}
	y := ewMust(t, ewNode("DeformConv", 1), 22, x, w, off)
	if d := maxAbsDiff(f64s(y), f64s(want)); d > 1e-5 {
		t.Errorf("shifted sampling differs by %g", d)
	}
	for i, in := range [][]*Tensor{
		{x, w, New(graph.Float32, 1, 7, 4, 5)},
		{x, w, New(graph.Float32, 1, 8, 4, 4)},
		{x, ewRand(r, 1, 3, 3, 2, 2), off},
		{x, w, off, ewRand(r, 1, 2)},
		{x, w, off, nil, New(graph.Float32, 1, 3, 4, 5)},
	} {
		if _, err := ewRun(ewNode("DeformConv", 1), 22, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestNonMaxSuppression(t *testing.T) {
	boxes := FromFloat32([]int{1, 5, 4}, []float32{
		0, 0, 1, 1, // 0
		0, 0.1, 1, 1.1, // 1: IoU with 0 is 0.9/1.1
		0, 2, 1, 3, // 2: apart
		1, 3, 0, 2, // 3: box 2 with flipped corners
		5, 5, 6, 6, // 4
	})
	scores := FromFloat32([]int{1, 2, 5}, []float32{
		0.9, 0.95, 0.5, 0.6, 0.1,
		0.3, 0.3, 0.3, 0.3, float32(math.NaN()),
	})
	run := func(maxOut int64, iou, score float32, useScore bool) []int64 {
		in := []*Tensor{boxes, scores, FromInt64(nil, []int64{maxOut}), FromFloat32(nil, []float32{iou})}
		if useScore {
			in = append(in, FromFloat32(nil, []float32{score}))
		}
		y := ewMust(t, ewNode("NonMaxSuppression", 1), 11, in...)
		if len(y.Shape) != 2 || y.Shape[1] != 3 {
			t.Fatalf("shape %v", y.Shape)
		}
		return y.I64()
	}
	eq := func(a []int64, b ...int64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	// Class 0: 1 (0.95) beats 0; 3 beats its twin 2; 4 last. Class 1: all
	// equal scores keep index order; 1 overlaps 0, 3 overlaps 2; NaN last.
	if got := run(10, 0.5, 0, false); !eq(got, 0, 0, 1, 0, 0, 3, 0, 0, 4, 0, 1, 0, 0, 1, 2, 0, 1, 4) {
		t.Errorf("selection %v", got)
	}
	if got := run(2, 0.5, 0.2, true); !eq(got, 0, 0, 1, 0, 0, 3, 0, 1, 0, 0, 1, 2) {
		t.Errorf("limited selection %v", got)
	}
	if got := run(0, 0.5, 0, false); len(got) != 0 {
		t.Errorf("max 0 selected %v", got)
	}
	// IoU exactly at the threshold keeps the box.
	sq := FromFloat32([]int{1, 2, 4}, []float32{0, 0, 2, 2, 0, 1, 2, 3})
	sc := FromFloat32([]int{1, 1, 2}, []float32{1, 0.5})
	y := ewMust(t, ewNode("NonMaxSuppression", 1), 11, sq, sc, FromInt64(nil, []int64{5}), FromFloat32(nil, []float32{1.0 / 3}))
	if y.Shape[0] != 2 {
		t.Errorf("box at the threshold was suppressed: %v", y.I64())
	}
	center := ewMust(t, ewNode("NonMaxSuppression", 1, ewInt("center_point_box", 1)), 11,
		FromFloat32([]int{1, 2, 4}, []float32{1, 1, 2, 2, 1, 2, 2, 2}), sc, FromInt64(nil, []int64{5}), FromFloat32(nil, []float32{0.3}))
	if center.Shape[0] != 1 {
		t.Errorf("center boxes of IoU 1/3 over a threshold of 0.3 both kept: %v", center.I64())
	}
	for i, in := range [][]*Tensor{
		{FromFloat32([]int{1, 5, 3}, make([]float32, 15)), scores},
		{boxes, FromFloat32([]int{1, 2, 4}, make([]float32, 8))},
		{boxes, scores, FromFloat32(nil, []float32{3})},
	} {
		if _, err := ewRun(ewNode("NonMaxSuppression", 1), 11, 1, in...); err == nil {
			t.Errorf("bad case %d: no error", i)
		}
	}
}

func TestVisionBadAttributes(t *testing.T) {
	for _, n := range []*graph.Node{
		ewNode("GridSample", 1, ewString("mode", "area")),
		ewNode("GridSample", 1, ewString("padding_mode", "wrap")),
		ewNode("RoiAlign", 1, ewString("mode", "sum")),
		ewNode("RoiAlign", 1, ewInt("output_height", 0)),
		ewNode("RoiAlign", 1, ewString("coordinate_transformation_mode", "asymmetric")),
		ewNode("NonMaxSuppression", 1, ewInt("center_point_box", 2)),
		ewNode("DeformConv", 1, ewInt("group", 0)),
	} {
		b := DefaultRegistry().Lookup("", n.OpType)
		if _, err := b(n, 22); err == nil {
			t.Errorf("%s %v: no error", n.OpType, n.Attrs)
		}
	}
	r := rand.New(rand.NewPCG(27, 28))
	x := ewRand(r, 1, 1, 1, 3, 3)
	for i, in := range [][]*Tensor{
		{x, ewRand(r, 1, 1, 2, 2, 3)},
		{x, ewRand(r, 1, 2, 2, 2, 2)},
		{x, FromInt64([]int{1, 2, 2, 2}, make([]int64, 8))},
		{&Tensor{DType: graph.String, Shape: []int{1, 1, 1, 1}, Data: []string{"a"}}, ewRand(r, 1, 1, 1, 1, 2)},
	} {
		if _, err := ewRun(ewNode("GridSample", 1), 20, 1, in...); err == nil {
			t.Errorf("GridSample bad case %d: no error", i)
		}
	}
	for i, in := range [][]*Tensor{
		{ewRand(r, 1, 2, 2, 3), FromInt64([]int{4}, []int64{3, 1, 4, 4})},
		{ewRand(r, 1, 2, 2, 3), FromInt64([]int{3}, []int64{2, 1, 4})},
		{ewRand(r, 1, 2, 2, 3), FromInt64([]int{4}, []int64{2, 1, -4, 4})},
	} {
		if _, err := ewRun(ewNode("AffineGrid", 1), 20, 1, in...); err == nil {
			t.Errorf("AffineGrid bad case %d: no error", i)
		}
	}
}
