package testmodels

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Model is one generated test model.
type Model struct {
	// Name is the file name in testdata/models, without ".onnx".
	Name string
	// Opset is the default-domain opset the model imports.
	Opset int64
	build func() ([]byte, error)
}

// Bytes returns the serialized model.
func (m Model) Bytes() ([]byte, error) {
	data, err := m.build()
	if err != nil {
		return nil, fmt.Errorf("test model %s: %w", m.Name, err)
	}
	return data, nil
}

// Decode returns the model decoded into the IR.
func (m Model) Decode() (*graph.Model, error) {
	data, err := m.Bytes()
	if err != nil {
		return nil, err
	}
	return graph.Decode(data, "")
}

// All lists the generated models, in file name order.
func All() []Model {
	return []Model{
		{Name: "convnet", Opset: 17, build: ConvNet},
		{Name: "dtypes", Opset: 17, build: DTypes},
		{Name: "if_outer", Opset: 17, build: IfOuter},
		{Name: "int4", Opset: 21, build: Int4},
		{Name: "matmul_softmax", Opset: 17, build: MatMulSoftmax},
		{Name: "metadata", Opset: 17, build: Metadata},
	}
}

// ByName returns the model with the given name.
func ByName(name string) (Model, bool) {
	for _, m := range All() {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// builder wraps the graph editing API, keeping the first error. Unlike
// graph.Builder it runs no shape inference, so a model's bytes depend only
// on this package.
type builder struct {
	g   *graph.Graph
	err error
}

func newBuilder(name string) *builder { return &builder{g: graph.NewGraph(name)} }

func (b *builder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

func (b *builder) input(name string, dt graph.DType, shape graph.Shape) *graph.Value {
	v, err := b.g.AddInput(name, dt, shape)
	b.fail(err)
	return v
}

func (b *builder) init(t *graph.Tensor, err error) *graph.Value {
	if err != nil {
		b.fail(err)
		return nil
	}
	v, err := b.g.AddInitializer(t)
	b.fail(err)
	return v
}

// node adds a node; outs names its outputs ("" omits one), and args are
// *graph.Value inputs (nil omits one) and *graph.Attribute attributes.
func (b *builder) node(op, name string, outs []string, args ...any) []*graph.Value {
	n := &graph.Node{OpType: op, Name: name}
	for _, a := range args {
		switch x := a.(type) {
		case *graph.Value:
			n.Inputs = append(n.Inputs, x)
		case *graph.Attribute:
			n.Attrs = append(n.Attrs, x)
		case nil:
			n.Inputs = append(n.Inputs, nil)
		default:
			b.fail(fmt.Errorf("node %s: argument of type %T", name, a))
		}
	}
	if b.err != nil {
		return make([]*graph.Value, len(outs))
	}
	b.fail(b.g.AddNode(n, outs...))
	if len(n.Outputs) != len(outs) {
		return make([]*graph.Value, len(outs))
	}
	return n.Outputs
}

// op adds a node with one output named after the node.
func (b *builder) op(op, name string, args ...any) *graph.Value {
	return b.node(op, name, []string{name}, args...)[0]
}

func (b *builder) output(v *graph.Value, dt graph.DType, shape graph.Shape) {
	if v == nil {
		b.fail(fmt.Errorf("graph %q: missing output", b.g.Name))
		return
	}
	v.DType, v.Shape = dt, shape
	b.g.AddOutput(v)
}

// model wraps the graph in a model (encode checks it).
func (b *builder) model(opset int64) (*graph.Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := graph.NewModel(b.g, opset)
	m.ProducerName = "onnxq-testmodels"
	return m, nil
}

// encode checks and serializes m, then lets edit change the protobuf
// message for what the IR cannot express (typed tensor storage, functions).
func encode(m *graph.Model, edit func(*onnxpb.ModelProto) error) ([]byte, error) {
	if err := m.Verify(); err != nil {
		return nil, err
	}
	data, err := graph.Encode(m)
	if err != nil || edit == nil {
		return data, err
	}
	p := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, p); err != nil {
		return nil, err
	}
	if err := edit(p); err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

// rng is a splitmix64 generator: fixed output for a seed, on every Go version.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// floats returns n values in [-scale, scale), rounded to multiples of
// 1/1024 so they print short in dumps.
func (r *rng) floats(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := int32(r.next()>>53) - 1024 // [-1024, 1024)
		out[i] = float32(v) / 1024 * scale
	}
	return out
}

func f32(name string, dims []int64, data []float32) (*graph.Tensor, error) {
	return graph.FromFloat32s(name, dims, data)
}

func dims(d ...int64) []int64 { return d }

// sym is a shape whose first dimension is the symbolic "batch".
func sym(param string, rest ...int64) graph.Shape {
	return append(graph.Shape{{Size: -1, Param: param}}, graph.Fixed(rest...)...)
}

// ConvNet is a small image classifier: Conv → Relu → MaxPool → Flatten →
// Gemm, with a symbolic batch dimension.
func ConvNet() ([]byte, error) {
	r := rng(1)
	b := newBuilder("convnet")
	x := b.input("image", graph.Float32, sym("batch", 1, 8, 8))
	w := b.init(f32("conv.weight", dims(4, 1, 3, 3), r.floats(36, 0.5)))
	bias := b.init(f32("conv.bias", dims(4), r.floats(4, 0.1)))
	conv := b.op("Conv", "conv", x, w, bias,
		graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1),
		graph.IntsAttr("strides", 1, 1), graph.IntsAttr("dilations", 1, 1), graph.IntAttr("group", 1))
	relu := b.op("Relu", "relu", conv)
	pool := b.op("MaxPool", "pool", relu,
		graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2), graph.StringAttr("auto_pad", "NOTSET"))
	flat := b.op("Flatten", "flatten", pool, graph.IntAttr("axis", 1))
	fw := b.init(f32("fc.weight", dims(10, 64), r.floats(640, 0.25)))
	fb := b.init(f32("fc.bias", dims(10), r.floats(10, 0.1)))
	logits := b.op("Gemm", "logits", flat, fw, fb,
		graph.FloatAttr("alpha", 1), graph.FloatAttr("beta", 1), graph.IntAttr("transB", 1))
	b.output(logits, graph.Float32, sym("batch", 10))
	m, err := b.model(17)
	if err != nil {
		return nil, err
	}
	m.DocString = "A small convolutional classifier for 8x8 images."
	return encode(m, nil)
}

// batchSeq is the shape [batch, seq, n] with two symbolic dimensions.
func batchSeq(n int64) graph.Shape {
	return graph.Shape{{Size: -1, Param: "batch"}, {Size: -1, Param: "seq"}, {Size: n}}
}

// MatMulSoftmax is an attention-like block: MatMul → Add → Softmax, then
// TopK (two outputs of different types) and a Clip with an omitted input.
func MatMulSoftmax() ([]byte, error) {
	r := rng(2)
	b := newBuilder("matmul_softmax")
	x := b.input("tokens", graph.Float32, batchSeq(16))
	w := b.init(f32("proj.weight", dims(16, 16), r.floats(256, 0.25)))
	bias := b.init(f32("proj.bias", dims(16), r.floats(16, 0.1)))
	k := b.init(graph.FromInt64s("topk.k", dims(1), []int64{4}))
	hi := b.init(f32("clip.max", dims(), []float32{0.75}))
	mm := b.op("MatMul", "proj", x, w)
	add := b.op("Add", "proj_bias", mm, bias)
	sm := b.op("Softmax", "probs", add, graph.IntAttr("axis", -1))
	clip := b.op("Clip", "clipped", sm, nil, hi)
	top := b.node("TopK", "top", []string{"top_values", "top_indices"}, sm, k,
		graph.IntAttr("axis", -1), graph.IntAttr("largest", 1), graph.IntAttr("sorted", 1))
	b.output(clip, graph.Float32, batchSeq(16))
	b.output(top[0], graph.Float32, batchSeq(4))
	b.output(top[1], graph.Int64, batchSeq(4))
	m, err := b.model(17)
	if err != nil {
		return nil, err
	}
	return encode(m, nil)
}

// IfOuter has an If whose branches read a value of the main graph: the
// then branch adds its own initializer, the else branch multiplies by a
// Constant node's tensor attribute.
func IfOuter() ([]byte, error) {
	b := newBuilder("if_outer")
	cond := b.input("cond", graph.Bool, graph.Fixed())
	x := b.input("x", graph.Float32, graph.Fixed(2, 3))
	a := b.op("Relu", "a", x)

	then := &builder{g: graph.NewGraph("then_branch")}
	then.g.Parent = b.g // lets the branch's nodes name outer values
	c := then.init(f32("then_c", dims(3), []float32{1, 2, 3}))
	then.output(then.op("Add", "then_out", a, c), graph.Float32, graph.Fixed(2, 3))

	els := &builder{g: graph.NewGraph("else_branch")}
	els.g.Parent = b.g
	kt, err := f32("else_k", dims(), []float32{-2})
	if err != nil {
		return nil, err
	}
	k := els.op("Constant", "else_k", graph.TensorAttr("value", kt))
	els.output(els.op("Mul", "else_out", a, k), graph.Float32, graph.Fixed(2, 3))
	b.fail(then.err)
	b.fail(els.err)

	y := b.op("If", "choose", cond, graph.GraphAttr("then_branch", then.g), graph.GraphAttr("else_branch", els.g))
	b.output(y, graph.Float32, graph.Fixed(2, 3))
	m, err := b.model(17)
	if err != nil {
		return nil, err
	}
	return encode(m, nil)
}

// Metadata carries model metadata, doc strings, a value_info entry, a
// second operator domain and a model-local function called by a node.
func Metadata() ([]byte, error) {
	const domain = "org.onnxq.test"
	b := newBuilder("metadata")
	b.g.DocString = "Graph documentation."
	x := b.input("x", graph.Float32, sym("n", 4))
	r := b.op("Relu", "r", x)
	r.DType, r.Shape = graph.Float32, sym("n", 4)
	b.g.ValueInfos = append(b.g.ValueInfos, r)
	twice := b.node("AddSelf", "twice", []string{"twice"}, r)[0]
	if b.err == nil {
		twice.Producer.Domain = domain
		twice.Producer.DocString = "Calls the model-local function AddSelf."
	}
	y := b.op("Identity", "y", twice)
	b.output(y, graph.Float32, sym("n", 4))
	m, err := b.model(17)
	if err != nil {
		return nil, err
	}
	m.ProducerVersion = "1.0"
	m.Domain = "org.onnxq"
	m.ModelVersion = 3
	m.DocString = "Metadata, doc strings and a model-local function."
	m.Metadata = []graph.StringPair{{Key: "author", Value: "onnxq"}, {Key: "purpose", Value: "tests"}}
	m.OpsetImports = append(m.OpsetImports, graph.OpsetImport{Domain: domain, Version: 1})
	return encode(m, func(p *onnxpb.ModelProto) error {
		s := func(v string) *string { return &v }
		opset := int64(17)
		p.Functions = append(p.Functions, &onnxpb.FunctionProto{
			Name:        s("AddSelf"),
			Domain:      s(domain),
			Input:       []string{"X"},
			Output:      []string{"Y"},
			Node:        []*onnxpb.NodeProto{{Input: []string{"X", "X"}, Output: []string{"Y"}, OpType: s("Add"), Name: s("add")}},
			DocString:   s("Y = X + X"),
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: &opset}},
		})
		return nil
	})
}

// DTypes holds initializers of many element types, some in raw_data and
// some in the typed fields (float_data, int32_data, int64_data,
// double_data, uint64_data, string_data), each read by a node.
func DTypes() ([]byte, error) {
	b := newBuilder("dtypes")
	x := b.input("x", graph.Float32, graph.Fixed(2, 3))
	typed := map[string]bool{}
	tensor := func(name string, dt graph.DType, d []int64, raw []byte, asTyped bool) *graph.Value {
		if asTyped {
			typed[name] = true
		}
		return b.init(graph.NewTensor(name, dt, d, raw))
	}
	i64 := func(v ...int64) []byte { return le(8, len(v), func(i int) uint64 { return uint64(v[i]) }) }

	// int64: reshape targets, raw and typed.
	b.output(b.op("Reshape", "reshaped", x, tensor("shape_raw", graph.Int64, dims(2), i64(3, 2), false)), graph.Float32, graph.Fixed(3, 2))
	b.output(b.op("Reshape", "column", x, tensor("shape_typed", graph.Int64, dims(2), i64(6, 1), true)), graph.Float32, graph.Fixed(6, 1))
	// float32 in float_data.
	b.output(b.op("Add", "biased", x, tensor("bias_typed", graph.Float32, dims(3), f32bytes(0.5, -1.25, 2), true)), graph.Float32, graph.Fixed(2, 3))
	// int8 and uint8 through DequantizeLinear; zero points in the other storage.
	scale := tensor("scale", graph.Float32, dims(), f32bytes(0.125), false)
	qi8 := tensor("q_i8", graph.Int8, dims(2, 3), []byte{0x80, 0xff, 0, 1, 0x7f, 0xfd}, false)
	zpi8 := tensor("zp_i8", graph.Int8, dims(), []byte{0xfe}, true)
	b.output(b.op("DequantizeLinear", "deq_i8", qi8, scale, zpi8), graph.Float32, graph.Fixed(2, 3))
	qu8 := tensor("q_u8", graph.Uint8, dims(2, 3), []byte{0, 1, 127, 128, 200, 255}, true)
	zpu8 := tensor("zp_u8", graph.Uint8, dims(), []byte{128}, false)
	b.output(b.op("DequantizeLinear", "deq_u8", qu8, scale, zpu8), graph.Float32, graph.Fixed(2, 3))
	// float16 (1, -2, 65504) and bool, raw and typed.
	half := []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b}
	b.output(b.op("Cast", "half_raw_f32", tensor("half_raw", graph.Float16, dims(3), half, false), graph.IntAttr("to", int64(graph.Float32))), graph.Float32, graph.Fixed(3))
	b.output(b.op("Cast", "half_typed_f32", tensor("half_typed", graph.Float16, dims(3), half, true), graph.IntAttr("to", int64(graph.Float32))), graph.Float32, graph.Fixed(3))
	b.output(b.op("Not", "mask_not", tensor("mask_raw", graph.Bool, dims(3), []byte{1, 0, 1}, false)), graph.Bool, graph.Fixed(3))
	b.output(b.op("Identity", "mask_id", tensor("mask_typed", graph.Bool, dims(3), []byte{0, 1, 1}, true)), graph.Bool, graph.Fixed(3))
	// strings live in string_data only.
	words := b.init(graph.FromStrings("words", dims(2), []string{"hello", "wörld"}))
	b.output(b.op("Identity", "words_id", words), graph.String, graph.Fixed(2))
	// The remaining typed fields and a few more raw types.
	more := []struct {
		name  string
		dt    graph.DType
		raw   []byte
		typed bool
	}{
		{"f64_typed", graph.Float64, le(8, 2, func(i int) uint64 { return math.Float64bits([]float64{1.5, -3}[i]) }), true},
		{"u64_typed", graph.Uint64, i64(1, math.MinInt64+5), true},
		{"u32_typed", graph.Uint32, le(4, 2, func(i int) uint64 { return []uint64{7, 1<<32 - 1}[i] }), true},
		{"i32_typed", graph.Int32, le(4, 2, func(i int) uint64 { return uint64([]int64{-7, 1 << 30}[i]) }), true},
		{"i16_raw", graph.Int16, le(2, 2, func(i int) uint64 { return uint64([]int64{-300, 300}[i]) }), false},
		{"u16_typed", graph.Uint16, le(2, 2, func(i int) uint64 { return []uint64{1, 65535}[i] }), true},
		{"bf16_raw", graph.BFloat16, []byte{0x80, 0x3f, 0x00, 0xc0}, false},
	}
	for _, c := range more {
		v := tensor(c.name, c.dt, dims(2), c.raw, c.typed)
		b.output(b.op("Identity", c.name+"_id", v), c.dt, graph.Fixed(2))
	}
	m, err := b.model(17)
	if err != nil {
		return nil, err
	}
	return encode(m, typedStorage(typed))
}

// Int4 holds 4-bit and 8-bit float weights read by DequantizeLinear
// (opset 21): int4 with an odd element count (a padding nibble), raw and
// typed (one packed byte per int32_data entry), uint4, and float8.
func Int4() ([]byte, error) {
	b := newBuilder("int4")
	typed := map[string]bool{}
	tensor := func(name string, dt graph.DType, d []int64, raw []byte, asTyped bool) *graph.Value {
		if asTyped {
			typed[name] = true
		}
		return b.init(graph.NewTensor(name, dt, d, raw))
	}
	scale := tensor("scale", graph.Float32, dims(), f32bytes(0.5), false)
	// int4 elements 1, -2, 7, -8, 3: low nibble first, the last high nibble is padding.
	wi4 := tensor("w_i4", graph.Int4, dims(5), []byte{0xe1, 0x87, 0x03}, false)
	zpi4 := tensor("zp_i4", graph.Int4, dims(), []byte{0x0f}, true)
	b.output(b.op("DequantizeLinear", "deq_i4", wi4, scale, zpi4), graph.Float32, graph.Fixed(5))
	wu4 := tensor("w_u4", graph.Uint4, dims(2, 2), []byte{0x21, 0xf0}, true)
	zpu4 := tensor("zp_u4", graph.Uint4, dims(), []byte{0x08}, false)
	b.output(b.op("DequantizeLinear", "deq_u4", wu4, scale, zpu4), graph.Float32, graph.Fixed(2, 2))
	wf8 := tensor("w_f8", graph.Float8E4M3FN, dims(3), []byte{0x38, 0xb8, 0x7e}, false)
	b.output(b.op("DequantizeLinear", "deq_f8", wf8, scale), graph.Float32, graph.Fixed(3))
	m, err := b.model(21)
	if err != nil {
		return nil, err
	}
	return encode(m, typedStorage(typed))
}

// le packs n little-endian values of size bytes each.
func le(size, n int, val func(i int) uint64) []byte {
	out := make([]byte, size*n)
	for i := 0; i < n; i++ {
		v := val(i)
		for j := 0; j < size; j++ {
			out[i*size+j] = byte(v >> (8 * j))
		}
	}
	return out
}

func f32bytes(v ...float32) []byte {
	return le(4, len(v), func(i int) uint64 { return uint64(math.Float32bits(v[i])) })
}

// typedStorage moves the data of the named main-graph initializers from
// raw_data into the typed field the format assigns to their element type.
func typedStorage(names map[string]bool) func(*onnxpb.ModelProto) error {
	return func(p *onnxpb.ModelProto) error {
		done := 0
		for _, t := range p.GetGraph().GetInitializer() {
			if !names[t.GetName()] {
				continue
			}
			if err := toTyped(t); err != nil {
				return fmt.Errorf("tensor %q: %w", t.GetName(), err)
			}
			done++
		}
		if done != len(names) {
			return fmt.Errorf("typed storage: %d of %d tensors found", done, len(names))
		}
		return nil
	}
}

// toTyped rewrites a tensor's raw_data into its typed field.
func toTyped(t *onnxpb.TensorProto) error {
	raw := t.RawData
	dt := graph.DType(t.GetDataType())
	u := binary.LittleEndian
	switch dt {
	case graph.Float32:
		for i := 0; i < len(raw); i += 4 {
			t.FloatData = append(t.FloatData, math.Float32frombits(u.Uint32(raw[i:])))
		}
	case graph.Float64:
		for i := 0; i < len(raw); i += 8 {
			t.DoubleData = append(t.DoubleData, math.Float64frombits(u.Uint64(raw[i:])))
		}
	case graph.Int64:
		for i := 0; i < len(raw); i += 8 {
			t.Int64Data = append(t.Int64Data, int64(u.Uint64(raw[i:])))
		}
	case graph.Uint64:
		for i := 0; i < len(raw); i += 8 {
			t.Uint64Data = append(t.Uint64Data, u.Uint64(raw[i:]))
		}
	case graph.Uint32:
		for i := 0; i < len(raw); i += 4 {
			t.Uint64Data = append(t.Uint64Data, uint64(u.Uint32(raw[i:])))
		}
	case graph.Int32:
		for i := 0; i < len(raw); i += 4 {
			t.Int32Data = append(t.Int32Data, int32(u.Uint32(raw[i:])))
		}
	case graph.Int16:
		for i := 0; i < len(raw); i += 2 {
			t.Int32Data = append(t.Int32Data, int32(int16(u.Uint16(raw[i:]))))
		}
	case graph.Uint16, graph.Float16, graph.BFloat16:
		for i := 0; i < len(raw); i += 2 {
			t.Int32Data = append(t.Int32Data, int32(u.Uint16(raw[i:])))
		}
	case graph.Int8:
		for _, c := range raw {
			t.Int32Data = append(t.Int32Data, int32(int8(c)))
		}
	default:
		// One byte per entry: 8-bit types, bool, and sub-byte types
		// (two 4-bit elements packed per byte, as in raw form).
		if dt.Bits() > 8 || dt.Bits() == 0 {
			return fmt.Errorf("no typed storage for %v", dt)
		}
		for _, c := range raw {
			t.Int32Data = append(t.Int32Data, int32(c))
		}
	}
	t.RawData = nil
	return nil
}

// TwoHeads builds two Convs of x (1×2×6×6) whose only readers are float
// ops: A (3×3, padded) → Sigmoid, cheap to give an output Q/DQ, and B
// (1×1, bias −100 on one channel) → Exp, whose output range that far
// channel stretches, so a Q/DQ on it ruins the Exp of the other channel.
// It is not in All: tests build it in memory.
func TwoHeads() (*graph.Model, error) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	wa := make([]float32, 2*2*3*3)
	for i := range wa {
		wa[i] = float32(i%5-2) / 8
	}
	a := b.Op("Conv", x, b.Const(graph.FromFloat32s("wa", []int64{2, 2, 3, 3}, wa)), graph.IntsAttr("pads", 1, 1, 1, 1))
	wb := b.Const(graph.FromFloat32s("wb", []int64{2, 2, 1, 1}, []float32{0.5, -0.25, 0.75, 0.5}))
	y := b.Op("Conv", x, wb, b.Const(graph.FromFloat32s("bb", []int64{2}, []float32{-100, 0})))
	b.Output(b.Op("Sigmoid", a), b.Op("Exp", y))
	return b.Model()
}

// Encoder builds a small transformer encoder as exporters write one: x
// (1×16×32) plus a constant position table, then two layers of
// self-attention (2 heads; MatMul and bias Add projections, Softmax) and a
// feed-forward block with a GELU written out as x·0.5·(1+erf(x/√2)), each
// followed by a residual Add and LayerNormalization. It is not in All:
// tests build it in memory.
func Encoder() (*graph.Model, error) {
	const seq, width, heads, ffn = 16, 32, 2, 64
	r := rng(7)
	b := graph.NewBuilder(17)
	count := 0
	param := func(scale float32, d ...int64) *graph.Value {
		n := int64(1)
		for _, x := range d {
			n *= x
		}
		count++
		return b.Const(f32(fmt.Sprintf("p%d", count), d, r.floats(int(n), scale)))
	}
	scalar := func(v float32) *graph.Value {
		count++
		return b.Const(f32(fmt.Sprintf("k%d", count), nil, []float32{v}))
	}
	shape := func(d ...int64) *graph.Value {
		count++
		return b.Const(graph.FromInt64s(fmt.Sprintf("s%d", count), []int64{int64(len(d))}, d))
	}
	linear := func(x *graph.Value, in, out int64) *graph.Value {
		return b.Op("Add", b.Op("MatMul", x, param(float32(1.7/math.Sqrt(float64(in))), in, out)), param(0.1, out))
	}
	norm := func(x *graph.Value) *graph.Value {
		ones := make([]float32, width)
		for i := range ones {
			ones[i] = 1
		}
		count++
		gamma := b.Const(f32(fmt.Sprintf("gamma%d", count), dims(width), ones))
		return b.Op("LayerNormalization", x, gamma, param(0.1, width), graph.IntAttr("axis", -1))
	}
	split := func(x *graph.Value, perm ...int64) *graph.Value {
		return b.Op("Transpose", b.Op("Reshape", x, shape(1, seq, heads, width/heads)), graph.IntsAttr("perm", perm...))
	}
	x := b.Op("Add", b.Input("x", graph.Float32, 1, seq, width), param(0.5, 1, seq, width))
	for range 2 {
		q := split(linear(x, width, width), 0, 2, 1, 3)
		k := split(linear(x, width, width), 0, 2, 3, 1)
		v := split(linear(x, width, width), 0, 2, 1, 3)
		att := b.Op("Softmax", b.Op("Div", b.Op("MatMul", q, k), scalar(4)), graph.IntAttr("axis", -1))
		ctx := b.Op("Reshape", b.Op("Transpose", b.Op("MatMul", att, v), graph.IntsAttr("perm", 0, 2, 1, 3)), shape(1, seq, width))
		x = norm(b.Op("Add", x, linear(ctx, width, width)))
		h := linear(x, width, ffn)
		gelu := b.Op("Mul", b.Op("Mul", h, scalar(0.5)),
			b.Op("Add", b.Op("Erf", b.Op("Div", h, scalar(float32(math.Sqrt2)))), scalar(1)))
		x = norm(b.Op("Add", x, linear(gelu, ffn, width)))
	}
	b.Output(x)
	return b.Model()
}
