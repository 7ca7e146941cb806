// synthetic.go makes random samples for calibrating without data.

package calibdata

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
)

// Synthetic returns n random samples: float inputs normal(0,1), integer and
// bool inputs zero (an RNN's sequence lengths their full length, see
// Input.SequenceLength), symbolic dimensions 1. Sample i depends only on the
// inputs, i and seed. An input without a declared shape, or of a type with
// no numeric values (string, complex), makes Sample fail.
func Synthetic(inputs []Input, n int, seed int64) *Source {
	if n < 0 {
		n = 0
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("synthetic_%03d", i)
	}
	inputs = append([]Input{}, inputs...)
	return &Source{kind: fmt.Sprintf("synthetic (seed %d)", seed), inputs: inputs, names: names, load: func(i int) (map[string]*runtime.Tensor, error) {
		// One stream per sample, so samples can be read in any order.
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		out := map[string]*runtime.Tensor{}
		for _, in := range inputs {
			t, err := syntheticTensor(in, rng)
			if err != nil {
				return nil, err
			}
			out[in.Name] = t
		}
		return out, nil
	}}
}

// maxSyntheticElements keeps a model declaring a huge input from making
// Synthetic allocate without bound.
const maxSyntheticElements = 1 << 28

func syntheticTensor(in Input, rng *rand.Rand) (*runtime.Tensor, error) {
	if err := in.checkKind(); err != nil {
		return nil, err
	}
	if in.Shape == nil {
		return nil, fmt.Errorf("input %q has no declared shape, so no synthetic sample can be made for it", in.Name)
	}
	shape := make([]int, len(in.Shape))
	count := int64(1)
	for i, d := range in.Shape {
		shape[i] = 1
		if d.Known() {
			shape[i] = int(d.Size)
		}
		count *= int64(shape[i])
		if count > maxSyntheticElements {
			return nil, fmt.Errorf("input %q (%s) is too large for synthetic samples", in.Name, graph.TypeString(in.DType, in.Shape))
		}
	}
	t := runtime.New(in.DType, shape...)
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(normal(rng))
		}
	case []float64:
		for i := range d {
			d[i] = normal(rng)
		}
	case []float16.Float16:
		for i := range d {
			d[i] = float16.Fromfloat32(float32(normal(rng)))
		}
	case []runtime.BFloat16:
		for i := range d {
			d[i] = runtime.BFloat16From(float32(normal(rng)))
		}
	case []int32:
		for i := range d {
			d[i] = int32(in.SequenceLength)
		}
	case []int64:
		for i := range d {
			d[i] = in.SequenceLength
		}
	case []int8, []uint8, []int16, []uint16, []uint32, []uint64, []bool:
		// zeros
	default:
		return nil, fmt.Errorf("input %q is %s: no synthetic values for this type", in.Name, in.DType)
	}
	return t, nil
}

// normal draws from N(0,1) by the Box-Muller transform; written out rather
// than rand.NormFloat64 so the values stay fixed across Go releases.
func normal(rng *rand.Rand) float64 {
	u1 := 1 - rng.Float64() // in (0, 1]
	u2 := rng.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// SyntheticCaveats says what Synthetic's samples leave out of real inputs,
// one phrase each: the integer and bool inputs it fills with zeros (a mask
// of zeros, token ids all 0) and the symbolic or unknown dimensions past
// the first axis it sets to 1 (a sequence of one step), by name; a batch
// of one is what a first axis is expected to be. None when every input is
// float with a fixed shape.
func SyntheticCaveats(inputs []Input) []string {
	var zeros []string
	for _, in := range inputs {
		if !in.DType.IsFloat() && in.SequenceLength <= 0 {
			zeros = append(zeros, in.Name)
		}
	}
	dims := SizeOneDims(inputs)
	var out []string
	if len(zeros) > 0 {
		out = append(out, "all zeros in "+strings.Join(zeros, ", "))
	}
	if len(dims) > 0 {
		out = append(out, "size 1 for "+strings.Join(dims, ", "))
	}
	return out
}

// SizeOneDims names the symbolic or unknown dimensions past the first
// axis that Synthetic sets to 1: a symbolic one by its name, once, another
// as input[axis].
func SizeOneDims(inputs []Input) []string {
	var dims []string
	seen := map[string]bool{}
	for _, in := range inputs {
		for i, d := range in.Shape {
			if d.Known() || i == 0 && len(in.Shape) > 1 {
				continue
			}
			name := d.Param
			if name == "" || graph.UnknownDimParam(name) {
				name = fmt.Sprintf("%s[%d]", in.Name, i)
			}
			if !seen[name] {
				seen[name] = true
				dims = append(dims, name)
			}
		}
	}
	return dims
}

// WithShapes returns inputs with the shapes given by name (--shape) fixed,
// for Synthetic: a given shape must have the input's rank and its fixed
// sizes, and a named dimension it sets takes that size in every other
// input that shares the name, so that the samples fit one another. An
// input without a declared shape takes the given one. A name that is no
// input, or two sizes for one named dimension, is an error.
func WithShapes(inputs []Input, shapes map[string][]int64) ([]Input, error) {
	names := inputNames(inputs)
	// in name order, so that the error is the same on every run
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		if !slices.Contains(names, name) {
			list := strings.Join(names, ", ")
			if list == "" {
				list = "none"
			}
			return nil, fmt.Errorf("--shape %s: the model has no input %q (inputs: %s)", name, name, list)
		}
	}
	// Named sizes first, so that an input without --shape follows the
	// inputs that have one whatever their order.
	named, from := map[string]int64{}, map[string]string{}
	for _, in := range inputs {
		dims, ok := shapes[in.Name]
		if !ok {
			continue
		}
		if in.Shape != nil && len(in.Shape) != len(dims) {
			return nil, fmt.Errorf("--shape %s: input %q is %s, not of rank %d", in.Name, in.Name, graph.TypeString(in.DType, in.Shape), len(dims))
		}
		for i, d := range in.Shape {
			switch {
			case d.Known() && d.Size != dims[i]:
				return nil, fmt.Errorf("--shape %s: input %q is %s, which does not fit %v", in.Name, in.Name, graph.TypeString(in.DType, in.Shape), dims)
			case d.Known() || d.Param == "" || graph.UnknownDimParam(d.Param):
			case from[d.Param] != "" && named[d.Param] != dims[i]:
				return nil, fmt.Errorf("--shape %s: dimension %q is %d here but %d in --shape %s", in.Name, d.Param, dims[i], named[d.Param], from[d.Param])
			default:
				named[d.Param], from[d.Param] = dims[i], in.Name
			}
		}
	}
	out := make([]Input, len(inputs))
	for k, in := range inputs {
		out[k] = in
		if dims, ok := shapes[in.Name]; ok {
			out[k].Shape = make(graph.Shape, len(dims))
			for i, d := range dims {
				out[k].Shape[i] = graph.Dim{Size: d}
			}
			continue
		}
		if in.Shape == nil {
			continue
		}
		out[k].Shape = append(graph.Shape{}, in.Shape...)
		for i, d := range in.Shape {
			if size, ok := named[d.Param]; ok && !d.Known() && d.Param != "" {
				out[k].Shape[i] = graph.Dim{Size: size}
			}
		}
	}
	return out, nil
}
