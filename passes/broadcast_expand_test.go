package passes

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// An Add reading a per-channel bias expanded to the feature map reads the
// bias itself, so fold-conv-add folds it into the Conv; an Expand that
// makes the output larger than the other operand, or whose reader does not
// broadcast, stays.
func TestDropBroadcastExpand(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 8, 8)
	w := b.Const(graph.FromFloat32s("w", []int64{4, 4, 1, 1}, []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}))
	conv := b.Op("Conv", x, w)
	bias := b.Input("bias", graph.Float32, 1, 4, 1, 1)
	toMap := b.Const(graph.FromInt64s("to_map", []int64{4}, []int64{1, 4, 8, 8}))
	expanded := b.Op("Expand", bias, toMap)
	sum := b.Op("Add", conv, expanded)
	row := b.Input("row", graph.Float32, 1, 4, 1, 8)
	grows := b.Op("Mul", row, b.Op("Expand", bias, b.Const(graph.FromInt64s("to_big", []int64{4}, []int64{2, 4, 8, 8}))))
	moved := b.Op("Transpose", expanded, graph.IntsAttr("perm", 0, 1, 3, 2))
	b.Output(sum, grows, moved)
	m := build(t, b)
	runPasses(t, m, InferShapes())
	if !runPasses(t, m, DropBroadcastExpand()) {
		t.Fatal("no change reported")
	}
	if sum.Producer.Input(1) != bias {
		t.Errorf("the Add reads %s, want the bias itself", sum.Producer.Input(1).Name)
	}
	if grows.Producer.Input(1).Producer == nil || grows.Producer.Input(1).Producer.OpType != "Expand" {
		t.Error("an Expand that sets the output's batch of 2 was bypassed")
	}
	if moved.Producer.Input(0) != expanded {
		t.Error("a Transpose no longer reads the Expand")
	}
	if err := graph.InferShapes(m); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*graph.Value{sum, grows, moved} {
		if !v.Shape.Known() {
			t.Errorf("%s: shape %v", v.Name, v.Shape)
		}
	}
}

// Through the prepare pipeline, a constant per-channel bias an exporter
// expanded to the feature map folds into the Conv's bias: no Add and no
// map-sized constant are left.
func TestPrepareFoldsExpandedBias(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4, 16, 16)
	w := b.Const(graph.FromFloat32s("w", []int64{4, 4, 1, 1}, make([]float32, 16)))
	bias := b.Const(graph.FromFloat32s("bias", []int64{1, 4, 1, 1}, []float32{1, 2, 3, 4}))
	expanded := b.Op("Expand", bias, b.Const(graph.FromInt64s("to_map", []int64{4}, []int64{1, 4, 16, 16})))
	b.Output(b.Op("Relu", b.Op("Add", b.Op("Conv", x, w), expanded)))
	m := build(t, b)
	runPasses(t, m, PreparePasses()...)
	var ops []string
	for _, n := range m.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	if len(ops) != 2 || ops[0] != "Conv" || ops[1] != "Relu" {
		t.Fatalf("prepared graph %v, want [Conv Relu]", ops)
	}
	conv := m.Graph.Nodes[0]
	var got []float32
	if conv.Input(2) != nil {
		got = conv.Input(2).ConstFloat32s()
	}
	if len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Errorf("Conv bias %v, want [1 2 3 4]", got)
	}
	for _, v := range m.Graph.Initializers {
		if v.Const.NumElements() > 16 {
			t.Errorf("initializer %s holds %d values", v.Name, v.Const.NumElements())
		}
	}
}
