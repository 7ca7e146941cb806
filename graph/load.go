package graph

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Load reads an ONNX model file, with its external data, and checks it
// with Verify. Every problem is reported as an error, never a panic.
func Load(path string) (*Model, error) {
	m, _, err := LoadBytes(path)
	return m, err
}

// LoadBytes is Load that also returns the file's bytes, for a caller that
// copies the file as it is (one read of a large model, not two).
func LoadBytes(path string) (*Model, []byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, &causeError{path + ": no such file", err}
		}
		return nil, nil, err
	}
	if st.IsDir() {
		return nil, nil, fmt.Errorf("%s: is a folder, not a model file", path)
	}
	if !st.Mode().IsRegular() {
		// a pipe or device reads as empty, or blocks
		kind := "a special file"
		switch t := st.Mode().Type(); {
		case t&fs.ModeNamedPipe != 0:
			kind = "a named pipe"
		case t&fs.ModeDevice != 0:
			kind = "a device"
		case t&fs.ModeSocket != 0:
			kind = "a socket"
		}
		return nil, nil, fmt.Errorf("%s: is %s, not a model file", path, kind)
	}
	data, err := ReadProtoFile(path, "an ONNX model")
	if err != nil {
		return nil, nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	m, err := Decode(data, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, data, nil
}

// Decode parses a serialized model. dir is the folder external data is read
// from; with dir empty, a model that refers to external data is an error.
func Decode(data []byte, dir string) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file, not an ONNX model")
	}
	p := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("not an ONNX model: %s", protoErrorText(err))
	}
	m, err := fromProto(p, dir)
	if err != nil {
		return nil, err
	}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	return m, nil
}

// protoErrorText says why protobuf decoding failed in words for a user.
// The library's own text carries a "proto:" prefix (with a non-breaking
// space) and, for the usual failure, no detail at all.
func protoErrorText(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "cannot parse invalid wire-format data") {
		return "the file is truncated or corrupt, or is not protobuf data"
	}
	msg = strings.TrimPrefix(msg, "proto:")
	return strings.TrimSpace(strings.ReplaceAll(msg, "\u00a0", " "))
}

func fromProto(p *onnxpb.ModelProto, dir string) (*Model, error) {
	if p.Graph == nil {
		return nil, errors.New("not an ONNX model: it has no graph")
	}
	if len(p.GetOpsetImport()) == 0 {
		return nil, errors.New("model imports no operator set (opset_import is empty)")
	}
	m := &Model{
		IRVersion:       p.GetIrVersion(),
		ProducerName:    p.GetProducerName(),
		ProducerVersion: p.GetProducerVersion(),
		Domain:          p.GetDomain(),
		ModelVersion:    p.GetModelVersion(),
		DocString:       p.GetDocString(),
		Dir:             dir,
		origin:          p,
	}
	if v := m.IRVersion; v < 1 || v > LatestIRVersion {
		return nil, fmt.Errorf("IR version %d: ONNX defines IR versions 1 to %d", v, LatestIRVersion)
	} else if v < 3 {
		// opset_import, which every model here has, came with IR 3
		return nil, fmt.Errorf("IR version %d with an opset_import: imports came with IR version 3, so the file contradicts itself (set ir_version to 3 or later)", v)
	}
	seen := map[string]bool{}
	for _, o := range p.GetOpsetImport() {
		domain, version := o.GetDomain(), o.GetVersion()
		if domain == "ai.onnx" {
			domain = ""
		}
		if seen[domain] {
			return nil, fmt.Errorf("opset_import lists domain %q twice", o.GetDomain())
		}
		seen[domain] = true
		if version < 1 {
			return nil, fmt.Errorf("opset_import gives domain %q version %d: versions start at 1", o.GetDomain(), version)
		}
		if domain == "" && version > LatestOpset() {
			return nil, fmt.Errorf("the model imports opset %d; the newest ONNX defines is %d", version, LatestOpset())
		}
		m.OpsetImports = append(m.OpsetImports, OpsetImport{Domain: o.GetDomain(), Version: version, origin: o})
	}
	m.Metadata = pairsFromProto(p.GetMetadataProps())
	for _, f := range p.GetFunctions() {
		m.Functions = append(m.Functions, &Function{proto: f})
	}
	ld := &loader{dir: dir}
	g, err := ld.graph(p.Graph, nil, nil)
	if err != nil {
		return nil, err
	}
	m.Graph = g
	return m, nil
}

func pairsFromProto(ps []*onnxpb.StringStringEntryProto) []StringPair {
	var out []StringPair
	for _, e := range ps {
		out = append(out, StringPair{Key: e.GetKey(), Value: e.GetValue(), origin: e})
	}
	return out
}

type loader struct {
	dir string
	// depth counts the subgraphs around the one being read
	depth int
}

// maxSubgraphDepth bounds how deep subgraphs nest: each level adds its
// place to an error's text, and thousands of levels made one error
// message take gigabytes. Real models nest a few levels.
const maxSubgraphDepth = 256

// maxLabelName bounds the length of a name quoted in an error.
const maxLabelName = 80

// where names a graph in errors.
func where(g *Graph) string {
	if g.Parent == nil {
		return "graph"
	}
	return fmt.Sprintf("subgraph %q of node %s", shortName(g.Name), nodeLabel(g.Owner))
}

func nodeLabel(n *Node) string {
	if n == nil {
		return "?"
	}
	if n.Name != "" {
		return fmt.Sprintf("%q (%s)", shortName(n.Name), PlainName(shortName(n.OpType)))
	}
	return PlainName(shortName(n.OpType))
}

// shortName is s cut to maxLabelName bytes (at a rune boundary), marked
// with "..." when cut.
func shortName(s string) string {
	if len(s) <= maxLabelName {
		return s
	}
	cut := maxLabelName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// PlainName returns an op type as it is when it is a plain identifier, and
// quoted otherwise, so that text from a file cannot break an error message
// over several lines.
func PlainName(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return strconv.Quote(s)
		}
	}
	return s
}

// errTooDeep refuses subgraphs nested past maxSubgraphDepth.
var errTooDeep = fmt.Errorf("subgraphs nested more than %d deep", maxSubgraphDepth)

func (ld *loader) graph(p *onnxpb.GraphProto, parent *Graph, owner *Node) (*Graph, error) {
	if parent != nil {
		if ld.depth >= maxSubgraphDepth {
			return nil, errTooDeep
		}
		ld.depth++
		defer func() { ld.depth-- }()
	}
	g := &Graph{
		Name:       p.GetName(),
		DocString:  p.GetDocString(),
		Parent:     parent,
		Owner:      owner,
		values:     map[string]*Value{},
		origin:     p,
		inputInfo:  map[*Value]*onnxpb.ValueInfoProto{},
		outputInfo: map[*Value]*onnxpb.ValueInfoProto{},
		valueInfo:  map[*Value]*onnxpb.ValueInfoProto{},
	}
	for _, tp := range p.GetInitializer() {
		t, err := ld.tensor(tp)
		if err != nil {
			return nil, fmt.Errorf("%s: initializer %w", where(g), err)
		}
		if g.values[t.Name] != nil {
			return nil, fmt.Errorf("%s: initializer %q is defined twice", where(g), t.Name)
		}
		v := &Value{Name: t.Name, DType: t.DType, Shape: Fixed(t.Dims...), Const: t, Graph: g}
		g.values[t.Name] = v
		g.Initializers = append(g.Initializers, v)
	}
	for _, sp := range p.GetSparseInitializer() {
		name := sp.GetValues().GetName()
		if g.values[name] != nil {
			return nil, fmt.Errorf("%s: sparse initializer %q is defined twice", where(g), name)
		}
		g.values[name] = &Value{Name: name, DType: DType(sp.GetValues().GetDataType()), Shape: Fixed(sp.GetDims()...), Graph: g}
	}
	for _, vi := range p.GetInput() {
		v := g.values[vi.GetName()]
		switch {
		case v == nil:
			if parent == nil {
				if err := checkInputType(vi); err != nil {
					return nil, fmt.Errorf("%s: input %q: %v", where(g), vi.GetName(), err)
				}
			}
			v = &Value{Name: vi.GetName(), Graph: g}
			setTypeFromProto(v, vi.GetType())
			g.values[v.Name] = v
		case v.Const == nil || g.inputInfo[v] != nil:
			return nil, fmt.Errorf("%s: input %q is declared twice", where(g), vi.GetName())
		}
		g.inputInfo[v] = vi
		g.Inputs = append(g.Inputs, v)
	}
	// Node outputs first, so inputs may name values produced later in the
	// list (Verify reports the order) and subgraphs see the whole scope.
	for i, np := range p.GetNode() {
		if np.GetOpType() == "" {
			return nil, fmt.Errorf("%s: node %d (%q) has no op_type", where(g), i, np.GetName())
		}
		n := &Node{
			Name: np.GetName(), OpType: np.GetOpType(), Domain: np.GetDomain(),
			Overload: np.GetOverload(), DocString: np.GetDocString(), Graph: g, origin: np,
		}
		for _, name := range np.GetOutput() {
			if name == "" {
				n.Outputs = append(n.Outputs, nil)
				continue
			}
			if prev := g.values[name]; prev != nil {
				if prev.Producer != nil {
					return nil, fmt.Errorf("%s: value %q is produced by two nodes, %s and %s", where(g), name, nodeLabel(prev.Producer), nodeLabel(n))
				}
				return nil, fmt.Errorf("%s: node %s outputs %q, which is already a graph input or initializer", where(g), nodeLabel(n), name)
			}
			v := &Value{Name: name, Producer: n, Graph: g}
			g.values[name] = v
			n.Outputs = append(n.Outputs, v)
		}
		g.Nodes = append(g.Nodes, n)
	}
	for i, np := range p.GetNode() {
		n := g.Nodes[i]
		for _, ap := range np.GetAttribute() {
			if n.Attr(ap.GetName()) != nil {
				return nil, fmt.Errorf("%s: node %s gives attribute %q twice", where(g), nodeLabel(n), ap.GetName())
			}
			a, err := ld.attribute(ap, g, n)
			if err != nil {
				if errors.Is(err, errTooDeep) {
					// one line, not one prefix per level
					return nil, err
				}
				return nil, fmt.Errorf("%s: node %s attribute %q: %w", where(g), nodeLabel(n), ap.GetName(), err)
			}
			n.Attrs = append(n.Attrs, a)
		}
		for _, name := range np.GetInput() {
			if name == "" {
				n.Inputs = append(n.Inputs, nil)
				continue
			}
			v := g.Value(name)
			if v == nil {
				return nil, fmt.Errorf("%s: node %s reads %q, which no node, input or initializer defines", where(g), nodeLabel(n), name)
			}
			n.Inputs = append(n.Inputs, v)
			v.Consumers = append(v.Consumers, n)
		}
	}
	for _, vi := range p.GetOutput() {
		v := g.Value(vi.GetName())
		if v == nil {
			return nil, fmt.Errorf("%s: output %q is not produced by any node, input or initializer", where(g), vi.GetName())
		}
		if g.outputInfo[v] != nil {
			return nil, fmt.Errorf("%s: output %q is declared twice", where(g), vi.GetName())
		}
		if v.DType == Undefined && v.Shape == nil {
			setTypeFromProto(v, vi.GetType())
		}
		g.outputInfo[v] = vi
		g.Outputs = append(g.Outputs, v)
	}
	for _, vi := range p.GetValueInfo() {
		v := g.values[vi.GetName()]
		if v == nil || g.valueInfo[v] != nil {
			// A declaration of a value this graph does not have, or a
			// repeated one: kept as written, attached to nothing.
			v = &Value{Name: vi.GetName(), Graph: g}
		}
		if v.DType == Undefined && v.Shape == nil && v.loadedType == nil {
			setTypeFromProto(v, vi.GetType())
		}
		g.valueInfo[v] = vi
		g.ValueInfos = append(g.ValueInfos, v)
	}
	// Snapshot copies: a pass that edits a shape in place must still be
	// seen as a change.
	for _, v := range g.values {
		v.loadedDType, v.loadedShape = v.DType, slices.Clone(v.Shape)
	}
	for _, v := range g.ValueInfos {
		v.loadedDType, v.loadedShape = v.DType, slices.Clone(v.Shape)
	}
	return g, nil
}

// checkInputType refuses a main-graph input without a type: a caller
// could not know what to feed. (A negative dimension is read as unknown,
// as exporters write -1 for a dynamic one.)
func checkInputType(vi *onnxpb.ValueInfoProto) error {
	if tp := vi.GetType(); tp == nil || tp.GetValue() == nil {
		return errors.New("no type: a graph input must say what it takes")
	}
	return nil
}

// setTypeFromProto takes a value's element type and shape from a type proto.
func setTypeFromProto(v *Value, tp *onnxpb.TypeProto) {
	v.loadedType = tp
	tt := tp.GetTensorType()
	if tt == nil {
		return
	}
	v.DType = DType(tt.GetElemType())
	if tt.Shape == nil {
		return
	}
	v.Shape = make(Shape, len(tt.Shape.GetDim()))
	for i, d := range tt.Shape.GetDim() {
		v.Shape[i] = Dim{Size: -1, Param: d.GetDimParam()}
		if x, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && x.DimValue >= 0 {
			v.Shape[i].Size = x.DimValue
		}
	}
}

func (ld *loader) attribute(p *onnxpb.AttributeProto, g *Graph, owner *Node) (*Attribute, error) {
	a := &Attribute{
		Name: p.GetName(), Type: AttrType(p.GetType()), RefAttrName: p.GetRefAttrName(),
		DocString: p.GetDocString(), Float: p.GetF(), Int: p.GetI(), String: string(p.GetS()),
		Floats: p.GetFloats(), Ints: p.GetInts(), origin: p,
	}
	if p.Type == nil {
		a.Type = guessAttrType(p)
	}
	if err := checkAttrFields(p, a.Type); err != nil {
		return nil, err
	}
	for _, s := range p.GetStrings() {
		a.Strings = append(a.Strings, string(s))
	}
	var err error
	if p.T != nil {
		if a.Tensor, err = ld.tensor(p.T); err != nil {
			return nil, err
		}
	}
	for _, tp := range p.GetTensors() {
		t, err := ld.tensor(tp)
		if err != nil {
			return nil, err
		}
		a.Tensors = append(a.Tensors, t)
	}
	if p.G != nil {
		if a.Graph, err = ld.graph(p.G, g, owner); err != nil {
			return nil, err
		}
	}
	for _, gp := range p.GetGraphs() {
		sg, err := ld.graph(gp, g, owner)
		if err != nil {
			return nil, err
		}
		a.Graphs = append(a.Graphs, sg)
	}
	return a, nil
}

// checkAttrFields refuses an attribute without a name, without a type,
// or holding a value in a field other than its type's (a float in an ints
// attribute): a runtime reading it by its type would find nothing and
// compute with the default instead. A reference to a function's
// attribute (ref_attr_name) holds no value and is left alone.
func checkAttrFields(p *onnxpb.AttributeProto, t AttrType) error {
	if p.GetName() == "" {
		return errors.New("an attribute has no name")
	}
	if p.GetRefAttrName() != "" {
		return nil
	}
	set := attrFields(p)
	switch {
	case t == AttrUndefined:
		return errors.New("no type and no value")
	case t < 0 || int(t) >= len(set):
		return fmt.Errorf("type %v, which ONNX does not define", t)
	}
	for other, has := range set {
		if has && AttrType(other) != t {
			return fmt.Errorf("of type %v but holding a %v value", t, AttrType(other))
		}
	}
	return nil
}

// attrFields tells, indexed by AttrType, which of p's value fields are
// set.
func attrFields(p *onnxpb.AttributeProto) []bool {
	return []bool{
		AttrFloat: p.F != nil, AttrInt: p.I != nil, AttrString: p.S != nil, AttrTensor: p.T != nil,
		AttrGraph: p.G != nil, AttrFloats: len(p.Floats) > 0, AttrInts: len(p.Ints) > 0,
		AttrStrings: len(p.Strings) > 0, AttrTensors: len(p.Tensors) > 0, AttrGraphs: len(p.Graphs) > 0,
		AttrSparseTensor: p.SparseTensor != nil, AttrSparseTensors: len(p.SparseTensors) > 0,
		AttrTypeProto: p.Tp != nil, AttrTypeProtos: len(p.TypeProtos) > 0,
	}
}

// guessAttrType recovers the type of an attribute written before the
// format had a type field, from the field that is set: the first of the
// types of that time (float to graphs, in their numbering's order).
func guessAttrType(p *onnxpb.AttributeProto) AttrType {
	set := attrFields(p)
	for t := AttrFloat; t <= AttrGraphs; t++ {
		if set[t] {
			return t
		}
	}
	return AttrUndefined
}

func (ld *loader) tensor(p *onnxpb.TensorProto) (*Tensor, error) {
	t := &Tensor{Name: p.GetName(), DType: DType(p.GetDataType()), Dims: p.GetDims(), DocString: p.GetDocString(), origin: p}
	if p.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		raw, err := readExternal(p, ld.dir, t.DType)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", t.Name, err)
		}
		t.raw, t.hasRaw, t.external = raw, true, true
	} else if p.RawData != nil {
		t.raw, t.hasRaw = p.RawData, true
	}
	if err := t.checkStoredSize(); err != nil {
		return nil, fmt.Errorf("%q: %w", t.Name, err)
	}
	return t, nil
}

// DecodeTensor parses one serialized TensorProto (the .pb files of the
// ONNX test data layout). External data is read relative to dir.
func DecodeTensor(data []byte, dir string) (*Tensor, error) {
	p := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotTensor, protoErrorText(err))
	}
	if p.GetDataType() == 0 && len(p.GetDims()) == 0 {
		// what protobuf's leniency reads out of other bytes: no tensor
		return nil, fmt.Errorf("%w: no element type or shape", ErrNotTensor)
	}
	// A SequenceProto, MapProto or OptionalProto read as a tensor takes
	// its name for dims and its field 3 for a segment, or leaves fields a
	// TensorProto lacks: no tensor of its own.
	if p.GetSegment() != nil {
		return nil, fmt.Errorf("%w: it holds a segment (field 3), as a sequence, map or optional value read as a tensor does; only whole tensors are read", ErrNotTensor)
	}
	if len(p.ProtoReflect().GetUnknown()) > 0 {
		return nil, fmt.Errorf("%w: it holds fields a TensorProto does not have (a sequence, map or optional value?)", ErrNotTensor)
	}
	return (&loader{dir: dir}).tensor(p)
}

// ErrNotTensor is the error DecodeTensor wraps when its bytes hold no
// TensorProto at all, as opposed to one that is malformed.
var ErrNotTensor = errors.New("not a serialized tensor")

// EncodeTensor serializes a tensor as one TensorProto.
func EncodeTensor(t *Tensor) ([]byte, error) {
	if t == nil {
		return nil, errors.New("no tensor to encode")
	}
	p, err := (&saver{}).tensor(t, t.Name)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

// causeError reads as its own message and unwraps to the error behind it,
// so that callers can still test for fs.ErrNotExist and the like.
type causeError struct {
	msg   string
	cause error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.cause }
