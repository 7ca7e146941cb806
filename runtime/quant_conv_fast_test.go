// quant_conv_fast_test.go checks the fast QLinearConv path against the
// reference kernel over random shapes, groups, strides, dilations, pads,
// zero points and types, at several thread counts.
package runtime

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func TestFastQLinearConvMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	for trial := range 300 {
		G := []int{1, 1, 2, 3}[rng.IntN(4)]
		depthwise := rng.IntN(4) == 0
		cg, mg := 1+rng.IntN(5), 1+rng.IntN(6)
		if depthwise {
			cg, mg, G = 1, 1, 1+rng.IntN(9)
		}
		C, M := cg*G, mg*G
		kh, kw := 1+rng.IntN(3), 1+rng.IntN(3)
		H, W := kh+rng.IntN(9), kw+rng.IntN(9)
		N := 1 + rng.IntN(2)
		sh, sw := 1+rng.IntN(2), 1+rng.IntN(2)
		dh, dw := 1+rng.IntN(2), 1+rng.IntN(2)
		if (kh-1)*dh+1 > H+2 || (kw-1)*dw+1 > W+2 {
			dh, dw = 1, 1
		}
		pads := []int64{int64(rng.IntN(2)), int64(rng.IntN(2)), int64(rng.IntN(2)), int64(rng.IntN(2))}
		xType := []graph.DType{graph.Uint8, graph.Int8}[rng.IntN(2)]
		yType := []graph.DType{graph.Uint8, graph.Int8}[rng.IntN(2)]

		x := New(xType, N, C, H, W)
		switch d := x.Data.(type) {
		case []uint8:
			for i := range d {
				d[i] = uint8(rng.IntN(256))
			}
		case []int8:
			for i := range d {
				d[i] = int8(rng.IntN(256) - 128)
			}
		}
		w := New(graph.Int8, M, cg, kh, kw)
		for i := range w.Data.([]int8) {
			w.Data.([]int8)[i] = int8(rng.IntN(256) - 128)
		}
		xzp := New(xType)
		if xType == graph.Uint8 {
			xzp.Data.([]uint8)[0] = uint8(rng.IntN(256))
		} else {
			xzp.Data.([]int8)[0] = int8(rng.IntN(256) - 128)
		}
		nz := 1
		if rng.IntN(2) == 0 {
			nz = M
		}
		wzp := New(graph.Int8, nz)
		if nz == 1 {
			wzp.Shape = nil
		}
		for i := range wzp.Data.([]int8) {
			if rng.IntN(3) == 0 {
				wzp.Data.([]int8)[i] = int8(rng.IntN(21) - 10)
			}
		}
		ws := New(graph.Float32, M)
		for i := range ws.F32() {
			ws.F32()[i] = float32(rng.Float64()*0.02 + 1e-4)
		}
		var bias *Tensor
		if rng.IntN(3) != 0 {
			bias = New(graph.Int32, M)
			for i := range bias.Data.([]int32) {
				bias.Data.([]int32)[i] = int32(rng.IntN(20001) - 10000)
			}
		}
		yzp := New(yType)
		if yType == graph.Uint8 {
			yzp.Data.([]uint8)[0] = uint8(rng.IntN(256))
		} else {
			yzp.Data.([]int8)[0] = int8(rng.IntN(256) - 128)
		}
		in := []*Tensor{x, Scalar(float32(rng.Float64()*0.05 + 1e-3)), xzp, w, ws, wzp, Scalar(float32(rng.Float64()*0.5 + 0.01)), yzp}
		if bias != nil {
			in = append(in, bias)
		}
		attrs := []*graph.Attribute{
			graph.IntAttr("group", int64(G)),
			graph.IntsAttr("strides", int64(sh), int64(sw)),
			graph.IntsAttr("dilations", int64(dh), int64(dw)),
			graph.IntsAttr("pads", pads...),
		}
		name := fmt.Sprintf("trial %d: N%d C%d M%d G%d k%dx%d in %dx%d s%d,%d d%d,%d pads %v x %v y %v", trial, N, C, M, G, kh, kw, H, W, sh, sw, dh, dw, pads, xType, yType)
		node := &graph.Node{OpType: "QLinearConv", Attrs: attrs}
		kern, err := newIntConv(node, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		forceReferenceQConv = true
		want, werr := kern.Run(&Context{Threads: 1, Node: node}, in)
		forceReferenceQConv = false
		if werr != nil {
			continue // a shape the attributes do not allow: both paths refuse it
		}
		if kern.(*intConvKernel).newQConvArgs(x, xzp, w, wzp, bias, make([]float32, M), 0, 0, 255, yType) == nil {
			t.Fatalf("%s: does not take the fast path", name)
		}
		for _, threads := range []int{1, 3} {
			got, err := kern.Run(&Context{Threads: threads, Node: node}, in)
			if err != nil {
				t.Fatalf("%s: fast path: %v", name, err)
			}
			if !slices.Equal(got[0].Shape, want[0].Shape) {
				t.Fatalf("%s: shape %v, want %v", name, got[0].Shape, want[0].Shape)
			}
			g8, w8 := fmt.Sprint(got[0].Data), fmt.Sprint(want[0].Data)
			if g8 != w8 {
				t.Fatalf("%s, %d threads: fast path differs from the reference", name, threads)
			}
		}
	}
}
