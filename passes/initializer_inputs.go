// This file holds initializers-not-inputs. From IR version 4 on, an
// initializer also listed as a main-graph input is only a default the user
// may override, so no pass could treat it as a constant; exporters listed
// every weight that way, which would leave their BatchNormalization and
// constant expressions unfolded and their weights unquantized. The pass
// drops such initializers from the input list, making them constants (a
// quantized model cannot honour an overridden float weight anyway). Models
// before IR version 4 must list every initializer as an input and are left
// as they are (there the listing carries no meaning). It needs nothing and
// runs first: every later pass sees these weights as constants.

package passes

import (
	"slices"

	"github.com/onnxq/onnxq/graph"
)

// InitializersNotInputs returns the initializers-not-inputs pass.
func InitializersNotInputs() Pass {
	return Pass{
		Name: "initializers-not-inputs",
		Doc:  "initializers listed as graph inputs (IR >= 4) become plain constants",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			if m.IRVersion < 4 {
				return false, nil
			}
			if dropped := dropInitializerInputs(m.Graph); dropped > 0 {
				ctx.Logf("initializers-not-inputs: %d initializers are no longer graph inputs", dropped)
				return true, nil
			}
			return false, nil
		},
	}
}

// dropInitializerInputs removes the initializers from g's inputs and
// returns how many it removed.
func dropInitializerInputs(g *graph.Graph) int {
	n := len(g.Inputs)
	g.Inputs = slices.DeleteFunc(g.Inputs, func(v *graph.Value) bool { return v.Const != nil })
	return n - len(g.Inputs)
}
