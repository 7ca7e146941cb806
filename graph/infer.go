package graph

import (
	"errors"
	"fmt"
	"sort"
)

// InferShapes fills in DType and Shape of the values of every graph of the
// model that it can work out from the inputs, initializers and constant
// operands. It never removes information: a dimension already known stays.
// Values it cannot infer are left as they are.
func InferShapes(m *Model) error {
	if m == nil || m.Graph == nil {
		return nil
	}
	in := &inferer{m: m, vals: map[*Value]*cval{}}
	in.opset, _ = m.Opset("")
	in.graph(m.Graph)
	return in.err
}

// InferNodes is InferShapes for the given nodes alone, read at the
// default domain's opset, in the order given (each after the nodes whose
// outputs it reads): for a pass that inserts a few nodes into a graph
// whose other values are known.
func InferNodes(opset int64, nodes ...*Node) error {
	in := &inferer{opset: opset, vals: map[*Value]*cval{}}
	for _, n := range nodes {
		if n == nil {
			return errors.New("infer: a nil node")
		}
		in.safeNode(n)
	}
	return in.err
}

// FixInputShapes gives graph inputs concrete shapes, e.g. the batch and
// image sizes a caller will feed, so inference can resolve the rest. Each
// name must be a real (non-initializer) input; a shape must agree with the
// declared one in rank and in every dimension the file fixes.
func FixInputShapes(g *Graph, shapes map[string][]int64) error {
	if g == nil {
		return errors.New("no graph")
	}
	names := make([]string, 0, len(shapes))
	for name := range shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	byName := map[string]*Value{}
	for _, v := range g.RealInputs() {
		byName[v.Name] = v
	}
	for _, name := range names {
		v := byName[name]
		if v == nil {
			return fmt.Errorf("%s: no input %q to fix the shape of", where(g), name)
		}
		dims := shapes[name]
		for _, d := range dims {
			if d < 0 {
				return fmt.Errorf("input %q: negative size in %v", name, dims)
			}
		}
		if v.Shape != nil {
			if len(v.Shape) != len(dims) {
				return fmt.Errorf("input %q is declared %s, not of rank %d", name, typeString(v.DType, v.Shape), len(dims))
			}
			for i, d := range v.Shape {
				if d.Known() && d.Size != dims[i] {
					return fmt.Errorf("input %q is declared %s, which does not fit %v", name, typeString(v.DType, v.Shape), dims)
				}
			}
		}
		v.Shape = Fixed(dims...)
	}
	return nil
}

// inferer carries the folded values of one InferShapes run; values of
// enclosing graphs stay visible while a subgraph is inferred.
type inferer struct {
	m     *Model
	opset int64
	vals  map[*Value]*cval
	err   error // the first internal failure, reported after the run
}

func (in *inferer) graph(g *Graph) {
	order, stuck := topoOrder(g)
	for _, n := range append(order, stuck...) {
		in.safeNode(n)
	}
}

// safeNode infers one node. A failure of the inference code itself is
// reported as an error naming the node rather than a crash, and the
// remaining nodes are still inferred.
func (in *inferer) safeNode(n *Node) {
	defer func() {
		if r := recover(); r != nil && in.err == nil {
			in.err = fmt.Errorf("%s: shape inference of node %s failed: %v", where(n.Graph), nodeLabel(n), r)
		}
	}()
	in.node(n)
}

func (in *inferer) node(n *Node) {
	if n.Domain == "com.microsoft" && (n.OpType == "QuantizeLinear" || n.OpType == "DequantizeLinear") {
		// ONNX Runtime's twins of the default domain's ops (16-bit
		// before opset 21): their types and shapes follow the same rules
		c := &ictx{in: in, n: n, ver: max(in.opset, 21)}
		c.infer()
		return
	}
	if canonicalDomain(n.Domain) != "" {
		// Other domains' subgraphs still get their own nodes inferred.
		for _, sg := range n.Subgraphs() {
			in.graph(sg)
		}
		return
	}
	switch n.OpType {
	case "If":
		in.inferIf(n)
		return
	case "Loop":
		in.inferLoop(n)
		return
	case "Scan":
		in.inferScan(n)
		return
	}
	for _, sg := range n.Subgraphs() {
		in.graph(sg)
	}
	c := &ictx{in: in, n: n, ver: in.opset}
	c.infer()
}

// cv returns the folded value of v, reading initializers on first use.
func (in *inferer) cv(v *Value) *cval {
	if v == nil {
		return nil
	}
	if c, ok := in.vals[v]; ok {
		return c
	}
	var c *cval
	if v.Const != nil {
		c = tensorCval(v.Const)
	}
	in.vals[v] = c
	return c
}

// set records what was inferred for v, keeping what is already known:
// a known dimension is never replaced and a conflicting rank is ignored.
func (in *inferer) set(v *Value, dt DType, s Shape) {
	if v == nil || v.Const != nil {
		return
	}
	if v.DType == Undefined && dt != Undefined {
		v.DType = dt
	}
	if merged, changed := mergeShape(v.Shape, s); changed {
		v.Shape = merged
	}
}

// setVal records a folded value along with its type and shape.
func (in *inferer) setVal(v *Value, c *cval) {
	if v == nil || c == nil {
		return
	}
	in.vals[v] = c
	in.set(v, c.dt, Fixed(c.dims...))
}

// mergeShape combines what is known (old) with what was inferred (new).
// Where both fix a size and they differ, or new is of another rank and
// fully known, the inferred one wins: the file's value_info can be stale
// (an exporter's, from before an edit), and the ops compute what
// inference does. It returns a fresh slice when anything changes, never
// editing old.
func mergeShape(old, new Shape) (Shape, bool) {
	if new == nil {
		return old, false
	}
	if old == nil {
		return append(Shape{}, new...), true
	}
	if len(old) != len(new) {
		if new.Known() {
			return append(Shape{}, new...), true
		}
		return old, false
	}
	var out Shape
	for i, d := range old {
		e := new[i]
		conflict := d.Known() && e.Known() && d.Size != e.Size
		if !conflict && (d.Known() || !e.Known() && (d.Param != "" || e.Param == "")) {
			continue
		}
		if out == nil {
			out = append(Shape{}, old...)
		}
		out[i] = e
	}
	if out == nil {
		return old, false
	}
	return out, true
}

// joinShapes is what two possible shapes of one value have in common
// (the branches of an If): nil when the ranks differ.
func joinShapes(a, b Shape) Shape {
	if a == nil || b == nil || len(a) != len(b) {
		return nil
	}
	out := make(Shape, len(a))
	for i := range a {
		switch {
		case a[i] == b[i]:
			out[i] = a[i]
		default:
			out[i] = Dim{Size: -1}
		}
	}
	return out
}

// inferIf infers both branches; with a condition known by folding, the
// outputs are the taken branch's, else what both branches agree on.
func (in *inferer) inferIf(n *Node) {
	thenG, elseG := attrGraph(n, "then_branch"), attrGraph(n, "else_branch")
	for _, sg := range n.Subgraphs() {
		in.graph(sg)
	}
	if thenG == nil || elseG == nil {
		return
	}
	if cond, ok := in.cv(n.Input(0)).scalarInt(); ok {
		taken := elseG
		if cond != 0 {
			taken = thenG
		}
		for i, out := range n.Outputs {
			if i < len(taken.Outputs) {
				src := taken.Outputs[i]
				in.set(out, src.DType, src.Shape)
				if c := in.cv(src); c != nil {
					in.vals[out] = c
				}
			}
		}
		return
	}
	for i, out := range n.Outputs {
		if i >= len(thenG.Outputs) || i >= len(elseG.Outputs) {
			continue
		}
		a, b := thenG.Outputs[i], elseG.Outputs[i]
		dt := a.DType
		if dt == Undefined {
			dt = b.DType
		} else if b.DType != Undefined && b.DType != dt {
			dt = Undefined
		}
		in.set(out, dt, joinShapes(a.Shape, b.Shape))
	}
}

// inferLoop types the body's inputs from the loop's operands, infers the
// body, and types the loop outputs: loop-carried values keep their type
// (their shape when the body keeps it), scan outputs gain a leading
// iteration dimension.
func (in *inferer) inferLoop(n *Node) {
	body := attrGraph(n, "body")
	if body == nil {
		for _, sg := range n.Subgraphs() {
			in.graph(sg)
		}
		return
	}
	carried := len(n.Inputs) - 2
	if carried < 0 || len(body.Inputs) != carried+2 {
		in.graph(body)
		return
	}
	in.set(body.Inputs[0], Int64, Shape{})
	in.set(body.Inputs[1], Bool, Shape{})
	for i := 0; i < carried; i++ {
		if src := n.Inputs[2+i]; src != nil {
			in.set(body.Inputs[2+i], src.DType, nil)
		}
	}
	for _, sg := range n.Subgraphs() {
		in.graph(sg)
	}
	for i, out := range n.Outputs {
		if 1+i >= len(body.Outputs) {
			break
		}
		b := body.Outputs[1+i]
		if i < carried {
			// The shape may change between iterations: keep what the
			// initial value and the body's result agree on.
			var s Shape
			if src := n.Inputs[2+i]; src != nil {
				s = joinShapes(src.Shape, b.Shape)
			}
			in.set(out, b.DType, s)
			continue
		}
		var s Shape
		if b.Shape != nil {
			s = append(Shape{{Size: -1}}, b.Shape...)
		}
		in.set(out, b.DType, s)
	}
}

// inferScan types Scan outputs: states like the body's, scan outputs with
// the scanned dimension inserted. Scan 8 also has a leading batch
// dimension on every operand and result, and a sequence_lens input.
func (in *inferer) inferScan(n *Node) {
	for _, sg := range n.Subgraphs() {
		in.graph(sg)
	}
	body := attrGraph(n, "body")
	nScanIn := int(n.AttrInt("num_scan_inputs", 0))
	if body == nil || nScanIn <= 0 || len(body.Outputs) != len(n.Outputs) {
		return
	}
	first := 0 // first state input
	if in.opset < 9 {
		first = 1
	}
	states := len(n.Inputs) - first - nScanIn
	if states < 0 {
		return
	}
	// The number of iterations is the scanned length of the first scan input.
	iters, batch := Dim{Size: -1}, Shape(nil)
	if x := n.Input(first + states); x != nil && x.Shape != nil {
		axis := int64(0)
		if axes := n.AttrInts("scan_input_axes"); len(axes) > 0 {
			axis = axes[0]
		}
		if in.opset < 9 {
			axis = 1
			batch = x.Shape[:1]
		}
		if a, ok := normAxis(axis, len(x.Shape)); ok {
			iters = x.Shape[a]
		}
	}
	if in.opset < 9 && batch == nil {
		return
	}
	outAxes := n.AttrInts("scan_output_axes")
	for i, out := range n.Outputs {
		b := body.Outputs[i]
		if b.Shape == nil {
			in.set(out, b.DType, nil)
			continue
		}
		if i < states {
			in.set(out, b.DType, append(append(Shape{}, batch...), b.Shape...))
			continue
		}
		axis := int64(0)
		if k := i - states; k < len(outAxes) {
			axis = outAxes[k]
		}
		a, ok := normAxis(axis, len(b.Shape)+1)
		if !ok {
			continue
		}
		s := append(append(Shape{}, batch...), b.Shape[:a]...)
		s = append(s, iters)
		in.set(out, b.DType, append(s, b.Shape[a:]...))
	}
}

func attrGraph(n *Node, name string) *Graph {
	if a := n.Attr(name); a != nil {
		return a.Graph
	}
	return nil
}

// normAxis turns a possibly negative axis into an index below rank.
func normAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, false
	}
	return int(axis), true
}
