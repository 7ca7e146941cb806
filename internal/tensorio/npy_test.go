// npy_test.go checks .npy reading and writing: every element type round
// trips, hand-made files in the forms NumPy writes (big-endian, Fortran
// order, versions 2.0 and 3.0, Python 2 shapes) read correctly, and bad
// files give clear errors.
package tensorio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
	"github.com/x448/float16"
)

// npyFile assembles a .npy file from a header dictionary and data.
func npyFile(major byte, header string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(npyMagic)
	b.WriteByte(major)
	b.WriteByte(0)
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(header)))
	}
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

// sampleTensors has one small tensor of every type .npy can hold.
func sampleTensors() []*runtime.Tensor {
	return []*runtime.Tensor{
		{DType: graph.Float32, Shape: []int{2, 3}, Data: []float32{1, -2.5, float32(math.Inf(1)), 0, 3e-38, float32(math.NaN())}},
		{DType: graph.Float64, Shape: []int{3}, Data: []float64{1e300, math.Copysign(0, -1), 42}},
		{DType: graph.Float16, Shape: []int{2}, Data: []float16.Float16{float16.Fromfloat32(1.5), float16.Fromfloat32(-65504)}},
		{DType: graph.Int8, Shape: []int{2, 2}, Data: []int8{-128, 127, 0, -1}},
		{DType: graph.Int16, Shape: []int{2}, Data: []int16{-32768, 32767}},
		{DType: graph.Int32, Shape: []int{1, 1, 2}, Data: []int32{math.MinInt32, 7}},
		{DType: graph.Int64, Shape: []int{}, Data: []int64{16000}},
		{DType: graph.Uint8, Shape: []int{3}, Data: []uint8{0, 128, 255}},
		{DType: graph.Uint16, Shape: []int{1}, Data: []uint16{65535}},
		{DType: graph.Uint32, Shape: []int{2}, Data: []uint32{1, math.MaxUint32}},
		{DType: graph.Uint64, Shape: []int{1}, Data: []uint64{math.MaxUint64}},
		{DType: graph.Bool, Shape: []int{2, 2}, Data: []bool{true, false, false, true}},
		{DType: graph.Complex64, Shape: []int{1}, Data: []complex64{complex(1, -2)}},
		{DType: graph.Complex128, Shape: []int{2}, Data: []complex128{complex(3, 4), complex(-1, 0.5)}},
		{DType: graph.String, Shape: []int{3}, Data: []string{"", "héllo", "日本語 text"}},
		{DType: graph.Float32, Shape: []int{0, 4}, Data: []float32{}},
	}
}

// sameTensor compares type, shape and data, with NaN equal to NaN.
func sameTensor(t *testing.T, got, want *runtime.Tensor) {
	t.Helper()
	if got.DType != want.DType || !reflect.DeepEqual(append([]int{}, got.Shape...), append([]int{}, want.Shape...)) {
		t.Fatalf("got %s, want %s", got, want)
	}
	if g, ok := got.Data.([]float32); ok {
		w := want.Data.([]float32)
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Fatalf("%s: element %d is %v, want %v", want, i, g[i], w[i])
			}
		}
		return
	}
	if g, ok := got.Data.([]float64); ok {
		w := want.Data.([]float64)
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
				t.Fatalf("%s: element %d is %v, want %v", want, i, g[i], w[i])
			}
		}
		return
	}
	if !reflect.DeepEqual(got.Data, want.Data) {
		t.Fatalf("%s: data %v, want %v", want, got.Data, want.Data)
	}
}

func TestNpyRoundTrip(t *testing.T) {
	for _, want := range sampleTensors() {
		var b bytes.Buffer
		if err := EncodeNpy(&b, want); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		data := b.Bytes()
		hlen := int(binary.LittleEndian.Uint16(data[8:]))
		if (10+hlen)%64 != 0 || data[10+hlen-1] != '\n' {
			t.Errorf("%s: header of %d bytes does not end on a 64-byte boundary with a newline", want, hlen)
		}
		got, err := DecodeNpy(data)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		sameTensor(t, got, want)
	}
}

func TestNpyHeaderText(t *testing.T) {
	cases := []struct {
		t    *runtime.Tensor
		want string
	}{
		{&runtime.Tensor{DType: graph.Float32, Shape: []int{1, 3}, Data: make([]float32, 3)}, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }"},
		{&runtime.Tensor{DType: graph.Int64, Shape: []int{}, Data: []int64{1}}, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"},
		{&runtime.Tensor{DType: graph.Uint8, Shape: []int{5}, Data: make([]uint8, 5)}, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"},
		{&runtime.Tensor{DType: graph.Bool, Shape: []int{1}, Data: make([]bool, 1)}, "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }"},
		{&runtime.Tensor{DType: graph.String, Shape: []int{2}, Data: []string{"ab", ""}}, "{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := EncodeNpy(&b, c.t); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b.Bytes()[10:], []byte(c.want+" ")) {
			t.Errorf("%s: header %q, want %q", c.t, b.Bytes()[10:10+len(c.want)], c.want)
		}
	}
}

func TestEncodeBadData(t *testing.T) {
	for _, x := range []*runtime.Tensor{
		{DType: graph.Float32, Shape: []int{3}, Data: []float32{1, 2}},
		{DType: graph.Float32, Shape: []int{1}, Data: []float32{1, 2}},
		{DType: graph.Int64, Shape: []int{1}, Data: nil},
	} {
		if err := EncodeNpy(&bytes.Buffer{}, x); err == nil || !strings.Contains(err.Error(), "does not match its shape") {
			t.Errorf("EncodeNpy(%s with data %v): %v", x, x.Data, err)
		}
		if err := WritePb(filepath.Join(t.TempDir(), "x.pb"), "x", x); err == nil {
			t.Errorf("WritePb(%s) accepted mismatched data", x)
		}
	}
}

func TestNpyNoNumpyType(t *testing.T) {
	for _, dt := range []graph.DType{graph.BFloat16, graph.Int4, graph.Float8E4M3FN} {
		err := EncodeNpy(&bytes.Buffer{}, runtime.New(dt, 2))
		if err == nil || !strings.Contains(err.Error(), "no .npy form") {
			t.Errorf("%v: err %v", dt, err)
		}
		if NpyWritable(dt) {
			t.Errorf("NpyWritable(%v) = true", dt)
		}
	}
}

func le32(vals ...uint32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func be(vals []uint64, size int) []byte {
	b := make([]byte, size*len(vals))
	for i, v := range vals {
		for j := range size {
			b[i*size+j] = byte(v >> (8 * (size - 1 - j)))
		}
	}
	return b
}

// TestNpyForms reads files in the forms NumPy writes besides the default.
func TestNpyForms(t *testing.T) {
	f32 := func(v float32) uint64 { return uint64(math.Float32bits(v)) }
	cases := []struct {
		name string
		file []byte
		want *runtime.Tensor
	}{
		{"big-endian float32", npyFile(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be([]uint64{f32(1.5), f32(-2)}, 4)),
			&runtime.Tensor{DType: graph.Float32, Shape: []int{2}, Data: []float32{1.5, -2}}},
		{"big-endian int64", npyFile(1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }\n", be([]uint64{1, math.MaxUint64}, 8)),
			&runtime.Tensor{DType: graph.Int64, Shape: []int{2}, Data: []int64{1, -1}}},
		{"big-endian uint16", npyFile(1, "{'descr': '>u2', 'fortran_order': False, 'shape': (1,), }\n", be([]uint64{0x1234}, 2)),
			&runtime.Tensor{DType: graph.Uint16, Shape: []int{1}, Data: []uint16{0x1234}}},
		{"big-endian complex64", npyFile(1, "{'descr': '>c8', 'fortran_order': False, 'shape': (1,), }\n", be([]uint64{f32(1), f32(-3)}, 4)),
			&runtime.Tensor{DType: graph.Complex64, Shape: []int{1}, Data: []complex64{complex(1, -3)}}},
		{"big-endian unicode", npyFile(1, "{'descr': '>U2', 'fortran_order': False, 'shape': (2,), }\n", be([]uint64{'h', 'i', 'é', 0}, 4)),
			&runtime.Tensor{DType: graph.String, Shape: []int{2}, Data: []string{"hi", "é"}}},
		{"bytes strings", npyFile(1, "{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }\n", []byte("abcd\x00\x00")),
			&runtime.Tensor{DType: graph.String, Shape: []int{2}, Data: []string{"abc", "d"}}},
		{"fortran 2x3", npyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n",
			le32(math.Float32bits(0), math.Float32bits(3), math.Float32bits(1), math.Float32bits(4), math.Float32bits(2), math.Float32bits(5))),
			&runtime.Tensor{DType: graph.Float32, Shape: []int{2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}},
		{"fortran 1-d", npyFile(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (3,), }\n", le32(7, 8, 9)),
			&runtime.Tensor{DType: graph.Int32, Shape: []int{3}, Data: []int32{7, 8, 9}}},
		{"version 2.0", npyFile(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", le32(5, 6)),
			&runtime.Tensor{DType: graph.Int32, Shape: []int{2}, Data: []int32{5, 6}}},
		{"version 3.0", npyFile(3, "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), 'note': '\u00e9'}\n", le32(9)),
			&runtime.Tensor{DType: graph.Uint32, Shape: []int{1}, Data: []uint32{9}}},
		{"python 2 shape", npyFile(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1L, 2L), }\n", le32(1, 2)),
			&runtime.Tensor{DType: graph.Int32, Shape: []int{1, 2}, Data: []int32{1, 2}}},
		{"key order, quotes, no order char", npyFile(1, `{"shape": [2], "fortran_order": False, "descr": "u1"}`, []byte{3, 4}),
			&runtime.Tensor{DType: graph.Uint8, Shape: []int{2}, Data: []uint8{3, 4}}},
		{"bool non-zero", npyFile(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }\n", []byte{0, 2}),
			&runtime.Tensor{DType: graph.Bool, Shape: []int{2}, Data: []bool{false, true}}},
		{"empty with large dims", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904), }\n", nil),
			&runtime.Tensor{DType: graph.Float64, Shape: []int{0, 4611686018427387904}, Data: []float64{}}},
	}
	for _, c := range cases {
		got, err := DecodeNpy(c.file)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		sameTensor(t, got, c.want)
	}
}

// TestNpyFortran3D checks the transposition on three axes against the
// column-major index formula.
func TestNpyFortran3D(t *testing.T) {
	d0, d1, d2 := 2, 3, 4
	data := make([]uint32, d0*d1*d2)
	for i := range d0 {
		for j := range d1 {
			for k := range d2 {
				data[i+d0*(j+d1*k)] = uint32(100*i + 10*j + k)
			}
		}
	}
	got, err := DecodeNpy(npyFile(1, "{'descr': '<u4', 'fortran_order': True, 'shape': (2, 3, 4), }", le32(data...)))
	if err != nil {
		t.Fatal(err)
	}
	g := got.Data.([]uint32)
	for i := range d0 {
		for j := range d1 {
			for k := range d2 {
				if v := g[(i*d1+j)*d2+k]; v != uint32(100*i+10*j+k) {
					t.Fatalf("[%d,%d,%d] = %d", i, j, k, v)
				}
			}
		}
	}
}

func TestNpyBadFiles(t *testing.T) {
	hdr := func(h string) []byte { return npyFile(1, h, le32(1, 2)) }
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"not npy", []byte("PK\x03\x04 this is a zip file"), "no \\x93NUMPY magic"},
		{"version 4", npyFile(4, "{}", nil), "version 4.0 is not supported"},
		{"header past end", append([]byte(npyMagic+"\x01\x00"), 0xff, 0x7f, '{'), "runs past the end"},
		{"huge header v2", append([]byte(npyMagic+"\x02\x00"), 0xff, 0xff, 0xff, 0x7f), "too large"},
		{"not a dict", hdr("[1, 2]"), "not a dictionary"},
		{"not a literal", hdr("{'descr': <f4}"), "not a Python literal"},
		{"unterminated", hdr("{'descr': '<f4"), "unterminated string"},
		{"no descr", hdr("{'fortran_order': False, 'shape': (2,)}"), "no 'descr'"},
		{"no shape", hdr("{'descr': '<i4', 'fortran_order': False}"), "no 'shape'"},
		{"no fortran_order", hdr("{'descr': '<i4', 'shape': (2,)}"), "no 'fortran_order'"},
		{"shape not tuple", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': 2}"), "not a tuple"},
		{"negative dim", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (-2,)}"), "not a size"},
		{"string dim", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': ('2',)}"), "not a size"},
		{"overflow", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"), "too large"},
		{"bytes overflow", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}"), "too large"},
		{"truncated data", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}"), "truncated: int32[3] needs 12 bytes, the file has 8"},
		{"huge shape", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100)}"), "truncated"},
		{"trailing data", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}"), "4 bytes after the data"},
		{"structured", hdr("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,)}"), "structured dtypes"},
		{"object", hdr("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), "pickled Python objects"},
		{"datetime", hdr("{'descr': '<M8', 'fortran_order': False, 'shape': (1,)}"), "dates and times"},
		{"float128", hdr("{'descr': '<f16', 'fortran_order': False, 'shape': (1,)}"), "dtype \"<f16\" is not supported"},
		{"void", hdr("{'descr': '|V8', 'fortran_order': False, 'shape': (1,)}"), "not supported"},
		{"fortran not bool", hdr("{'descr': '<i4', 'fortran_order': 0, 'shape': (2,)}"), "not True or False"},
		{"duplicate key", hdr("{'descr': '<i4', 'descr': '<i4'}"), "given twice"},
		{"bad code point", npyFile(1, "{'descr': '<U1', 'fortran_order': False, 'shape': (1,)}", le32(0xD800)), "not a Unicode code point"},
		{"too many dims", hdr("{'descr': '<i4', 'fortran_order': False, 'shape': (" + strings.Repeat("1,", 65) + ")}"), "more than 64"},
		{"deep nesting", hdr(strings.Repeat("(", 100)), "nested too deeply"},
		{"bad utf-8 v3", npyFile(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,)} \xff", le32(1, 2)), "not valid UTF-8"},
	}
	for _, c := range cases {
		_, err := DecodeNpy(c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestReadWriteNpyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	want := sampleTensors()[0]
	if err := WriteNpy(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNpy(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensor(t, got, want)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d files, want 1", len(entries))
	}
	// A failed write leaves nothing behind.
	if err := WriteNpy(filepath.Join(dir, "y.npy"), runtime.New(graph.BFloat16, 1)); err == nil {
		t.Error("writing bfloat16 as .npy succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed write left files: %v", entries)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.npy"), []byte("\x93NUMPY\x01\x00\x05\x00{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadNpy(filepath.Join(dir, "bad.npy")); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "bad.npy")+": ") {
		t.Errorf("error does not name the file: %v", err)
	}
}

// TestSharedData reads the real .npy inputs beside the repository, when
// present.
func TestSharedData(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/*/sample_000/*.npy")
	if len(files) == 0 {
		t.Skip("no ../shared/data")
	}
	for _, f := range files {
		x, err := ReadNpy(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if x.Len() == 0 || x.DType != graph.Float32 && x.DType != graph.Int64 {
			t.Errorf("%s: %s", f, x)
		}
	}
}

func FuzzDecodeNpy(f *testing.F) {
	for _, x := range sampleTensors() {
		var b bytes.Buffer
		if err := EncodeNpy(&b, x); err == nil {
			f.Add(b.Bytes())
		}
	}
	f.Add(npyFile(1, "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }", make([]byte, 16)))
	f.Add(npyFile(3, "{'descr': '<U2', 'fortran_order': True, 'shape': (1, 2), }", make([]byte, 16)))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := DecodeNpy(data)
		if err != nil {
			return
		}
		// What reads must write back and read again the same.
		var b bytes.Buffer
		if err := EncodeNpy(&b, x); err != nil {
			t.Fatalf("%s read but does not write: %v", x, err)
		}
		y, err := DecodeNpy(b.Bytes())
		if err != nil {
			t.Fatalf("%s written but does not read: %v", x, err)
		}
		if x.String() != y.String() {
			t.Fatalf("round trip changed %s to %s", x, y)
		}
	})
}
