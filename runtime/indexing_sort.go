// indexing_sort.go holds the kernels that order elements: TopK and Unique.
// Both compare typed keys (float16 and bfloat16 widened to float32) and
// then move the original elements by index.

package runtime

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerSortOps(r *Registry) {
	r.Register("", "TopK", buildTopK)
	r.Register("", "Unique", buildUnique)
}

// sortKeys returns tensor data in a form with a total order: the Go
// slice itself for numbers and strings, float32 for the 16-bit floats,
// bytes for bools.
func sortKeys(t *Tensor) (any, error) {
	switch d := t.Data.(type) {
	case []float16.Float16:
		return dmF16ToF32(d), nil
	case []BFloat16:
		return dmBF16ToF32(d), nil
	case []bool:
		return dmWords(d), nil
	case []uint8:
		if t.DType != graph.Uint8 {
			return nil, fmt.Errorf("%v values cannot be ordered", t.DType)
		}
		return d, nil
	case []float32, []float64, []int8, []int16, []int32, []int64, []uint16, []uint32, []uint64, []string:
		return d, nil
	}
	return nil, fmt.Errorf("%v values cannot be ordered", t.DType)
}

// cmpNaN orders NaN above every number (as ONNX Runtime's TopK does), so
// the order stays total for float keys.
func cmpNaN[T cmp.Ordered](a, b T) int {
	aNaN, bNaN := a != a, b != b
	switch {
	case aNaN && bNaN:
		return 0
	case aNaN:
		return 1
	case bNaN:
		return -1
	}
	return cmp.Compare(a, b)
}

func buildTopK(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", -1)
	largest := n.AttrInt("largest", 1) != 0
	attrK := n.AttrInt("k", -1)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		k := attrK
		if opset >= 10 {
			if err := dmNeedInputs(in, 2); err != nil {
				return nil, err
			}
			v, err := dmInts(in[1], "K")
			if err != nil {
				return nil, err
			}
			if len(v) != 1 {
				return nil, fmt.Errorf("K must hold one value, got shape %v", in[1].Shape)
			}
			k = v[0]
		}
		a, err := NormalizeAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		dim := x.Shape[a]
		if k < 0 || k > int64(dim) {
			return nil, fmt.Errorf("k %d is out of range for an axis of size %d", k, dim)
		}
		keys, err := sortKeys(x)
		if err != nil {
			return nil, err
		}
		outer, inner := 1, 1
		for _, d := range x.Shape[:a] {
			outer *= d
		}
		for _, d := range x.Shape[a+1:] {
			inner *= d
		}
		shape := append([]int{}, x.Shape...)
		shape[a] = int(k)
		indices := New(graph.Int64, shape...)
		var sel []int
		switch d := keys.(type) {
		case []float32:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []float64:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []int8:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []int16:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []int32:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []int64:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []uint8:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []uint16:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []uint32:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []uint64:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		case []string:
			sel = topkRows(ctx, d, outer, dim, inner, int(k), largest)
		}
		// sel holds the position along the axis; turn it into flat
		// source indices for the values.
		iv := indices.I64()
		table := make([]int, len(sel))
		for i, p := range sel {
			o, j := i/(int(k)*inner), i%inner
			iv[i] = int64(p)
			table[i] = (o*dim+p)*inner + j
		}
		values := ctx.Alloc(x.DType, shape...)
		if err := dmTake(values.Data, x.Data, nil, table); err != nil {
			return nil, err
		}
		return []*Tensor{values, indices}, nil
	}), nil
}

// topkRows returns, in output layout, the axis positions of the k largest
// (or smallest) keys of every row; equal keys keep the lower index first.
func topkRows[T cmp.Ordered](ctx *Context, keys []T, outer, dim, inner, k int, largest bool) []int {
	sel := make([]int, outer*k*inner)
	rows := outer * inner
	ctx.Parallel(rows, func(lo, hi int) {
		order := make([]int, dim)
		for row := lo; row < hi; row++ {
			o, j := row/inner, row%inner
			base := o*dim*inner + j
			for i := range order {
				order[i] = i
			}
			slices.SortStableFunc(order, func(p, q int) int {
				c := cmpNaN(keys[base+p*inner], keys[base+q*inner])
				if largest {
					c = -c
				}
				return c
			})
			for i := 0; i < k; i++ {
				sel[(o*k+i)*inner+j] = order[i]
			}
		}
	})
	return sel
}

func buildUnique(n *graph.Node, opset int64) (Kernel, error) {
	sorted := n.AttrInt("sorted", 1) != 0
	axisAttr := n.Attr("axis")
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		shape := []int{x.Len()}
		a := 0
		if axisAttr != nil {
			shape = x.Shape
			var err error
			if a, err = NormalizeAxis(axisAttr.Int, x.Rank()); err != nil {
				return nil, err
			}
		}
		outer, inner := 1, 1
		for _, d := range shape[:a] {
			outer *= d
		}
		for _, d := range shape[a+1:] {
			inner *= d
		}
		dim := shape[a]
		keys, err := sortKeys(x)
		if err != nil {
			return nil, err
		}
		var groups [][]int
		switch d := keys.(type) {
		case []float32:
			groups = uniqueGroups(d, outer, dim, inner)
		case []float64:
			groups = uniqueGroups(d, outer, dim, inner)
		case []int8:
			groups = uniqueGroups(d, outer, dim, inner)
		case []int16:
			groups = uniqueGroups(d, outer, dim, inner)
		case []int32:
			groups = uniqueGroups(d, outer, dim, inner)
		case []int64:
			groups = uniqueGroups(d, outer, dim, inner)
		case []uint8:
			groups = uniqueGroups(d, outer, dim, inner)
		case []uint16:
			groups = uniqueGroups(d, outer, dim, inner)
		case []uint32:
			groups = uniqueGroups(d, outer, dim, inner)
		case []uint64:
			groups = uniqueGroups(d, outer, dim, inner)
		case []string:
			groups = uniqueGroups(d, outer, dim, inner)
		}
		if !sorted {
			slices.SortFunc(groups, func(g, h []int) int { return cmp.Compare(g[0], h[0]) })
		}
		m := len(groups)
		yShape := append([]int{}, shape...)
		yShape[a] = m
		y := ctx.Alloc(x.DType, yShape...)
		first := New(graph.Int64, m)
		inverse := New(graph.Int64, dim)
		counts := New(graph.Int64, m)
		var doff, soff []int
		for g, members := range groups {
			first.I64()[g] = int64(members[0])
			counts.I64()[g] = int64(len(members))
			for _, i := range members {
				inverse.I64()[i] = int64(g)
			}
			for o := 0; o < outer; o++ {
				doff = append(doff, (o*m+g)*inner)
				soff = append(soff, (o*dim+members[0])*inner)
			}
		}
		if inner > 0 {
			if err := dmBlocks(nil, y.Data, x.Data, doff, soff, inner); err != nil {
				return nil, err
			}
		}
		return []*Tensor{y, first, inverse, counts}, nil
	}), nil
}

// uniqueGroups sorts the slices along the axis and returns the groups of
// equal slices in ascending order, each listing its members by index.
func uniqueGroups[T cmp.Ordered](keys []T, outer, dim, inner int) [][]int {
	compare := func(p, q int) int {
		for o := 0; o < outer; o++ {
			bp, bq := (o*dim+p)*inner, (o*dim+q)*inner
			for j := 0; j < inner; j++ {
				if c := cmpNaN(keys[bp+j], keys[bq+j]); c != 0 {
					return c
				}
			}
		}
		return 0
	}
	order := make([]int, dim)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, compare)
	var groups [][]int
	for i, p := range order {
		if i > 0 && compare(order[i-1], p) == 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], p)
			continue
		}
		groups = append(groups, []int{p})
	}
	return groups
}
