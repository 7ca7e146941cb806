package runtime

import (
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// A tensor past the per-tensor limit fails its node with an error naming
// the size, whichever way the kernel allocates it, and the session runs
// sizes within the limit as before.
func TestTensorBytesLimit(t *testing.T) {
	saved := tensorBytesLimit
	tensorBytesLimit = func() int64 { return 1 << 20 }
	defer func() { tensorBytesLimit = saved }()

	b := graph.NewBuilder(13)
	shape := b.Input("shape", graph.Int64, 2)
	x := b.Input("x", graph.Float32, 1)
	filled := b.Op("ConstantOfShape", shape)
	b.Output(filled, b.Op("Expand", x, shape))
	s := builtSession(t, b, Options{})
	feed := func(rows int64) map[string]*Tensor {
		return map[string]*Tensor{"shape": FromInt64([]int{2}, []int64{rows, 1024}), "x": FromFloat32([]int{1}, []float32{2})}
	}
	outs, err := s.Run(feed(256)) // 1 MiB of float32: at the limit
	if err != nil {
		t.Fatalf("a tensor at the limit: %v", err)
	}
	if got := outs[filled.Name].Shape; len(got) != 2 || got[0] != 256 {
		t.Fatalf("output shape %v", got)
	}
	_, err = s.Run(feed(257))
	if err == nil || !strings.Contains(err.Error(), "needs 1.0 MiB, more than the 1.0 MiB this machine allows one tensor") {
		t.Fatalf("a tensor past the limit: %v", err)
	}
	// The Expand alone past the limit: its output comes from the pool.
	b2 := graph.NewBuilder(13)
	shape2 := b2.Input("shape", graph.Int64, 2)
	b2.Output(b2.Op("Expand", b2.Input("x", graph.Float32, 1), shape2))
	s2 := builtSession(t, b2, Options{})
	if _, err := s2.Run(feed(300)); err == nil || !strings.Contains(err.Error(), "(Expand): a float32 tensor of 307200 elements") {
		t.Fatalf("Expand past the limit: %v", err)
	}
}

// On Linux the limit comes from the machine's memory.
func TestPhysicalMemoryLimit(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("RAM is looked up on Linux only")
	}
	ram := physicalMemory()
	if ram < 1<<26 {
		t.Fatalf("physical memory %d bytes", ram)
	}
	if l := tensorBytesLimit(); l > ram/2 {
		t.Fatalf("limit %d for %d bytes of memory", l, ram)
	}
}
