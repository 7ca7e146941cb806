package graph

import (
	"fmt"
	"slices"
)

// Extract returns an independent model that computes the values of m's
// main graph named outputs, as its outputs in that order, from m's graph
// inputs and from the values named inputs, which become graph inputs of
// the copy (of their type, under their own names) instead of being
// computed: only the nodes and initializers that computation needs are
// copied, so taking a few layers of a large model costs those layers, not
// the model (Clone copies every tensor). The copy keeps m's graph inputs,
// needed or not, so the feeds of m fit it. A name in both lists is
// computed.
func Extract(m *Model, outputs, inputs []string) (*Model, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("extract: no model")
	}
	g := m.Graph
	lookup := func(name string) (*Value, error) {
		v := g.Value(name)
		if v == nil || v.Graph != g {
			return nil, fmt.Errorf("extract: the main graph has no value %q", name)
		}
		return v, nil
	}
	var outs []*Value
	for _, name := range outputs {
		v, err := lookup(name)
		if err != nil {
			return nil, err
		}
		outs = append(outs, v)
	}
	cut := map[*Value]bool{}
	for _, name := range inputs {
		v, err := lookup(name)
		if err != nil {
			return nil, err
		}
		if v.Producer != nil && !slices.Contains(outputs, name) {
			cut[v] = true
		}
	}
	// Walk back from the outputs; a cut value stops the walk, and a node
	// holding subgraphs needs the main-graph values they read.
	needNode := map[*Node]bool{}
	needValue := map[*Value]bool{}
	stack := slices.Clone(outs)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v == nil || needValue[v] {
			continue
		}
		needValue[v] = true
		if cut[v] {
			continue
		}
		n := v.Producer
		if n == nil || needNode[n] {
			continue
		}
		needNode[n] = true
		stack = append(stack, n.Inputs...)
		for _, sg := range n.Subgraphs() {
			sg.Walk(func(inner *Graph) {
				for _, in := range inner.Nodes {
					for _, x := range in.Inputs {
						if x != nil && x.Graph == g {
							stack = append(stack, x)
						}
					}
				}
				for _, x := range inner.Outputs {
					if x != nil && x.Graph == g {
						stack = append(stack, x)
					}
				}
			})
		}
	}
	sub := &Graph{
		Name: g.Name, DocString: g.DocString, values: g.values, origin: g.origin,
		inputInfo: g.inputInfo, outputInfo: g.outputInfo, valueInfo: g.valueInfo,
		Outputs: outs,
	}
	for _, v := range g.Inputs {
		if v.Const == nil || needValue[v] {
			sub.Inputs = append(sub.Inputs, v)
		}
	}
	// the cut values in graph order, as inputs after m's own
	for _, n := range g.Nodes {
		if needNode[n] {
			sub.Nodes = append(sub.Nodes, n)
		}
		for _, v := range n.Outputs {
			if cut[v] && needValue[v] {
				sub.Inputs = append(sub.Inputs, v)
			}
		}
	}
	for _, v := range g.Initializers {
		if needValue[v] {
			sub.Initializers = append(sub.Initializers, v)
		}
	}
	for _, v := range g.ValueInfos {
		if needValue[v] && !cut[v] {
			sub.ValueInfos = append(sub.ValueInfos, v)
		}
	}
	view := *m
	view.Graph = sub
	data, err := Encode(&view)
	if err != nil {
		return nil, err
	}
	return Decode(data, m.Dir)
}
