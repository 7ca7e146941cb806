package passes

import "github.com/onnxq/onnxq/graph"

// InlineFunctions replaces the calls of the model's own functions by
// their bodies (graph.InlineFunctions): the passes and the runtime see
// ops, and the functions' Convs and MatMuls are quantized like any other.
func InlineFunctions() Pass {
	return Pass{
		Name: "inline-functions",
		Doc:  "calls of model-local functions are replaced by the functions' nodes",
		Run: func(m *graph.Model, ctx *Context) (bool, error) {
			n, err := graph.InlineFunctions(m)
			if err != nil || n == 0 {
				return false, err
			}
			ctx.Logf("inline-functions: %d calls inlined", n)
			return true, nil
		},
	}
}
