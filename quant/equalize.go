// equalize.go connects the equalize-activations pass to the samples: it
// measures the per-channel ranges of the values the pass can rescale and
// runs it.

package quant

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/runtime"
)

// EqualizeActivations rescales the prepared model m in place so that the
// channels of every value between a Conv and a depthwise Conv span the
// same range on the samples of src (see passes.EqualizeActivations). The
// model computes the same function afterwards; the rescaled values take
// new names, recorded with their factors in m's metadata
// (passes.RescaledKey), and the entries of cfg.Quant.Overrides naming them are moved
// to the new names in place. A value cfg.Quant.Overrides names is left as
// it is: an override speaks of the model's own values.
func EqualizeActivations(m *graph.Model, src *Samples, cfg Config) error {
	if m == nil || m.Graph == nil {
		return errors.New("quant: no model")
	}
	if src == nil || src.Len() == 0 {
		return nil
	}
	// A value --config sets (a range, fp32, 16 bits, per tensor) keeps
	// its values: its range is given in the model's own units.
	names := slices.DeleteFunc(passes.EqualizeCandidates(m), func(name string) bool {
		_, set := cfg.Quant.Overrides[name]
		// the Conv output a Relu between the two reads is rescaled too
		if v := m.Graph.Value(name); !set && v != nil && v.Producer != nil && v.Producer.OpType == "Relu" && v.Producer.Input(0) != nil {
			_, set = cfg.Quant.Overrides[v.Producer.Input(0).Name]
		}
		return set
	})
	keep := map[string]bool{}
	for name := range cfg.Quant.Overrides {
		keep[name] = true
	}
	// The Conv outputs before hard-swishes are rescaled only when their
	// units are to be completed (--complete-units on), the Q/DQ the
	// rescale is for. With auto the rescale made completing them look
	// cheap on the calibration samples, and the units it then completed
	// cost ppocr_det_mobile_v1_1's held-out images 0.7 dB on average over
	// four splits in ONNX Runtime (3.4 on one) for no speed.
	if (cfg.Quant.CompleteUnits || cfg.Units == UnitsOn) && cfg.Quant.ChannelDequantize {
		for _, name := range passes.IslandCandidates(m) {
			if !keep[name] {
				names = append(names, name)
			}
		}
	}
	for _, c := range passes.ConcatEqualizeCandidates(m) {
		if !c.Keeps(keep) {
			names = append(names, c.Inputs...)
		}
	}
	// Layer norm outputs are measured along their last axis.
	lastAxis := map[string]bool{}
	for _, c := range passes.SmoothCandidates(m) {
		if !c.Keeps(keep) {
			for _, name := range c.Inputs {
				lastAxis[name] = true
			}
		}
	}
	if len(names) == 0 && len(lastAxis) == 0 {
		return nil
	}
	slices.Sort(names)
	names = slices.Compact(names)
	ranges, last, err := channelRanges(m, src, names, lastAxis, cfg.Threads)
	if err != nil {
		return err
	}
	wt := cfg.Quant.WeightType
	levels := float64(wt.Max()-wt.Min()) / 2
	opts := &passes.ReaderOptions{Keep: keep, WeightLevels: levels, LastAxis: last}
	if err := passes.Run(m, cfg.context(), []passes.Pass{passes.EqualizeActivations(ranges, opts)}, cfg.RunOptions); err != nil {
		return err
	}
	followRenames(m, cfg.Quant.Overrides)
	return nil
}

// followRenames moves the overrides of values the pass renamed (their
// channels rescaled, see passes.EqualizeActivations) to the new names, so
// that an override keeps applying to the tensor it was written for.
func followRenames(m *graph.Model, overrides map[string]passes.TensorOverride) {
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if m.Graph.Value(name) != nil {
			continue
		}
		if v := m.Graph.Value(name + passes.RescaledSuffix); v != nil {
			overrides[v.Name] = overrides[name]
			delete(overrides, name)
		}
	}
}

// channelRanges runs m on every sample of src and returns the range and
// mean square of each channel (axis 1) of the named float32 values, and
// along the last axis of the values lastAxis names. Values of rank < 2,
// or whose channel count changes between samples, are left out; NaN and
// ±Inf are ignored.
func channelRanges(m *graph.Model, src *Samples, names []string, lastAxis map[string]bool, threads int) (map[string]passes.ChannelRange, map[string]passes.ChannelRange, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]passes.ChannelRange{}
	last := map[string]passes.ChannelRange{}
	counts := map[string][]int64{}
	bad := map[string]bool{}
	observe := func(v *graph.Value, t *runtime.Tensor) {
		isLast := lastAxis[v.Name]
		if (!want[v.Name] && !isLast) || bad[v.Name] {
			return
		}
		f := t.F32()
		if f == nil || len(t.Shape) < 2 || t.Shape[1] <= 0 || t.Shape[len(t.Shape)-1] <= 0 {
			bad[v.Name] = true
			return
		}
		c, inner := t.Shape[1], 1
		for _, d := range t.Shape[2:] {
			inner *= d
		}
		dst := out
		if isLast {
			c, inner, dst = t.Shape[len(t.Shape)-1], 1, last
		}
		r, ok := dst[v.Name]
		if !ok {
			r = passes.ChannelRange{Min: make([]float32, c), Max: make([]float32, c), MeanSquare: make([]float64, c)}
			counts[v.Name] = make([]int64, c)
			for k := range c {
				r.Min[k], r.Max[k] = float32(math.Inf(1)), float32(math.Inf(-1))
			}
		} else if len(r.Min) != c {
			bad[v.Name] = true
			return
		}
		n := counts[v.Name]
		for i, x := range f {
			if x != x || math.IsInf(float64(x), 0) {
				continue
			}
			k := i / inner % c
			r.Min[k] = min(r.Min[k], x)
			r.Max[k] = max(r.Max[k], x)
			// sums until every sample has run
			r.MeanSquare[k] += float64(x) * float64(x)
			n[k]++
		}
		dst[v.Name] = r
	}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: threads, Observer: observe})
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < src.Len(); i++ {
		sample, err := src.Sample(i)
		if err != nil {
			return nil, nil, fmt.Errorf("calibration samples: %v", err)
		}
		// The runtime reports the values nodes make: a graph input a
		// Concat joins is measured from the sample itself.
		for _, in := range m.Graph.Inputs {
			if t, ok := sample[in.Name]; ok {
				observe(in, t)
			}
		}
		if _, err := sess.Run(sample); err != nil {
			return nil, nil, &SampleError{Sample: src.Names()[i], Err: err}
		}
	}
	for _, dst := range []map[string]passes.ChannelRange{out, last} {
		for name := range bad {
			delete(dst, name)
		}
		for name, r := range dst {
			for k, n := range counts[name] {
				if n > 0 {
					r.MeanSquare[k] /= float64(n)
				}
			}
		}
	}
	// A channel that never saw a finite value keeps ±Inf; the passes
	// leave such a value alone.
	return out, last, nil
}
