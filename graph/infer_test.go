package graph

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inferShared is the folder of real models and conformance tests.
var inferShared = filepath.Join("..", "..", "shared")

// sharedModelShapes lists, per model in shared/models, the input shapes
// fed and the output shapes ONNX Runtime returned (MODELS.md, "check").
var sharedModelShapes = []struct {
	name    string
	inputs  map[string][]int64
	outputs map[string][]int64
}{
	{"mnist_cntk", map[string][]int64{"Input3": {1, 1, 28, 28}},
		map[string][]int64{"Plus214_Output_0": {1, 10}}},
	{"ppocr_cls_mobile_v2", map[string][]int64{"x": {1, 3, 48, 192}},
		map[string][]int64{"softmax_0.tmp_0": {1, 2}}},
	{"ppocr_det_mobile_v1_1", map[string][]int64{"image": {1, 3, 640, 640}},
		map[string][]int64{"save_infer_model/scale_0.tmp_0": {1, 1, 640, 640}}},
	{"ultraface_rfb_320", map[string][]int64{"input": {1, 3, 240, 320}},
		map[string][]int64{"scores": {1, 4420, 2}, "boxes": {1, 4420, 4}}},
	{"yunet_n_320", map[string][]int64{"input": {1, 3, 320, 320}},
		map[string][]int64{
			"cls_8": {1, 1600, 1}, "cls_16": {1, 400, 1}, "cls_32": {1, 100, 1},
			"obj_8": {1, 1600, 1}, "obj_16": {1, 400, 1}, "obj_32": {1, 100, 1},
			"bbox_8": {1, 1600, 4}, "bbox_16": {1, 400, 4}, "bbox_32": {1, 100, 4},
			"kps_8": {1, 1600, 10}, "kps_16": {1, 400, 10}, "kps_32": {1, 100, 10},
		}},
	{"fastestdet", map[string][]int64{"input.1": {1, 3, 352, 352}},
		map[string][]int64{"758": {1, 85, 22, 22}}},
	{"oww_speech_embedding", map[string][]int64{"input_1": {1, 76, 32, 1}},
		map[string][]int64{"conv2d_19": {1, 1, 1, 96}}},
	{"oww_hello_deepa", map[string][]int64{"onnx::Flatten_0": {1, 25, 96}},
		map[string][]int64{"39": {1, 1}}},
	{"silero_vad_v3_1", map[string][]int64{"input": {1, 1536}, "h0": {2, 1, 64}, "c0": {2, 1, 64}},
		map[string][]int64{"output": {1, 2, 1}, "hn": {2, 1, 64}, "cn": {2, 1, 64}}},
	{"silero_vad_micro_v2", map[string][]int64{"input": {1, 4000}},
		map[string][]int64{"output": {1, 2}}},
	{"silero_vad_v5_16k_op15", map[string][]int64{"input": {1, 512}, "state": {2, 1, 128}, "sr": {}},
		map[string][]int64{"output": {1, 1}, "stateN": {2, 1, 128}}},
	{"gtcrn_simple",
		map[string][]int64{"mix": {1, 257, 1, 2}, "conv_cache": {2, 1, 16, 16, 33}, "tra_cache": {2, 3, 1, 1, 16}, "inter_cache": {2, 1, 33, 16}},
		map[string][]int64{"enh": {1, 257, 1, 2}, "conv_cache_out": {2, 1, 16, 16, 33}, "tra_cache_out": {2, 3, 1, 1, 16}, "inter_cache_out": {2, 1, 33, 16}}},
	{"dtln_stage1", map[string][]int64{"input_2": {1, 1, 257}, "input_3": {1, 2, 128, 2}},
		map[string][]int64{"activation_2": {1, 1, 257}, "tf_op_layer_stack_2": {1, 2, 128, 2}}},
	{"basic_pitch_nmp", map[string][]int64{"serving_default_input_2:0": {1, 43844, 1}},
		map[string][]int64{"StatefulPartitionedCall:2": {1, 172, 88}, "StatefulPartitionedCall:1": {1, 172, 88}, "StatefulPartitionedCall:0": {1, 172, 264}}},
}

// forgetNodeTypes drops every type the file declares for node outputs,
// so what remains after InferShapes is inference's own work.
func forgetNodeTypes(m *Model) {
	m.Graph.Walk(func(g *Graph) {
		for _, n := range g.Nodes {
			for _, v := range n.Outputs {
				if v != nil {
					v.DType, v.Shape = Undefined, nil
				}
			}
		}
	})
}

func TestInferSharedModels(t *testing.T) {
	if _, err := os.Stat(filepath.Join(inferShared, "models")); err != nil {
		t.Skip("no shared models beside the repository")
	}
	for _, c := range sharedModelShapes {
		for _, fresh := range []bool{false, true} {
			name := c.name
			if fresh {
				name += "/from_scratch"
			}
			t.Run(name, func(t *testing.T) {
				m, err := Load(filepath.Join(inferShared, "models", c.name+".onnx"))
				if err != nil {
					t.Fatal(err)
				}
				if err := FixInputShapes(m.Graph, c.inputs); err != nil {
					t.Fatal(err)
				}
				if fresh {
					forgetNodeTypes(m)
				}
				if err := InferShapes(m); err != nil {
					t.Fatal(err)
				}
				if len(m.Graph.Outputs) != len(c.outputs) {
					t.Fatalf("%d outputs, want %d", len(m.Graph.Outputs), len(c.outputs))
				}
				for _, v := range m.Graph.Outputs {
					want, ok := c.outputs[v.Name]
					if !ok {
						t.Errorf("unexpected output %q", v.Name)
						continue
					}
					if !v.Shape.Equal(Fixed(want...)) || v.DType != Float32 {
						t.Errorf("output %q: %s, want float32%v", v.Name, typeString(v.DType, v.Shape), want)
					}
				}
				m.Graph.Walk(func(g *Graph) {
					for _, n := range g.Nodes {
						switch n.OpType {
						case "Conv", "Gemm", "MatMul", "ConvTranspose":
							if v := n.Outputs[0]; !v.Shape.Known() || v.DType == Undefined {
								t.Errorf("%s %q: output %s", n.OpType, n.Name, typeString(v.DType, v.Shape))
							}
						}
					}
				})
			})
		}
	}
}

// With the batch left symbolic, inference keeps the name through to the
// outputs where the graph passes it along.
func TestInferKeepsSymbolicBatch(t *testing.T) {
	path := filepath.Join(inferShared, "models", "ppocr_cls_mobile_v2.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no shared models beside the repository")
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	x := m.Graph.RealInputs()[0]
	x.Shape = Shape{{Size: -1, Param: "N"}, {Size: 3}, {Size: 48}, {Size: 192}}
	forgetNodeTypes(m)
	if err := InferShapes(m); err != nil {
		t.Fatal(err)
	}
	out := m.Graph.Outputs[0]
	want := Shape{{Size: -1, Param: "N"}, {Size: 2}}
	if !out.Shape.Equal(want) {
		t.Errorf("output %s, want float32[N,2]", typeString(out.DType, out.Shape))
	}
}

// Inference over the conformance models: no failure, and no inferred
// dimension contradicts the type the test declares for a graph output.
func TestInferConformanceModels(t *testing.T) {
	var files []string
	for _, pat := range []string{
		filepath.Join(inferShared, "onnx", "node-tests", "*", "model.onnx"),
		"/usr/share/libonnx-testdata/data/*/*/model.onnx",
	} {
		f, _ := filepath.Glob(pat)
		files = append(files, f...)
	}
	if len(files) == 0 {
		t.Skip("no conformance models")
	}
	inferred := 0
	for _, f := range files {
		m, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		declared := map[*Value]Value{}
		for _, v := range m.Graph.Outputs {
			declared[v] = *v
		}
		forgetNodeTypes(m)
		if err := InferShapes(m); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for v, d := range declared {
			if v.Producer == nil || v.Shape == nil || d.Shape == nil {
				continue
			}
			inferred++
			bad := len(v.Shape) != len(d.Shape) || v.DType != Undefined && d.DType != Undefined && v.DType != d.DType
			for i := 0; !bad && i < len(d.Shape); i++ {
				bad = d.Shape[i].Known() && v.Shape[i].Known() && d.Shape[i].Size != v.Shape[i].Size
			}
			if bad {
				t.Errorf("%s: %s output %q: inferred %s, declared %s", filepath.Base(filepath.Dir(f)), v.Producer.OpType,
					v.Name, typeString(v.DType, v.Shape), typeString(d.DType, d.Shape))
			}
		}
	}
	t.Logf("%d models, %d outputs inferred and checked", len(files), inferred)
}

func i64(t *testing.T, b *Builder, name string, dims []int64, v ...int64) *Value {
	t.Helper()
	return b.Const(FromInt64s(name, dims, v))
}

func f32(t *testing.T, b *Builder, name string, dims []int64, v ...float32) *Value {
	t.Helper()
	return b.Const(FromFloat32s(name, dims, v))
}

func shapeStr(s Shape) string { return strings.TrimPrefix(typeString(Undefined, s), "undefined") }

func TestInferReshape(t *testing.T) {
	cases := []struct {
		in        []int64
		target    []int64
		allowzero int64
		want      string
	}{
		{[]int64{2, 3, 4}, []int64{0, -1}, 0, "[2,12]"},
		{[]int64{2, 3, 4}, []int64{-1, 4}, 0, "[6,4]"},
		{[]int64{2, 3, 4}, []int64{4, 0, -1}, 0, "[4,3,2]"},
		{[]int64{2, 3, 4}, []int64{24}, 0, "[24]"},
		{[]int64{2, 0, 4}, []int64{0, 0, 4}, 1, "[0,0,4]"},
		{[]int64{-1, 3, 4}, []int64{0, -1}, 0, "[?,12]"},
		{[]int64{-1, 3, 4}, []int64{-1, 6}, 0, "[?,6]"},
		{[]int64{2, 3, 4}, []int64{5, -1}, 0, "[5,?]"}, // does not divide: left unknown
	}
	for _, c := range cases {
		b := NewBuilder(14)
		x := b.Input("x", Float32, c.in...)
		s := i64(t, b, "s", []int64{int64(len(c.target))}, c.target...)
		y := b.Op("Reshape", x, s, IntAttr("allowzero", c.allowzero))
		b.Output(y)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		if got := shapeStr(y.Shape); got != c.want {
			t.Errorf("Reshape %v to %v: %s, want %s", c.in, c.target, got, c.want)
		}
	}
}

// Reshape(x, Concat(Shape(x)[0], -1)): the common flatten of exporters,
// with a symbolic batch.
func TestInferReshapeFromShapeArithmetic(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, -1, 8, 4, 4)
	x.Shape[0].Param = "batch"
	shape := b.Op("Shape", x)
	n := b.Op("Gather", shape, i64(t, b, "zero", []int64{}, 0), IntAttr("axis", 0))
	n1 := b.Op("Unsqueeze", n, i64(t, b, "axes", []int64{1}, 0))
	target := b.Op("Concat", n1, i64(t, b, "minus1", []int64{1}, -1), IntAttr("axis", 0))
	y := b.Op("Reshape", x, target)
	// Half the channels, computed from the shape.
	c := b.Op("Gather", shape, i64(t, b, "one", []int64{}, 1))
	half := b.Op("Div", c, i64(t, b, "two", []int64{}, 2))
	hw := b.Op("Mul", b.Op("Gather", shape, i64(t, b, "i2", []int64{}, 2)), b.Op("Gather", shape, i64(t, b, "i3", []int64{}, 3)))
	t2 := b.Op("Concat", n1,
		b.Op("Unsqueeze", half, i64(t, b, "axes2", []int64{1}, 0)),
		b.Op("Unsqueeze", b.Op("Cast", hw, IntAttr("to", int64(Int64))), i64(t, b, "axes3", []int64{1}, 0)),
		i64(t, b, "m1", []int64{1}, -1), IntAttr("axis", 0))
	z := b.Op("Reshape", x, t2)
	b.Output(y, z)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(y.Shape); got != "[batch,128]" {
		t.Errorf("Reshape: %s, want [batch,128]", got)
	}
	if got := shapeStr(z.Shape); got != "[batch,4,16,2]" {
		t.Errorf("Reshape: %s, want [batch,4,16,2]", got)
	}
}

func TestInferSlice(t *testing.T) {
	const big = math.MaxInt64
	cases := []struct {
		starts, ends, axes, steps []int64
		want                      string
	}{
		{[]int64{0}, []int64{big}, []int64{1}, []int64{1}, "[10,20,30]"},
		{[]int64{-3}, []int64{big}, []int64{2}, []int64{1}, "[10,20,3]"},
		{[]int64{-1}, []int64{-big}, []int64{0}, []int64{-1}, "[10,20,30]"},
		{[]int64{-1}, []int64{-big}, []int64{0}, []int64{-2}, "[5,20,30]"},
		{[]int64{1, 2}, []int64{1000, 9}, []int64{0, 1}, []int64{3, 2}, "[3,4,30]"},
		{[]int64{5}, []int64{2}, []int64{-1}, []int64{1}, "[10,20,0]"},
		{[]int64{20}, []int64{5}, []int64{2}, []int64{-5}, "[10,20,3]"},
		{[]int64{0}, []int64{1}, []int64{1}, []int64{big}, "[10,1,30]"},
		{[]int64{0}, []int64{-1}, []int64{1}, []int64{-big - 1}, "[10,0,30]"},
	}
	for _, c := range cases {
		b := NewBuilder(13)
		x := b.Input("x", Float32, 10, 20, 30)
		k := int64(len(c.starts))
		y := b.Op("Slice", x, i64(t, b, "s", []int64{k}, c.starts...), i64(t, b, "e", []int64{k}, c.ends...),
			i64(t, b, "a", []int64{k}, c.axes...), i64(t, b, "st", []int64{k}, c.steps...))
		b.Output(y)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		if got := shapeStr(y.Shape); got != c.want {
			t.Errorf("Slice %v:%v axes %v steps %v: %s, want %s", c.starts, c.ends, c.axes, c.steps, got, c.want)
		}
	}
	// Opset 9 takes the bounds as attributes.
	b := NewBuilder(9)
	x := b.Input("x", Float32, 4, 5)
	y := b.Op("Slice", x, IntsAttr("starts", 1, 0), IntsAttr("ends", -1, 2))
	b.Output(y)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(y.Shape); got != "[2,2]" {
		t.Errorf("Slice-9: %s, want [2,2]", got)
	}
}

// Slice of a folded shape vector is itself folded.
func TestInferSliceFolds(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, 2, 3, 5, 7)
	sh := b.Op("Shape", x)
	tail := b.Op("Slice", sh, i64(t, b, "s", []int64{1}, -1), i64(t, b, "e", []int64{1}, -5),
		i64(t, b, "a", []int64{1}, 0), i64(t, b, "st", []int64{1}, -2))
	y := b.Op("ConstantOfShape", tail)
	b.Output(y)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(y.Shape); got != "[7,3]" {
		t.Errorf("ConstantOfShape(Shape(x)[-1::-2]): %s, want [7,3]", got)
	}
}

func TestInferPooling(t *testing.T) {
	cases := []struct {
		op    string
		in    []int64
		attrs []any
		want  string
	}{
		{"MaxPool", []int64{1, 3, 32, 32}, []any{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, "[1,3,16,16]"},
		{"MaxPool", []int64{1, 3, 7, 7}, []any{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, "[1,3,3,3]"},
		{"MaxPool", []int64{1, 3, 7, 7}, []any{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1)}, "[1,3,4,4]"},
		// The last window would start in the right padding: dropped.
		{"MaxPool", []int64{1, 1, 4, 4}, []any{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1), IntAttr("ceil_mode", 1)}, "[1,1,3,3]"},
		{"AveragePool", []int64{1, 3, 6, 6}, []any{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), IntAttr("ceil_mode", 1)}, "[1,3,3,3]"},
		{"AveragePool", []int64{1, 3, 5, 9}, []any{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), StringAttr("auto_pad", "SAME_UPPER")}, "[1,3,3,5]"},
		{"AveragePool", []int64{1, 3, 5, 9}, []any{IntsAttr("kernel_shape", 3, 3), IntsAttr("strides", 2, 2), StringAttr("auto_pad", "VALID")}, "[1,3,2,4]"},
		{"MaxPool", []int64{1, 3, 10}, []any{IntsAttr("kernel_shape", 3), IntsAttr("dilations", 2)}, "[1,3,6]"},
		{"MaxPool", []int64{1, 3, -1, 8}, []any{IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}, "[1,3,?,4]"},
		{"GlobalAveragePool", []int64{2, 8, 5, 7}, nil, "[2,8,1,1]"},
	}
	for _, c := range cases {
		b := NewBuilder(13)
		x := b.Input("x", Float32, c.in...)
		y := b.Op(c.op, append([]any{x}, c.attrs...)...)
		b.Output(y)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		if got := shapeStr(y.Shape); got != c.want {
			t.Errorf("%s %v %v: %s, want %s", c.op, c.in, c.attrs, got, c.want)
		}
	}
}

func TestInferConv(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, 1, 8, 15, 15)
	w := f32(t, b, "w", []int64{16, 4, 3, 3}, make([]float32, 16*4*9)...)
	y := b.Op("Conv", x, w, IntAttr("group", 2), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1))
	wt := f32(t, b, "wt", []int64{16, 4, 4, 4}, make([]float32, 16*4*16)...)
	z := b.Op("ConvTranspose", y, wt, IntAttr("group", 2), IntsAttr("strides", 2, 2), IntsAttr("pads", 1, 1, 1, 1))
	z2 := b.Op("ConvTranspose", y, wt, IntAttr("group", 2), IntsAttr("strides", 2, 2), IntsAttr("output_shape", 17, 17))
	b.Output(y, z, z2)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Value
		want string
	}{{y, "[1,16,8,8]"}, {z, "[1,8,16,16]"}, {z2, "[1,8,17,17]"}} {
		if got := shapeStr(c.v.Shape); got != c.want {
			t.Errorf("%s: %s, want %s", c.v.Name, got, c.want)
		}
	}
}

func TestInferBroadcasting(t *testing.T) {
	cases := []struct {
		a, b []int64
		want string
	}{
		{[]int64{2, 3, 4}, []int64{4}, "[2,3,4]"},
		{[]int64{2, 1, 4}, []int64{3, 1}, "[2,3,4]"},
		{[]int64{}, []int64{5, 1}, "[5,1]"},
		{[]int64{-1, 3}, []int64{2, 1, 1}, "[2,?,3]"},
		{[]int64{-1, 3}, []int64{4, 3}, "[4,3]"},
		{[]int64{-1, 1}, []int64{1, 5}, "[?,5]"},
	}
	for _, c := range cases {
		b := NewBuilder(13)
		x := b.Input("a", Float32, c.a...)
		y := b.Input("b", Float32, c.b...)
		z := b.Op("Add", x, y)
		e := b.Op("Equal", x, y)
		b.Output(z, e)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		if got := shapeStr(z.Shape); got != c.want || z.DType != Float32 {
			t.Errorf("Add %v %v: %s %v, want %s", c.a, c.b, got, z.DType, c.want)
		}
		if e.DType != Bool || shapeStr(e.Shape) != c.want {
			t.Errorf("Equal %v %v: %s", c.a, c.b, typeString(e.DType, e.Shape))
		}
	}
	// A symbolic dimension meeting 1 keeps its name; meeting itself too.
	b := NewBuilder(13)
	x := b.Input("a", Float32, -1, 1)
	y := b.Input("b", Float32, -1, 4)
	x.Shape[0].Param, y.Shape[0].Param = "n", "n"
	z := b.Op("Mul", x, y)
	b.Output(z)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(z.Shape); got != "[n,4]" {
		t.Errorf("Mul [n,1] [n,4]: %s", got)
	}
	// Incompatible shapes: left unknown, no error.
	b = NewBuilder(13)
	z = b.Op("Add", b.Input("a", Float32, 3), b.Input("b", Float32, 4))
	b.Output(z)
	if _, err := b.Model(); err != nil || z.Shape != nil {
		t.Errorf("Add [3] [4]: %v %s", err, shapeStr(z.Shape))
	}
}

func TestInferMatMulGemm(t *testing.T) {
	cases := []struct {
		a, b []int64
		want string
	}{
		{[]int64{2, 3}, []int64{3, 4}, "[2,4]"},
		{[]int64{5, 2, 3}, []int64{3, 4}, "[5,2,4]"},
		{[]int64{3}, []int64{3, 4}, "[4]"},
		{[]int64{2, 3}, []int64{3}, "[2]"},
		{[]int64{1, 6, 2, 3}, []int64{7, 1, 3, 4}, "[7,6,2,4]"},
	}
	for _, c := range cases {
		b := NewBuilder(13)
		z := b.Op("MatMul", b.Input("a", Float32, c.a...), b.Input("b", Float32, c.b...))
		b.Output(z)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		if got := shapeStr(z.Shape); got != c.want {
			t.Errorf("MatMul %v %v: %s, want %s", c.a, c.b, got, c.want)
		}
	}
	b := NewBuilder(13)
	g := b.Op("Gemm", b.Input("a", Float32, 3, 2), b.Input("b", Float32, 5, 3), IntAttr("transA", 1), IntAttr("transB", 1))
	b.Output(g)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(g.Shape); got != "[2,5]" {
		t.Errorf("Gemm: %s", got)
	}
}

func TestInferAxesByOpset(t *testing.T) {
	// Unsqueeze/Squeeze/ReduceMean: axes attribute before opset 13 (18
	// for ReduceMean), input after.
	b := NewBuilder(11)
	x := b.Input("x", Float32, 3, 4)
	u := b.Op("Unsqueeze", x, IntsAttr("axes", 0, -1))
	s := b.Op("Squeeze", u, IntsAttr("axes", 0))
	r := b.Op("ReduceMean", x, IntsAttr("axes", 1), IntAttr("keepdims", 0))
	r2 := b.Op("ReduceMean", x)
	b.Output(u, s, r, r2)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Value
		want string
	}{{u, "[1,3,4,1]"}, {s, "[3,4,1]"}, {r, "[3]"}, {r2, "[1,1]"}} {
		if got := shapeStr(c.v.Shape); got != c.want {
			t.Errorf("opset 11 %s: %s, want %s", c.v.Producer.OpType, got, c.want)
		}
	}
	b = NewBuilder(18)
	x = b.Input("x", Float32, 3, 1, 4)
	u = b.Op("Unsqueeze", x, i64(t, b, "ua", []int64{2}, 1, 3))
	s = b.Op("Squeeze", x)
	r = b.Op("ReduceMean", x, i64(t, b, "ra", []int64{1}, -1))
	r2 = b.Op("ReduceSum", x, nil, IntAttr("noop_with_empty_axes", 1))
	b.Output(u, s, r, r2)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Value
		want string
	}{{u, "[3,1,1,1,4]"}, {s, "[3,4]"}, {r, "[3,1,1]"}, {r2, "[3,1,4]"}} {
		if got := shapeStr(c.v.Shape); got != c.want {
			t.Errorf("opset 18 %s: %s, want %s", c.v.Producer.OpType, got, c.want)
		}
	}
}

func TestInferMisc(t *testing.T) {
	b := NewBuilder(15)
	x := b.Input("x", Float32, 2, 6, 4)
	tr := b.Op("Transpose", x, IntsAttr("perm", 2, 0, 1))
	fl := b.Op("Flatten", x, IntAttr("axis", -1))
	parts := b.OpN("Split", 3, x, i64(t, b, "sp", []int64{3}, 1, 2, 3), IntAttr("axis", 1))
	cat := b.Op("Concat", parts[2], parts[0], IntAttr("axis", -2))
	g := b.Op("Gather", x, i64(t, b, "idx", []int64{2, 2}, 0, 1, 1, 0), IntAttr("axis", 1))
	pad := b.Op("Pad", x, i64(t, b, "pads", []int64{6}, 0, 1, 2, 0, 3, -1))
	ex := b.Op("Expand", x, i64(t, b, "es", []int64{4}, 3, 1, 1, 1))
	tl := b.Op("Tile", x, i64(t, b, "reps", []int64{3}, 1, 2, 3))
	rg := b.Op("Range", i64(t, b, "r0", []int64{}, 10), i64(t, b, "r1", []int64{}, 0), i64(t, b, "r2", []int64{}, -3))
	rs := b.Op("Resize", x, nil, f32(t, b, "scales", []int64{3}, 1, 2, 0.5))
	cs := b.Op("Cast", x, IntAttr("to", int64(Float16)))
	sh := b.Op("Shape", x, IntAttr("start", 1))
	lstm := b.OpN("LSTM", 3, x, f32(t, b, "W", []int64{2, 20, 4}, make([]float32, 160)...),
		f32(t, b, "R", []int64{2, 20, 5}, make([]float32, 200)...), StringAttr("direction", "bidirectional"), IntAttr("hidden_size", 5))
	b.Output(tr, fl, cat, g, pad, ex, tl, rg, rs, cs, sh)
	b.Output(lstm...)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Value
		want string
	}{
		{tr, "float32[4,2,6]"}, {fl, "float32[12,4]"}, {parts[1], "float32[2,2,4]"}, {cat, "float32[2,4,4]"},
		{g, "float32[2,2,2,4]"}, {pad, "float32[2,10,5]"}, {ex, "float32[3,2,6,4]"}, {tl, "float32[2,12,12]"},
		{rg, "int64[4]"}, {rs, "float32[2,12,2]"}, {cs, "float16[2,6,4]"}, {sh, "int64[2]"},
		{lstm[0], "float32[2,2,6,5]"}, {lstm[1], "float32[2,6,5]"}, {lstm[2], "float32[2,6,5]"},
	} {
		if got := typeString(c.v.DType, c.v.Shape); got != c.want {
			t.Errorf("%s: %s, want %s", c.v.Producer.OpType, got, c.want)
		}
	}
}

// An If whose condition folds takes the shapes of the branch it runs;
// otherwise its outputs keep what both branches agree on.
func TestInferIf(t *testing.T) {
	build := func(cond func(b *Builder, x *Value) *Value) *Value {
		b := NewBuilder(13)
		x := b.Input("x", Float32, 2, 3)
		thenG, elseG := NewGraph("then"), NewGraph("else")
		y := b.Op("If", cond(b, x), GraphAttr("then_branch", thenG), GraphAttr("else_branch", elseG))
		for _, sg := range []struct {
			g    *Graph
			op   string
			axes []int64
		}{{thenG, "Unsqueeze", []int64{0}}, {elseG, "Identity", nil}} {
			n := &Node{OpType: sg.op, Inputs: []*Value{x}}
			if sg.axes != nil {
				ax, err := FromInt64s("ax_"+sg.g.Name, []int64{1}, sg.axes)
				if err != nil {
					t.Fatal(err)
				}
				av, err := sg.g.AddInitializer(ax)
				if err != nil {
					t.Fatal(err)
				}
				n.Inputs = append(n.Inputs, av)
			}
			if err := sg.g.AddNode(n, "out_"+sg.g.Name); err != nil {
				t.Fatal(err)
			}
			sg.g.AddOutput(n.Outputs[0])
		}
		b.Output(y)
		if _, err := b.Model(); err != nil {
			t.Fatal(err)
		}
		return y
	}
	// Size(x) == 6: the then branch runs.
	y := build(func(b *Builder, x *Value) *Value {
		return b.Op("Equal", b.Op("Size", x), i64(t, b, "six", []int64{}, 6))
	})
	if got := typeString(y.DType, y.Shape); got != "float32[1,2,3]" {
		t.Errorf("If with folded condition: %s", got)
	}
	y = build(func(b *Builder, x *Value) *Value { return b.Input("c", Bool) })
	if y.Shape != nil || y.DType != Float32 {
		t.Errorf("If with unknown condition and branches of different rank: %s", typeString(y.DType, y.Shape))
	}
}

// Malformed nodes are left uninferred: no panic, no error.
func TestInferMalformed(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, 1, 3, 8, 8)
	var outs []*Value
	add := func(v *Value) { outs = append(outs, v) }
	w := f32(t, b, "w", []int64{4, 3, 3, 3}, make([]float32, 108)...)
	add(b.Op("Conv", x, w, IntsAttr("strides", 0, 1)))
	add(b.Op("Conv", x, w, IntsAttr("strides", 1)))
	add(b.Op("Conv", x, w, IntsAttr("pads", -100, 0, 0, 0)))
	add(b.Op("Conv", x, w, IntsAttr("dilations", math.MaxInt64, math.MaxInt64)))
	add(b.Op("MaxPool", x, IntsAttr("kernel_shape", math.MaxInt64, 2), IntsAttr("pads", math.MaxInt64, 0, math.MaxInt64, 0)))
	add(b.Op("Transpose", x, IntsAttr("perm", 0, 0, 1, 2)))
	add(b.Op("Transpose", x, IntsAttr("perm", 9, 1, 2, 3)))
	add(b.Op("Reshape", x, i64(t, b, "s1", []int64{2}, -1, -1)))
	add(b.Op("Reshape", x, i64(t, b, "s2", []int64{2}, -2, 3)))
	add(b.Op("Reshape", x, i64(t, b, "s3", []int64{5}, 0, 0, 0, 0, 0)))
	add(b.Op("Slice", x, i64(t, b, "a1", []int64{1}, 0), i64(t, b, "a2", []int64{1}, 1), i64(t, b, "a3", []int64{1}, 7), i64(t, b, "a4", []int64{1}, 1)))
	add(b.Op("Slice", x, i64(t, b, "b1", []int64{1}, 0), i64(t, b, "b2", []int64{1}, 1), i64(t, b, "b3", []int64{1}, 0), i64(t, b, "b4", []int64{1}, 0)))
	add(b.Op("Gather", x, i64(t, b, "gi", []int64{}, 0), IntAttr("axis", 4)))
	add(b.Op("Concat", x, b.Input("y", Float32, 3), IntAttr("axis", 0)))
	add(b.Op("Flatten", x, IntAttr("axis", 9)))
	add(b.Op("Unsqueeze", x, i64(t, b, "ua", []int64{2}, 0, 0)))
	add(b.Op("Squeeze", x, i64(t, b, "sa", []int64{1}, 1)))
	add(b.Op("Pad", x, i64(t, b, "pp", []int64{8}, math.MaxInt64, 0, 0, 0, math.MaxInt64, 0, 0, 0)))
	add(b.Op("Tile", x, i64(t, b, "tt", []int64{4}, math.MaxInt64, math.MaxInt64, 1, 1)))
	add(b.Op("Range", i64(t, b, "ra", []int64{}, math.MinInt64), i64(t, b, "rb", []int64{}, math.MaxInt64), i64(t, b, "rc", []int64{}, 1)))
	add(b.Op("ConstantOfShape", i64(t, b, "cs", []int64{3}, 1<<40, 1<<40, 1<<40)))
	add(b.Op("Resize", x, nil, f32(t, b, "sc", []int64{4}, 1, 1, float32(math.NaN()), float32(math.Inf(1)))))
	add(b.Op("Cast", x, IntAttr("to", 999)))
	add(b.Op("Split", x, i64(t, b, "spl", []int64{2}, 1, 5), IntAttr("axis", 1)))
	add(b.Op("LSTM", x, w, w))
	add(b.Op("Div", i64(t, b, "d1", []int64{}, math.MinInt64), i64(t, b, "d2", []int64{}, -1)))
	add(b.Op("Div", i64(t, b, "d3", []int64{}, 1), i64(t, b, "d4", []int64{}, 0)))
	b.Output(outs...)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := InferShapes(m); err != nil {
		t.Fatal(err)
	}
	// The enormous ConstantOfShape has a known shape but is not folded.
	for _, v := range outs {
		if v.Producer.OpType == "ConstantOfShape" {
			if got := shapeStr(v.Shape); got != "[1099511627776,1099511627776,1099511627776]" {
				t.Errorf("ConstantOfShape: %s", got)
			}
		}
	}
}

// Inference never replaces a known dimension, and fills unknown ones.
func TestInferKeepsKnownInformation(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, -1, 4)
	y := b.Op("Relu", x)
	b.Output(y)
	y.Shape = Shape{{Size: 7}, {Size: -1, Param: "w"}}
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := InferShapes(m); err != nil {
		t.Fatal(err)
	}
	if got := shapeStr(y.Shape); got != "[7,4]" {
		t.Errorf("Relu: %s, want [7,4]", got)
	}
}

func TestFixInputShapes(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, -1, 3)
	b.Output(b.Op("Relu", x))
	g := b.Graph()
	if err := FixInputShapes(g, map[string][]int64{"x": {2, 3}}); err != nil {
		t.Fatal(err)
	}
	if shapeStr(x.Shape) != "[2,3]" {
		t.Errorf("x: %s", shapeStr(x.Shape))
	}
	for _, bad := range []map[string][]int64{{"x": {2, 4}}, {"x": {2}}, {"nope": {1}}, {"x": {-1, 3}}} {
		if err := FixInputShapes(g, bad); err == nil {
			t.Errorf("FixInputShapes(%v) accepted", bad)
		}
	}
}

// FuzzInferShapes decodes arbitrary bytes and infers shapes: inference
// must not fail on any model that loads.
//
//	go test ./graph -run '^$' -fuzz FuzzInferShapes -fuzztime 5m
func FuzzInferShapes(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(inferShared, "onnx", "node-tests", "test_[a-r]*", "model.onnx"))
	for i, file := range files {
		if i%8 != 0 {
			continue
		}
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, "")
		if err != nil {
			return
		}
		if err := InferShapes(m); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInferConcatAndRangeEdges(t *testing.T) {
	b := NewBuilder(13)
	p := b.Input("p", Float32, -1, 2)
	q := b.Input("q", Float32, 3, -1)
	cat := b.Op("Concat", p, q, IntAttr("axis", 1))
	r := b.Op("Range", i64(t, b, "r0", []int64{}, 0), i64(t, b, "r1", []int64{}, math.MaxInt64), i64(t, b, "r2", []int64{}, math.MaxInt64))
	rf := b.Op("Range", f32(t, b, "f0", []int64{}, 1), f32(t, b, "f1", []int64{}, 0), f32(t, b, "f2", []int64{}, 0.25))
	b.Output(cat, r, rf)
	if _, err := b.Model(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *Value
		want string
	}{{cat, "float32[3,?]"}, {r, "int64[1]"}, {rf, "float32[0]"}} {
		if got := typeString(c.v.DType, c.v.Shape); got != c.want {
			t.Errorf("%s: %s, want %s", c.v.Producer.OpType, got, c.want)
		}
	}
}

// InferNodes types the nodes a pass inserts, in order: a Shape folds to a
// constant that the Reshape after it reads, and values already typed
// keep what they had.
func TestInferNodes(t *testing.T) {
	b := NewBuilder(13)
	x := b.Input("x", Float32, 1, 2, 3, 4)
	b.Output(b.Op("Relu", x))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	shape := &Node{OpType: "Shape", Inputs: []*Value{x}}
	flat := &Node{OpType: "Flatten", Inputs: []*Value{x}, Attrs: []*Attribute{IntAttr("axis", 3)}}
	for i, n := range []*Node{shape, flat} {
		if err := g.AddNode(n, []string{"s", "f"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	back := &Node{OpType: "Reshape", Inputs: []*Value{flat.Outputs[0], shape.Outputs[0]}}
	if err := g.AddNode(back, "r"); err != nil {
		t.Fatal(err)
	}
	if err := InferNodes(13, shape, flat, back); err != nil {
		t.Fatal(err)
	}
	for v, want := range map[*Value]string{shape.Outputs[0]: "[4]", flat.Outputs[0]: "[6,4]", back.Outputs[0]: "[1,2,3,4]"} {
		if got := shapeStr(v.Shape); got != want {
			t.Errorf("%s: %s, want %s", v.Name, got, want)
		}
	}
	if shape.Outputs[0].DType != Int64 || back.Outputs[0].DType != Float32 {
		t.Errorf("types %v, %v", shape.Outputs[0].DType, back.Outputs[0].DType)
	}
}
