package graph

import (
	"errors"
	"fmt"
	"strings"
)

// Builder assembles small models, mostly for tests. The first error is
// kept and reported by Model; later calls after an error do nothing
// useful but never panic.
//
//	b := graph.NewBuilder(17)
//	x := b.Input("x", graph.Float32, 1, 4)
//	w := b.Const(graph.FromFloat32s("w", []int64{4, 2}, weights))
//	y := b.Op("MatMul", x, w)
//	b.Output(y)
//	m, err := b.Model()
type Builder struct {
	g     *Graph
	opset int64
	err   error
	count map[string]int
}

// NewBuilder starts a model importing the default domain at opset.
func NewBuilder(opset int64) *Builder {
	return &Builder{g: NewGraph("main"), opset: opset, count: map[string]int{}}
}

// Graph returns the graph being built.
func (b *Builder) Graph() *Graph { return b.g }

func (b *Builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// Input declares a graph input; a negative size is an unknown dimension.
func (b *Builder) Input(name string, dt DType, dims ...int64) *Value {
	shape := make(Shape, len(dims))
	for i, d := range dims {
		shape[i] = Dim{Size: d}
		if d < 0 {
			shape[i] = Dim{Size: -1}
		}
	}
	v, err := b.g.AddInput(name, dt, shape)
	b.fail(err)
	return v
}

// Const adds an initializer.
func (b *Builder) Const(t *Tensor, err error) *Value {
	if err != nil {
		b.fail(err)
		return nil
	}
	if t == nil {
		b.fail(errors.New("builder: Const of a nil tensor"))
		return nil
	}
	v, err := b.g.AddInitializer(t)
	b.fail(err)
	return v
}

// Op adds a node with one output, named after the op, and returns it.
// Attributes may be passed among the inputs as *Attribute values.
func (b *Builder) Op(op string, args ...any) *Value {
	outs := b.OpN(op, 1, args...)
	if len(outs) == 0 {
		return nil
	}
	return outs[0]
}

// OpN adds a node with nOut outputs.
func (b *Builder) OpN(op string, nOut int, args ...any) []*Value {
	n := &Node{OpType: op}
	for _, a := range args {
		switch x := a.(type) {
		case *Value:
			n.Inputs = append(n.Inputs, x) // nil stands for an omitted input
		case *Attribute:
			if x == nil {
				b.fail(fmt.Errorf("builder: %s: nil attribute", op))
				return nil
			}
			n.Attrs = append(n.Attrs, x)
		case nil:
			n.Inputs = append(n.Inputs, nil)
		default:
			b.fail(fmt.Errorf("builder: %s argument of type %T", op, a))
			return nil
		}
	}
	if nOut < 0 {
		b.fail(fmt.Errorf("builder: %s with %d outputs", op, nOut))
	}
	if b.err != nil {
		return nil
	}
	b.count[op]++
	base := strings.ToLower(op) + fmt.Sprint(b.count[op])
	n.Name = b.g.UniqueName(base)
	names := make([]string, nOut)
	for i := range names {
		names[i] = b.g.UniqueName(fmt.Sprintf("%s_out%d", base, i))
	}
	if err := b.g.AddNode(n, names...); err != nil {
		b.fail(err)
		return nil
	}
	return n.Outputs
}

// Output marks values as graph outputs.
func (b *Builder) Output(vs ...*Value) {
	for _, v := range vs {
		if v == nil {
			b.fail(errors.New("builder: nil output"))
			return
		}
		b.g.AddOutput(v)
	}
}

// Model returns the model, with shapes inferred and checked with Verify,
// or the first error.
func (b *Builder) Model() (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := NewModel(b.g, b.opset)
	if err := InferShapes(m); err != nil {
		return nil, err
	}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	return m, nil
}
