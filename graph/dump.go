package graph

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Dump writes a stable, line-oriented text form of the graph (and its
// subgraphs, indented), for golden tests and debugging. Tensors print as
// type, shape, and up to eight leading values plus a hash of all data, so
// any change of data changes the text.
//
//	graph "main"
//	  input  x: float32[1,4]
//	  const  w: float32[4,2] = [0.5, -1, ...] #3f2a9c0d1b7e4a55
//	  matmul1: matmul1_out0 = MatMul(x, w)
//	  output matmul1_out0: float32[?]
func Dump(w io.Writer, g *Graph) error {
	d := &dumper{w: w}
	d.graph(g, "")
	return d.err
}

// DumpString is Dump into a string.
func DumpString(g *Graph) string {
	if g == nil {
		return ""
	}
	var sb strings.Builder
	_ = Dump(&sb, g)
	return sb.String()
}

type dumper struct {
	w   io.Writer
	err error
}

func (d *dumper) line(indent, format string, args ...any) {
	if d.err == nil {
		_, d.err = fmt.Fprintf(d.w, indent+format+"\n", args...)
	}
}

func (d *dumper) graph(g *Graph, indent string) {
	d.line(indent, "graph %q", g.Name)
	in := indent + "  "
	for _, v := range g.Inputs {
		if v.Const == nil {
			d.line(in, "input  %s: %s", v.Name, typeString(v.DType, v.Shape))
		}
	}
	for _, v := range g.Initializers {
		d.line(in, "const  %s: %s", v.Name, tensorSummary(v.Const))
	}
	for _, n := range g.Nodes {
		d.node(n, in)
	}
	for _, v := range g.Outputs {
		d.line(in, "output %s: %s", v.Name, typeString(v.DType, v.Shape))
	}
}

func (d *dumper) node(n *Node, indent string) {
	names := func(vs []*Value) string {
		s := make([]string, len(vs))
		for i, v := range vs {
			if v != nil {
				s[i] = v.Name
			}
		}
		return strings.Join(s, ", ")
	}
	op := n.OpType
	if n.Domain != "" {
		op = n.Domain + "." + op
	}
	var attrs []string
	var subgraphs []*Attribute
	for _, a := range n.Attrs {
		if a.Type == AttrGraph || a.Type == AttrGraphs {
			subgraphs = append(subgraphs, a)
			continue
		}
		attrs = append(attrs, a.Name+"="+attrString(a))
	}
	sort.Strings(attrs)
	attrText := ""
	if len(attrs) > 0 {
		attrText = " {" + strings.Join(attrs, ", ") + "}"
	}
	d.line(indent, "%s: %s = %s(%s)%s", n.Name, names(n.Outputs), op, names(n.Inputs), attrText)
	for _, a := range subgraphs {
		d.line(indent, "  %s:", a.Name)
		if a.Graph != nil {
			d.graph(a.Graph, indent+"    ")
		}
		for _, g := range a.Graphs {
			d.graph(g, indent+"    ")
		}
	}
}

// TypeString prints a type and shape as the dump does: "float32[1,N,?]".
func TypeString(dt DType, s Shape) string { return typeString(dt, s) }

func typeString(dt DType, s Shape) string {
	if s == nil {
		return dt.String() + "[?]"
	}
	parts := make([]string, len(s))
	for i, dim := range s {
		switch {
		case dim.Known():
			parts[i] = strconv.FormatInt(dim.Size, 10)
		case dim.Param != "":
			parts[i] = dim.Param
		default:
			parts[i] = "?"
		}
	}
	return dt.String() + "[" + strings.Join(parts, ",") + "]"
}

func attrString(a *Attribute) string {
	switch a.Type {
	case AttrFloat:
		return formatFloat(float64(a.Float))
	case AttrInt:
		return strconv.FormatInt(a.Int, 10)
	case AttrString:
		return strconv.Quote(a.String)
	case AttrFloats:
		s := make([]string, len(a.Floats))
		for i, f := range a.Floats {
			s[i] = formatFloat(float64(f))
		}
		return "[" + strings.Join(s, ", ") + "]"
	case AttrInts:
		s := make([]string, len(a.Ints))
		for i, v := range a.Ints {
			s[i] = strconv.FormatInt(v, 10)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case AttrStrings:
		s := make([]string, len(a.Strings))
		for i, v := range a.Strings {
			s[i] = strconv.Quote(v)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case AttrTensor:
		return tensorSummary(a.Tensor)
	case AttrTensors:
		s := make([]string, len(a.Tensors))
		for i, t := range a.Tensors {
			s[i] = tensorSummary(t)
		}
		return "[" + strings.Join(s, "; ") + "]"
	}
	return "<" + a.Type.String() + ">"
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'g', 7, 64)
}

// tensorSummary prints type, shape, leading values and a data hash.
func tensorSummary(t *Tensor) string {
	if t == nil {
		return "<nil>"
	}
	head := typeString(t.DType, Fixed(t.Dims...))
	const show = 8
	var vals []string
	h := fnv.New64a()
	switch {
	case t.DType == String:
		s, _ := t.StringData()
		for i, b := range s {
			if i < show {
				vals = append(vals, strconv.Quote(string(b)))
			}
			h.Write(b)
			h.Write([]byte{0})
		}
	case t.DType == Float32:
		f, err := t.Float32s()
		if err != nil {
			return head + " <" + err.Error() + ">"
		}
		for i := 0; i < len(f) && i < show; i++ {
			vals = append(vals, formatFloat(float64(f[i])))
		}
		raw, _ := t.Raw()
		h.Write(raw)
	case t.DType.IsInteger() || t.DType == Bool:
		v, err := t.Int64s()
		if err != nil {
			return head + " <" + err.Error() + ">"
		}
		for i := 0; i < len(v) && i < show; i++ {
			vals = append(vals, strconv.FormatInt(v[i], 10))
		}
		raw, _ := t.Raw()
		h.Write(raw)
	default:
		raw, err := t.Raw()
		if err != nil {
			return head + " <" + err.Error() + ">"
		}
		h.Write(raw)
	}
	n := t.NumElements()
	if int64(len(vals)) < n {
		vals = append(vals, "...")
	}
	return fmt.Sprintf("%s = [%s] #%016x", head, strings.Join(vals, ", "), h.Sum64())
}
