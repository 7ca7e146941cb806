// prefixcut.go spares bias correction and Hessian rounding most of their
// runs: each measures a level of nodes with every level above it already
// changed (biases corrected, weights rounded), and measuring it from the
// model's inputs would run the whole prefix again, once per level (a
// ResNet-50 has 50). The quantized values that no later change can alter
// are kept per sample as they are produced, and the next levels start
// from them. Only QuantizeLinear outputs are kept: they are 8-bit (or
// 16-bit), and a unit's DequantizeLinear reads the same tensor whether a
// node or the cache supplies it, so every value measured is the one the
// whole model computes.

package quant

import (
	"maps"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// prefixCut turns the prefix cache on; tests compare against it off.
var prefixCut = true

// prefixCacheBytes bounds the quantized values kept across levels, all
// samples together; past it, values are computed again instead.
const prefixCacheBytes = 512 << 20

// prefixCache keeps, per sample, the QuantizeLinear outputs whose value is
// final (every change upstream made) for the levels still to come.
type prefixCache struct {
	// off: nothing is kept, every level runs from the inputs (prefixCut
	// unset, or subgraphs, whose implicit reads the cache does not follow).
	off bool
	// after is, per value, the last level whose change lies upstream of it
	// (-1: none), and before the last level measuring a value downstream
	// of it (-1: none).
	after, before map[*graph.Value]int
	kept          map[string][]*runtime.Tensor // value name -> one per sample
	measured      [][]*graph.Value             // the values each level measures
	bytes         int64
}

// newPrefixCache maps the levels over q: level li measures the values
// named in measured[li], then changes the nodes whose outputs are named
// in changed[li] (their weights or biases).
func newPrefixCache(q *graph.Model, changed, measured [][]string) *prefixCache {
	g := q.Graph
	c := &prefixCache{after: map[*graph.Value]int{}, before: map[*graph.Value]int{}, kept: map[string][]*runtime.Tensor{}}
	c.off = !prefixCut || slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return len(n.Subgraphs()) > 0 })
	if c.off {
		return c
	}
	changedAt := map[*graph.Node]int{}
	for li, names := range changed {
		for _, name := range names {
			if v := g.Value(name); v != nil && v.Producer != nil {
				changedAt[v.Producer] = li
			}
		}
	}
	for li, names := range measured {
		var vs []*graph.Value
		for _, name := range names {
			if v := g.Value(name); v != nil {
				vs = append(vs, v)
				c.before[v] = max(c.before[v], li)
			}
		}
		c.measured = append(c.measured, vs)
	}
	for _, n := range g.Nodes {
		a := -1
		for _, in := range n.Inputs {
			if in != nil {
				if v, ok := c.after[in]; ok {
					a = max(a, v)
				}
			}
		}
		if li, ok := changedAt[n]; ok {
			a = max(a, li)
		}
		for _, out := range n.Outputs {
			if out != nil {
				c.after[out] = a
			}
		}
	}
	for _, n := range slices.Backward(g.Nodes) {
		b := -1
		for _, out := range n.Outputs {
			if v, ok := c.before[out]; ok && out != nil {
				b = max(b, v)
			}
		}
		for _, in := range n.Inputs {
			if in != nil {
				if v, ok := c.before[in]; !ok || b > v {
					c.before[in] = b
				}
			}
		}
	}
	return c
}

// worthKeeping reports whether v, produced while measuring level li, is
// final and read by a later level.
func (c *prefixCache) worthKeeping(v *graph.Value, li int) bool {
	if c.off || v.Producer == nil || v.Producer.OpType != "QuantizeLinear" || c.kept[v.Name] != nil {
		return false
	}
	a, ok := c.after[v]
	return ok && a < li && c.before[v] > li
}

// upTo is computing(q, names, computedOnly, nil) starting from the kept
// values: each one the copy needs, other than the named ones, becomes an
// input of its own name. It returns the copy and the kept values it reads.
func (c *prefixCache) upTo(q *graph.Model, names []string, computedOnly bool) (*graph.Model, []string, error) {
	sub, err := computing(q, names, computedOnly, slices.Sorted(maps.Keys(c.kept)))
	if err != nil {
		return nil, nil, err
	}
	var reads []string
	for _, in := range sub.Graph.Inputs {
		if _, ok := c.kept[in.Name]; ok {
			reads = append(reads, in.Name)
		}
	}
	return sub, reads, nil
}

// feeds returns sample i's inputs with the kept values sub reads.
func (c *prefixCache) feeds(sample map[string]*runtime.Tensor, reads []string, i int) map[string]*runtime.Tensor {
	if len(reads) == 0 {
		return sample
	}
	in := maps.Clone(sample)
	for _, name := range reads {
		in[name] = c.kept[name][i]
	}
	return in
}

// collector gathers, during the run measuring level li, the values worth
// keeping; keep commits those seen once per sample.
type collector struct {
	c     *prefixCache
	li    int
	seen  map[string][]*runtime.Tensor
	bytes int64
}

func (c *prefixCache) collect(li int) *collector {
	return &collector{c: c, li: li, seen: map[string][]*runtime.Tensor{}}
}

// observe copies x when the orig value (the copy's value of that name) is
// worth keeping and the budget allows.
func (col *collector) observe(orig *graph.Value, x *runtime.Tensor) {
	if orig == nil || !col.c.worthKeeping(orig, col.li) {
		return
	}
	size := x.Bytes()
	if col.c.bytes+col.bytes+size > prefixCacheBytes {
		return
	}
	col.seen[orig.Name] = append(col.seen[orig.Name], x.Clone())
	col.bytes += size
}

// keep moves the complete values into the cache and drops the kept
// values no level after li reads.
func (col *collector) keep(samples int) {
	c := col.c
	if c.off {
		return
	}
	for name, ts := range col.seen {
		if len(ts) == samples {
			c.kept[name] = ts
			for _, t := range ts {
				c.bytes += t.Bytes()
			}
		}
	}
	needed := c.neededAfter(col.li)
	for name, ts := range c.kept {
		if !needed[name] {
			for _, t := range ts {
				c.bytes -= t.Bytes()
			}
			delete(c.kept, name)
		}
	}
}

// neededAfter returns the kept values some level after li reads: those
// met walking up from the values it measures, where a walk stops at a
// kept value.
func (c *prefixCache) neededAfter(li int) map[string]bool {
	needed := map[string]bool{}
	visited := map[*graph.Value]bool{}
	var stack []*graph.Value
	for _, vs := range c.measured[li+1:] {
		stack = append(stack, vs...)
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[v] {
			continue
		}
		visited[v] = true
		if c.kept[v.Name] != nil {
			needed[v.Name] = true
			continue
		}
		if v.Producer != nil {
			for _, in := range v.Producer.Inputs {
				if in != nil && !visited[in] {
					stack = append(stack, in)
				}
			}
		}
	}
	return needed
}

// run prepares the run measuring level li: the copy of q to run (the
// values named, from the kept ones), the inputs of sample i, and the
// observer collecting what later levels read (nil when off); done keeps
// what the run collected.
func (c *prefixCache) run(q *graph.Model, names []string, computedOnly bool, li int) (sub *graph.Model, feed func(i int, sample map[string]*runtime.Tensor) map[string]*runtime.Tensor, observe func(v *graph.Value, x *runtime.Tensor), done func(samples int), err error) {
	sub, reads, err := c.upTo(q, names, computedOnly)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	col := c.collect(li)
	feed = func(i int, sample map[string]*runtime.Tensor) map[string]*runtime.Tensor {
		return c.feeds(sample, reads, i)
	}
	if !c.off {
		observe = func(v *graph.Value, x *runtime.Tensor) { col.observe(q.Graph.Value(v.Name), x) }
	}
	return sub, feed, observe, col.keep, nil
}
