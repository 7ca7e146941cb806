package graph

import (
	"math"
	"slices"
	"strings"
)

// Per-operator shape and type rules of InferShapes. Each rule reads what
// is known of the node's operands and records what follows for its
// outputs; when an operand's shape or a needed constant is unknown, or an
// attribute is out of range, the rule leaves the outputs as they are.

// ictx is one node being inferred.
type ictx struct {
	in  *inferer
	n   *Node
	ver int64
}

func (c *ictx) input(i int) *Value { return c.n.Input(i) }

func (c *ictx) shape(i int) Shape {
	if v := c.input(i); v != nil {
		return v.Shape
	}
	return nil
}

func (c *ictx) dtype(i int) DType {
	if v := c.input(i); v != nil {
		return v.DType
	}
	return Undefined
}

func (c *ictx) cv(i int) *cval { return c.in.cv(c.input(i)) }

// ints returns a fully known integer operand.
func (c *ictx) ints(i int) ([]int64, bool) { return c.cv(i).intList() }

// length returns the length of a 1-D input whose shape is known.
func (c *ictx) length(i int) (int, bool) {
	s := c.shape(i)
	if len(s) != 1 || !s[0].Known() || s[0].Size > maxFoldElems {
		return 0, false
	}
	return int(s[0].Size), true
}

func (c *ictx) out(i int) *Value {
	if i < len(c.n.Outputs) {
		return c.n.Outputs[i]
	}
	return nil
}

func (c *ictx) set(i int, dt DType, s Shape) { c.in.set(c.out(i), dt, s) }

func (c *ictx) setVal(i int, v *cval) { c.in.setVal(c.out(i), v) }

// same gives output i the type and shape of input j.
func (c *ictx) same(i, j int) { c.set(i, c.dtype(j), c.shape(j)) }

// axesOperand returns the axes of Squeeze, Unsqueeze and the Reduce ops:
// from an attribute before version inputFrom, from input 1 after. present
// says whether axes were given at all; ok is false when they were given
// but are not known.
func (c *ictx) axesOperand(inputFrom int64) (axes []int64, present, ok bool) {
	a := c.n.Attr("axes")
	if c.ver < inputFrom {
		if a == nil {
			return nil, false, true
		}
		return a.Ints, true, a.Type == AttrInts
	}
	if c.input(1) == nil {
		// An axes attribute where an input is due: not this opset's op.
		return nil, false, a == nil
	}
	axes, ok = c.ints(1)
	return axes, true, ok
}

// spatialAttr returns an ints attribute of n entries, or def repeated.
func (c *ictx) spatialAttr(name string, n int, def int64) ([]int64, bool) {
	a := c.n.AttrInts(name)
	if a == nil {
		out := make([]int64, n)
		for i := range out {
			out[i] = def
		}
		return out, true
	}
	return a, len(a) == n
}

func (c *ictx) infer() {
	n := c.n
	switch n.OpType {
	// Same shape and type as the first input.
	case "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Ceil", "Floor",
		"Round", "Reciprocal", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
		"Asinh", "Acosh", "Atanh", "Erf", "Softplus", "Softsign", "Selu", "Elu", "Celu",
		"LeakyRelu", "HardSigmoid", "HardSwish", "Mish", "Gelu", "ThresholdedRelu", "Swish",
		"Softmax", "LogSoftmax", "Hardmax", "Clip", "LRN", "InstanceNormalization",
		"LpNormalization", "MeanVarianceNormalization", "Sign", "BitwiseNot", "CumSum",
		"Shrink", "Trilu", "ReverseSequence", "PRelu", "Identity", "Not",
		"ScatterND", "ScatterElements", "Scatter", "GroupNormalization", "RMSNormalization",
		"RotaryEmbedding", "CumProd", "TensorScatter":
		c.same(0, 0)
		if v := unaryFold(n.OpType, c.cv(0)); v != nil {
			c.setVal(0, v)
		}
	case "IsNaN", "IsInf":
		c.set(0, Bool, c.shape(0))
	case "Dropout":
		c.same(0, 0)
		c.set(1, Bool, c.shape(0))
	case "BatchNormalization":
		c.inferBatchNorm()
	case "LayerNormalization":
		c.inferLayerNorm()
	case "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Mean", "Sum",
		"BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor":
		c.inferBroadcast(c.dtype(0))
	case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor":
		c.inferBroadcast(Bool)
	case "Where":
		if s, ok := broadcastShapes(c.shape(0), c.shape(1), c.shape(2)); ok {
			c.set(0, c.dtype(1), s)
		} else {
			c.set(0, c.dtype(1), nil)
		}
		if v := whereFold(c.cv(0), c.cv(1), c.cv(2)); v != nil {
			c.setVal(0, v)
		}
	case "MatMul", "MatMulInteger", "QLinearMatMul":
		c.inferMatMul()
	case "Gemm":
		c.inferGemm()
	case "Conv", "ConvInteger", "QLinearConv":
		c.inferConv()
	case "ConvTranspose":
		c.inferConvTranspose()
	case "MaxPool", "AveragePool", "LpPool":
		c.inferPool()
	case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
		if s := c.shape(0); len(s) >= 2 {
			out := append(Shape{}, s[:2]...)
			for range s[2:] {
				out = append(out, Dim{Size: 1})
			}
			c.set(0, c.dtype(0), out)
		}
	case "Reshape":
		c.inferReshape()
	case "Flatten":
		c.inferFlatten()
	case "Transpose":
		c.inferTranspose()
	case "Concat":
		c.inferConcat()
	case "Split":
		c.inferSplit()
	case "Slice":
		c.inferSlice()
	case "Gather":
		c.inferGather()
	case "GatherElements":
		c.set(0, c.dtype(0), c.shape(1))
	case "GatherND":
		c.inferGatherND()
	case "Unsqueeze":
		c.inferUnsqueeze()
	case "Squeeze":
		c.inferSqueeze()
	case "Shape":
		c.inferShape()
	case "Size":
		c.set(0, Int64, Shape{})
		if s := c.shape(0); s.Known() {
			if n := s.NumElements(); n >= 0 {
				c.setVal(0, &cval{dt: Int64, dims: []int64{}, ints: []int64{n}})
			}
		}
	case "Cast":
		to := DType(n.AttrInt("to", 0))
		if !to.Known() {
			return
		}
		c.set(0, to, c.shape(0))
		if v := c.cv(0); v != nil {
			c.setVal(0, castCval(v, to))
		}
	case "CastLike":
		c.set(0, c.dtype(1), c.shape(0))
		if v := c.cv(0); v != nil && c.dtype(1).Known() {
			c.setVal(0, castCval(v, c.dtype(1)))
		}
	case "Constant":
		c.inferConstant()
	case "ConstantOfShape":
		c.inferConstantOfShape()
	case "Pad":
		c.inferPad()
	case "Resize", "Upsample":
		c.inferResize()
	case "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
		c.inferReduce()
	case "ArgMax", "ArgMin":
		c.inferArgReduce()
	case "LSTM", "GRU", "RNN":
		c.inferRNN()
	case "Expand":
		c.inferExpand()
	case "Tile":
		c.inferTile()
	case "Range":
		c.inferRange()
	case "TopK":
		c.inferTopK()
	case "DepthToSpace", "SpaceToDepth":
		c.inferDepthSpace()
	case "EyeLike":
		dt := DType(n.AttrInt("dtype", int64(c.dtype(0))))
		c.set(0, dt, c.shape(0))
	case "RandomNormalLike", "RandomUniformLike":
		dt := DType(n.AttrInt("dtype", int64(c.dtype(0))))
		c.set(0, dt, c.shape(0))
	case "RandomNormal", "RandomUniform":
		dims := n.AttrInts("shape")
		if s, ok := dimsShape(dims); ok {
			c.set(0, DType(n.AttrInt("dtype", int64(Float32))), s)
		}
	case "NonZero":
		if s := c.shape(0); s != nil {
			c.set(0, Int64, Shape{{Size: int64(len(s))}, {Size: -1}})
		} else {
			c.set(0, Int64, Shape{{Size: -1}, {Size: -1}})
		}
	case "NonMaxSuppression":
		c.set(0, Int64, Shape{{Size: -1}, {Size: 3}})
	case "QuantizeLinear":
		dt := Uint8
		if z := c.dtype(2); z != Undefined {
			dt = z
		} else if d := n.AttrInt("output_dtype", 0); d != 0 {
			dt = DType(d)
		}
		c.set(0, dt, c.shape(0))
	case "DequantizeLinear":
		dt := Float32
		if c.ver >= 19 && c.dtype(1) != Undefined {
			dt = c.dtype(1)
		}
		if d := n.AttrInt("output_dtype", 0); d != 0 {
			dt = DType(d)
		}
		c.set(0, dt, c.shape(0))
	case "DynamicQuantizeLinear":
		c.set(0, Uint8, c.shape(0))
		c.set(1, Float32, Shape{})
		c.set(2, Uint8, Shape{})
	case "OneHot":
		c.inferOneHot()
	case "GridSample":
		if x, g := c.shape(0), c.shape(1); len(x) >= 3 && len(g) == len(x) {
			out := append(Shape{}, x[:2]...)
			c.set(0, c.dtype(0), append(out, g[1:len(g)-1]...))
		}
	case "RoiAlign":
		if x, r := c.shape(0), c.shape(1); len(x) == 4 && len(r) == 2 {
			h, w := n.AttrInt("output_height", 1), n.AttrInt("output_width", 1)
			c.set(0, c.dtype(0), Shape{r[0], x[1], {Size: h}, {Size: w}})
		}
	case "Bernoulli":
		c.set(0, DType(n.AttrInt("dtype", int64(c.dtype(0)))), c.shape(0))
	case "Det":
		if s := c.shape(0); len(s) >= 2 {
			c.set(0, c.dtype(0), append(Shape{}, s[:len(s)-2]...))
		}
	case "DeformConv":
		// The offsets' spatial dims are the output's.
		x, w, off := c.shape(0), c.shape(1), c.shape(2)
		if len(x) >= 3 && len(w) == len(x) && len(off) == len(x) {
			c.set(0, c.dtype(0), append(Shape{x[0], w[0]}, off[2:]...))
		}
	case "HannWindow", "HammingWindow", "BlackmanWindow":
		dt := DType(n.AttrInt("output_datatype", int64(Float32)))
		if size, ok := c.cv(0).scalarInt(); ok && size >= 0 {
			c.set(0, dt, Shape{{Size: size}})
		} else {
			c.set(0, dt, Shape{{Size: -1}})
		}
	case "CenterCropPad":
		c.inferCenterCropPad()
	case "Einsum":
		c.set(0, c.dtype(0), c.einsumShape())
	case "Compress", "Unique":
		// Shapes depend on data; only the type is known.
		if n.OpType != "Unique" {
			c.set(0, c.dtype(0), nil)
		}
	}
}

// einsumShape is the output shape of an Einsum from its equation and its
// inputs' shapes: each output letter takes its size from an input that
// has it, the ellipsis the broadcast of the inputs' ellipsis dimensions;
// without "->" the output is the ellipsis, then the letters that appear
// once, in alphabetical order. nil when an input's rank is unknown or the
// equation does not fit the inputs.
func (c *ictx) einsumShape() Shape {
	eq := strings.ReplaceAll(c.n.AttrString("equation", ""), " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if eq == "" || len(terms) != len(c.n.Inputs) {
		return nil
	}
	letters := map[rune]Dim{}
	count := map[rune]int{}
	var ellipsis Shape
	haveEllipsis := false
	for i, term := range terms {
		in := c.shape(i)
		if in == nil {
			return nil
		}
		pre, post, dots := strings.Cut(term, "...")
		if !dots {
			pre, post = term, ""
		}
		named := len(pre) + len(post)
		if strings.Contains(post, ".") || len(in) < named || !dots && len(in) != named {
			return nil
		}
		if dots {
			e := in[len(pre) : len(in)-len(post)]
			if !haveEllipsis {
				ellipsis = slices.Clone(e)
			} else if b, ok := broadcastShapes(ellipsis, e); ok {
				ellipsis = b
			} else {
				return nil
			}
			haveEllipsis = true
		}
		for k, r := range []rune(pre + post) {
			d := in[k]
			if k >= len(pre) {
				d = in[len(in)-len(post)+k-len(pre)]
			}
			count[r]++
			if have, seen := letters[r]; !seen || !have.Known() && d.Known() {
				letters[r] = d
			}
		}
	}
	var out Shape
	if !explicit {
		if haveEllipsis {
			out = append(out, ellipsis...)
		}
		var once []rune
		for r, k := range count {
			if k == 1 {
				once = append(once, r)
			}
		}
		slices.Sort(once)
		for _, r := range once {
			out = append(out, letters[r])
		}
		return out
	}
	out = Shape{}
	pre, post, dots := strings.Cut(rhs, "...")
	if !dots {
		pre, post = rhs, ""
	}
	for _, r := range pre {
		d, ok := letters[r]
		if !ok {
			return nil
		}
		out = append(out, d)
	}
	if dots {
		out = append(out, ellipsis...)
	}
	for _, r := range post {
		d, ok := letters[r]
		if !ok {
			return nil
		}
		out = append(out, d)
	}
	return out
}

// broadcastDim is numpy broadcasting of two dimensions; false when they
// are known and incompatible.
func broadcastDim(a, b Dim) (Dim, bool) {
	switch {
	case a.Size == 1:
		return b, true
	case b.Size == 1:
		return a, true
	case a.Known() && b.Known():
		return a, a.Size == b.Size
	case a.Known():
		return a, true // b is 1 or equal to a
	case b.Known():
		return b, true
	case a.Param != "" && a.Param == b.Param:
		return a, true
	}
	return Dim{Size: -1}, true
}

// broadcastShapes is multidirectional broadcasting; false when a rank is
// unknown or the shapes do not broadcast.
func broadcastShapes(shapes ...Shape) (Shape, bool) {
	rank := 0
	for _, s := range shapes {
		if s == nil {
			return nil, false
		}
		rank = max(rank, len(s))
	}
	out := make(Shape, rank)
	for i := range out {
		out[i] = Dim{Size: 1}
	}
	for _, s := range shapes {
		off := rank - len(s)
		for j, d := range s {
			r, ok := broadcastDim(out[off+j], d)
			if !ok {
				return nil, false
			}
			out[off+j] = r
		}
	}
	return out, true
}

func (c *ictx) inferBroadcast(dt DType) {
	var shapes []Shape
	for i := range c.n.Inputs {
		shapes = append(shapes, c.shape(i))
	}
	var s Shape
	ok := false
	if c.ver < 7 && len(shapes) == 2 && c.n.OpType != "Max" && c.n.OpType != "Min" &&
		c.n.OpType != "Mean" && c.n.OpType != "Sum" {
		// Before opset 7, B broadcasts into A only when asked to, and the
		// result always has A's shape.
		s, ok = shapes[0], shapes[0] != nil
	} else {
		s, ok = broadcastShapes(shapes...)
	}
	if !ok {
		c.set(0, dt, nil)
		return
	}
	c.set(0, dt, s)
	if len(c.n.Inputs) == 2 {
		if v := binaryFold(c.n.OpType, c.dtype(0), c.cv(0), c.cv(1)); v != nil {
			c.setVal(0, v)
		}
	}
}

func (c *ictx) inferBatchNorm() {
	c.same(0, 0)
	x := c.shape(0)
	if len(x) < 2 {
		return
	}
	ch := Shape{x[1]}
	for i := 1; i < len(c.n.Outputs); i++ {
		c.set(i, c.dtype(1), ch)
	}
}

func (c *ictx) inferLayerNorm() {
	c.same(0, 0)
	x := c.shape(0)
	if x == nil {
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", -1), len(x))
	if !ok {
		return
	}
	stat := append(Shape{}, x[:axis]...)
	for range x[axis:] {
		stat = append(stat, Dim{Size: 1})
	}
	dt := DType(c.n.AttrInt("stash_type", int64(Float32)))
	c.set(1, dt, stat)
	c.set(2, dt, stat)
}

func (c *ictx) inferMatMul() {
	var a, b Shape
	var dt DType
	switch c.n.OpType {
	case "MatMul":
		a, b, dt = c.shape(0), c.shape(1), c.dtype(0)
	case "MatMulInteger":
		a, b, dt = c.shape(0), c.shape(1), Int32
	case "QLinearMatMul":
		a, b, dt = c.shape(0), c.shape(3), c.dtype(7)
	}
	if a == nil || b == nil || len(a) == 0 || len(b) == 0 {
		c.set(0, dt, nil)
		return
	}
	aa, bb := a, b
	if len(a) == 1 {
		aa = Shape{{Size: 1}, a[0]}
	}
	if len(b) == 1 {
		bb = Shape{b[0], {Size: 1}}
	}
	if k1, k2 := aa[len(aa)-1], bb[len(bb)-2]; k1.Known() && k2.Known() && k1.Size != k2.Size {
		return
	}
	batch, ok := broadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	if !ok {
		return
	}
	out := append(Shape{}, batch...)
	if len(a) > 1 {
		out = append(out, aa[len(aa)-2])
	}
	if len(b) > 1 {
		out = append(out, bb[len(bb)-1])
	}
	c.set(0, dt, out)
}

func (c *ictx) inferGemm() {
	a, b := c.shape(0), c.shape(1)
	if len(a) != 2 || len(b) != 2 {
		c.set(0, c.dtype(0), nil)
		return
	}
	m, n := a[0], b[1]
	if c.n.AttrInt("transA", 0) != 0 {
		m = a[1]
	}
	if c.n.AttrInt("transB", 0) != 0 {
		n = b[0]
	}
	c.set(0, c.dtype(0), Shape{m, n})
}

// poolDim computes one output size of a convolution or pooling window.
func poolDim(in Dim, k, s, d, pb, pe int64, autoPad string, ceil bool) Dim {
	if !in.Known() || k < 1 || s < 1 || d < 1 {
		return Dim{Size: -1}
	}
	eff, ok := mul64(k-1, d)
	if !ok {
		return Dim{Size: -1}
	}
	eff++
	switch autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		return Dim{Size: (in.Size + s - 1) / s}
	case "VALID":
		if in.Size < eff {
			return Dim{Size: -1}
		}
		return Dim{Size: (in.Size-eff)/s + 1}
	}
	total, ok1 := add64(in.Size, pb)
	total, ok2 := add64(total, pe)
	if !ok1 || !ok2 || total < eff {
		return Dim{Size: -1}
	}
	num := total - eff
	out := num/s + 1
	if ceil && num%s != 0 {
		out++
		// A window may not start in the right padding.
		if (out-1)*s >= in.Size+pb {
			out--
		}
	}
	return Dim{Size: out}
}

// windowAttrs reads kernel, strides, dilations and pads for nsp spatial
// dimensions.
func (c *ictx) windowAttrs(kernel []int64) (strides, dil, pads []int64, ok bool) {
	nsp := len(kernel)
	var ok1, ok2, ok3 bool
	strides, ok1 = c.spatialAttr("strides", nsp, 1)
	dil, ok2 = c.spatialAttr("dilations", nsp, 1)
	pads, ok3 = c.spatialAttr("pads", 2*nsp, 0)
	return strides, dil, pads, ok1 && ok2 && ok3
}

func (c *ictx) inferConv() {
	xi, wi, dt := 0, 1, c.dtype(0)
	switch c.n.OpType {
	case "ConvInteger":
		dt = Int32
	case "QLinearConv":
		xi, wi, dt = 0, 3, c.dtype(7)
	}
	x, w := c.shape(xi), c.shape(wi)
	if len(x) < 3 {
		c.set(0, dt, nil)
		return
	}
	nsp := len(x) - 2
	kernel := c.n.AttrInts("kernel_shape")
	if kernel == nil && len(w) == len(x) {
		kernel = make([]int64, nsp)
		for i, d := range w[2:] {
			kernel[i] = d.Size // -1 when unknown: poolDim then gives unknown
		}
	}
	out := Shape{x[0], {Size: -1}}
	if len(w) == len(x) {
		out[1] = w[0]
	}
	strides, dil, pads, ok := c.windowAttrs(kernel)
	if len(kernel) != nsp || !ok {
		c.set(0, dt, append(out, make(Shape, nsp)...).unknownFrom(2))
		return
	}
	autoPad := c.n.AttrString("auto_pad", "NOTSET")
	for i := 0; i < nsp; i++ {
		out = append(out, poolDim(x[2+i], kernel[i], strides[i], dil[i], pads[i], pads[nsp+i], autoPad, false))
	}
	c.set(0, dt, out)
}

// unknownFrom marks dimensions from i on unknown.
func (s Shape) unknownFrom(i int) Shape {
	for j := i; j < len(s); j++ {
		s[j] = Dim{Size: -1}
	}
	return s
}

func (c *ictx) inferConvTranspose() {
	x, w := c.shape(0), c.shape(1)
	dt := c.dtype(0)
	if len(x) < 3 {
		c.set(0, dt, nil)
		return
	}
	nsp := len(x) - 2
	out := Shape{x[0], {Size: -1}}
	group := c.n.AttrInt("group", 1)
	if len(w) == len(x) && w[1].Known() {
		if ch, ok := mul64(w[1].Size, group); ok && group > 0 {
			out[1] = Dim{Size: ch}
		}
	}
	if os := c.n.AttrInts("output_shape"); os != nil {
		if len(os) == len(x) {
			os = os[2:]
		}
		if len(os) != nsp {
			return
		}
		for _, d := range os {
			out = append(out, Dim{Size: d})
			if d < 0 {
				return
			}
		}
		c.set(0, dt, out)
		return
	}
	kernel := c.n.AttrInts("kernel_shape")
	if kernel == nil && len(w) == len(x) {
		kernel = make([]int64, nsp)
		for i, d := range w[2:] {
			kernel[i] = d.Size
		}
	}
	strides, dil, pads, ok := c.windowAttrs(kernel)
	outPad, ok2 := c.spatialAttr("output_padding", nsp, 0)
	if len(kernel) != nsp || !ok || !ok2 {
		c.set(0, dt, append(out, make(Shape, nsp)...).unknownFrom(2))
		return
	}
	autoPad := c.n.AttrString("auto_pad", "NOTSET")
	for i := 0; i < nsp; i++ {
		out = append(out, convTransposeDim(x[2+i], kernel[i], strides[i], dil[i], pads[i], pads[nsp+i], outPad[i], autoPad))
	}
	c.set(0, dt, out)
}

func convTransposeDim(in Dim, k, s, d, pb, pe, op int64, autoPad string) Dim {
	if !in.Known() || k < 1 || s < 1 || d < 1 {
		return Dim{Size: -1}
	}
	if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
		if v, ok := mul64(in.Size, s); ok {
			return Dim{Size: v}
		}
		return Dim{Size: -1}
	}
	// s*(in-1) + op + (k-1)*d + 1 - pb - pe
	a, ok1 := mul64(s, in.Size-1)
	b, ok2 := mul64(k-1, d)
	v, ok3 := add64(a, b)
	v, ok4 := add64(v, op+1)
	v, ok5 := sub64(v, pb)
	v, ok6 := sub64(v, pe)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || v < 0 || in.Size < 1 {
		return Dim{Size: -1}
	}
	return Dim{Size: v}
}

func (c *ictx) inferPool() {
	x := c.shape(0)
	dt := c.dtype(0)
	if len(x) < 3 {
		c.set(0, dt, nil)
		return
	}
	nsp := len(x) - 2
	kernel := c.n.AttrInts("kernel_shape")
	strides, dil, pads, ok := c.windowAttrs(kernel)
	out := append(Shape{}, x[:2]...)
	if len(kernel) != nsp || !ok {
		c.set(0, dt, append(out, make(Shape, nsp)...).unknownFrom(2))
		return
	}
	autoPad := c.n.AttrString("auto_pad", "NOTSET")
	ceil := c.n.AttrInt("ceil_mode", 0) != 0
	for i := 0; i < nsp; i++ {
		out = append(out, poolDim(x[2+i], kernel[i], strides[i], dil[i], pads[i], pads[nsp+i], autoPad, ceil))
	}
	c.set(0, dt, out)
	if c.n.OpType == "MaxPool" {
		c.set(1, Int64, out)
	}
}

func (c *ictx) inferReshape() {
	x := c.shape(0)
	dt := c.dtype(0)
	var target *cval
	if c.ver < 5 {
		if a := c.n.Attr("shape"); a != nil && a.Type == AttrInts && len(a.Ints) <= maxFoldElems {
			target = &cval{dt: Int64, dims: []int64{int64(len(a.Ints))}, ints: a.Ints}
		}
	} else {
		target = c.cv(1)
		if target == nil {
			// The rank is the target's length even when its values are not known.
			if s := c.shape(1); len(s) == 1 && s[0].Known() && s[0].Size <= maxFoldElems {
				c.set(0, dt, make(Shape, s[0].Size).unknownFrom(0))
			}
			return
		}
	}
	if target == nil || target.isFloat() || len(target.dims) != 1 {
		return
	}
	allowZero := c.ver >= 14 && c.n.AttrInt("allowzero", 0) != 0
	out := make(Shape, len(target.ints))
	fromInput := make([]bool, len(x)) // input dims copied by a 0 entry
	infer := -1
	for i := range target.ints {
		if target.unknownAt(i) {
			out[i] = target.elemDim(i)
			continue
		}
		switch t := target.ints[i]; {
		case t == 0 && !allowZero:
			if x == nil {
				out[i] = Dim{Size: -1}
				continue
			}
			if i >= len(x) {
				return
			}
			out[i], fromInput[i] = x[i], true
		case t == -1:
			if infer >= 0 {
				return
			}
			infer = i
		case t < 0:
			return
		default:
			out[i] = Dim{Size: t}
		}
	}
	if infer >= 0 {
		out[infer] = inferredDim(x, out, fromInput, infer)
	}
	c.set(0, dt, out)
	if v := c.cv(0); v != nil {
		if dims, ok := knownSizes(out); ok {
			c.setVal(0, v.reshaped(dims))
		}
	}
}

// inferredDim works out the -1 entry of a Reshape target: the input's
// element count over that of the other entries, after cancelling the
// unknown dimensions both sides share (copied by 0, or of one name).
func inferredDim(x, out Shape, fromInput []bool, skip int) Dim {
	if x == nil {
		return Dim{Size: -1}
	}
	used := append([]bool{}, fromInput...)
	inProd, outProd := int64(1), int64(1)
	for i, d := range out {
		if i == skip || i < len(fromInput) && fromInput[i] {
			continue
		}
		if d.Known() {
			var ok bool
			if outProd, ok = mul64(outProd, d.Size); !ok {
				return Dim{Size: -1}
			}
			continue
		}
		matched := false
		for j, e := range x {
			if !used[j] && !e.Known() && e.Param != "" && e.Param == d.Param {
				used[j], matched = true, true
				break
			}
		}
		if !matched {
			return Dim{Size: -1}
		}
	}
	for j, e := range x {
		if used[j] {
			continue
		}
		if !e.Known() {
			return Dim{Size: -1}
		}
		var ok bool
		if inProd, ok = mul64(inProd, e.Size); !ok {
			return Dim{Size: -1}
		}
	}
	if outProd == 0 || inProd%outProd != 0 {
		return Dim{Size: -1}
	}
	return Dim{Size: inProd / outProd}
}

func knownSizes(s Shape) ([]int64, bool) {
	if !s.Known() {
		return nil, false
	}
	return s.Sizes(), true
}

func dimsShape(dims []int64) (Shape, bool) {
	for _, d := range dims {
		if d < 0 {
			return nil, false
		}
	}
	return Fixed(dims...), true
}

// prodDims multiplies dimensions; a lone dimension passes as it is, names
// included.
func prodDims(ds Shape) Dim {
	p := int64(1)
	var unknown *Dim
	for i := range ds {
		d := ds[i]
		if !d.Known() {
			if unknown != nil {
				return Dim{Size: -1}
			}
			unknown = &ds[i]
			continue
		}
		var ok bool
		if p, ok = mul64(p, d.Size); !ok {
			return Dim{Size: -1}
		}
	}
	if unknown != nil {
		if p == 1 {
			return *unknown
		}
		return Dim{Size: -1}
	}
	return Dim{Size: p}
}

func (c *ictx) inferFlatten() {
	x := c.shape(0)
	if x == nil {
		return
	}
	axis := c.n.AttrInt("axis", 1)
	if axis < 0 {
		axis += int64(len(x))
	}
	if axis < 0 || axis > int64(len(x)) {
		return
	}
	out := Shape{prodDims(x[:axis]), prodDims(x[axis:])}
	c.set(0, c.dtype(0), out)
	if v := c.cv(0); v != nil {
		if dims, ok := knownSizes(out); ok {
			c.setVal(0, v.reshaped(dims))
		}
	}
}

func (c *ictx) inferTranspose() {
	x := c.shape(0)
	if x == nil {
		c.set(0, c.dtype(0), nil)
		return
	}
	perm := c.n.AttrInts("perm")
	if perm == nil {
		perm = make([]int64, len(x))
		for i := range perm {
			perm[i] = int64(len(x) - 1 - i)
		}
	}
	if len(perm) != len(x) {
		return
	}
	seen := make([]bool, len(x))
	out := make(Shape, len(x))
	for i, p := range perm {
		if p < 0 || p >= int64(len(x)) || seen[p] {
			return
		}
		seen[p] = true
		out[i] = x[p]
	}
	c.set(0, c.dtype(0), out)
	if v := c.cv(0); v != nil && len(v.dims) == len(perm) {
		in := strides(v.dims)
		od := make([]int64, len(perm))
		for i, p := range perm {
			od[i] = v.dims[p]
		}
		os := strides(od)
		c.setVal(0, v.pick(od, func(i int) int {
			j := int64(0)
			for k, p := range perm {
				j += (int64(i) / os[k] % od[k]) * in[p]
			}
			return int(j)
		}))
	}
}

func (c *ictx) inferConcat() {
	var rank = -1
	for i := range c.n.Inputs {
		if s := c.shape(i); s != nil {
			rank = len(s)
			break
		}
	}
	dt := c.dtype(0)
	if rank < 1 {
		c.set(0, dt, nil)
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", 0), rank)
	if !ok && c.ver < 4 {
		axis, ok = 1, rank > 1
	}
	if !ok {
		return
	}
	out := make(Shape, rank).unknownFrom(0)
	total := Dim{Size: 0}
	for i := range c.n.Inputs {
		s := c.shape(i)
		if s == nil {
			total = Dim{Size: -1}
			continue
		}
		if len(s) != rank {
			return
		}
		for j, d := range s {
			switch {
			case j == axis:
			case d.Known() && out[j].Known() && d.Size != out[j].Size:
				return
			case d.Known(), !out[j].Known() && out[j].Param == "":
				out[j] = d
			}
		}
		if total.Known() && s[axis].Known() {
			var ok bool
			if total.Size, ok = add64(total.Size, s[axis].Size); !ok {
				total = Dim{Size: -1}
			}
		} else {
			total = Dim{Size: -1}
		}
	}
	out[axis] = total
	c.set(0, dt, out)
	c.foldConcat(axis)
}

func (c *ictx) foldConcat(axis int) {
	var parts []*cval
	for i := range c.n.Inputs {
		v := c.cv(i)
		if v == nil || len(v.dims) <= axis || (len(parts) > 0 && v.isFloat() != parts[0].isFloat()) {
			return
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 {
		return
	}
	dims := append([]int64{}, parts[0].dims...)
	dims[axis] = 0
	for _, p := range parts {
		dims[axis] += p.dims[axis]
	}
	out := newCval(parts[0].dt, dims)
	if out == nil {
		return
	}
	outer, inner := int64(1), int64(1)
	for _, d := range dims[:axis] {
		outer *= d
	}
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	k := 0
	for o := int64(0); o < outer; o++ {
		for _, p := range parts {
			chunk := p.dims[axis] * inner
			for e := int64(0); e < chunk; e++ {
				j := int(o*chunk + e)
				if j >= p.size() || k >= out.size() {
					return
				}
				if p.isFloat() {
					out.flts[k] = p.flts[j]
				} else {
					out.ints[k] = p.ints[j]
					if p.unknownAt(j) {
						out.setUnknown(k, p.sym[j])
					}
				}
				k++
			}
		}
	}
	if k != out.size() {
		return
	}
	c.setVal(0, out)
}

func (c *ictx) inferSplit() {
	x := c.shape(0)
	dt := c.dtype(0)
	nOut := len(c.n.Outputs)
	if x == nil || nOut == 0 {
		for i := range c.n.Outputs {
			c.set(i, dt, nil)
		}
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return
	}
	// Split sizes: an attribute until opset 13 (opset 1 also took an
	// input), an input from then on; without them, equal parts.
	var split []int64
	if c.ver >= 13 || c.ver < 2 && c.input(1) != nil {
		if c.input(1) != nil {
			if split, ok = c.ints(1); !ok {
				for i := range c.n.Outputs {
					s := append(Shape{}, x...)
					s[axis] = Dim{Size: -1}
					c.set(i, dt, s)
				}
				return
			}
		}
	} else {
		split = c.n.AttrInts("split")
	}
	sizes := make([]Dim, nOut)
	switch {
	case split != nil:
		if len(split) != nOut {
			return
		}
		for i, s := range split {
			if s < 0 {
				return
			}
			sizes[i] = Dim{Size: s}
		}
	case x[axis].Known():
		d := x[axis].Size
		per := d / int64(nOut)
		if c.ver >= 18 && c.n.Attr("num_outputs") != nil {
			per = (d + int64(nOut) - 1) / int64(nOut)
		} else if d%int64(nOut) != 0 {
			return
		}
		left := d
		for i := range sizes {
			s := min(per, left)
			sizes[i] = Dim{Size: s}
			left -= s
		}
	default:
		for i := range sizes {
			sizes[i] = Dim{Size: -1}
		}
	}
	for i := range c.n.Outputs {
		s := append(Shape{}, x...)
		s[axis] = sizes[i]
		c.set(i, dt, s)
	}
}

// sliceCount is the number of elements Slice takes from a dimension of
// size dim, with ONNX's clamping.
func sliceCount(dim, start, end, step int64) (first, count int64) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
		if end <= start {
			return start, 0
		}
		return start, (end-start-1)/step + 1
	}
	start = min(max(start, 0), dim-1)
	end = min(max(end, -1), dim-1)
	if start <= end {
		return start, 0
	}
	if step == math.MinInt64 {
		return start, 1
	}
	return start, (start-end-1)/(-step) + 1
}

func (c *ictx) inferSlice() {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.set(0, dt, nil)
		return
	}
	var starts, ends, axes, steps []int64
	if c.ver < 10 {
		starts, ends, axes = c.n.AttrInts("starts"), c.n.AttrInts("ends"), c.n.AttrInts("axes")
	} else {
		var ok1, ok2, ok3, ok4 bool = true, true, true, true
		starts, ok1 = c.ints(1)
		ends, ok2 = c.ints(2)
		if c.input(3) != nil {
			axes, ok3 = c.ints(3)
		}
		if c.input(4) != nil {
			steps, ok4 = c.ints(4)
		}
		if !(ok1 && ok2 && ok3 && ok4) {
			// Without the bounds only the rank is known, and the sizes
			// of axes that cannot be sliced.
			c.set(0, dt, append(Shape{}, x...).unknownFrom(0))
			return
		}
	}
	out, _, ok := sliceShape(x, starts, ends, axes, steps)
	if !ok {
		return
	}
	c.set(0, dt, out)
	// Fold with the data's own dims.
	v := c.cv(0)
	if v == nil {
		return
	}
	vs, cuts, ok := sliceShape(Fixed(v.dims...), starts, ends, axes, steps)
	if !ok {
		return
	}
	dims := vs.Sizes()
	in := strides(v.dims)
	os := strides(dims)
	c.setVal(0, v.pick(dims, func(i int) int {
		j := int64(0)
		for k := range dims {
			coord := int64(i) / os[k] % dims[k]
			j += (cuts[k].first + coord*cuts[k].step) * in[k]
		}
		return int(j)
	}))
}

// sliceCut is what Slice takes of one axis.
type sliceCut struct{ first, count, step int64 }

func sliceShape(x Shape, starts, ends, axes, steps []int64) (Shape, []sliceCut, bool) {
	if len(starts) != len(ends) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return nil, nil, false
	}
	out := append(Shape{}, x...)
	cuts := make([]sliceCut, len(x))
	for i := range cuts {
		cuts[i] = sliceCut{0, x[i].Size, 1}
	}
	seen := make([]bool, len(x))
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		a, ok := normAxis(ax, len(x))
		if !ok || seen[a] {
			return nil, nil, false
		}
		seen[a] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, nil, false
		}
		if !x[a].Known() {
			// An unknown size survives only a slice that keeps everything.
			if !(step == 1 && starts[i] == 0 && ends[i] >= math.MaxInt32) {
				out[a] = Dim{Size: -1}
			}
			continue
		}
		first, count := sliceCount(x[a].Size, starts[i], ends[i], step)
		out[a] = Dim{Size: count}
		cuts[a] = sliceCut{first, count, step}
	}
	return out, cuts, true
}

func (c *ictx) inferGather() {
	x, idx := c.shape(0), c.shape(1)
	dt := c.dtype(0)
	if x == nil || idx == nil {
		c.set(0, dt, nil)
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return
	}
	out := append(Shape{}, x[:axis]...)
	out = append(out, idx...)
	out = append(out, x[axis+1:]...)
	c.set(0, dt, out)
	v, iv := c.cv(0), c.cv(1)
	indices, ok := iv.intList()
	if v == nil || !ok || len(v.dims) == 0 {
		return
	}
	// Fold with the data's own dims.
	vaxis, ok := normAxis(c.n.AttrInt("axis", 0), len(v.dims))
	if !ok {
		return
	}
	dims := append([]int64{}, v.dims[:vaxis]...)
	dims = append(dims, iv.dims...)
	dims = append(dims, v.dims[vaxis+1:]...)
	d := v.dims[vaxis]
	inner := int64(1)
	for _, s := range v.dims[vaxis+1:] {
		inner *= s
	}
	nIdx := int64(len(indices))
	if nIdx == 0 || inner == 0 {
		c.setVal(0, newCval(v.dt, dims))
		return
	}
	c.setVal(0, v.pick(dims, func(i int) int {
		b := int64(i) % inner
		k := int64(i) / inner % nIdx
		o := int64(i) / inner / nIdx
		j := indices[k]
		if j < 0 {
			j += d
		}
		if j < 0 || j >= d {
			return -1
		}
		return int((o*d+j)*inner + b)
	}))
}

func (c *ictx) inferGatherND() {
	x, idx := c.shape(0), c.shape(1)
	if x == nil || len(idx) == 0 || !idx[len(idx)-1].Known() {
		c.set(0, c.dtype(0), nil)
		return
	}
	b := c.n.AttrInt("batch_dims", 0)
	last := idx[len(idx)-1].Size
	if b < 0 || b+last > int64(len(x)) || b >= int64(len(idx)) {
		return
	}
	out := append(Shape{}, idx[:len(idx)-1]...)
	c.set(0, c.dtype(0), append(out, x[b+last:]...))
}

func (c *ictx) inferUnsqueeze() {
	x := c.shape(0)
	axes, present, ok := c.axesOperand(13)
	if x == nil || !present || !ok {
		// Unknown axes still fix the rank when their count is known.
		if k, known := c.length(1); x != nil && present && known {
			c.set(0, c.dtype(0), make(Shape, len(x)+k).unknownFrom(0))
			return
		}
		c.set(0, c.dtype(0), nil)
		return
	}
	rank := len(x) + len(axes)
	ins := make([]bool, rank)
	for _, a := range axes {
		i, ok := normAxis(a, rank)
		if !ok || ins[i] {
			return
		}
		ins[i] = true
	}
	out := make(Shape, 0, rank)
	k := 0
	for i := 0; i < rank; i++ {
		if ins[i] {
			out = append(out, Dim{Size: 1})
			continue
		}
		out = append(out, x[k])
		k++
	}
	c.set(0, c.dtype(0), out)
	if v := c.cv(0); v != nil {
		c.setVal(0, v.reshaped(out.Sizes()))
	}
}

func (c *ictx) inferSqueeze() {
	x := c.shape(0)
	axes, present, ok := c.axesOperand(13)
	if x == nil || !ok {
		c.set(0, c.dtype(0), nil)
		return
	}
	drop := make([]bool, len(x))
	if !present || len(axes) == 0 {
		for i, d := range x {
			if !d.Known() {
				return // whether it is 1 decides the rank
			}
			drop[i] = d.Size == 1
		}
	}
	for _, a := range axes {
		i, ok := normAxis(a, len(x))
		if !ok || x[i].Known() && x[i].Size != 1 {
			return
		}
		drop[i] = true
	}
	out := Shape{}
	for i, d := range x {
		if !drop[i] {
			out = append(out, d)
		}
	}
	c.set(0, c.dtype(0), out)
	if v := c.cv(0); v != nil {
		if dims, ok := knownSizes(out); ok {
			c.setVal(0, v.reshaped(dims))
		}
	}
}

func (c *ictx) inferShape() {
	x := c.shape(0)
	if x == nil {
		c.set(0, Int64, Shape{{Size: -1}})
		return
	}
	r := int64(len(x))
	start, end := int64(0), r
	if c.ver >= 15 {
		start = c.n.AttrInt("start", 0)
		if a := c.n.Attr("end"); a != nil && a.Type == AttrInt {
			end = a.Int
		}
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	c.setVal(0, shapeCval(x[start:end]))
}

func (c *ictx) inferConstant() {
	n := c.n
	for _, a := range n.Attrs {
		switch a.Name {
		case "value":
			if a.Tensor == nil {
				continue
			}
			if s, ok := dimsShape(a.Tensor.Dims); ok {
				c.set(0, a.Tensor.DType, s)
			}
			c.setVal(0, tensorCval(a.Tensor))
		case "value_int":
			c.setVal(0, &cval{dt: Int64, dims: []int64{}, ints: []int64{a.Int}})
		case "value_ints":
			if len(a.Ints) <= maxFoldElems {
				c.setVal(0, &cval{dt: Int64, dims: []int64{int64(len(a.Ints))}, ints: append([]int64{}, a.Ints...)})
			}
		case "value_float":
			c.setVal(0, &cval{dt: Float32, dims: []int64{}, flts: []float64{float64(a.Float)}})
		case "value_floats":
			if len(a.Floats) <= maxFoldElems {
				f := make([]float64, len(a.Floats))
				for i, x := range a.Floats {
					f[i] = float64(x)
				}
				c.setVal(0, &cval{dt: Float32, dims: []int64{int64(len(f))}, flts: f})
			}
		case "value_string":
			c.set(0, String, Shape{})
		case "value_strings":
			c.set(0, String, Fixed(int64(len(a.Strings))))
		case "sparse_value":
			// The loader keeps sparse tensors in the attribute's proto only.
		}
	}
}

func (c *ictx) inferConstantOfShape() {
	dt, fill := Float32, &cval{dt: Float32, dims: []int64{1}, flts: []float64{0}}
	if a := c.n.Attr("value"); a != nil && a.Tensor != nil {
		dt = a.Tensor.DType
		fill = tensorCval(a.Tensor)
	}
	sv := c.cv(0)
	if sv == nil {
		if s := c.shape(0); len(s) == 1 && s[0].Known() && s[0].Size <= maxFoldElems {
			c.set(0, dt, make(Shape, s[0].Size).unknownFrom(0))
		}
		return
	}
	if sv.isFloat() || len(sv.dims) != 1 {
		return
	}
	out := make(Shape, len(sv.ints))
	for i := range out {
		out[i] = sv.elemDim(i)
		if out[i].Size < -1 || !sv.unknownAt(i) && out[i].Size < 0 {
			return
		}
	}
	c.set(0, dt, out)
	dims, ok := knownSizes(out)
	if !ok || fill == nil || fill.size() != 1 {
		return
	}
	c.setVal(0, fill.pick(dims, func(int) int { return 0 }))
}

func (c *ictx) inferPad() {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.set(0, dt, nil)
		return
	}
	var pads, axes []int64
	switch {
	case c.ver < 2:
		pads = c.n.AttrInts("paddings")
	case c.ver < 11:
		pads = c.n.AttrInts("pads")
	default:
		var ok bool
		if pads, ok = c.ints(1); !ok {
			c.set(0, dt, append(Shape{}, x...).unknownFrom(0))
			return
		}
		if c.ver >= 18 && c.input(3) != nil {
			if axes, ok = c.ints(3); !ok {
				c.set(0, dt, append(Shape{}, x...).unknownFrom(0))
				return
			}
		}
	}
	if axes == nil {
		axes = make([]int64, len(x))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	if len(pads) != 2*len(axes) {
		return
	}
	out := append(Shape{}, x...)
	for i, ax := range axes {
		a, ok := normAxis(ax, len(x))
		if !ok {
			return
		}
		if !x[a].Known() {
			if pads[i] != 0 || pads[len(axes)+i] != 0 {
				out[a] = Dim{Size: -1}
			}
			continue
		}
		v, ok1 := add64(x[a].Size, pads[i])
		v, ok2 := add64(v, pads[len(axes)+i])
		if !ok1 || !ok2 || v < 0 {
			return
		}
		out[a] = Dim{Size: v}
	}
	c.set(0, dt, out)
}

func (c *ictx) inferResize() {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.set(0, dt, nil)
		return
	}
	var scales []float64
	var sizes []int64
	scaleIn, sizeIn := -1, -1
	switch {
	case c.n.OpType == "Upsample" && c.ver < 9:
		for _, f := range attrFloats(c.n.Attr("scales")) {
			scales = append(scales, float64(f))
		}
	case c.n.OpType == "Upsample" || c.ver < 11:
		scaleIn = 1
	default:
		scaleIn, sizeIn = 2, 3
	}
	given := func(i int) bool {
		s := c.shape(i)
		return c.input(i) != nil && !(len(s) == 1 && s[0].Size == 0)
	}
	unknown := func() { c.set(0, dt, append(Shape{}, x...).unknownFrom(0)) }
	if sizeIn >= 0 && given(sizeIn) {
		var ok bool
		if sizes, ok = c.ints(sizeIn); !ok {
			unknown()
			return
		}
	} else if scaleIn >= 0 {
		if !given(scaleIn) {
			unknown()
			return
		}
		v, ok := c.cv(scaleIn).floatList()
		if !ok {
			unknown()
			return
		}
		scales = v
	}
	axes := make([]int, len(x))
	for i := range axes {
		axes[i] = i
	}
	if a := c.n.AttrInts("axes"); a != nil && c.ver >= 18 {
		axes = axes[:0]
		for _, ax := range a {
			i, ok := normAxis(ax, len(x))
			if !ok {
				return
			}
			axes = append(axes, i)
		}
	}
	out := append(Shape{}, x...)
	if sizes != nil {
		if len(sizes) != len(axes) {
			return
		}
		policy := c.n.AttrString("keep_aspect_ratio_policy", "stretch")
		if policy != "stretch" && c.ver >= 18 {
			// One scale for all axes: the smallest or largest size ratio.
			scale := math.NaN()
			for i, a := range axes {
				if !x[a].Known() || x[a].Size == 0 {
					unknown()
					return
				}
				r := float64(sizes[i]) / float64(x[a].Size)
				if scale != scale || policy == "not_larger" && r < scale || policy == "not_smaller" && r > scale {
					scale = r
				}
			}
			for _, a := range axes {
				out[a] = Dim{Size: int64(math.Round(scale * float64(x[a].Size)))}
			}
			c.set(0, dt, out)
			return
		}
		for i, a := range axes {
			if sizes[i] < 0 {
				return
			}
			out[a] = Dim{Size: sizes[i]}
		}
		c.set(0, dt, out)
		return
	}
	if len(scales) != len(axes) {
		return
	}
	for i, a := range axes {
		s := scales[i]
		if !(s > 0) || s > 1<<20 {
			return
		}
		if !x[a].Known() {
			if s != 1 {
				out[a] = Dim{Size: -1}
			}
			continue
		}
		// In float32, as ONNX Runtime computes it.
		v := float64(float32(s) * float32(x[a].Size))
		if v >= 1<<62 {
			return
		}
		out[a] = Dim{Size: int64(v)}
	}
	c.set(0, dt, out)
}

// attrFloats returns a floats attribute's values, nil when absent.
func attrFloats(a *Attribute) []float32 {
	if a == nil || a.Type != AttrFloats {
		return nil
	}
	return a.Floats
}

func (c *ictx) inferReduce() {
	x := c.shape(0)
	dt := c.dtype(0)
	inputFrom := int64(18)
	if c.n.OpType == "ReduceSum" {
		inputFrom = 13
	}
	keep := c.n.AttrInt("keepdims", 1) != 0
	axes, present, ok := c.axesOperand(inputFrom)
	if x == nil {
		c.set(0, dt, nil)
		return
	}
	if !ok {
		if keep {
			c.set(0, dt, append(Shape{}, x...).unknownFrom(0))
		} else if k, known := c.length(1); known && k > 0 && k <= len(x) {
			c.set(0, dt, make(Shape, len(x)-k).unknownFrom(0))
		}
		return
	}
	reduce := make([]bool, len(x))
	if !present || len(axes) == 0 {
		if c.ver >= inputFrom && c.n.AttrInt("noop_with_empty_axes", 0) != 0 {
			c.same(0, 0)
			return
		}
		for i := range reduce {
			reduce[i] = true
		}
	}
	for _, a := range axes {
		i, ok := normAxis(a, len(x))
		if !ok {
			return
		}
		reduce[i] = true
	}
	out := Shape{}
	for i, d := range x {
		switch {
		case !reduce[i]:
			out = append(out, d)
		case keep:
			out = append(out, Dim{Size: 1})
		}
	}
	c.set(0, dt, out)
}

func (c *ictx) inferArgReduce() {
	x := c.shape(0)
	if x == nil {
		c.set(0, Int64, nil)
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", 0), len(x))
	if !ok {
		return
	}
	out := append(Shape{}, x...)
	if c.n.AttrInt("keepdims", 1) != 0 {
		out[axis] = Dim{Size: 1}
	} else {
		out = append(out[:axis], out[axis+1:]...)
	}
	c.set(0, Int64, out)
}

func (c *ictx) inferRNN() {
	x, w, r := c.shape(0), c.shape(1), c.shape(2)
	dt := c.dtype(0)
	if len(x) != 3 {
		for i := range c.n.Outputs {
			c.set(i, dt, nil)
		}
		return
	}
	dirs := Dim{Size: 1}
	if c.n.AttrString("direction", "forward") == "bidirectional" {
		dirs = Dim{Size: 2}
	}
	hidden := Dim{Size: -1}
	if h := c.n.AttrInt("hidden_size", 0); h > 0 {
		hidden = Dim{Size: h}
	} else if len(r) == 3 {
		hidden = r[2]
	} else if len(w) == 3 && w[1].Known() {
		gates := map[string]int64{"LSTM": 4, "GRU": 3, "RNN": 1}[c.n.OpType]
		hidden = Dim{Size: w[1].Size / gates}
	}
	seq, batch := x[0], x[1]
	batchFirst := c.ver >= 14 && c.n.AttrInt("layout", 0) != 0
	if batchFirst {
		seq, batch = x[1], x[0]
	}
	y := Shape{seq, dirs, batch, hidden}
	state := Shape{dirs, batch, hidden}
	if batchFirst {
		y = Shape{batch, seq, dirs, hidden}
		state = Shape{batch, dirs, hidden}
	}
	c.set(0, dt, y)
	c.set(1, dt, state)
	if c.n.OpType == "LSTM" {
		c.set(2, dt, state)
	}
}

func (c *ictx) inferExpand() {
	x := c.shape(0)
	dt := c.dtype(0)
	sv := c.cv(1)
	if x == nil || sv == nil || sv.isFloat() || len(sv.dims) != 1 {
		// With only the target's length, the rank is known, and so are
		// the sizes the input fixes (a target entry can only be 1 there).
		if k, known := c.length(1); x != nil && known {
			out := make(Shape, max(k, len(x))).unknownFrom(0)
			off := len(out) - len(x)
			for i, d := range x {
				if d.Known() && d.Size != 1 {
					out[off+i] = d
				}
			}
			c.set(0, dt, out)
			return
		}
		c.set(0, dt, nil)
		return
	}
	target := make(Shape, len(sv.ints))
	for i := range target {
		target[i] = sv.elemDim(i)
		if !sv.unknownAt(i) && target[i].Size < 0 {
			return
		}
	}
	if s, ok := broadcastShapes(x, target); ok {
		c.set(0, dt, s)
	}
}

func (c *ictx) inferTile() {
	x := c.shape(0)
	dt := c.dtype(0)
	reps, ok := c.ints(1)
	if x == nil || !ok || len(reps) != len(x) {
		if x != nil {
			c.set(0, dt, append(Shape{}, x...).unknownFrom(0))
		}
		return
	}
	out := make(Shape, len(x))
	for i, d := range x {
		switch {
		case reps[i] < 0:
			return
		case reps[i] == 1:
			out[i] = d
		case d.Known():
			v, ok := mul64(d.Size, reps[i])
			if !ok {
				return
			}
			out[i] = Dim{Size: v}
		default:
			out[i] = Dim{Size: -1}
		}
	}
	c.set(0, dt, out)
}

func (c *ictx) inferRange() {
	dt := c.dtype(0)
	c.set(0, dt, Shape{{Size: -1}})
	s, l, d := c.cv(0), c.cv(1), c.cv(2)
	if s == nil || l == nil || d == nil || s.size() != 1 || l.size() != 1 || d.size() != 1 ||
		!s.known() || !l.known() || !d.known() {
		return
	}
	var n int64
	if s.isFloat() {
		start, limit, delta := s.float(0), l.float(0), d.float(0)
		f := math.Ceil((limit - start) / delta)
		if !(f < 1<<62) || delta == 0 {
			return
		}
		if f > 0 {
			n = int64(f)
		}
		c.set(0, dt, Shape{{Size: n}})
		if out := newCval(dt, []int64{n}); out != nil {
			for i := range out.flts {
				out.flts[i] = start + float64(i)*delta
			}
			c.setVal(0, out)
		}
		return
	}
	start, limit, delta := s.ints[0], l.ints[0], d.ints[0]
	span, ok := sub64(limit, start)
	if delta == 0 || !ok {
		return
	}
	if (span > 0) == (delta > 0) && span != 0 {
		if delta > 0 {
			n = (span-1)/delta + 1
		} else {
			n = (span+1)/delta + 1
		}
	}
	c.set(0, dt, Shape{{Size: n}})
	if out := newCval(dt, []int64{n}); out != nil {
		for i := range out.ints {
			out.ints[i] = start + int64(i)*delta
		}
		c.setVal(0, out)
	}
}

func (c *ictx) inferTopK() {
	x := c.shape(0)
	if x == nil {
		return
	}
	axis, ok := normAxis(c.n.AttrInt("axis", -1), len(x))
	if !ok {
		return
	}
	k := Dim{Size: -1}
	if c.ver < 10 {
		k = Dim{Size: c.n.AttrInt("k", -1)}
	} else if v, ok := c.cv(1).scalarInt(); ok {
		k = Dim{Size: v}
	}
	if k.Size < -1 {
		return
	}
	out := append(Shape{}, x...)
	out[axis] = k
	c.set(0, c.dtype(0), out)
	c.set(1, Int64, out)
}

func (c *ictx) inferDepthSpace() {
	x := c.shape(0)
	b := c.n.AttrInt("blocksize", 0)
	if len(x) != 4 || b <= 0 || b > 1<<20 {
		return
	}
	scale := func(d Dim, f int64, mul bool) Dim {
		switch {
		case !d.Known():
			return Dim{Size: -1}
		case mul:
			if v, ok := mul64(d.Size, f); ok {
				return Dim{Size: v}
			}
			return Dim{Size: -1}
		case d.Size%f != 0:
			return Dim{Size: -1}
		}
		return Dim{Size: d.Size / f}
	}
	up := c.n.OpType == "DepthToSpace"
	out := Shape{x[0], scale(x[1], b*b, !up), scale(x[2], b, up), scale(x[3], b, up)}
	c.set(0, c.dtype(0), out)
}

func (c *ictx) inferOneHot() {
	idx := c.shape(0)
	dt := c.dtype(2)
	if idx == nil {
		c.set(0, dt, nil)
		return
	}
	depth := Dim{Size: -1}
	if v := c.cv(1); v != nil && v.size() == 1 && v.known() {
		if f := v.float(0); f >= 0 && f < 1<<62 {
			depth = Dim{Size: int64(f)}
		}
	}
	axis, ok := normAxis(c.n.AttrInt("axis", -1), len(idx)+1)
	if !ok {
		return
	}
	out := append(Shape{}, idx[:axis]...)
	out = append(out, depth)
	c.set(0, dt, append(out, idx[axis:]...))
}

func (c *ictx) inferCenterCropPad() {
	x := c.shape(0)
	sizes, ok := c.ints(1)
	if x == nil || !ok {
		return
	}
	axes := c.n.AttrInts("axes")
	if axes == nil {
		for i := range x {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) != len(sizes) {
		return
	}
	out := append(Shape{}, x...)
	for i, ax := range axes {
		a, ok := normAxis(ax, len(x))
		if !ok || sizes[i] < 0 {
			return
		}
		out[a] = Dim{Size: sizes[i]}
	}
	c.set(0, c.dtype(0), out)
}
