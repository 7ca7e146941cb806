// This file holds matmul-add-to-gemm. A MatMul of a float32 activation A
// (rank 2 or more) and a constant float32 weight W [K, N], whose output
// only an Add of a constant bias of N values along the last axis reads,
// becomes one Gemm(A, W, bias): for rank 2 directly, above it between a
// Reshape of A to [-1, K] and a Reshape of the result back to the Add's
// output shape (constant when the shape is static, else taken from A's
// Shape at run time). The Gemm keeps the MatMul's node name, so node
// patterns still find it, and its output the Add's name (unless that is a
// graph output, which the last node keeps).
//
// Why: quantized, the bias then joins the unit as int32 at the scale
// s_A·s_W, where a MatMul unit needs its own 8-bit output step before a
// float Add; and ONNX Runtime runs the Gemm unit as QGemm, where it fuses
// MatMul and Add into a float Gemm before its QDQ fusion sees them.

package passes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// MatMulAddToGemm returns the matmul-add-to-gemm pass.
func MatMulAddToGemm() Pass {
	return Pass{
		Name: "matmul-add-to-gemm",
		Doc:  "turn a MatMul by a constant weight followed by an Add of a constant bias into one Gemm (reshaping above rank 2)",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			if mainOpset(m) < 7 { // Gemm's C broadcasts from opset 7
				return false, nil
			}
			rewritten := 0
			var err error
			m.Graph.Walk(func(g *graph.Graph) {
				shapes := &gemmShapes{flat: map[*graph.Value]*graph.Value{}, back: map[gemmBack]*graph.Value{}, ints: map[string]*graph.Value{}}
				for _, n := range slices.Clone(g.Nodes) {
					if err != nil || n.Graph != g || n.OpType != "MatMul" || (n.Domain != "" && n.Domain != "ai.onnx") {
						continue
					}
					var ok bool
					ok, err = matMulAddToGemm(m, g, n, shapes)
					if ok {
						rewritten++
					}
				}
			})
			if err != nil || rewritten == 0 {
				return false, err
			}
			ctx.Logf("matmul-add-to-gemm: %d MatMul and bias Add pairs made Gemm", rewritten)
			// the new values' types and shapes, for the passes after
			return true, graph.InferShapes(m)
		},
	}
}

// gemmShapes holds, per graph, the values the rewrites share: an input
// reshaped to [-1, K] for its MatMuls, the shape their results reshape
// back to when it is known at run time only, and the shape constants.
type gemmShapes struct {
	flat map[*graph.Value]*graph.Value
	back map[gemmBack]*graph.Value
	ints map[string]*graph.Value // shape constants by their values
}

type gemmBack struct {
	a *graph.Value
	n int64
}

// before tells whether v is a constant or made by a node ahead of node at
// in g, so at may read it.
func before(g *graph.Graph, v *graph.Value, at *graph.Node) bool {
	return v.Producer == nil || slices.Index(g.Nodes, v.Producer) < slices.Index(g.Nodes, at)
}

// biasAdd returns the Add that alone reads mm's output and the index of its
// constant operand when that operand holds n float32 values along the last
// axis only (shape [n], [1, n], [1, 1, n], ..., no higher rank than the
// output).
func biasAdd(m *graph.Model, g *graph.Graph, mm *graph.Node, n int64) (*graph.Node, int, bool) {
	out := mm.Outputs[0]
	if out == nil || len(out.Consumers) != 1 || isGraphOutput(g, out) {
		return nil, 0, false
	}
	add := out.Consumers[0]
	if add.OpType != "Add" || (add.Domain != "" && add.Domain != "ai.onnx") || len(add.Inputs) != 2 || add.Outputs[0] == nil {
		return nil, 0, false
	}
	bi := 1
	if add.Input(0) != out {
		bi = 0
	}
	if add.Input(1-bi) != out {
		return nil, 0, false // reads the MatMul twice
	}
	b := add.Input(bi)
	if !isConst(m, b) || b.Const.DType != graph.Float32 || len(b.Const.Dims) == 0 || len(b.Const.Dims) > len(out.Shape) {
		return nil, 0, false
	}
	dims := b.Const.Dims
	for _, d := range dims[:len(dims)-1] {
		if d != 1 {
			return nil, 0, false
		}
	}
	if dims[len(dims)-1] != n {
		return nil, 0, false
	}
	return add, bi, true
}

// matMulAddToGemm rewrites one MatMul and its bias Add into a Gemm, and
// tells whether it did.
func matMulAddToGemm(m *graph.Model, g *graph.Graph, mm *graph.Node, c *gemmShapes) (bool, error) {
	a, w := mm.Input(0), mm.Input(1)
	if len(mm.Inputs) != 2 || a == nil || a.DType != graph.Float32 || len(a.Shape) < 2 ||
		!isConst(m, w) || w.Const.DType != graph.Float32 || len(w.Const.Dims) != 2 {
		return false, nil
	}
	k, n := w.Const.Dims[0], w.Const.Dims[1]
	if last := a.Shape[len(a.Shape)-1]; last.Known() && last.Size != k {
		return false, nil
	}
	add, bi, ok := biasAdd(m, g, mm, n)
	if !ok {
		return false, nil
	}
	bias := add.Input(bi)
	if len(bias.Const.Dims) != 1 {
		data, err := bias.Const.Float32s()
		if err != nil {
			return false, err
		}
		t, err := graph.FromFloat32s(g.UniqueName(bias.Name+"_row"), []int64{n}, data)
		v, err := addTensor(g, t, err)
		if err != nil {
			return false, err
		}
		bias = v
	}
	// ints is a 1-D int64 constant, one per graph for each list of values
	ints := func(name string, v ...int64) (*graph.Value, error) {
		key := fmt.Sprint(v)
		if c, ok := c.ints[key]; ok {
			return c, nil
		}
		t, err := graph.FromInt64s(g.UniqueName(name), []int64{int64(len(v))}, v)
		cv, err := addTensor(g, t, err)
		c.ints[key] = cv
		return cv, err
	}
	// insert adds a node of one output right before node at.
	insert := func(at *graph.Node, op string, inputs ...*graph.Value) (*graph.Node, error) {
		// short names: exporters' node names can be long, and each value
		// name is written once more per reader
		name := g.UniqueName("gemm_" + strings.ToLower(op))
		node := &graph.Node{Name: name, OpType: op, Inputs: inputs}
		err := g.InsertNode(slices.Index(g.Nodes, at), node, name)
		return node, err
	}
	out := add.Outputs[0]
	gemmIn := a
	if len(a.Shape) > 2 {
		if f, ok := c.flat[a]; ok && before(g, f, mm) {
			gemmIn = f
		} else {
			shape, err := ints("gemm_rows", -1, k)
			if err != nil {
				return false, err
			}
			r, err := insert(mm, "Reshape", a, shape)
			if err != nil {
				return false, err
			}
			gemmIn = r.Outputs[0]
			c.flat[a] = gemmIn
		}
	}
	// The MatMul becomes the Gemm under its own node name. Its output takes
	// a new name: the FP32 model's value of the old one holds no bias.
	gemmOut := mm.Outputs[0]
	if err := g.Rename(gemmOut, g.UniqueName("gemm_out")); err != nil {
		return false, err
	}
	mm.OpType = "Gemm"
	mm.SetInput(0, gemmIn)
	mm.SetInput(2, bias)
	gemmOut.Shape = nil // inferred again below
	if len(a.Shape) == 2 {
		// the Gemm's output is the result, under the Add's name
		return true, replaceNodeBy(g, add, gemmOut)
	}
	// above rank 2 the Add becomes the Reshape back to its output's shape:
	// a constant when static, else A's leading dimensions then N
	var shape *graph.Value
	var err error
	if dims, ok := backShape(a.Shape, out.Shape, n); ok {
		shape, err = ints("gemm_shape", dims...)
	} else if v, ok := c.back[gemmBack{a, n}]; ok && before(g, v, add) {
		shape = v
	} else {
		var full, lead, cols *graph.Node
		var sv, ev, cv *graph.Value
		if full, err = insert(add, "Shape", a); err != nil {
			return false, err
		}
		if sv, err = ints("gemm_lead_start", 0); err != nil {
			return false, err
		}
		if ev, err = ints("gemm_lead_end", -1); err != nil {
			return false, err
		}
		if lead, err = insert(add, "Slice", full.Outputs[0], sv, ev); err != nil {
			return false, err
		}
		if cv, err = ints("gemm_cols", n); err != nil {
			return false, err
		}
		if cols, err = insert(add, "Concat", lead.Outputs[0], cv); err != nil {
			return false, err
		}
		cols.SetAttr(graph.IntAttr("axis", 0))
		shape = cols.Outputs[0]
		c.back[gemmBack{a, n}] = shape
	}
	if err != nil {
		return false, err
	}
	add.OpType = "Reshape"
	add.SetInput(0, gemmOut)
	add.SetInput(1, shape)
	if isGraphOutput(g, out) {
		return true, nil
	}
	// The Gemm's rows take the Add's name, the values FLOAT's tensor of
	// that name holds in the same order, so tools that match the two
	// models by name (compare) find the layer's output.
	name := out.Name
	if err := g.Rename(out, g.UniqueName("gemm_back")); err != nil {
		return false, err
	}
	return true, g.Rename(gemmOut, name)
}

// backShape is the constant shape that turns the Gemm's rows back into
// the Add's output: its known sizes, with -1 for at most one leading
// dimension known only at run time (from the output's shape, or else
// A's). ok is false when more than one is unknown.
func backShape(a, out graph.Shape, n int64) (dims []int64, ok bool) {
	src := out
	if len(src) != len(a) {
		src = a
	}
	unknown := 0
	for i, d := range src {
		switch {
		case i == len(src)-1:
			dims = append(dims, n)
		case d.Known():
			dims = append(dims, d.Size)
		case i < len(a) && a[i].Known():
			dims = append(dims, a[i].Size)
		default:
			unknown++
			dims = append(dims, -1)
		}
	}
	return dims, unknown <= 1
}

// addTensor adds t, made with error err, as an initializer of g.
func addTensor(g *graph.Graph, t *graph.Tensor, err error) (*graph.Value, error) {
	if err != nil {
		return nil, err
	}
	return g.AddInitializer(t)
}
