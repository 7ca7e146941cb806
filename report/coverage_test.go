package report

import (
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/runtime"
)

// A Conv in a Loop body that runs 3 times counts 3 times its MACs, and a
// Conv after the Loop, whose input shape inference cannot size, counts
// too: the coverage is that of the MACs a run executes, where the
// inferred shapes left those two unknown.
func TestSampleCoverageCountsLoops(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 8, 8)
	w := func(g *graph.Graph, name string) *graph.Value {
		ct, err := graph.FromFloat32s(name, []int64{2, 2, 3, 3}, make([]float32, 36))
		if err != nil {
			t.Fatal(err)
		}
		v, err := g.AddInitializer(ct)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := b.Op("Conv", x, w(b.Graph(), "w0"), graph.IntsAttr("pads", 1, 1, 1, 1))
	body := graph.NewGraph("body")
	body.Parent = b.Graph()
	add := func(name string, dt graph.DType, shape graph.Shape) *graph.Value {
		v, err := body.AddInput(name, dt, shape)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	add("iter", graph.Int64, graph.Shape{})
	cond := add("cond_in", graph.Bool, graph.Shape{})
	carried := add("h_in", graph.Float32, nil) // rank unknown: inference cannot size the body
	for _, n := range []*graph.Node{
		{OpType: "Identity", Inputs: []*graph.Value{cond}},
		{OpType: "Conv", Inputs: []*graph.Value{carried, w(body, "w1")}, Attrs: []*graph.Attribute{graph.IntsAttr("pads", 1, 1, 1, 1)}},
	} {
		if err := body.AddNode(n, body.UniqueName(n.OpType)); err != nil {
			t.Fatal(err)
		}
		body.AddOutput(n.Outputs[0])
	}
	trips := b.Const(graph.FromInt64s("M", nil, []int64{3}))
	looped := b.OpN("Loop", 1, trips, nil, first, graph.GraphAttr("body", body))[0]
	b.Output(b.Op("Conv", looped, w(b.Graph(), "w2"), graph.IntsAttr("pads", 1, 1, 1, 1)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	in := runtime.New(graph.Float32, 1, 2, 8, 8)
	src := calibdata.Memory(calibdata.Inputs(m), []map[string]*runtime.Tensor{{"x": in}})
	const perConv = 2 * 8 * 8 * 2 * 9 // 2,304
	if inferred := macs.CoverageWithShapes(m, SampleShapes(src)); inferred.UnknownMACs != 2 {
		t.Fatalf("inferred coverage %+v: want the two Convs the Loop hides unknown", inferred)
	}
	cv := SampleCoverage(m, src)
	if cv.UnknownMACs != 0 || cv.TotalMACs != 5*perConv || cv.WeightedNodes != 3 {
		t.Errorf("coverage %+v: want %d MACs (the body's Conv 3 times), none unknown", cv, 5*perConv)
	}
}
