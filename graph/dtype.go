package graph

import "fmt"

// DType is a tensor element type. Its values are the ONNX
// TensorProto.DataType numbers, so a DType converts to and from the file
// format without a table.
type DType int32

// The element types of ONNX IR version 13.
const (
	Undefined      DType = 0
	Float32        DType = 1
	Uint8          DType = 2
	Int8           DType = 3
	Uint16         DType = 4
	Int16          DType = 5
	Int32          DType = 6
	Int64          DType = 7
	String         DType = 8
	Bool           DType = 9
	Float16        DType = 10
	Float64        DType = 11
	Uint32         DType = 12
	Uint64         DType = 13
	Complex64      DType = 14
	Complex128     DType = 15
	BFloat16       DType = 16
	Float8E4M3FN   DType = 17
	Float8E4M3FNUZ DType = 18
	Float8E5M2     DType = 19
	Float8E5M2FNUZ DType = 20
	Uint4          DType = 21
	Int4           DType = 22
	Float4E2M1     DType = 23
	Float8E8M0     DType = 24
	Uint2          DType = 25
	Int2           DType = 26
)

type dtypeInfo struct {
	name string
	bits int // storage bits per element; 0 for string
}

var dtypeInfos = [...]dtypeInfo{
	Undefined:      {"undefined", 0},
	Float32:        {"float32", 32},
	Uint8:          {"uint8", 8},
	Int8:           {"int8", 8},
	Uint16:         {"uint16", 16},
	Int16:          {"int16", 16},
	Int32:          {"int32", 32},
	Int64:          {"int64", 64},
	String:         {"string", 0},
	Bool:           {"bool", 8},
	Float16:        {"float16", 16},
	Float64:        {"float64", 64},
	Uint32:         {"uint32", 32},
	Uint64:         {"uint64", 64},
	Complex64:      {"complex64", 64},
	Complex128:     {"complex128", 128},
	BFloat16:       {"bfloat16", 16},
	Float8E4M3FN:   {"float8e4m3fn", 8},
	Float8E4M3FNUZ: {"float8e4m3fnuz", 8},
	Float8E5M2:     {"float8e5m2", 8},
	Float8E5M2FNUZ: {"float8e5m2fnuz", 8},
	Uint4:          {"uint4", 4},
	Int4:           {"int4", 4},
	Float4E2M1:     {"float4e2m1", 4},
	Float8E8M0:     {"float8e8m0", 8},
	Uint2:          {"uint2", 2},
	Int2:           {"int2", 2},
}

// Known reports whether d is one of the element types above (Undefined excluded).
func (d DType) Known() bool { return d > 0 && int(d) < len(dtypeInfos) }

// String returns the lower-case name of the type, e.g. "float32".
func (d DType) String() string {
	if d == Undefined || d.Known() {
		return dtypeInfos[d].name
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Bits is the storage size of one element in bits (4 for int4, 2 for
// int2); 0 for String and for unknown types.
func (d DType) Bits() int {
	if !d.Known() {
		return 0
	}
	return dtypeInfos[d].bits
}

// IsFloat reports whether d is a real floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ,
		Float8E5M2, Float8E5M2FNUZ, Float4E2M1, Float8E8M0:
		return true
	}
	return false
}

// IsInteger reports whether d is a signed or unsigned integer type.
func (d DType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64, Uint4, Int4, Uint2, Int2:
		return true
	}
	return false
}

// ParseDType returns the type with the given name (as DType.String prints it).
func ParseDType(name string) (DType, bool) {
	for i, info := range dtypeInfos {
		if info.name == name {
			return DType(i), true
		}
	}
	return Undefined, false
}

// byteSize returns the number of bytes n elements of d take in raw form
// (sub-byte types packed, as in raw_data), or -1 when it overflows int64.
func (d DType) byteSize(n int64) int64 {
	bits := int64(d.Bits())
	if n < 0 || bits == 0 {
		return -1
	}
	if bits < 8 {
		per := 8 / bits
		return (n + per - 1) / per
	}
	bytes := bits / 8
	if n > (1<<62)/bytes {
		return -1
	}
	return n * bytes
}
