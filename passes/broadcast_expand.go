// This file holds drop-broadcast-expand. An Expand whose output an
// elementwise op reads that broadcasts its operands anyway (Add, Mul,
// Where...) changes nothing there when the op's output shape is the same
// without it: that reader reads the Expand's input instead. A per-channel
// bias an exporter expanded to the whole feature map before an Add then
// stays [1,C,1,1], so fold-conv-add can fold it into the Conv before, and
// nothing of the size of a feature map is computed or stored. It needs
// shapes (after infer-shapes), runs before fold-constants (which bypasses
// more as its folding makes shapes known) and leaves an Expand no longer
// read for remove-dead-nodes.

package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// broadcastingOps broadcast all of their inputs to one output shape
// (multidirectional broadcasting).
var broadcastingOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Mod": true,
	"Max": true, "Min": true, "Sum": true, "Mean": true, "Where": true,
	"Equal": true, "Less": true, "LessOrEqual": true, "Greater": true, "GreaterOrEqual": true,
	"And": true, "Or": true, "Xor": true, "BitShift": true,
}

// DropBroadcastExpand returns the drop-broadcast-expand pass.
func DropBroadcastExpand() Pass {
	return Pass{
		Name: "drop-broadcast-expand",
		Doc:  "let an elementwise op that broadcasts read an Expand's input where the Expand does not change its output shape",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			dropped := bypassExpands(m)
			if dropped > 0 {
				ctx.Logf("drop-broadcast-expand: %d readers of an Expand read its input instead", dropped)
			}
			return dropped > 0, nil
		},
	}
}

// bypassExpands applies bypassExpand to every Expand of m and returns the
// readers it rewired.
func bypassExpands(m *graph.Model) int {
	dropped := 0
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range slices.Clone(g.Nodes) {
			if n.OpType != "Expand" || n.Domain != "" && n.Domain != "ai.onnx" || len(n.Outputs) != 1 {
				continue
			}
			dropped += bypassExpand(n, nil)
		}
	})
	return dropped
}

// bypassExpand rewires the readers of Expand node e that broadcast to the
// same output shape without it, and returns how many it rewired. yDims
// are the sizes of e's output when the caller knows them (fold-constants
// has just computed it); nil takes them from its inferred shape.
func bypassExpand(e *graph.Node, yDims []int64) int {
	x, y := e.Input(0), e.Outputs[0]
	if x == nil || y == nil || !x.Shape.Known() || x.DType != y.DType {
		return 0
	}
	if yDims == nil {
		if !y.Shape.Known() {
			return 0
		}
		yDims = y.Shape.Sizes()
	}
	rewired := 0
	for _, c := range slices.Clone(y.Consumers) {
		if !broadcastingOps[c.OpType] || c.Domain != "" && c.Domain != "ai.onnx" {
			continue
		}
		with, without := [][]int64{}, [][]int64{}
		known := true
		for _, in := range c.Inputs {
			switch {
			case in == nil:
			case in == y:
				with, without = append(with, yDims), append(without, x.Shape.Sizes())
			case in.Shape.Known():
				with, without = append(with, in.Shape.Sizes()), append(without, in.Shape.Sizes())
			default:
				known = false
			}
		}
		if !known {
			continue
		}
		a, ok1 := broadcastSizes(with...)
		b, ok2 := broadcastSizes(without...)
		if !ok1 || !ok2 || !slices.Equal(a, b) {
			continue
		}
		for i, in := range c.Inputs {
			if in == y {
				c.SetInput(i, x)
			}
		}
		rewired++
	}
	return rewired
}

// broadcastSizes returns the shape sizes of dims broadcast together
// (numpy rules, runtime.BroadcastShape), or false when they do not.
func broadcastSizes(dims ...[]int64) ([]int64, bool) {
	shapes := make([][]int, len(dims))
	for i, d := range dims {
		shapes[i] = make([]int, len(d))
		for j, x := range d {
			if x < 0 || int64(int(x)) != x {
				return nil, false
			}
			shapes[i][j] = int(x)
		}
	}
	b, err := runtime.BroadcastShape(shapes...)
	if err != nil {
		return nil, false
	}
	out := make([]int64, len(b))
	for i, x := range b {
		out[i] = int64(x)
	}
	return out, true
}
