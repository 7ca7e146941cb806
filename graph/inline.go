package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// maxInlineDepth bounds how deep function calls may nest (a function
// calling itself would never end).
const maxInlineDepth = 16

// InlineFunctions replaces every call of one of m's model-local functions
// (in the main graph and in subgraphs) by the nodes of its body: the
// formal inputs and outputs become the call's values, the body's own
// values and nodes get names of their own, and attributes the body takes
// from the caller (ref_attr_name) get the call's values or the function's
// defaults. Functions the body calls are inlined in turn. The functions
// are then dropped from m, and the opsets their bodies import join m's.
// It returns how many calls it inlined; a function importing another
// version of an opset than the model's is an error.
func InlineFunctions(m *Model) (int, error) {
	if m == nil || m.Graph == nil || len(m.Functions) == 0 {
		return 0, nil
	}
	p, err := m.toProto(nil)
	if err != nil {
		return 0, err
	}
	in := &inliner{funcs: map[[3]string]*onnxpb.FunctionProto{}}
	names := map[string]bool{}
	collectNames(p.GetGraph(), names)
	for _, f := range p.GetFunctions() {
		in.funcs[[3]string{f.GetDomain(), f.GetName(), f.GetOverload()}] = f
		names[PlainName(f.GetName())] = true
		for _, s := range append(slices.Clone(f.GetInput()), f.GetOutput()...) {
			names[s] = true
		}
		collectNodeNames(f.GetNode(), names)
	}
	in.marker = uniqueMarker(names)
	for depth := 0; ; depth++ {
		before := in.count
		if err := in.graph(p.GetGraph()); err != nil {
			return 0, err
		}
		if in.count == before {
			break
		}
		if depth == maxInlineDepth {
			return 0, fmt.Errorf("model-local functions call each other more than %d deep", maxInlineDepth)
		}
	}
	if in.count == 0 {
		return 0, nil
	}
	for _, f := range p.GetFunctions() {
		for _, op := range f.GetOpsetImport() {
			if err := mergeOpset(p, op); err != nil {
				return 0, fmt.Errorf("function %s: %v", PlainName(f.GetName()), err)
			}
		}
	}
	p.Functions = nil
	c, err := fromProtoOf(m, p)
	if err != nil {
		return 0, err
	}
	*m = *c
	return in.count, nil
}

// mergeOpset adds op to p's opset imports, or checks that p imports the
// same version of its domain.
func mergeOpset(p *onnxpb.ModelProto, op *onnxpb.OperatorSetIdProto) error {
	for _, have := range p.GetOpsetImport() {
		if have.GetDomain() == op.GetDomain() {
			if have.GetVersion() != op.GetVersion() {
				return fmt.Errorf("its body imports opset %d of domain %q, the model %d", op.GetVersion(), PlainName(op.GetDomain()), have.GetVersion())
			}
			return nil
		}
	}
	p.OpsetImport = append(p.OpsetImport, proto.Clone(op).(*onnxpb.OperatorSetIdProto))
	return nil
}

// inliner rewrites calls of the functions it knows.
type inliner struct {
	funcs map[[3]string]*onnxpb.FunctionProto
	// marker is in no name of the model or its functions: the names a
	// call's body gets, function name + marker + call number + "_" + body
	// name, are then new and differ between calls.
	marker string
	count  int
}

// uniqueMarker returns "_inl" followed by the smallest number (none
// first) that makes it a substring of no name in names.
func uniqueMarker(names map[string]bool) string {
	for k := 0; ; k++ {
		m := "_inl"
		if k > 0 {
			m += strconv.Itoa(k)
		}
		clash := false
		for name := range names {
			if strings.Contains(name, m) {
				clash = true
				break
			}
		}
		if !clash {
			return m
		}
	}
}

// graph inlines the calls among g's nodes, and in their subgraphs.
func (in *inliner) graph(g *onnxpb.GraphProto) error {
	var nodes []*onnxpb.NodeProto
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			for _, sub := range append([]*onnxpb.GraphProto{a.GetG()}, a.GetGraphs()...) {
				if sub != nil {
					if err := in.graph(sub); err != nil {
						return err
					}
				}
			}
		}
		f := in.funcs[[3]string{n.GetDomain(), n.GetOpType(), n.GetOverload()}]
		if f == nil {
			nodes = append(nodes, n)
			continue
		}
		body, err := in.expand(n, f)
		if err != nil {
			return err
		}
		nodes = append(nodes, body...)
	}
	g.Node = nodes
	return nil
}

// expand returns the nodes of f's body for the call n.
func (in *inliner) expand(n *onnxpb.NodeProto, f *onnxpb.FunctionProto) ([]*onnxpb.NodeProto, error) {
	in.count++
	prefix := fmt.Sprintf("%s%s%d_", PlainName(f.GetName()), in.marker, in.count)
	rename := map[string]string{}
	for i, formal := range f.GetInput() {
		actual := ""
		if i < len(n.GetInput()) {
			actual = n.GetInput()[i]
		}
		rename[formal] = actual
	}
	for i, formal := range f.GetOutput() {
		if i < len(n.GetOutput()) && n.GetOutput()[i] != "" {
			rename[formal] = n.GetOutput()[i]
		}
	}
	name := func(s string) string {
		if s == "" {
			return ""
		}
		if r, ok := rename[s]; ok {
			return r
		}
		r := prefix + s
		rename[s] = r
		return r
	}
	callAttrs := map[string]*onnxpb.AttributeProto{}
	for _, a := range n.GetAttribute() {
		callAttrs[a.GetName()] = a
	}
	defaults := map[string]*onnxpb.AttributeProto{}
	for _, a := range f.GetAttributeProto() {
		defaults[a.GetName()] = a
	}
	var out []*onnxpb.NodeProto
	for i, bn := range f.GetNode() {
		c := proto.Clone(bn).(*onnxpb.NodeProto)
		label := c.GetName()
		if label == "" {
			label = fmt.Sprint(i)
		}
		c.Name = proto.String(prefix + label)
		if err := renameNode(c, name, callAttrs, defaults); err != nil {
			return nil, fmt.Errorf("function %s called by node %q: %v", PlainName(f.GetName()), n.GetName(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

// renameNode renames n's values (and those of its subgraphs) with name
// and resolves its attributes that refer to the caller's.
func renameNode(n *onnxpb.NodeProto, name func(string) string, call, defaults map[string]*onnxpb.AttributeProto) error {
	for i, s := range n.Input {
		n.Input[i] = name(s)
	}
	for i, s := range n.Output {
		n.Output[i] = name(s)
	}
	var attrs []*onnxpb.AttributeProto
	for _, a := range n.GetAttribute() {
		if ref := a.GetRefAttrName(); ref != "" {
			v := call[ref]
			if v == nil {
				v = defaults[ref]
			}
			if v == nil {
				continue // not given: the op's own default applies
			}
			r := proto.Clone(v).(*onnxpb.AttributeProto)
			r.Name = proto.String(a.GetName())
			r.RefAttrName = nil
			a = r
		}
		for _, sub := range append([]*onnxpb.GraphProto{a.GetG()}, a.GetGraphs()...) {
			if sub != nil {
				if err := renameGraph(sub, name, call, defaults); err != nil {
					return err
				}
			}
		}
		attrs = append(attrs, a)
	}
	n.Attribute = attrs
	return nil
}

// renameGraph renames every value of the subgraph g of a function body.
func renameGraph(g *onnxpb.GraphProto, name func(string) string, call, defaults map[string]*onnxpb.AttributeProto) error {
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...), g.GetValueInfo()...) {
		vi.Name = proto.String(name(vi.GetName()))
	}
	for _, t := range g.GetInitializer() {
		t.Name = proto.String(name(t.GetName()))
	}
	for _, n := range g.GetNode() {
		if n.Name != nil {
			n.Name = proto.String(name(n.GetName()))
		}
		if err := renameNode(n, name, call, defaults); err != nil {
			return err
		}
	}
	return nil
}

// collectNames adds every value and node name of g and its subgraphs.
func collectNames(g *onnxpb.GraphProto, used map[string]bool) {
	for _, vi := range g.GetInput() {
		used[vi.GetName()] = true
	}
	for _, t := range g.GetInitializer() {
		used[t.GetName()] = true
	}
	collectNodeNames(g.GetNode(), used)
}

// collectNodeNames adds the names of nodes, of the values they read and
// write, and of their subgraphs.
func collectNodeNames(nodes []*onnxpb.NodeProto, used map[string]bool) {
	for _, n := range nodes {
		used[n.GetName()] = true
		for _, s := range append(slices.Clone(n.GetInput()), n.GetOutput()...) {
			used[s] = true
		}
		for _, a := range n.GetAttribute() {
			for _, sub := range append([]*onnxpb.GraphProto{a.GetG()}, a.GetGraphs()...) {
				if sub != nil {
					collectNames(sub, used)
				}
			}
		}
	}
}
