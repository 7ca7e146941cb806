// compare.go runs the two models on the samples and gathers the three
// kinds of statistics: outputs, activations, and per-layer attribution.

package compare

import (
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// DefaultExclusions is how many --exclude-node patterns a report suggests
// when Options.Exclusions is 0.
const DefaultExclusions = 3

// Options tune Compare.
type Options struct {
	// Threads is how many threads each model's kernels may use. Compare
	// already runs the quantized model, the FP32 model and the
	// comparisons side by side, so 0 gives each a third of the cores (at
	// least one). Results do not depend on it.
	Threads int
	// Integer runs QUANT in onnxq's execution form (complete Q/DQ units
	// as integer ops, as "onnxq run" does) instead of as written.
	Integer bool
	// Samples caps the samples run (0: all).
	Samples int
	// Exclusions is how many --exclude-node patterns to suggest (0:
	// DefaultExclusions; negative: none).
	Exclusions int
	// FloatName and QuantName label the models in the report (file
	// names, usually).
	FloatName, QuantName string
	// Histograms asks for the FP32 value histograms of that many worst
	// activations (Report.Histograms), counted with HistogramOptions
	// (zero fields: calib's defaults, as calibration uses them).
	Histograms       int
	HistogramOptions calib.Options
	// Output names the model output the layers' harms are measured
	// against; empty: the worst (lowest SQNR). A detector's outputs fail
	// for different reasons: this asks about one of them.
	Output string
}

// activation is one activation QuantizeLinear of QUANT.
type activation struct {
	qOut   string // the QuantizeLinear's output: the codes
	name   string // its input, the FP32 tensor's name
	ref    string // the FLOAT tensor compared (name, or a folded Relu's output)
	folded string
	resc   *rescale // QUANT's tensor is FLOAT's times these factors
	scale  float32
	zp     int32
	typ    qdq.Type
	lo, hi float64
	// dead: FLOAT's tensor has bounds its readers clamp to (see
	// passes.DeadBounds); values beyond them are compared at the bound
	dead    passes.Bounds
	hasDead bool

	sig, noise float64
	// rounding is the error energy of the Q/DQ alone on FLOAT's values of
	// one sample, whose signal energy is roundingSig (8-bit codes only; 0
	// otherwise), for the reach estimate: see roundingTotal
	rounding, roundingSig float64
	clipped, n            int64
	// peak is the largest multiple of the range's end a clipped value
	// reached (peakOutside), 0 when none was clipped
	peak float64
	bad  string
}

// Compare runs float and quant on the samples of src and measures how far
// quant's outputs and quantized activations are from float's, and how much
// error each quantized layer of quant adds on its own (see the package
// documentation). Neither model is changed. src is a quant.Samples (an
// alias of its type, so callers outside this module can name it).
func Compare(float, quant *graph.Model, src *calibdata.Source, opts Options) (*Report, error) {
	if float == nil || float.Graph == nil || quant == nil || quant.Graph == nil {
		return nil, errors.New("compare: two models are needed")
	}
	if src == nil || src.Len() == 0 {
		return nil, errors.New("compare: no samples")
	}
	if opts.Output != "" && !hasOutput(quant, opts.Output) {
		var names []string
		for _, v := range quant.Graph.Outputs {
			names = append(names, v.Name)
		}
		return nil, fmt.Errorf("compare: %q is not an output of the quantized model (its outputs: %s)", opts.Output, strings.Join(names, ", "))
	}
	if err := sameOutputs(float, quant); err != nil {
		return nil, err
	}
	n := src.Len()
	if opts.Samples > 0 {
		n = min(n, opts.Samples)
	}
	if passes.HasHalfFloats(float) {
		// The quantizer computes a half-precision model in float32
		// (passes.UpcastHalf); FLOAT does so too here, so that its
		// activations compare with QUANT's under the same names.
		up, err := graph.Clone(float)
		if err != nil {
			return nil, err
		}
		if err := passes.Run(up, &passes.Context{}, []passes.Pass{passes.UpcastHalf()}, passes.RunOptions{}); err != nil {
			return nil, fmt.Errorf("compare: computing FLOAT in float32: %v", err)
		}
		float = up
	}
	fv := floatValues(float)
	resc, err := rescales(float, quant)
	if err != nil {
		return nil, err
	}
	// Undoing a rescale needs the value's rank, which a file without
	// value_info does not give: infer QUANT's shapes (in place; only
	// unknown shapes are filled, and a model inference fails on keeps
	// what it has).
	for name := range resc {
		if v := quant.Graph.Value(name); v != nil && len(v.Shape) == 0 {
			_ = graph.InferShapes(quant)
			break
		}
	}
	dead := passes.DeadBounds(float)
	acts, actSkips := findActivations(float, quant, fv, resc, dead)
	if opts.Threads <= 0 {
		opts.Threads = max(1, goruntime.GOMAXPROCS(0)/3)
	}
	layers, layerSkips := buildLayers(quant, fv, resc, dead, opts.Threads, opts.Integer)

	exec, err := quantRunModel(quant, opts.Integer, acts)
	if err != nil {
		return nil, err
	}
	var live []*activation
	for _, a := range acts {
		if a.bad != "" {
			actSkips = append(actSkips, Skipped{a.name, a.bad})
		} else {
			live = append(live, a)
		}
	}
	acts = live
	qSess, err := runtime.NewSession(exec, runtime.Options{Threads: opts.Threads})
	if err != nil {
		return nil, fmt.Errorf("quantized model: %v", err)
	}
	run := newSampleRun(float, acts, layers, opts.Threads)
	var hist *histCollector
	if opts.Histograms > 0 {
		if hist, err = newHistCollector(acts, dead, opts.Histograms, opts.HistogramOptions); err != nil {
			return nil, err
		}
	}
	// The comparisons run on a worker, in the order the FP32 run produces
	// its tensors (held for the worker, which releases them), so they
	// overlap the FP32 run on another core; the channel's capacity bounds
	// the tensors in flight.
	w := startWorker(run, hist)
	defer w.stop()
	hold := func(v *graph.Value) bool { return v.Graph == float.Graph && run.relevant(v.Name) }
	observe := func(v *graph.Value, t *runtime.Tensor) {
		switch {
		case v.Graph != float.Graph:
		case run.relevant(v.Name):
			w.jobs <- sampleJob{name: v.Name, t: t, held: true}
		}
	}
	// The FP32 session's pool serves the histograms' second run too.
	fPool := runtime.NewBufferPool()
	fSess, err := runtime.NewSession(float, runtime.Options{Threads: opts.Threads, Observer: observe, Hold: hold, Pool: fPool})
	if err != nil {
		return nil, fmt.Errorf("float model: %v", err)
	}
	outs := newOutputStats(quant, float)
	w.fSess, w.qSess, w.outs = fSess, qSess, outs
	names := src.Names()
	// The quantized run of the next sample overlaps the FP32 run and the
	// comparisons of this one: two streams keep the cores busier than one
	// stream of kernels split across them. The results, compared in
	// sample order, do not depend on it.
	done := make(chan struct{})
	defer close(done)
	quantized := quantRuns(src, n, names, qSess, done)
	var first map[string]*runtime.Tensor
	for i := range n {
		qr := <-quantized
		if qr.err != nil {
			return nil, qr.err
		}
		sample, qOuts := qr.sample, qr.outs
		if i == 0 {
			first = sample
		}
		w.jobs <- sampleJob{start: qOuts, sample: names[i]}
		for _, in := range float.Graph.RealInputs() {
			if t := sample[in.Name]; t != nil {
				w.jobs <- sampleJob{name: in.Name, t: t}
			}
		}
		fOuts, err := fSess.Run(sample)
		if err != nil {
			return nil, fmt.Errorf("sample %s: float model: %v", names[i], err)
		}
		w.jobs <- sampleJob{finish: true, fOuts: fOuts, qOuts: qOuts}
	}
	if hist != nil {
		// The candidates were picked after the first sample: its values
		// are counted in one more FP32 run, beside the comparisons of the
		// last sample.
		if err := rerunFirst(float, first, hist, runtime.Options{Threads: opts.Threads, Pool: fPool}); err != nil {
			return nil, fmt.Errorf("sample %s: float model: %v", names[0], err)
		}
	}
	if err := w.stop(); err != nil {
		return nil, err
	}

	r := &Report{
		SchemaVersion: SchemaVersion,
		FloatModel:    opts.FloatName,
		QuantModel:    opts.QuantName,
		Samples:       n,
		Integer:       opts.Integer,
		Outputs:       outs.report(),
		Activations:   []ActivationStat{},
		Layers:        []LayerStat{},
		ExcludeNode:   []string{},
	}
	for _, a := range acts {
		if a.bad != "" {
			actSkips = append(actSkips, Skipped{a.name, a.bad})
			continue
		}
		st := ActivationStat{
			Name: a.name, Reference: a.ref, Folded: a.folded, Rescaled: a.resc != nil, Lo: Sig6(a.lo), Hi: Sig6(a.hi),
			SQNRdB: Decibels(sqnrDB(a.sig, a.noise)), Clipped: Sig4(ratio(float64(a.clipped), float64(a.n))), Elements: a.n,
		}
		if a.peak > 0 {
			peak := Sig4(a.peak)
			st.Peak = &peak
		}
		if a.hasDead {
			if !math.IsInf(a.dead.Lo, 0) {
				lo := Sig6(a.dead.Lo)
				st.ClampedBelow = &lo
			}
			if !math.IsInf(a.dead.Hi, 0) {
				hi := Sig6(a.dead.Hi)
				st.ClampedAbove = &hi
			}
		}
		r.Activations = append(r.Activations, st)
	}
	// The worst output's noise-to-signal ratio, and the cumulative one of
	// each quantized activation, give each layer's reach.
	worstNSR, worst := math.NaN(), ""
	for _, o := range r.Outputs {
		if opts.Output != "" && o.Name != opts.Output {
			continue
		}
		if o.Skipped != "" {
			if opts.Output != "" {
				return nil, fmt.Errorf("compare: output %q was not compared: %s", o.Name, o.Skipped)
			}
			continue
		}
		// an output with non-finite values where FP32 has finite ones has
		// no finite noise to share out: the worst finite one is attributed
		// (Options.Output names it anyway)
		v := outs.stats[o.Name]
		if math.IsInf(v.noise, 1) && opts.Output == "" {
			continue
		}
		if v.sig == 0 && opts.Output != "" {
			return nil, fmt.Errorf("compare: output %q is zero wherever FP32 has a finite value on these samples (or has no elements): it has no error to attribute to layers", o.Name)
		}
		if v.sig > 0 && (math.IsNaN(worstNSR) || v.noise/v.sig > worstNSR) {
			worstNSR, worst = v.noise/v.sig, o.Name
		}
	}
	r.AttributedOutput = worst
	cumNSR := map[string]float64{}
	for _, a := range acts {
		if a.bad == "" && a.sig > 0 {
			cumNSR[a.name] = a.noise / a.sig
		}
	}
	reachOf := reaches(quant, worst, acts, layers, outs.stats)
	// each listed layer with its harm before the caps, which orders the
	// layers the caps hold at the same harm
	type ranked struct {
		stat     LayerStat
		uncapped float64
	}
	var rows []ranked
	for _, l := range layers {
		if l.bad != "" {
			layerSkips = append(layerSkips, Skipped{l.label, l.bad})
			continue
		}
		out := l.output
		local := harm(l.sig, l.noise)
		reach, cumDB := 1.0, math.NaN()
		if rr, ok := reachOf[l]; ok {
			reach = rr
		}
		modelled := local * reach
		if c, ok := cumNSR[out]; ok {
			cumDB = -10 * math.Log10(c)
			// All of the worst output's error coming from the noise at
			// this output is the most it can carry: the model's gains,
			// multiplied along many layers, can overshoot.
			if c > 0 && worstNSR >= 0 {
				reach = math.Min(reach, worstNSR/c)
			}
		} else if local > 0 && worstNSR >= 0 {
			// Without an activation at the output, the layer's own noise
			// is the bound's floor: it cannot carry more than all the error.
			reach = math.Min(reach, worstNSR/local)
		}
		rows = append(rows, ranked{LayerStat{
			Node: l.label, Op: l.op, Output: out, LocalSQNRdB: Decibels(sqnrDB(l.sig, l.noise)), LocalNSR: Sig4(local),
			CumulativeSQNRdB: Decibels(cumDB), Reach: Sig4(reach), Harm: Sig4(local * reach), Exclude: l.exclude,
		}, modelled})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if ki, kj := harmKey(rows[i].stat), harmKey(rows[j].stat); ki != kj {
			return ki > kj
		}
		return rows[i].uncapped > rows[j].uncapped
	})
	for _, row := range rows {
		r.Layers = append(r.Layers, row.stat)
	}
	if worstNSR > 0 && len(r.Layers) > 0 {
		sum := 0.0
		for _, l := range r.Layers {
			if h := float64(l.Harm); h > 0 && !math.IsInf(h, 0) {
				sum += h
			}
		}
		x := Sig4(sum / worstNSR)
		r.HarmExplained = &x
	}
	k := opts.Exclusions
	if k == 0 {
		k = DefaultExclusions
	}
	for _, l := range r.Layers {
		// Without an output to attribute to, harm is each layer's own
		// error alone: not a reason to exclude it.
		if len(r.ExcludeNode) >= k || worst == "" {
			break
		}
		if l.Exclude != "" && harmKey(l) > 0 {
			r.ExcludeNode = append(r.ExcludeNode, l.Exclude)
		}
	}
	if hist != nil {
		r.Histograms = hist.report(hist.choose(r.Activations))
	}
	r.ActivationsSkipped = nonNil(actSkips)
	r.LayersSkipped = nonNil(layerSkips)
	return r, nil
}

// rerunFirst runs float on first, the first sample, again in a session
// of opts (its Observer and Hold set here) for the histograms' candidates,
// picked after that sample: their values go to the counter, held until
// counted.
func rerunFirst(float *graph.Model, first map[string]*runtime.Tensor, hist *histCollector, opts runtime.Options) error {
	candidates := hist.candidates()
	if len(candidates) == 0 {
		return nil
	}
	for _, in := range float.Graph.RealInputs() {
		if t := first[in.Name]; t != nil && candidates[in.Name] {
			hist.send(in.Name, t, nil)
		}
	}
	var sess *runtime.Session
	opts.Hold = func(v *graph.Value) bool { return v.Graph == float.Graph && candidates[v.Name] }
	opts.Observer = func(v *graph.Value, t *runtime.Tensor) {
		if opts.Hold(v) {
			hist.send(v.Name, t, func() { sess.Release(t) })
		}
	}
	sess, err := runtime.NewSession(float, opts)
	if err != nil {
		return err
	}
	_, err = sess.Run(first)
	return err
}

// sampleJob is one step of the comparison worker: a sample's start (the
// quantized run's outputs), one FP32 tensor, or the sample's end.
type sampleJob struct {
	start, fOuts, qOuts map[string]*runtime.Tensor
	sample              string
	name                string
	t                   *runtime.Tensor
	finish              bool
	held                bool // the FP32 session holds t for the worker
}

// compareWorker applies the jobs in order on its own goroutine.
type compareWorker struct {
	// The sessions whose outputs a sample's end hands back, and the
	// output statistics it adds to: set before the first sample.
	fSess, qSess *runtime.Session
	outs         *outputStats
	jobs         chan sampleJob
	done         chan struct{}
	stopped      bool
	err          error
}

// heldTensor is a tensor the FP32 session holds for the worker, shared by
// the parties that keep it: the last to drop it releases it.
type heldTensor struct {
	t       *runtime.Tensor
	refs    atomic.Int32
	release func(*runtime.Tensor)
}

func (h *heldTensor) drop() {
	if h.refs.Add(-1) == 0 {
		h.release(h.t)
	}
}

// release hands a tensor the FP32 session held for the worker back to it.
func (w *compareWorker) release(t *runtime.Tensor) { w.fSess.Release(t) }

func startWorker(run *sampleRun, hist *histCollector) *compareWorker {
	w := &compareWorker{jobs: make(chan sampleJob, 8), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if hist != nil {
			defer hist.wait() // the counter is done once the worker is
		}
		sample := ""
		for j := range w.jobs {
			switch {
			case j.start != nil:
				sample = j.sample
				run.start(j.start)
			case j.finish:
				if run.err != nil && w.err == nil {
					w.err = fmt.Errorf("sample %s: %v", sample, run.err)
				}
				w.outs.add(j.fOuts, j.qOuts)
				run.finish()
				// The sample's outputs are compared: their buffers serve
				// the runs of later samples.
				w.fSess.RecycleAll(j.fOuts)
				w.qSess.RecycleAll(j.qOuts)
				if hist != nil {
					hist.endSample()
				}
			default:
				run.observeName(j.name, j.t)
				wanted := hist != nil && hist.wanted[j.name]
				if !j.held {
					if wanted {
						hist.send(j.name, j.t, nil)
					}
					continue
				}
				// A held tensor goes back to the FP32 session once the
				// worker, the run (for a layer still waiting) and the
				// counter are all done with it.
				h := &heldTensor{t: j.t, release: w.release}
				h.refs.Store(1)
				if run.retains(j.name, j.t) {
					h.refs.Add(1)
					run.whenDone(h.drop)
				}
				if wanted {
					h.refs.Add(1)
					hist.send(j.name, j.t, h.drop)
				}
				h.drop()
			}
		}
	}()
	return w
}

// stop waits for the jobs sent so far and returns the first error; later
// calls return at once.
func (w *compareWorker) stop() error {
	if !w.stopped {
		w.stopped = true
		close(w.jobs)
		<-w.done
	}
	return w.err
}

// quantRun is one sample and the quantized model's outputs on it.
type quantRun struct {
	sample, outs map[string]*runtime.Tensor
	err          error
}

// quantRuns reads the first n samples of src and runs the quantized
// session on each, one sample ahead of the reader, until done closes.
// The channel yields them in order and stops after the first error.
func quantRuns(src *calibdata.Source, n int, names []string, qSess *runtime.Session, done <-chan struct{}) <-chan quantRun {
	ch := make(chan quantRun, 1)
	go func() {
		defer close(ch)
		for i := range n {
			var r quantRun
			r.sample, r.err = src.Sample(i)
			if r.err != nil {
				r.err = fmt.Errorf("sample %s: %v", names[i], r.err)
			} else if r.outs, r.err = qSess.Run(r.sample); r.err != nil {
				r.err = fmt.Errorf("sample %s: quantized model: %v", names[i], r.err)
			}
			select {
			case ch <- r:
			case <-done:
				return
			}
			if r.err != nil {
				return
			}
		}
	}()
	return ch
}

func nonNil(s []Skipped) []Skipped {
	if s == nil {
		return []Skipped{}
	}
	return s
}

// harmKey orders layers: NaN (no signal, no noise) last.
func harmKey(l LayerStat) float64 {
	h := float64(l.Harm)
	if math.IsNaN(h) {
		return math.Inf(-1)
	}
	return h
}

func sqnrDB(sig, noise float64) float64 {
	if sig == 0 {
		return math.NaN()
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// harm is the noise-to-signal ratio; +Inf for noise on a zero signal,
// NaN when both are zero.
func harm(sig, noise float64) float64 {
	switch {
	case sig == 0 && noise == 0:
		return math.NaN()
	case sig == 0:
		return math.Inf(1)
	}
	return noise / sig
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// floatValues maps the names of FLOAT's main-graph tensors that a run
// produces (graph inputs and node outputs) to their values.
func floatValues(m *graph.Model) map[string]*graph.Value {
	out := map[string]*graph.Value{}
	for _, v := range m.Graph.RealInputs() {
		out[v.Name] = v
	}
	for _, n := range m.Graph.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				out[v.Name] = v
			}
		}
	}
	return out
}

// isOp reports whether n is the default domain's op; for QuantizeLinear
// and DequantizeLinear, com.microsoft's twins (the 16-bit Q/DQ below
// opset 21) count too: their arithmetic is the same.
func isOp(n *graph.Node, op string) bool {
	if n == nil || n.OpType != op {
		return false
	}
	if n.Domain == "com.microsoft" {
		return op == "QuantizeLinear" || op == "DequantizeLinear"
	}
	return n.Domain == "" || n.Domain == "ai.onnx"
}

// foldable are the ops the quantizer folds into the following
// QuantizeLinear (passes' ClassFold rows): the saturation does their clip.
var foldable = map[string]bool{"Relu": true, "Clip": true, "Max": true, "Min": true}

// findActivations lists the QuantizeLinear nodes of quant's main graph that
// quantize a computed (non-constant) tensor, matched with FLOAT's tensors:
// by name, or by the original name of a rescaled value.
func findActivations(float, quant *graph.Model, fv map[string]*graph.Value, resc map[string]*rescale, dead map[string]passes.Bounds) ([]*activation, []Skipped) {
	var acts []*activation
	var skips []Skipped
	for _, n := range quant.Graph.Nodes {
		if !isOp(n, "QuantizeLinear") || len(n.Outputs) == 0 || n.Outputs[0] == nil {
			continue
		}
		x := n.Input(0)
		if x == nil || x.Const != nil {
			continue
		}
		skip := func(format string, args ...any) { skips = append(skips, Skipped{x.Name, fmt.Sprintf(format, args...)}) }
		scale, zp, typ, ok := qParams(n)
		if !ok {
			skip("not a per-tensor QuantizeLinear with constant scale and zero point")
			continue
		}
		fname, r := x.Name, resc[x.Name]
		if r != nil {
			if r.bad != "" {
				skip("rescaled, but %s", r.bad)
				continue
			}
			fname = r.orig
		}
		f := fv[fname]
		if f == nil && r != nil {
			skip("rescaled from %q, which FLOAT lacks", fname)
			continue
		}
		if f == nil {
			skip("FLOAT has no tensor of that name")
			continue
		}
		if r != nil {
			if why := r.fits(f.Shape); why != "" {
				skip("rescaled from %q, but %s", fname, why)
				continue
			}
		}
		if f.DType != graph.Undefined && f.DType != graph.Float32 {
			skip("FLOAT's tensor is %v, not float32", f.DType)
			continue
		}
		a := &activation{qOut: n.Outputs[0].Name, name: x.Name, ref: fname, resc: r, scale: scale, zp: zp, typ: typ}
		a.lo = float64(float32(typ.Min()-zp) * scale)
		a.hi = float64(float32(typ.Max()-zp) * scale)
		// A Relu/Clip the quantizer folded: FLOAT's clipped tensor is what
		// the Q/DQ stands for.
		if len(f.Consumers) == 1 {
			c := f.Consumers[0]
			if c.Graph == float.Graph && foldable[c.OpType] && (c.Domain == "" || c.Domain == "ai.onnx") && c.Input(0) == f &&
				len(c.Outputs) == 1 && c.Outputs[0] != nil && quant.Graph.Value(c.Outputs[0].Name) == nil {
				a.ref, a.folded = c.Outputs[0].Name, c.OpType
			}
		}
		a.dead, a.hasDead = dead[a.ref]
		if x.Shape != nil && f.Shape != nil && !x.Shape.Compatible(f.Shape) && (r != nil || !sameElements(x.Shape, f.Shape)) {
			skip("shapes differ: QUANT %s, FLOAT %s", graph.TypeString(x.DType, x.Shape), graph.TypeString(f.DType, f.Shape))
			continue
		}
		acts = append(acts, a)
	}
	return acts, skips
}

// sameElements tells whether two known shapes lay out the same elements
// as rows of one width (see sameRows): compared element by element.
func sameElements(a, b graph.Shape) bool {
	if !a.Known() || !b.Known() {
		return false
	}
	ints := func(s graph.Shape) []int {
		out := make([]int, len(s))
		for i, d := range s {
			out[i] = int(d.Size)
		}
		return out
	}
	return sameRows(ints(a), ints(b))
}

// qParams reads a per-tensor QuantizeLinear's constant scale and zero
// point, and its integer type.
func qParams(n *graph.Node) (scale float32, zp int32, typ qdq.Type, ok bool) {
	sv := n.Input(1)
	if sv == nil || sv.Const == nil || sv.Const.NumElements() != 1 || sv.Const.DType != graph.Float32 {
		return 0, 0, 0, false
	}
	s, err := sv.Const.Float32s()
	if err != nil || len(s) != 1 || !(s[0] > 0) {
		return 0, 0, 0, false
	}
	dt := graph.Uint8
	if o := n.Outputs[0]; o.DType != graph.Undefined {
		dt = o.DType
	}
	if zv := n.Input(2); zv != nil {
		if zv.Const == nil || zv.Const.NumElements() != 1 {
			return 0, 0, 0, false
		}
		t, err := runtime.FromGraph(zv.Const)
		if err != nil {
			return 0, 0, 0, false
		}
		f, err := t.AsFloat64()
		if err != nil || len(f) != 1 {
			return 0, 0, 0, false
		}
		zp, dt = int32(f[0]), zv.Const.DType
	}
	switch dt {
	case graph.Int8:
		typ = qdq.Int8
	case graph.Uint8:
		typ = qdq.Uint8
	case graph.Int16:
		typ = qdq.Int16
	case graph.Uint16:
		typ = qdq.Uint16
	default:
		return 0, 0, 0, false
	}
	return s[0], zp, typ, true
}

// quantRunModel returns the model the quantized run executes: quant in
// the execution form asked for, with every activation's codes (the
// QuantizeLinear outputs) as graph outputs so Run returns them. An
// activation whose codes the form does not hold is marked bad.
func quantRunModel(quant *graph.Model, integer bool, acts []*activation) (*graph.Model, error) {
	m, err := graph.Clone(quant)
	if err != nil {
		return nil, err
	}
	if integer {
		if err := lower.ForExecution(m); err != nil {
			return nil, fmt.Errorf("quantized model: %v", err)
		}
	}
	outs := map[string]bool{}
	for _, o := range m.Graph.Outputs {
		outs[o.Name] = true
	}
	for _, a := range acts {
		v := m.Graph.Value(a.qOut)
		if v == nil || v.Graph != m.Graph || v.Const != nil {
			a.bad = "the execution form fuses its QuantizeLinear away (try --integer=false)"
			continue
		}
		if !outs[v.Name] {
			m.Graph.AddOutput(v)
			outs[v.Name] = true
		}
	}
	return m, nil
}

// escapeGlob makes a node name a passes.MatchGlob pattern that matches it
// alone.
func escapeGlob(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	p := b.String()
	if !passes.MatchGlob(p, name) {
		return ""
	}
	return p
}

func hasOutput(m *graph.Model, name string) bool {
	for _, v := range m.Graph.Outputs {
		if v.Name == name {
			return true
		}
	}
	return false
}

// sameOutputs refuses a pair of models that share no output name: QUANT
// was not quantized from FLOAT, and every figure would compare unrelated
// tensors.
func sameOutputs(float, quant *graph.Model) error {
	names := func(m *graph.Model) []string {
		var out []string
		for _, v := range m.Graph.Outputs {
			out = append(out, v.Name)
		}
		return out
	}
	fn := names(float)
	for _, v := range quant.Graph.Outputs {
		if slices.Contains(fn, v.Name) {
			return nil
		}
	}
	return fmt.Errorf("compare: the models share no output name (FLOAT: %s; QUANT: %s): QUANT must be quantized from FLOAT",
		strings.Join(fn, ", "), strings.Join(names(quant), ", "))
}
