package graph

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/onnxq/onnxq/internal/onnxpb"
)

// Tensor is a constant tensor: an initializer or a tensor attribute.
//
// Its elements are kept in the form they were read in (raw bytes or one of
// the typed lists of the format) until they are replaced, so an unchanged
// tensor is written back exactly as it was read. The accessors convert on
// demand. Raw form is little-endian, row-major, with 4-bit types packed two
// to a byte and 2-bit types four to a byte, low bits first.
type Tensor struct {
	Name      string
	DType     DType
	Dims      []int64
	DocString string

	raw      []byte   // packed little-endian data, when held in raw form
	strs     [][]byte // string elements set by code
	hasRaw   bool     // raw holds the data (possibly zero bytes)
	replaced bool     // data was set after loading: do not reuse origin's data fields
	external bool     // data was read from an external file

	origin *onnxpb.TensorProto
}

// NewTensor returns a tensor holding raw data (little-endian, packed as
// described on Tensor). The byte count must match dims and dtype.
func NewTensor(name string, dtype DType, dims []int64, raw []byte) (*Tensor, error) {
	t := &Tensor{Name: name, DType: dtype, Dims: append([]int64(nil), dims...)}
	if err := t.SetRaw(raw); err != nil {
		return nil, err
	}
	return t, nil
}

// FromFloat32s returns a float32 tensor with the given data.
func FromFloat32s(name string, dims []int64, data []float32) (*Tensor, error) {
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return NewTensor(name, Float32, dims, raw)
}

// FromInt64s returns an int64 tensor with the given data.
func FromInt64s(name string, dims []int64, data []int64) (*Tensor, error) {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return NewTensor(name, Int64, dims, raw)
}

// FromStrings returns a string tensor.
func FromStrings(name string, dims []int64, data []string) (*Tensor, error) {
	n, err := numElements(dims)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != n {
		return nil, fmt.Errorf("tensor %q: %d strings for shape %v", name, len(data), dims)
	}
	t := &Tensor{Name: name, DType: String, Dims: append([]int64(nil), dims...), replaced: true}
	t.strs = make([][]byte, len(data))
	for i, s := range data {
		t.strs[i] = []byte(s)
	}
	return t, nil
}

// NumElements is the product of Dims (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n, err := numElements(t.Dims)
	if err != nil {
		return -1
	}
	return n
}

// SetRaw replaces the tensor's data with raw bytes (see Tensor for the layout).
func (t *Tensor) SetRaw(raw []byte) error {
	if t.DType == String {
		return fmt.Errorf("tensor %q: string tensors have no raw form", t.Name)
	}
	n, err := numElements(t.Dims)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	want := t.DType.byteSize(n)
	if want < 0 {
		return fmt.Errorf("tensor %q: element type %v has no fixed size", t.Name, t.DType)
	}
	if int64(len(raw)) != want {
		return fmt.Errorf("tensor %q: %d bytes of data for %v%v (want %d)", t.Name, len(raw), t.DType, t.Dims, want)
	}
	t.raw, t.hasRaw, t.replaced, t.strs = raw, true, true, nil
	return nil
}

// External reports whether the data was read from an external data file.
func (t *Tensor) External() bool { return t.external }

// ByteSize is the size of the data in raw form (strings: total bytes).
func (t *Tensor) ByteSize() int64 {
	if t.DType == String {
		s, _ := t.StringData()
		var total int64
		for _, b := range s {
			total += int64(len(b))
		}
		return total
	}
	return t.DType.byteSize(t.NumElements())
}

// Raw returns the data in raw form. It aliases the tensor's storage when
// the data is held raw; the caller must not modify it.
func (t *Tensor) Raw() ([]byte, error) {
	if t.hasRaw {
		return t.raw, nil
	}
	if t.DType == String {
		return nil, fmt.Errorf("tensor %q: string tensors have no raw form", t.Name)
	}
	p := t.origin
	n := t.NumElements()
	size := t.DType.byteSize(n)
	if p == nil || size < 0 {
		return nil, fmt.Errorf("tensor %q has no data", t.Name)
	}
	out := make([]byte, size)
	switch {
	case len(p.GetFloatData()) > 0:
		for i, f := range p.GetFloatData() {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
	case len(p.GetDoubleData()) > 0:
		for i, f := range p.GetDoubleData() {
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(f))
		}
	case len(p.GetInt64Data()) > 0:
		for i, v := range p.GetInt64Data() {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
	case len(p.GetUint64Data()) > 0:
		vals := p.GetUint64Data()
		if t.DType == Uint32 {
			for i, v := range vals {
				binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
			}
		} else {
			for i, v := range vals {
				binary.LittleEndian.PutUint64(out[8*i:], v)
			}
		}
	case len(p.GetInt32Data()) > 0:
		putInt32Data(out, t.DType, n, p.GetInt32Data())
	}
	return out, nil
}

// putInt32Data writes int32_data elements into raw form. Each int32 holds
// one element of 8 bits or more; sub-byte types hold one packed byte per
// int32, though files written before that rule hold one element each.
func putInt32Data(out []byte, dt DType, n int64, vals []int32) {
	bits := dt.Bits()
	switch {
	case bits >= 8:
		bytes := bits / 8
		for i, v := range vals {
			for b := 0; b < bytes; b++ {
				out[i*bytes+b] = byte(uint32(v) >> (8 * b))
			}
		}
	case int64(len(vals)) == int64(len(out)): // one packed byte per int32
		for i, v := range vals {
			out[i] = byte(v)
		}
	default: // one element per int32
		per := 8 / bits
		mask := byte(1<<bits - 1)
		for i, v := range vals {
			out[i/per] |= (byte(v) & mask) << (bits * (i % per))
		}
	}
}

// Float32s returns the elements of a float32 tensor.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType != Float32 {
		return nil, fmt.Errorf("tensor %q is %v, not float32", t.Name, t.DType)
	}
	if !t.hasRaw && t.origin != nil && len(t.origin.GetFloatData()) > 0 {
		return append([]float32(nil), t.origin.GetFloatData()...), nil
	}
	raw, err := t.Raw()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// Int64s returns the elements of any integer or bool tensor, widened to int64.
func (t *Tensor) Int64s() ([]int64, error) {
	if !t.DType.IsInteger() && t.DType != Bool {
		return nil, fmt.Errorf("tensor %q is %v, not an integer tensor", t.Name, t.DType)
	}
	if t.DType == Int64 && !t.hasRaw && t.origin != nil && len(t.origin.GetInt64Data()) > 0 {
		return append([]int64(nil), t.origin.GetInt64Data()...), nil
	}
	raw, err := t.Raw()
	if err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]int64, n)
	le := binary.LittleEndian
	for i := range out {
		switch t.DType {
		case Int64:
			out[i] = int64(le.Uint64(raw[8*i:]))
		case Uint64:
			out[i] = int64(le.Uint64(raw[8*i:]))
		case Int32:
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		case Uint32:
			out[i] = int64(le.Uint32(raw[4*i:]))
		case Int16:
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		case Uint16:
			out[i] = int64(le.Uint16(raw[2*i:]))
		case Int8:
			out[i] = int64(int8(raw[i]))
		case Uint8, Bool:
			out[i] = int64(raw[i])
		case Int4, Uint4:
			v := raw[i/2] >> (4 * (i % 2)) & 0xF
			if t.DType == Int4 && v >= 8 {
				out[i] = int64(v) - 16
			} else {
				out[i] = int64(v)
			}
		case Int2, Uint2:
			v := raw[i/4] >> (2 * (i % 4)) & 0x3
			if t.DType == Int2 && v >= 2 {
				out[i] = int64(v) - 4
			} else {
				out[i] = int64(v)
			}
		}
	}
	return out, nil
}

// StringData returns the elements of a string tensor.
func (t *Tensor) StringData() ([][]byte, error) {
	if t.DType != String {
		return nil, fmt.Errorf("tensor %q is %v, not string", t.Name, t.DType)
	}
	if t.replaced || t.origin == nil {
		return t.strs, nil
	}
	return t.origin.GetStringData(), nil
}

// numElements multiplies dims, refusing negative sizes and overflow.
func numElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("dimensions %v overflow int64", dims)
		}
		n *= d
	}
	return n, nil
}

// checkStoredSize checks that the data a loaded tensor carries matches its
// dims and type, before anything is allocated from dims.
func (t *Tensor) checkStoredSize() error {
	n, err := numElements(t.Dims)
	if err != nil {
		return err
	}
	p := t.origin
	if t.DType == String {
		if int64(len(p.GetStringData())) != n {
			return fmt.Errorf("%d strings for shape %v", len(p.GetStringData()), t.Dims)
		}
		return nil
	}
	if !t.DType.Known() {
		return fmt.Errorf("unknown element type %d", int32(t.DType))
	}
	size := t.DType.byteSize(n)
	if size < 0 {
		return fmt.Errorf("dimensions %v overflow", t.Dims)
	}
	if size > maxTensorBytes() {
		return fmt.Errorf("shape %v of %v needs %d bytes, more than this machine's memory", t.Dims, t.DType, size)
	}
	if t.hasRaw {
		if int64(len(t.raw)) != size {
			return fmt.Errorf("%d bytes of data for %v%v (want %d)", len(t.raw), t.DType, t.Dims, size)
		}
		return nil
	}
	return checkTypedData(p, t.DType, n)
}

// checkTypedData checks the typed field that holds a tensor's data: it
// must suit the element type and hold exactly the elements of the shape.
func checkTypedData(p *onnxpb.TensorProto, dt DType, n int64) error {
	var (
		field string
		count int
		fits  bool
		want  = []int64{n}
	)
	switch {
	case len(p.GetFloatData()) > 0:
		field, count, fits = "float_data", len(p.GetFloatData()), dt == Float32 || dt == Complex64
		if dt == Complex64 {
			want = []int64{2 * n}
		}
	case len(p.GetDoubleData()) > 0:
		field, count, fits = "double_data", len(p.GetDoubleData()), dt == Float64 || dt == Complex128
		if dt == Complex128 {
			want = []int64{2 * n}
		}
	case len(p.GetInt64Data()) > 0:
		field, count, fits = "int64_data", len(p.GetInt64Data()), dt == Int64
	case len(p.GetUint64Data()) > 0:
		field, count, fits = "uint64_data", len(p.GetUint64Data()), dt == Uint32 || dt == Uint64
	case len(p.GetInt32Data()) > 0:
		field, count = "int32_data", len(p.GetInt32Data())
		switch dt {
		case Float32, Float64, Int64, Uint32, Uint64, Complex64, Complex128, String:
		default:
			fits = true
			if dt.Bits() < 8 {
				// One packed byte per entry; older files hold one element per entry.
				want = []int64{dt.byteSize(n), n}
			}
		}
	case len(p.GetStringData()) > 0:
		field = "string_data"
	default:
		if n == 0 {
			return nil
		}
		return fmt.Errorf("no data for %v%v", dt, p.GetDims())
	}
	if !fits {
		return fmt.Errorf("data in %s does not suit element type %v", field, dt)
	}
	for _, w := range want {
		if int64(count) == w {
			return nil
		}
	}
	return fmt.Errorf("%d elements in %s for %v%v (want %d)", count, field, dt, p.GetDims(), want[0])
}
