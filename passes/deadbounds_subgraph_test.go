package passes

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// Values inside an If branch get their bounds too: the branch's Conv
// output that only a Relu reads is dead below 0; x, which the other
// branch's Conv reads as it is, has none.
func TestDeadBoundsSubgraph(t *testing.T) {
	b := graph.NewBuilder(17)
	buildIf(b)
	m := build(t, b)
	got := DeadBounds(m)
	if b, ok := got["then_conv1_out"]; !ok || b.Lo != 0 || !math.IsInf(b.Hi, 1) {
		t.Errorf("then_conv1_out: bounds %v (found %v), want [0, +Inf]", b, ok)
	}
	for _, v := range []string{"x", "then_conv2_out", "else_relu_out"} {
		if b, ok := got[v]; ok {
			t.Errorf("%s is bounded %v", v, b)
		}
	}
}
