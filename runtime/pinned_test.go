package runtime

import (
	"testing"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
)

// A session's float32 initializer reads the graph's bytes in place, pinned
// (never written or recycled); FromGraph still copies.
func TestPinnedFromGraphShares(t *testing.T) {
	gt, err := graph.FromFloat32s("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := gt.Raw()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := pinnedFromGraph(gt)
	if err != nil {
		t.Fatal(err)
	}
	own, err := FromGraph(gt)
	if err != nil {
		t.Fatal(err)
	}
	f := shared.Data.([]float32)
	if !shared.pinned || unsafe.Pointer(&f[0]) != unsafe.Pointer(&raw[0]) || f[5] != 6 || len(shared.Shape) != 2 {
		t.Errorf("pinned %v, shares the bytes %v, values %v", shared.pinned, unsafe.Pointer(&f[0]) == unsafe.Pointer(&raw[0]), f)
	}
	if g := own.Data.([]float32); unsafe.Pointer(&g[0]) == unsafe.Pointer(&raw[0]) {
		t.Error("FromGraph shares the graph's bytes")
	}
}
