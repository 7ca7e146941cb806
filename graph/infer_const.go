package graph

import (
	"encoding/binary"
	"math"
)

// Constant propagation for shape inference: small tensors whose values
// are known (initializers, Constant nodes, and what shape arithmetic makes
// of them), so Reshape targets, Slice bounds, Pad amounts and Resize scales
// computed inside the graph resolve. Integer data may be partly known: the
// Shape of a value with unknown dimensions has unknown elements, which
// keep the dimension's symbolic name.

// maxFoldElems bounds the tensors folded: larger ones are not worth
// holding, and their sizes come from untrusted data.
const maxFoldElems = 1 << 16

// cval is a folded tensor value. Integer and bool data is in ints, float
// data in flts. For ints, unk marks unknown elements (nil when all are
// known) and sym holds the symbolic dimension name of an unknown element.
type cval struct {
	dt   DType
	dims []int64
	ints []int64
	flts []float64
	unk  []bool
	sym  []string
}

func (c *cval) isFloat() bool { return c.dt.IsFloat() }

func (c *cval) size() int {
	if c.isFloat() {
		return len(c.flts)
	}
	return len(c.ints)
}

// known reports whether every element is known.
func (c *cval) known() bool {
	for _, u := range c.unk {
		if u {
			return false
		}
	}
	return true
}

func (c *cval) unknownAt(i int) bool { return c.unk != nil && c.unk[i] }

// elemDim describes element i of integer data as a dimension: its value
// when known, else unknown with the symbolic name it carries.
func (c *cval) elemDim(i int) Dim {
	if c.unknownAt(i) {
		return Dim{Size: -1, Param: c.sym[i]}
	}
	return Dim{Size: c.ints[i]}
}

// float returns element i as a float64.
func (c *cval) float(i int) float64 {
	if c.isFloat() {
		return c.flts[i]
	}
	return float64(c.ints[i])
}

// intList returns the data as int64s when every element is known.
func (c *cval) intList() ([]int64, bool) {
	if c == nil || c.isFloat() || !c.known() {
		return nil, false
	}
	return c.ints, true
}

// floatList returns the data as float64s when every element is known.
func (c *cval) floatList() ([]float64, bool) {
	if c == nil || !c.known() {
		return nil, false
	}
	if c.isFloat() {
		return c.flts, true
	}
	out := make([]float64, len(c.ints))
	for i, v := range c.ints {
		out[i] = float64(v)
	}
	return out, true
}

// scalarInt returns the only element of a one-element tensor as an integer.
func (c *cval) scalarInt() (int64, bool) {
	if c == nil || c.size() != 1 || c.unknownAt(0) {
		return 0, false
	}
	if c.isFloat() {
		f := c.flts[0]
		if f != f || f > 1<<62 || f < -(1<<62) {
			return 0, false
		}
		return int64(f), true
	}
	return c.ints[0], true
}

// foldable reports whether a value of this type and element count may be
// folded.
func foldable(dt DType, n int64) bool {
	if n < 0 || n > maxFoldElems {
		return false
	}
	return dt.IsFloat() && dt.Bits() >= 16 || dt.IsInteger() && dt.Bits() >= 8 || dt == Bool
}

// newCval makes an empty value of the given type and shape, or nil when
// it is not foldable.
func newCval(dt DType, dims []int64) *cval {
	n, err := numElements(dims)
	if err != nil || !foldable(dt, n) {
		return nil
	}
	c := &cval{dt: dt, dims: append([]int64{}, dims...)}
	if dt.IsFloat() {
		c.flts = make([]float64, n)
	} else {
		c.ints = make([]int64, n)
	}
	return c
}

// tensorCval reads a constant tensor, when it is small and of a type
// folding handles.
func tensorCval(t *Tensor) *cval {
	if t == nil {
		return nil
	}
	c := newCval(t.DType, t.Dims)
	if c == nil {
		return nil
	}
	switch {
	case t.DType == Float32:
		f, err := t.Float32s()
		if err != nil || len(f) != len(c.flts) {
			return nil
		}
		for i, x := range f {
			c.flts[i] = float64(x)
		}
	case t.DType.IsFloat():
		raw, err := t.Raw()
		if err != nil {
			return nil
		}
		bytes := t.DType.Bits() / 8
		if len(raw) != bytes*len(c.flts) {
			return nil
		}
		for i := range c.flts {
			switch t.DType {
			case Float64:
				c.flts[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			case Float16:
				c.flts[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
			case BFloat16:
				c.flts[i] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16))
			default:
				return nil
			}
		}
	default:
		v, err := t.Int64s()
		if err != nil || len(v) != len(c.ints) {
			return nil
		}
		copy(c.ints, v)
	}
	return c
}

// halfToFloat decodes an IEEE 754 half-precision number.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// shapeCval is the value of Shape(x) for dims[start:end].
func shapeCval(s Shape) *cval {
	c := &cval{dt: Int64, dims: []int64{int64(len(s))}, ints: make([]int64, len(s))}
	for i, d := range s {
		if d.Known() {
			c.ints[i] = d.Size
			continue
		}
		if c.unk == nil {
			c.unk = make([]bool, len(s))
			c.sym = make([]string, len(s))
		}
		c.unk[i], c.sym[i] = true, d.Param
	}
	return c
}

// reshaped returns c with other dims, sharing its data.
func (c *cval) reshaped(dims []int64) *cval {
	n, err := numElements(dims)
	if err != nil || n != int64(c.size()) {
		return nil
	}
	out := *c
	out.dims = append([]int64{}, dims...)
	return &out
}

// pick builds a value of the given dims whose element i is element src(i)
// of c; unknown elements stay unknown.
func (c *cval) pick(dims []int64, src func(i int) int) *cval {
	out := newCval(c.dt, dims)
	if out == nil {
		return nil
	}
	for i := 0; i < out.size(); i++ {
		j := src(i)
		if j < 0 || j >= c.size() {
			return nil
		}
		if c.isFloat() {
			out.flts[i] = c.flts[j]
			continue
		}
		out.ints[i] = c.ints[j]
		if c.unknownAt(j) {
			out.setUnknown(i, c.sym[j])
		}
	}
	return out
}

func (c *cval) setUnknown(i int, sym string) {
	if c.unk == nil {
		c.unk = make([]bool, len(c.ints))
		c.sym = make([]string, len(c.ints))
	}
	c.unk[i], c.sym[i] = true, sym
}

// castCval converts to another element type, as Cast does for the values
// shape arithmetic uses.
func castCval(c *cval, to DType) *cval {
	out := newCval(to, c.dims)
	if out == nil || c.size() != out.size() {
		return nil
	}
	for i := 0; i < c.size(); i++ {
		if c.unknownAt(i) {
			if !to.IsFloat() {
				out.setUnknown(i, c.sym[i])
				continue
			}
			return nil
		}
		switch {
		case to.IsFloat():
			f := c.float(i)
			if to == Float32 {
				f = float64(float32(f))
			}
			out.flts[i] = f
		case to == Bool:
			if c.float(i) != 0 {
				out.ints[i] = 1
			}
		case c.isFloat():
			f := c.flts[i]
			if f != f || f >= 1<<63 || f < -(1<<63) {
				return nil
			}
			out.ints[i] = wrapInt(int64(f), to)
		default:
			out.ints[i] = wrapInt(c.ints[i], to)
		}
	}
	return out
}

// wrapInt truncates v to an integer type's width, as a C cast does.
func wrapInt(v int64, dt DType) int64 {
	switch dt {
	case Int8:
		return int64(int8(v))
	case Uint8:
		return int64(uint8(v))
	case Int16:
		return int64(int16(v))
	case Uint16:
		return int64(uint16(v))
	case Int32:
		return int64(int32(v))
	case Uint32:
		return int64(uint32(v))
	}
	return v
}

// strides returns row-major strides of dims.
func strides(dims []int64) []int64 {
	s := make([]int64, len(dims))
	acc := int64(1)
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// broadcastDims is numpy broadcasting of known dims.
func broadcastDims(all ...[]int64) ([]int64, bool) {
	rank := 0
	for _, d := range all {
		rank = max(rank, len(d))
	}
	out := make([]int64, rank)
	for i := range out {
		out[i] = 1
	}
	for _, d := range all {
		off := rank - len(d)
		for j, v := range d {
			switch {
			case v == out[off+j] || v == 1:
			case out[off+j] == 1:
				out[off+j] = v
			default:
				return nil, false
			}
		}
	}
	return out, true
}

// broadcastIndex maps a flat index of the broadcast output to one of an
// operand with dims in.
func broadcastIndex(out, in []int64, outStrides, inStrides []int64, i int64) int64 {
	off := len(out) - len(in)
	var j int64
	for k := range in {
		coord := (i / outStrides[off+k]) % out[off+k]
		if in[k] != 1 {
			j += coord * inStrides[k]
		}
	}
	return j
}

// elementwise folds an op over broadcast operands. fi handles integer and
// bool data, ff float data; either may be nil. The result has type dt.
// With integer operands, an unknown element makes that result unknown.
func elementwise(dt DType, args []*cval, fi func(x []int64) (int64, bool), ff func(x []float64) (float64, bool)) *cval {
	dims := make([][]int64, len(args))
	isFloat := false
	for i, a := range args {
		if a == nil {
			return nil
		}
		dims[i] = a.dims
		isFloat = isFloat || a.isFloat()
	}
	outDims, ok := broadcastDims(dims...)
	if !ok {
		return nil
	}
	out := newCval(dt, outDims)
	if out == nil || (isFloat && ff == nil) || (!isFloat && fi == nil) {
		return nil
	}
	os := strides(outDims)
	ins := make([][]int64, len(args))
	for i, a := range args {
		ins[i] = strides(a.dims)
	}
	xi := make([]int64, len(args))
	xf := make([]float64, len(args))
	for i := 0; i < out.size(); i++ {
		unknown := false
		for k, a := range args {
			j := broadcastIndex(outDims, a.dims, os, ins[k], int64(i))
			if a.unknownAt(int(j)) {
				unknown = true
			}
			if a.isFloat() {
				xf[k] = a.flts[j]
			} else {
				xi[k] = a.ints[j]
				xf[k] = float64(a.ints[j])
			}
		}
		if unknown {
			if isFloat || dt.IsFloat() {
				return nil
			}
			out.setUnknown(i, "")
			continue
		}
		var r float64
		var ri int64
		if isFloat {
			if r, ok = ff(xf); !ok {
				return nil
			}
		} else if ri, ok = fi(xi); !ok {
			return nil
		} else {
			r = float64(ri)
		}
		switch {
		case dt.IsFloat():
			if dt == Float32 {
				r = float64(float32(r))
			}
			out.flts[i] = r
		case isFloat:
			if r != r || r >= 1<<63 || r < -(1<<63) {
				return nil
			}
			out.ints[i] = int64(r)
		default:
			out.ints[i] = wrapInt(ri, dt)
		}
	}
	return out
}

// Checked int64 arithmetic: shapes come from untrusted files.

func add64(a, b int64) (int64, bool) {
	c := a + b
	if (c > a) != (b > 0) {
		return 0, false
	}
	return c, true
}

func sub64(a, b int64) (int64, bool) {
	if b == math.MinInt64 {
		return 0, false
	}
	return add64(a, -b)
}

func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return c, true
}

// binaryFold folds Add, Sub, Mul, Div and the other two-operand ops
// shape arithmetic uses.
func binaryFold(op string, dt DType, a, b *cval) *cval {
	var fi func(x []int64) (int64, bool)
	var ff func(x []float64) (float64, bool)
	boolOut := false
	switch op {
	case "Add":
		fi = func(x []int64) (int64, bool) { return add64(x[0], x[1]) }
		ff = func(x []float64) (float64, bool) { return x[0] + x[1], true }
	case "Sub":
		fi = func(x []int64) (int64, bool) { return sub64(x[0], x[1]) }
		ff = func(x []float64) (float64, bool) { return x[0] - x[1], true }
	case "Mul":
		fi = func(x []int64) (int64, bool) { return mul64(x[0], x[1]) }
		ff = func(x []float64) (float64, bool) { return x[0] * x[1], true }
	case "Div":
		fi = func(x []int64) (int64, bool) {
			if x[1] == 0 || (x[0] == math.MinInt64 && x[1] == -1) {
				return 0, false
			}
			return x[0] / x[1], true // integer Div truncates, as C does
		}
		ff = func(x []float64) (float64, bool) { return x[0] / x[1], true }
	case "Max", "Min":
		less := op == "Min"
		fi = func(x []int64) (int64, bool) {
			if (x[1] < x[0]) == less {
				return x[1], true
			}
			return x[0], true
		}
		ff = func(x []float64) (float64, bool) {
			if x[0] != x[0] || x[1] != x[1] {
				return math.NaN(), true
			}
			if (x[1] < x[0]) == less {
				return x[1], true
			}
			return x[0], true
		}
	case "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual":
		boolOut = true
		cmp := func(x, y float64) bool {
			switch op {
			case "Equal":
				return x == y
			case "Less":
				return x < y
			case "Greater":
				return x > y
			case "LessOrEqual":
				return x <= y
			}
			return x >= y
		}
		icmp := func(x, y int64) bool {
			switch op {
			case "Equal":
				return x == y
			case "Less":
				return x < y
			case "Greater":
				return x > y
			case "LessOrEqual":
				return x <= y
			}
			return x >= y
		}
		fi = func(x []int64) (int64, bool) { return b2i(icmp(x[0], x[1])), true }
		ff = func(x []float64) (float64, bool) { return float64(b2i(cmp(x[0], x[1]))), true }
	case "And", "Or", "Xor":
		fi = func(x []int64) (int64, bool) {
			p, q := x[0] != 0, x[1] != 0
			switch op {
			case "And":
				return b2i(p && q), true
			case "Or":
				return b2i(p || q), true
			}
			return b2i(p != q), true
		}
	default:
		return nil
	}
	if boolOut {
		dt = Bool
	}
	if a == nil || b == nil || a.isFloat() != b.isFloat() {
		return nil
	}
	return elementwise(dt, []*cval{a, b}, fi, ff)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unaryFold folds the one-operand ops shape arithmetic uses.
func unaryFold(op string, a *cval) *cval {
	var fi func(x []int64) (int64, bool)
	var ff func(x []float64) (float64, bool)
	switch op {
	case "Neg":
		fi = func(x []int64) (int64, bool) { return sub64(0, x[0]) }
		ff = func(x []float64) (float64, bool) { return -x[0], true }
	case "Abs":
		fi = func(x []int64) (int64, bool) {
			if x[0] < 0 {
				return sub64(0, x[0])
			}
			return x[0], true
		}
		ff = func(x []float64) (float64, bool) { return math.Abs(x[0]), true }
	case "Not":
		fi = func(x []int64) (int64, bool) { return b2i(x[0] == 0), true }
	case "Floor":
		ff = func(x []float64) (float64, bool) { return math.Floor(x[0]), true }
	case "Ceil":
		ff = func(x []float64) (float64, bool) { return math.Ceil(x[0]), true }
	case "Round":
		ff = func(x []float64) (float64, bool) { return math.RoundToEven(x[0]), true }
	case "Sqrt":
		ff = func(x []float64) (float64, bool) { return math.Sqrt(x[0]), true }
	case "Reciprocal":
		ff = func(x []float64) (float64, bool) { return 1 / x[0], true }
	case "Identity":
		return a
	default:
		return nil
	}
	if a == nil {
		return nil
	}
	return elementwise(a.dt, []*cval{a}, fi, ff)
}

// whereFold folds Where(cond, x, y).
func whereFold(c, x, y *cval) *cval {
	if c == nil || x == nil || y == nil || c.isFloat() || x.isFloat() != y.isFloat() {
		return nil
	}
	// cond is integer data; an unknown cond element makes that result
	// unknown, which only integer results can hold.
	return elementwise(x.dt, []*cval{c, x, y},
		func(v []int64) (int64, bool) {
			if v[0] != 0 {
				return v[1], true
			}
			return v[2], true
		},
		func(v []float64) (float64, bool) {
			if v[0] != 0 {
				return v[1], true
			}
			return v[2], true
		})
}
