// npz_test.go checks .npz archives, TensorProto files, reading by content,
// file-safe names and sample folders.
package tensorio

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

func TestNpzRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var arrays []Named
	for i, x := range sampleTensors() {
		arrays = append(arrays, Named{Name: []string{"x", "serving_default_input_2:0", "a/b"}[i%3] + strings.Repeat("_", i), Tensor: x})
	}
	for _, compress := range []bool{false, true} {
		path := filepath.Join(dir, "a.npz")
		if err := WriteNpz(path, arrays, compress); err != nil {
			t.Fatal(err)
		}
		format, got, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if format != FormatNpz || len(got) != len(arrays) {
			t.Fatalf("compress %v: format %v, %d arrays", compress, format, len(got))
		}
		for i := range got {
			if got[i].Name != arrays[i].Name {
				t.Errorf("array %d named %q, want %q", i, got[i].Name, arrays[i].Name)
			}
			sameTensor(t, got[i].Tensor, arrays[i].Tensor)
		}
	}
	if err := WriteNpz(filepath.Join(dir, "dup.npz"), []Named{arrays[0], arrays[0]}, false); err == nil {
		t.Error("WriteNpz accepted the same name twice")
	}
}

// zipWith builds an archive with one member, letting the test corrupt it.
func zipWith(t *testing.T, name string, method uint16, data []byte, edit func(h *zip.FileHeader)) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: name, Method: method}
	if edit != nil {
		h.CRC32 = crc32.ChecksumIEEE(data)
		h.CompressedSize64 = uint64(len(data))
		h.UncompressedSize64 = uint64(len(data))
		edit(h)
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	} else {
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return b.Bytes()
}

func TestNpzBad(t *testing.T) {
	var npy bytes.Buffer
	EncodeNpy(&npy, &runtime.Tensor{DType: graph.Int32, Shape: []int{4}, Data: []int32{1, 2, 3, 4}})
	good := npy.Bytes()
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"not zip", []byte("PK\x03\x04garbage"), "not a .npz archive"},
		{"bad member", zipWith(t, "x.npy", zip.Store, []byte("hello"), nil), `array "x": not a .npy file`},
		{"crc", zipWith(t, "x.npy", zip.Store, good, func(h *zip.FileHeader) { h.CRC32++ }), "checksum"},
		{"stored size lie", zipWith(t, "x.npy", zip.Store, good, func(h *zip.FileHeader) { h.UncompressedSize64 = 1 << 40 }), "claims"},
		{"deflate bomb", zipWith(t, "x.npy", zip.Deflate, good, func(h *zip.FileHeader) { h.UncompressedSize64 = 1 << 40 }), "more than deflate can expand"},
		{"method", zipWith(t, "x.npy", 12, good, func(h *zip.FileHeader) {}), "compression method 12 is not supported"},
		{"duplicate", func() []byte {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			for range 2 {
				w, _ := zw.Create("x.npy")
				w.Write(good)
			}
			zw.Close()
			return b.Bytes()
		}(), "stored twice"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, "bad.npz")
		if err := os.WriteFile(path, c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadNpz(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	// Members that are not .npy files are not arrays.
	path := filepath.Join(dir, "other.npz")
	os.WriteFile(path, zipWith(t, "notes.txt", zip.Store, []byte("hi"), nil), 0o644)
	if arrays, err := ReadNpz(path); err != nil || len(arrays) != 0 {
		t.Errorf("archive without arrays: %v, %v", arrays, err)
	}
}

func TestPbRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tensors := append(sampleTensors(), runtime.New(graph.BFloat16, 3), &runtime.Tensor{DType: graph.Int4, Shape: []int{3}, Data: []int8{-8, 7, 1}})
	for i, x := range tensors {
		path := filepath.Join(dir, "t.pb")
		if err := WritePb(path, "name:"+x.DType.String(), x); err != nil {
			t.Fatalf("%d %s: %v", i, x, err)
		}
		format, got, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if format != FormatPb || len(got) != 1 || got[0].Name != "name:"+x.DType.String() {
			t.Fatalf("%s: format %v, %v", x, format, got)
		}
		sameTensor(t, got[0].Tensor, x)
	}
	bad := filepath.Join(dir, "bad.pb")
	os.WriteFile(bad, []byte("\xff\xff\xff\xff not a tensor"), 0o644)
	if _, _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), "not a .npy, .npz or TensorProto .pb file") {
		t.Errorf("garbage file: %v", err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing.npy")); err == nil {
		t.Error("missing file read")
	}
	// A TensorProto whose data does not fill its shape says so.
	short, err := graph.NewTensor("x", graph.Float32, []int64{2}, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	short.Dims = []int64{1, 1, 28, 28}
	data, err := graph.EncodeTensor(short)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bad, data, 0o644)
	if _, _, err := ReadFile(bad); err == nil || strings.Contains(err.Error(), "not a .npy") || !strings.Contains(err.Error(), "bad.pb") {
		t.Errorf("a TensorProto whose data is short: %v, want what is wrong with it", err)
	}
}

func TestReadNpyByContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in put.dat")
	WriteNpy(path, sampleTensors()[1])
	format, got, err := ReadFile(path)
	if err != nil || format != FormatNpy || len(got) != 1 || got[0].Name != "in put" {
		t.Fatalf("ReadFile: %v %v %v", format, got, err)
	}
	x, err := ReadTensor(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensor(t, x, sampleTensors()[1])
}

// TestReadDevice refuses a device in one line, before reading from it
// (a link to /dev/urandom named x.npy was read for 2 GiB first).
func TestReadDevice(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Skip(err)
	}
	_, err := ReadTensor(path)
	if err == nil || err.Error() != path+": is a device, not a data file" {
		t.Fatalf("got %v, want the device refused", err)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"StatefulPartitionedCall:0": "StatefulPartitionedCall_0",
		"onnx::Flatten_0":           "onnx__Flatten_0",
		"a/b\\c d":                  "a_b_c_d",
		"ok.name-1_2":               "ok.name-1_2",
		"héllo":                     "h_llo",
		"":                          "_",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	var n Namer
	got := []string{n.Name("a:0"), n.Name("a/0"), n.Name("a_0"), n.Name("A_0"), n.Name("a_0_2"), n.Name("b")}
	want := []string{"a_0", "a_0_2", "a_0_3", "A_0_4", "a_0_2_2", "b"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Namer: got %q, want %q", got, want)
			break
		}
	}
	// Names too long for a file system are cut and told apart by a hash.
	long1, long2 := strings.Repeat("x", 300)+"1", strings.Repeat("x", 300)+"2"
	a, b := n.Name(long1), n.Name(long2)
	if len(a) > 200 || len(b) > 200 || a == b || !strings.HasPrefix(a, strings.Repeat("x", 183)+"_") || n.Name("short") != "short" {
		t.Errorf("long names: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
}

func TestSampleFiles(t *testing.T) {
	root := t.TempDir()
	sample := filepath.Join(root, "sample_000")
	os.Mkdir(sample, 0o755)
	os.WriteFile(filepath.Join(root, "inputs.json"), []byte(`{"serving_default_input_2:0": "serving_default_input_2_0.npy", "evil": "../x.npy"}`), 0o644)
	x := &runtime.Tensor{DType: graph.Float32, Shape: []int{1}, Data: []float32{1}}
	for _, f := range []string{"serving_default_input_2_0.npy", "plain.npy", "onnx__Flatten_0.npy", "state.pb"} {
		if strings.HasSuffix(f, ".pb") {
			WritePb(filepath.Join(sample, f), "", x)
		} else {
			WriteNpy(filepath.Join(sample, f), x)
		}
	}
	WriteNpy(filepath.Join(root, "x.npy"), x)
	names := []string{"serving_default_input_2:0", "plain", "onnx::Flatten_0", "state", "missing"}
	got, err := ReadSample(sample, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:4] {
		if got[name] == nil {
			t.Errorf("input %q not found", name)
		}
	}
	if got["missing"] != nil {
		t.Errorf("read inputs without a file in the folder: %v", got)
	}
	// A mapping that leads outside the folder, or to a file it lacks, is
	// an error that names the mapping.
	if _, err := SampleFiles(sample, append(names, "evil")); err == nil || !strings.Contains(err.Error(), `maps input "evil" to "../x.npy", outside the sample folder`) {
		t.Errorf("a mapping outside the folder: %v", err)
	}
	os.WriteFile(filepath.Join(root, "inputs.json"), []byte(`{"plain": "gone.npy"}`), 0o644)
	if _, err := SampleFiles(sample, names); err == nil || !strings.Contains(err.Error(), `maps input "plain" to "gone.npy", which`) {
		t.Errorf("a mapping to a missing file: %v", err)
	}
	os.Remove(filepath.Join(root, "inputs.json"))
	os.Mkdir(filepath.Join(sample, "missing.npy"), 0o755)
	if _, err := SampleFiles(sample, names); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("a folder named after an input: %v", err)
	}
	os.Remove(filepath.Join(sample, "missing.npy"))
	if _, err := SampleFiles(filepath.Join(sample, "plain.npy"), names); err == nil {
		t.Error("a file was taken for a sample folder")
	}
	os.WriteFile(filepath.Join(root, "inputs.json"), []byte(`[1]`), 0o644)
	if _, err := SampleFiles(sample, names); err == nil || !strings.Contains(err.Error(), "inputs.json") {
		t.Errorf("bad inputs.json: %v", err)
	}
}

// An input name holding a path separator reads the file of its safe
// name, never the file its path would lead to: "/b" is not b.npy (the
// file of input "b"), and "../x" is no file outside the folder.
func TestSampleFilesPathNames(t *testing.T) {
	root := t.TempDir()
	sample := filepath.Join(root, "sample_000")
	os.Mkdir(sample, 0o755)
	x := &runtime.Tensor{DType: graph.Float32, Shape: []int{1}, Data: []float32{1}}
	for _, f := range []string{filepath.Join(sample, "b.npy"), filepath.Join(sample, "_b.npy"), filepath.Join(root, "escape.npy")} {
		if err := WriteNpy(f, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := SampleFiles(sample, []string{"b", "/b", "../escape"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b": filepath.Join(sample, "b.npy"), "/b": filepath.Join(sample, "_b.npy")}
	if !maps.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// Members named NAME.NPY, or holding .npy data under another name, are
// arrays too; other members are skipped.
func TestNpzMemberNames(t *testing.T) {
	x := &runtime.Tensor{DType: graph.Float32, Shape: []int{2}, Data: []float32{1, 2}}
	var npy bytes.Buffer
	if err := EncodeNpy(&npy, x); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.npz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, data := range map[string][]byte{"upper.NPY": npy.Bytes(), "bare": npy.Bytes(), "readme": []byte("not an array")} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	f.Close()
	arrays, err := ReadNpz(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range arrays {
		got[a.Name] = true
	}
	if len(arrays) != 2 || !got["upper"] || !got["bare"] {
		t.Errorf("arrays %v, want upper and bare", got)
	}
}

// An array of pickled objects beside the one wanted is passed over when
// accept leaves it out by name; asked for, it is an error.
func TestNpzSkipsUnreadableArray(t *testing.T) {
	path := filepath.Join(t.TempDir(), "obj.npz")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	header := "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
	header += strings.Repeat(" ", 128-10-len(header)-1) + "\n" // 118 bytes
	w, _ := zw.Create("a.npy")
	w.Write(append([]byte("\x93NUMPY\x01\x00\x76\x00"+header), 0x80, 0x04))
	w, _ = zw.Create("x.npy")
	var x bytes.Buffer
	if err := EncodeNpy(&x, runtime.FromFloat32([]int{2}, []float32{1, 2})); err != nil {
		t.Fatal(err)
	}
	w.Write(x.Bytes())
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	only := func(want string) func(string, graph.DType, []int) error {
		return func(name string, dt graph.DType, shape []int) error {
			if name != want {
				return SkipArray
			}
			return nil
		}
	}
	got, err := ReadNpzChecked(path, only("x"))
	if err != nil || len(got) != 1 || got[0].Name != "x" {
		t.Fatalf("reading x: %v, %v", got, err)
	}
	if _, err := ReadNpzChecked(path, only("a")); err == nil || !strings.Contains(err.Error(), "pickled Python objects") {
		t.Fatalf("reading a: %v", err)
	}
}
