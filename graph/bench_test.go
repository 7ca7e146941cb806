package graph_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// peakLoadEnv makes the test binary load one model and exit, so a parent
// can read the peak memory of loading from the child's resource usage.
const peakLoadEnv = "ONNXQ_PEAK_LOAD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(saveLimitEnv); dir != "" {
		os.Exit(saveUnderFileSizeLimit(dir))
	}
	if path := os.Getenv(peakLoadEnv); path != "" {
		if _, err := graph.Load(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if hwm, ok := highWaterRSS(); ok {
			fmt.Printf("%s %d\n", peakRSSLine, hwm)
		}
		os.Exit(0)
	}
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// largestSharedModel returns the biggest model in ../../shared/models, or
// "" when there is none.
func largestSharedModel() string {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "models", "*.onnx"))
	best, size := "", int64(-1)
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size {
			best, size = f, st.Size()
		}
	}
	return best
}

var (
	bigOnce sync.Once
	bigDir  string // removed by TestMain
	bigPath string
	bigErr  error
)

// bigModel writes the ~200 MB benchmark model once per test binary run.
func bigModel(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "onnxq-bench")
		if bigErr != nil {
			return
		}
		var data []byte
		if data, bigErr = bigModelBytes(); bigErr != nil {
			return
		}
		bigPath = filepath.Join(bigDir, "big.onnx")
		bigErr = os.WriteFile(bigPath, data, 0o644)
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

// bigModelBytes builds a ~200 MB model: four 3x3 Convs (weights in
// float_data) over a [1,64,16,16] image, Flatten, a [16384,1024] MatMul,
// then 32 [1024,1024] MatMul+Add layers (weights in raw_data, biases in
// float_data).
func bigModelBytes() ([]byte, error) {
	str := func(s string) *string { return &s }
	i64 := func(v int64) *int64 { return &v }
	f32 := int32(onnxpb.TensorProto_FLOAT)
	seed := uint32(1)
	vals := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			seed = seed*1664525 + 1013904223
			out[i] = float32(int32(seed>>8)-1<<23) / (1 << 30)
		}
		return out
	}
	raw := func(name string, dims []int64) *onnxpb.TensorProto {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		buf := make([]byte, 4*n)
		for i, v := range vals(n) {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		return &onnxpb.TensorProto{Name: str(name), DataType: &f32, Dims: dims, RawData: buf}
	}
	typed := func(name string, dims []int64) *onnxpb.TensorProto {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		return &onnxpb.TensorProto{Name: str(name), DataType: &f32, Dims: dims, FloatData: vals(n)}
	}
	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		shape := &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: str(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: &f32, Shape: shape}}}}
	}
	g := &onnxpb.GraphProto{Name: str("big"), Input: []*onnxpb.ValueInfoProto{vi("image", 1, 64, 16, 16)}}
	node := func(op, name string, in ...string) string {
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: str(op), Name: str(name), Input: in, Output: []string{name}})
		return name
	}
	x := "image"
	for i := range 4 {
		w, bias := fmt.Sprintf("conv%d.weight", i), fmt.Sprintf("conv%d.bias", i)
		g.Initializer = append(g.Initializer, typed(w, []int64{64, 64, 3, 3}), typed(bias, []int64{64}))
		x = node("Conv", fmt.Sprintf("conv%d", i), x, w, bias)
		n := g.Node[len(g.Node)-1]
		it := onnxpb.AttributeProto_INTS
		n.Attribute = []*onnxpb.AttributeProto{{Name: str("pads"), Type: &it, Ints: []int64{1, 1, 1, 1}}}
		x = node("Relu", fmt.Sprintf("relu%d", i), x)
	}
	x = node("Flatten", "flatten", x)
	g.Initializer = append(g.Initializer, raw("fc0.weight", []int64{16384, 1024}))
	x = node("MatMul", "fc0", x, "fc0.weight")
	for i := 1; i <= 32; i++ {
		w, bias := fmt.Sprintf("fc%d.weight", i), fmt.Sprintf("fc%d.bias", i)
		g.Initializer = append(g.Initializer, raw(w, []int64{1024, 1024}), typed(bias, []int64{1024}))
		x = node("MatMul", fmt.Sprintf("fc%d", i), x, w)
		x = node("Add", fmt.Sprintf("fc%d_bias", i), x, bias)
	}
	g.Output = []*onnxpb.ValueInfoProto{vi(x, 1, 1024)}
	p := &onnxpb.ModelProto{
		IrVersion:    i64(8),
		ProducerName: str("onnxq-bench"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: str(""), Version: i64(17)}},
		Graph:        g,
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

// dirSize is the total size of the files in a folder.
func dirSize(b *testing.B, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
	}
	return total
}

// benchModels lists the models load/save is measured on.
func benchModels(b *testing.B) map[string]string {
	models := map[string]string{"generated200MB": bigModel(b)}
	if shared := largestSharedModel(); shared != "" {
		models["shared/"+filepath.Base(shared)] = shared
	}
	return models
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BenchmarkLoadSave measures Load, Save and both in a row, in bytes of
// the model file per second.
//
//	go test ./graph -run '^$' -bench LoadSave -benchtime 5x
func BenchmarkLoadSave(b *testing.B) {
	models := benchModels(b)
	for _, name := range sortedKeys(models) {
		path := models[name]
		size := fileSize(b, path)
		out := filepath.Join(b.TempDir(), "out.onnx")
		b.Run(name+"/Load", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := graph.Load(path); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Save", func(b *testing.B) {
			m, err := graph.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			for b.Loop() {
				if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/LoadSave", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				m, err := graph.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// externalThreshold is the size from which the external-data benchmarks
// move a tensor out of the model file.
const externalThreshold = 1024

// bigExternal saves the big model with external data into its own folder.
func bigExternal(b *testing.B) string {
	m, err := graph.Load(bigModel(b))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "big_ext.onnx")
	if err := graph.Save(m, path, graph.SaveOptions{ExternalDataThreshold: externalThreshold}); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLoadSaveExternal measures saving the big model with its
// tensors in an external data file, and loading that back.
//
//	go test ./graph -run '^$' -bench LoadSaveExternal -benchtime 5x
func BenchmarkLoadSaveExternal(b *testing.B) {
	src := bigModel(b)
	size := fileSize(b, src)
	b.Run("Save", func(b *testing.B) {
		m, err := graph.Load(src)
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(b.TempDir(), "out.onnx")
		b.SetBytes(size)
		for b.Loop() {
			if err := graph.Save(m, out, graph.SaveOptions{ExternalDataThreshold: externalThreshold}); err != nil {
				b.Fatal(err)
			}
		}
	})
	path := bigExternal(b)
	b.Run("Load", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := graph.Load(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LoadSave", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "out.onnx")
		b.SetBytes(size)
		for b.Loop() {
			m, err := graph.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := graph.Save(m, out, graph.SaveOptions{ExternalDataThreshold: externalThreshold}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// peakRSSLine starts the child's report of its peak resident memory.
const peakRSSLine = "peak-rss-bytes"

// highWaterRSS reads the peak resident memory of this process's address
// space (VmHWM, Linux).
func highWaterRSS() (int64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// peakLoad loads path in a child process and returns its peak resident
// memory in bytes.
//
// The child's rusage Maxrss is not used when the child reports VmHWM:
// os/exec starts children with vfork, and at exec Linux carries the
// parent's peak (here: the benchmark that built a 200 MB model) into the
// child's Maxrss. VmHWM belongs to the child's own address space.
func peakLoad(b *testing.B, path string) int64 {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peakLoadEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("loading %s in a child process: %v\n%s", path, err, stderr.Bytes())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, peakRSSLine+" "); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil {
				return n
			}
		}
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Skip("no resource usage on this system")
	}
	return int64(ru.Maxrss) * 1024 // kilobytes on Linux
}

// BenchmarkPeakLoad reports the peak resident memory of loading the big
// model (inline data, and external data) as a multiple of the data size.
// The target is below 2.5.
//
//	go test ./graph -run '^$' -bench PeakLoad -benchtime 1x
func BenchmarkPeakLoad(b *testing.B) {
	inline := bigModel(b)
	ext := bigExternal(b)
	for _, c := range []struct {
		name string
		path string
		size int64
	}{
		{"inline", inline, fileSize(b, inline)},
		{"external", ext, dirSize(b, filepath.Dir(ext))},
	} {
		b.Run(c.name, func(b *testing.B) {
			var peak int64
			for b.Loop() {
				peak = max(peak, peakLoad(b, c.path))
			}
			b.ReportMetric(float64(peak)/float64(c.size), "peak/size")
			b.ReportMetric(float64(peak)/1e6, "peakMB")
			b.ReportMetric(float64(c.size)/1e6, "sizeMB")
		})
	}
}

// TestPeakLoadChildReportsErrors checks the child mode of TestMain: a bad
// model makes the child fail, so a benchmark cannot report a bogus peak.
func TestPeakLoadChildReportsErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peakLoadEnv+"="+filepath.Join(t.TempDir(), "absent.onnx"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("child loaded a missing model: %s", out)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peakLoadEnv+"=../testdata/models/convnet.onnx")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child failed on a good model: %v\n%s", err, out)
	}
}

// deepChain builds x → (Relu → Neg) × n with a dead Neg beside each Relu.
func deepChain(b *testing.B, n int) *graph.Model {
	b.Helper()
	bl := graph.NewBuilder(17)
	v := bl.Input("x", graph.Float32, 4)
	for range n {
		r := bl.Op("Relu", v)
		bl.Op("Neg", r) // read by nothing
		v = bl.Op("Neg", r)
	}
	bl.Output(v)
	m, err := bl.Model()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDeepGraphEdits names new values in and prunes a graph of 9,000
// nodes: both once took time growing with the square of the graph (a scan
// of every node per name, a search and shift per removed node).
func BenchmarkDeepGraphEdits(b *testing.B) {
	m := deepChain(b, 3000)
	for b.Loop() {
		g := m.Graph
		for i := range 3000 {
			g.UniqueName("v" + strconv.Itoa(i))
		}
		dead := map[*graph.Node]bool{}
		c, err := graph.Clone(m)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range c.Graph.Nodes {
			if n.OpType == "Neg" && len(n.Outputs[0].Consumers) == 0 && n.Outputs[0] != c.Graph.Outputs[0] {
				dead[n] = true
			}
		}
		if err := c.Graph.RemoveNodes(dead); err != nil {
			b.Fatal(err)
		}
	}
}
