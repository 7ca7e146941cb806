// indexing.go holds the kernels that read or write elements at computed
// positions: Gather, GatherElements, GatherND, ScatterND, ScatterElements,
// Scatter, TensorScatter and OneHot. TopK and Unique are in indexing_sort.go, Einsum in
// indexing_einsum.go.

package runtime

import (
	"fmt"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerIndexing(r *Registry) {
	r.Register("", "Gather", buildGather)
	r.Register("", "GatherElements", buildGatherElements)
	r.Register("", "GatherND", buildGatherND)
	r.Register("", "ScatterND", buildScatterND)
	r.Register("", "ScatterElements", buildScatterElements)
	r.Register("", "Scatter", buildScatterElements)
	r.Register("", "OneHot", buildOneHot)
	r.Register("", "TensorScatter", buildTensorScatter)
	registerSortOps(r)
	r.Register("", "Einsum", buildEinsum)
}

// dmIndex checks an index against an axis of size dim and makes a
// negative one count from the end.
func dmIndex(v int64, dim int) (int, error) {
	if v < 0 {
		v += int64(dim)
	}
	if v < 0 || v >= int64(dim) {
		return 0, fmt.Errorf("index %d is out of range for an axis of size %d", v, dim)
	}
	return int(v), nil
}

func buildGather(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", 0)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		a, err := NormalizeAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := dmInts(ind, "indices")
		if err != nil {
			return nil, err
		}
		dim := x.Shape[a]
		shape := append(append(append([]int{}, x.Shape[:a]...), ind.Shape...), x.Shape[a+1:]...)
		outer, inner := 1, 1
		for _, d := range x.Shape[:a] {
			outer *= d
		}
		for _, d := range x.Shape[a+1:] {
			inner *= d
		}
		pos := make([]int, len(idx))
		for i, v := range idx {
			if pos[i], err = dmIndex(v, dim); err != nil {
				return nil, err
			}
		}
		out := ctx.allocFull(x.DType, shape...) // every element is taken from x
		m := len(pos)
		if inner == 1 {
			table := make([]int, outer*m)
			for o := 0; o < outer; o++ {
				for j, p := range pos {
					table[o*m+j] = o*dim + p
				}
			}
			err = dmTake(out.Data, x.Data, nil, table)
		} else {
			doff := make([]int, outer*m)
			soff := make([]int, outer*m)
			for o := 0; o < outer; o++ {
				for j, p := range pos {
					doff[o*m+j] = (o*m + j) * inner
					soff[o*m+j] = (o*dim + p) * inner
				}
			}
			err = dmBlocks(ctx, out.Data, x.Data, doff, soff, inner)
		}
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// elementTargets maps every element of indices (same rank as data) to the
// flat position in data it addresses along axis.
func elementTargets(dataShape, indShape []int, idx []int64, axis int) ([]int, error) {
	r := len(dataShape)
	if len(indShape) != r {
		return nil, fmt.Errorf("indices of rank %d for data of rank %d", len(indShape), r)
	}
	for d := range indShape {
		if d != axis && indShape[d] > dataShape[d] {
			return nil, fmt.Errorf("indices shape %v exceeds data shape %v", indShape, dataShape)
		}
	}
	ds := Strides(dataShape)
	counter := make([]int, r)
	out := make([]int, len(idx))
	for i, v := range idx {
		p, err := dmIndex(v, dataShape[axis])
		if err != nil {
			return nil, err
		}
		off := 0
		for d, c := range counter {
			if d == axis {
				c = p
			}
			off += c * ds[d]
		}
		out[i] = off
		for d := r - 1; d >= 0; d-- {
			counter[d]++
			if counter[d] < indShape[d] {
				break
			}
			counter[d] = 0
		}
	}
	return out, nil
}

func buildGatherElements(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", 0)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		a, err := NormalizeAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := dmInts(ind, "indices")
		if err != nil {
			return nil, err
		}
		table, err := elementTargets(x.Shape, ind.Shape, idx, a)
		if err != nil {
			return nil, err
		}
		out := ctx.Alloc(x.DType, ind.Shape...)
		if err := dmTake(out.Data, x.Data, nil, table); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// ndTargets resolves the index tuples of GatherND/ScatterND: the flat
// offset in data of each addressed slice, the slice size, and the shape
// of the tuple grid (indices.shape[:-1]).
func ndTargets(dataShape, indShape []int, idx []int64, batch int) (offs []int, slice int, err error) {
	q, r := len(indShape), len(dataShape)
	if q < 1 || r < 1 || batch < 0 || batch >= min(q, r) {
		return nil, 0, fmt.Errorf("batch_dims %d with indices of rank %d and data of rank %d", batch, q, r)
	}
	k := indShape[q-1]
	if k < 1 || k > r-batch {
		return nil, 0, fmt.Errorf("index tuples of length %d for data of rank %d (batch_dims %d)", k, r, batch)
	}
	for d := 0; d < batch; d++ {
		if indShape[d] != dataShape[d] {
			return nil, 0, fmt.Errorf("batch dimensions of indices %v and data %v differ", indShape, dataShape)
		}
	}
	ds := Strides(dataShape)[batch : batch+k]
	dims := dataShape[batch : batch+k]
	slice = 1
	for _, d := range dataShape[batch+k:] {
		slice *= d
	}
	batchStride := 1
	for _, d := range dataShape[batch:] {
		batchStride *= d
	}
	tuples := len(idx) / k
	perBatch := 1
	for _, d := range indShape[batch : q-1] {
		perBatch *= d
	}
	offs = make([]int, tuples)
	for t := 0; t < tuples; {
		base := (t / perBatch) * batchStride
		for e := 0; e < perBatch; e, t = e+1, t+1 {
			off := base
			for j, v := range idx[t*k : (t+1)*k] {
				dim := int64(dims[j])
				if v < 0 {
					v += dim
				}
				if v < 0 || v >= dim {
					return nil, 0, fmt.Errorf("index %d is out of range for an axis of size %d", idx[t*k+j], dim)
				}
				off += int(v) * ds[j]
			}
			offs[t] = off
		}
	}
	return offs, slice, nil
}

func buildGatherND(n *graph.Node, opset int64) (Kernel, error) {
	batch := int(n.AttrInt("batch_dims", 0))
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		x, ind := in[0], in[1]
		idx, err := dmInts(ind, "indices")
		if err != nil {
			return nil, err
		}
		soff, slice, err := ndTargets(x.Shape, ind.Shape, idx, batch)
		if err != nil {
			return nil, err
		}
		q := ind.Rank()
		k := ind.Shape[q-1]
		shape := append(append([]int{}, ind.Shape[:q-1]...), x.Shape[batch+k:]...)
		out := ctx.Alloc(x.DType, shape...)
		doff := make([]int, len(soff))
		for i := range doff {
			doff[i] = i * slice
		}
		if err := dmBlocks(ctx, out.Data, x.Data, doff, soff, slice); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// scatterReduction validates the reduction attribute for the opset.
func scatterReduction(n *graph.Node, opset int64) (string, error) {
	red := n.AttrString("reduction", "none")
	switch red {
	case "none":
	case "add", "mul":
		if opset < 16 {
			return "", fmt.Errorf("reduction %q needs opset 16", red)
		}
	case "max", "min":
		if opset < 18 {
			return "", fmt.Errorf("reduction %q needs opset 18", red)
		}
	default:
		return "", fmt.Errorf("unknown reduction %q", red)
	}
	return red, nil
}

func buildScatterND(n *graph.Node, opset int64) (Kernel, error) {
	red, err := scatterReduction(n, opset)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 3); err != nil {
			return nil, err
		}
		x, ind, upd := in[0], in[1], in[2]
		if upd.DType != x.DType {
			return nil, fmt.Errorf("updates are %v, data is %v", upd.DType, x.DType)
		}
		idx, err := dmInts(ind, "indices")
		if err != nil {
			return nil, err
		}
		doff, slice, err := ndTargets(x.Shape, ind.Shape, idx, 0)
		if err != nil {
			return nil, err
		}
		q := ind.Rank()
		want := append(append([]int{}, ind.Shape[:q-1]...), x.Shape[ind.Shape[q-1]:]...)
		if !equalShape(upd.Shape, want) {
			return nil, fmt.Errorf("updates have shape %v, want %v", upd.Shape, want)
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: []int{x.Len()}, ds: []int{1}, ss: []int{1}}); err != nil {
			return nil, err
		}
		if err := scatterApply(out, upd, doff, nil, slice, red); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func buildScatterElements(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", 0)
	red := "none"
	if n.OpType == "ScatterElements" {
		var err error
		if red, err = scatterReduction(n, opset); err != nil {
			return nil, err
		}
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 3); err != nil {
			return nil, err
		}
		x, ind, upd := in[0], in[1], in[2]
		if upd.DType != x.DType {
			return nil, fmt.Errorf("updates are %v, data is %v", upd.DType, x.DType)
		}
		if !equalShape(upd.Shape, ind.Shape) {
			return nil, fmt.Errorf("updates have shape %v, indices %v", upd.Shape, ind.Shape)
		}
		a, err := NormalizeAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := dmInts(ind, "indices")
		if err != nil {
			return nil, err
		}
		doff, err := elementTargets(x.Shape, ind.Shape, idx, a)
		if err != nil {
			return nil, err
		}
		out := ctx.Alloc(x.DType, x.Shape...)
		if err := dmCopy(ctx, out.Data, x.Data, dmPlan{shape: []int{x.Len()}, ds: []int{1}, ss: []int{1}}); err != nil {
			return nil, err
		}
		if err := scatterApply(out, upd, doff, nil, 1, red); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// dmNumber is the element types with arithmetic and ordering.
type dmNumber interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// scatterApply writes (or reduces) blocks of n update elements into out,
// in index order so that later duplicates win; soff as for dmBlocks.
func scatterApply(out, upd *Tensor, doff, soff []int, n int, red string) error {
	if red == "none" {
		return dmBlocks(nil, out.Data, upd.Data, doff, soff, n)
	}
	switch o := out.Data.(type) {
	case []float32:
		scatterReduce(o, upd.Data.([]float32), doff, soff, n, red)
	case []float64:
		scatterReduce(o, upd.Data.([]float64), doff, soff, n, red)
	case []int8:
		scatterReduce(o, upd.Data.([]int8), doff, soff, n, red)
	case []int16:
		scatterReduce(o, upd.Data.([]int16), doff, soff, n, red)
	case []int32:
		scatterReduce(o, upd.Data.([]int32), doff, soff, n, red)
	case []int64:
		scatterReduce(o, upd.Data.([]int64), doff, soff, n, red)
	case []uint8:
		if out.DType != graph.Uint8 {
			return fmt.Errorf("reduction %q on %v is not supported", red, out.DType)
		}
		scatterReduce(o, upd.Data.([]uint8), doff, soff, n, red)
	case []uint16:
		scatterReduce(o, upd.Data.([]uint16), doff, soff, n, red)
	case []uint32:
		scatterReduce(o, upd.Data.([]uint32), doff, soff, n, red)
	case []uint64:
		scatterReduce(o, upd.Data.([]uint64), doff, soff, n, red)
	case []float16.Float16:
		of, uf := dmF16ToF32(o), dmF16ToF32(upd.Data.([]float16.Float16))
		scatterReduce(of, uf, doff, soff, n, red)
		for i, v := range of {
			o[i] = float16.Fromfloat32(v)
		}
	case []BFloat16:
		of, uf := dmBF16ToF32(o), dmBF16ToF32(upd.Data.([]BFloat16))
		scatterReduce(of, uf, doff, soff, n, red)
		for i, v := range of {
			o[i] = BFloat16From(v)
		}
	default:
		return fmt.Errorf("reduction %q on %v is not supported", red, out.DType)
	}
	return nil
}

func scatterReduce[T dmNumber](out, upd []T, doff, soff []int, n int, red string) {
	for i, d := range doff {
		s := i * n
		if soff != nil {
			s = soff[i]
		}
		dst, src := out[d:d+n], upd[s:s+n]
		switch red {
		case "add":
			for j, v := range src {
				dst[j] += v
			}
		case "mul":
			for j, v := range src {
				dst[j] *= v
			}
		case "max":
			for j, v := range src {
				dst[j] = max(dst[j], v)
			}
		case "min":
			for j, v := range src {
				dst[j] = min(dst[j], v)
			}
		}
	}
}

func dmF16ToF32(s []float16.Float16) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = v.Float32()
	}
	return out
}

func dmBF16ToF32(s []BFloat16) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = v.Float32()
	}
	return out
}

func buildOneHot(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", -1)
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 3); err != nil {
			return nil, err
		}
		ind, vals := in[0], in[2]
		depthF, err := dmScalarFloat(in[1], "depth")
		if err != nil {
			return nil, err
		}
		if depthF < 1 || depthF > dmMaxElements {
			return nil, fmt.Errorf("depth %v is out of range", depthF)
		}
		depth := int(depthF)
		if vals.Len() != 2 {
			return nil, fmt.Errorf("values must hold [off, on], got shape %v", vals.Shape)
		}
		a, err := NormalizeAxis(axis, ind.Rank()+1)
		if err != nil {
			return nil, err
		}
		iv, err := ind.AsFloat64()
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, ind.Shape[:a]...), depth), ind.Shape[a:]...)
		if _, err := dmCheckShape(shape); err != nil {
			return nil, err
		}
		outer := 1
		for _, d := range ind.Shape[:a] {
			outer *= d
		}
		inner := len(iv) / max(outer, 1)
		out := ctx.Alloc(vals.DType, shape...)
		if err := dmFill(out.Data, vals.Data); err != nil {
			return nil, err
		}
		var doff, soff []int
		for i, f := range iv {
			v := int64(f)
			if v < 0 {
				v += int64(depth)
			}
			if v < 0 || v >= int64(depth) {
				continue
			}
			o, j := i/inner, i%inner
			doff = append(doff, (o*depth+int(v))*inner+j)
			soff = append(soff, 1)
		}
		if err := dmBlocks(nil, out.Data, vals.Data, doff, soff, 1); err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// buildTensorScatter writes update into a copy of past_cache along the
// sequence axis, from each batch entry's write index (wrapping around in
// circular mode): the KV-cache update of attention models.
func buildTensorScatter(n *graph.Node, opset int64) (Kernel, error) {
	axis := n.AttrInt("axis", -2)
	mode := n.AttrString("mode", "linear")
	if mode != "linear" && mode != "circular" {
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if err := dmNeedInputs(in, 2); err != nil {
			return nil, err
		}
		past, upd := in[0], in[1]
		if upd.DType != past.DType || upd.Rank() != past.Rank() {
			return nil, fmt.Errorf("update %v does not match past_cache %v", upd, past)
		}
		a, err := NormalizeAxis(axis, past.Rank())
		if err != nil {
			return nil, err
		}
		if a == 0 {
			return nil, fmt.Errorf("axis cannot be the batch axis")
		}
		for d := range past.Shape {
			if d != a && upd.Shape[d] != past.Shape[d] {
				return nil, fmt.Errorf("update %v does not match past_cache %v", upd.Shape, past.Shape)
			}
		}
		maxSeq, seq, batch := past.Shape[a], upd.Shape[a], past.Shape[0]
		if seq > maxSeq {
			return nil, fmt.Errorf("update of length %d for a cache of %d", seq, maxSeq)
		}
		writes := make([]int64, batch)
		if t := dmInput(in, 2); t != nil {
			w, err := dmInts(t, "write_indices")
			if err != nil {
				return nil, err
			}
			if len(w) != batch {
				return nil, fmt.Errorf("write_indices has %d values for a batch of %d", len(w), batch)
			}
			copy(writes, w)
		}
		for _, w := range writes {
			if w < 0 || mode == "linear" && w+int64(seq) > int64(maxSeq) {
				return nil, fmt.Errorf("write index %d with %d updates overflows a cache of %d", w, seq, maxSeq)
			}
		}
		outer, inner := 1, 1
		for _, d := range past.Shape[:a] {
			outer *= d
		}
		for _, d := range past.Shape[a+1:] {
			inner *= d
		}
		perBatch := outer / max(batch, 1)
		out := ctx.Alloc(past.DType, past.Shape...)
		if err := dmCopy(ctx, out.Data, past.Data, dmPlan{shape: []int{past.Len()}, ds: []int{1}, ss: []int{1}}); err != nil {
			return nil, err
		}
		var doff, soff []int
		for o := 0; o < outer; o++ {
			w := writes[o/max(perBatch, 1)]
			for j := 0; j < seq; j++ {
				pos := int((w + int64(j)) % int64(maxSeq))
				doff = append(doff, (o*maxSeq+pos)*inner)
				soff = append(soff, (o*seq+j)*inner)
			}
		}
		if inner > 0 {
			if err := dmBlocks(ctx, out.Data, upd.Data, doff, soff, inner); err != nil {
				return nil, err
			}
		}
		return []*Tensor{out}, nil
	}), nil
}
