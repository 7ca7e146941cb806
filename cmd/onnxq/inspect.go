package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/spf13/pflag"
)

// inspectConfig is the typed form of the inspect command line.
type inspectConfig struct {
	Model string
	JSON  bool
	// Shapes fixes the dynamic dimensions of inputs for the MAC counts.
	Shapes map[string][]int64
}

var inspectCommand = &command{
	name:    "inspect",
	args:    "MODEL [--json] [--shape NAME=DIMS ...]",
	summary: "describe a model: versions, inputs/outputs, op counts, parameters, MACs, Q/DQ nodes",
	doc: `Inspect loads MODEL and reports its IR version, opset imports, producer,
graph inputs and outputs (dtype and shape; symbolic dimensions by name,
unknown ones as ?), the count of each op type (nodes of If/Loop/Scan
bodies included), parameters (elements and bytes per element type, from
initializers and Constant nodes), multiply-accumulates of Conv,
ConvTranspose, Gemm, MatMul (and their integer forms), Einsum, LSTM, GRU
and RNN from inferred shapes, quantization nodes, subgraphs, model-local functions and
metadata.

"INT8 MAC coverage" is the share of those MACs (Conv, ConvTranspose,
Gemm, MatMul, Einsum, which no rule quantizes) in complete Q/DQ units, which ONNX Runtime runs as integer
kernels: every data and weight input comes from a DequantizeLinear of
8-bit integers, a bias is absent or a DequantizeLinear of an int32
constant, and the output feeds only QuantizeLinear nodes (Gemm and
MatMul may also keep a purely float output: QGemm and
MatMulIntegerToFloat). QLinearConv, QLinearMatMul, ConvInteger and
MatMulInteger nodes (a --format qop file, dynamic quantization) are
integer kernels already and count as covered. An FP32 model covers 0%.
LSTM, GRU and RNN nodes compute in float whatever their weights hold:
"recurrent" gives their share of all the MACs, which the coverage leaves
out. "ORT CPU float" counts
the units ONNX Runtime's CPU kernels (1.30) still run in float: a
ConvTranspose, which its QDQ transformer does not fuse, a MatMul whose
float output an Add of a constant reads, which it first fuses into a float
Gemm, and a Gemm whose weight's DequantizeLinear has no zero point, which
its QGemm fusion passes over. "int8 inputs", given when it differs from
the units, counts the weighted nodes whose data and weight inputs come
from 8-bit DequantizeLinear nodes whatever reads their output: TensorRT
runs those in INT8.

Inputs with dynamic dimensions leave the MACs of the nodes they reach
unknown; --shape NAME=1,3,224,224 (repeatable) fixes an input's shape
for the count.

With --json the same facts are printed as one JSON object.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &inspectConfig{}
		fs.BoolVar(&cfg.JSON, "json", false, "print the report as a JSON object")
		var shapes []string
		fs.StringArrayVar(&shapes, "shape", nil, "fix an input's shape for the MAC counts: `NAME=DIMS`, sizes separated by commas (x=1,3,224,224); repeatable")
		return func(c *cli, args []string) error {
			var err error
			if cfg.Shapes, err = parseShapes(shapes); err != nil {
				return usageErrorf("inspect", "%v", err)
			}
			switch {
			case len(args) == 0:
				return usageErrorf("inspect", "inspect needs a MODEL to read")
			case len(args) > 1:
				return usageErrorf("inspect", "inspect reads one model: unexpected %q", args[1])
			}
			cfg.Model = args[0]
			return c.inspect(cfg)
		}
	},
}

func (c *cli) inspect(cfg *inspectConfig) error {
	m, err := graph.Load(cfg.Model)
	if err != nil {
		return err
	}
	if err := graph.FixInputShapes(m.Graph, cfg.Shapes); err != nil {
		return fmt.Errorf("%s: --shape: %v", cfg.Model, err)
	}
	r, err := Inspect(m)
	if err != nil {
		return fmt.Errorf("%s: %v", cfg.Model, err)
	}
	if cfg.JSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(c.stdout, cfg.Model)
}

// Report is what inspect says about a model. Its JSON form is the output
// of "inspect --json"; field names are part of the command's interface.
type Report struct {
	IRVersion       int64         `json:"ir_version"`
	OpsetImports    []OpsetReport `json:"opset_imports"`
	ProducerName    string        `json:"producer_name"`
	ProducerVersion string        `json:"producer_version"`
	GraphName       string        `json:"graph_name"`
	Inputs          []ValueReport `json:"inputs"`
	Outputs         []ValueReport `json:"outputs"`
	// Nodes counts the nodes of all graphs, subgraphs included.
	Nodes int `json:"nodes"`
	// OpCounts maps op type (prefixed "domain:" outside the default
	// domain) to its node count, subgraphs included.
	OpCounts   map[string]int  `json:"op_counts"`
	Parameters ParameterReport `json:"parameters"`
	MACs       MACReport       `json:"macs"`
	QDQ        QDQReport       `json:"qdq"`
	// Coverage is the share of the weighted ops' MACs that sit in
	// complete Q/DQ units, the form integer kernels run.
	Coverage  CoverageReport   `json:"int8_mac_coverage"`
	Subgraphs []SubgraphReport `json:"subgraphs"`
	Functions []FunctionReport `json:"functions"`
	Metadata  []MetadataReport `json:"metadata"`
}

// MetadataReport is one metadata_props entry, in file order.
type MetadataReport struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OpsetReport is one operator set import; the default domain is shown as
// "ai.onnx".
type OpsetReport struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// ValueReport is a graph input or output as declared in the file.
type ValueReport struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	// Shape holds a number per known dimension and a string for the
	// others (the symbolic name, or "?"); null when the rank is unknown.
	Shape []DimReport `json:"shape"`
}

// DimReport is one dimension: a size, or a symbolic name ("?" if none).
type DimReport struct {
	Size  int64
	Param string
}

// MarshalJSON writes a known size as a number and anything else as a string.
func (d DimReport) MarshalJSON() ([]byte, error) {
	if d.Size >= 0 {
		return []byte(strconv.FormatInt(d.Size, 10)), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads what MarshalJSON writes, so reports can be read back.
func (d *DimReport) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*d = DimReport{Size: -1}
		if s != "?" {
			d.Param = s
		}
		return nil
	}
	*d = DimReport{}
	return json.Unmarshal(b, &d.Size)
}

func (d DimReport) String() string {
	switch {
	case d.Size >= 0:
		return strconv.FormatInt(d.Size, 10)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// ParameterReport counts the constant tensors of the model: initializers
// of every graph and the tensors of Constant nodes.
type ParameterReport struct {
	ByDType  map[string]DTypeCount `json:"by_dtype"`
	Elements int64                 `json:"elements"`
	Bytes    int64                 `json:"bytes"`
	// Tensors is the number of constant tensors, split by where they are held.
	Tensors      int `json:"tensors"`
	Initializers int `json:"initializers"`
	Constants    int `json:"constants"`
}

// DTypeCount is the parameter count and size of one element type.
type DTypeCount struct {
	Tensors  int   `json:"tensors"`
	Elements int64 `json:"elements"`
	Bytes    int64 `json:"bytes"`
}

// MACReport counts multiply-accumulates of the matrix and convolution ops.
type MACReport struct {
	Total int64            `json:"total"`
	ByOp  map[string]int64 `json:"by_op"`
	// Unknown counts the nodes whose shapes are not known, so their MACs
	// are not in Total.
	Unknown      int            `json:"unknown"`
	UnknownByOp  map[string]int `json:"unknown_by_op"`
	InferenceErr string         `json:"inference_error,omitempty"`
	// DynamicInputs tells whether some input's shape has a dimension
	// of unknown size (--shape fixes it); unknown MACs of a model whose
	// inputs are all fixed come from what inference cannot size.
	DynamicInputs bool `json:"dynamic_inputs"`
}

// unknownMACsHint says what leaves MACs unknown: dynamic input sizes,
// which --shape fixes, or values shape inference cannot size (inside or
// after a Loop, If or Scan), or a count too large for int64.
func (mc MACReport) unknownMACsHint() string {
	if mc.DynamicInputs {
		return "--shape NAME=DIMS fixes dynamic input sizes"
	}
	return "the inputs' sizes are fixed: shape inference cannot size these (inside or after a Loop, If or Scan, or past an op it does not follow), or their count passes 2^63; onnxq's quantize summary counts them as a run executes them"
}

// QDQReport counts quantization nodes and integer (quantized) ops.
type QDQReport struct {
	QuantizeLinear   int `json:"quantize_linear"`
	DequantizeLinear int `json:"dequantize_linear"`
	// IntegerOps counts the other quantized op types by name:
	// QLinearConv, MatMulInteger, DynamicQuantizeLinear, ...
	IntegerOps map[string]int `json:"integer_ops"`
	Total      int            `json:"total"`
}

// CoverageReport is the INT8 MAC coverage (see package internal/macs).
type CoverageReport = macs.Coverage

// SubgraphReport is one graph held in a node attribute.
type SubgraphReport struct {
	Owner     string `json:"owner"`
	OwnerOp   string `json:"owner_op"`
	Attribute string `json:"attribute"`
	Name      string `json:"name"`
	// Depth is 1 for a subgraph of the main graph, 2 for one nested in
	// that, and so on.
	Depth int `json:"depth"`
	// Nodes counts the subgraph's own nodes, not those of nested subgraphs.
	Nodes int `json:"nodes"`
}

// FunctionReport is a model-local function.
type FunctionReport struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Nodes  int    `json:"nodes"`
}

// quantOps are the quantized op types counted besides Q/DQ; any op whose
// name starts with "QLinear" counts too.
var quantOps = map[string]bool{
	"DynamicQuantizeLinear": true, "MatMulInteger": true, "ConvInteger": true,
	"DynamicQuantizeMatMul": true, "QGemm": true, "QAttention": true,
	"DynamicQuantizeLSTM": true, "QOrderedMatMul": true,
}

// Inspect describes m. It runs shape inference on m for the MAC counts,
// so it may fill in value shapes; the declared inputs and outputs are
// recorded first.
func Inspect(m *graph.Model) (*Report, error) {
	g := m.Graph
	r := &Report{
		IRVersion:       m.IRVersion,
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		GraphName:       g.Name,
		OpCounts:        map[string]int{},
		Inputs:          []ValueReport{},
		Outputs:         []ValueReport{},
		Subgraphs:       []SubgraphReport{},
		Functions:       []FunctionReport{},
		Metadata:        []MetadataReport{},
	}
	r.OpsetImports = []OpsetReport{}
	for _, o := range m.OpsetImports {
		r.OpsetImports = append(r.OpsetImports, OpsetReport{Domain: domainName(o.Domain), Version: o.Version})
	}
	for _, v := range g.RealInputs() {
		r.Inputs = append(r.Inputs, valueReport(v))
	}
	for _, v := range g.Outputs {
		r.Outputs = append(r.Outputs, valueReport(v))
	}
	for _, kv := range m.Metadata {
		r.Metadata = append(r.Metadata, MetadataReport{Key: kv.Key, Value: kv.Value})
	}
	for _, f := range m.Functions {
		r.Functions = append(r.Functions, FunctionReport{Name: f.Name(), Domain: domainName(f.Domain()), Nodes: len(f.OpTypes())})
	}

	r.QDQ.IntegerOps = map[string]int{}
	g.Walk(func(g *graph.Graph) {
		r.Nodes += len(g.Nodes)
		for _, n := range g.Nodes {
			r.OpCounts[opKey(n)]++
			countQuant(&r.QDQ, n)
		}
	})
	collectSubgraphs(g, 1, &r.Subgraphs)
	r.Parameters = countParameters(m)

	r.MACs = MACReport{ByOp: map[string]int64{}, UnknownByOp: map[string]int{}}
	for _, v := range g.RealInputs() {
		if !v.Shape.Known() {
			r.MACs.DynamicInputs = true
		}
	}
	// The MACs of the model's own functions are counted where they are
	// called, and those of a FusedConv as a Conv's, in a copy with the
	// calls inlined and the fused ops written out (runnable).
	if needsUnfolding(m) {
		if c, err := graph.Clone(m); err == nil {
			if err := runnable(c); err == nil {
				m, g = c, c.Graph
			}
		}
	}
	if err := graph.InferShapes(m); err != nil {
		// Inspection still helps on a model inference cannot follow;
		// the MACs it could not reach are counted as unknown.
		r.MACs.InferenceErr = oneLine(err.Error())
	}
	g.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			count, ok, counted := macs.NodeMACs(n)
			if !counted {
				continue
			}
			key := opKey(n)
			// a count past int64 (absurd --shape sizes) is no count
			if !ok || r.MACs.Total > math.MaxInt64-count || r.MACs.ByOp[key] > math.MaxInt64-count {
				r.MACs.Unknown++
				r.MACs.UnknownByOp[key]++
				continue
			}
			r.MACs.ByOp[key] += count
			r.MACs.Total += count
		}
	})
	r.Coverage = macs.Int8Coverage(g)
	return r, nil
}

// domainName names the default domain "ai.onnx", whichever way the file
// spells it.
func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// opKey is the op type, prefixed with its domain outside the default one.
func opKey(n *graph.Node) string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + ":" + n.OpType
}

func valueReport(v *graph.Value) ValueReport {
	vr := ValueReport{Name: v.Name, DType: v.DType.String()}
	if v.Shape != nil {
		vr.Shape = make([]DimReport, len(v.Shape))
		for i, d := range v.Shape {
			vr.Shape[i] = DimReport{Size: d.Size, Param: d.Param}
			if !d.Known() {
				vr.Shape[i].Size = -1
			}
		}
	}
	return vr
}

// typeString renders a value's type as dtype[d0,d1,...].
func (v ValueReport) typeString() string {
	if v.Shape == nil {
		return v.DType + "[rank unknown]"
	}
	dims := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		dims[i] = d.String()
	}
	return v.DType + "[" + strings.Join(dims, ",") + "]"
}

func countQuant(q *QDQReport, n *graph.Node) {
	switch {
	case n.OpType == "QuantizeLinear":
		q.QuantizeLinear++
	case n.OpType == "DequantizeLinear":
		q.DequantizeLinear++
	case quantOps[n.OpType] || strings.HasPrefix(n.OpType, "QLinear"):
		q.IntegerOps[opKey(n)]++
	default:
		return
	}
	q.Total++
}

// collectSubgraphs lists the subgraphs of g's nodes, depth first.
func collectSubgraphs(g *graph.Graph, depth int, out *[]SubgraphReport) {
	for _, n := range g.Nodes {
		for _, a := range n.Attrs {
			sgs := a.Graphs
			if a.Graph != nil {
				sgs = append([]*graph.Graph{a.Graph}, sgs...)
			}
			for _, sg := range sgs {
				*out = append(*out, SubgraphReport{
					Owner: n.Name, OwnerOp: opKey(n), Attribute: a.Name,
					Name: sg.Name, Depth: depth, Nodes: len(sg.Nodes),
				})
				collectSubgraphs(sg, depth+1, out)
			}
		}
	}
}

// countParameters counts initializers of all graphs and the tensors of
// Constant nodes (their value attribute, or the list forms value_float(s)
// and value_int(s)).
func countParameters(m *graph.Model) ParameterReport {
	p := ParameterReport{ByDType: map[string]DTypeCount{}}
	add := func(dt graph.DType, elems, bytes int64) {
		c := p.ByDType[dt.String()]
		c.Tensors++
		c.Elements += elems
		c.Bytes += bytes
		p.ByDType[dt.String()] = c
		p.Tensors++
		p.Elements += elems
		p.Bytes += bytes
	}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, v := range g.Initializers {
			if t := v.Const; t != nil {
				add(t.DType, t.NumElements(), t.ByteSize())
				p.Initializers++
			}
		}
		for _, n := range g.Nodes {
			if n.OpType != "Constant" || (n.Domain != "" && n.Domain != "ai.onnx") {
				continue
			}
			for _, a := range n.Attrs {
				switch a.Name {
				case "value":
					if a.Tensor == nil {
						continue
					}
					add(a.Tensor.DType, a.Tensor.NumElements(), a.Tensor.ByteSize())
				case "value_float":
					add(graph.Float32, 1, 4)
				case "value_floats":
					add(graph.Float32, int64(len(a.Floats)), 4*int64(len(a.Floats)))
				case "value_int":
					add(graph.Int64, 1, 8)
				case "value_ints":
					add(graph.Int64, int64(len(a.Ints)), 8*int64(len(a.Ints)))
				default:
					continue
				}
				p.Constants++
			}
		}
	})
	return p
}

// opCount is one row of the op histogram.
type opCount struct {
	Op    string
	Count int
}

// sortedOpCounts orders the histogram by count, most frequent first, and
// then by name.
func sortedOpCounts(counts map[string]int) []opCount {
	out := make([]opCount, 0, len(counts))
	for op, n := range counts {
		out = append(out, opCount{op, n})
	}
	slices.SortFunc(out, func(a, b opCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Op, b.Op))
	})
	return out
}

// WriteText writes the report as aligned text; path names the model.
func (r *Report) WriteText(w io.Writer, path string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	section := func(title string) {
		tw.Flush()
		fmt.Fprintf(tw, "\n%s\n", title)
	}

	line("model\t%s", path)
	line("IR version\t%d", r.IRVersion)
	opsets := make([]string, len(r.OpsetImports))
	for i, o := range r.OpsetImports {
		opsets[i] = fmt.Sprintf("%s %d", o.Domain, o.Version)
	}
	line("opsets\t%s", strings.Join(opsets, ", "))
	producer := strings.TrimSpace(r.ProducerName + " " + r.ProducerVersion)
	if producer == "" {
		producer = "(not recorded)"
	}
	line("producer\t%s", producer)
	line("graph\t%s", orNone(r.GraphName, "(unnamed)"))

	for _, vs := range []struct {
		title  string
		values []ValueReport
	}{{"inputs", r.Inputs}, {"outputs", r.Outputs}} {
		section(fmt.Sprintf("%s (%d)", vs.title, len(vs.values)))
		for _, v := range vs.values {
			line("  %s\t%s", v.Name, v.typeString())
		}
	}

	section(fmt.Sprintf("ops (%s, %s)", plural(r.Nodes, "node"), plural(len(r.OpCounts), "op type")))
	for _, oc := range sortedOpCounts(r.OpCounts) {
		line("  %s\t%d", oc.Op, oc.Count)
	}

	p := r.Parameters
	section(fmt.Sprintf("parameters (%d tensors: %d initializers, %d in Constant nodes)", p.Tensors, p.Initializers, p.Constants))
	dtypes := make([]string, 0, len(p.ByDType))
	for dt := range p.ByDType {
		dtypes = append(dtypes, dt)
	}
	slices.SortFunc(dtypes, func(a, b string) int {
		return cmp.Or(cmp.Compare(p.ByDType[b].Bytes, p.ByDType[a].Bytes), cmp.Compare(a, b))
	})
	for _, dt := range dtypes {
		c := p.ByDType[dt]
		line("  %s\t%s elements\t%s", dt, groupDigits(c.Elements), formatBytes(c.Bytes))
	}
	line("  total\t%s elements\t%s", groupDigits(p.Elements), formatBytes(p.Bytes))

	mc := r.MACs
	section("multiply-accumulates (from inferred shapes)")
	for _, oc := range sortedMACs(mc.ByOp) {
		line("  %s\t%s", oc.Op, macString(oc.MACs))
	}
	line("  total\t%s", macString(mc.Total))
	if mc.Unknown > 0 {
		var parts []string
		for _, oc := range sortedOpCounts(mc.UnknownByOp) {
			parts = append(parts, fmt.Sprintf("%s %d", oc.Op, oc.Count))
		}
		line("  unknown\t%s with unknown shapes (%s), not in the total; %s", plural(mc.Unknown, "node"), strings.Join(parts, ", "), mc.unknownMACsHint())
	}
	if mc.InferenceErr != "" {
		line("  note\tshape inference stopped: %s", mc.InferenceErr)
	}

	q := r.QDQ
	section(fmt.Sprintf("quantization nodes (%d)", q.Total))
	line("  QuantizeLinear\t%d", q.QuantizeLinear)
	line("  DequantizeLinear\t%d", q.DequantizeLinear)
	for _, oc := range sortedOpCounts(q.IntegerOps) {
		line("  %s\t%d", oc.Op, oc.Count)
	}
	cv := r.Coverage
	if cv.TotalMACs == 0 && cv.WeightedNodes > 0 {
		// no share to give: every weighted node's shape is unknown
		why := "dynamic input sizes; --shape NAME=DIMS fixes them"
		if !mc.DynamicInputs {
			why = "shapes inference cannot size"
		}
		line("  INT8 MAC coverage\tMACs unknown (%s); %d of %s in Q/DQ units",
			why, cv.Units, plural(cv.WeightedNodes, "weighted node"))
	} else {
		known := ""
		if cv.UnknownMACs > 0 {
			known = fmt.Sprintf(" counted, %s of unknown size", plural(cv.UnknownMACs, "weighted node"))
		}
		line("  INT8 MAC coverage\t%.1f%% (%s of %s MACs%s; %d of %s in Q/DQ units)", 100*cv.Share,
			groupDigits(cv.CoveredMACs), groupDigits(cv.TotalMACs), known, cv.Units, plural(cv.WeightedNodes, "weighted node"))
	}
	if cv.ORTFloatUnits > 0 {
		line("  ORT CPU float\t%s ONNX Runtime's CPU kernels still run in float (%s)", plural(cv.ORTFloatUnits, "unit"), cv.ORTFloatKinds())
	}
	if note := cv.RecurrentNote(); note != "" {
		line("  recurrent\t%s", note)
	}
	if cv.InputsQuantized != cv.Units {
		// TensorRT runs a layer in INT8 from its inputs alone
		share := ""
		if cv.TotalMACs > 0 {
			share = fmt.Sprintf(" (%.1f%% of the MACs)", 100*cv.InputsQuantizedShare())
		}
		line("  int8 inputs\t%d of %s read int8 activations and weights%s, which TensorRT runs in INT8 with or without a Q after them",
			cv.InputsQuantized, plural(cv.WeightedNodes, "weighted node"), share)
	}

	section(fmt.Sprintf("subgraphs (%d)", len(r.Subgraphs)))
	for _, s := range r.Subgraphs {
		line("  %s%s\t%s.%s\t%s", strings.Repeat("  ", s.Depth-1), orNone(s.Owner, "(unnamed)"), s.OwnerOp, s.Attribute, plural(s.Nodes, "node"))
	}
	section(fmt.Sprintf("functions (%d)", len(r.Functions)))
	for _, f := range r.Functions {
		line("  %s\t%s\t%s", f.Name, f.Domain, plural(f.Nodes, "node"))
	}
	section(fmt.Sprintf("metadata (%d)", len(r.Metadata)))
	for _, kv := range r.Metadata {
		line("  %s\t%s", oneLine(kv.Key), oneLine(kv.Value))
	}
	return tw.Flush()
}

// macString writes a count exactly, and rounded when it is large.
func macString(n int64) string {
	if n < 1000 {
		return groupDigits(n)
	}
	return groupDigits(n) + " (" + formatCount(n) + ")"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

type opMACs struct {
	Op   string
	MACs int64
}

func sortedMACs(byOp map[string]int64) []opMACs {
	out := make([]opMACs, 0, len(byOp))
	for op, n := range byOp {
		out = append(out, opMACs{op, n})
	}
	slices.SortFunc(out, func(a, b opMACs) int {
		return cmp.Or(cmp.Compare(b.MACs, a.MACs), cmp.Compare(a.Op, b.Op))
	})
	return out
}

// parseShapes reads --shape values of the form NAME=D1,D2,... (an empty
// DIMS is a scalar). The name may itself contain '=': the last one splits.
func parseShapes(specs []string) (map[string][]int64, error) {
	shapes := map[string][]int64{}
	for _, spec := range specs {
		i := strings.LastIndex(spec, "=")
		if i <= 0 {
			return nil, fmt.Errorf("--shape %q: want NAME=DIMS, e.g. input=1,3,224,224", spec)
		}
		name, dimText := spec[:i], spec[i+1:]
		dims := []int64{}
		if dimText != "" {
			for _, f := range strings.Split(dimText, ",") {
				d, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
				if err != nil || d < 0 {
					return nil, fmt.Errorf("--shape %q: %q is not a size", spec, f)
				}
				dims = append(dims, d)
			}
		}
		if _, dup := shapes[name]; dup {
			return nil, fmt.Errorf("--shape given twice for %q", name)
		}
		shapes[name] = dims
	}
	return shapes, nil
}
