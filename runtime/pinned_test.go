package runtime

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
)

// A session's float32 initializer reads the graph's bytes in place, pinned
// (never written or recycled); FromGraph still copies.
func TestPinnedFromGraphShares(t *testing.T) {
	gt, err := graph.FromFloat32s("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := gt.Raw()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := pinnedFromGraph(gt)
	if err != nil {
		t.Fatal(err)
	}
	own, err := FromGraph(gt)
	if err != nil {
		t.Fatal(err)
	}
	f := shared.Data.([]float32)
	if !shared.pinned || unsafe.Pointer(&f[0]) != unsafe.Pointer(&raw[0]) || f[5] != 6 || len(shared.Shape) != 2 {
		t.Errorf("pinned %v, shares the bytes %v, values %v", shared.pinned, unsafe.Pointer(&f[0]) == unsafe.Pointer(&raw[0]), f)
	}
	if g := own.Data.([]float32); unsafe.Pointer(&g[0]) == unsafe.Pointer(&raw[0]) {
		t.Error("FromGraph shares the graph's bytes")
	}
}

// An output that is a constant, a view of one or a view of a fed input is
// the caller's own copy: writing into it changes neither the model's
// weights, later runs, nor the input.
func TestOutputsOwnTheirData(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 2, 2)
	w := b.Const(graph.FromFloat32s("w", []int64{2, 2}, []float32{10, 20, 30, 40}))
	shape := b.Const(graph.FromInt64s("shape", []int64{1}, []int64{4}))
	b.Output(b.Op("Identity", w), b.Op("Reshape", w, shape), b.Op("Reshape", x, shape))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})
	outs, err := s.Run(map[string]*Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		o.F32()[0] = -999
	}
	again, err := s.Run(map[string]*Tensor{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Graph.Outputs {
		if got := again[v.Name].F32()[0]; got == -999 {
			t.Errorf("output %s: a write into the previous run's output shows in the next", v.Name)
		}
	}
	if in.F32()[0] != 1 {
		t.Errorf("the fed input changed: %v", in.F32())
	}
	if f, _ := w.Const.Float32s(); f[0] != 10 {
		t.Errorf("the model's weight changed: %v", f)
	}
}

// ToGraph refuses data that does not fit the tensor's type or shape
// rather than padding or panicking.
func TestToGraphChecksData(t *testing.T) {
	bad := map[string]*Tensor{
		"short":      FromFloat32([]int{3}, []float32{1}),
		"long":       FromFloat32([]int{1}, []float32{1, 2}),
		"other type": {DType: graph.Float32, Shape: []int{1}, Data: []int64{1}},
		"no data":    {DType: graph.Float32, Shape: []int{1}},
		"nil":        nil,
	}
	for name, tensor := range bad {
		if _, err := ToGraph("t", tensor); err == nil {
			t.Errorf("%s: ToGraph accepted it", name)
		}
	}
	if gt, err := ToGraph("t", FromFloat32([]int{2}, []float32{1, 2})); err != nil || gt.NumElements() != 2 {
		t.Errorf("a good tensor: %v", err)
	}
}

// FromGraph of nil is an error; a zero Registry takes registrations.
func TestNilAndZeroValues(t *testing.T) {
	if _, err := FromGraph(nil); err == nil {
		t.Error("FromGraph(nil) succeeded")
	}
	var r Registry
	r.Register("", "Relu", nil)
}

// 64-bit integers are compared as integers: two values a float64 cannot
// tell apart still differ.
func TestCompareTensorsWideIntegers(t *testing.T) {
	big := int64(1) << 53
	if _, err := CompareTensors(FromInt64([]int{1}, []int64{big + 1}), FromInt64([]int{1}, []int64{big}), 0, 0); err == nil {
		t.Error("2^53+1 passed for 2^53")
	}
	u := &Tensor{DType: graph.Uint64, Shape: []int{1}, Data: []uint64{1<<64 - 1}}
	w := &Tensor{DType: graph.Uint64, Shape: []int{1}, Data: []uint64{1<<64 - 2}}
	if _, err := CompareTensors(u, w, 0, 0); err == nil {
		t.Error("2^64-1 passed for 2^64-2")
	}
	if _, err := CompareTensors(FromInt64([]int{1}, []int64{big}), FromInt64([]int{1}, []int64{big}), 0, 0); err != nil {
		t.Errorf("equal values: %v", err)
	}
}

// A value that is NaN on one side only is counted apart: it has no finite
// |diff| to show, which would read 0.
func TestCompareTensorsNaNCounted(t *testing.T) {
	nan := float32(math.NaN())
	_, err := CompareTensors(FromFloat32([]int{3}, []float32{0, 1, 2}), FromFloat32([]int{3}, []float32{nan, 1, 2}), 1e-3, 1e-7)
	if want := "1 of 3 values out of tolerance (1 where one side is NaN or infinite), worst finite |diff| 0"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one saying %q", err, want)
	}
}

// A test whose inputs are sequences or optionals is refused with the
// reason, not read as tensors; a file named like a data set beside the
// folders is not one.
func TestNodeTestKindsAndStrays(t *testing.T) {
	tests := "../../shared/onnx/node-tests"
	if _, err := os.Stat(tests); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no ONNX node tests at %s (CI has ../shared)", tests)
		}
		t.Skip("no ONNX node tests beside the repository")
	}
	for name, kind := range map[string]string{"test_identity_sequence": "sequence", "test_identity_opt": "optional"} {
		_, err := RunNodeTest(filepath.Join(tests, name), Options{Threads: 1})
		if err == nil || !strings.Contains(err.Error(), "of kind "+kind) {
			t.Errorf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	src := filepath.Join(tests, "test_relu")
	for _, f := range []string{"model.onnx", "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "test_data_set_1.tar.gz"), nil, 0o644)
	res, err := RunNodeTest(dir, Options{Threads: 1})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Errorf("a stray archive beside the data set: %v, %+v", err, res)
	}
}
