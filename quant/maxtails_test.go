// maxtails_test.go checks which values MaxSelected finds and that
// RangesFor restores the observed maximum only for them.
package quant_test

import (
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/quant"
)

// tailModel: x -> Conv -> a -> Relu -> r -> MaxPool -> p, and
// a -> Sigmoid -> s; outputs p and s.
func tailModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 1, 4, 4)
	w := b.Const(graph.FromFloat32s("w", []int64{1, 1, 1, 1}, []float32{1}))
	a := b.Op("Conv", x, w)
	r := b.Op("Relu", a)
	p := b.Op("MaxPool", r, graph.IntsAttr("kernel_shape", 2, 2))
	s := b.Op("Sigmoid", a)
	b.Output(p, s)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMaxSelected(t *testing.T) {
	m := tailModel(t)
	g := m.Graph
	var conv, relu, pool, sig *graph.Node
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Conv":
			conv = n
		case "Relu":
			relu = n
		case "MaxPool":
			pool = n
		case "Sigmoid":
			sig = n
		}
	}
	sel := quant.MaxSelected(g)
	for _, v := range []*graph.Value{conv.Outputs[0], relu.Outputs[0]} {
		if !sel[v.Name] {
			t.Errorf("%s reaches the MaxPool through Relu but is not selected", v.Name)
		}
	}
	for _, v := range []*graph.Value{pool.Outputs[0], sig.Outputs[0], conv.Input(1)} {
		if sel[v.Name] {
			t.Errorf("%s does not feed a max-selecting op but is selected", v.Name)
		}
	}
	if len(quant.MaxSelected(nil)) != 0 {
		t.Error("a nil graph selects values")
	}
}

func TestRangesForKeepMaxTails(t *testing.T) {
	m := tailModel(t)
	var a, s string
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			a = n.Outputs[0].Name
		case "Sigmoid":
			s = n.Outputs[0].Name
		}
	}
	coll, err := calib.New(calib.MSE, calib.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// A large bulk in [0, 1) and one outlier at 100: the outlier costs less
	// clipped than the coarse step it would force on the bulk, so MSE clips.
	data := make([]float32, 1<<21)
	for i := range data {
		data[i] = float32(i%256) / 256
	}
	data[17] = 100
	coll.Observe(a, data)
	coll.Observe(s, data)
	clipped := quant.Ranges(coll)
	if !(clipped[a].Max < 50) || clipped[a] != clipped[s] {
		t.Fatalf("MSE did not clip the outlier alike: %v %v", clipped[a], clipped[s])
	}
	cfg := quant.DefaultConfig()
	cfg.Method = calib.MSE
	cfg.KeepMaxTails = false
	if got := quant.RangesFor(m, coll, cfg); got[a] != clipped[a] || got[s] != clipped[s] {
		t.Errorf("without KeepMaxTails the ranges changed: %v %v", got[a], got[s])
	}
	cfg.KeepMaxTails = true
	got := quant.RangesFor(m, coll, cfg)
	if got[a].Max != 100 || got[a].Min != clipped[a].Min {
		t.Errorf("max-selected %s: range %v, want [%v, 100]", a, got[a], clipped[a].Min)
	}
	if got[s] != clipped[s] {
		t.Errorf("%s feeds no max-selecting op but its range moved: %v -> %v", s, clipped[s], got[s])
	}
}
