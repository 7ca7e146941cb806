// Loss kernels: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (reductions none, sum and mean, class weights, ignore_index, the
// optional log-probability output), computed in float64; and BitCast,
// which reinterprets the little-endian bytes of a tensor as another type
// of the same width.

package runtime

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
)

func registerLoss(r *Registry) {
	r.Register("", "NegativeLogLikelihoodLoss", lossBuilder(false))
	r.Register("", "SoftmaxCrossEntropyLoss", lossBuilder(true))
	r.Register("", "BitCast", buildBitCast)
}

// lossBuilder makes NegativeLogLikelihoodLoss (input holds log
// probabilities) or, with softmax, SoftmaxCrossEntropyLoss (input holds
// scores, turned into log probabilities along axis 1 first).
func lossBuilder(softmax bool) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		red := n.AttrString("reduction", "mean")
		if red != "none" && red != "sum" && red != "mean" {
			return nil, fmt.Errorf("reduction must be none, sum or mean, got %q", red)
		}
		ignore, hasIgnore := int64(0), false
		if a := n.Attr("ignore_index"); a != nil {
			ignore, hasIgnore = a.Int, true
		}
		return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
			if err := dmNeedInputs(in, 2); err != nil {
				return nil, err
			}
			x, target, weight := in[0], in[1], dmInput(in, 2)
			for i, name := range []string{"input", "target", "weight"} {
				if t := dmInput(in, i); t != nil {
					if err := checkTensorData(t, name); err != nil {
						return nil, err
					}
				}
			}
			if !x.DType.IsFloat() {
				return nil, fmt.Errorf("input must be a float tensor, got %v", x.DType)
			}
			if len(x.Shape) < 2 {
				return nil, fmt.Errorf("input must have rank >= 2, got shape %v", x.Shape)
			}
			nb, c := x.Shape[0], x.Shape[1]
			want := append([]int{nb}, x.Shape[2:]...)
			if !equalShape(target.Shape, want) {
				return nil, fmt.Errorf("target of shape %v, want %v", target.Shape, want)
			}
			labels, err := dmInts(target, "target")
			if err != nil {
				return nil, err
			}
			var ws []float64
			if weight != nil {
				if len(weight.Shape) != 1 || weight.Shape[0] != c {
					return nil, fmt.Errorf("weight of shape %v, want [%d]", weight.Shape, c)
				}
				if ws, err = floatsOf64(weight); err != nil {
					return nil, err
				}
			}
			xs, err := floatsOf64(x)
			if err != nil {
				return nil, err
			}
			d := prodInts(x.Shape[2:])
			logp := xs
			if softmax {
				// Log-softmax along the class axis.
				logp = make([]float64, len(xs))
				row, res := make([]float64, c), make([]float64, c)
				for b := 0; b < nb; b++ {
					for p := 0; p < d; p++ {
						for k := 0; k < c; k++ {
							row[k] = xs[(b*c+k)*d+p]
						}
						logSoftmaxRow(res, row, c)
						for k := 0; k < c; k++ {
							logp[(b*c+k)*d+p] = res[k]
						}
					}
				}
			}
			loss := make([]float64, nb*d)
			var sum, wsum float64
			for b := 0; b < nb; b++ {
				for p := 0; p < d; p++ {
					i := b*d + p
					t := labels[i]
					if hasIgnore && t == ignore {
						continue
					}
					if t < 0 || t >= int64(c) {
						return nil, fmt.Errorf("target value %d is outside [0, %d)", t, c)
					}
					w := 1.0
					if ws != nil {
						w = ws[t]
					}
					loss[i] = -logp[(b*c+int(t))*d+p] * w
					sum += loss[i]
					wsum += w
				}
			}
			var out *Tensor
			switch red {
			case "none":
				out = ctx.Alloc(x.DType, want...)
				storeFloats64(out, loss)
			case "sum":
				out = ctx.Alloc(x.DType)
				storeFloats64(out, []float64{sum})
			default:
				out = ctx.Alloc(x.DType)
				storeFloats64(out, []float64{sum / wsum})
			}
			outs := []*Tensor{out}
			if softmax && wantOutput(ctx, 1) {
				lp := ctx.Alloc(x.DType, x.Shape...)
				storeFloats64(lp, logp)
				outs = append(outs, lp)
			}
			return outs, nil
		}), nil
	}
}

// buildBitCast reinterprets the input's bytes as type to.
func buildBitCast(n *graph.Node, opset int64) (Kernel, error) {
	a := n.Attr("to")
	if a == nil {
		return nil, fmt.Errorf("attribute to is required")
	}
	to := graph.DType(a.Int)
	if !to.Known() || to == graph.String || to.Bits() == 0 || makeSlice(to, 0) == nil {
		return nil, fmt.Errorf("cannot bit-cast to type %d", a.Int)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if err := checkTensorData(x, "input"); err != nil {
			return nil, err
		}
		if x.DType == graph.String || x.DType.Bits() != to.Bits() {
			return nil, fmt.Errorf("cannot bit-cast %v to %v: the widths differ", x.DType, to)
		}
		gt, err := ToGraph("", x)
		if err != nil {
			return nil, err
		}
		raw, err := gt.Raw()
		if err != nil {
			return nil, err
		}
		nt, err := graph.NewTensor("", to, gt.Dims, raw)
		if err != nil {
			return nil, err
		}
		out, err := FromGraph(nt)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}
