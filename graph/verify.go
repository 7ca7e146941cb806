package graph

import (
	"fmt"
)

// Verify checks the model's structure: an operator set is imported for
// every node's domain; in every graph (subgraphs too) each value is
// defined once, every node input and graph output is defined in scope, the
// nodes form no cycle, the edge lists agree with the node lists, and
// nodes of known operators have an allowed number of inputs and outputs.
func (m *Model) Verify() error {
	if m == nil {
		return fmt.Errorf("no model")
	}
	if m.Graph == nil {
		return fmt.Errorf("model has no graph")
	}
	if len(m.OpsetImports) == 0 {
		return fmt.Errorf("model imports no operator set (opset_import is empty)")
	}
	functions := map[[2]string]bool{}
	for _, f := range m.Functions {
		functions[[2]string{canonicalDomain(f.Domain()), f.Name()}] = true
	}
	var err error
	m.Graph.Walk(func(g *Graph) {
		if err != nil {
			return
		}
		if err = verifyGraph(g); err != nil {
			return
		}
		for _, n := range g.Nodes {
			if functions[[2]string{canonicalDomain(n.Domain), n.OpType}] {
				continue
			}
			version, ok := m.Opset(n.Domain)
			if !ok {
				err = fmt.Errorf("%s: node %s uses domain %q, which the model does not import (missing opset import)", where(g), nodeLabel(n), n.Domain)
				return
			}
			if e := checkArity(n, version); e != nil {
				err = fmt.Errorf("%s: node %s: %v", where(g), nodeLabel(n), e)
				return
			}
			if e := checkAttrTypes(n, version); e != nil {
				err = fmt.Errorf("%s: node %s: %v", where(g), nodeLabel(n), e)
				return
			}
		}
	})
	return err
}

// Verify checks one graph (not its subgraphs); see Model.Verify.
func (g *Graph) Verify() error { return verifyGraph(g) }

func verifyGraph(g *Graph) error {
	defined := map[string]*Value{}
	define := func(v *Value, what string) error {
		if v == nil {
			return fmt.Errorf("%s: nil %s", where(g), what)
		}
		if prev := defined[v.Name]; prev != nil && prev != v {
			return fmt.Errorf("%s: value %q is defined twice", where(g), v.Name)
		}
		if v.Name == "" {
			return fmt.Errorf("%s: %s with an empty name", where(g), what)
		}
		defined[v.Name] = v
		return nil
	}
	for _, v := range g.Initializers {
		if v.Const == nil {
			return fmt.Errorf("%s: initializer %q has no data", where(g), v.Name)
		}
		if err := define(v, "initializer"); err != nil {
			return err
		}
	}
	for _, v := range g.Inputs {
		if err := define(v, "input"); err != nil {
			return err
		}
		if v.Producer != nil {
			return fmt.Errorf("%s: input %q is also produced by node %s", where(g), v.Name, nodeLabel(v.Producer))
		}
	}
	for name, v := range g.values {
		if v.Producer == nil && v.Const == nil && defined[name] == nil {
			defined[name] = v // sparse initializers
		}
	}
	producers := map[string]*Node{}
	for _, n := range g.Nodes {
		if n.Graph != g {
			return fmt.Errorf("%s: node %s belongs to another graph", where(g), nodeLabel(n))
		}
		for _, v := range n.Outputs {
			if v == nil {
				continue
			}
			if prev := producers[v.Name]; prev != nil {
				return fmt.Errorf("%s: value %q is produced by two nodes, %s and %s", where(g), v.Name, nodeLabel(prev), nodeLabel(n))
			}
			if d := defined[v.Name]; d != nil && d.Producer == nil {
				return fmt.Errorf("%s: node %s outputs %q, which is already a graph input or initializer", where(g), nodeLabel(n), v.Name)
			}
			if v.Producer != n {
				return fmt.Errorf("%s: value %q does not record node %s as its producer", where(g), v.Name, nodeLabel(n))
			}
			producers[v.Name] = n
			defined[v.Name] = v
		}
	}
	lookup := func(name string) *Value {
		if v := defined[name]; v != nil {
			return v
		}
		if g.Parent != nil {
			return g.Parent.Value(name)
		}
		return nil
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v == nil {
				continue
			}
			if lookup(v.Name) != v {
				return fmt.Errorf("%s: node %s reads %q, which no node, input or initializer defines", where(g), nodeLabel(n), v.Name)
			}
		}
	}
	listed := map[string]bool{}
	for _, v := range g.Outputs {
		if v != nil && listed[v.Name] {
			return fmt.Errorf("%s: output %q is listed twice", where(g), v.Name)
		}
		if v != nil {
			listed[v.Name] = true
		}
		if v == nil || lookup(v.Name) != v {
			name := "<nil>"
			if v != nil {
				name = v.Name
			}
			return fmt.Errorf("%s: output %q is not produced by any node, input or initializer", where(g), name)
		}
	}
	if cyc := findCycle(g); cyc != nil {
		return fmt.Errorf("%s: nodes form a cycle through %s", where(g), nodeLabel(cyc))
	}
	return nil
}

// findCycle returns a node on a cycle of g's data edges (counting the
// outer values read inside subgraphs as inputs of the owning node), or nil.
func findCycle(g *Graph) *Node {
	_, stuck := topoOrder(g)
	if len(stuck) > 0 {
		return stuck[0]
	}
	return nil
}

// topoOrder returns g's nodes in a topological order that keeps the
// existing order where it can, and the nodes left over on cycles.
func topoOrder(g *Graph) (order, stuck []*Node) {
	index := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		index[n] = i
	}
	deps := make([][]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	pending := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[int]bool{}
		for _, v := range nodeReads(n) {
			if v.Producer == nil {
				continue
			}
			j, ok := index[v.Producer]
			if !ok || seen[j] {
				continue
			}
			seen[j] = true
			deps[i] = append(deps[i], j)
			users[j] = append(users[j], i)
			pending[i]++
		}
	}
	// A queue in node order: ready nodes are taken lowest index first.
	var ready minHeap
	for i := range g.Nodes {
		if pending[i] == 0 {
			ready.push(i)
		}
	}
	for ready.len() > 0 {
		i := ready.pop()
		order = append(order, g.Nodes[i])
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				ready.push(u)
			}
		}
	}
	for i, n := range g.Nodes {
		if pending[i] > 0 {
			stuck = append(stuck, n)
		}
	}
	return order, stuck
}

// nodeReads lists the values a node reads: its inputs and, for nodes with
// subgraphs, the values of this graph that the subgraphs read.
func nodeReads(n *Node) []*Value {
	var vs []*Value
	for _, v := range n.Inputs {
		if v != nil {
			vs = append(vs, v)
		}
	}
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(inner *Graph) {
			for _, in := range inner.Nodes {
				for _, v := range in.Inputs {
					if v != nil && v.Graph == n.Graph {
						vs = append(vs, v)
					}
				}
			}
			for _, v := range inner.Outputs {
				if v != nil && v.Graph == n.Graph {
					vs = append(vs, v)
				}
			}
		})
	}
	return vs
}

// IsTopological reports whether every node comes after the producers of
// the values it reads.
func (g *Graph) IsTopological() bool {
	pos := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		pos[n] = i
	}
	for i, n := range g.Nodes {
		for _, v := range nodeReads(n) {
			if j, ok := pos[v.Producer]; ok && v.Producer != nil && j >= i {
				return false
			}
		}
	}
	return true
}

// SortTopologically reorders g.Nodes so every node follows the producers
// of its inputs, moving as few nodes as a stable order allows. It fails on
// a cycle.
func (g *Graph) SortTopologically() error {
	order, stuck := topoOrder(g)
	if len(stuck) > 0 {
		return fmt.Errorf("%s: nodes form a cycle through %s", where(g), nodeLabel(stuck[0]))
	}
	g.Nodes = order
	return nil
}

type minHeap []int

func (h *minHeap) len() int { return len(*h) }

func (h *minHeap) push(x int) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[m], a[i] = a[i], a[m]
		i = m
	}
	*h = a
	return top
}
