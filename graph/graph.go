package graph

import (
	"slices"
	"strconv"

	"github.com/onnxq/onnxq/internal/onnxpb"
)

// Model is a whole ONNX model: versions, producer, the main graph and the
// model-local functions.
type Model struct {
	IRVersion       int64
	OpsetImports    []OpsetImport
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Metadata        []StringPair
	Graph           *Graph
	Functions       []*Function

	// Dir is the folder external tensor data is read from (the model file's
	// folder); empty for models decoded from memory.
	Dir string

	origin *onnxpb.ModelProto // fields the IR does not model (training info, device configurations, unknown fields)
}

// OpsetImport names an operator set the model uses. Domain "" (or
// "ai.onnx") is the default ONNX domain.
type OpsetImport struct {
	Domain  string
	Version int64

	origin *onnxpb.OperatorSetIdProto
}

// StringPair is a key/value entry of metadata.
type StringPair struct {
	Key, Value string

	origin *onnxpb.StringStringEntryProto
}

// Function is a model-local function. Loading and saving keep functions
// as they are (the accessors describe them for reports); InlineFunctions
// replaces their calls by their bodies for the passes and the runtime.
type Function struct {
	proto *onnxpb.FunctionProto
}

// Name is the function's name (its op type when called).
func (f *Function) Name() string { return f.proto.GetName() }

// Domain is the operator domain the function belongs to.
func (f *Function) Domain() string { return f.proto.GetDomain() }

// OpTypes lists the op type of every node of the function body, in order.
func (f *Function) OpTypes() []string {
	ops := make([]string, len(f.proto.GetNode()))
	for i, n := range f.proto.GetNode() {
		ops[i] = n.GetOpType()
	}
	return ops
}

// Opset returns the version of domain the model imports, and whether it does.
// "ai.onnx" and "" name the same domain.
func (m *Model) Opset(domain string) (int64, bool) {
	domain = canonicalDomain(domain)
	for _, o := range m.OpsetImports {
		if canonicalDomain(o.Domain) == domain {
			return o.Version, true
		}
	}
	return 0, false
}

func canonicalDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Graph is a computation graph: nodes in order, its inputs, outputs,
// initializers and values. A subgraph (the body of If/Loop/Scan) has a
// Parent and may read values of the enclosing graphs by name.
type Graph struct {
	Name      string
	DocString string
	Nodes     []*Node
	// Inputs are the declared graph inputs. In models before IR version 4
	// initializers are listed here too; RealInputs leaves them out.
	Inputs  []*Value
	Outputs []*Value
	// Initializers are the values with constant data (Value.Const), in file order.
	Initializers []*Value
	// ValueInfos are the intermediate values the file declares a type for.
	ValueInfos []*Value

	// Parent is the enclosing graph of a subgraph, nil for the main graph.
	Parent *Graph
	// Owner is the node whose attribute holds this subgraph.
	Owner *Node

	values map[string]*Value // every value named in this graph's scope

	// owners caches the nodes of Nodes that hold subgraphs, as of
	// ownersLen nodes; ownersStale marks it out of date (set by the edits
	// that add, remove or change a node)
	owners      []*Node
	ownersLen   int
	ownersStale bool

	origin     *onnxpb.GraphProto // sparse initializers, quantization annotations, metadata, unknown fields
	inputInfo  map[*Value]*onnxpb.ValueInfoProto
	outputInfo map[*Value]*onnxpb.ValueInfoProto
	valueInfo  map[*Value]*onnxpb.ValueInfoProto
}

// Node is one operator call.
type Node struct {
	Name      string
	OpType    string
	Domain    string
	Overload  string
	DocString string
	// Inputs and Outputs are in operator order; a nil entry is an optional
	// input or output that is left out (an empty name in the file).
	Inputs  []*Value
	Outputs []*Value
	Attrs   []*Attribute
	// Graph is the graph the node belongs to.
	Graph *Graph

	origin *onnxpb.NodeProto
}

// Value is a named tensor (or other typed value) of a graph: a graph input,
// an initializer, or the output of one node.
type Value struct {
	Name string
	// DType and Shape are what is known of the value's type; DType is
	// Undefined and Shape nil when nothing is.
	DType DType
	Shape Shape
	// Const holds the data of an initializer.
	Const *Tensor
	// Producer is the node that outputs the value, nil for graph inputs and
	// initializers.
	Producer *Node
	// Consumers are the nodes that read the value, in graph order; nodes
	// of subgraphs that read it from an enclosing scope are included.
	Consumers []*Node
	// Graph is the graph whose scope defines the value.
	Graph *Graph

	// The type as loaded; while DType and Shape are unchanged, save writes
	// the original type proto (which may carry more than a tensor type).
	loadedType  *onnxpb.TypeProto
	loadedDType DType
	loadedShape Shape
}

// Dim is one dimension of a shape: a size, or unknown (Size < 0) with an
// optional symbolic name.
type Dim struct {
	Size  int64
	Param string
}

// UnknownDimParam tells whether a dimension's name only says its size is
// unknown ("?", as paddle2onnx writes every such dimension): unlike other
// names it does not tie the dimensions that share it to one size.
func UnknownDimParam(name string) bool { return name == "?" }

// Known reports whether the dimension has a fixed size.
func (d Dim) Known() bool { return d.Size >= 0 }

// Shape is a tensor shape. A nil Shape means the rank is unknown; a
// non-nil empty Shape is a scalar.
type Shape []Dim

// Fixed returns a shape of known sizes.
func Fixed(sizes ...int64) Shape {
	s := make(Shape, len(sizes))
	for i, n := range sizes {
		s[i] = Dim{Size: n}
	}
	return s
}

// Known reports whether the rank and every dimension are known.
func (s Shape) Known() bool {
	if s == nil {
		return false
	}
	for _, d := range s {
		if !d.Known() {
			return false
		}
	}
	return true
}

// Sizes returns the dimension sizes (-1 where unknown).
func (s Shape) Sizes() []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = d.Size
	}
	return out
}

// NumElements returns the product of the sizes, or -1 if a size is unknown
// or the product overflows.
func (s Shape) NumElements() int64 {
	if s == nil {
		return -1
	}
	n, err := numElements(s.Sizes())
	if err != nil {
		return -1
	}
	return n
}

// Equal reports whether two shapes are the same (rank, sizes, names).
func (s Shape) Equal(o Shape) bool {
	if (s == nil) != (o == nil) || len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Compatible reports whether two shapes can describe the same tensor: the
// same rank, and the dimensions both know equal.
func (s Shape) Compatible(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i].Known() && o[i].Known() && s[i].Size != o[i].Size {
			return false
		}
	}
	return true
}

// IsInitializer reports whether the value holds constant data.
func (v *Value) IsInitializer() bool { return v.Const != nil }

// ConstFloat32s returns the values of v when it is a float32 constant,
// nil otherwise (v nil included).
func (v *Value) ConstFloat32s() []float32 {
	if v == nil || v.Const == nil || v.Const.DType != Float32 {
		return nil
	}
	f, err := v.Const.Float32s()
	if err != nil {
		return nil
	}
	return f
}

// Attribute is a named node attribute; Type says which value field is used.
type Attribute struct {
	Name    string
	Type    AttrType
	Float   float32
	Int     int64
	String  string // bytes, usually UTF-8
	Tensor  *Tensor
	Graph   *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*Tensor
	Graphs  []*Graph
	// RefAttrName, inside a function body, names the caller's attribute
	// this one takes its value from.
	RefAttrName string
	DocString   string

	origin *onnxpb.AttributeProto // sparse tensors, type protos, presence
}

// AttrType says which field of an Attribute holds its value; the numbers
// are the format's.
type AttrType int32

// Attribute types.
const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

var attrTypeNames = map[AttrType]string{
	AttrUndefined: "undefined", AttrFloat: "float", AttrInt: "int", AttrString: "string",
	AttrTensor: "tensor", AttrGraph: "graph", AttrFloats: "floats", AttrInts: "ints",
	AttrStrings: "strings", AttrTensors: "tensors", AttrGraphs: "graphs",
	AttrSparseTensor: "sparse_tensor", AttrSparseTensors: "sparse_tensors",
	AttrTypeProto: "type_proto", AttrTypeProtos: "type_protos",
}

func (t AttrType) String() string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return "attr_type_" + strconv.Itoa(int(t))
}

// Attr returns the attribute with the given name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// AttrInt returns an int attribute, or def when absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a := n.Attr(name); a != nil && a.Type == AttrInt {
		return a.Int
	}
	return def
}

// AttrFloat returns a float attribute, or def when absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a := n.Attr(name); a != nil && a.Type == AttrFloat {
		return a.Float
	}
	return def
}

// AttrString returns a string attribute, or def when absent.
func (n *Node) AttrString(name, def string) string {
	if a := n.Attr(name); a != nil && a.Type == AttrString {
		return a.String
	}
	return def
}

// AttrInts returns an ints attribute, or nil when absent.
func (n *Node) AttrInts(name string) []int64 {
	if a := n.Attr(name); a != nil && a.Type == AttrInts {
		return a.Ints
	}
	return nil
}

// Subgraphs returns the graphs held in the node's attributes, in order.
func (n *Node) Subgraphs() []*Graph {
	var gs []*Graph
	for _, a := range n.Attrs {
		if a.Graph != nil {
			gs = append(gs, a.Graph)
		}
		gs = append(gs, a.Graphs...)
	}
	return gs
}

// Input returns the i-th input, or nil when it is absent or omitted.
func (n *Node) Input(i int) *Value {
	if i < 0 || i >= len(n.Inputs) {
		return nil
	}
	return n.Inputs[i]
}

// Value returns the value named name visible in g's scope (g's own values,
// then those of the enclosing graphs), or nil.
func (g *Graph) Value(name string) *Value {
	for s := g; s != nil; s = s.Parent {
		if v := s.values[name]; v != nil {
			return v
		}
	}
	return nil
}

// RealInputs returns the graph inputs that are not initializers: the ones
// a caller must feed.
func (g *Graph) RealInputs() []*Value {
	var in []*Value
	for _, v := range g.Inputs {
		if v.Const == nil {
			in = append(in, v)
		}
	}
	return in
}

// Walk calls fn for g and then for every subgraph, depth first in node order.
func (g *Graph) Walk(fn func(*Graph)) {
	fn(g)
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			sg.Walk(fn)
		}
	}
}

// TypeKind names the kind of type the file declared for v: "tensor",
// "sequence", "map", "optional" or "sparse tensor"; "" when it declared
// none (a value onnxq's passes made, or an intermediate without type
// information).
func (v *Value) TypeKind() string {
	tp := v.loadedType
	switch {
	case tp == nil:
		return ""
	case tp.GetTensorType() != nil:
		return "tensor"
	case tp.GetSequenceType() != nil:
		return "sequence"
	case tp.GetMapType() != nil:
		return "map"
	case tp.GetOptionalType() != nil:
		return "optional"
	case tp.GetSparseTensorType() != nil:
		return "sparse tensor"
	}
	return ""
}

// SameConstant tells whether a and b are both absent, or both constants
// of one type, shape and data (a scale or zero point two Q/DQ nodes
// share).
func SameConstant(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a == b {
		return true
	}
	if a.Const == nil || b.Const == nil || a.Const.DType != b.Const.DType || !slices.Equal(a.Const.Dims, b.Const.Dims) {
		return false
	}
	ra, err1 := a.Const.Raw()
	rb, err2 := b.Const.Raw()
	return err1 == nil && err2 == nil && string(ra) == string(rb)
}

// Main reports whether g is the top-level graph.
func (g *Graph) Main() bool { return g.Parent == nil }
