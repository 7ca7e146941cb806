package graph_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// externalModel builds a model with tensors below and above a 1 KiB
// threshold; the large ones have sizes that are not page multiples, so
// alignment padding is needed between them.
func externalModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 3000)
	add := func(name string, n int64) *graph.Value {
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(i%251) - float32(len(name))
		}
		return b.Const(graph.FromFloat32s(name, []int64{n}, vals))
	}
	big1 := add("big1", 3000) // 12000 bytes
	small := add("small", 3)  // 12 bytes: stays inline
	big2 := add("big2", 1025) // 4100 bytes
	mid := add("mid", 300)    // 1200 bytes: external, under a page
	big3 := add("big3", 3000) // after an unaligned tensor
	y := b.Op("Add", x, big1)
	y = b.Op("Add", y, big3)
	y = b.Op("Mul", y, b.Op("ReduceSum", big2))
	y = b.Op("Mul", y, b.Op("ReduceSum", mid))
	b.Output(b.Op("Mul", y, b.Op("ReduceSum", small)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func rawOf(t *testing.T, m *graph.Model, name string) []byte {
	t.Helper()
	v := m.Graph.Value(name)
	if v == nil || v.Const == nil {
		t.Fatalf("no initializer %q", name)
	}
	raw, err := v.Const.Raw()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSaveExternalData(t *testing.T) {
	m := externalModel(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	// Asked for less, tensors under MinExternalBytes stay in the file all
	// the same: ONNX Runtime reads small constants there.
	const threshold = graph.MinExternalBytes
	if err := graph.Save(m, path, graph.SaveOptions{ExternalDataThreshold: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := listDir(t, dir), []string{"model.onnx", "model.onnx.data"}; !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}

	// The model file keeps only the small tensor's data.
	modelBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(modelBytes) > 2048 {
		t.Errorf("model file is %d bytes; its large tensors were not moved out", len(modelBytes))
	}

	// Each large tensor is external; those of a page or more start on a
	// page boundary (so they can be mapped), and ranges do not overlap.
	p := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(modelBytes, p); err != nil {
		t.Fatal(err)
	}
	dataSize := fileSize(t, filepath.Join(dir, "model.onnx.data"))
	end := int64(0)
	for _, tp := range p.GetGraph().GetInitializer() {
		size := int64(len(tp.GetRawData()))
		external := tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL
		kv := map[string]string{}
		for _, e := range tp.GetExternalData() {
			kv[e.GetKey()] = e.GetValue()
		}
		off, _ := strconv.ParseInt(kv["offset"], 10, 64)
		length, _ := strconv.ParseInt(kv["length"], 10, 64)
		if external {
			size = length
		}
		if external != (size >= threshold) {
			t.Errorf("%s (%d bytes): external = %v with threshold %d", tp.GetName(), size, external, threshold)
		}
		if !external {
			continue
		}
		if kv["location"] != "model.onnx.data" {
			t.Errorf("%s: location %q", tp.GetName(), kv["location"])
		}
		if length >= 4096 && off%4096 != 0 {
			t.Errorf("%s: offset %d is not 4096-aligned", tp.GetName(), off)
		}
		if off < end || off+length > dataSize {
			t.Errorf("%s: range [%d,%d) overlaps the previous tensor (end %d) or passes the file end (%d)", tp.GetName(), off, off+length, end, dataSize)
		}
		end = off + length
	}

	// Loading gives the same tensor bytes, and the same inline model.
	back, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"big1", "small", "big2", "mid", "big3"} {
		if !bytes.Equal(rawOf(t, back, name), rawOf(t, m, name)) {
			t.Errorf("%s: data differs after reload", name)
		}
		if ext := back.Graph.Value(name).Const.External(); ext != (name != "small") {
			t.Errorf("%s: External() = %v", name, ext)
		}
	}
	want, err := graph.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := graph.Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the reloaded model encodes differently from the original")
	}

	// Saving the reloaded model the same way writes the same two files.
	dir2 := t.TempDir()
	path2 := filepath.Join(dir2, "model.onnx")
	if err := graph.Save(back, path2, graph.SaveOptions{ExternalDataThreshold: threshold}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model.onnx", "model.onnx.data"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs when saved again", name)
		}
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestSaveExternalDataName(t *testing.T) {
	m := externalModel(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := graph.Save(m, path, graph.SaveOptions{ExternalDataThreshold: 1024, ExternalDataName: "weights.bin"}); err != nil {
		t.Fatal(err)
	}
	if got, want := listDir(t, dir), []string{"m.onnx", "weights.bin"}; !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
	if _, err := graph.Load(path); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../weights.bin", "sub/weights.bin", "/tmp/weights.bin"} {
		err := graph.Save(m, filepath.Join(dir, "other.onnx"), graph.SaveOptions{ExternalDataThreshold: 1024, ExternalDataName: bad})
		if err == nil || !strings.Contains(err.Error(), "plain file name") {
			t.Errorf("data name %q: error %v", bad, err)
		}
	}
	err := graph.Save(m, filepath.Join(dir, "other.onnx"), graph.SaveOptions{ExternalDataThreshold: 1024, ExternalDataName: "other.onnx"})
	if err == nil || !strings.Contains(err.Error(), "own name") {
		t.Errorf("data named like the model: error %v", err)
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("refused saves left files: %v", got)
	}
}

// TestSaveFailureLeavesNoFiles makes saves fail in several ways and checks
// that no model, data or temporary file is left behind.
func TestSaveFailureLeavesNoFiles(t *testing.T) {
	m := externalModel(t)
	opts := graph.SaveOptions{ExternalDataThreshold: 1024}

	t.Run("model path is a folder", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.onnx")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, o := range []graph.SaveOptions{{}, opts} {
			if err := graph.Save(m, path, o); err == nil {
				t.Fatal("saving over a folder succeeded")
			}
			if got := listDir(t, dir); !slices.Equal(got, []string{"model.onnx"}) {
				t.Errorf("failed save (threshold %d) left %v", o.ExternalDataThreshold, got)
			}
		}
	})
	t.Run("data path is a folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "model.onnx.data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := graph.Save(m, filepath.Join(dir, "model.onnx"), opts); err == nil {
			t.Fatal("saving data over a folder succeeded")
		}
		if got := listDir(t, dir); !slices.Equal(got, []string{"model.onnx.data"}) {
			t.Errorf("failed save left %v", got)
		}
	})
	t.Run("folder missing", func(t *testing.T) {
		dir := t.TempDir()
		if err := graph.Save(m, filepath.Join(dir, "absent", "model.onnx"), opts); err == nil {
			t.Fatal("saving into a missing folder succeeded")
		}
		if got := listDir(t, dir); len(got) != 0 {
			t.Errorf("failed save left %v", got)
		}
	})
	t.Run("folder read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes into read-only folders")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		if err := graph.Save(m, filepath.Join(dir, "model.onnx"), opts); err == nil {
			t.Fatal("saving into a read-only folder succeeded")
		}
		if got := listDir(t, dir); len(got) != 0 {
			t.Errorf("failed save left %v", got)
		}
	})
}

// TestEncodeOver2GiB reaches the error for a model over protobuf's 2 GiB
// limit without allocating 2 GiB: 33 initializers share one 64 MiB buffer,
// and the size is checked before anything is serialized.
func TestEncodeOver2GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 64 MiB")
	}
	shared := make([]byte, 64<<20)
	g := graph.NewGraph("huge")
	for i := range 33 {
		tensor, err := graph.NewTensor("w"+strconv.Itoa(i), graph.Uint8, []int64{int64(len(shared))}, shared)
		if err != nil {
			t.Fatal(err)
		}
		v, err := g.AddInitializer(tensor)
		if err != nil {
			t.Fatal(err)
		}
		g.AddOutput(v)
	}
	m := graph.NewModel(g, 17)
	_, err := graph.Encode(m)
	if err == nil || !strings.Contains(err.Error(), "2 GiB") || !strings.Contains(err.Error(), "external data") {
		t.Fatalf("Encode of a 2.1 GiB model: %v; want an error about the 2 GiB limit suggesting external data", err)
	}
	dir := t.TempDir()
	if err := graph.Save(m, filepath.Join(dir, "huge.onnx"), graph.SaveOptions{}); err == nil {
		t.Fatal("Save of a 2.1 GiB model without external data succeeded")
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("failed save left %v", got)
	}
}

// saveLimitEnv makes the test binary save a model under a small file size
// limit and exit: 0 when Save fails as it should, 3 when it succeeds.
const saveLimitEnv = "ONNXQ_SAVE_FSIZE_LIMIT"

// saveUnderFileSizeLimit saves a 400 KB model into dir, inline and with
// external data, while writes past 64 KiB fail (EFBIG), so the failure
// comes in the middle of writing a file.
func saveUnderFileSizeLimit(dir string) int {
	g := graph.NewGraph("big")
	for i := range 4 {
		tensor, err := graph.FromFloat32s("w"+strconv.Itoa(i), []int64{25000}, make([]float32, 25000))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		v, err := g.AddInitializer(tensor)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		g.AddOutput(v)
	}
	m := graph.NewModel(g, 17)
	signal.Ignore(syscall.SIGXFSZ)
	lim := syscall.Rlimit{}
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	lim.Cur = 64 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, opts := range []graph.SaveOptions{{}, {ExternalDataThreshold: 1024}} {
		err := graph.Save(m, filepath.Join(dir, "model.onnx"), opts)
		if err == nil {
			return 3
		}
		fmt.Println(err)
	}
	return 0
}

// TestSaveWriteFailureLeavesNoFiles makes writes fail part-way (a file
// size limit, in a child process) and checks nothing is left behind.
func TestSaveWriteFailureLeavesNoFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), saveLimitEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
		t.Fatalf("Save succeeded past the file size limit")
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "file too large") {
		t.Errorf("errors do not name the cause:\n%s", out)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("failed saves left %v", got)
	}
}
