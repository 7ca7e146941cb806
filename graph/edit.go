package graph

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/onnxq/onnxq/internal/onnxpb"
)

// NewGraph returns an empty graph with the given name.
func NewGraph(name string) *Graph {
	g := &Graph{Name: name}
	g.ensureMaps()
	return g
}

// NewModel returns a model around g importing the default ONNX domain at
// the given opset version, with the IR version that ONNX release introduced
// alongside it, so that older readers accept what they can.
func NewModel(g *Graph, opset int64) *Model {
	return &Model{
		IRVersion:    irVersionForOpset(opset),
		OpsetImports: []OpsetImport{{Domain: "", Version: opset}},
		ProducerName: "onnxq",
		Graph:        g,
	}
}

// LatestIRVersion is the newest IR version of the ONNX schema onnxq
// reads and writes; a model file claiming a later one is refused.
const LatestIRVersion = 13

// irVersionForOpset returns the IR version of the ONNX release that
// introduced the given default-domain opset.
func irVersionForOpset(opset int64) int64 {
	switch {
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	case opset <= 22:
		return 10
	case opset == 23:
		return 11
	case opset == 24:
		return 12
	}
	return LatestIRVersion
}

func (g *Graph) ensureMaps() {
	if g.values == nil {
		g.values = map[string]*Value{}
	}
	if g.inputInfo == nil {
		g.inputInfo = map[*Value]*onnxpb.ValueInfoProto{}
		g.outputInfo = map[*Value]*onnxpb.ValueInfoProto{}
		g.valueInfo = map[*Value]*onnxpb.ValueInfoProto{}
	}
}

// UniqueName returns base, or base with a numeric suffix, such that no
// value in g's scope has that name, nor any value of a subgraph below g
// (ONNX forbids a subgraph to shadow a name it sees).
func (g *Graph) UniqueName(base string) string {
	if base == "" {
		base = "v"
	}
	if !g.nameTaken(base) {
		return base
	}
	for i := 1; ; i++ {
		name := base + "_" + strconv.Itoa(i)
		if !g.nameTaken(name) {
			return name
		}
	}
}

// nameTaken tells whether name is a value of g's scope or of a subgraph
// below g.
func (g *Graph) nameTaken(name string) bool {
	return g.Value(name) != nil || g.definedBelow(name)
}

// definedBelow tells whether a subgraph of g's nodes, at any depth,
// defines name.
func (g *Graph) definedBelow(name string) bool {
	for _, n := range g.subgraphOwners() {
		for _, sg := range n.Subgraphs() {
			if sg.values[name] != nil || sg.definedBelow(name) {
				return true
			}
		}
	}
	return false
}

// subgraphOwners returns the nodes of g that hold subgraphs. Passes name
// thousands of new values in graphs of thousands of nodes, so the list is
// kept until an edit changes the nodes.
func (g *Graph) subgraphOwners() []*Node {
	if g.ownersStale || g.ownersLen != len(g.Nodes) {
		g.owners = g.owners[:0]
		for _, n := range g.Nodes {
			if len(n.Subgraphs()) > 0 {
				g.owners = append(g.owners, n)
			}
		}
		g.ownersLen, g.ownersStale = len(g.Nodes), false
	}
	return g.owners
}

// ownersEdited keeps the subgraph-owner cache in step with an edit that
// found before nodes in g: when the cache was current then, update brings
// its list up to date and it stays current (not rebuilt on the next
// name); otherwise it is marked stale.
func (g *Graph) ownersEdited(before int, update func()) {
	if g.ownersStale || g.ownersLen != before {
		g.ownersStale = true
		return
	}
	update()
	g.ownersLen = len(g.Nodes)
}

// UniqueNodeName returns base, or base with a numeric suffix, that no node
// of g is named: ONNX Runtime refuses a model with two nodes of one name.
func (g *Graph) UniqueNodeName(base string) string {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		used[n.Name] = true
	}
	name := base
	for i := 1; used[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	return name
}

func (g *Graph) define(name string) (*Value, error) {
	g.ensureMaps()
	if name == "" {
		return nil, fmt.Errorf("%s: a value needs a name", where(g))
	}
	if g.values[name] != nil {
		return nil, fmt.Errorf("%s: value %q already exists", where(g), name)
	}
	v := &Value{Name: name, Graph: g}
	g.values[name] = v
	return v, nil
}

// AddInput declares a new graph input.
func (g *Graph) AddInput(name string, dt DType, shape Shape) (*Value, error) {
	v, err := g.define(name)
	if err != nil {
		return nil, err
	}
	v.DType, v.Shape = dt, shape
	g.Inputs = append(g.Inputs, v)
	return v, nil
}

// AddInitializer adds a constant value named after the tensor.
func (g *Graph) AddInitializer(t *Tensor) (*Value, error) {
	if t == nil {
		return nil, fmt.Errorf("%s: AddInitializer needs a tensor", where(g))
	}
	v, err := g.define(t.Name)
	if err != nil {
		return nil, err
	}
	v.Const, v.DType, v.Shape = t, t.DType, Fixed(t.Dims...)
	g.Initializers = append(g.Initializers, v)
	return v, nil
}

// SetConst replaces the data of initializer v; its type and shape follow
// the new tensor, and the tensor takes v's name.
func (g *Graph) SetConst(v *Value, t *Tensor) error {
	if v == nil || t == nil {
		return fmt.Errorf("%s: SetConst needs a value and a tensor", where(g))
	}
	if v.Const == nil || v.Graph != g {
		return fmt.Errorf("%s: %q is not an initializer of this graph", where(g), v.Name)
	}
	t.Name = v.Name
	v.Const, v.DType, v.Shape = t, t.DType, Fixed(t.Dims...)
	return nil
}

// AddOutput marks v as a graph output; a nil v is ignored.
func (g *Graph) AddOutput(v *Value) {
	if v != nil {
		g.Outputs = append(g.Outputs, v)
	}
}

// AddNode appends n to the graph, creating its outputs with the given
// names and recording it as a consumer of its inputs. n.Inputs must be
// set; nil entries are omitted optional inputs, "" names omitted outputs.
func (g *Graph) AddNode(n *Node, outputNames ...string) error {
	return g.InsertNode(len(g.Nodes), n, outputNames...)
}

// InsertNode is AddNode at position pos of g.Nodes.
func (g *Graph) InsertNode(pos int, n *Node, outputNames ...string) error {
	if n == nil {
		return fmt.Errorf("%s: no node to add", where(g))
	}
	if pos < 0 || pos > len(g.Nodes) {
		return fmt.Errorf("%s: node position %d out of range", where(g), pos)
	}
	if n.Graph != nil {
		return fmt.Errorf("%s: node %s is already in a graph", where(g), nodeLabel(n))
	}
	for _, in := range n.Inputs {
		if in != nil && g.Value(in.Name) != in {
			return fmt.Errorf("%s: node %s reads %q, which is not in scope", where(g), nodeLabel(n), in.Name)
		}
	}
	seen := map[string]bool{}
	for _, name := range outputNames {
		if name != "" && (g.Value(name) != nil || seen[name]) {
			return fmt.Errorf("%s: value %q already exists", where(g), name)
		}
		seen[name] = true
	}
	n.Outputs = n.Outputs[:0]
	for _, name := range outputNames {
		if name == "" {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		v, _ := g.define(name)
		v.Producer = n
		n.Outputs = append(n.Outputs, v)
	}
	n.Graph = g
	for _, sg := range n.Subgraphs() {
		sg.Parent, sg.Owner = g, n
	}
	for _, in := range n.Inputs {
		if in != nil {
			in.Consumers = append(in.Consumers, n)
		}
	}
	g.Nodes = slices.Insert(g.Nodes, pos, n)
	g.ownersEdited(len(g.Nodes)-1, func() {
		if len(n.Subgraphs()) > 0 {
			g.owners = append(g.owners, n)
		}
	})
	return nil
}

// RemoveNodes takes the nodes of dead out of the graph at once, in one
// pass over its nodes: as with RemoveNode, their outputs may no longer be
// read, except by other nodes of dead.
func (g *Graph) RemoveNodes(dead map[*Node]bool) error {
	if len(dead) == 0 {
		return nil
	}
	outputs := map[*Value]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	for n := range dead {
		if n == nil {
			return fmt.Errorf("%s: no node to remove", where(g))
		}
		if n.Graph != g {
			return fmt.Errorf("%s: node %s is not in this graph", where(g), nodeLabel(n))
		}
		for _, out := range n.Outputs {
			if out == nil {
				continue
			}
			if outputs[out] {
				return fmt.Errorf("%s: output %q of node %s is still in use", where(g), out.Name, nodeLabel(n))
			}
			for _, c := range out.Consumers {
				if !dead[c] {
					return fmt.Errorf("%s: output %q of node %s is still in use", where(g), out.Name, nodeLabel(n))
				}
			}
		}
	}
	// the bookkeeping of each node does not depend on the order
	for n := range dead {
		for _, in := range n.Inputs {
			if in != nil {
				in.Consumers = slices.DeleteFunc(in.Consumers, func(c *Node) bool { return dead[c] })
			}
		}
		for _, out := range n.Outputs {
			if out != nil {
				delete(g.values, out.Name)
				out.Producer = nil
				out.Consumers = nil
			}
		}
		n.Graph = nil
	}
	before := len(g.Nodes)
	if len(dead) == 1 {
		// RemoveNode's case, in edits of thousands: no map lookup per node
		for n := range dead {
			i := slices.Index(g.Nodes, n)
			g.Nodes = slices.Delete(g.Nodes, i, i+1)
		}
	} else {
		g.Nodes = slices.DeleteFunc(g.Nodes, func(n *Node) bool { return dead[n] })
	}
	g.ownersEdited(before, func() {
		g.owners = slices.DeleteFunc(g.owners, func(n *Node) bool { return dead[n] })
	})
	return nil
}

// RemoveInitializers removes the initializers of dead at once (see
// RemoveInitializer: none may be read, or be a graph input or output).
func (g *Graph) RemoveInitializers(dead map[*Value]bool) error {
	if len(dead) == 0 {
		return nil
	}
	inits, listed := map[*Value]bool{}, map[*Value]bool{}
	for _, v := range g.Initializers {
		inits[v] = true
	}
	for _, v := range slices.Concat(g.Inputs, g.Outputs) {
		listed[v] = true
	}
	for v := range dead {
		if err := g.removableInitializer(v, inits[v], listed[v]); err != nil {
			return err
		}
	}
	g.Initializers = slices.DeleteFunc(g.Initializers, func(v *Value) bool { return dead[v] })
	g.ValueInfos = slices.DeleteFunc(g.ValueInfos, func(v *Value) bool { return dead[v] })
	for v := range dead {
		g.forgetInitializer(v)
	}
	return nil
}

// removableInitializer says why v, found among the initializers or not
// (isInit) and among the graph inputs and outputs or not (listed), cannot
// leave g; nil when it can.
func (g *Graph) removableInitializer(v *Value, isInit, listed bool) error {
	switch {
	case v == nil:
		return fmt.Errorf("%s: no initializer to remove", where(g))
	case !isInit:
		return fmt.Errorf("%s: %q is not an initializer of this graph", where(g), v.Name)
	case len(v.Consumers) > 0:
		return fmt.Errorf("%s: initializer %q is still read by node %s", where(g), v.Name, nodeLabel(v.Consumers[0]))
	case listed:
		return fmt.Errorf("%s: initializer %q is a graph input or output", where(g), v.Name)
	}
	return nil
}

// forgetInitializer drops a removed initializer from g's scope and value
// infos.
func (g *Graph) forgetInitializer(v *Value) {
	if g.values[v.Name] == v {
		delete(g.values, v.Name)
	}
	delete(g.valueInfo, v)
}

// RemoveNode takes n out of the graph. Its outputs must no longer be read
// (see ReplaceUses); they leave the graph's scope.
func (g *Graph) RemoveNode(n *Node) error {
	return g.RemoveNodes(map[*Node]bool{n: true})
}

// removeConsumer drops one occurrence of n from v's consumers.
func (v *Value) removeConsumer(n *Node) {
	if i := slices.Index(v.Consumers, n); i >= 0 {
		v.Consumers = slices.Delete(v.Consumers, i, i+1)
	}
}

// SetInput makes v the i-th input of n (nil omits it), growing the input
// list if needed.
func (n *Node) SetInput(i int, v *Value) {
	for len(n.Inputs) <= i {
		n.Inputs = append(n.Inputs, nil)
	}
	if old := n.Inputs[i]; old != nil {
		old.removeConsumer(n)
	}
	n.Inputs[i] = v
	if v != nil {
		v.Consumers = append(v.Consumers, n)
	}
}

// ReplaceUses makes every reader of old (node inputs in this graph and its
// subgraphs, and the graph outputs) read new instead.
func (g *Graph) ReplaceUses(old, new *Value) {
	if old == nil {
		return
	}
	for _, n := range slices.Clone(old.Consumers) {
		for i, in := range n.Inputs {
			if in == old {
				n.SetInput(i, new)
			}
		}
	}
	for i, out := range g.Outputs {
		if out == old {
			g.Outputs[i] = new
		}
	}
}

// Rename gives v, a value of g, a new name that is free in g's scope.
// Nodes and graph outputs hold v itself, so they follow; subgraphs that
// read v by name from an enclosing scope read it through those nodes too.
func (g *Graph) Rename(v *Value, name string) error {
	switch {
	case v == nil || v.Graph != g || g.values[v.Name] != v:
		return fmt.Errorf("%s: cannot rename a value that is not in this graph", where(g))
	case name == "":
		return fmt.Errorf("%s: a value needs a name", where(g))
	case name == v.Name:
		return nil
	case g.Value(name) != nil:
		return fmt.Errorf("%s: value %q already exists", where(g), name)
	case g.definedBelow(name):
		return fmt.Errorf("%s: a subgraph defines a value %q, which the new name would shadow", where(g), name)
	}
	delete(g.values, v.Name)
	v.Name = name
	g.values[name] = v
	return nil
}

// SetAttr adds the attribute to n, replacing one of the same name.
func (n *Node) SetAttr(a *Attribute) {
	if n.Graph != nil && (a.Graph != nil || len(a.Graphs) > 0 || len(n.Subgraphs()) > 0) {
		n.Graph.ownersStale = true
	}
	for i, old := range n.Attrs {
		if old.Name == a.Name {
			n.Attrs[i] = a
			return
		}
	}
	n.Attrs = append(n.Attrs, a)
}

// IntAttr returns an int attribute.
func IntAttr(name string, v int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInt, Int: v}
}

// FloatAttr returns a float attribute.
func FloatAttr(name string, v float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloat, Float: v}
}

// StringAttr returns a string attribute.
func StringAttr(name, v string) *Attribute {
	return &Attribute{Name: name, Type: AttrString, String: v}
}

// IntsAttr returns an ints attribute.
func IntsAttr(name string, v ...int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInts, Ints: v}
}

// FloatsAttr returns a floats attribute.
func FloatsAttr(name string, v ...float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloats, Floats: v}
}

// TensorAttr returns a tensor attribute.
func TensorAttr(name string, t *Tensor) *Attribute {
	return &Attribute{Name: name, Type: AttrTensor, Tensor: t}
}

// GraphAttr returns a graph attribute; the graph becomes a subgraph of the
// node the attribute is set on when that node is added.
func GraphAttr(name string, g *Graph) *Attribute {
	return &Attribute{Name: name, Type: AttrGraph, Graph: g}
}

// RemoveInitializer takes a constant value out of the graph: out of the
// initializer list, the value infos and the graph's scope, so its name
// can be used again. No node may still read it, and it may not be a graph
// input or output.
func (g *Graph) RemoveInitializer(v *Value) error {
	// one value, in edits of thousands: searches, no maps
	i := slices.Index(g.Initializers, v)
	listed := slices.Contains(g.Inputs, v) || slices.Contains(g.Outputs, v)
	if err := g.removableInitializer(v, i >= 0, listed); err != nil {
		return err
	}
	g.Initializers = slices.Delete(g.Initializers, i, i+1)
	g.ValueInfos = slices.DeleteFunc(g.ValueInfos, func(x *Value) bool { return x == v })
	g.forgetInitializer(v)
	return nil
}
