// quant_requantize.go holds ai.onnxq Requantize: 8-bit integers
// dequantized with one scale and zero point and quantized again with
// another, y = QuantizeLinear(DequantizeLinear(x, x_scale, x_zero_point),
// y_scale, y_zero_point), the unit a QDQ model writes around a
// data-movement op whose input and output are quantized differently.
// Inputs: x (uint8 or int8), x_scale (one float32), x_zero_point
// (optional, x's type), y_scale (one float32), y_zero_point (optional;
// its type, else uint8, is the output's). The result depends on one byte
// only, so the kernel builds the 256 results once per set of parameters
// by running this runtime's own DequantizeLinear and QuantizeLinear
// kernels on the 256 possible inputs (the same bits as the float unit by
// construction: those kernels read no session option), then maps the
// bytes through that table (kernels.LookupBytes).

package runtime

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerQuantRequantize(r *Registry) {
	r.Register(OnnxqDomain, "Requantize", func(n *graph.Node, opset int64) (Kernel, error) {
		return &requantizeKernel{}, nil
	})
}

// requantizeKernel is ai.onnxq Requantize.
type requantizeKernel struct {
	// table caches the table of the last parameters seen (constants in
	// a model: built once).
	table atomic.Pointer[requantTable]
}

// requantKey identifies one table: the types, the scales' bits and the
// zero points.
type requantKey struct {
	xType, yType graph.DType
	xScale       uint32
	yScale       uint32
	xZero, yZero int32
}

type requantTable struct {
	key   requantKey
	bytes [256]byte
}

func (k *requantizeKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 4 || in[0] == nil || in[1] == nil || in[3] == nil {
		return nil, fmt.Errorf("Requantize needs x, x_scale, x_zero_point, y_scale and y_zero_point")
	}
	x := in[0]
	if x.DType != graph.Uint8 && x.DType != graph.Int8 {
		return nil, fmt.Errorf("x is %v, want uint8 or int8", x.DType)
	}
	var xz, yz *Tensor
	if in[2] != nil && in[2].Len() > 0 {
		xz = in[2]
	}
	if len(in) > 4 && in[4] != nil && in[4].Len() > 0 {
		yz = in[4]
	}
	key := requantKey{xType: x.DType, yType: graph.Uint8}
	scale := func(t *Tensor, name string) (uint32, error) {
		if t.DType != graph.Float32 || t.Len() != 1 {
			return 0, fmt.Errorf("%s must be one float32 value, got %v", name, t)
		}
		return math.Float32bits(t.F32()[0]), nil
	}
	zero := func(t *Tensor, name string, dt graph.DType) (int32, error) {
		if t == nil {
			return 0, nil
		}
		if t.Len() != 1 || (dt != graph.Undefined && t.DType != dt) {
			return 0, fmt.Errorf("%s must be one %v value, got %v", name, dt, t)
		}
		z, err := int32sOf(t)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		return z[0], nil
	}
	var err error
	if key.xScale, err = scale(in[1], "x_scale"); err != nil {
		return nil, err
	}
	if key.yScale, err = scale(in[3], "y_scale"); err != nil {
		return nil, err
	}
	if key.xZero, err = zero(xz, "x_zero_point", x.DType); err != nil {
		return nil, err
	}
	if yz != nil {
		key.yType = yz.DType
	}
	if key.yType != graph.Uint8 && key.yType != graph.Int8 {
		return nil, fmt.Errorf("y_zero_point is %v, want uint8 or int8", key.yType)
	}
	if key.yZero, err = zero(yz, "y_zero_point", graph.Undefined); err != nil {
		return nil, err
	}
	tb := k.table.Load()
	if tb == nil || tb.key != key {
		if tb, err = buildRequantTable(ctx, key, in[1], xz, in[3], yz); err != nil {
			return nil, err
		}
		k.table.Store(tb)
	}
	y := ctx.allocFull(key.yType, x.Shape...)
	src, dst := bytesOf(x), bytesOf(y)
	const chunk = 1 << 16
	ctx.Parallel((len(src)+chunk-1)/chunk, func(first, last int) {
		a, b := first*chunk, min(last*chunk, len(src))
		kernels.LookupBytes(dst[a:b], src[a:b], &tb.bytes)
	})
	return []*Tensor{y}, nil
}

// buildRequantTable runs DequantizeLinear and QuantizeLinear (per tensor,
// the default attributes) on the 256 values of key.xType.
func buildRequantTable(ctx *Context, key requantKey, xScale, xZero, yScale, yZero *Tensor) (*requantTable, error) {
	// A context of one thread without the session: the 256 values are
	// not worth a goroutine, and the temporary tensors stay out of the
	// session's buffer pool.
	sub := &Context{Threads: 1}
	if ctx != nil {
		sub.Node, sub.Opset = ctx.Node, ctx.Opset
	}
	all := New(key.xType, 256)
	b := bytesOf(all)
	for i := range b {
		b[i] = byte(i)
	}
	dq, err := (&dequantizeKernel{axis: 1}).Run(sub, []*Tensor{all, xScale, xZero})
	if err != nil {
		return nil, fmt.Errorf("dequantizing: %v", err)
	}
	q, err := (&quantizeKernel{axis: 1, saturate: true, opset: 21}).Run(sub, []*Tensor{dq[0], yScale, yZero})
	if err != nil {
		return nil, fmt.Errorf("quantizing: %v", err)
	}
	out := bytesOf(q[0])
	if q[0].DType != key.yType || len(out) != 256 {
		return nil, fmt.Errorf("quantizing gave %v, want 256 %v values", q[0], key.yType)
	}
	tb := &requantTable{key: key}
	copy(tb.bytes[:], out)
	return tb, nil
}
