// quant_binary.go holds ai.onnxq QLinearAdd and QLinearMul: the
// DequantizeLinear → Add/Mul → QuantizeLinear unit of a QDQ model on two
// 8-bit tensors of one type, as one pass over the bytes. Their inputs are
// those of ONNX Runtime's com.microsoft ops of the same names (A,
// A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
// C_zero_point), and so is their arithmetic: that of ONNX Runtime's x86
// kernels (kernels.QLinearBinary), which gives the QDQ unit's results
// except at exact rounding ties (the zero point joins before the rounding
// there), so that onnxq and ONNX Runtime agree on quantized models.

package runtime

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime/kernels"
)

func registerQuantBinary(r *Registry) {
	for _, op := range []string{"Add", "Mul"} {
		r.Register(OnnxqDomain, "QLinear"+op, func(n *graph.Node, opset int64) (Kernel, error) {
			// Operands of different shapes broadcast through the float
			// op, between the dequantized operands and the quantization.
			float, err := buildKernel(r.Lookup("", op), &graph.Node{OpType: op}, 14)
			if err != nil {
				return nil, err
			}
			return qlinearBinaryKernel{mul: op == "Mul", float: float}, nil
		})
	}
}

type qlinearBinaryKernel struct {
	mul   bool
	float Kernel
}

func (k qlinearBinaryKernel) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 7 || in[0] == nil || in[3] == nil {
		return nil, fmt.Errorf("needs A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale and C_zero_point")
	}
	a, b := in[0], in[3]
	if a.DType != b.DType || (a.DType != graph.Uint8 && a.DType != graph.Int8) {
		return nil, fmt.Errorf("A %v and B %v must be both uint8 or both int8", a, b)
	}
	var shape []int
	broadcast := false
	switch {
	case slices.Equal(a.Shape, b.Shape) || (b.Len() == 1 && len(b.Shape) <= len(a.Shape)):
		shape = a.Shape
	case a.Len() == 1 && len(a.Shape) <= len(b.Shape):
		shape = b.Shape
	default:
		broadcast = true
	}
	scale := func(i int, name string) (float32, error) {
		s, err := readScales(name, in[i])
		if err != nil {
			return 0, err
		}
		if len(s) != 1 || !(s[0] > 0) || s[0] > 3.4e38 {
			return 0, fmt.Errorf("%s must be one positive finite value", name)
		}
		return s[0], nil
	}
	zero := func(i int, name string) (int32, error) {
		if i >= len(in) || in[i] == nil || in[i].Len() == 0 {
			return 0, nil
		}
		if in[i].DType != a.DType || in[i].Len() != 1 {
			return 0, fmt.Errorf("%s must be one %v value", name, a.DType)
		}
		z, err := int32sOf(in[i])
		if err != nil {
			return 0, err
		}
		return z[0], nil
	}
	var p kernels.QBinaryParams
	var err error
	if p.SA, err = scale(1, "A_scale"); err != nil {
		return nil, err
	}
	if p.SB, err = scale(4, "B_scale"); err != nil {
		return nil, err
	}
	if p.SC, err = scale(6, "C_scale"); err != nil {
		return nil, err
	}
	if p.ZA, err = zero(2, "A_zero_point"); err != nil {
		return nil, err
	}
	if p.ZB, err = zero(5, "B_zero_point"); err != nil {
		return nil, err
	}
	if p.ZC, err = zero(7, "C_zero_point"); err != nil {
		return nil, err
	}
	lo, hi, _ := quantRange(a.DType)
	p.Lo, p.Hi = float32(lo-int64(p.ZC)), float32(hi-int64(p.ZC))
	p.Mul, p.Signed = k.mul, a.DType == graph.Int8
	if broadcast {
		return k.broadcast(ctx, a, b, p)
	}
	y := ctx.allocFull(a.DType, shape...)
	dst := outputBytes(y)
	ab, bb := outputBytes(a), outputBytes(b)
	// Chunks of whole 16-byte steps, split over the threads.
	const chunk = 1 << 14
	ctx.Parallel((len(dst)+chunk-1)/chunk, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			s, e := c*chunk, min(len(dst), (c+1)*chunk)
			as, bs := ab, bb
			if len(as) != 1 {
				as = as[s:e]
			}
			if len(bs) != 1 {
				bs = bs[s:e]
			}
			kernels.QLinearBinary(dst[s:e], as, bs, p)
		}
	})
	return []*Tensor{y}, nil
}

// broadcast computes the op for operands of different shapes (numpy
// broadcasting) as ONNX Runtime's kernels do: the output is cut into
// runs, the longest trailing axes along which each operand is either
// contiguous or repeated, and each run is one QLinearBinary call with the
// repeated operand as a single element (which the Add folds into its
// constant part, as ONNX Runtime does).
func (k qlinearBinaryKernel) broadcast(ctx *Context, a, b *Tensor, p kernels.QBinaryParams) ([]*Tensor, error) {
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	sa, sb, so := broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape), Strides(shape)
	// run: the trailing axes over which each operand is all contiguous
	// or all repeated.
	kind := func(s []int, from int) (contiguous, repeated bool) {
		contiguous, repeated = true, true
		for i := from; i < len(shape); i++ {
			if shape[i] == 1 {
				continue
			}
			contiguous = contiguous && s[i] == so[i]
			repeated = repeated && s[i] == 0
		}
		return contiguous, repeated
	}
	first := len(shape)
	for first > 0 {
		ca, ra := kind(sa, first-1)
		cb, rb := kind(sb, first-1)
		if !(ca || ra) || !(cb || rb) {
			break
		}
		first--
	}
	run := 1
	for _, d := range shape[first:] {
		run *= d
	}
	_, aRepeated := kind(sa, first)
	_, bRepeated := kind(sb, first)
	y := ctx.allocFull(a.DType, shape...)
	dst, ab, bb := outputBytes(y), outputBytes(a), outputBytes(b)
	runs := len(dst) / max(run, 1)
	ctx.Parallel(runs, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			// The operands' offsets of run r from the outer axes.
			oa, ob, rest := 0, 0, r
			for i := first - 1; i >= 0; i-- {
				c := rest % shape[i]
				rest /= shape[i]
				oa += c * sa[i]
				ob += c * sb[i]
			}
			as, bs := ab[oa:oa+1], bb[ob:ob+1]
			if !aRepeated {
				as = ab[oa : oa+run]
			}
			if !bRepeated {
				bs = bb[ob : ob+run]
			}
			kernels.QLinearBinary(dst[r*run:(r+1)*run], as, bs, p)
		}
	})
	return []*Tensor{y}, nil
}
