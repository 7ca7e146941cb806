// indexing_einsum.go holds Einsum: the equation is parsed into labels
// (ellipsis dimensions get labels of their own), repeated labels of one
// operand become diagonals, labels used by a single operand and not by
// the output are summed early, and operands are contracted pairwise as
// batched matrix products (batch × m × k times batch × k × n). It
// computes in float64 and rounds once to the output type.

package runtime

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// einsumEllipsis is the first label id of ellipsis dimensions (letters
// use 0..51).
const einsumEllipsis = 64

func buildEinsum(n *graph.Node, opset int64) (Kernel, error) {
	eq := strings.ReplaceAll(n.AttrString("equation", ""), " ", "")
	if eq == "" {
		return nil, fmt.Errorf("attribute equation is required")
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		ranks := make([]int, len(in))
		for i, t := range in {
			if t == nil {
				return nil, fmt.Errorf("input %d is missing", i)
			}
			if t.DType != in[0].DType {
				return nil, fmt.Errorf("input %d is %v, input 0 is %v", i, t.DType, in[0].DType)
			}
			ranks[i] = t.Rank()
		}
		labels, outLabels, err := parseEinsum(eq, ranks)
		if err != nil {
			return nil, err
		}
		size := map[int]int{}
		ops := make([]einOperand, len(in))
		for i, t := range in {
			for j, l := range labels[i] {
				d := t.Shape[j]
				if s, ok := size[l]; ok && s != d && s != 1 && d != 1 {
					return nil, fmt.Errorf("label %s has sizes %d and %d", einsumName(l), s, d)
				}
				if s, ok := size[l]; !ok || s == 1 {
					size[l] = d
				}
			}
		}
		outShape := make([]int, len(outLabels))
		for i, l := range outLabels {
			s, ok := size[l]
			if !ok {
				return nil, fmt.Errorf("output label %s is not in any input", einsumName(l))
			}
			outShape[i] = s
		}
		if _, err := dmCheckShape(outShape); err != nil {
			return nil, err
		}
		for i, t := range in {
			vals, err := t.AsFloat64()
			if err != nil {
				return nil, err
			}
			ops[i] = einDiagonal(einOperand{data: vals, labels: labels[i], shape: t.Shape})
		}
		res := einContract(ops, outLabels, size)
		out := ctx.Alloc(in[0].DType, outShape...)
		if err := dmStoreFloat64(out, res); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func einsumName(l int) string {
	if l >= einsumEllipsis {
		return fmt.Sprintf("...%d", l-einsumEllipsis)
	}
	if l < 26 {
		return string(rune('a' + l))
	}
	return string(rune('A' + l - 26))
}

// parseEinsum returns the labels of every operand and of the output.
func parseEinsum(eq string, ranks []int) ([][]int, []int, error) {
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(ranks) {
		return nil, nil, fmt.Errorf("equation %q has %d operands, got %d inputs", eq, len(terms), len(ranks))
	}
	letter := func(c byte) (int, bool) {
		switch {
		case c >= 'a' && c <= 'z':
			return int(c - 'a'), true
		case c >= 'A' && c <= 'Z':
			return int(c-'A') + 26, true
		}
		return 0, false
	}
	// First pass: letters and the ellipsis rank.
	type term struct {
		before, after []int
		ellipsis      bool
	}
	parsed := make([]term, len(terms))
	ellRank := 0
	for i, s := range terms {
		var t term
		for p := 0; p < len(s); p++ {
			if strings.HasPrefix(s[p:], "...") {
				if t.ellipsis {
					return nil, nil, fmt.Errorf("equation %q has two ellipses in one operand", eq)
				}
				t.ellipsis = true
				p += 2
				continue
			}
			l, ok := letter(s[p])
			if !ok {
				return nil, nil, fmt.Errorf("equation %q has an invalid character %q", eq, s[p])
			}
			if t.ellipsis {
				t.after = append(t.after, l)
			} else {
				t.before = append(t.before, l)
			}
		}
		named := len(t.before) + len(t.after)
		if !t.ellipsis && named != ranks[i] || t.ellipsis && named > ranks[i] {
			return nil, nil, fmt.Errorf("operand %d of %q does not match its rank %d", i, eq, ranks[i])
		}
		if t.ellipsis {
			ellRank = max(ellRank, ranks[i]-named)
		}
		parsed[i] = t
	}
	ell := func(e int) []int {
		ls := make([]int, e)
		for j := range ls {
			ls[j] = einsumEllipsis + ellRank - e + j
		}
		return ls
	}
	labels := make([][]int, len(terms))
	count := map[int]int{}
	for i, t := range parsed {
		ls := append([]int{}, t.before...)
		if t.ellipsis {
			ls = append(ls, ell(ranks[i]-len(t.before)-len(t.after))...)
		}
		ls = append(ls, t.after...)
		labels[i] = ls
		for _, l := range append(t.before, t.after...) {
			count[l]++
		}
	}
	var out []int
	if explicit {
		seen := map[int]bool{}
		for p := 0; p < len(rhs); p++ {
			if strings.HasPrefix(rhs[p:], "...") {
				out = append(out, ell(ellRank)...)
				p += 2
				continue
			}
			l, ok := letter(rhs[p])
			if !ok {
				return nil, nil, fmt.Errorf("equation %q has an invalid character %q", eq, rhs[p])
			}
			if seen[l] {
				return nil, nil, fmt.Errorf("equation %q repeats %q in the output", eq, rhs[p])
			}
			seen[l] = true
			out = append(out, l)
		}
	} else {
		out = ell(ellRank)
		var once []int
		for l, c := range count {
			if c == 1 {
				once = append(once, l)
			}
		}
		sort.Ints(once)
		out = append(out, once...)
	}
	return labels, out, nil
}

// einOperand is a dense row-major float64 tensor with one label per axis.
type einOperand struct {
	data   []float64
	labels []int
	shape  []int
}

// einDiagonal merges repeated labels of an operand into their diagonal.
func einDiagonal(op einOperand) einOperand {
	st := Strides(op.shape)
	var labels, shape, strides []int
	for i, l := range op.labels {
		if j := slices.Index(labels, l); j >= 0 {
			strides[j] += st[i]
			shape[j] = min(shape[j], op.shape[i])
			continue
		}
		labels = append(labels, l)
		shape = append(shape, op.shape[i])
		strides = append(strides, st[i])
	}
	if len(labels) == len(op.labels) {
		return op
	}
	return einOperand{data: einGather(op.data, shape, strides), labels: labels, shape: shape}
}

// einGather materialises a strided view of data.
func einGather(data []float64, shape, strides []int) []float64 {
	n := 1
	for _, d := range shape {
		n *= d
	}
	out := make([]float64, n)
	if n == 0 {
		return out
	}
	counter := make([]int, len(shape))
	pos := 0
	for i := range out {
		out[i] = data[pos]
		for a := len(shape) - 1; a >= 0; a-- {
			counter[a]++
			pos += strides[a]
			if counter[a] < shape[a] {
				break
			}
			pos -= strides[a] * shape[a]
			counter[a] = 0
		}
	}
	return out
}

// einArrange returns op's data laid out in the label order given, each
// axis at its full size (size-1 axes broadcast).
func einArrange(op einOperand, order []int, size map[int]int) []float64 {
	st := Strides(op.shape)
	shape := make([]int, len(order))
	strides := make([]int, len(order))
	for i, l := range order {
		shape[i] = size[l]
		if j := slices.Index(op.labels, l); j >= 0 && op.shape[j] != 1 {
			strides[i] = st[j]
		}
	}
	return einGather(op.data, shape, strides)
}

// einReduce sums op over every label not in keep.
func einReduce(op einOperand, keep []int, size map[int]int) einOperand {
	var kept, dropped []int
	for _, l := range op.labels {
		if slices.Contains(keep, l) {
			kept = append(kept, l)
		} else {
			dropped = append(dropped, l)
		}
	}
	if len(dropped) == 0 {
		return op
	}
	shape := make([]int, len(kept))
	for i, l := range kept {
		shape[i] = size[l]
	}
	inner := 1
	for _, l := range dropped {
		inner *= size[l]
	}
	arr := einArrange(op, append(append([]int{}, kept...), dropped...), size)
	outer := len(arr) / max(inner, 1)
	if inner == 0 {
		outer = 1
		for _, d := range shape {
			outer *= d
		}
	}
	res := make([]float64, outer)
	for o := range res {
		var s float64
		for _, v := range arr[o*inner : (o+1)*inner] {
			s += v
		}
		res[o] = s
	}
	return einOperand{data: res, labels: kept, shape: shape}
}

// einContract folds the operands pairwise and returns the output data.
func einContract(ops []einOperand, out []int, size map[int]int) []float64 {
	needed := func(skip1, skip2 int, rest []einOperand) []int {
		ls := append([]int{}, out...)
		for i, op := range rest {
			if i != skip1 && i != skip2 {
				ls = append(ls, op.labels...)
			}
		}
		return ls
	}
	for len(ops) > 1 {
		a, b := ops[0], ops[1]
		keepElsewhere := needed(0, 1, ops)
		// Sum what only one side uses and nobody needs afterwards.
		a = einReduce(a, append(append([]int{}, keepElsewhere...), b.labels...), size)
		b = einReduce(b, append(append([]int{}, keepElsewhere...), a.labels...), size)
		var batch, m, nn, k []int
		for _, l := range a.labels {
			inB := slices.Contains(b.labels, l)
			kept := slices.Contains(keepElsewhere, l)
			switch {
			case inB && kept:
				batch = append(batch, l)
			case inB:
				k = append(k, l)
			default:
				m = append(m, l)
			}
		}
		for _, l := range b.labels {
			if !slices.Contains(a.labels, l) {
				nn = append(nn, l)
			}
		}
		prod := func(ls []int) int {
			p := 1
			for _, l := range ls {
				p *= size[l]
			}
			return p
		}
		B, M, N, K := prod(batch), prod(m), prod(nn), prod(k)
		A := einArrange(a, append(append(append([]int{}, batch...), m...), k...), size)
		Bm := einArrange(b, append(append(append([]int{}, batch...), k...), nn...), size)
		C := make([]float64, B*M*N)
		for bi := 0; bi < B; bi++ {
			for i := 0; i < M; i++ {
				crow := C[(bi*M+i)*N : (bi*M+i+1)*N]
				for kk := 0; kk < K; kk++ {
					av := A[(bi*M+i)*K+kk]
					if av == 0 {
						continue
					}
					brow := Bm[(bi*K+kk)*N : (bi*K+kk+1)*N]
					for j, bv := range brow {
						crow[j] += av * bv
					}
				}
			}
		}
		labels := append(append(append([]int{}, batch...), m...), nn...)
		shape := make([]int, len(labels))
		for i, l := range labels {
			shape[i] = size[l]
		}
		ops = append([]einOperand{{data: C, labels: labels, shape: shape}}, ops[2:]...)
	}
	last := einReduce(ops[0], out, size)
	return einArrange(last, out, size)
}

// dmStoreFloat64 rounds float64 values into out's element type; integers
// truncate toward zero and saturate at the type's range (NaN gives 0).
func dmStoreFloat64(out *Tensor, vals []float64) error {
	switch o := out.Data.(type) {
	case []float32:
		for i, v := range vals {
			o[i] = float32(v)
		}
	case []float64:
		copy(o, vals)
	case []float16.Float16:
		for i, v := range vals {
			o[i] = float16.Fromfloat32(float32(v))
		}
	case []BFloat16:
		for i, v := range vals {
			o[i] = BFloat16From(float32(v))
		}
	case []int8:
		dmSaturate(o, vals, math.MinInt8, math.MaxInt8, -1<<7, 1<<7)
	case []int16:
		dmSaturate(o, vals, math.MinInt16, math.MaxInt16, -1<<15, 1<<15)
	case []int32:
		dmSaturate(o, vals, math.MinInt32, math.MaxInt32, -1<<31, 1<<31)
	case []int64:
		dmSaturate(o, vals, math.MinInt64, math.MaxInt64, -1<<63, 1<<63)
	case []uint8:
		if out.DType != graph.Uint8 {
			return fmt.Errorf("%v is not supported", out.DType)
		}
		dmSaturate(o, vals, 0, math.MaxUint8, 0, 1<<8)
	case []uint16:
		dmSaturate(o, vals, 0, math.MaxUint16, 0, 1<<16)
	case []uint32:
		dmSaturate(o, vals, 0, math.MaxUint32, 0, 1<<32)
	case []uint64:
		dmSaturate(o, vals, 0, math.MaxUint64, 0, 1<<64)
	default:
		return fmt.Errorf("%v is not supported", out.DType)
	}
	return nil
}

// dmSaturate stores truncated values, clamping those outside [lo, hi)
// to the type's limits.
func dmSaturate[T ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64](dst []T, vals []float64, minT, maxT T, lo, hi float64) {
	for i, v := range vals {
		switch {
		case v != v:
			dst[i] = 0
		case v < lo:
			dst[i] = minT
		case v >= hi:
			dst[i] = maxT
		default:
			dst[i] = T(v)
		}
	}
}
