package report

import (
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/runtime"
)

// SampleCoverage is the INT8 MAC coverage of m on the first sample of
// src: from the shapes inference gives with the sample's input shapes, or,
// where that leaves a weighted node's MACs unknown (inside a Loop body,
// after a Loop or an If), from a run of m on the sample, which counts the
// MACs each weighted node executed (a Loop body's once per iteration; a
// branch not taken none). Without samples, or when the run fails, it is
// the inferred coverage.
func SampleCoverage(m *graph.Model, src *calibdata.Source) macs.Coverage {
	inferred := macs.CoverageWithShapes(m, SampleShapes(src))
	if inferred.UnknownMACs == 0 || src == nil || src.Len() == 0 {
		return inferred
	}
	sample, err := src.Sample(0)
	if err != nil {
		return inferred
	}
	if run, ok := executedCoverage(m, sample); ok {
		return run
	}
	return inferred
}

// executedCoverage runs m on sample and counts each weighted node's MACs
// from the shapes of the tensors it read, every time it ran.
func executedCoverage(m *graph.Model, sample map[string]*runtime.Tensor) (macs.Coverage, bool) {
	seen := map[*graph.Value][]int64{}
	dims := func(t *runtime.Tensor) []int64 {
		d := make([]int64, len(t.Shape))
		for i, x := range t.Shape {
			d[i] = int64(x)
		}
		return d
	}
	sizes := func(v *graph.Value) ([]int64, bool) {
		switch {
		case v == nil:
			return nil, false
		case v.Const != nil:
			return v.Const.Dims, true
		}
		d, ok := seen[v]
		return d, ok
	}
	executed, unknown := map[*graph.Node]int64{}, map[*graph.Node]bool{}
	observe := func(v *graph.Value, t *runtime.Tensor) {
		seen[v] = dims(t)
		n := v.Producer
		if n == nil || len(n.Outputs) == 0 || n.Outputs[0] != v {
			return
		}
		if c, ok, counted := macs.NodeMACsWith(n, sizes); counted {
			if ok {
				executed[n] += c
			} else {
				unknown[n] = true
			}
		}
	}
	for name, t := range sample {
		if v := m.Graph.Value(name); v != nil {
			seen[v] = dims(t)
		}
	}
	s, err := runtime.NewSession(m, runtime.Options{Observer: observe})
	if err != nil {
		return macs.Coverage{}, false
	}
	if _, err := s.Run(sample); err != nil {
		return macs.Coverage{}, false
	}
	return macs.CoverageOf(m.Graph, func(n *graph.Node) (int64, bool) {
		return executed[n], !unknown[n] // a node that did not run executed none
	}), true
}
