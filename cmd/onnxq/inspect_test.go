package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// modelFacts is what ../shared/models/MODELS.md says of one model.
type modelFacts struct {
	nodes        int
	ops          map[string]int
	floatWeights int64 // -1 when the table has no figure
}

// readModelsMD parses the "Op types" table (| name | nodes | Op n, ... |,
// with an optional parenthetical remark at the end) and the float weights
// column of the "Models" table.
func readModelsMD(t *testing.T) map[string]*modelFacts {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedModels, "MODELS.md"))
	if err != nil {
		t.Skipf("MODELS.md: %v", err)
	}
	defer f.Close()
	facts := map[string]*modelFacts{}
	get := func(name string) *modelFacts {
		if facts[name] == nil {
			facts[name] = &modelFacts{floatWeights: -1}
		}
		return facts[name]
	}
	section := ""
	weightCol := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "name" || strings.HasPrefix(cells[0], "---") {
			if section == "Models" {
				for i, c := range cells {
					if c == "float weights" {
						weightCol = i
					}
				}
			}
			continue
		}
		switch {
		case strings.HasPrefix(section, "Op types") && len(cells) == 3:
			mf := get(cells[0])
			if mf.nodes, err = strconv.Atoi(cells[1]); err != nil {
				t.Fatalf("MODELS.md: %q: bad node count %q", cells[0], cells[1])
			}
			ops := cells[2]
			if i := strings.Index(ops, "("); i >= 0 {
				ops = ops[:i]
			}
			mf.ops = map[string]int{}
			for _, item := range strings.Split(ops, ",") {
				op, count, ok := strings.Cut(strings.TrimSpace(item), " ")
				n, err := strconv.Atoi(count)
				if !ok || err != nil {
					t.Fatalf("MODELS.md: %q: bad op count %q", cells[0], item)
				}
				mf.ops[op] = n
			}
		case section == "Models" && weightCol > 0 && weightCol < len(cells):
			num, _, _ := strings.Cut(cells[weightCol], " ")
			n, err := strconv.ParseInt(strings.ReplaceAll(num, ",", ""), 10, 64)
			if err != nil {
				t.Fatalf("MODELS.md: %q: bad float weights %q", cells[0], cells[weightCol])
			}
			get(cells[0]).floatWeights = n
		}
	}
	if len(facts) == 0 {
		t.Fatal("MODELS.md: no model rows found")
	}
	return facts
}

// TestInspectSharedModels runs "inspect --json" on every shared model and
// checks op counts, node totals and float32 parameter counts against
// MODELS.md.
func TestInspectSharedModels(t *testing.T) {
	files := sharedModelFiles(t)
	facts := readModelsMD(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".onnx")
		want := facts[name]
		if want == nil || want.ops == nil {
			t.Errorf("%s: not in MODELS.md's op table", name)
			continue
		}
		r := onnxq(t, "", "inspect", "--json", file)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("inspect %s: exit %d, stderr %q", name, r.code, r.stderr)
			continue
		}
		var rep Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Errorf("inspect %s: output is not JSON: %v", name, err)
			continue
		}
		// The report reads back into the same JSON (shapes mix numbers and names).
		again, _ := json.MarshalIndent(&rep, "", "  ")
		if string(again)+"\n" != r.stdout {
			t.Errorf("%s: JSON report does not read back the same:\n%s\nvs\n%s", name, again, r.stdout)
		}
		if !maps.Equal(rep.OpCounts, want.ops) {
			t.Errorf("%s: op_counts %v, MODELS.md %v", name, rep.OpCounts, want.ops)
		}
		if rep.Nodes != want.nodes {
			t.Errorf("%s: nodes %d, MODELS.md %d", name, rep.Nodes, want.nodes)
		}
		if got := rep.Parameters.ByDType["float32"].Elements; want.floatWeights >= 0 && got != want.floatWeights {
			t.Errorf("%s: float32 parameters %d, MODELS.md float weights %d", name, got, want.floatWeights)
		}
		if len(rep.Inputs) == 0 || len(rep.Outputs) == 0 || len(rep.OpsetImports) == 0 {
			t.Errorf("%s: inputs %v, outputs %v, opsets %v", name, rep.Inputs, rep.Outputs, rep.OpsetImports)
		}
	}
}

// TestInspectJSONFields pins the field names of the JSON report, which
// scripts depend on.
func TestInspectJSONFields(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	r := onnxq(t, "", "inspect", model, "--json")
	if r.code != 0 {
		t.Fatalf("inspect --json: %s", r.stderr)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &obj); err != nil {
		t.Fatal(err)
	}
	want := []string{"ir_version", "opset_imports", "producer_name", "producer_version", "graph_name",
		"inputs", "outputs", "nodes", "op_counts", "parameters", "macs", "qdq", "int8_mac_coverage", "subgraphs", "functions", "metadata"}
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	if len(obj) != len(want) {
		t.Errorf("JSON report has %d fields, want %d: %s", len(obj), len(want), r.stdout)
	}
	if !strings.Contains(r.stdout, `"shape": [`) {
		t.Errorf("no shapes in %s", r.stdout)
	}
}

func TestInspectText(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir)
	r := onnxq(t, "", "inspect", model)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("inspect: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, s := range []string{"IR version", "opsets", "ai.onnx 17", "x  float32[1,2,8,8]", "ops (3 nodes", "Conv", "MatMul", "float32", "multiply-accumulates"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("inspect output lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, bad := range []string{filepath.Join(dir, "missing.onnx"), dir} {
		r := onnxq(t, "", "inspect", bad)
		if r.code != 1 {
			t.Errorf("inspect %s: exit %d", bad, r.code)
		}
		oneErrorLine(t, r, []string{"inspect", bad})
	}
}

// TestMACs checks the formulas on nodes whose shapes are set by hand, so
// they do not depend on shape inference.
func TestMACs(t *testing.T) {
	b := graph.NewBuilder(17)
	zeros := func(name string, dims ...int64) *graph.Value {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		return b.Const(graph.FromFloat32s(name, dims, make([]float32, n)))
	}
	shaped := func(v *graph.Value, dims ...int64) *graph.Value {
		if v != nil {
			v.DType, v.Shape = graph.Float32, graph.Fixed(dims...)
		}
		return v
	}
	x := b.Input("x", graph.Float32, 2, 6, 10, 10)
	// Grouped Conv: 2·8·10·10 outputs, each over 3 channels of a 3x3 window.
	conv := shaped(b.Op("Conv", x, zeros("w", 8, 3, 3, 3), graph.IntAttr("group", 2), graph.IntsAttr("pads", 1, 1, 1, 1)), 2, 8, 10, 10)
	t1 := b.Input("t1", graph.Float32, 1, 4, 5, 5)
	// ConvTranspose: 1·4·5·5 inputs, each spread over 3 channels of a 2x2 kernel.
	ct := shaped(b.Op("ConvTranspose", t1, zeros("wt", 4, 3, 2, 2), graph.IntsAttr("strides", 2, 2)), 1, 3, 10, 10)
	// Grouped ConvTranspose: each input feeds Cout/group = 1 channel.
	ctg := shaped(b.Op("ConvTranspose", t1, zeros("wtg", 4, 1, 2, 2), graph.IntAttr("group", 2), graph.IntsAttr("strides", 2, 2)), 1, 2, 10, 10)
	// Gemm with both transposes: A is [K,M] = [3,5], B is [N,K] = [4,3].
	gemm := shaped(b.Op("Gemm", b.Input("a", graph.Float32, 3, 5), zeros("gb", 4, 3), graph.IntAttr("transA", 1), graph.IntAttr("transB", 1)), 5, 4)
	// MatMul with broadcast batch dims [2,1] x [5] -> [2,5].
	mm := shaped(b.Op("MatMul", b.Input("m1", graph.Float32, 2, 1, 3, 4), zeros("m2", 5, 4, 6)), 2, 5, 3, 6)
	// Vector operands.
	vm := shaped(b.Op("MatMul", b.Input("v1", graph.Float32, 4), zeros("v2", 4, 6)), 6)
	mv := shaped(b.Op("MatMul", b.Input("v3", graph.Float32, 3, 4), zeros("v4", 4)), 3)
	// A dynamic dimension: MACs unknown.
	dyn := b.Op("MatMul", b.Input("d", graph.Float32, -1, 4), zeros("dw", 4, 2))
	b.Output(conv, ct, ctg, gemm, mm, vm, mv, dyn)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	// Shape inference may have filled these in; the test wants the hand-set ones.
	shaped(conv, 2, 8, 10, 10)
	shaped(ct, 1, 3, 10, 10)
	shaped(ctg, 1, 2, 10, 10)
	r, err := Inspect(m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"Conv":          2 * 8 * 10 * 10 * 3 * 3 * 3,
		"ConvTranspose": 1*4*5*5*3*2*2 + 1*4*5*5*1*2*2,
		"Gemm":          5 * 4 * 3,
		"MatMul":        2*5*3*6*4 + 1*6*4 + 3*1*4,
	}
	if !maps.Equal(r.MACs.ByOp, want) {
		t.Errorf("MACs by op %v, want %v", r.MACs.ByOp, want)
	}
	var total int64
	for _, v := range want {
		total += v
	}
	if r.MACs.Total != total {
		t.Errorf("MACs total %d, want %d", r.MACs.Total, total)
	}
	if r.MACs.Unknown != 1 || r.MACs.UnknownByOp["MatMul"] != 1 {
		t.Errorf("unknown MACs %d %v, want 1 MatMul", r.MACs.Unknown, r.MACs.UnknownByOp)
	}
}

// TestInspectCounts checks op counts, parameters and subgraphs on a
// model with Constant nodes, a subgraph and Q/DQ nodes.
func TestInspectCounts(t *testing.T) {
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 4)
	cond := b.Input("cond", graph.Bool)
	c1 := b.Op("Constant", graph.TensorAttr("value", must(graph.FromFloat32s("c1", []int64{2, 3}, make([]float32, 6)))))
	c2 := b.Op("Constant", graph.FloatsAttr("value_floats", 1, 2, 3, 4))
	c3 := b.Op("Constant", graph.IntAttr("value_int", 7))
	sum := b.Op("Add", x, c2)
	scale := b.Const(graph.FromFloat32s("scale", nil, []float32{0.5}))
	q := b.Op("QuantizeLinear", sum, scale)
	dq := b.Op("DequantizeLinear", q, scale)

	branch := func(name string, nodes int) *graph.Graph {
		g := graph.NewGraph(name)
		var last *graph.Value
		for i := 0; i < nodes; i++ {
			n := &graph.Node{OpType: "Constant", Attrs: []*graph.Attribute{graph.FloatsAttr("value_floats", 1, 2)}}
			if err := g.AddNode(n, g.UniqueName(name+"_c")); err != nil {
				t.Fatal(err)
			}
			last = n.Outputs[0]
		}
		g.AddOutput(last)
		return g
	}
	ifOut := b.Op("If", cond, graph.GraphAttr("then_branch", branch("then", 2)), graph.GraphAttr("else_branch", branch("else", 1)))
	b.Output(dq, c1, c3, ifOut)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(m)
	if err != nil {
		t.Fatal(err)
	}
	wantOps := map[string]int{"Constant": 6, "Add": 1, "QuantizeLinear": 1, "DequantizeLinear": 1, "If": 1}
	if !maps.Equal(r.OpCounts, wantOps) || r.Nodes != 10 {
		t.Errorf("op counts %v (%d nodes), want %v (10 nodes)", r.OpCounts, r.Nodes, wantOps)
	}
	f32 := r.Parameters.ByDType["float32"]
	// c1 6 + c2 4 + scale 1 + three 2-element branch constants.
	if f32.Elements != 6+4+1+3*2 || f32.Bytes != 4*f32.Elements || f32.Tensors != 6 {
		t.Errorf("float32 parameters %+v", f32)
	}
	if i64 := r.Parameters.ByDType["int64"]; i64.Elements != 1 || i64.Bytes != 8 {
		t.Errorf("int64 parameters %+v", i64)
	}
	if r.Parameters.Initializers != 1 || r.Parameters.Constants != 6 || r.Parameters.Tensors != 7 {
		t.Errorf("parameter tensors %+v", r.Parameters)
	}
	if r.QDQ.QuantizeLinear != 1 || r.QDQ.DequantizeLinear != 1 || r.QDQ.Total != 2 {
		t.Errorf("qdq %+v", r.QDQ)
	}
	if len(r.Subgraphs) != 2 || r.Subgraphs[0].Attribute != "then_branch" || r.Subgraphs[0].Nodes != 2 ||
		r.Subgraphs[1].Attribute != "else_branch" || r.Subgraphs[1].Nodes != 1 || r.Subgraphs[0].OwnerOp != "If" {
		t.Errorf("subgraphs %+v", r.Subgraphs)
	}
	if len(r.Inputs) != 2 || r.Inputs[1].typeString() != "bool[]" {
		t.Errorf("inputs %+v", r.Inputs)
	}
	var sb strings.Builder
	if err := r.WriteText(&sb, "m.onnx"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"If.then_branch", "2 nodes", "QuantizeLinear", "int64"} {
		if !strings.Contains(sb.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, sb.String())
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSortedOpCounts(t *testing.T) {
	got := sortedOpCounts(map[string]int{"Relu": 2, "Add": 2, "Conv": 5, "Abs": 1})
	want := []opCount{{"Conv", 5}, {"Add", 2}, {"Relu", 2}, {"Abs", 1}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sortedOpCounts = %v, want %v", got, want)
			break
		}
	}
}

// TestInspectShapeFlag fixes a dynamic input size with --shape: the MACs
// that depend on it become known, and bad specs are usage errors.
func TestInspectShapeFlag(t *testing.T) {
	model := filepath.Join("..", "..", "testdata", "models", "convnet.onnx")
	if _, err := os.Stat(model); err != nil {
		t.Fatal(err)
	}
	macs := func(args ...string) MACReport {
		t.Helper()
		r := onnxq(t, "", append([]string{"inspect", model, "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("inspect %q: exit %d: %s", args, r.code, r.stderr)
		}
		var rep Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.MACs
	}
	dynamic := macs()
	if dynamic.Unknown == 0 {
		t.Fatalf("convnet has a symbolic batch; want unknown MACs, got %+v", dynamic)
	}
	one := macs("--shape", "image=1,1,8,8")
	four := macs("--shape", "image=4,1,8,8")
	if one.Unknown != 0 || one.Total == 0 || four.Total != 4*one.Total {
		t.Errorf("fixed batch: 1 -> %+v, 4 -> %+v", one, four)
	}
	for _, bad := range [][]string{{"--shape", "image"}, {"--shape", "image=1,x"}, {"--shape", "image=-1,1,8,8"}} {
		r := onnxq(t, "", append([]string{"inspect", model}, bad...)...)
		if r.code != 2 {
			t.Errorf("inspect %q: exit %d, want 2", bad, r.code)
		}
	}
	for _, bad := range [][]string{{"--shape", "nosuch=1"}, {"--shape", "image=1,1,9,8"}, {"--shape", "image=1,1"}} {
		r := onnxq(t, "", append([]string{"inspect", model}, bad...)...)
		if r.code != 1 {
			t.Errorf("inspect %q: exit %d, want 1", bad, r.code)
		}
		oneErrorLine(t, r, bad)
	}
}

// TestInt8Coverage: a model quantized by onnxq has its weighted MACs in
// Q/DQ units, the FP32 model none, a Conv kept in FP32 leaves only the
// Gemm's MACs covered, and the QOperator form covers what the QDQ one
// does.
func TestInt8Coverage(t *testing.T) {
	dir := t.TempDir()
	convnet, err := filepath.Abs(filepath.Join("..", "..", "testdata", "models", "convnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "q.onnx")
	partial := filepath.Join(dir, "partial.onnx")
	if r := onnxq(t, dir, convnet, "-o", q, "--synthetic", "2"); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	if r := onnxq(t, dir, convnet, "-o", partial, "--synthetic", "2", "--exclude-op", "Conv"); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	qop := filepath.Join(dir, "qop.onnx")
	if r := onnxq(t, dir, convnet, "-o", qop, "--synthetic", "2", "--format", "qop"); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	coverage := func(model string) CoverageReport {
		t.Helper()
		r := onnxq(t, dir, "inspect", "--json", "--shape", "image=1,1,8,8", model)
		if r.code != 0 {
			t.Fatalf("inspect %s: %s", model, r.stderr)
		}
		var rep Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Coverage.TotalMACs != rep.MACs.Total {
			t.Errorf("%s: coverage total %d, MAC total %d", model, rep.Coverage.TotalMACs, rep.MACs.Total)
		}
		return rep.Coverage
	}
	// convnet at 1x1x8x8: Conv 2304 MACs, Gemm 640.
	if c := coverage(q); c.Share != 1 || c.CoveredMACs != 2944 || c.Units != 2 || c.WeightedNodes != 2 {
		t.Errorf("quantized convnet: %+v, want everything covered", c)
	}
	if c := coverage(convnet); c.Share != 0 || c.CoveredMACs != 0 || c.TotalMACs != 2944 || c.Units != 0 || c.WeightedNodes != 2 {
		t.Errorf("FP32 convnet: %+v, want nothing covered", c)
	}
	if c := coverage(partial); c.CoveredMACs != 640 || c.Units != 1 || c.Share <= 0 || c.Share >= 1 {
		t.Errorf("convnet with Conv in FP32: %+v, want the Gemm's 640 MACs covered", c)
	}
	// the QOperator form's QLinearConv and QLinearMatMul are integer
	// kernels: the same coverage as the QDQ file
	if c := coverage(qop); c.Share != 1 || c.CoveredMACs != 2944 || c.Units != 2 || c.WeightedNodes != 2 {
		t.Errorf("convnet in QOperator form: %+v, want everything covered", c)
	}
	r := onnxq(t, dir, "inspect", "--shape", "image=1,1,8,8", q)
	if want := "INT8 MAC coverage  100.0% (2,944 of 2,944 MACs; 2 of 2 weighted nodes in Q/DQ units)"; !strings.Contains(r.stdout, want) {
		t.Errorf("inspect text lacks %q:\n%s", want, r.stdout)
	}
	// With the batch left symbolic no MAC is known: no share of 0 MACs.
	r = onnxq(t, dir, "inspect", q)
	if want := "INT8 MAC coverage  MACs unknown (dynamic input sizes; --shape NAME=DIMS fixes them); 2 of 2 weighted nodes in Q/DQ units"; !strings.Contains(r.stdout, want) {
		t.Errorf("inspect text lacks %q:\n%s", want, r.stdout)
	}
}
