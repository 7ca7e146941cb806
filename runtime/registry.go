package runtime

import (
	"fmt"
	"sort"

	"github.com/onnxq/onnxq/graph"
)

// Kernel runs one node. in holds the node's inputs in order (nil for an
// omitted optional input); Run returns one tensor per node output (nil for
// an omitted optional output).
type Kernel interface {
	Run(ctx *Context, in []*Tensor) ([]*Tensor, error)
}

// KernelFunc adapts a function to Kernel.
type KernelFunc func(ctx *Context, in []*Tensor) ([]*Tensor, error)

// Run calls f.
func (f KernelFunc) Run(ctx *Context, in []*Tensor) ([]*Tensor, error) { return f(ctx, in) }

// Builder prepares the kernel of one node: it reads and checks the
// attributes once, for the opset version the model imports for the node's
// domain. A Builder returns an error for attribute values it cannot run.
type Builder func(n *graph.Node, opset int64) (Kernel, error)

// Registry maps (domain, op type) to kernel builders.
type Registry struct {
	builders map[opKey]Builder
}

type opKey struct{ domain, op string }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{builders: map[opKey]Builder{}} }

// Register adds the builder of an operator; domain "" is the default one.
func (r *Registry) Register(domain, op string, b Builder) {
	if domain == "ai.onnx" {
		domain = ""
	}
	if r.builders == nil {
		r.builders = map[opKey]Builder{}
	}
	r.builders[opKey{domain, op}] = b
}

// Lookup returns the builder of an operator, or nil.
func (r *Registry) Lookup(domain, op string) Builder {
	if domain == "ai.onnx" {
		domain = ""
	}
	return r.builders[opKey{domain, op}]
}

// Ops lists the registered operators as "op" (default domain) or
// "domain:op", sorted.
func (r *Registry) Ops() []string {
	var ops []string
	for k := range r.builders {
		if k.domain == "" {
			ops = append(ops, k.op)
		} else {
			ops = append(ops, k.domain+":"+k.op)
		}
	}
	sort.Strings(ops)
	return ops
}

// DefaultRegistry returns a registry holding every kernel of onnxq.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	registerElementwise(r)
	registerActivations(r)
	registerReduce(r)
	registerNormalization(r)
	registerGemm(r)
	registerConv(r)
	registerPool(r)
	registerShapeOps(r)
	registerIndexing(r)
	registerResize(r)
	registerRNN(r)
	registerControlFlow(r)
	registerQuant(r)
	registerAttention(r)
	registerVision(r)
	registerSignal(r)
	registerLoss(r)
	return r
}

// unsupportedError names the node and opset of an op without a kernel.
func unsupportedError(n *graph.Node, opset int64) error {
	dom := n.Domain
	if dom == "" {
		dom = "ai.onnx"
	}
	return fmt.Errorf("no kernel for op %s (domain %s, opset %d) used by node %s", graph.PlainName(n.OpType), graph.PlainName(dom), opset, nodeName(n))
}
