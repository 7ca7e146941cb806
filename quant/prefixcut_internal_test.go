package quant

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
)

// chainModel is six 3x3 Conv -> Relu layers on 8 channels, the fourth
// also adding the second's output (a value read two levels later).
func chainModel(t *testing.T) *graph.Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 8, 10, 10)
	var second *graph.Value
	for i := range 6 {
		w := make([]float32, 8*8*9)
		for k := range w {
			w[k] = float32(rng.NormFloat64() / 8)
		}
		bias := make([]float32, 8)
		for k := range bias {
			bias[k] = float32(rng.NormFloat64() / 4)
		}
		x = b.Op("Conv", x, b.Const(graph.FromFloat32s("w"+string(rune('a'+i)), []int64{8, 8, 3, 3}, w)),
			b.Const(graph.FromFloat32s("b"+string(rune('a'+i)), []int64{8}, bias)), graph.IntsAttr("pads", 1, 1, 1, 1))
		if i == 3 {
			x = b.Op("Add", x, second)
		}
		x = b.Op("Relu", x)
		if i == 1 {
			second = x
		}
	}
	b.Output(x)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// quantizedChain is chainModel quantized on 6 random samples from seed,
// biases left as quantized.
func quantizedChain(t *testing.T, seed uint64) (*graph.Model, *calibdata.Source, *Result, Config) {
	t.Helper()
	m := chainModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 6, int64(seed))
	cfg := DefaultConfig()
	cfg.BiasCorrection = false
	cfg.Threads = 1
	res, err := Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, src, res, cfg
}

// changedCopy applies change to a copy of m with the prefix cache on or
// off and returns the copy's bytes.
func changedCopy(t *testing.T, m *graph.Model, cut bool, change func(q *graph.Model)) []byte {
	t.Helper()
	q, err := Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	prefixCut = cut
	defer func() { prefixCut = true }()
	change(q)
	data, err := graph.Encode(q)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Starting each level from the kept quantized values gives the very
// corrections measuring it from the inputs gives, and runs less.
func TestBiasCutMatchesFullRuns(t *testing.T) {
	m, src, res, _ := quantizedChain(t, 3)
	corrected := func(cut bool) []byte {
		return changedCopy(t, m, cut, func(q *graph.Model) {
			rep, err := CorrectBiases(res.Reference, q, src, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Moved == 0 {
				t.Fatalf("no bias moved (%+v): the comparison would prove nothing", rep)
			}
		})
	}
	if !bytes.Equal(corrected(true), corrected(false)) {
		t.Error("the corrected model differs with the prefix cache")
	}

	// The last level, after the others, starts from kept values.
	targets := biasTargets(res.Reference, m)
	lv := levels(m, targets)
	if len(lv) != 6 {
		t.Fatalf("%d levels, want 6", len(lv))
	}
	outs := levelOutputs(lv)
	cut := newPrefixCache(m, outs, outs)
	for li, level := range lv[:len(lv)-1] {
		sub, feed, observe, done, err := cut.run(m, outs[li], false, li)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := channelMeans(sub, src, level, false, 1, feed, observe); err != nil {
			t.Fatal(err)
		}
		done(src.Len())
	}
	fromKept, stands, err := cut.upTo(m, outs[len(lv)-1], false)
	if err != nil {
		t.Fatal(err)
	}
	full, err := computing(m, outs[len(lv)-1], false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stands) == 0 || 3*len(fromKept.Graph.Nodes) > len(full.Graph.Nodes) {
		t.Errorf("the last level runs %d of the prefix's %d nodes from %d kept values; want a third or less", len(fromKept.Graph.Nodes), len(full.Graph.Nodes), len(stands))
	}
	if len(cut.kept) > 2 {
		t.Errorf("%d values kept at the last level; want only what it reads", len(cut.kept))
	}
}

// Hessian rounding too rounds the same weights whether each level's
// inputs come from the model's inputs or from the kept values.
func TestHessianCutMatchesFullRuns(t *testing.T) {
	m, src, res, cfg := quantizedChain(t, 5)
	rounded := func(cut bool) []byte {
		return changedCopy(t, m, cut, func(q *graph.Model) {
			rep, err := RoundWeights(res.Reference, q, src, cfg.Quant, 1)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layers != 6 || rep.Changed == 0 {
				t.Fatalf("report %+v: want all six layers rounded, some weights off nearest", rep)
			}
		})
	}
	if !bytes.Equal(rounded(true), rounded(false)) {
		t.Error("the rounded model differs with the prefix cache")
	}
}

// BenchmarkCorrectBiases times bias correction alone on a shared CNN,
// each level measured from the kept values ("kept") and from the inputs
// ("inputs"): go test ./quant -run '^$' -bench CorrectBiases.
func BenchmarkCorrectBiases(b *testing.B) {
	const name = "yunet_n_320"
	m, err := graph.Load(filepath.Join("../../shared/models", name+".onnx"))
	if err != nil {
		b.Skipf("no shared model: %v", err)
	}
	src, err := calibdata.Open(filepath.Join("../../shared/data", name), calibdata.Inputs(m), calibdata.ImageOptions{})
	if err != nil {
		b.Skipf("no shared data: %v", err)
	}
	if src, err = src.Subset([]int{0, 1, 2, 4, 5, 6, 8, 9}); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.BiasCorrection = false
	res, err := Run(m, src, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, cut := range []bool{true, false} {
		label := "inputs"
		if cut {
			label = "kept"
		}
		b.Run(label, func(b *testing.B) {
			prefixCut = cut
			defer func() { prefixCut = true }()
			for b.Loop() {
				b.StopTimer()
				q, err := Clone(m)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := CorrectBiases(res.Reference, q, src, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
