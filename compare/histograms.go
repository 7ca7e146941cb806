// histograms.go gathers, for the HTML report, the FP32 value histograms of
// the worst quantized activations with calib's histogram observer: fixed
// memory per tensor, whatever the number of samples.

package compare

import (
	"math"
	goruntime "runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/runtime"
)

// Histogram is the FP32 value histogram of one quantized activation over
// all samples, with the range each calibration method picks on it. It is
// report material, not part of the JSON schema.
type Histogram struct {
	// Name is the activation (the QuantizeLinear's input), Reference the
	// FLOAT tensor counted (see ActivationStat).
	Name, Reference string
	// SQNRdB is the activation's cumulative SQNR.
	SQNRdB float64
	// Lo and Hi are the range QUANT's Q/DQ represents.
	Lo, Hi float64
	// Signed histograms count x; the others |x| (calib.Options.Signed).
	Signed bool
	// Min and Max are the observed extremes of x.
	Min, Max float32
	// First is the lower edge of the first bin, Width the bins' width;
	// Counts run from the first to the last non-empty bin.
	First, Width float64
	Counts       []uint64
	// Methods are the ranges calib's methods pick on these counts, in
	// HistogramMethods order.
	Methods []MethodRange
}

// MethodRange is the range one calibration method picks.
type MethodRange struct {
	Method calib.Method
	Lo, Hi float32
}

// HistogramMethods are the methods whose ranges a Histogram holds.
var HistogramMethods = []calib.Method{calib.MinMax, calib.Percentile, calib.Entropy, calib.MSE}

// histCollector counts the FP32 values of activations. The worst ones are
// only known at the end, and counting every activation of every sample
// costs about as much as a run, so nothing is counted on the first
// sample; after it the candidates (the activations of lowest SQNR so far)
// are counted on the others, and at the end the FP32 model runs the first
// sample again for the chosen ones only.
type histCollector struct {
	k    int
	opts calib.Options
	acts []*activation
	// dead holds FLOAT's dead bounds: a value is counted clamped to them,
	// as calibration observes it.
	dead    map[string]passes.Bounds
	obs     map[string]*calib.HistogramObserver // by reference name; the counter's
	samples int
	// wanted holds the candidates' reference names once the first sample
	// picked them: the comparison worker alone reads and writes it.
	wanted map[string]bool
	// The counter goroutine counts the candidates' values beside the
	// comparisons, in the order they are sent.
	jobs    chan histJob
	stopped chan struct{}
	// picked is closed once the candidates are, which it then holds.
	picked chan struct{}
	picks  map[string]bool
}

// candidates waits for the candidates to be picked (after the first
// sample) and returns their reference names, not to be changed.
func (h *histCollector) candidates() map[string]bool {
	<-h.picked
	return h.picks
}

// histJob is a tensor to count (done, if set, runs after), or the
// candidates to make observers for.
type histJob struct {
	name       string
	t          *runtime.Tensor
	done       func()
	candidates []string
}

func newHistCollector(acts []*activation, dead map[string]passes.Bounds, k int, opts calib.Options) (*histCollector, error) {
	// Options are checked now, not after the runs.
	if _, err := calib.NewMSE(opts); err != nil {
		return nil, err
	}
	h := &histCollector{k: k, opts: opts, acts: acts, dead: dead, obs: map[string]*calib.HistogramObserver{}, wanted: map[string]bool{},
		jobs: make(chan histJob, 8), stopped: make(chan struct{}), picked: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		for j := range h.jobs {
			for _, name := range j.candidates {
				h.obs[name], _ = calib.NewMSE(h.opts)
			}
			if j.t != nil {
				h.observe(j.name, j.t)
			}
			if j.done != nil {
				j.done()
			}
		}
	}()
	return h, nil
}

// send queues t, FLOAT's tensor name, for counting.
func (h *histCollector) send(name string, t *runtime.Tensor, done func()) {
	h.jobs <- histJob{name: name, t: t, done: done}
}

// wait closes the counter's queue and waits for it to finish; after it,
// observe may be called directly.
func (h *histCollector) wait() {
	close(h.jobs)
	<-h.stopped
}

// observe counts FLOAT's tensor name when it is a candidate's reference.
func (h *histCollector) observe(name string, t *runtime.Tensor) {
	if o := h.obs[name]; o != nil {
		if f := t.F32(); f != nil {
			if b, ok := h.dead[name]; ok {
				f = b.Clamped(f)
			}
			o.Observe(f)
		}
	}
}

// endSample picks the candidates after the first sample: the k+2 of
// lowest SQNR, whose values the counter counts from the second sample on.
func (h *histCollector) endSample() {
	h.samples++
	if h.samples != 1 {
		return
	}
	order := append([]*activation(nil), h.acts...)
	sort.SliceStable(order, func(i, j int) bool { return nsrKey(order[i]) > nsrKey(order[j]) })
	var names []string
	for _, a := range order {
		if len(names) >= h.k+2 {
			break
		}
		if a.bad == "" && !h.wanted[a.ref] {
			h.wanted[a.ref] = true
			names = append(names, a.ref)
		}
	}
	h.jobs <- histJob{candidates: names}
	h.picks = make(map[string]bool, len(names))
	for _, name := range names {
		h.picks[name] = true
	}
	close(h.picked)
}

// choose keeps the observers of the k worst activations of stats that are
// candidates, and returns them in that order: the first sample's values
// are to be added to them (a rerun of it) before report.
func (h *histCollector) choose(stats []ActivationStat) []ActivationStat {
	var out []ActivationStat
	keep := map[string]bool{}
	for _, a := range worstActivations(stats) {
		if len(out) >= h.k {
			break
		}
		if h.obs[a.Reference] == nil || keep[a.Reference] {
			continue
		}
		keep[a.Reference] = true
		out = append(out, a)
	}
	for ref := range h.obs {
		if !keep[ref] {
			delete(h.obs, ref)
		}
	}
	return out
}

// nsrKey is an activation's noise-to-signal ratio so far; -Inf when it has
// no signal.
func nsrKey(a *activation) float64 {
	if a.sig == 0 {
		return math.Inf(-1)
	}
	return a.noise / a.sig
}

// report returns the histograms of the chosen activations. The range
// searches (entropy and MSE scan many candidate clips) run concurrently,
// one method of one histogram per task, each into its own slot.
func (h *histCollector) report(chosen []ActivationStat) []Histogram {
	out := []Histogram{}
	var obs []*calib.HistogramObserver
	for _, a := range chosen {
		o := h.obs[a.Reference]
		if o == nil || o.Stats().Values == 0 {
			continue
		}
		first, width, counts := o.Bins()
		mn, mx := o.Extremes()
		out = append(out, Histogram{
			Name: a.Name, Reference: a.Reference, SQNRdB: float64(a.SQNRdB), Lo: float64(a.Lo), Hi: float64(a.Hi),
			Signed: o.Options().Signed, Min: mn, Max: mx, First: first, Width: width, Counts: counts,
		})
		obs = append(obs, o)
	}
	type found struct {
		r   MethodRange
		err error
	}
	ranges := make([]found, len(obs)*len(HistogramMethods))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(goruntime.GOMAXPROCS(0), len(ranges)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ranges) {
					return
				}
				m := HistogramMethods[i%len(HistogramMethods)]
				lo, hi, err := obs[i/len(HistogramMethods)].RangeOf(m)
				ranges[i] = found{MethodRange{Method: m, Lo: lo, Hi: hi}, err}
			}
		})
	}
	wg.Wait()
	for i, f := range ranges {
		if f.err == nil {
			out[i/len(HistogramMethods)].Methods = append(out[i/len(HistogramMethods)].Methods, f.r)
		}
	}
	return out
}
