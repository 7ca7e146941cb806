package graph

import (
	"slices"
	"testing"
)

// Extract keeps the nodes and initializers the outputs need, reads a
// cut value as an input of its own name, keeps the model's inputs, and
// follows the outer values a subgraph reads.
func TestExtract(t *testing.T) {
	b := NewBuilder(17)
	x := b.Input("x", Float32, 2)
	cond := b.Input("cond", Bool)
	one := b.Const(FromFloat32s("one", []int64{2}, []float32{1, 1}))
	two := b.Const(FromFloat32s("two", []int64{2}, []float32{2, 2}))
	a := b.Op("Add", x, one)
	c := b.Op("Mul", a, two)
	d := b.Op("Neg", c)
	unused := b.Op("Relu", x)
	then, els := NewGraph("then"), NewGraph("else")
	then.Parent, els.Parent = b.Graph(), b.Graph()
	thenN := &Node{Name: "then_add", OpType: "Add", Inputs: []*Value{a, one}}
	if err := then.AddNode(thenN, "then_out"); err != nil {
		t.Fatal(err)
	}
	then.AddOutput(thenN.Outputs[0])
	els.AddOutput(a)
	iff := b.Op("If", cond, GraphAttr("then_branch", then), GraphAttr("else_branch", els))
	b.Output(d, unused, iff)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := Extract(m, []string{d.Name}, []string{a.Name})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range sub.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	var ins, inits []string
	for _, v := range sub.Graph.Inputs {
		ins = append(ins, v.Name)
	}
	for _, v := range sub.Graph.Initializers {
		inits = append(inits, v.Name)
	}
	if !slices.Equal(ops, []string{"Mul", "Neg"}) || !slices.Equal(ins, []string{"x", "cond", a.Name}) || !slices.Equal(inits, []string{"two"}) {
		t.Errorf("nodes %v, inputs %v, initializers %v", ops, ins, inits)
	}
	if len(sub.Graph.Outputs) != 1 || sub.Graph.Outputs[0].Name != d.Name {
		t.Errorf("outputs %v", sub.Graph.Outputs)
	}
	// The If reads a and one from inside its branches: both come along.
	sub, err = Extract(m, []string{iff.Name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops, inits = nil, nil
	for _, n := range sub.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	for _, v := range sub.Graph.Initializers {
		inits = append(inits, v.Name)
	}
	if !slices.Equal(ops, []string{"Add", "If"}) || !slices.Equal(inits, []string{"one"}) {
		t.Errorf("If: nodes %v, initializers %v", ops, inits)
	}
	if _, err := Extract(m, []string{"nowhere"}, nil); err == nil {
		t.Error("a missing output: no error")
	}
}
