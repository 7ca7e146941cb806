// npy.go reads and writes NumPy .npy files: the magic and version, the
// header (a Python dict literal with descr, fortran_order and shape), and
// the array data.

package tensorio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

const npyMagic = "\x93NUMPY"

// maxNpyHeader bounds the header dictionary. NumPy itself refuses headers
// over 10,000 bytes by default; a plain array's header is under 200.
const maxNpyHeader = 1 << 20

// npyType is a decoded descr: the element type and its storage.
type npyType struct {
	dt   graph.DType
	kind byte // NumPy kind: f, i, u, b, c, U, S
	size int  // bytes per element
	big  bool // big-endian storage
}

// swapUnit is the size of the byte groups a big-endian file reverses:
// the element, each half of a complex number, each UCS-4 code unit.
func (t npyType) swapUnit() int {
	switch t.kind {
	case 'c':
		return t.size / 2
	case 'U':
		return 4
	case 'S', 'b':
		return 1
	}
	return t.size
}

// parseDescr reads a descr string such as "<f4", "|u1" or "<U12".
func parseDescr(descr string) (npyType, error) {
	if len(descr) < 2 {
		return npyType{}, fmt.Errorf("dtype %q is not a NumPy type string", descr)
	}
	var t npyType
	rest := descr[1:]
	switch descr[0] {
	case '<', '|', '=':
		// '=' is native order; files written by NumPy always spell it out,
		// and every platform onnxq runs on is little-endian.
	case '>':
		t.big = true
	default:
		// NumPy accepts type strings without an order character.
		rest = descr
	}
	t.kind = rest[0]
	switch t.kind {
	case 'O':
		return npyType{}, fmt.Errorf("dtype %q holds pickled Python objects, which are not supported", descr)
	case 'M', 'm':
		return npyType{}, fmt.Errorf("dtype %q (dates and times) is not supported", descr)
	}
	size, err := strconv.Atoi(rest[1:])
	if err != nil || size <= 0 || size > 1<<20 {
		return npyType{}, fmt.Errorf("dtype %q is not supported", descr)
	}
	t.size = size
	bad := func() (npyType, error) {
		return npyType{}, fmt.Errorf("dtype %q is not supported", descr)
	}
	switch t.kind {
	case 'f':
		switch size {
		case 2:
			t.dt = graph.Float16
		case 4:
			t.dt = graph.Float32
		case 8:
			t.dt = graph.Float64
		default:
			return bad()
		}
	case 'i':
		switch size {
		case 1:
			t.dt = graph.Int8
		case 2:
			t.dt = graph.Int16
		case 4:
			t.dt = graph.Int32
		case 8:
			t.dt = graph.Int64
		default:
			return bad()
		}
	case 'u':
		switch size {
		case 1:
			t.dt = graph.Uint8
		case 2:
			t.dt = graph.Uint16
		case 4:
			t.dt = graph.Uint32
		case 8:
			t.dt = graph.Uint64
		default:
			return bad()
		}
	case 'b':
		if size != 1 {
			return bad()
		}
		t.dt = graph.Bool
	case 'c':
		switch size {
		case 8:
			t.dt = graph.Complex64
		case 16:
			t.dt = graph.Complex128
		default:
			return bad()
		}
	case 'U':
		// size counts UCS-4 characters, not bytes.
		if size > 1<<18 {
			return bad()
		}
		t.dt, t.size = graph.String, 4*size
	case 'S', 'a':
		t.dt, t.kind = graph.String, 'S'
	default:
		return bad()
	}
	return t, nil
}

// npyDescr is the descr onnxq writes for a runtime type, with the element
// size; ok is false for types NumPy has no code for.
func npyDescr(dt graph.DType) (string, bool) {
	switch dt {
	case graph.Float16:
		return "<f2", true
	case graph.Float32:
		return "<f4", true
	case graph.Float64:
		return "<f8", true
	case graph.Int8:
		return "|i1", true
	case graph.Int16:
		return "<i2", true
	case graph.Int32:
		return "<i4", true
	case graph.Int64:
		return "<i8", true
	case graph.Uint8:
		return "|u1", true
	case graph.Uint16:
		return "<u2", true
	case graph.Uint32:
		return "<u4", true
	case graph.Uint64:
		return "<u8", true
	case graph.Bool:
		return "|b1", true
	case graph.Complex64:
		return "<c8", true
	case graph.Complex128:
		return "<c16", true
	case graph.String:
		return "<U", true
	}
	return "", false
}

// NpyWritable reports whether tensors of type dt can be written as .npy.
func NpyWritable(dt graph.DType) bool {
	_, ok := npyDescr(dt)
	return ok
}

// npyHeader is the parsed header dictionary.
type npyHeader struct {
	typ     npyType
	fortran bool
	shape   []int64
	count   int64 // elements
	bytes   int64 // data bytes
}

// readNpy decodes one .npy stream of exactly size bytes.
func readNpy(r io.Reader, size int64) (*runtime.Tensor, error) { return readNpyChecked(r, size, nil) }

// readNpyChecked is readNpy that first hands the header's element type and
// shape to accept (when set), before any data is read: an error from it
// stops the read.
func readNpyChecked(r io.Reader, size int64, accept func(graph.DType, []int) error) (*runtime.Tensor, error) {
	var pre [12]byte
	if size < 10 {
		return nil, errors.New("not a .npy file (too short)")
	}
	if _, err := io.ReadFull(r, pre[:10]); err != nil {
		return nil, fmt.Errorf("reading the .npy preamble: %v", err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, errors.New("not a .npy file (no \\x93NUMPY magic)")
	}
	major, minor := pre[6], pre[7]
	var hlen, start int64
	switch major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if size < 12 {
			return nil, errors.New("truncated .npy preamble")
		}
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return nil, fmt.Errorf("reading the .npy preamble: %v", err)
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return nil, fmt.Errorf(".npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)", major, minor)
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf(".npy header of %d bytes is too large", hlen)
	}
	if start+hlen > size {
		return nil, fmt.Errorf(".npy header of %d bytes runs past the end of the file (%d bytes)", hlen, size)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return nil, fmt.Errorf("reading the .npy header: %v", err)
	}
	if major == 3 && !utf8.Valid(text) {
		return nil, errors.New(".npy header is not valid UTF-8")
	}
	h, err := parseNpyHeader(string(text))
	if err != nil {
		return nil, err
	}
	if accept != nil {
		shape := make([]int, len(h.shape))
		for i, d := range h.shape {
			shape[i] = int(d)
		}
		if err := accept(h.typ.dt, shape); err != nil {
			return nil, err
		}
	}
	avail := size - start - hlen
	if h.bytes != avail {
		if h.bytes > avail {
			return nil, fmt.Errorf(".npy data is truncated: %s%v needs %d bytes, the file has %d", descrName(h.typ), h.shape, h.bytes, avail)
		}
		return nil, fmt.Errorf(".npy file has %d bytes after the data of %s%v", avail-h.bytes, descrName(h.typ), h.shape)
	}
	raw := make([]byte, h.bytes)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("reading the .npy data: %v", err)
	}
	return npyTensor(h, raw)
}

func descrName(t npyType) string {
	if t.dt == graph.String {
		return "string"
	}
	return t.dt.String()
}

// npyTensor turns the raw data of a parsed header into a C-order tensor.
// raw is owned and may be modified.
func npyTensor(h *npyHeader, raw []byte) (*runtime.Tensor, error) {
	t := h.typ
	if t.big {
		if u := t.swapUnit(); u > 1 {
			for i := 0; i+u <= len(raw); i += u {
				g := raw[i : i+u]
				for a, b := 0, u-1; a < b; a, b = a+1, b-1 {
					g[a], g[b] = g[b], g[a]
				}
			}
		}
	}
	shape := make([]int, len(h.shape))
	for i, d := range h.shape {
		shape[i] = int(d)
	}
	if h.fortran {
		raw = fortranToC(raw, shape, t.size)
	}
	if t.dt == graph.String {
		strs := make([]string, h.count)
		for i := range strs {
			el := raw[i*t.size : (i+1)*t.size]
			if t.kind == 'S' {
				strs[i] = string(bytes.TrimRight(el, "\x00"))
				continue
			}
			var b strings.Builder
			for j := 0; j+4 <= len(el); j += 4 {
				c := binary.LittleEndian.Uint32(el[j:])
				if c == 0 {
					// NumPy pads with NULs; a NUL ends the string.
					break
				}
				if c > utf8.MaxRune || !utf8.ValidRune(rune(c)) {
					return nil, fmt.Errorf("string element %d holds %#x, which is not a Unicode code point", i, c)
				}
				b.WriteRune(rune(c))
			}
			strs[i] = b.String()
		}
		return &runtime.Tensor{DType: graph.String, Shape: shape, Data: strs}, nil
	}
	gt, err := graph.NewTensor("", t.dt, h.shape, raw)
	if err != nil {
		return nil, err
	}
	return runtime.FromGraph(gt)
}

// fortranToC reorders elements of size bytes from column-major to
// row-major order.
func fortranToC(raw []byte, shape []int, size int) []byte {
	r := len(shape)
	n := len(raw) / size
	if r <= 1 || n <= 1 {
		return raw
	}
	out := make([]byte, len(raw))
	fstride := make([]int, r) // element stride of each axis in the file
	s := 1
	for k := range shape {
		fstride[k] = s
		s *= shape[k]
	}
	idx := make([]int, r)
	off := 0
	for c := 0; c < n; c++ {
		copy(out[c*size:(c+1)*size], raw[off*size:(off+1)*size])
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			off += fstride[k]
			if idx[k] < shape[k] {
				break
			}
			off -= fstride[k] * shape[k]
			idx[k] = 0
		}
	}
	return out
}

// parseNpyHeader reads the header dictionary and checks its sizes.
func parseNpyHeader(text string) (*npyHeader, error) {
	p := &pyParser{s: text}
	v, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf(".npy header is not a Python literal: %v", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(".npy header is not a dictionary")
	}
	h := &npyHeader{}
	switch descr := d["descr"].(type) {
	case string:
		if h.typ, err = parseDescr(descr); err != nil {
			return nil, err
		}
	case nil:
		return nil, errors.New(".npy header has no 'descr'")
	default:
		return nil, errors.New("structured dtypes (records with named fields) are not supported")
	}
	switch f := d["fortran_order"].(type) {
	case bool:
		h.fortran = f
	case nil:
		return nil, errors.New(".npy header has no 'fortran_order'")
	default:
		return nil, errors.New(".npy header's 'fortran_order' is not True or False")
	}
	shape, ok := d["shape"].([]any)
	if !ok {
		if d["shape"] == nil {
			return nil, errors.New(".npy header has no 'shape'")
		}
		return nil, errors.New(".npy header's 'shape' is not a tuple")
	}
	if len(shape) > 64 {
		return nil, fmt.Errorf(".npy shape has %d dimensions, more than 64", len(shape))
	}
	h.count = 1
	h.shape = make([]int64, len(shape))
	for i, s := range shape {
		n, ok := s.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf(".npy shape %v: dimension %d is not a size", shape, i)
		}
		h.shape[i] = n
	}
	for _, n := range h.shape {
		if n != 0 && h.count > math.MaxInt64/n {
			return nil, fmt.Errorf(".npy shape %v is too large", h.shape)
		}
		h.count *= n
	}
	if h.count > math.MaxInt64/int64(h.typ.size) {
		return nil, fmt.Errorf(".npy shape %v is too large", h.shape)
	}
	h.bytes = h.count * int64(h.typ.size)
	return h, nil
}

// DecodeNpy reads a .npy file held in memory.
func DecodeNpy(data []byte) (*runtime.Tensor, error) {
	return readNpy(bytes.NewReader(data), int64(len(data)))
}

// ReadNpy reads a .npy file.
func ReadNpy(path string) (*runtime.Tensor, error) {
	f, err := graph.OpenRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t, err := readNpy(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return t, nil
}

// EncodeNpy writes t in .npy format.
func EncodeNpy(w io.Writer, t *runtime.Tensor) error {
	descr, ok := npyDescr(t.DType)
	if !ok {
		return fmt.Errorf("%v tensors have no .npy form (NumPy has no such type)", t.DType)
	}
	if err := checkData(t); err != nil {
		return err
	}
	var raw []byte
	if t.DType == graph.String {
		strs, ok := t.Data.([]string)
		if !ok || len(strs) != t.Len() {
			return fmt.Errorf("string tensor %s: data does not match its shape", t)
		}
		width := 1 // NumPy's narrowest string type
		for _, s := range strs {
			width = max(width, utf8.RuneCountInString(s))
		}
		if int64(width)*4*int64(len(strs)) > 1<<40 {
			return fmt.Errorf("string tensor %s is too large for .npy", t)
		}
		descr += strconv.Itoa(width)
		raw = make([]byte, 4*width*len(strs))
		for i, s := range strs {
			j := 4 * width * i
			for _, c := range s {
				binary.LittleEndian.PutUint32(raw[j:], uint32(c))
				j += 4
			}
		}
	} else {
		gt, err := runtime.ToGraph("", t)
		if err != nil {
			return err
		}
		if raw, err = gt.Raw(); err != nil {
			return err
		}
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		shape = "(" + dims[0] + ",)"
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	// Pad with spaces and end with a newline so the data starts on a
	// 64-byte boundary, as NumPy does.
	major, pre := byte(1), 10
	if len(header)+1+pre > 65535 {
		major, pre = 2, 12
	}
	total := pre + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	buf := make([]byte, pre, pre+len(header))
	copy(buf, npyMagic)
	buf[6] = major
	if major == 1 {
		binary.LittleEndian.PutUint16(buf[8:], uint16(len(header)))
	} else {
		binary.LittleEndian.PutUint32(buf[8:], uint32(len(header)))
	}
	buf = append(buf, header...)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	_, err := w.Write(raw)
	return err
}

// checkData makes sure t's data is a slice holding exactly its elements,
// so encoding never indexes past it.
func checkData(t *runtime.Tensor) error {
	v := reflect.ValueOf(t.Data)
	if v.Kind() != reflect.Slice || v.Len() != t.Len() {
		return fmt.Errorf("tensor %s: data does not match its shape", t)
	}
	return nil
}

// WriteNpy writes t to path as .npy.
func WriteNpy(path string, t *runtime.Tensor) error {
	return WriteAtomic(path, func(w io.Writer) error { return EncodeNpy(w, t) })
}

// WriteAtomic writes a file through write, atomically (graph.WriteAtomic:
// a symbolic link is written through, a FIFO or device directly).
func WriteAtomic(path string, write func(io.Writer) error) error {
	return graph.WriteAtomic(path, write)
}

// pyParser reads the subset of Python literals a .npy header uses:
// dicts, tuples, lists, strings, integers, True, False and None.
type pyParser struct {
	s     string
	i     int
	depth int
}

func (p *pyParser) parse() (any, error) {
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the value", p.rest())
	}
	return v, nil
}

func (p *pyParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 10 {
		r = r[:10] + "..."
	}
	return r
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errors.New("unexpected end")
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 16 {
		return nil, errors.New("nested too deeply")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := map[string]any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return d, nil
			}
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, errors.New("dictionary key is not a string")
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, errors.New("missing ':' in dictionary")
			}
			p.i++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			if _, dup := d[key]; dup {
				return nil, fmt.Errorf("key %q given twice", key)
			}
			d[key] = v
			if err := p.separator('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		list := []any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return list, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			if err := p.separator(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != c {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, errors.New("unterminated string")
		}
		p.i++
		return b.String(), nil
	case c == '-' || c >= '0' && c <= '9':
		j := p.i
		if c == '-' {
			p.i++
		}
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.ParseInt(p.s[j:p.i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q", p.s[j:p.i])
		}
		if p.i < len(p.s) && (p.s[p.i] == 'L' || p.s[p.i] == 'l') {
			p.i++ // Python 2 long, as old NumPy wrote shapes
		}
		return n, nil
	default:
		for _, w := range []struct {
			word string
			v    any
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(p.s[p.i:], w.word) {
				p.i += len(w.word)
				return w.v, nil
			}
		}
		return nil, fmt.Errorf("unexpected %q", p.rest())
	}
}

// separator consumes the ',' between items or stops before end.
func (p *pyParser) separator(end byte) error {
	p.space()
	if p.i >= len(p.s) {
		return errors.New("unexpected end")
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return nil
	case end:
		return nil
	}
	return fmt.Errorf("unexpected %q", p.rest())
}
