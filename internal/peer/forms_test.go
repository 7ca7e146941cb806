package peer_test

import (
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/internal/testmodels"
	"github.com/onnxq/onnxq/quant"
)

// biasPlaneNet is x (1×2×6×6) → Conv → Relu → Add of a constant plane per
// channel and position (no bias of the Conv can hold it) → Conv.
func biasPlaneNet() (*graph.Model, error) {
	b := graph.NewBuilder(13)
	ramp := func(name string, scale float32, d ...int64) *graph.Value {
		n := int64(1)
		for _, x := range d {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = scale * float32(i%7-3) / 3
		}
		return b.Const(graph.FromFloat32s(name, d, v))
	}
	x := b.Input("x", graph.Float32, 1, 2, 6, 6)
	h := b.Op("Relu", b.Op("Conv", x, ramp("w1", 0.5, 4, 2, 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1)))
	h = b.Op("Add", h, ramp("plane", 0.3, 1, 4, 6, 6))
	b.Output(b.Op("Conv", h, ramp("w2", 0.5, 3, 4, 1, 1)))
	return b.Model()
}

// perHeadNet is x (1×4×16×8) → Relu → MatMul by per-head weights
// [4, 8, 8] → MatMul by [8, 8]: a weight of three axes.
func perHeadNet() (*graph.Model, error) {
	b := graph.NewBuilder(13)
	ramp := func(name string, d ...int64) *graph.Value {
		n := int64(1)
		for _, x := range d {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%5-2) / 4
		}
		return b.Const(graph.FromFloat32s(name, d, v))
	}
	h := b.Op("MatMul", b.Op("Relu", b.Input("x", graph.Float32, 1, 4, 16, 8)), ramp("heads", 4, 8, 8))
	b.Output(b.Op("MatMul", h, ramp("out", 8, 8)))
	return b.Model()
}

// padAxesNet is x (1×4×8×8) → Conv → Relu → channels last → Pad with an
// axes input (opset 18) of the two spatial axes → channels first → Conv.
func padAxesNet() (*graph.Model, error) {
	b := graph.NewBuilder(18)
	w := func(name string) *graph.Value {
		v := make([]float32, 4*4*3*3)
		for i := range v {
			v[i] = float32(i%7-3) / 6
		}
		return b.Const(graph.FromFloat32s(name, []int64{4, 4, 3, 3}, v))
	}
	h := b.Op("Relu", b.Op("Conv", b.Input("x", graph.Float32, 1, 4, 8, 8), w("w1")))
	pads := b.Const(graph.FromInt64s("pads", []int64{4}, []int64{1, 1, 1, 1}))
	axes := b.Const(graph.FromInt64s("axes", []int64{2}, []int64{1, 2}))
	last := b.Op("Transpose", h, graph.IntsAttr("perm", 0, 2, 3, 1))
	first := b.Op("Transpose", b.Op("Pad", last, pads, nil, axes), graph.IntsAttr("perm", 0, 3, 1, 2))
	b.Output(b.Op("Conv", first, w("w2")))
	return b.Model()
}

// TestORTFusesIntegerForms quantizes models with the defaults and reads
// the graph ONNX Runtime actually runs for them (CPU, all optimizations):
//   - a small transformer encoder: every projection a QGemm (a MatMul and
//     its bias Add, made one Gemm, whose weight states its zero points),
//     the GELUs fused whole, no weighted op or GELU piece left in float;
//   - a Conv net with an Add of a constant plane: a QLinearAdd (the
//     constant shares the activations' type);
//   - a MatMul by per-head weights [4, 8, 8]: a QLinearMatMul (with a
//     scale per column of such a weight ONNX Runtime could not create
//     the session);
//   - a Pad with an axes input (opset 18) between two Convs: both
//     QLinearConv, and it runs (with the axes input ONNX Runtime's
//     channels-last rewrite moved the pads and not the axes).
func TestORTFusesIntegerForms(t *testing.T) {
	script, err := ortpeer.Script(shared)
	if err != nil {
		ortpeer.Unavailable(t, "%v", err)
	}
	for _, tc := range []struct {
		name  string
		build func() (*graph.Model, error)
		want  map[string]int // op counts, "domain:op"
		gelus int
	}{
		{"encoder", testmodels.Encoder, map[string]int{
			"com.microsoft:QGemm": 12, // 2 layers × (q, k, v, output, 2 feed-forward)
			":Gemm":               0, ":MatMul": 0, ":Mul": 0, ":Erf": 0,
		}, 2},
		{"bias-plane", biasPlaneNet, map[string]int{
			// the first Conv too; the last writes the graph output in float
			"com.microsoft:QLinearAdd": 1, ":Add": 0, "com.microsoft:QLinearConv": 1,
		}, 0},
		{"per-head", perHeadNet, map[string]int{":QLinearMatMul": 1}, 0},
		{"pad-axes", padAxesNet, map[string]int{"com.microsoft:QLinearConv": 1, ":Pad": 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.build()
			if err != nil {
				t.Fatal(err)
			}
			src := calibdata.Synthetic(calibdata.Inputs(m), 8, 5)
			cfg := quant.DefaultConfig()
			cfg.Threads = 1
			if _, err := quant.Run(m, src, cfg); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			q, opt := filepath.Join(dir, "q.onnx"), filepath.Join(dir, "ort.onnx")
			if err := graph.Save(m, q, graph.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := ortpeer.Optimized(q, opt); err != nil {
				t.Fatal(err)
			}
			// and runs it: some kernels check their parameters only then
			sample, err := src.Sample(0)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name, v := range sample {
				if err := tensorio.WriteNpy(filepath.Join(dir, tensorio.SafeName(name)+".npy"), v); err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
			if err := ortpeer.Run(script, q, dir, names, t.TempDir()); err != nil {
				t.Fatalf("ONNX Runtime: %v", err)
			}
			o, err := graph.Load(opt)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]int{}
			for _, n := range o.Graph.Nodes {
				ops[n.Domain+":"+n.OpType]++
			}
			for op, n := range tc.want {
				if ops[op] != n {
					t.Errorf("ONNX Runtime runs %d %s, want %d (all: %v)", ops[op], op, n, ops)
				}
			}
			if gelu := ops["com.microsoft:Gelu"] + ops["com.microsoft:BiasGelu"]; gelu != tc.gelus {
				t.Errorf("ONNX Runtime runs %d fused GELUs, want %d (all: %v)", gelu, tc.gelus, ops)
			}
		})
	}
}
