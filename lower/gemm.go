// gemm.go lowers complete Gemm units (Options.Gemm) for the QOperator
// form. The standard ops have no integer Gemm, so the unit
//
//	DequantizeLinear(a) ─┐
//	DequantizeLinear(w) ─┼─► Gemm ─► (QuantizeLinear)
//	DequantizeLinear(c) ─┘
//
// becomes the integer product and its rescaling in standard ops:
//
//	MatMulInteger(a, w[K,N], za, zw) ─► Add(c) ─► Cast(float) ─► Mul(sa·sw)
//
// whose float value the unit's QuantizeLinear nodes (if any) read as they
// read the Gemm's: acc = Σ(a−za)(w−zw) + c in int32, then float(acc)·sa·sw,
// which is the QDQ form's value up to the rounding of its float
// accumulation. A weight stored transposed (transB) is transposed once,
// as integers.

package lower

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// gemmUnit is one matched Gemm unit.
type gemmUnit struct {
	node       *graph.Node
	a, w, bias *graph.Node // DequantizeLinear nodes; bias may be nil
}

// matchGemm checks a complete Gemm unit for the rewrite; it returns nil
// and the reason when the unit keeps its QDQ form.
func matchGemm(n *graph.Node) (*gemmUnit, string) {
	u := &gemmUnit{node: n, a: dq(n.Input(0)), w: dq(n.Input(1))}
	if u.a == nil || u.w == nil {
		return nil, "its inputs are not dequantized"
	}
	if n.AttrFloat("alpha", 1) != 1 || n.AttrFloat("beta", 1) != 1 || n.AttrInt("transA", 0) != 0 {
		return nil, "its alpha, beta or transA is not the default"
	}
	aq, wq := u.a.Input(0), u.w.Input(0)
	if !eightBit(elemType(aq)) || wq == nil || wq.Const == nil || !eightBit(wq.Const.DType) || len(wq.Const.Dims) != 2 {
		return nil, "its input is not 8-bit or its weight not a constant 8-bit matrix"
	}
	if elemType(aq) == graph.Int8 && wq.Const.DType == graph.Uint8 {
		return nil, "its input is int8 and its weight uint8, a pair ONNX Runtime's integer kernels do not take"
	}
	if _, _, ok := perTensorParams(u.a); !ok {
		return nil, "its input's scale is not one constant"
	}
	if u.w.AttrInt("block_size", 0) != 0 {
		return nil, "its weight is quantized block-wise"
	}
	ws := u.w.Input(1).ConstFloat32s()
	if len(ws) == 0 || slices.ContainsFunc(ws, func(s float32) bool { return !(s > 0) || math.IsInf(float64(s), 0) }) {
		return nil, "its weight scale is not positive, finite and constant"
	}
	// N, the columns of the product, and the weight axis that holds them
	n0, colAxis := wq.Const.Dims[1], int64(1)
	if n.AttrInt("transB", 0) != 0 {
		n0, colAxis = wq.Const.Dims[0], 0
	}
	if axis := u.w.AttrInt("axis", 1); len(ws) > 1 && axis != colAxis && axis != colAxis-2 {
		return nil, "its weight is quantized along an axis other than the output columns"
	}
	if len(ws) != 1 && int64(len(ws)) != n0 {
		return nil, "its weight scales do not match its columns"
	}
	if z := u.w.Input(2); z != nil && len(constInts(z)) != len(ws) {
		return nil, "its weight zero point is not constant"
	}
	if c := n.Input(2); c != nil {
		if u.bias = dq(c); u.bias == nil {
			return nil, "its bias is not a dequantized int32 constant"
		}
		bq := u.bias.Input(0)
		if bq == nil || bq.Const == nil || bq.Const.DType != graph.Int32 || bq.Const.NumElements() != n0 && bq.Const.NumElements() != 1 {
			return nil, "its bias is not an int32 constant of one value per column"
		}
		if slices.ContainsFunc(constInts(u.bias.Input(2)), func(z int64) bool { return z != 0 }) {
			return nil, "its bias has a zero point"
		}
		sa, _, _ := perTensorParams(u.a)
		bs := u.bias.Input(1).ConstFloat32s()
		if len(bs) != 1 && len(bs) != len(ws) {
			return nil, "its bias scale does not match the weight's columns"
		}
		for i := range max(len(bs), len(ws)) {
			if bs[min(i, len(bs)-1)] != sa*ws[min(i, len(ws)-1)] {
				return nil, "its bias scale is not input scale × weight scale"
			}
		}
	}
	if slices.Contains(n.Graph.Outputs, n.Outputs[0]) {
		return nil, "its float output is a graph output"
	}
	return u, ""
}

// rewriteGemm replaces u's Gemm by MatMulInteger → Add → Cast → Mul,
// whose output value takes over the Gemm's (name and readers).
func rewriteGemm(g *graph.Graph, u *gemmUnit) error {
	n := u.node
	aq, za := u.a.Input(0), u.a.Input(2)
	var err error
	if za == nil {
		if za, err = zeroPoint(g, elemType(aq), n.Name+"_a_zero_point"); err != nil {
			return err
		}
	}
	w := u.w.Input(0).Const
	ws := u.w.Input(1).ConstFloat32s()
	zw := constInts(u.w.Input(2))
	if zw == nil {
		zw = make([]int64, len(ws))
	}
	// The weight as [K, N] integers, its zero points per column.
	rows, cols := w.Dims[0], w.Dims[1]
	raw, err := w.Raw()
	if err != nil {
		return err
	}
	if n.AttrInt("transB", 0) != 0 {
		t := make([]byte, len(raw))
		for r := range rows {
			for c := range cols {
				t[c*rows+r] = raw[r*cols+c]
			}
		}
		raw, rows, cols = t, cols, rows
	}
	wv, err := addConstant(g, n.Name+"_weight_kn", w.DType, []int64{rows, cols}, raw)
	if err != nil {
		return err
	}
	zraw := make([]byte, len(zw))
	for i, z := range zw {
		zraw[i] = byte(z) // the low byte: two's complement for int8
	}
	var zdims []int64
	if len(zw) > 1 {
		zdims = []int64{int64(len(zw))}
	}
	zv, err := addConstant(g, n.Name+"_weight_zero_point", w.DType, zdims, zraw)
	if err != nil {
		return err
	}
	// The rescaling factor sa·sw per column (one value when per tensor).
	sa, _, _ := perTensorParams(u.a)
	factors := make([]float32, len(ws))
	for i, s := range ws {
		factors[i] = sa * s
	}
	var fdims []int64
	if len(factors) > 1 {
		fdims = []int64{int64(len(factors))}
	}
	fraw := make([]byte, 4*len(factors))
	for i, f := range factors {
		binary.LittleEndian.PutUint32(fraw[4*i:], math.Float32bits(f))
	}
	fv, err := addConstant(g, n.Name+"_scale", graph.Float32, fdims, fraw)
	if err != nil {
		return err
	}
	pos := slices.Index(g.Nodes, n)
	mm := &graph.Node{Name: n.Name, OpType: "MatMulInteger", Inputs: []*graph.Value{aq, wv, za, zv}}
	if err := g.InsertNode(pos, mm, g.UniqueName(n.Name+"_int32")); err != nil {
		return err
	}
	acc := mm.Outputs[0]
	acc.DType = graph.Int32
	pos++
	if u.bias != nil {
		add := &graph.Node{Name: g.UniqueName(n.Name + "_bias"), OpType: "Add", Inputs: []*graph.Value{acc, u.bias.Input(0)}}
		if err := g.InsertNode(pos, add, g.UniqueName(n.Name+"_int32_biased")); err != nil {
			return err
		}
		acc = add.Outputs[0]
		acc.DType = graph.Int32
		pos++
	}
	cast := &graph.Node{Name: g.UniqueName(n.Name + "_float"), OpType: "Cast", Inputs: []*graph.Value{acc},
		Attrs: []*graph.Attribute{graph.IntAttr("to", int64(graph.Float32))}}
	if err := g.InsertNode(pos, cast, g.UniqueName(n.Name+"_sum")); err != nil {
		return err
	}
	cast.Outputs[0].DType = graph.Float32
	pos++
	mul := &graph.Node{Name: g.UniqueName(n.Name + "_rescale"), OpType: "Mul", Inputs: []*graph.Value{cast.Outputs[0], fv}}
	if err := g.InsertNode(pos, mul, g.UniqueName(n.Name+"_value")); err != nil {
		return err
	}
	out, result := n.Outputs[0], mul.Outputs[0]
	result.DType, result.Shape = graph.Float32, out.Shape
	name := out.Name
	g.ReplaceUses(out, result)
	if err := g.RemoveNode(n); err != nil {
		return err
	}
	return g.Rename(result, name)
}

// addConstant adds an initializer of raw data under a name free in g,
// from base.
func addConstant(g *graph.Graph, base string, dt graph.DType, dims []int64, raw []byte) (*graph.Value, error) {
	t, err := graph.NewTensor(g.UniqueName(base), dt, dims, raw)
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t)
}

// gemmOp names the rewritten Gemm units in Report.Lowered.
const gemmOp = "MatMulInteger(Gemm)"
