// Params: the quantization parameters of one tensor, their checks, and
// the mapping of a tensor's elements to their scale and zero point
// (per tensor, per axis, blocked).

package qdq

import (
	"fmt"
	"math"
)

// Params are the quantization parameters of one tensor.
//
// len(Scale) == len(ZeroPoint). With BlockSize == 0, one scale is per
// tensor (Axis is then ignored) and more are one per position of axis Axis
// of the tensor. With BlockSize > 0 the scales are blocked along Axis: laid
// out row-major over the tensor's shape with dimension Axis replaced by
// ceil(shape[Axis]/BlockSize), as ONNX QuantizeLinear (opset 21) has them.
type Params struct {
	Scale     []float32
	ZeroPoint []int32
	Axis      int
	BlockSize int
	Type      Type
}

// PerTensor reports whether one scale and zero point cover the tensor.
func (p Params) PerTensor() bool { return len(p.Scale) == 1 && p.BlockSize == 0 }

// Validate checks p on its own: a valid type, as many zero points as
// scales, finite non-zero scales, zero points in the type's range, a
// non-negative block size and, unless per tensor, a non-negative axis.
func (p Params) Validate() error {
	if !p.Type.Valid() {
		return fmt.Errorf("qdq: invalid quantized type %v", p.Type)
	}
	if len(p.Scale) != len(p.ZeroPoint) {
		return fmt.Errorf("qdq: %d scales but %d zero points", len(p.Scale), len(p.ZeroPoint))
	}
	if p.BlockSize < 0 {
		return fmt.Errorf("qdq: negative block size %d", p.BlockSize)
	}
	if !p.PerTensor() && p.Axis < 0 {
		return fmt.Errorf("qdq: negative axis %d", p.Axis)
	}
	for i, s := range p.Scale {
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("qdq: scale %d is %v, want finite and non-zero", i, s)
		}
	}
	lo, hi := p.Type.Min(), p.Type.Max()
	for i, z := range p.ZeroPoint {
		if z < lo || z > hi {
			return fmt.Errorf("qdq: zero point %d is %d, outside %v range [%d, %d]", i, z, p.Type, lo, hi)
		}
	}
	return nil
}

// ScaleShape is the shape of the scale and zero-point tensors of p for a
// tensor of the given shape, as ONNX QuantizeLinear takes them: [] per
// tensor, [shape[Axis]] per axis, and shape with dimension Axis replaced
// by its block count when blocked.
func (p Params) ScaleShape(shape []int) ([]int, error) {
	l, err := newLayout(shape, p)
	if err != nil {
		return nil, err
	}
	switch l.kind {
	case perTensor:
		return []int{}, nil
	case perAxis:
		return []int{l.dim}, nil
	}
	s := append([]int{}, shape...)
	s[p.Axis] = l.blocks
	return s, nil
}

// numel is the element count of shape, refusing negative dimensions and
// counts that overflow int.
func numel(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("qdq: negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("qdq: shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

const (
	perTensor = iota
	perAxis
	blocked
)

// layout sees a tensor as [outer, dim, inner] around the quantization
// axis and knows the index of each element's parameters.
type layout struct {
	kind              int
	n                 int // elements
	outer, dim, inner int
	block, blocks     int // blocked: block size (at most dim) and blocks along the axis
}

// newLayout checks p against a tensor of the given shape.
func newLayout(shape []int, p Params) (*layout, error) {
	n, err := numel(shape)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := &layout{n: n, outer: 1, dim: n, inner: 1}
	if p.PerTensor() {
		return l, nil
	}
	if p.Axis >= len(shape) {
		return nil, fmt.Errorf("qdq: axis %d out of range for shape %v", p.Axis, shape)
	}
	l.dim = shape[p.Axis]
	l.outer, _ = numel(shape[:p.Axis])
	l.inner, _ = numel(shape[p.Axis+1:])
	if p.BlockSize == 0 {
		if len(p.Scale) != l.dim {
			return nil, fmt.Errorf("qdq: %d scales for axis %d of shape %v (want 1 or %d)", len(p.Scale), p.Axis, shape, l.dim)
		}
		l.kind = perAxis
		return l, nil
	}
	l.kind = blocked
	l.block = min(p.BlockSize, max(l.dim, 1))
	l.blocks = (l.dim + l.block - 1) / l.block
	if want := l.outer * l.blocks * l.inner; len(p.Scale) != want {
		return nil, fmt.Errorf("qdq: %d scales for blocks of %d along axis %d of shape %v (want %d)", len(p.Scale), p.BlockSize, p.Axis, shape, want)
	}
	return l, nil
}

// each calls fn with every element's flat index and its parameter index,
// in element order.
func (l *layout) each(fn func(e, p int)) {
	switch l.kind {
	case perTensor:
		for e := 0; e < l.n; e++ {
			fn(e, 0)
		}
		return
	case perAxis:
		e := 0
		for o := 0; o < l.outer; o++ {
			for a := 0; a < l.dim; a++ {
				for i := 0; i < l.inner; i++ {
					fn(e, a)
					e++
				}
			}
		}
		return
	}
	e := 0
	for o := 0; o < l.outer; o++ {
		for a := 0; a < l.dim; a++ {
			base := (o*l.blocks + a/l.block) * l.inner
			for i := 0; i < l.inner; i++ {
				fn(e, base+i)
				e++
			}
		}
	}
}

// params is the number of parameter sets the layout indexes.
func (l *layout) params() int {
	switch l.kind {
	case perTensor:
		return 1
	case perAxis:
		return l.dim
	}
	return l.outer * l.blocks * l.inner
}
