package runtime

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// qdqModel is x → QuantizeLinear → DequantizeLinear with outputs q and y,
// in domain (com.microsoft at opset 13, else the default one at opset 21).
func qdqModel(t *testing.T, domain string, zp graph.DType, scales []float32, zps []uint16) *graph.Model {
	t.Helper()
	opset := int64(21)
	if domain != "" {
		opset = 13
	}
	b := graph.NewBuilder(opset)
	x := b.Input("x", graph.Float32, 3, 7)
	var dims []int64
	var axis []any
	if len(scales) > 1 {
		dims = []int64{int64(len(scales))}
		axis = []any{graph.IntAttr("axis", 0)}
	}
	s := b.Const(graph.FromFloat32s("s", dims, scales))
	raw := make([]byte, 2*len(zps))
	for i, z := range zps {
		binary.LittleEndian.PutUint16(raw[2*i:], z)
	}
	z := b.Const(graph.NewTensor("z", zp, dims, raw))
	q := b.Op("QuantizeLinear", append([]any{x, s, z}, axis...)...)
	y := b.Op("DequantizeLinear", append([]any{q, s, z}, axis...)...)
	b.Output(q, y)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if domain != "" {
		q.Producer.Domain, y.Producer.Domain = domain, domain
		m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: domain, Version: 1})
	}
	return m
}

// TestMicrosoftQDQBitExact: com.microsoft's QuantizeLinear and
// DequantizeLinear give the default domain's codes and floats bit for
// bit on 16-bit types: rounding ties, saturation at both ends, NaN, per
// tensor and per axis, one thread and two.
func TestMicrosoftQDQBitExact(t *testing.T) {
	x := make([]float32, 21)
	for i := range x {
		x[i] = (float32(i) - 10) * 0.37
	}
	// ties at scale 0.5: 1.25 / 0.5 = 2.5 and -0.75 / 0.5 = -1.5
	x[0], x[1], x[2], x[3], x[4] = 1.25, -0.75, 1e9, -1e9, float32(math.NaN())
	x[5], x[6] = float32(math.Inf(1)), float32(math.Inf(-1))
	in := map[string]*Tensor{"x": FromFloat32([]int{3, 7}, x)}
	for _, c := range []struct {
		name   string
		zp     graph.DType
		scales []float32
		zps    []uint16
	}{
		{"uint16 per tensor", graph.Uint16, []float32{0.5}, []uint16{32771}},
		{"uint16 per axis", graph.Uint16, []float32{0.5, 1e-4, 3}, []uint16{0, 65535, 17}},
		{"int16 per tensor", graph.Int16, []float32{0.5}, []uint16{uint16(0xfffd)}}, // -3
		{"int16 per axis", graph.Int16, []float32{1e-5, 0.5, 2}, []uint16{0x8000, 7, 0x7fff}},
	} {
		for _, threads := range []int{1, 2} {
			var got [2]map[string]*Tensor
			for i, domain := range []string{"", "com.microsoft"} {
				sess, err := NewSession(qdqModel(t, domain, c.zp, c.scales, c.zps), Options{Threads: threads})
				if err != nil {
					t.Fatalf("%s %q: %v", c.name, domain, err)
				}
				if got[i], err = sess.Run(in); err != nil {
					t.Fatalf("%s %q: %v", c.name, domain, err)
				}
			}
			for name, want := range got[0] {
				g := got[1][name]
				if g == nil || g.DType != want.DType || !reflect.DeepEqual(g.Shape, want.Shape) {
					t.Fatalf("%s: output %s: %v, want %v", c.name, name, g, want)
				}
				if want.DType == graph.Float32 {
					for i, w := range want.F32() {
						if math.Float32bits(g.F32()[i]) != math.Float32bits(w) {
							t.Errorf("%s threads %d: y[%d] = %v, want %v", c.name, threads, i, g.F32()[i], w)
						}
					}
				} else if !reflect.DeepEqual(g.Data, want.Data) {
					t.Errorf("%s threads %d: q = %v, want %v", c.name, threads, g.Data, want.Data)
				}
			}
		}
	}
	// the codes themselves: the tie rounds to even, the extremes saturate
	sess, err := NewSession(qdqModel(t, "com.microsoft", graph.Uint16, []float32{0.5}, []uint16{32771}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	var q *Tensor
	for _, o := range out {
		if o.DType == graph.Uint16 {
			q = o
		}
	}
	if q == nil {
		t.Fatal("no uint16 output")
	}
	codes := q.Data.([]uint16)
	if want := []uint16{32773, 32769, 65535, 0, 0, 65535, 0}; !reflect.DeepEqual(codes[:7], want) {
		t.Errorf("codes %v, want %v", codes[:7], want)
	}
}
