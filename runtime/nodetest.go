package runtime

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/onnxq/onnxq/graph"
)

// Tolerances of the ONNX backend tests for floating-point outputs.
const (
	NodeTestRTol = 1e-3
	NodeTestATol = 1e-7
)

// NodeTestResult is the outcome of one data set of an ONNX test folder.
type NodeTestResult struct {
	DataSet string
	// Worst is the largest |got-want| over float outputs, and WorstOutput
	// names where it occurred.
	Worst       float64
	WorstOutput string
	Err         error // nil when every output is within tolerance
}

// RunNodeTest runs an ONNX test folder (model.onnx and
// test_data_set_N/{input,output}_K.pb) and compares every output with the
// expected one: floats within NodeTestRTol/NodeTestATol, everything else
// exactly. It returns one result per data set; the error is for a folder
// or model that cannot be run at all.
func RunNodeTest(dir string, opts Options) ([]NodeTestResult, error) {
	m, err := graph.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	return RunTestFolder(dir, m, opts, NodeTestRTol, NodeTestATol)
}

// RunTestFolder is RunNodeTest with the model given (the folder's own, or
// a rewritten form of it) and float tolerances of the caller's choice.
func RunTestFolder(dir string, m *graph.Model, opts Options, rtol, atol float64) ([]NodeTestResult, error) {
	sess, err := NewSession(m, opts)
	if err != nil {
		return nil, err
	}
	for _, v := range append(slices.Clone(sess.Inputs()), sess.Outputs()...) {
		if k := v.TypeKind(); k != "" && k != "tensor" {
			return nil, fmt.Errorf("%q holds a value of kind %s: test folders are compared tensor by tensor", v.Name, k)
		}
	}
	if len(sess.Outputs()) == 0 {
		// it would pass whatever the model computed
		return nil, errors.New("the model has no outputs: there is nothing to compare")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	var sets []string
	for _, m := range matches {
		// folders only: an archive of a data set beside them is no set,
		// but a file named as a set is one gone wrong, not to be skipped
		st, err := os.Stat(m)
		switch {
		case err == nil && st.IsDir():
			sets = append(sets, m)
		case isDataSetName(filepath.Base(m)):
			if err == nil {
				err = errors.New("not a folder")
			}
			return nil, fmt.Errorf("%s: %v", m, err)
		}
	}
	sort.Strings(sets)
	if len(sets) == 0 {
		return nil, fmt.Errorf("%s: no test_data_set_N folders", dir)
	}
	var results []NodeTestResult
	for _, set := range sets {
		r := NodeTestResult{DataSet: filepath.Base(set)}
		r.Worst, r.WorstOutput, r.Err = runDataSet(sess, set, rtol, atol)
		results = append(results, r)
	}
	return results, nil
}

// ReadTensorFile reads one serialized TensorProto (.pb).
func ReadTensorFile(path string) (*Tensor, error) {
	t, _, err := readNamedTensorFile(path)
	return t, err
}

// readNamedTensorFile is ReadTensorFile that also returns the name the
// TensorProto records ("" when it has none).
func readNamedTensorFile(path string) (*Tensor, string, error) {
	data, err := graph.ReadProtoFile(path, "a TensorProto")
	if err != nil {
		return nil, "", err
	}
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%s: empty file, not a TensorProto", path)
	}
	gt, err := graph.DecodeTensor(data, filepath.Dir(path))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", path, err)
	}
	t, err := FromGraph(gt)
	return t, gt.Name, err
}

func runDataSet(sess *Session, set string, rtol, atol float64) (float64, string, error) {
	if err := checkDataSetFiles(set, len(sess.Inputs()), len(sess.Outputs())); err != nil {
		return 0, "", err
	}
	inputs := map[string]*Tensor{}
	for i, v := range sess.Inputs() {
		path := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(path); err != nil {
			continue // an optional input the test leaves out
		}
		t, err := ReadTensorFile(path)
		if err != nil {
			return 0, "", err
		}
		inputs[v.Name] = bfloat16From16Bits(t, v.DType)
	}
	outs, err := sess.Run(inputs)
	if err != nil {
		return 0, "", err
	}
	worst, where := 0.0, ""
	for i, v := range sess.Outputs() {
		want, recorded, err := readNamedTensorFile(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return 0, "", err
		}
		if got := outs[v.Name]; got != nil {
			want = bfloat16From16Bits(want, got.DType)
		}
		d, err := CompareTensors(outs[v.Name], want, rtol, atol)
		if d > worst {
			worst, where = d, v.Name
		}
		if err != nil {
			if recorded != "" && recorded != v.Name {
				// outputs are matched by position, as in ONNX's tests; the
				// recorded name tells an edited or reordered model
				err = fmt.Errorf("%v (output_%d.pb records output %q)", err, i, recorded)
			}
			return worst, where, fmt.Errorf("output %q: %v", v.Name, err)
		}
	}
	return worst, where, nil
}

// checkDataSetFiles refuses a data set holding input_K.pb or output_K.pb
// files past the model's inputs or outputs: a test written for another
// model, or edited, which would otherwise pass on the files it shares.
func checkDataSetFiles(set string, inputs, outputs int) error {
	entries, err := os.ReadDir(set)
	if err != nil {
		return err
	}
	for _, e := range entries {
		var k int
		var kind string
		switch {
		case scanIndex(e.Name(), "input_%d.pb", &k):
			if k < inputs {
				continue
			}
			kind = count(inputs, "input")
		case scanIndex(e.Name(), "output_%d.pb", &k):
			if k < outputs {
				continue
			}
			kind = count(outputs, "output")
		default:
			continue
		}
		return fmt.Errorf("%s: the model has %s", filepath.Join(filepath.Base(set), e.Name()), kind)
	}
	return nil
}

// count says n things: "1 output", "2 outputs".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// scanIndex reads the index of a name of the form format (one %d).
func scanIndex(name, format string, k *int) bool {
	n, err := fmt.Sscanf(name, format, k)
	return err == nil && n == 1 && fmt.Sprintf(format, *k) == name
}

// CompareTensors checks got against want: same type and shape; floats
// within |got-want| <= atol + rtol*|want| (NaN matches NaN, infinities
// must be equal); other types exactly. It returns the largest absolute
// difference of a float comparison.
func CompareTensors(got, want *Tensor, rtol, atol float64) (float64, error) {
	if got == nil {
		return 0, fmt.Errorf("no value")
	}
	if got.DType != want.DType {
		return 0, fmt.Errorf("type %v, want %v", got.DType, want.DType)
	}
	if !equalShape(got.Shape, want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if got.DType == graph.String {
		g, w := got.Data.([]string), want.Data.([]string)
		for i := range w {
			if g[i] != w[i] {
				return 0, fmt.Errorf("%s is %q, want %q", elementAt(i, want.Shape), g[i], w[i])
			}
		}
		return 0, nil
	}
	if gb, ok := got.Data.([]uint8); ok && !got.DType.IsInteger() {
		// float8 and float4 values are held as bit patterns: compare exactly.
		wb := want.Data.([]uint8)
		for i := range wb {
			if gb[i] != wb[i] {
				return 0, fmt.Errorf("%s has bits %#02x, want %#02x", elementAt(i, want.Shape), gb[i], wb[i])
			}
		}
		return 0, nil
	}
	// 64-bit integers beyond 2^53 do not survive float64: compared as
	// integers
	switch w := want.Data.(type) {
	case []int64:
		if g, ok := got.Data.([]int64); ok {
			return 0, equalIntegers(g, w, want.Shape)
		}
	case []uint64:
		if g, ok := got.Data.([]uint64); ok {
			return 0, equalIntegers(g, w, want.Shape)
		}
	}
	var g, w []float64
	part := func(i int) string { return elementAt(i, want.Shape) }
	switch wc := want.Data.(type) {
	case []complex64, []complex128:
		// each part within the tolerance, as two floats
		g, w = complexParts(got.Data), complexParts(wc)
		if g == nil || len(g) != len(w) {
			return 0, fmt.Errorf("%T data, want %T", got.Data, want.Data)
		}
		part = func(i int) string {
			return elementAt(i/2, want.Shape) + []string{" (real part)", " (imaginary part)"}[i%2]
		}
	default:
		var err error
		if g, err = got.AsFloat64(); err != nil {
			return 0, err
		}
		w, _ = want.AsFloat64()
	}
	exact := !got.DType.IsFloat() && got.DType != graph.Complex64 && got.DType != graph.Complex128
	// The first element out of tolerance is named; the others are
	// counted, so that one stray value reads apart from a whole output.
	worst := 0.0
	var first error
	off, nonFinite := 0, 0
	for i := range w {
		a, b := g[i], w[i]
		var bad error
		switch d := math.Abs(a - b); {
		case math.IsNaN(b):
			if !math.IsNaN(a) {
				bad = fmt.Errorf("%s is %v, want NaN", part(i), a)
				nonFinite++
			}
		case math.IsInf(b, 0) || exact:
			if a != b {
				bad = fmt.Errorf("%s is %v, want %v", part(i), a, b)
				if !exact {
					nonFinite++
				}
			}
		case math.IsNaN(d):
			bad = fmt.Errorf("%s is %v, want %v", part(i), a, b)
			nonFinite++
		default:
			worst = max(worst, d)
			if d > atol+rtol*math.Abs(b) {
				bad = fmt.Errorf("%s is %v, want %v (|diff| %.3g)", part(i), a, b, d)
			}
		}
		if bad != nil {
			off++
			if first == nil {
				first = bad
			}
		}
	}
	if first != nil && len(w) > 1 {
		// A NaN or infinity against a number has no |diff| to show.
		which := ""
		if nonFinite > 0 {
			which = fmt.Sprintf(" (%d where one side is NaN or infinite)", nonFinite)
		}
		return worst, fmt.Errorf("%w; %d of %d values out of tolerance%s, worst finite |diff| %.3g", first, off, len(w), which, worst)
	}
	return worst, first
}

// complexParts returns complex data as its real and imaginary parts in
// turn, nil for other data.
func complexParts(d any) []float64 {
	switch c := d.(type) {
	case []complex64:
		out := make([]float64, 0, 2*len(c))
		for _, v := range c {
			out = append(out, float64(real(v)), float64(imag(v)))
		}
		return out
	case []complex128:
		out := make([]float64, 0, 2*len(c))
		for _, v := range c {
			out = append(out, real(v), imag(v))
		}
		return out
	}
	return nil
}

// elementAt names the i-th element of a row-major tensor of the given
// shape: its flat index and, for rank 2 and more, its coordinates.
func elementAt(i int, shape []int) string {
	if len(shape) < 2 {
		return fmt.Sprintf("element %d", i)
	}
	idx := make([]int, len(shape))
	rest := i
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = rest % shape[d]
			rest /= shape[d]
		}
	}
	return fmt.Sprintf("element %d %v", i, idx)
}

func equalShape(a, b []int) bool { return slices.Equal(a, b) }

// bfloat16From16Bits reads a uint16 tensor as bfloat16 bit patterns when
// bfloat16 is expected: test data written by ONNX 1.12 stored bfloat16
// values that way.
func bfloat16From16Bits(t *Tensor, want graph.DType) *Tensor {
	bits, ok := t.Data.([]uint16)
	if !ok || t.DType != graph.Uint16 || want != graph.BFloat16 {
		return t
	}
	data := make([]BFloat16, len(bits))
	for i, b := range bits {
		data[i] = BFloat16(b)
	}
	return &Tensor{DType: graph.BFloat16, Shape: t.Shape, Data: data}
}

// equalIntegers names the first element where got and want differ.
func equalIntegers[T int64 | uint64](got, want []T, shape []int) error {
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("%s is %d, want %d", elementAt(i, shape), got[i], want[i])
		}
	}
	return nil
}

// isDataSetName tells whether name is test_data_set_N, N decimal digits.
func isDataSetName(name string) bool {
	digits, ok := strings.CutPrefix(name, "test_data_set_")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}
