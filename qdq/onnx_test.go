// Bit-exactness against the ONNX backend node tests of QuantizeLinear,
// DequantizeLinear and DynamicQuantizeLinear.
package qdq_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

var nodeTestGlobs = []string{
	"../../shared/onnx/node-tests/test_*quantizelinear*",
	"/usr/share/libonnx-testdata/data/node/test_*quantizelinear*",
}

// typeOf maps an ONNX element type to a quantized type.
func typeOf(dt graph.DType) (qdq.Type, bool) {
	switch dt {
	case graph.Int8:
		return qdq.Int8, true
	case graph.Uint8:
		return qdq.Uint8, true
	case graph.Int16:
		return qdq.Int16, true
	case graph.Uint16:
		return qdq.Uint16, true
	case graph.Int4:
		return qdq.Int4, true
	case graph.Uint4:
		return qdq.Uint4, true
	}
	return 0, false
}

// ints reads an integer tensor as int32.
func ints(t *runtime.Tensor) ([]int32, bool) {
	var out []int32
	switch d := t.Data.(type) {
	case []int8:
		for _, v := range d {
			out = append(out, int32(v))
		}
	case []uint8:
		for _, v := range d {
			out = append(out, int32(v))
		}
	case []int16:
		for _, v := range d {
			out = append(out, int32(v))
		}
	case []uint16:
		for _, v := range d {
			out = append(out, int32(v))
		}
	default:
		return nil, false
	}
	return out, true
}

// nodeCase is one data set of a single-node test folder.
type nodeCase struct {
	node    *graph.Node
	inputs  []*runtime.Tensor // by node input; nil when left out
	outputs []*runtime.Tensor
	rawOut  []*graph.Tensor
}

func loadNodeCases(t *testing.T, dir string) []nodeCase {
	t.Helper()
	m, err := graph.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Nodes) != 1 {
		return nil // an expanded function body: the single-node twin covers it
	}
	n := m.Graph.Nodes[0]
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	var cases []nodeCase
	for _, set := range sets {
		c := nodeCase{node: n}
		real := m.Graph.RealInputs()
		for _, v := range n.Inputs {
			var in *runtime.Tensor
			switch {
			case v == nil:
			case v.Const != nil:
				if in, err = runtime.FromGraph(v.Const); err != nil {
					t.Fatal(err)
				}
			default:
				for k, r := range real {
					if r == v {
						in, err = runtime.ReadTensorFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", k)))
						if err != nil && !os.IsNotExist(err) {
							t.Fatal(err)
						}
					}
				}
			}
			c.inputs = append(c.inputs, in)
		}
		for k := range n.Outputs {
			path := filepath.Join(set, fmt.Sprintf("output_%d.pb", k))
			out, err := runtime.ReadTensorFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := graph.DecodeTensor(data, set)
			if err != nil {
				t.Fatal(err)
			}
			c.outputs = append(c.outputs, out)
			c.rawOut = append(c.rawOut, raw)
		}
		cases = append(cases, c)
	}
	return cases
}

// paramsOf builds Params from a node's scale and zero point.
func paramsOf(n *graph.Node, x, scale *runtime.Tensor, zp []int32, typ qdq.Type) qdq.Params {
	p := qdq.Params{Scale: scale.F32(), ZeroPoint: zp, Type: typ, BlockSize: int(n.AttrInt("block_size", 0))}
	if p.ZeroPoint == nil {
		p.ZeroPoint = make([]int32, len(p.Scale))
	}
	if !p.PerTensor() {
		p.Axis = int(n.AttrInt("axis", 1))
		if p.Axis < 0 {
			p.Axis += x.Rank()
		}
	}
	return p
}

func TestONNXNodeTests(t *testing.T) {
	var dirs []string
	for _, g := range nodeTestGlobs {
		d, _ := filepath.Glob(g)
		dirs = append(dirs, d...)
	}
	if len(dirs) == 0 {
		t.Skip("no ONNX node tests found")
	}
	compared := map[string]int{}
	for _, dir := range dirs {
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		for _, c := range loadNodeCases(t, dir) {
			var why string
			switch c.node.OpType {
			case "QuantizeLinear":
				why = checkQuantize(t, name, c)
			case "DequantizeLinear":
				why = checkDequantize(t, name, c)
			case "DynamicQuantizeLinear":
				why = checkDynamic(t, name, c)
			default:
				why = "op " + c.node.OpType
			}
			if why != "" {
				t.Logf("%s: skipped: %s", name, why)
				continue
			}
			compared[c.node.OpType]++
		}
	}
	t.Logf("compared: %v", compared)
	for _, op := range []string{"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"} {
		if compared[op] == 0 {
			t.Errorf("no %s test compared", op)
		}
	}
}

func checkQuantize(t *testing.T, name string, c nodeCase) string {
	x, scale := c.inputs[0], c.inputs[1]
	if x.DType != graph.Float32 || scale.DType != graph.Float32 {
		return fmt.Sprintf("x %v, scale %v", x.DType, scale.DType)
	}
	if p := c.node.AttrInt("precision", 0); p != 0 && graph.DType(p) != graph.Float32 {
		return fmt.Sprintf("precision %v", graph.DType(p))
	}
	outType := graph.DType(c.node.AttrInt("output_dtype", int64(graph.Uint8)))
	var zp []int32
	if len(c.inputs) > 2 && c.inputs[2] != nil {
		outType = c.inputs[2].DType
		var ok bool
		if zp, ok = ints(c.inputs[2]); !ok {
			return fmt.Sprintf("zero point %v", outType)
		}
	}
	typ, ok := typeOf(outType)
	if !ok {
		return fmt.Sprintf("output type %v", outType)
	}
	p := paramsOf(c.node, x, scale, zp, typ)
	got, err := qdq.Quantize(x.F32(), x.Shape, p)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return ""
	}
	want, _ := ints(c.outputs[0])
	if len(got) != len(want) || len(want) == 0 {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return ""
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: element %d: x=%v → %d, want %d", name, i, x.F32()[i], got[i], want[i])
			return ""
		}
	}
	if typ.Bits() == 4 {
		raw, err := c.rawOut[0].Raw()
		if err != nil {
			t.Fatal(err)
		}
		if packed := qdq.PackInt4(got); string(packed) != string(raw) {
			t.Errorf("%s: packed % x, want % x", name, packed, raw)
		}
	}
	return ""
}

func checkDequantize(t *testing.T, name string, c nodeCase) string {
	x, scale := c.inputs[0], c.inputs[1]
	typ, ok := typeOf(x.DType)
	if !ok {
		return fmt.Sprintf("x %v", x.DType)
	}
	if scale.DType != graph.Float32 {
		return fmt.Sprintf("scale %v", scale.DType)
	}
	if o := c.node.AttrInt("output_dtype", 0); o != 0 && graph.DType(o) != graph.Float32 {
		return fmt.Sprintf("output_dtype %v", graph.DType(o))
	}
	var zp []int32
	if len(c.inputs) > 2 && c.inputs[2] != nil {
		zp, _ = ints(c.inputs[2])
	}
	q, _ := ints(x)
	p := paramsOf(c.node, x, scale, zp, typ)
	got, err := qdq.Dequantize(q, x.Shape, p)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return ""
	}
	if len(got) != c.outputs[0].Len() || len(got) == 0 {
		t.Errorf("%s: %d values, want %d", name, len(got), c.outputs[0].Len())
		return ""
	}
	for i, w := range c.outputs[0].F32() {
		if math.Float32bits(got[i]) != math.Float32bits(w) {
			t.Errorf("%s: element %d: q=%d → %v, want %v", name, i, q[i], got[i], w)
			return ""
		}
	}
	return ""
}

// checkDynamic compares ParamsFromRange (uint8, asymmetric) with the scale
// and zero point DynamicQuantizeLinear computes, and Quantize with its y.
func checkDynamic(t *testing.T, name string, c nodeCase) string {
	x := c.inputs[0]
	if x.DType != graph.Float32 {
		return fmt.Sprintf("x %v", x.DType)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x.F32() {
		lo, hi = min(lo, v), max(hi, v)
	}
	scale, zp := qdq.ParamsFromRange(lo, hi, qdq.RangeOptions{Type: qdq.Uint8})
	if w := c.outputs[1].F32()[0]; math.Float32bits(scale) != math.Float32bits(w) {
		t.Errorf("%s: scale %v, want %v", name, scale, w)
	}
	if w, _ := ints(c.outputs[2]); zp != w[0] {
		t.Errorf("%s: zero point %d, want %d", name, zp, w[0])
	}
	got, err := qdq.Quantize(x.F32(), x.Shape, qdq.Params{Scale: []float32{scale}, ZeroPoint: []int32{zp}, Type: qdq.Uint8})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ints(c.outputs[0])
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: element %d: %d, want %d", name, i, got[i], want[i])
			break
		}
	}
	return ""
}
