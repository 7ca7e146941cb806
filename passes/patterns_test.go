package passes

import (
	"reflect"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// TestUnmatchedPatterns: a node or op pattern that matches nothing, and an
// include pattern that matches only ops with no quantized form, are in
// the quantize report (a library caller has no command-line warning); the
// patterns that match are not.
func TestUnmatchedPatterns(t *testing.T) {
	b := graph.NewBuilder(13)
	x := b.Input("x", graph.Float32, 1, 2, 4, 4)
	c := b.Op("Conv", x, f32(b, "w", 1, 2, 2, 1, 1))
	c.Producer.Name = "conv_a"
	b.Output(b.Op("Exp", b.Op("Relu", c)))
	m := build(t, b)
	opts := DefaultQuantOptions()
	opts.ExcludeNodes = []string{"conv_a", "conv_typo"}
	opts.ExcludeOps = []string{"Relu", "Gemm"}
	opts.IncludeOps = []string{"Exp", "Soft*"}
	r := quantize(t, m, fixedRanges(m, nil), opts)
	want := []PatternMiss{
		{Option: "ExcludeNodes", Pattern: "conv_typo"},
		{Option: "ExcludeOps", Pattern: "Gemm"},
		{Option: "IncludeOps", Pattern: "Exp", Never: []string{"Exp"}},
		{Option: "IncludeOps", Pattern: "Soft*"},
	}
	if !reflect.DeepEqual(r.UnmatchedPatterns, want) {
		t.Errorf("unmatched %+v\nwant %+v", r.UnmatchedPatterns, want)
	}
}
