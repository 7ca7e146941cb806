package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

// BFloat16 is a bfloat16 value: the high 16 bits of a float32.
type BFloat16 uint16

// Float32 widens b to float32 exactly.
func (b BFloat16) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }

// BFloat16From rounds f to the nearest bfloat16 (ties to even); NaN stays NaN.
func BFloat16From(f float32) BFloat16 {
	bits := math.Float32bits(f)
	if f != f {
		return BFloat16(bits>>16 | 0x40)
	}
	bits += 0x7FFF + (bits>>16)&1
	return BFloat16(bits >> 16)
}

// Tensor is a dense, row-major runtime value.
//
// Data holds a Go slice whose element type follows DType:
//
//	Float32 []float32     Float64 []float64      Float16 []float16.Float16
//	BFloat16 []BFloat16   Int8, Int4, Int2 []int8 (one element per byte)
//	Uint8, Uint4, Uint2 []uint8 (one element per byte)
//	Int16 []int16  Uint16 []uint16  Int32 []int32  Uint32 []uint32
//	Int64 []int64  Uint64 []uint64  Bool []bool    String []string
//	Complex64 []complex64  Complex128 []complex128
//	float8 and float4 types []uint8 (bit patterns)
//
// A tensor returned by a kernel may share Data with one of its inputs only
// when made with Context.View; the executor recycles buffers otherwise.
type Tensor struct {
	DType graph.DType
	Shape []int
	Data  any

	root   *Tensor    // the tensor owning Data, for views
	pooled bool       // Data came from the buffer pool
	pinned bool       // constants and caller-owned tensors: never counted or recycled
	refs   int        // holders of a root tensor during a run
	holder *execution // the run that made it, whose lock guards refs
	held   bool       // Options.Hold kept it for the caller
	seen   bool       // already counted in Stats.TotalBytes
}

func lenFloat16(d any) int {
	if s, ok := d.([]float16.Float16); ok {
		return len(s)
	}
	return -1
}

// New returns a zeroed tensor of the given type and shape; like make, it
// panics on a negative size.
func New(dt graph.DType, shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: makeSlice(dt, n)}
}

// FromFloat32 returns a float32 tensor over data (not copied).
func FromFloat32(shape []int, data []float32) *Tensor {
	return &Tensor{DType: graph.Float32, Shape: append([]int{}, shape...), Data: data}
}

// FromInt64 returns an int64 tensor over data (not copied).
func FromInt64(shape []int, data []int64) *Tensor {
	return &Tensor{DType: graph.Int64, Shape: append([]int{}, shape...), Data: data}
}

// Scalar returns a 0-d float32 tensor.
func Scalar(v float32) *Tensor { return FromFloat32(nil, []float32{v}) }

func makeSlice(dt graph.DType, n int) any {
	checkAlloc(dt, n)
	switch dt {
	case graph.Float32:
		return make([]float32, n)
	case graph.Float64:
		return make([]float64, n)
	case graph.Float16:
		return make([]float16.Float16, n)
	case graph.BFloat16:
		return make([]BFloat16, n)
	case graph.Int8, graph.Int4, graph.Int2:
		return make([]int8, n)
	case graph.Uint8, graph.Uint4, graph.Uint2, graph.Float8E4M3FN, graph.Float8E4M3FNUZ,
		graph.Float8E5M2, graph.Float8E5M2FNUZ, graph.Float4E2M1, graph.Float8E8M0:
		return make([]uint8, n)
	case graph.Int16:
		return make([]int16, n)
	case graph.Uint16:
		return make([]uint16, n)
	case graph.Int32:
		return make([]int32, n)
	case graph.Uint32:
		return make([]uint32, n)
	case graph.Int64:
		return make([]int64, n)
	case graph.Uint64:
		return make([]uint64, n)
	case graph.Bool:
		return make([]bool, n)
	case graph.String:
		return make([]string, n)
	case graph.Complex64:
		return make([]complex64, n)
	case graph.Complex128:
		return make([]complex128, n)
	}
	return nil
}

// Len is the number of elements (1 for a scalar).
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// F32 returns the data of a float32 tensor (nil for other types).
func (t *Tensor) F32() []float32 { s, _ := t.Data.([]float32); return s }

// I64 returns the data of an int64 tensor (nil for other types).
func (t *Tensor) I64() []int64 { s, _ := t.Data.([]int64); return s }

// Bytes is the size of the data in memory.
func (t *Tensor) Bytes() int64 {
	if t.DType == graph.String {
		var n int64
		for _, s := range t.Data.([]string) {
			n += int64(len(s)) + 16
		}
		return n
	}
	bits := t.DType.Bits()
	switch t.DType {
	case graph.Int4, graph.Uint4, graph.Int2, graph.Uint2, graph.Float4E2M1:
		bits = 8
	}
	return int64(t.Len()) * int64(bits/8)
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := New(t.DType, t.Shape...)
	copyData(c.Data, t.Data)
	return c
}

func copyData(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []float16.Float16:
		copy(d, src.([]float16.Float16))
	case []BFloat16:
		copy(d, src.([]BFloat16))
	case []int8:
		copy(d, src.([]int8))
	case []uint8:
		copy(d, src.([]uint8))
	case []int16:
		copy(d, src.([]int16))
	case []uint16:
		copy(d, src.([]uint16))
	case []int32:
		copy(d, src.([]int32))
	case []uint32:
		copy(d, src.([]uint32))
	case []int64:
		copy(d, src.([]int64))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	case []string:
		copy(d, src.([]string))
	case []complex64:
		copy(d, src.([]complex64))
	case []complex128:
		copy(d, src.([]complex128))
	}
}

// String describes the type and shape, e.g. "float32[1,3,224,224]".
func (t *Tensor) String() string {
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		parts[i] = fmt.Sprint(d)
	}
	return t.DType.String() + "[" + strings.Join(parts, ",") + "]"
}

// FloatValues returns the elements of a floating-point tensor as float32:
// the data itself for float32, converted from half precision or float64
// (a half-precision model's outputs, compared with float32 ones); nil for
// other types.
func (t *Tensor) FloatValues() []float32 {
	switch t.DType {
	case graph.Float32:
		return t.F32()
	case graph.Float16, graph.BFloat16, graph.Float64:
		v, err := t.AsFloat64()
		if err != nil {
			return nil
		}
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return f
	}
	return nil
}

// AsFloat64 returns the elements of a numeric or bool tensor as float64
// (for comparisons and reports).
func (t *Tensor) AsFloat64() ([]float64, error) {
	n := t.Len()
	out := make([]float64, n)
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, d)
	case []float16.Float16:
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
	case []BFloat16:
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
	case []int8:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []uint8:
		if !t.DType.IsInteger() && t.DType != graph.Uint8 {
			return nil, fmt.Errorf("%v values have no numeric reading here", t.DType)
		}
		for i, v := range d {
			out[i] = float64(v)
		}
	case []int16:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []uint16:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []int32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []uint32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []int64:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []uint64:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("%v values are not numeric", t.DType)
	}
	return out, nil
}

// pinnedFromGraph converts an initializer for a session, which pins it
// (never writes or recycles it): a float32 tensor held raw, on a
// little-endian machine and 4-byte aligned, reads the graph's bytes in
// place instead of a copy (a model's weights then take their memory once,
// however many sessions run it). Graph tensor data is never modified in
// place (graph.Tensor.SetRaw replaces it).
func pinnedFromGraph(gt *graph.Tensor) (*Tensor, error) {
	if gt.DType == graph.Float32 && littleEndian {
		if raw, err := gt.Raw(); err == nil && len(raw) >= 4 && len(raw)%4 == 0 && uintptr(unsafe.Pointer(&raw[0]))%4 == 0 {
			shape := make([]int, len(gt.Dims))
			for i, d := range gt.Dims {
				shape[i] = int(d)
			}
			t := &Tensor{DType: gt.DType, Shape: shape, Data: unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), len(raw)/4), pinned: true}
			if t.Len() == len(raw)/4 {
				return t, nil
			}
		}
	}
	t, err := FromGraph(gt)
	if err != nil {
		return nil, err
	}
	t.pinned = true
	return t, nil
}

// littleEndian tells whether the machine stores the low byte first, as
// ONNX raw data does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// FromGraph decodes a constant of the IR into a runtime tensor of its own
// data.
func FromGraph(gt *graph.Tensor) (*Tensor, error) {
	if gt == nil {
		return nil, errors.New("no tensor")
	}
	shape := make([]int, len(gt.Dims))
	for i, d := range gt.Dims {
		shape[i] = int(d)
	}
	t := &Tensor{DType: gt.DType, Shape: shape}
	n := t.Len()
	if gt.DType == graph.String {
		s, err := gt.StringData()
		if err != nil {
			return nil, err
		}
		strs := make([]string, len(s))
		for i, b := range s {
			strs[i] = string(b)
		}
		t.Data = strs
		return t, nil
	}
	raw, err := gt.Raw()
	if err != nil {
		return nil, err
	}
	data := makeSlice(gt.DType, n)
	if data == nil {
		return nil, fmt.Errorf("tensor %q: element type %v is not supported", gt.Name, gt.DType)
	}
	le := binary.LittleEndian
	switch d := data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case []float16.Float16:
		for i := range d {
			d[i] = float16.Frombits(le.Uint16(raw[2*i:]))
		}
	case []BFloat16:
		for i := range d {
			d[i] = BFloat16(le.Uint16(raw[2*i:]))
		}
	case []int16:
		for i := range d {
			d[i] = int16(le.Uint16(raw[2*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = le.Uint16(raw[2*i:])
		}
	case []int32:
		for i := range d {
			d[i] = int32(le.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = le.Uint32(raw[4*i:])
		}
	case []int64:
		for i := range d {
			d[i] = int64(le.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = le.Uint64(raw[8*i:])
		}
	case []bool:
		for i := range d {
			d[i] = raw[i] != 0
		}
	case []complex64:
		for i := range d {
			d[i] = complex(math.Float32frombits(le.Uint32(raw[8*i:])), math.Float32frombits(le.Uint32(raw[8*i+4:])))
		}
	case []complex128:
		for i := range d {
			d[i] = complex(math.Float64frombits(le.Uint64(raw[16*i:])), math.Float64frombits(le.Uint64(raw[16*i+8:])))
		}
	case []int8, []uint8:
		if err := unpackBytes(gt.DType, raw, d); err != nil {
			return nil, err
		}
	}
	t.Data = data
	return t, nil
}

// unpackBytes spreads 8-, 4- or 2-bit elements to one per byte,
// sign-extending the signed types.
func unpackBytes(dt graph.DType, raw []byte, dst any) error {
	bits := dt.Bits()
	per := 8 / bits
	mask := byte(1<<bits - 1)
	signed := dt == graph.Int8 || dt == graph.Int4 || dt == graph.Int2
	get := func(i int) byte { return raw[i/per] >> (bits * (i % per)) & mask }
	switch d := dst.(type) {
	case []int8:
		for i := range d {
			v := get(i)
			if signed && bits < 8 && v&(1<<(bits-1)) != 0 {
				d[i] = int8(v) - int8(1<<bits)
			} else {
				d[i] = int8(v)
			}
		}
	case []uint8:
		for i := range d {
			d[i] = get(i)
		}
	}
	return nil
}

// ToGraph encodes t as an IR constant named name.
func ToGraph(name string, t *Tensor) (*graph.Tensor, error) {
	if t == nil {
		return nil, errors.New("no tensor")
	}
	if err := t.checkData(); err != nil {
		return nil, err
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	if t.DType == graph.String {
		return graph.FromStrings(name, dims, t.Data.([]string))
	}
	n := t.Len()
	bits := t.DType.Bits()
	if bits == 0 {
		return nil, fmt.Errorf("element type %v has no raw form", t.DType)
	}
	size := (n*bits + 7) / 8
	raw := make([]byte, size)
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d {
			le.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range d {
			le.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	case []float16.Float16:
		for i, v := range d {
			le.PutUint16(raw[2*i:], v.Bits())
		}
	case []BFloat16:
		for i, v := range d {
			le.PutUint16(raw[2*i:], uint16(v))
		}
	case []int16:
		for i, v := range d {
			le.PutUint16(raw[2*i:], uint16(v))
		}
	case []uint16:
		for i, v := range d {
			le.PutUint16(raw[2*i:], v)
		}
	case []int32:
		for i, v := range d {
			le.PutUint32(raw[4*i:], uint32(v))
		}
	case []uint32:
		for i, v := range d {
			le.PutUint32(raw[4*i:], v)
		}
	case []int64:
		for i, v := range d {
			le.PutUint64(raw[8*i:], uint64(v))
		}
	case []uint64:
		for i, v := range d {
			le.PutUint64(raw[8*i:], v)
		}
	case []bool:
		for i, v := range d {
			if v {
				raw[i] = 1
			}
		}
	case []complex64:
		for i, v := range d {
			le.PutUint32(raw[8*i:], math.Float32bits(real(v)))
			le.PutUint32(raw[8*i+4:], math.Float32bits(imag(v)))
		}
	case []complex128:
		for i, v := range d {
			le.PutUint64(raw[16*i:], math.Float64bits(real(v)))
			le.PutUint64(raw[16*i+8:], math.Float64bits(imag(v)))
		}
	case []int8:
		per := 8 / bits
		mask := byte(1<<bits - 1)
		for i, v := range d {
			raw[i/per] |= (byte(v) & mask) << (bits * (i % per))
		}
	case []uint8:
		per := 8 / bits
		mask := byte(1<<bits - 1)
		for i, v := range d {
			raw[i/per] |= (v & mask) << (bits * (i % per))
		}
	default:
		return nil, fmt.Errorf("tensor data of type %T does not match %v", t.Data, t.DType)
	}
	return graph.NewTensor(name, t.DType, dims, raw)
}

// bytesOf returns the data of a uint8 or int8 tensor as bytes (an int8
// value v held as byte(v), the same bits), nil for other types.
func bytesOf(t *Tensor) []byte {
	switch d := t.Data.(type) {
	case []uint8:
		return d
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	}
	return nil
}

// checkData tells whether t's data has the Go type of its element type
// and as many elements as its shape.
func (t *Tensor) checkData() error {
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("tensor of shape %v: negative size", t.Shape)
		}
	}
	want := makeSlice(t.DType, 0)
	if want == nil || t.Data == nil || reflect.TypeOf(t.Data) != reflect.TypeOf(want) {
		return fmt.Errorf("%v tensor holds %T data", t.DType, t.Data)
	}
	if n := dataLen(t.Data); n != t.Len() {
		return fmt.Errorf("%v tensor of shape %v holds %d values", t.DType, t.Shape, n)
	}
	return nil
}

// DifferingElements counts the elements of a and b, integer or bool
// tensors of one type and size, that differ, and the largest absolute
// difference between two of them; ok is false for other tensors.
func DifferingElements(a, b *Tensor) (n int, maxAbs float64, ok bool) {
	if a == nil || b == nil || a.DType != b.DType || a.Len() != b.Len() {
		return 0, 0, false
	}
	switch a.DType {
	case graph.Bool, graph.Int8, graph.Uint8, graph.Int16, graph.Uint16, graph.Int32, graph.Uint32, graph.Int64, graph.Uint64:
	default:
		return 0, 0, false
	}
	if x, y := a.I64(), b.I64(); x != nil && y != nil {
		// exact: as float64 two large int64s could compare equal
		for i := range x {
			if x[i] != y[i] {
				n++
				maxAbs = max(maxAbs, math.Abs(float64(x[i])-float64(y[i])))
			}
		}
		return n, maxAbs, true
	}
	x, err1 := a.AsFloat64()
	y, err2 := b.AsFloat64()
	if err1 != nil || err2 != nil || len(x) != len(y) {
		return 0, 0, false
	}
	for i := range x {
		if x[i] != y[i] {
			n++
			maxAbs = max(maxAbs, math.Abs(x[i]-y[i]))
		}
	}
	return n, maxAbs, true
}
