// shape_copy.go holds what the data-movement kernels share: views of tensor
// data by element width (so a kernel that only moves elements needs one
// instantiation per width, not per type), the N-D strided copy behind
// Transpose, Slice, Concat, Split, Expand, Tile and DepthToSpace, an
// index-table gather and scatter, and helpers that read shape-like inputs.

package runtime

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// dmWords reinterprets tensor data by element storage width: []uint8
// (bool, int8, uint8, float8 and narrower), []uint16, []uint32, []uint64,
// [][2]uint32 (complex64), [][2]uint64 (complex128) or []string. The
// result shares memory with data; nil for an unknown slice type.
func dmWords(data any) any {
	switch s := data.(type) {
	case []uint8:
		return s
	case []int8:
		return dmReinterpret[int8, uint8](s)
	case []bool:
		return dmReinterpret[bool, uint8](s)
	case []uint16:
		return s
	case []int16:
		return dmReinterpret[int16, uint16](s)
	case []float16.Float16:
		return dmReinterpret[float16.Float16, uint16](s)
	case []BFloat16:
		return dmReinterpret[BFloat16, uint16](s)
	case []uint32:
		return s
	case []int32:
		return dmReinterpret[int32, uint32](s)
	case []float32:
		return dmReinterpret[float32, uint32](s)
	case []uint64:
		return s
	case []int64:
		return dmReinterpret[int64, uint64](s)
	case []float64:
		return dmReinterpret[float64, uint64](s)
	case []complex64:
		return dmReinterpret[complex64, [2]uint32](s)
	case []complex128:
		return dmReinterpret[complex128, [2]uint64](s)
	case []string:
		return s
	}
	return nil
}

// dmReinterpret views a slice as another element type of the same size.
func dmReinterpret[F, T any](s []F) []T {
	if cap(s) == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// dmParallelMin is the element count from which copies are split over
// threads; below it the goroutine start-up costs more than it saves.
const dmParallelMin = 1 << 15

// dmPlan describes a strided copy: for every multi-index i over shape,
// dst[doff + Σ i·ds] = src[soff + Σ i·ss]. Strides may be zero (broadcast)
// or negative (reversed slices).
type dmPlan struct {
	shape      []int
	ds, ss     []int
	doff, soff int
}

// coalesce drops unit dimensions and merges neighbours that are contiguous
// in both tensors, so the inner loop runs over the longest possible rows.
func (p *dmPlan) coalesce() {
	var shape, ds, ss []int
	for i, n := range p.shape {
		if n == 1 {
			continue
		}
		if k := len(shape) - 1; k >= 0 && ds[k] == p.ds[i]*n && ss[k] == p.ss[i]*n {
			shape[k] *= n
			ds[k], ss[k] = p.ds[i], p.ss[i]
			continue
		}
		shape = append(shape, n)
		ds = append(ds, p.ds[i])
		ss = append(ss, p.ss[i])
	}
	p.shape, p.ds, p.ss = shape, ds, ss
}

func (p *dmPlan) count() int {
	n := 1
	for _, d := range p.shape {
		n *= d
	}
	return n
}

// dmCopy runs a strided copy between two tensors' data of the same element
// type.
func dmCopy(ctx *Context, dst, src any, p dmPlan) error {
	p.coalesce()
	if p.count() == 0 {
		return nil
	}
	switch s := dmWords(src).(type) {
	case []uint8:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case []uint16:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case []uint32:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case []uint64:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case [][2]uint32:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case [][2]uint64:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	case []string:
		return dmCopyAs(ctx, dmWords(dst), s, &p)
	}
	return fmt.Errorf("data of type %T cannot be copied", src)
}

func dmCopyAs[T any](ctx *Context, dstAny any, src []T, p *dmPlan) error {
	dst, ok := dstAny.([]T)
	if !ok {
		return fmt.Errorf("copy between different element types")
	}
	dmStrided(ctx, dst, src, p)
	return nil
}

// dmTile is the block edge of the cache-blocked transpose.
const dmTile = 32

// dmStrided is the strided copy over coalesced dimensions. When the
// destination rows are contiguous but the source is read with a stride
// while another axis is contiguous in the source (a transpose), it copies
// square tiles so both sides stay in cache.
func dmStrided[T any](ctx *Context, dst, src []T, p *dmPlan) {
	r := len(p.shape)
	if r == 0 {
		dst[p.doff] = src[p.soff]
		return
	}
	total := p.count()
	if r >= 2 && p.ds[r-1] == 1 && p.ss[r-1] != 1 && p.ss[r-1] != 0 && p.shape[r-1] >= 4 {
		for k := r - 2; k >= 0; k-- {
			if p.ss[k] == 1 && p.shape[k] >= 4 {
				dmTransposeTiled(ctx, dst, src, p, k, total)
				return
			}
		}
	}
	n, dsl, ssl := p.shape[r-1], p.ds[r-1], p.ss[r-1]
	outer := total / n
	if r == 2 && dsl == 1 && ssl == 1 && n <= 4 {
		// Many short rows (the last axis of box coordinates): a plain
		// double loop, without the general index bookkeeping.
		dmShortRows(dst, src, p.doff, p.soff, p.ds[0], p.ss[0], outer, n)
		return
	}
	run := func(lo, hi int) {
		var stack [8]int
		var idx []int
		if r-1 > len(stack) {
			idx = make([]int, r-1)
		} else {
			idx = stack[:r-1]
		}
		d, s := p.doff, p.soff
		rem := lo
		for ax := r - 2; ax >= 0; ax-- {
			idx[ax] = rem % p.shape[ax]
			rem /= p.shape[ax]
			d += idx[ax] * p.ds[ax]
			s += idx[ax] * p.ss[ax]
		}
		for o := lo; o < hi; o++ {
			switch {
			case dsl == 1 && ssl == 1 && n <= 16:
				// Short rows: a loop beats the call to memmove.
				dr, sr := dst[d:d+n], src[s:s+n]
				for j := range dr {
					dr[j] = sr[j]
				}
			case dsl == 1 && ssl == 1:
				copy(dst[d:d+n], src[s:s+n])
			case dsl == 1 && ssl == 0:
				v := src[s]
				row := dst[d : d+n]
				for j := range row {
					row[j] = v
				}
			default:
				dj, sj := d, s
				for j := 0; j < n; j++ {
					dst[dj] = src[sj]
					dj += dsl
					sj += ssl
				}
			}
			for ax := r - 2; ax >= 0; ax-- {
				idx[ax]++
				d += p.ds[ax]
				s += p.ss[ax]
				if idx[ax] < p.shape[ax] {
					break
				}
				d -= p.ds[ax] * p.shape[ax]
				s -= p.ss[ax] * p.shape[ax]
				idx[ax] = 0
			}
		}
	}
	if total >= dmParallelMin && outer > 1 {
		ctx.Parallel(outer, run)
	} else {
		run(0, outer)
	}
}

// dmShortRows copies rows rows of n ≤ 4 contiguous elements, row i from
// src[soff + i·ss:] to dst[doff + i·ds:].
func dmShortRows[T any](dst, src []T, doff, soff, ds, ss, rows, n int) {
	for i := 0; i < rows; i++ {
		d := dst[doff+i*ds:][:n]
		s := src[soff+i*ss:][:n]
		switch n {
		case 1:
			d[0] = s[0]
		case 2:
			d[0], d[1] = s[0], s[1]
		case 3:
			d[0], d[1], d[2] = s[0], s[1], s[2]
		default:
			copy(d, s)
		}
	}
}

// dmTransposeTiled copies with axis k (contiguous in the source) and the
// last axis (contiguous in the destination) walked in tiles; the other
// axes and the tiles of axis k are the units split over threads.
func dmTransposeTiled[T any](ctx *Context, dst, src []T, p *dmPlan, k, total int) {
	r := len(p.shape)
	var oshape, ods, oss []int
	for ax := 0; ax < r-1; ax++ {
		if ax != k {
			oshape = append(oshape, p.shape[ax])
			ods = append(ods, p.ds[ax])
			oss = append(oss, p.ss[ax])
		}
	}
	na, dsa := p.shape[k], p.ds[k] // source-contiguous axis
	nb, ssb := p.shape[r-1], p.ss[r-1]
	tilesA := (na + dmTile - 1) / dmTile
	outer := 1
	for _, n := range oshape {
		outer *= n
	}
	run := func(lo, hi int) {
		idx := make([]int, len(oshape))
		for u := lo; u < hi; u++ {
			o, ta := u/tilesA, u%tilesA
			d, s := p.doff, p.soff
			rem := o
			for ax := len(oshape) - 1; ax >= 0; ax-- {
				idx[ax] = rem % oshape[ax]
				rem /= oshape[ax]
				d += idx[ax] * ods[ax]
				s += idx[ax] * oss[ax]
			}
			a0 := ta * dmTile
			a1 := min(a0+dmTile, na)
			for b0 := 0; b0 < nb; b0 += dmTile {
				b1 := min(b0+dmTile, nb)
				a := a0
				// Four destination rows at a time: each source read is
				// four neighbours, so one bounds check serves four moves.
				for ; a+4 <= a1; a += 4 {
					r0 := dst[d+a*dsa+b0 : d+a*dsa+b1]
					r1 := dst[d+(a+1)*dsa+b0:][:len(r0)]
					r2 := dst[d+(a+2)*dsa+b0:][:len(r0)]
					r3 := dst[d+(a+3)*dsa+b0:][:len(r0)]
					sj := s + a + b0*ssb
					for j := range r0 {
						q := src[sj : sj+4 : sj+4]
						r0[j], r1[j], r2[j], r3[j] = q[0], q[1], q[2], q[3]
						sj += ssb
					}
				}
				for ; a < a1; a++ {
					row := dst[d+a*dsa+b0 : d+a*dsa+b1]
					sj := s + a + b0*ssb
					for j := range row {
						row[j] = src[sj]
						sj += ssb
					}
				}
			}
		}
	}
	units := outer * tilesA
	if total >= dmParallelMin && units > 1 {
		ctx.Parallel(units, run)
	} else {
		run(0, units)
	}
}

// dmDenseCopy copies the whole of src (of shape shape, row-major) into dst
// at offset doff with destination strides ds: the placement of one Concat
// input or of a Pad interior.
func dmDenseCopy(ctx *Context, dst, src any, shape, ds []int, doff int) error {
	return dmCopy(ctx, dst, src, dmPlan{shape: shape, ds: ds, ss: Strides(shape), doff: doff})
}

// dmTake sets dst[i] = src[idx[i]], or the single element of fill where
// idx[i] < 0 (fill may be nil when no index is negative).
func dmTake(dst, src, fill any, idx []int) error {
	switch s := dmWords(src).(type) {
	case []uint8:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case []uint16:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case []uint32:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case []uint64:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case [][2]uint32:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case [][2]uint64:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	case []string:
		return dmTakeAs(dmWords(dst), s, dmWords(fill), idx)
	}
	return fmt.Errorf("data of type %T cannot be copied", src)
}

func dmTakeAs[T any](dstAny any, src []T, fillAny any, idx []int) error {
	dst, ok := dstAny.([]T)
	if !ok {
		return fmt.Errorf("copy between different element types")
	}
	var fill T
	if f, ok := fillAny.([]T); ok && len(f) > 0 {
		fill = f[0]
	}
	for i, j := range idx {
		if j < 0 {
			dst[i] = fill
		} else {
			dst[i] = src[j]
		}
	}
	return nil
}

// dmBlocks copies runs of n elements: src[soff[i]:+n] to dst[doff[i]:+n];
// a nil soff reads the source in order (soff[i] = i·n).
func dmBlocks(ctx *Context, dst, src any, doff, soff []int, n int) error {
	switch s := dmWords(src).(type) {
	case []uint8:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case []uint16:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case []uint32:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case []uint64:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case [][2]uint32:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case [][2]uint64:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	case []string:
		return dmBlocksAs(ctx, dmWords(dst), s, doff, soff, n)
	}
	return fmt.Errorf("data of type %T cannot be copied", src)
}

func dmBlocksAs[T any](ctx *Context, dstAny any, src []T, doff, soff []int, n int) error {
	dst, ok := dstAny.([]T)
	if !ok {
		return fmt.Errorf("copy between different element types")
	}
	run := func(lo, hi int) {
		switch {
		case n == 1 && soff == nil:
			for i, d := range doff[lo:hi] {
				dst[d] = src[lo+i]
			}
		case n == 1:
			for i := lo; i < hi; i++ {
				dst[doff[i]] = src[soff[i]]
			}
		default:
			for i := lo; i < hi; i++ {
				s := i * n
				if soff != nil {
					s = soff[i]
				}
				if n <= 16 {
					d, s := dst[doff[i]:doff[i]+n], src[s:s+n]
					for j := range d {
						d[j] = s[j]
					}
				} else {
					copy(dst[doff[i]:doff[i]+n], src[s:s+n])
				}
			}
		}
	}
	// Blocks may overlap in the destination only for scatters, which run
	// serially so the last write wins.
	if ctx != nil && len(doff)*n >= dmParallelMin && dmDisjoint(doff, n) {
		ctx.Parallel(len(doff), run)
	} else {
		run(0, len(doff))
	}
	return nil
}

// dmDisjoint reports whether destination blocks are strictly increasing
// (so never overlapping), the case of every gather.
func dmDisjoint(doff []int, n int) bool {
	for i := 1; i < len(doff); i++ {
		if doff[i] < doff[i-1]+n {
			return false
		}
	}
	return true
}

// dmFill sets every element of dst to the single element of val (same
// element type).
func dmFill(dst, val any) error {
	switch d := dmWords(dst).(type) {
	case []uint8:
		return dmFillAs(d, dmWords(val))
	case []uint16:
		return dmFillAs(d, dmWords(val))
	case []uint32:
		return dmFillAs(d, dmWords(val))
	case []uint64:
		return dmFillAs(d, dmWords(val))
	case [][2]uint32:
		return dmFillAs(d, dmWords(val))
	case [][2]uint64:
		return dmFillAs(d, dmWords(val))
	case []string:
		return dmFillAs(d, dmWords(val))
	}
	return fmt.Errorf("data of type %T cannot be filled", dst)
}

func dmFillAs[T any](dst []T, valAny any) error {
	v, ok := valAny.([]T)
	if !ok || len(v) == 0 {
		return fmt.Errorf("fill value of another element type")
	}
	if len(dst) == 0 {
		return nil
	}
	// Doubling copies: memmoves instead of one store per element.
	dst[0] = v[0]
	for n := 1; n < len(dst); n *= 2 {
		copy(dst[n:], dst[:n])
	}
	return nil
}

// dmMaxElements bounds the size of tensors built from shape values read
// at run time (ConstantOfShape, Expand, Tile, Range...), so a corrupt or
// hostile model fails with an error instead of exhausting memory.
const dmMaxElements = 1 << 34

// dmCheckShape validates dimensions computed from data and returns the
// element count.
func dmCheckShape(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > dmMaxElements/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	if n > dmMaxElements {
		return 0, fmt.Errorf("shape %v has too many elements", shape)
	}
	return n, nil
}

// dmInts reads an integer tensor (a shape, axes, pads, indices...) as
// int64 values.
func dmInts(t *Tensor, what string) ([]int64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []int16:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []int8:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []uint8:
		if t.DType != graph.Uint8 {
			break
		}
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []uint16:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []uint32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	case []uint64:
		out := make([]int64, len(d))
		for i, v := range d {
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("%s value %d is out of range", what, v)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be an integer tensor, got %v", what, t.DType)
}

// dmScalarFloat reads the single value of a numeric tensor as float64.
func dmScalarFloat(t *Tensor, what string) (float64, error) {
	if t == nil {
		return 0, fmt.Errorf("%s is missing", what)
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s must hold one value, got shape %v", what, t.Shape)
	}
	v, err := t.AsFloat64()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return v[0], nil
}

// dmValueOf returns a one-element slice of dt's Go type holding v (the
// fill value of Pad and friends given as a float attribute).
func dmValueOf(dt graph.DType, v float64) (any, error) {
	switch dt {
	case graph.Float32:
		return []float32{float32(v)}, nil
	case graph.Float64:
		return []float64{v}, nil
	case graph.Float16:
		return []float16.Float16{float16.Fromfloat32(float32(v))}, nil
	case graph.BFloat16:
		return []BFloat16{BFloat16From(float32(v))}, nil
	case graph.Int8:
		return []int8{int8(v)}, nil
	case graph.Uint8:
		return []uint8{uint8(v)}, nil
	case graph.Int16:
		return []int16{int16(v)}, nil
	case graph.Uint16:
		return []uint16{uint16(v)}, nil
	case graph.Int32:
		return []int32{int32(v)}, nil
	case graph.Uint32:
		return []uint32{uint32(v)}, nil
	case graph.Int64:
		return []int64{int64(v)}, nil
	case graph.Uint64:
		return []uint64{uint64(v)}, nil
	case graph.Bool:
		return []bool{v != 0}, nil
	case graph.String:
		return []string{""}, nil
	case graph.Complex64:
		return []complex64{complex(float32(v), 0)}, nil
	case graph.Complex128:
		return []complex128{complex(v, 0)}, nil
	}
	return makeSlice(dt, 1), nil
}

// dmTensorOf allocates an output of dt and shape after validating the
// size (for shapes read from data).
func dmTensorOf(ctx *Context, dt graph.DType, shape []int) (*Tensor, error) {
	if _, err := dmCheckShape(shape); err != nil {
		return nil, err
	}
	if makeSlice(dt, 0) == nil {
		return nil, fmt.Errorf("element type %v is not supported", dt)
	}
	return ctx.Alloc(dt, shape...), nil
}

// dmNeedInputs checks the count of present leading inputs.
func dmNeedInputs(in []*Tensor, n int) error {
	if len(in) < n {
		return fmt.Errorf("needs %d inputs, got %d", n, len(in))
	}
	for i := 0; i < n; i++ {
		if in[i] == nil {
			return fmt.Errorf("input %d is missing", i)
		}
	}
	return nil
}

// dmInput returns input i or nil when absent.
func dmInput(in []*Tensor, i int) *Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// dmAxes normalises a list of axes for the given rank and rejects
// repeats.
func dmAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, err := NormalizeAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d is repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}
