// Type: the integer types quantized values are stored in, with their
// ranges and names.

package qdq

import (
	"fmt"
	"strings"
)

// Type is the integer type of quantized values.
type Type int

// The quantized types. The zero Type is invalid.
const (
	Int8 Type = iota + 1
	Uint8
	Int16
	Uint16
	Int4
	Uint4
)

var typeNames = [...]string{Int8: "int8", Uint8: "uint8", Int16: "int16", Uint16: "uint16", Int4: "int4", Uint4: "uint4"}

// Valid reports whether t is one of the quantized types.
func (t Type) Valid() bool { return t >= Int8 && t <= Uint4 }

// Min is the smallest value of t (0 for an invalid type).
func (t Type) Min() int32 {
	switch t {
	case Int8:
		return -128
	case Int16:
		return -32768
	case Int4:
		return -8
	}
	return 0
}

// Max is the largest value of t (0 for an invalid type).
func (t Type) Max() int32 {
	switch t {
	case Int8:
		return 127
	case Uint8:
		return 255
	case Int16:
		return 32767
	case Uint16:
		return 65535
	case Int4:
		return 7
	case Uint4:
		return 15
	}
	return 0
}

// Bits is the width of t in bits (0 for an invalid type).
func (t Type) Bits() int {
	switch t {
	case Int8, Uint8:
		return 8
	case Int16, Uint16:
		return 16
	case Int4, Uint4:
		return 4
	}
	return 0
}

// Signed reports whether t holds negative values.
func (t Type) Signed() bool { return t == Int8 || t == Int16 || t == Int4 }

// String is the ONNX name of t ("int8", "uint4", …).
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ParseType reads a type name as String writes it (case-insensitive).
func ParseType(s string) (Type, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for t := Int8; t <= Uint4; t++ {
		if typeNames[t] == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("qdq: unknown quantized type %q (want int8, uint8, int16, uint16, int4 or uint4)", s)
}
