package passes

import "github.com/onnxq/onnxq/graph"

// maxScoreTrace bounds how many ops ScoreOutput walks back through.
const maxScoreTrace = 32

// ScoreOutput tells whether the last axis of value v of m holds class
// scores, so that its argmax is a decision worth counting (top-1
// agreement): v comes, through ops that keep that axis where it is
// (Identity, Cast, Q/DQ, Relu, Reshape and the like, a Transpose that
// leaves the last axis last, an Add or Mul of a constant), from a Softmax
// or LogSoftmax over the last axis, a Gemm or MatMul (a linear
// classifier's logits), or a Flatten, Reshape or Squeeze of a global
// pooling (channels made the last axis: SqueezeNet's head). A Conv's
// output moved channels-last (a detector's boxes or keypoints), a
// probability map, a recurrent state or an embedding is not: the argmax
// along its last axis picks a position or a coordinate, not a class.
// The caller checks the runtime shape (a last axis of 2 or more).
func ScoreOutput(m *graph.Model, v *graph.Value) bool {
	return ScoreOutputShaped(m, v, nil)
}

// ScoreOutputShaped is ScoreOutput with shapeOf, when not nil, giving the
// shape a value had at run time (nil when unknown): a Softmax whose axis
// is not the last one, or is for want of a known rank, is told apart
// where shape inference left the values without shapes.
func ScoreOutputShaped(m *graph.Model, v *graph.Value, shapeOf func(*graph.Value) []int) bool {
	if m == nil {
		return false
	}
	opset, _ := m.Opset("")
	rankOf := func(v *graph.Value) int {
		switch {
		case v == nil:
			return 0
		case v.Shape != nil:
			return len(v.Shape)
		case shapeOf != nil && shapeOf(v) != nil:
			return len(shapeOf(v))
		}
		return 0
	}
	// the rank seen last along the trace, carried through the ops that
	// keep it
	rank := rankOf(v)
	for range maxScoreTrace {
		if v == nil || v.Producer == nil {
			return false
		}
		if r := rankOf(v); r > 0 {
			rank = r
		}
		n := v.Producer
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return false
		}
		in := n.Input(0)
		switch n.OpType {
		case "Softmax", "LogSoftmax":
			return softmaxOverLast(n, max(rank, rankOf(in)), opset)
		case "Gemm", "MatMul":
			return true
		case "Identity", "Cast", "QuantizeLinear", "DequantizeLinear", "Relu", "Clip", "LeakyRelu", "Dropout":
			v = in
		case "Add", "Sub", "Mul", "Div":
			v, rank = variableOperand(n), 0 // a constant's broadcast may add axes
		case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
			if in != nil && in.Producer != nil && (in.Producer.OpType == "GlobalAveragePool" || in.Producer.OpType == "GlobalMaxPool") {
				return true
			}
			if last(in) > 0 && last(v) > 0 && last(in) != last(v) {
				return false // the last axis is not the one it was
			}
			v, rank = in, 0
		case "Transpose":
			perm := n.AttrInts("perm")
			if len(perm) == 0 || perm[len(perm)-1] != int64(len(perm)-1) {
				return false
			}
			v = in
		default:
			return false
		}
	}
	return false
}

// softmaxOverLast tells whether Softmax or LogSoftmax node n normalizes
// over the last axis of its output, of the given rank (0: unknown).
// Before opset 13 the axis (default 1) starts the flattened block
// normalized together, the last axis for a [batch, classes] input.
func softmaxOverLast(n *graph.Node, r int, opset int64) bool {
	def := int64(-1)
	if opset < 13 {
		def = 1
	}
	axis := n.AttrInt("axis", def)
	rank := int64(r)
	if rank == 0 {
		return axis == -1 || opset < 13 && axis == 1 // a classifier's usual form
	}
	if axis < 0 {
		axis += rank
	}
	return axis == rank-1
}

// variableOperand returns the one operand of a binary node that is not a
// constant (an initializer or a Constant node's output), nil when there
// is not exactly one.
func variableOperand(n *graph.Node) *graph.Value {
	var out *graph.Value
	for _, in := range n.Inputs {
		if in == nil {
			continue
		}
		if in.Const != nil || in.Producer != nil && in.Producer.OpType == "Constant" {
			continue
		}
		if out != nil {
			return nil
		}
		out = in
	}
	return out
}

// last returns the size of v's last axis, 0 when unknown.
func last(v *graph.Value) int64 {
	if v == nil || len(v.Shape) == 0 || v.Shape[len(v.Shape)-1].Size < 0 {
		return 0
	}
	return v.Shape[len(v.Shape)-1].Size
}
