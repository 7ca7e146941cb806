package graph

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// SaveOptions control how a model is written.
type SaveOptions struct {
	// ExternalDataThreshold, when > 0, moves the data of every tensor of at
	// least this many bytes, and of at least MinExternalBytes, into one
	// external data file beside the model.
	ExternalDataThreshold int64
	// ExternalDataName is the data file's name, in the model's folder
	// (default: the model file's name + ".data").
	ExternalDataName string
}

// MinExternalBytes is the size under which a tensor always stays in the
// model file, as ONNX's own external-data helper keeps it: ONNX Runtime's
// shape inference reads small constants (a Reshape's shape, a Resize's
// scales) from the file and refuses a model that moved them out.
const MinExternalBytes = 1024

// maxProtoBytes is protobuf's limit on one serialized message.
const maxProtoBytes = math.MaxInt32

// Save writes the model to path. The file (and its external data file) is
// written under a temporary name and renamed into place, so a failed save
// never leaves a partial file behind.
func Save(m *Model, path string, opts SaveOptions) error {
	if m == nil || m.Graph == nil {
		return errors.New("save: no model")
	}
	// A symbolic link is written through; a FIFO or device takes the
	// bytes directly (OutputTarget).
	target, direct, err := OutputTarget(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	var ext *externalWriter
	if opts.ExternalDataThreshold > 0 {
		name := opts.ExternalDataName
		if name == "" {
			name = filepath.Base(path) + ".data"
		}
		if !filepath.IsLocal(name) || filepath.Base(name) != name {
			return fmt.Errorf("external data name %q must be a plain file name", name)
		}
		if name == filepath.Base(path) || name == filepath.Base(target) {
			return fmt.Errorf("external data name %q is the model file's own name", name)
		}
		if direct {
			return fmt.Errorf("%s: not a regular file, so no external data file can go beside it", path)
		}
		extPath, _, err := OutputTarget(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		ext = &externalWriter{threshold: max(opts.ExternalDataThreshold, MinExternalBytes), name: name, path: extPath}
		defer ext.discard()
	}
	p, err := m.toProto(ext)
	if err != nil {
		return err
	}
	data, err := encode(p)
	if err != nil {
		return err
	}
	if ext != nil {
		if err := ext.finish(); err != nil {
			return err
		}
	}
	if direct {
		return writeInto(path, target, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
	}
	tmp, untrack, err := writeTemp(target, data)
	if err != nil {
		return err
	}
	defer untrack()
	// The data file goes into place first, so the model never names a data
	// file that is not there yet.
	if ext != nil && ext.tmp != "" {
		if err := os.Rename(ext.tmp, ext.path); err != nil {
			os.Remove(tmp)
			return writeError(ext.path, err)
		}
		ext.tmp = ""
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return writeError(path, err)
	}
	return nil
}

// Clone returns an independent copy of m, through its serialised form
// (external data is read again from m.Dir).
func Clone(m *Model) (*Model, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("clone: no model")
	}
	p, err := m.toProto(nil)
	if err != nil {
		return nil, err
	}
	return fromProtoOf(m, p)
}

// fromProtoOf builds a new model from p, a proto form of m (edited or
// not), through its encoding, as loading would, with m's directory for
// external data and the shapes and types m's values of the same names
// carry (copyValueTypes).
func fromProtoOf(m *Model, p *onnxpb.ModelProto) (*Model, error) {
	data, err := encode(p)
	if err != nil {
		return nil, err
	}
	c, err := Decode(data, m.Dir)
	if err != nil {
		return nil, err
	}
	copyValueTypes(m, c)
	return c, nil
}

// copyValueTypes gives the values of c the shapes and types that m's
// values of the same names carry: what shape inference found is not
// written into the file (only the model's own value_info is), so a copy
// through it would lose what a pass then needs (a GroupNormalization's
// channel count when the opset rises).
func copyValueTypes(m, c *Model) {
	byName := map[string]*Value{}
	each := func(g *Graph, f func(*Value)) {
		g.Walk(func(g *Graph) {
			for _, v := range g.Inputs {
				f(v)
			}
			for _, n := range g.Nodes {
				for _, v := range n.Outputs {
					if v != nil {
						f(v)
					}
				}
			}
		})
	}
	each(m.Graph, func(v *Value) { byName[v.Name] = v })
	each(c.Graph, func(v *Value) {
		src := byName[v.Name]
		if src == nil {
			return
		}
		if v.Shape == nil && src.Shape != nil {
			v.Shape = slices.Clone(src.Shape)
		}
		if v.DType == Undefined {
			v.DType = src.DType
		}
	})
}

// Encode serializes the model with every tensor's data inline.
func Encode(m *Model) ([]byte, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("encode: no model")
	}
	p, err := m.toProto(nil)
	if err != nil {
		return nil, err
	}
	return encode(p)
}

func encode(p *onnxpb.ModelProto) ([]byte, error) {
	if size := proto.Size(p); size > maxProtoBytes {
		return nil, fmt.Errorf("model is %d bytes, over the 2 GiB limit of one ONNX file: save its tensors as external data", size)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding model: %v", err)
	}
	return data, nil
}

// createTemp creates a temporary file beside path.
func createTemp(path string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
}

// closeTemp makes a finished temporary file readable like a normal one and
// closes it.
func closeTemp(f *os.File) error {
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeTemp writes data to a temporary file beside path and returns its
// name and the function that stops tracking it (TrackTemporary: it is
// tracked from its creation, so a signal during the write removes it);
// on failure nothing is left.
func writeTemp(path string, data []byte) (string, func(), error) {
	f, err := createTemp(path)
	if err != nil {
		return "", nil, writeError(path, err)
	}
	untrack := TrackTemporary(f.Name())
	if _, err = f.Write(data); err == nil {
		err = closeTemp(f)
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(f.Name())
		untrack()
		return "", nil, writeError(path, err)
	}
	return f.Name(), untrack, nil
}

// writeError names the file being saved rather than its temporary name.
func writeError(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("writing %s: %w", path, err)
}

// externalWriter streams tensor data bound for the external data file into
// a temporary file beside it, so the data is not held in memory twice.
type externalWriter struct {
	threshold int64
	name      string // as written in the model
	path      string // where the file goes
	tmp       string // the temporary file, until renamed to path
	untrack   func() // ends its TrackTemporary
	f         *os.File
	w         *bufio.Writer
	off       int64
	err       error
}

// add appends data, page-aligning large tensors so they can be mapped,
// and returns the entries that describe where it went.
func (w *externalWriter) add(raw []byte) []*onnxpb.StringStringEntryProto {
	const page = 4096
	if w.f == nil && w.err == nil {
		if w.f, w.err = createTemp(w.path); w.err != nil {
			w.err = writeError(w.path, w.err)
		} else {
			w.tmp = w.f.Name()
			w.untrack = TrackTemporary(w.tmp)
			w.w = bufio.NewWriterSize(w.f, 1<<20)
		}
	}
	if len(raw) >= page {
		if pad := w.off % page; pad != 0 {
			w.write(make([]byte, page-pad))
		}
	}
	off := w.off
	w.write(raw)
	entry := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: &k, Value: &v}
	}
	return []*onnxpb.StringStringEntryProto{
		entry("location", w.name),
		entry("offset", strconv.FormatInt(off, 10)),
		entry("length", strconv.Itoa(len(raw))),
	}
}

func (w *externalWriter) write(b []byte) {
	if w.err == nil {
		if _, err := w.w.Write(b); err != nil {
			w.err = writeError(w.path, err)
		}
	}
	w.off += int64(len(b))
}

// finish flushes and closes the temporary file.
func (w *externalWriter) finish() error {
	if w.f == nil || w.err != nil {
		return w.err
	}
	err := w.w.Flush()
	if err == nil {
		err = closeTemp(w.f)
	} else {
		w.f.Close()
	}
	w.f = nil
	if err != nil {
		w.err = writeError(w.path, err)
	}
	return w.err
}

// discard removes the temporary file if it was not renamed into place.
func (w *externalWriter) discard() {
	if w.f != nil {
		w.f.Close()
	}
	if w.tmp != "" {
		os.Remove(w.tmp)
	}
	if w.untrack != nil {
		w.untrack()
	}
}

// The keep* helpers give a field's pointer for writing: the original one
// while the value is unchanged (keeping whether the field was present),
// nil for a zero value that was absent, a new pointer otherwise.
func keepStr(orig *string, v string) *string {
	if orig != nil && *orig == v || orig == nil && v == "" {
		return orig
	}
	return &v
}

func keepInt64(orig *int64, v int64) *int64 {
	if orig != nil && *orig == v || orig == nil && v == 0 {
		return orig
	}
	return &v
}

func keepInt32(orig *int32, v int32, force bool) *int32 {
	if orig != nil && *orig == v || orig == nil && v == 0 && !force {
		return orig
	}
	return &v
}

func keepFloat(orig *float32, v float32, force bool) *float32 {
	if orig != nil && math.Float32bits(*orig) == math.Float32bits(v) || orig == nil && v == 0 && !force {
		return orig
	}
	return &v
}

func keepSlice[T comparable](orig, v []T) []T {
	if slices.Equal(orig, v) {
		return orig
	}
	return v
}

func keepFloats(orig, v []float32) []float32 {
	if len(orig) == len(v) && slices.EqualFunc(orig, v, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		return orig
	}
	return v
}

func copyUnknown(dst, src proto.Message) {
	if u := src.ProtoReflect().GetUnknown(); len(u) > 0 {
		dst.ProtoReflect().SetUnknown(u)
	}
}

func (m *Model) toProto(ext *externalWriter) (*onnxpb.ModelProto, error) {
	if m.Graph == nil {
		return nil, errors.New("model has no graph")
	}
	o := m.origin
	if o == nil {
		o = &onnxpb.ModelProto{}
	}
	p := &onnxpb.ModelProto{
		IrVersion:       keepInt64(o.IrVersion, m.IRVersion),
		ProducerName:    keepStr(o.ProducerName, m.ProducerName),
		ProducerVersion: keepStr(o.ProducerVersion, m.ProducerVersion),
		Domain:          keepStr(o.Domain, m.Domain),
		ModelVersion:    keepInt64(o.ModelVersion, m.ModelVersion),
		DocString:       keepStr(o.DocString, m.DocString),
		MetadataProps:   pairsToProto(m.Metadata),
		TrainingInfo:    o.TrainingInfo,
		Configuration:   o.Configuration,
	}
	for _, op := range m.OpsetImports {
		oo := op.origin
		if oo == nil || oo.GetDomain() != op.Domain || oo.GetVersion() != op.Version {
			d, v := op.Domain, op.Version
			oo = &onnxpb.OperatorSetIdProto{Domain: &d, Version: &v}
		}
		p.OpsetImport = append(p.OpsetImport, oo)
	}
	for _, f := range m.Functions {
		p.Functions = append(p.Functions, f.proto)
	}
	s := &saver{ext: ext, initializersAreInputs: m.IRVersion < 4}
	var err error
	if p.Graph, err = s.graph(m.Graph); err != nil {
		return nil, err
	}
	copyUnknown(p, o)
	return p, nil
}

func pairsToProto(ps []StringPair) []*onnxpb.StringStringEntryProto {
	var out []*onnxpb.StringStringEntryProto
	for _, kv := range ps {
		e := kv.origin
		if e == nil || e.GetKey() != kv.Key || e.GetValue() != kv.Value {
			k, v := kv.Key, kv.Value
			e = &onnxpb.StringStringEntryProto{Key: &k, Value: &v}
		}
		out = append(out, e)
	}
	return out
}

type saver struct {
	ext *externalWriter
	// initializersAreInputs is set below IR version 4, where every
	// initializer must also be declared a graph input: a pass that turns
	// a Constant node into an initializer must declare it too.
	initializersAreInputs bool
}

func (s *saver) graph(g *Graph) (*onnxpb.GraphProto, error) {
	o := g.origin
	if o == nil {
		o = &onnxpb.GraphProto{}
	}
	p := &onnxpb.GraphProto{
		Name:                   keepStr(o.Name, g.Name),
		DocString:              keepStr(o.DocString, g.DocString),
		SparseInitializer:      o.SparseInitializer,
		QuantizationAnnotation: o.QuantizationAnnotation,
		MetadataProps:          o.MetadataProps,
	}
	for _, v := range g.Initializers {
		if v.Const == nil {
			return nil, fmt.Errorf("initializer %q has no data", v.Name)
		}
		tp, err := s.tensor(v.Const, v.Name)
		if err != nil {
			return nil, err
		}
		p.Initializer = append(p.Initializer, tp)
	}
	// A subgraph's inputs and outputs the file left untyped stay so: the
	// runtime reading the file infers them, and a shape inferred here can
	// be stricter than its inference accepts (a one-element vector where
	// its Range wants a scalar).
	sub := g.Parent != nil
	for _, v := range g.Inputs {
		p.Input = append(p.Input, valueInfoProtoKeep(v, g.inputInfo[v], sub))
	}
	if s.initializersAreInputs {
		declared := make(map[*Value]bool, len(g.Inputs))
		for _, v := range g.Inputs {
			declared[v] = true
		}
		for _, v := range g.Initializers {
			if !declared[v] {
				p.Input = append(p.Input, valueInfoProto(v, nil))
			}
		}
	}
	for _, n := range g.Nodes {
		np, err := s.node(n)
		if err != nil {
			return nil, err
		}
		p.Node = append(p.Node, np)
	}
	for _, v := range g.Outputs {
		p.Output = append(p.Output, valueInfoProtoKeep(v, g.outputInfo[v], sub))
	}
	for _, v := range g.ValueInfos {
		p.ValueInfo = append(p.ValueInfo, valueInfoProto(v, g.valueInfo[v]))
	}
	copyUnknown(p, o)
	return p, nil
}

// typeUnchanged reports whether a value's type is still the one it was
// loaded with.
func (v *Value) typeUnchanged() bool {
	return v.DType == v.loadedDType && v.Shape.Equal(v.loadedShape)
}

// valueInfoProtoKeep is valueInfoProto, except that with keepUntyped a
// value loaded without a type is saved without one, whatever inference
// or a pass learned of it since.
func valueInfoProtoKeep(v *Value, o *onnxpb.ValueInfoProto, keepUntyped bool) *onnxpb.ValueInfoProto {
	if keepUntyped && o != nil && o.Type == nil && v.loadedDType == Undefined && o.GetName() == v.Name {
		return o
	}
	return valueInfoProto(v, o)
}

func valueInfoProto(v *Value, o *onnxpb.ValueInfoProto) *onnxpb.ValueInfoProto {
	same := v.typeUnchanged()
	if o != nil && same && o.GetName() == v.Name {
		return o
	}
	if o == nil {
		o = &onnxpb.ValueInfoProto{}
	}
	p := &onnxpb.ValueInfoProto{
		Name:          keepStr(o.Name, v.Name),
		DocString:     o.DocString,
		MetadataProps: o.MetadataProps,
	}
	if same && o.Type != nil {
		p.Type = o.Type
	} else {
		p.Type = typeProto(v.DType, v.Shape)
	}
	if p.Name == nil {
		p.Name = &v.Name
	}
	copyUnknown(p, o)
	return p
}

// typeProto describes a tensor type; nil when the element type is not
// known: a tensor type must name one (ONNX Runtime refuses elem_type 0),
// so a shape alone is not written.
func typeProto(dt DType, shape Shape) *onnxpb.TypeProto {
	if dt == Undefined {
		return nil
	}
	elem := int32(dt)
	tt := &onnxpb.TypeProto_Tensor{ElemType: &elem}
	if shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(shape))}
		for i, d := range shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d.Known():
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case d.Param != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
			}
			tt.Shape.Dim[i] = dim
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
}

func valueNames(vs []*Value, orig []string) []string {
	names := make([]string, len(vs))
	for i, v := range vs {
		if v != nil {
			names[i] = v.Name
		}
	}
	return keepSlice(orig, names)
}

func (s *saver) node(n *Node) (*onnxpb.NodeProto, error) {
	o := n.origin
	if o == nil {
		o = &onnxpb.NodeProto{}
	}
	p := &onnxpb.NodeProto{
		Input:                valueNames(n.Inputs, o.Input),
		Output:               valueNames(n.Outputs, o.Output),
		Name:                 keepStr(o.Name, n.Name),
		OpType:               keepStr(o.OpType, n.OpType),
		Domain:               keepStr(o.Domain, n.Domain),
		Overload:             keepStr(o.Overload, n.Overload),
		DocString:            keepStr(o.DocString, n.DocString),
		MetadataProps:        o.MetadataProps,
		DeviceConfigurations: o.DeviceConfigurations,
	}
	for _, a := range n.Attrs {
		ap, err := s.attribute(a)
		if err != nil {
			return nil, fmt.Errorf("node %s attribute %q: %w", nodeLabel(n), a.Name, err)
		}
		p.Attribute = append(p.Attribute, ap)
	}
	copyUnknown(p, o)
	return p, nil
}

func (s *saver) attribute(a *Attribute) (*onnxpb.AttributeProto, error) {
	o := a.origin
	if o == nil {
		o = &onnxpb.AttributeProto{}
	}
	// A new attribute, or one whose type changed, writes its value field
	// even when it holds the zero value.
	force := a.origin == nil || (o.Type != nil && AttrType(o.GetType()) != a.Type) || (o.Type == nil && guessAttrType(o) != a.Type)
	p := &onnxpb.AttributeProto{
		Name:          keepStr(o.Name, a.Name),
		RefAttrName:   keepStr(o.RefAttrName, a.RefAttrName),
		DocString:     keepStr(o.DocString, a.DocString),
		F:             keepFloat(o.F, a.Float, force && a.Type == AttrFloat),
		I:             keepInt64(o.I, a.Int),
		Floats:        keepFloats(o.Floats, a.Floats),
		Ints:          keepSlice(o.Ints, a.Ints),
		SparseTensor:  o.SparseTensor,
		Tp:            o.Tp,
		SparseTensors: o.SparseTensors,
		TypeProtos:    o.TypeProtos,
	}
	if o.Type != nil || force {
		t := onnxpb.AttributeProto_AttributeType(a.Type)
		if o.Type != nil && *o.Type == t {
			p.Type = o.Type
		} else {
			p.Type = &t
		}
	}
	if force && a.Type == AttrInt && p.I == nil {
		p.I = &a.Int
	}
	switch {
	case o.S != nil && string(o.S) == a.String:
		p.S = o.S
	case a.String != "" || force && a.Type == AttrString:
		p.S = []byte(a.String)
	}
	strs := make([][]byte, len(a.Strings))
	same := len(o.Strings) == len(a.Strings)
	for i, str := range a.Strings {
		strs[i] = []byte(str)
		same = same && string(o.Strings[i]) == str
	}
	if same {
		strs = o.Strings
	}
	p.Strings = strs
	var err error
	if a.Tensor != nil {
		if p.T, err = s.tensor(a.Tensor, a.Tensor.Name); err != nil {
			return nil, err
		}
	}
	for _, t := range a.Tensors {
		tp, err := s.tensor(t, t.Name)
		if err != nil {
			return nil, err
		}
		p.Tensors = append(p.Tensors, tp)
	}
	if a.Graph != nil {
		if p.G, err = s.graph(a.Graph); err != nil {
			return nil, err
		}
	}
	for _, g := range a.Graphs {
		gp, err := s.graph(g)
		if err != nil {
			return nil, err
		}
		p.Graphs = append(p.Graphs, gp)
	}
	copyUnknown(p, o)
	return p, nil
}

func (s *saver) tensor(t *Tensor, name string) (*onnxpb.TensorProto, error) {
	o := t.origin
	if o == nil {
		o = &onnxpb.TensorProto{}
	}
	p := &onnxpb.TensorProto{
		Dims:          keepSlice(o.Dims, t.Dims),
		DataType:      keepInt32(o.DataType, int32(t.DType), t.origin == nil),
		Segment:       o.Segment,
		Name:          keepStr(o.Name, name),
		DocString:     keepStr(o.DocString, t.DocString),
		MetadataProps: o.MetadataProps,
	}
	switch {
	case s.ext != nil && t.DType != String && t.ByteSize() >= s.ext.threshold:
		raw, err := t.Raw()
		if err != nil {
			return nil, err
		}
		p.ExternalData = s.ext.add(raw)
		loc := onnxpb.TensorProto_EXTERNAL
		p.DataLocation = &loc
	case t.origin != nil && !t.replaced && !t.external:
		p.RawData = o.RawData
		p.FloatData = o.FloatData
		p.Int32Data = o.Int32Data
		p.StringData = o.StringData
		p.Int64Data = o.Int64Data
		p.DoubleData = o.DoubleData
		p.Uint64Data = o.Uint64Data
		p.DataLocation = o.DataLocation
	case t.DType == String:
		p.StringData = t.strs
	default:
		p.RawData = t.raw
		if p.RawData == nil {
			p.RawData = []byte{}
		}
	}
	copyUnknown(p, o)
	return p, nil
}
