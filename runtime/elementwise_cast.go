// Cast and CastLike, and the value conversions the elementwise kernels
// share: reading any numeric tensor as float64, int64 or uint64 lanes,
// storing such lanes into any numeric type (integers wrap to their width,
// floats round to nearest even), the small float formats (float16,
// bfloat16, the float8 variants, float4e2m1, float8e8m0) and strings.

package runtime

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/x448/float16"
)

func registerCast(r *Registry) {
	r.Register("", "Cast", castBuilder)
	r.Register("", "CastLike", castLikeBuilder)
}

// castOptions are the attributes of Cast and CastLike that shape the
// conversion to the float8 types.
type castOptions struct {
	saturate  bool
	roundMode string // float8e8m0 only: up, down or nearest
}

func readCastOptions(n *graph.Node) (castOptions, error) {
	o := castOptions{saturate: n.AttrInt("saturate", 1) != 0, roundMode: n.AttrString("round_mode", "up")}
	switch o.roundMode {
	case "up", "down", "nearest":
	default:
		return o, fmt.Errorf("round_mode must be up, down or nearest, got %q", o.roundMode)
	}
	return o, nil
}

func castBuilder(n *graph.Node, opset int64) (Kernel, error) {
	a := n.Attr("to")
	var to graph.DType
	switch {
	case a == nil:
		return nil, fmt.Errorf("attribute to is required")
	case a.Type == graph.AttrInt:
		to = graph.DType(a.Int)
	case a.Type == graph.AttrString:
		// Cast-1 names the type: "FLOAT", "INT64"...
		to = castTypeNames[strings.ToUpper(a.String)]
	}
	if !castable(to) {
		return nil, fmt.Errorf("cannot cast to %v", to)
	}
	opts, err := readCastOptions(n)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		out, err := castTensor(ctx, in[0], to, opts)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

func castLikeBuilder(n *graph.Node, opset int64) (Kernel, error) {
	opts, err := readCastOptions(n)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(ctx *Context, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("takes 2 inputs, got %d", countPresent(in))
		}
		if !castable(in[1].DType) {
			return nil, fmt.Errorf("cannot cast to %v", in[1].DType)
		}
		out, err := castTensor(ctx, in[0], in[1].DType, opts)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}), nil
}

// castTypeNames are the type names of the string form of Cast-1's to.
var castTypeNames = map[string]graph.DType{
	"FLOAT": graph.Float32, "UINT8": graph.Uint8, "INT8": graph.Int8, "UINT16": graph.Uint16,
	"INT16": graph.Int16, "INT32": graph.Int32, "INT64": graph.Int64, "STRING": graph.String,
	"BOOL": graph.Bool, "FLOAT16": graph.Float16, "DOUBLE": graph.Float64, "UINT32": graph.Uint32,
	"UINT64": graph.Uint64,
}

// castable reports whether Cast supports dt as a source or target.
func castable(dt graph.DType) bool {
	return dt.Known() && dt != graph.Complex64 && dt != graph.Complex128
}

// castTensor converts x to type to.
func castTensor(ctx *Context, x *Tensor, to graph.DType, opts castOptions) (*Tensor, error) {
	if err := checkTensorData(x, "input"); err != nil {
		return nil, err
	}
	if !castable(x.DType) {
		return nil, fmt.Errorf("cannot cast from %v", x.DType)
	}
	if x.DType == to {
		return ctx.View(x, x.Shape...), nil
	}
	out := ctx.Alloc(to, x.Shape...)
	if castNative(x.Data, out.Data) {
		return out, nil
	}
	switch {
	case to == graph.String:
		strs := out.Data.([]string)
		if err := formatStrings(x, strs); err != nil {
			return nil, err
		}
	case x.DType == graph.String:
		if err := parseStrings(x.Data.([]string), out, opts); err != nil {
			return nil, err
		}
	case to == graph.Bool:
		res := out.Data.([]bool)
		vals, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			res[i] = v != 0
		}
	case isIntegerType(to) && !x.DType.IsFloat():
		if isUnsignedType(x.DType) {
			u, _ := uintsOf(x)
			storeUints(out, u)
		} else {
			v, err := intsOf(x)
			if err != nil {
				return nil, err
			}
			storeInts(out, v)
		}
	default:
		if to.IsFloat() && x.DType == graph.Uint64 {
			// Above 2^53 a uint64 does not survive the trip through int64.
			u := x.Data.([]uint64)
			vals := make([]float64, len(u))
			for i, v := range u {
				vals[i] = float64(v)
			}
			return out, encodeFloats(out, vals, opts)
		}
		vals, err := floatsOf64(x)
		if err != nil {
			return nil, err
		}
		if err := encodeFloats(out, vals, opts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// castNative converts between Go's own numeric slice types when the Go
// conversion has the ONNX meaning: integer to anything (wrapping,
// rounding to nearest) and float to float. It reports false for other
// pairs, including float to integer (out-of-range values need care).
func castNative(src, dst any) bool {
	switch s := src.(type) {
	case []float32:
		if d, ok := dst.([]float64); ok {
			convertSlice(d, s)
			return true
		}
	case []float64:
		if d, ok := dst.([]float32); ok {
			convertSlice(d, s)
			return true
		}
	case []int8:
		return castFromInt(s, dst)
	case []int16:
		return castFromInt(s, dst)
	case []int32:
		return castFromInt(s, dst)
	case []int64:
		return castFromInt(s, dst)
	case []uint16:
		return castFromInt(s, dst)
	case []uint32:
		return castFromInt(s, dst)
	case []uint64:
		return castFromInt(s, dst)
	}
	return false
}

type nativeInt interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type nativeNumber interface {
	nativeInt | ~float32 | ~float64
}

// castFromInt converts a full-width integer slice to a native numeric
// type. Sub-byte and uint8-backed types (int4, uint4, float8...) are not
// handled here: their Go slice does not tell their meaning.
func castFromInt[S nativeInt](s []S, dst any) bool {
	switch d := dst.(type) {
	case []float32:
		convertSlice(d, s)
	case []float64:
		convertSlice(d, s)
	case []int16:
		convertSlice(d, s)
	case []int32:
		convertSlice(d, s)
	case []int64:
		convertSlice(d, s)
	case []uint16:
		convertSlice(d, s)
	case []uint32:
		convertSlice(d, s)
	case []uint64:
		convertSlice(d, s)
	default:
		return false
	}
	return true
}

func convertSlice[D, S nativeNumber](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

func isSignedType(dt graph.DType) bool {
	switch dt {
	case graph.Int8, graph.Int16, graph.Int32, graph.Int64, graph.Int4, graph.Int2:
		return true
	}
	return false
}

func isUnsignedType(dt graph.DType) bool {
	switch dt {
	case graph.Uint8, graph.Uint16, graph.Uint32, graph.Uint64, graph.Uint4, graph.Uint2:
		return true
	}
	return false
}

func isIntegerType(dt graph.DType) bool { return isSignedType(dt) || isUnsignedType(dt) }

// isNumeric reports whether dt holds real numbers (bool and string not).
func isNumeric(dt graph.DType) bool { return dt.IsFloat() || isIntegerType(dt) }

// intsOf reads an integer or bool tensor as int64 (uint64 values above
// the int64 range wrap).
func intsOf(t *Tensor) ([]int64, error) {
	out := make([]int64, dataLen(t.Data))
	switch d := t.Data.(type) {
	case []int8:
		convertSlice(out, d)
	case []uint8:
		if !isIntegerType(t.DType) {
			return nil, fmt.Errorf("%v is not an integer type", t.DType)
		}
		convertSlice(out, d)
	case []int16:
		convertSlice(out, d)
	case []uint16:
		convertSlice(out, d)
	case []int32:
		convertSlice(out, d)
	case []uint32:
		convertSlice(out, d)
	case []int64:
		copy(out, d)
	case []uint64:
		convertSlice(out, d)
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("%v is not an integer type", t.DType)
	}
	return out, nil
}

// uintsOf reads an unsigned integer tensor as uint64.
func uintsOf(t *Tensor) ([]uint64, error) {
	out := make([]uint64, dataLen(t.Data))
	switch d := t.Data.(type) {
	case []uint8:
		if !isUnsignedType(t.DType) {
			return nil, fmt.Errorf("%v is not an unsigned type", t.DType)
		}
		convertSlice(out, d)
	case []uint16:
		convertSlice(out, d)
	case []uint32:
		convertSlice(out, d)
	case []uint64:
		copy(out, d)
	default:
		return nil, fmt.Errorf("%v is not an unsigned type", t.DType)
	}
	return out, nil
}

// floatsOf64 reads any real-valued tensor (the small float formats, the
// integers and bool included) as float64.
func floatsOf64(t *Tensor) ([]float64, error) {
	if f := miniFloatOf(t.DType); f != nil && t.DType != graph.Float16 && t.DType != graph.BFloat16 {
		bits := t.Data.([]uint8)
		out := make([]float64, len(bits))
		for i, b := range bits {
			out[i] = f.decode(uint16(b))
		}
		return out, nil
	}
	if t.DType == graph.Float8E8M0 {
		bits := t.Data.([]uint8)
		out := make([]float64, len(bits))
		for i, b := range bits {
			out[i] = decodeE8M0(b)
		}
		return out, nil
	}
	if t.DType == graph.Bool || isNumeric(t.DType) {
		return t.AsFloat64()
	}
	return nil, fmt.Errorf("%v values are not numeric", t.DType)
}

// wrapInt reduces v to the range of an integer type of the given width
// (two's complement for signed types).
func wrapInt(v int64, dt graph.DType) int64 {
	switch dt {
	case graph.Int4:
		return (v&0xF ^ 8) - 8
	case graph.Int2:
		return (v&3 ^ 2) - 2
	case graph.Uint4:
		return v & 0xF
	case graph.Uint2:
		return v & 3
	}
	return v
}

// storeInts writes int64 values into a numeric tensor: integers wrap,
// floats round to nearest.
func storeInts(t *Tensor, v []int64) {
	switch d := t.Data.(type) {
	case []int8:
		for i, x := range v {
			d[i] = int8(wrapInt(x, t.DType))
		}
	case []uint8:
		if !isIntegerType(t.DType) {
			vals := make([]float64, len(v))
			convertSlice(vals, v)
			_ = encodeFloats(t, vals, castOptions{saturate: true, roundMode: "up"})
			return
		}
		for i, x := range v {
			d[i] = uint8(wrapInt(x, t.DType))
		}
	case []int16:
		convertSlice(d, v)
	case []uint16:
		convertSlice(d, v)
	case []int32:
		convertSlice(d, v)
	case []uint32:
		convertSlice(d, v)
	case []int64:
		copy(d, v)
	case []uint64:
		convertSlice(d, v)
	case []float32:
		convertSlice(d, v)
	case []float64:
		convertSlice(d, v)
	case []bool:
		for i, x := range v {
			d[i] = x != 0
		}
	default:
		vals := make([]float64, len(v))
		convertSlice(vals, v)
		_ = encodeFloats(t, vals, castOptions{saturate: true, roundMode: "up"})
	}
}

// storeUints writes uint64 values into an integer tensor, wrapping.
func storeUints(t *Tensor, v []uint64) {
	switch d := t.Data.(type) {
	case []uint64:
		copy(d, v)
	default:
		s := make([]int64, len(v))
		convertSlice(s, v)
		storeInts(t, s)
	}
}

// floatToInt64 truncates toward zero; NaN gives 0 and out-of-range
// values saturate (ONNX leaves both undefined).
func floatToInt64(v float64) int64 {
	switch {
	case v != v:
		return 0
	case v >= 9.223372036854775807e18:
		return math.MaxInt64
	case v <= -9.223372036854775808e18:
		return math.MinInt64
	}
	return int64(v)
}

// storeFloats64 writes float64 values into a numeric tensor: floats
// round to nearest even (saturating for float8), integers truncate toward
// zero and wrap to their width.
func storeFloats64(t *Tensor, v []float64) {
	_ = encodeFloats(t, v, castOptions{saturate: true, roundMode: "up"})
}

// encodeFloats stores float64 values into a tensor of any real type.
func encodeFloats(t *Tensor, v []float64, opts castOptions) error {
	switch d := t.Data.(type) {
	case []float32:
		convertSlice(d, v)
		return nil
	case []float64:
		copy(d, v)
		return nil
	case []bool:
		for i, x := range v {
			d[i] = x != 0
		}
		return nil
	case []uint64:
		for i, x := range v {
			if x >= 1<<63 {
				d[i] = uint64(x) // values in [2^63, 2^64) do not fit int64
			} else {
				d[i] = uint64(floatToInt64(x))
			}
		}
		return nil
	}
	if isIntegerType(t.DType) {
		ints := make([]int64, len(v))
		for i, x := range v {
			ints[i] = floatToInt64(x)
		}
		storeInts(t, ints)
		return nil
	}
	if t.DType == graph.Float8E8M0 {
		d := t.Data.([]uint8)
		for i, x := range v {
			d[i] = encodeE8M0(x, opts)
		}
		return nil
	}
	f := miniFloatOf(t.DType)
	if f == nil {
		return fmt.Errorf("cannot store numbers in %v", t.DType)
	}
	switch d := t.Data.(type) {
	case []float16.Float16:
		for i, x := range v {
			d[i] = float16.Frombits(f.encode(x, false))
		}
	case []BFloat16:
		for i, x := range v {
			d[i] = BFloat16(f.encode(x, false))
		}
	case []uint8:
		sat := opts.saturate || t.DType == graph.Float4E2M1
		for i, x := range v {
			d[i] = uint8(f.encode(x, sat))
		}
	}
	return nil
}

// miniFloat describes a binary floating-point format narrower than
// float32: sign, exp exponent bits with the given bias, man mantissa bits.
type miniFloat struct {
	exp, man int
	bias     int
	kind     miniKind
	max      float64 // largest finite value
}

type miniKind int

const (
	miniIEEE  miniKind = iota // infinities and NaNs at the all-ones exponent
	miniFN                    // no infinities; NaN is all ones (float8e4m3fn)
	miniFNUZ                  // no infinities, no -0; NaN is the -0 pattern
	miniNoNaN                 // neither infinities nor NaN (float4e2m1)
)

var (
	fmtFloat16  = &miniFloat{exp: 5, man: 10, bias: 15, kind: miniIEEE, max: 65504}
	fmtBFloat16 = &miniFloat{exp: 8, man: 7, bias: 127, kind: miniIEEE, max: math.Ldexp(255, 120)}
	fmtE4M3FN   = &miniFloat{exp: 4, man: 3, bias: 7, kind: miniFN, max: 448}
	fmtE4M3FNUZ = &miniFloat{exp: 4, man: 3, bias: 8, kind: miniFNUZ, max: 240}
	fmtE5M2     = &miniFloat{exp: 5, man: 2, bias: 15, kind: miniIEEE, max: 57344}
	fmtE5M2FNUZ = &miniFloat{exp: 5, man: 2, bias: 16, kind: miniFNUZ, max: 57344}
	fmtE2M1     = &miniFloat{exp: 2, man: 1, bias: 1, kind: miniNoNaN, max: 6}
)

func miniFloatOf(dt graph.DType) *miniFloat {
	switch dt {
	case graph.Float16:
		return fmtFloat16
	case graph.BFloat16:
		return fmtBFloat16
	case graph.Float8E4M3FN:
		return fmtE4M3FN
	case graph.Float8E4M3FNUZ:
		return fmtE4M3FNUZ
	case graph.Float8E5M2:
		return fmtE5M2
	case graph.Float8E5M2FNUZ:
		return fmtE5M2FNUZ
	case graph.Float4E2M1:
		return fmtE2M1
	}
	return nil
}

func (f *miniFloat) signBit() uint16 { return 1 << uint(f.exp+f.man) }

// nan is the format's NaN pattern for a value of the given sign.
func (f *miniFloat) nan(sign uint16) uint16 {
	switch f.kind {
	case miniIEEE:
		return sign | uint16(1<<f.exp-1)<<f.man | 1<<(f.man-1)
	case miniFN:
		return sign | uint16(1<<(f.exp+f.man)-1)
	case miniFNUZ:
		return f.signBit()
	}
	return f.signBit() // float4e2m1 has no NaN; the reference writes -0
}

// overflow is the pattern of a value beyond the finite range.
func (f *miniFloat) overflow(sign uint16, saturate bool) uint16 {
	if saturate || f.kind == miniNoNaN {
		return sign | f.maxBits()
	}
	if f.kind == miniIEEE {
		return sign | uint16(1<<f.exp-1)<<f.man
	}
	return f.nan(sign)
}

func (f *miniFloat) maxBits() uint16 {
	switch f.kind {
	case miniIEEE:
		return uint16(1<<f.exp-2)<<f.man | uint16(1<<f.man-1)
	case miniFN:
		return uint16(1<<(f.exp+f.man) - 2)
	}
	return uint16(1<<(f.exp+f.man) - 1)
}

// encode rounds v to the nearest value of the format (ties to even).
// IEEE formats overflow to infinity unless saturate is set; the others
// follow the ONNX float8 tables.
func (f *miniFloat) encode(v float64, saturate bool) uint16 {
	var sign uint16
	if math.Signbit(v) {
		sign = f.signBit()
	}
	if v != v {
		return f.nan(sign)
	}
	a := math.Abs(v)
	if math.IsInf(a, 1) {
		if f.kind == miniIEEE && !saturate {
			return sign | uint16(1<<f.exp-1)<<f.man
		}
		return f.overflow(sign, saturate)
	}
	if a == 0 {
		if f.kind == miniFNUZ {
			return 0
		}
		return sign
	}
	emin := 1 - f.bias
	_, e := math.Frexp(a)
	exp := max(e-1, emin)
	r := math.RoundToEven(math.Ldexp(a, f.man-exp))
	if r >= float64(int(1)<<(f.man+1)) {
		r /= 2
		exp++
	}
	if math.Ldexp(r, exp-f.man) > f.max {
		return f.overflow(sign, saturate)
	}
	if r == 0 {
		if f.kind == miniFNUZ {
			return 0
		}
		return sign
	}
	m := uint16(r)
	if m < 1<<f.man {
		return sign | m // subnormal
	}
	return sign | uint16(exp+f.bias)<<f.man | (m - 1<<f.man)
}

// decode returns the value of a bit pattern.
func (f *miniFloat) decode(bits uint16) float64 {
	sign := bits&f.signBit() != 0
	e := int(bits>>f.man) & (1<<f.exp - 1)
	m := int(bits) & (1<<f.man - 1)
	switch f.kind {
	case miniIEEE:
		if e == 1<<f.exp-1 {
			if m != 0 {
				return math.NaN()
			}
			if sign {
				return math.Inf(-1)
			}
			return math.Inf(1)
		}
	case miniFN:
		if e == 1<<f.exp-1 && m == 1<<f.man-1 {
			return math.NaN()
		}
	case miniFNUZ:
		if bits == f.signBit() {
			return math.NaN()
		}
	}
	var v float64
	if e == 0 {
		v = math.Ldexp(float64(m), 1-f.bias-f.man)
	} else {
		v = math.Ldexp(float64(m|1<<f.man), e-f.bias-f.man)
	}
	if sign {
		v = -v
	}
	return v
}

// decodeE8M0 is the value 2^(b-127) of a float8e8m0 pattern (0xFF is NaN).
func decodeE8M0(b uint8) float64 {
	if b == 0xFF {
		return math.NaN()
	}
	return math.Ldexp(1, int(b)-127)
}

// encodeE8M0 rounds |v| to a power of two by the round mode; out-of-range
// values saturate or become NaN.
func encodeE8M0(v float64, o castOptions) uint8 {
	if v != v {
		return 0xFF
	}
	a := math.Abs(v)
	if math.IsInf(a, 1) {
		if o.saturate {
			return 0xFE
		}
		return 0xFF
	}
	var code int
	if a == 0 {
		code = -1
	} else {
		frac, e := math.Frexp(a) // a = frac·2^e, frac in [0.5, 1)
		exp := e - 1
		rest := frac*2 - 1 // a = (1+rest)·2^exp
		switch o.roundMode {
		case "up":
			if rest > 0 {
				exp++
			}
		case "nearest":
			if rest >= 0.5 {
				exp++
			}
		}
		code = exp + 127
	}
	switch {
	case code < 0:
		if o.saturate {
			return 0
		}
		return 0xFF
	case code > 0xFE:
		if o.saturate {
			return 0xFE
		}
		return 0xFF
	}
	return uint8(code)
}

// formatStrings writes the decimal form of each value (the shortest that
// reads back to the same float, as Python prints it).
func formatStrings(x *Tensor, dst []string) error {
	switch d := x.Data.(type) {
	case []bool:
		for i, v := range d {
			dst[i] = "False"
			if v {
				dst[i] = "True"
			}
		}
		return nil
	case []float32:
		for i, v := range d {
			dst[i] = formatFloat(float64(v), 32)
		}
		return nil
	case []float64:
		for i, v := range d {
			dst[i] = formatFloat(v, 64)
		}
		return nil
	}
	if isSignedType(x.DType) {
		v, err := intsOf(x)
		if err != nil {
			return err
		}
		for i, n := range v {
			dst[i] = strconv.FormatInt(n, 10)
		}
		return nil
	}
	if isUnsignedType(x.DType) {
		v, err := uintsOf(x)
		if err != nil {
			return err
		}
		for i, n := range v {
			dst[i] = strconv.FormatUint(n, 10)
		}
		return nil
	}
	v, err := floatsOf64(x)
	if err != nil {
		return err
	}
	for i, f := range v {
		dst[i] = formatFloat(f, 32)
	}
	return nil
}

// formatFloat prints like Python's repr: positional between 1e-4 and
// 1e16 (with at least one decimal), scientific outside.
func formatFloat(v float64, bits int) string {
	switch {
	case v != v:
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(v, 'g', -1, bits)
	}
	s := strconv.FormatFloat(v, 'f', -1, bits)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// parseStrings reads decimal strings ("1.5", "1e-5", "INF", "-inf",
// "NaN") into a numeric or bool tensor.
func parseStrings(src []string, out *Tensor, opts castOptions) error {
	if isIntegerType(out.DType) {
		ints := make([]int64, len(src))
		for i, s := range src {
			s = strings.TrimSpace(s)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				ints[i] = n
				continue
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				ints[i] = int64(u)
				continue
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("element %d: %q is not a number", i, s)
			}
			ints[i] = floatToInt64(f)
		}
		storeInts(out, ints)
		return nil
	}
	bitSize := 64
	if out.DType == graph.Float32 {
		bitSize = 32 // parse straight to float32: no double rounding
	}
	vals := make([]float64, len(src))
	for i, s := range src {
		s = strings.TrimSpace(s)
		if out.DType == graph.Bool {
			switch strings.ToLower(s) {
			case "true":
				vals[i] = 1
				continue
			case "false":
				continue
			}
		}
		f, err := strconv.ParseFloat(s, bitSize)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return fmt.Errorf("element %d: %q is not a number", i, s)
			}
		}
		vals[i] = f
	}
	return encodeFloats(out, vals, opts)
}
