// This file holds the prepare pipeline: the list of passes that clean up an
// FP32 model before calibration, the ordering constraints between them, and
// the small graph-editing helpers they share.

package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// PreparePasses returns the prepare pipeline in order: initializers stop
// being graph inputs, Constant nodes become initializers, half-precision
// values become float32, ImageScaler nodes become a Mul and an Add, shapes
// are inferred (so Shape of static tensors
// can fold), an Expand a broadcasting reader does not need is bypassed,
// constant subexpressions are evaluated, a Pad's axes input is
// written into full pads, BatchNormalization folds
// into the preceding weighted op, and what no output needs is removed.
func PreparePasses() []Pass {
	return []Pass{
		InlineFunctions(),
		SortNodes(),
		UniqueNodeNames(),
		ContribOps(),
		InitializersNotInputs(),
		ConstantNodesToInitializers(),
		UpcastHalf(),
		ImageScalerToMulAdd(),
		InferShapes(),
		DropBroadcastExpand(),
		FoldConstants(),
		PadFullRank(),
		FoldConvAdd(),
		FoldBatchNorm(),
		MatMulAddToGemm(),
		FoldGemmScales(),
		RemoveDeadNodes(),
	}
}

// PrepareOrder lists the ordering constraints of the prepare passes:
// {before, after}. CheckOrder enforces them.
var PrepareOrder = [][2]string{
	// The nodes of inlined bodies are sorted with the rest.
	{"inline-functions", "sort-nodes"},
	// Fused ops inside function bodies are unfused too; the standard ops
	// they become are what shapes are inferred and constants folded with.
	{"inline-functions", "contrib-ops"},
	{"contrib-ops", "infer-shapes"},
	{"sort-nodes", "contrib-ops"},
	// Names the unfused ops derive from their node's are unique then.
	{"unique-node-names", "contrib-ops"},
	{"inline-functions", "unique-node-names"},
	// Every later pass walks the nodes in dependency order.
	{"sort-nodes", "initializers-not-inputs"},
	{"sort-nodes", "fold-constants"},
	// Every later pass treats only non-input initializers as constants.
	{"initializers-not-inputs", "fold-constants"},
	{"initializers-not-inputs", "fold-conv-add"},
	{"initializers-not-inputs", "fold-batchnorm"},
	{"initializers-not-inputs", "remove-dead-nodes"},
	// Folding sees Constant nodes only as initializers.
	{"constant-nodes-to-initializers", "fold-constants"},
	// Constants are converted as initializers, and the float32 types are
	// what shapes are inferred and constants folded with.
	{"constant-nodes-to-initializers", "upcast-half"},
	{"upcast-half", "infer-shapes"},
	{"upcast-half", "fold-constants"},
	// Its constants are float32, as the values it reads are by then.
	{"upcast-half", "image-scaler"},
	{"image-scaler", "infer-shapes"},
	// Shape folding needs inferred static shapes.
	{"infer-shapes", "fold-constants"},
	// A Pad's pads and axes are constants, and its input's rank known.
	{"fold-constants", "pad-full-rank"},
	{"infer-shapes", "pad-full-rank"},
	// BN parameters computed from constants must be initializers first.
	{"fold-constants", "fold-batchnorm"},
	{"fold-constants", "fold-conv-add"},
	// A conv, Add, BatchNormalization chain folds completely only when
	// the Add is in the bias first.
	{"fold-conv-add", "fold-batchnorm"},
	// Both leave unread initializers and nodes behind.
	{"fold-constants", "remove-dead-nodes"},
	{"fold-batchnorm", "remove-dead-nodes"},
	{"fold-conv-add", "remove-dead-nodes"},
	// The bias and weight must be initializers; it leaves a reshaped bias's
	// old constant unread.
	{"fold-constants", "matmul-add-to-gemm"},
	{"initializers-not-inputs", "matmul-add-to-gemm"},
	{"matmul-add-to-gemm", "remove-dead-nodes"},
	// Its B and C must be initializers, constants folded.
	{"fold-constants", "fold-gemm-scales"},
	{"initializers-not-inputs", "fold-gemm-scales"},
	{"constant-nodes-to-initializers", "remove-dead-nodes"},
}

// isConst reports whether v holds data a user cannot replace: an
// initializer that is not also a graph input. In models before IR version
// 4 every initializer is listed as an input, and there the listing means
// nothing.
func isConst(m *graph.Model, v *graph.Value) bool {
	if v == nil || v.Const == nil {
		return false
	}
	if m.IRVersion < 4 {
		return true
	}
	return !slices.Contains(v.Graph.Inputs, v)
}

// isGraphOutput reports whether v is an output of g.
func isGraphOutput(g *graph.Graph, v *graph.Value) bool {
	return slices.Contains(g.Outputs, v)
}

// replaceAllUses makes every reader of old in g read new: node inputs (in
// subgraphs too) and the outputs of g and of its subgraphs.
func replaceAllUses(g *graph.Graph, old, new *graph.Value) {
	g.ReplaceUses(old, new)
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			sg.Walk(func(inner *graph.Graph) {
				for i, out := range inner.Outputs {
					if out == old {
						inner.Outputs[i] = new
					}
				}
			})
		}
	}
}

// replaceNodeBy takes n out of g once x holds what its output y held:
// every reader of y reads x, and x takes y's name, so a name of the
// prepared model denotes the value it denotes in the original one (tools
// that match tensors by name, such as compare, rely on it).
func replaceNodeBy(g *graph.Graph, n *graph.Node, x *graph.Value) error {
	y := n.Outputs[0]
	replaceAllUses(g, y, x)
	if err := g.RemoveNode(n); err != nil {
		return fmt.Errorf("removing %s %q: %v", n.OpType, n.Name, err)
	}
	forgetValues(g, y)
	return g.Rename(x, y.Name)
}

// dropConsumer removes one occurrence of n from v's consumers.
func dropConsumer(v *graph.Value, n *graph.Node) {
	if i := slices.Index(v.Consumers, n); i >= 0 {
		v.Consumers = slices.Delete(v.Consumers, i, i+1)
	}
}

// nodeToConsts replaces node n of g by initializers: each output value
// keeps its identity and name (so readers and graph outputs need no
// rewiring) and receives the tensor at the same index.
func nodeToConsts(g *graph.Graph, n *graph.Node, ts []*graph.Tensor) {
	for _, in := range n.Inputs {
		if in != nil {
			dropConsumer(in, n)
		}
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(x *graph.Node) bool { return x == n })
	n.Graph = nil
	for i, v := range n.Outputs {
		if v == nil {
			continue
		}
		t := ts[i]
		t.Name = v.Name
		v.Producer = nil
		v.Const, v.DType, v.Shape = t, t.DType, graph.Fixed(t.Dims...)
		g.Initializers = append(g.Initializers, v)
	}
}

// mainOpset is the default-domain opset of m (1 when absent).
func mainOpset(m *graph.Model) int64 {
	if v, ok := m.Opset(""); ok {
		return v
	}
	return 1
}

// forgetValues drops the type declarations (value_info) of values that
// left g, so the saved file declares no value it lacks.
func forgetValues(g *graph.Graph, gone ...*graph.Value) {
	if len(gone) == 0 {
		return
	}
	g.ValueInfos = slices.DeleteFunc(g.ValueInfos, func(v *graph.Value) bool { return slices.Contains(gone, v) })
}
