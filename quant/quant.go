// quant.go holds the facade: the configuration, the three steps of the
// quantization flow, Run doing them all, and OutputSQNR comparing the
// outputs of two models.

package quant

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// Config is the typed form of a quantization request.
type Config struct {
	// Method and CalibOptions choose and tune the range observers.
	Method       calib.Method
	CalibOptions calib.Options
	// Quant are the quantize pass's options (types, per-channel,
	// exclusions).
	Quant passes.QuantOptions
	// SelectMethods, when it names two or more methods, makes Run
	// quantize once per method (replacing Method) and keep the model whose
	// worst output SQNR on the calibration samples is highest, the earlier
	// method on a tie. No single method wins everywhere: MinMax keeps the
	// rare large values that some networks carry their signal in, and a
	// clipping method spends the steps on the bulk where those values are
	// noise; measuring the outputs tells which case a model is.
	SelectMethods []calib.Method
	// KeepMaxTails keeps the observed maximum as the upper bound of every
	// tensor whose largest values reach a max-selecting op (MaxPool, Max,
	// ReduceMax), whatever the method clips. A clipping method trades a
	// large error on rare large values for a finer step on the rest, which
	// pays when every value matters alike; a max-selecting op passes on
	// exactly the rare large values, so downstream the clipped tail is
	// what is seen. No effect with MinMax.
	KeepMaxTails bool
	// WeightRounding chooses how weights are rounded onto their grid:
	// RoundHessian rounds each layer's weights against the error of its
	// output on the calibration inputs (RoundWeights), before bias
	// correction, and keeps it only when the finished model's worst
	// output on the samples beats round-to-nearest's. DefaultConfig
	// rounds to nearest: on the shared models (ONNX Runtime, held-out
	// samples) it did not move the models short of their targets
	// (yunet_n_320 kept nearest, fastestdet 11.8 to 11.7 dB,
	// basic_pitch_nmp 12.6), lifted others (oww_hello_deepa 45.7 to 59.1,
	// ultraface_rfb_320 50.9 to 52.5, mnist_cntk 43.0 to 44.0), cost
	// dtln_stage1 0.3 dB, and made quantizing slower, by 2x to 11x on the
	// larger models and from 0.2 s to 34 s on oww_hello_deepa (a pass over
	// the samples per level of weighted layers, H's factorisation, the
	// tail of the flow done twice).
	WeightRounding WeightRounding
	// HeldOut, when set, holds samples kept out of calibration (those a
	// --target-sqnr search measures its target on) that judge two of the
	// flow's choices besides the calibration samples: RoundHessian is
	// kept only when it does not lower the worst output on them, and
	// ChooseUnits completes units only when they cost no more than its
	// allowance there too. Both fit the calibration samples: a head whose
	// output hinges on a few rare values (yunet_n_320's stride-8
	// objectness map, positive on one calibration image) gained 0.1 dB
	// there from the rounding and lost 5.8 dB on the held-out images;
	// ppocr_det_mobile_v1_1's 6 calibration images found 14 units that
	// cost them nothing and its 2 held-out ones 4.5 dB.
	HeldOut *Samples
	// FloatWeights gives the weighted ops that form no complete Q/DQ
	// unit in the finished model (within its scope: grouped Convs by
	// default) their FP32 weights and FP32-constant biases again
	// (passes.FloatWeightsOutsideUnits): ONNX Runtime runs them in float
	// either way, and dequantizes an int8 weight on every run, unprepacked
	// (a ConvNeXt-style net's two depthwise Convs: 0.33 to 0.04 ms;
	// ppocr_det_mobile_v1_1 with every such Conv: its float Convs 1.67 to
	// 1.03 ms, the file 0.31x to 0.36x; silero_vad_v5_16k_op15's file
	// 0.85x to 1.00x, hence grouped only by default). It comes after every
	// choice of the flow, which it does not sway: the units are weighed
	// against int8 weights outside them.
	FloatWeights passes.FloatWeightsScope
	// FuseHardSwish rewrites, in the finished model, each hard-swish
	// written with elementwise ops as one HardSwish op
	// (passes.FuseHardSwish), raising opset 13 to 14 for it unless
	// Quant.Opset pins a lower one: ONNX Runtime then runs two float
	// kernels between its Q/DQ in place of four, or fuses it into a float
	// Conv before it (ppocr_cls_mobile_v2: 1.31 to 1.11 ms).
	FuseHardSwish bool
	// Units says whether each quantized Conv/ConvTranspose whose readers
	// are float ops (a hard-swish, a Sigmoid, a Transpose to an output)
	// gets a Q/DQ on its output, so that it forms a complete unit that
	// ONNX Runtime runs as an integer kernel (passes.QuantOptions.
	// CompleteUnits). UnitsAuto, the zero value, tries it on the
	// calibration samples and keeps it when the worst output loses at
	// most UnitsAllowanceDB, or stays at UnitsEnoughDB or more; else it
	// completes the units that cost least within that bound (see
	// ChooseUnits).
	Units UnitCompletion
	// BiasCorrection moves each quantized node's integer bias so that its
	// output's per-channel mean on the calibration samples matches FP32.
	BiasCorrection bool
	// EqualizeActivations rescales the channels of each value between a
	// Conv and a depthwise Conv so that all span the same calibrated
	// range (one more FP32 pass over the samples measures them). Free for
	// the weights only when they are quantized per channel, so it is
	// skipped otherwise.
	EqualizeActivations bool
	// Fallback bounds the layers kept in FP32 after quantizing because
	// their quantization costs the worst output on the calibration
	// samples the most (see Fallback and ApplyFallback); MaxLayers 0, the
	// default, turns it off.
	Fallback FallbackOptions
	// Threads bounds the runtime's threads (0: all cores).
	Threads int
	// RunOptions are the pass pipeline's debugging options. A StopAfter
	// naming a prepare pass makes Quantize a no-op.
	RunOptions passes.RunOptions
	// Log receives the passes' notes (an op left in FP32 and why); nil
	// discards them.
	Log io.Writer
	// Progress, when set, is called after each calibration sample (a pass
	// over the samples per method with SelectMethods).
	Progress func(done, total int)
}

// DefaultConfig returns the command line's defaults: the better of MinMax
// and MSE calibration (MSE keeping the tails max-selecting ops read) by
// the worst output on the calibration samples, the ort-cpu preset (uint8 activations, int8 symmetric per-channel
// weights, Relu/Clip folded), bias correction, activation equalization
// in front of depthwise Convs (Result.Reference then holds the rescaled
// values, named "_equalized"), hard-swish fusion, all cores. Method is
// used only when SelectMethods is empty. The FP32 fallback is off: on the shared models its calibration gains did not
// carry over to the evaluation samples (none of the models short of its
// target gained, yunet_n_320 lost 1.1 dB); DefaultFallback holds its
// settings for those who turn it on.
func DefaultConfig() Config {
	return Config{
		Method:              calib.MinMax,
		SelectMethods:       []calib.Method{calib.MinMax, calib.MSE},
		KeepMaxTails:        true,
		CalibOptions:        calib.DefaultOptions(),
		Quant:               passes.PresetORTCPU(),
		BiasCorrection:      true,
		EqualizeActivations: true,
		FuseHardSwish:       true,
	}
}

// Result is what Run produced besides the edited model.
type Result struct {
	// Reference is a copy of the prepared FP32 model, before Q/DQ: the
	// values the ranges were measured on.
	Reference *graph.Model
	// Collection holds the calibration statistics.
	Collection *calib.Collection
	// Report says what the quantize pass did; nil when the pipeline
	// stopped before it.
	Report *passes.QuantReport
	// Bias says what bias correction did; nil when it did not run.
	Bias *BiasReport
	// Rounding says what RoundWeights did; nil when it did not run.
	Rounding *RoundReport
	// Method is the calibration method of the model Run returned; with
	// several SelectMethods, Selected is that model's worst output SQNR,
	// in dB, on the calibration samples.
	Method   calib.Method
	Selected float64
	// Fallback says which layers were kept in FP32 and why; nil when the
	// fallback did not run.
	Fallback *FallbackReport
	// Idle says what keeping idle inputs in float did (see
	// passes.QuantOptions.FloatIdleInputs); nil when there were none.
	Idle *IdleReport
	// FloatWeights names the weighted ops given their FP32 weights back
	// (Config.FloatWeights), as "name (op)".
	FloatWeights []string
	// HardSwish says what Config.FuseHardSwish did; nil when it did not
	// run.
	HardSwish *passes.HardSwishFusion
}

func (cfg Config) context() *passes.Context {
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	return &passes.Context{Log: log, Values: map[string]any{}}
}

// stopsInPrepare tells whether RunOptions.StopAfter names a prepare pass.
func (cfg Config) stopsInPrepare() bool {
	return cfg.RunOptions.StopAfter != "" && slices.Contains(passes.Names(passes.PreparePasses()), cfg.RunOptions.StopAfter)
}

// StopsBeforeQuantize tells whether a pipeline stopped after the pass
// named stopAfter ends before the quantize pass: a prepare pass or
// equalize-activations.
func StopsBeforeQuantize(stopAfter string) bool {
	return stopAfter != "" && (stopAfter == "equalize-activations" || slices.Contains(passes.Names(passes.PreparePasses()), stopAfter))
}

// stopsBeforeQuantize is StopsBeforeQuantize of RunOptions.StopAfter.
func (cfg Config) stopsBeforeQuantize() bool { return StopsBeforeQuantize(cfg.RunOptions.StopAfter) }

// preparedCopy returns ref, the prepared FP32 model, copied and prepared
// again for cfg: a copy drops what shape inference added, and preparing
// it restores the state the prepared model was in.
func preparedCopy(ref *graph.Model, cfg Config) (*graph.Model, error) {
	cand, err := Clone(ref)
	if err != nil {
		return nil, err
	}
	if err := Prepare(cand, cfg); err != nil {
		return nil, err
	}
	return cand, nil
}

// Prepare runs the prepare passes on m in place.
func Prepare(m *graph.Model, cfg Config) error {
	if m == nil || m.Graph == nil {
		return errors.New("quant: no model")
	}
	return passes.Run(m, cfg.context(), passes.PreparePasses(), cfg.RunOptions)
}

// Calibrate runs the prepared model m on every sample of src and feeds
// every float32 value (graph inputs too) to into's observers, sample by
// sample in order. A value with dead bounds (passes.DeadBounds) is
// observed clamped to them, as its readers see it: a method that trades
// clipping against rounding (MSE, entropy) then weighs only the values
// that matter, with the steps the clamped range really has. Left
// unclamped, the negative half of a Conv output read by a hard-swish or
// a Relu would widen the clip chosen for its positive half.
func Calibrate(m *graph.Model, src *Samples, cfg Config, into *calib.Collection) error {
	return CalibrateAll(m, src, cfg, into)
}

// CalibrateAll is Calibrate feeding every value to each collection of
// into (of different methods, say) from one pass over the samples: each
// gets what Calibrate would give it alone.
func CalibrateAll(m *graph.Model, src *Samples, cfg Config, into ...*calib.Collection) error {
	if m == nil || m.Graph == nil {
		return errors.New("quant: no model")
	}
	if len(into) == 0 || slices.Contains(into, nil) {
		return errors.New("quant: no collection to calibrate into")
	}
	if src == nil {
		return nil
	}
	bounds := passes.DeadBounds(m)
	observe := func(name string, f []float32) {
		f = clampedTo(f, bounds, name)
		for _, c := range into {
			c.Observe(name, f)
		}
	}
	sess, err := runtime.NewSession(m, runtime.Options{Threads: cfg.Threads, Observer: func(v *graph.Value, t *runtime.Tensor) {
		if f := t.F32(); f != nil {
			observe(v.Name, f)
		}
	}})
	if err != nil {
		return err
	}
	names := src.Names()
	n := src.Len()
	for i := 0; i < n; i++ {
		sample, err := src.Sample(i)
		if err != nil {
			return fmt.Errorf("calibration samples: %v", err)
		}
		// The observer sees only what nodes produce; graph inputs are
		// activations too. Observed in input order, for determinism.
		for _, in := range sess.Inputs() {
			if t := sample[in.Name]; t != nil {
				if f := t.F32(); f != nil {
					observe(in.Name, f)
				}
			}
		}
		if _, err := sess.Run(sample); err != nil {
			return &SampleError{Sample: names[i], Err: err}
		}
		if cfg.Progress != nil {
			cfg.Progress(i+1, n)
		}
	}
	return nil
}

// CalibrateMethods returns the statistics of each of methods (with
// cfg.CalibOptions) on the prepared model m, in their order, from one
// CalibrateAll pass over src.
func CalibrateMethods(m *graph.Model, src *Samples, cfg Config, methods []calib.Method) ([]*calib.Collection, error) {
	colls := make([]*calib.Collection, len(methods))
	for i, method := range methods {
		var err error
		if colls[i], err = calib.New(method, cfg.CalibOptions); err != nil {
			return nil, err
		}
	}
	if err := CalibrateAll(m, src, cfg, colls...); err != nil {
		return nil, err
	}
	return colls, nil
}

// Ranges turns calibrated statistics into the quantize pass's ranges.
func Ranges(c *calib.Collection) map[string]passes.Range {
	ranges := map[string]passes.Range{}
	if c == nil {
		return ranges
	}
	stats := c.Stats()
	for name, r := range c.Ranges() {
		// a tensor of which no finite value was seen (empty arrays,
		// NaN only) has no range: it stays float
		if st, ok := stats[name]; ok && st.Values == 0 {
			continue
		}
		ranges[name] = passes.Range{Min: r.Min, Max: r.Max}
	}
	return ranges
}

// QuantizeCollected is Quantize from calibration statistics: the ranges
// RangesFor picks, and with cfg.Quant.WideFrontEnd the observed extremes
// its 16-bit activations reach.
func QuantizeCollected(m *graph.Model, coll *calib.Collection, cfg Config) (*passes.QuantReport, error) {
	if m == nil || m.Graph == nil || coll == nil {
		return nil, errors.New("quantize: a model and calibration statistics are needed")
	}
	if cfg.Quant.WideFrontEnd {
		cfg.Quant.Extremes = Extremes(coll)
	}
	return Quantize(m, RangesFor(m, coll, cfg), cfg)
}

// Quantize inserts Q/DQ into the prepared model m by the rule table, from
// the activation ranges, and returns the pass's report. When
// cfg.RunOptions.StopAfter names a pass before it (a prepare pass,
// equalize-activations) it does nothing and returns a nil report.
func Quantize(m *graph.Model, ranges map[string]passes.Range, cfg Config) (*passes.QuantReport, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("quant: no model")
	}
	if cfg.stopsBeforeQuantize() {
		return nil, nil
	}
	ctx := cfg.context()
	if err := passes.Run(m, ctx, []passes.Pass{passes.QuantizePass(ranges, cfg.Quant)}, cfg.RunOptions); err != nil {
		return nil, err
	}
	report, _ := ctx.Values[passes.QuantReportKey].(*passes.QuantReport)
	return report, nil
}

// Run quantizes m in place: Prepare, Calibrate on src (OpenSamples,
// MemorySamples or SyntheticSamples; nil is an error), Quantize (and
// CorrectBiases when asked). It keeps a copy of the prepared FP32 model as
// the reference for OutputSQNR. With several SelectMethods it does the
// steps after Prepare once per method and keeps the model whose worst
// output is best on src. With cfg.Fallback it then quantizes the kept
// method's statistics once more with the FP32 fallback and keeps that
// model when it gains cfg.Fallback.MinGainDB (see withFallback).
func Run(m *graph.Model, src *Samples, cfg Config) (*Result, error) {
	if src == nil || src.Len() == 0 {
		return nil, errors.New("quant: no calibration samples (OpenSamples, MemorySamples or SyntheticSamples make them)")
	}
	if cfg.Fallback.MaxLayers != 0 {
		if err := cfg.Fallback.Validate(); err != nil {
			return nil, err
		}
	}
	if already := passes.QuantizationNodes(m); len(already) > 0 {
		// refused before calibration, which would be spent for nothing
		return nil, fmt.Errorf("quant: the model is already quantized (node %q is %s); give the FP32 model", already[0].Name, already[0].OpType)
	}
	if err := Prepare(m, cfg); err != nil {
		return nil, err
	}
	if cfg.EqualizeActivations && cfg.Quant.PerChannel && !cfg.stopsInPrepare() {
		if err := EqualizeActivations(m, src, cfg); err != nil {
			return nil, fmt.Errorf("equalize activations: %v", err)
		}
	}
	ref, err := Clone(m)
	if err != nil {
		return nil, err
	}
	fallback := cfg.Fallback
	cfg.Fallback.MaxLayers = 0
	res, err := runMethods(m, ref, src, cfg)
	if err == nil && fallback.MaxLayers > 0 && res.Report != nil && src != nil && src.Len() > 0 {
		cfg.Fallback = fallback
		res, err = ApplyFallback(m, src, cfg, res)
	}
	if err != nil || res == nil || res.Report == nil {
		return res, err
	}
	res.FloatWeights, res.HardSwish, err = Finish(m, res.Reference, cfg, res.Report)
	return res, err
}

// Finish does the steps that come after every choice of the flow on the
// quantized model m, whose prepared FP32 model is ref and whose quantize
// report is report: the factors of the Muls equalize-activations put
// before hard-swishes moved into their Q/DQ (passes.FoldRescaleMuls),
// FP32 weights for the weighted ops outside complete
// units (cfg.FloatWeights), the float layers pinned float for ONNX
// Runtime (passes.PinFloatLayers) and the hard-swish fusion
// (cfg.FuseHardSwish, noted in report), then the constants nothing reads
// any more are removed and the report's reasons reworded for the float
// ops left between Q/DQ (QuantReport.NoteQuantizedAround). It returns what
// the FP32 weights step and the fusion did; the fusion is nil when it did
// not run.
func Finish(m, ref *graph.Model, cfg Config, report *passes.QuantReport) (floatWeights []string, hardSwish *passes.HardSwishFusion, err error) {
	folded, err := passes.FoldRescaleMuls(m)
	if err != nil {
		return nil, nil, err
	}
	report.NoteRescaleFolds(folded)
	if floatWeights, err = passes.FloatWeightsOutsideUnits(m, ref, cfg.FloatWeights); err != nil {
		return floatWeights, nil, err
	}
	if _, err = passes.PinFloatLayers(m); err != nil {
		return floatWeights, nil, err
	}
	if cfg.FuseHardSwish {
		if hardSwish, err = passes.FuseHardSwish(m, cfg.Quant.AllowsOpset(passes.HardSwishOpset)); err != nil {
			return floatWeights, nil, fmt.Errorf("fusing hard-swish: %v", err)
		}
		report.NoteHardSwish(hardSwish)
	}
	if _, err = passes.GuardDQPropagation(m); err != nil {
		return floatWeights, hardSwish, err
	}
	report.NoteQuantizedAround(m)
	// The fused ops' constants, and weights given back in FP32, are read
	// by nothing now; ONNX Runtime warns about each one left.
	_, _, err = passes.PruneDead(m)
	return floatWeights, hardSwish, err
}

// ApplyFallback quantizes res.Reference again with res's method and
// statistics (res.Method, res.Collection), with the FP32 fallback of
// cfg.Fallback before bias correction, and puts that model in m when its
// worst output on src beats m's by cfg.Fallback.MinGainDB; m is the model
// res describes. It returns the result of the model m holds, its Fallback
// saying what was tried. The method is chosen without the fallback: the
// fallback repairs a few layers of the method that suits the model and
// must not sway the choice of method, which the calibration samples
// decide less surely than it seems. Measuring the finished model guards
// against a gain the bias correction makes anyway.
func ApplyFallback(m *graph.Model, src *Samples, cfg Config, res *Result) (*Result, error) {
	if m == nil || m.Graph == nil || res == nil || res.Reference == nil || res.Collection == nil {
		return nil, errors.New("quant: ApplyFallback needs a quantized model and its result")
	}
	fallback := cfg.Fallback
	if fallback.MaxLayers == 0 || res.Report == nil || src == nil || src.Len() == 0 {
		return res, nil
	}
	ref := res.Reference
	if w, c := Coverage(m); fallbackBudget(w, c, fallback.MaxLayers) == 0 {
		res.Fallback = &FallbackReport{Weighted: w, Covered: c}
		return res, nil
	}
	before, err := WorstOutputSQNR(ref, m, src, cfg.Threads)
	if err != nil {
		return nil, err
	}
	cand, err := preparedCopy(ref, cfg)
	if err != nil {
		return nil, err
	}
	c := cfg
	c.Method, c.Fallback = res.Method, fallback
	res2, err := quantizeCollected(cand, ref, src, c, res.Collection)
	if err != nil {
		return nil, err
	}
	if res2.Fallback == nil || len(res2.Fallback.Picks) == 0 {
		res.Fallback = res2.Fallback
		return res, nil
	}
	after, err := WorstOutputSQNR(ref, cand, src, cfg.Threads)
	if err != nil {
		return nil, err
	}
	res2.Fallback.Final = [2]float64{before, after}
	if !(after >= before+fallback.MinGainDB) {
		res2.Fallback.Dropped = true
		res.Fallback = res2.Fallback
		return res, nil
	}
	res2.Selected = after
	*m = *cand
	return res2, nil
}

// runMethods does Run's steps after Prepare once per cfg.SelectMethods
// (or with cfg.Method alone) and leaves the best model in m; it then keeps
// idle inputs in float when cfg.Quant.FloatIdleInputs asks and that is no
// worse, and completes the units ChooseUnits keeps against that model,
// each candidate keeping its own idle inputs in float when no worse.
func runMethods(m, ref *graph.Model, src *Samples, cfg Config) (*Result, error) {
	if cfg.Units == UnitsOn {
		cfg.Quant.CompleteUnits = true
	}
	res, err := runBestMethod(m, ref, src, cfg)
	if err != nil || res == nil || res.Report == nil {
		return res, err
	}
	base := res.Selected
	if len(cfg.SelectMethods) < 2 && src != nil && src.Len() > 0 {
		if base, err = WorstOutputSQNR(ref, m, src, cfg.Threads); err != nil {
			return nil, err
		}
	}
	if cfg.Quant.FloatIdleInputs {
		if res, base, err = floatIdleInputs(m, ref, src, cfg, res, base); err != nil {
			return nil, err
		}
	}
	// Each units candidate keeps its own idle inputs in float when no
	// worse, as the model it competes with did.
	var completed *Result
	choice, err := ChooseUnits(ref, m, src, cfg, base, func(cand *graph.Model, c Config) (*passes.QuantReport, error) {
		c.Method = res.Method
		report, err := QuantizeCollected(cand, res.Collection, c)
		if err != nil || report == nil || report.UnitsCompleted == 0 {
			// nothing to complete: the candidate is dropped unmeasured
			return report, err
		}
		r, err := finishCollected(cand, ref, src, c, res.Collection, report)
		if err != nil {
			return nil, err
		}
		completed = r
		if cfg.Quant.FloatIdleInputs && r.Report != nil && r.Report.UnitsCompleted > 0 {
			if completed, _, err = floatIdleInputs(cand, ref, src, c, r, math.NaN()); err != nil {
				return nil, err
			}
		}
		return completed.Report, nil
	})
	if err != nil || choice == nil || !choice.Kept {
		return res, err
	}
	completed.Method, completed.Selected = res.Method, choice.After
	*m = *choice.Model
	return completed, nil
}

// runBestMethod is runMethods before the units are completed.
func runBestMethod(m, ref *graph.Model, src *Samples, cfg Config) (*Result, error) {
	methods := cfg.SelectMethods
	if len(methods) < 2 || src == nil || src.Len() == 0 || cfg.stopsBeforeQuantize() {
		return runMethod(m, ref, src, cfg)
	}
	results := make([]*Result, len(methods))
	var colls []*calib.Collection
	best, bestModel, err := ChooseMethod(ref, src, cfg, methods, func(i int, cand *graph.Model, c Config) error {
		if i == 0 {
			// The methods observe the same prepared model on the same
			// samples: one pass feeds all of them.
			var err error
			if colls, err = CalibrateMethods(cand, src, c, methods); err != nil {
				return err
			}
		}
		res, err := runCollected(cand, ref, src, c, colls[i])
		results[i] = res
		return err
	}, func(i int, db float64) {
		results[i].Method, results[i].Selected = methods[i], db
	})
	if err != nil {
		return nil, err
	}
	*m = *bestModel
	return results[best], nil
}

// UnitCompletion chooses Config.Units.
type UnitCompletion int

// Unit completion modes.
const (
	UnitsAuto UnitCompletion = iota // tried, kept by ChooseUnits
	UnitsOn                         // always
	UnitsOff                        // never
)

// ParseUnitCompletion reads "auto", "on" or "off".
func ParseUnitCompletion(s string) (UnitCompletion, error) {
	switch s {
	case "auto", "":
		return UnitsAuto, nil
	case "on":
		return UnitsOn, nil
	case "off":
		return UnitsOff, nil
	}
	return 0, fmt.Errorf("%q is not auto, on or off", s)
}

// ChooseMethod quantizes a freshly prepared copy of ref once per method
// (quantize gets cfg with Method set) and scores each copy by its worst
// output SQNR on src. It returns the index of the best, the earlier on a
// tie, and that copy; scored, when set, sees each score as it is measured.
func ChooseMethod(ref *graph.Model, src *Samples, cfg Config, methods []calib.Method,
	quantize func(i int, cand *graph.Model, c Config) error, scored func(i int, db float64)) (int, *graph.Model, error) {
	if quantize == nil {
		return 0, nil, errors.New("quant: ChooseMethod needs a quantize function")
	}
	best, bestDB := -1, math.Inf(-1)
	var bestModel *graph.Model
	for i, method := range methods {
		c := cfg
		c.Method = method
		cand, err := preparedCopy(ref, c)
		if err != nil {
			return 0, nil, err
		}
		// A failure of the first method is the model's (it runs no op of
		// some node, say), whatever the method: only a later one's is named.
		named := func(err error) error {
			if i == 0 {
				return err
			}
			return fmt.Errorf("method %s: %v", method, err)
		}
		if err := quantize(i, cand, c); err != nil {
			return 0, nil, named(err)
		}
		db, err := WorstOutputSQNR(ref, cand, src, cfg.Threads)
		if err != nil {
			return 0, nil, named(err)
		}
		if scored != nil {
			scored(i, db)
		}
		if best < 0 || db > bestDB {
			best, bestDB, bestModel = i, db, cand
		}
	}
	return best, bestModel, nil
}

// runMethod calibrates the prepared model m with cfg.Method, quantizes it
// and corrects its biases when asked.
func runMethod(m, ref *graph.Model, src *Samples, cfg Config) (*Result, error) {
	coll, err := calib.New(cfg.Method, cfg.CalibOptions)
	if err != nil {
		return nil, err
	}
	if err := Calibrate(m, src, cfg, coll); err != nil {
		return nil, err
	}
	return runCollected(m, ref, src, cfg, coll)
}

// runCollected is runMethod on statistics already collected.
func runCollected(m, ref *graph.Model, src *Samples, cfg Config, coll *calib.Collection) (*Result, error) {
	if err := NoValuesSeen(m, coll); err != nil {
		return nil, err
	}
	return quantizeCollected(m, ref, src, cfg, coll)
}

// NoValuesSeen returns an error when m has a float32 input and the
// calibration statistics coll saw no value of any of them (every sample
// an empty array): ranges from nothing would quantize nothing.
func NoValuesSeen(m *graph.Model, coll *calib.Collection) error {
	if m == nil || m.Graph == nil || coll == nil {
		return nil
	}
	stats := coll.Stats()
	float := false
	for _, in := range m.Graph.RealInputs() {
		if in.DType == graph.Float32 {
			float = true
			if stats[in.Name].Values+stats[in.Name].NaN+stats[in.Name].Inf > 0 {
				return nil
			}
		}
	}
	if float {
		return errors.New("the calibration samples hold no values (arrays with a dimension of 0?): nothing to calibrate on")
	}
	return nil
}

// quantizeCollected quantizes the prepared model m from the statistics
// coll, applies the fallback and corrects biases when asked.
func quantizeCollected(m, ref *graph.Model, src *Samples, cfg Config, coll *calib.Collection) (*Result, error) {
	report, err := QuantizeCollected(m, coll, cfg)
	if err != nil {
		return nil, err
	}
	return finishCollected(m, ref, src, cfg, coll, report)
}

// finishCollected is quantizeCollected after the quantize pass, which
// reported report.
func finishCollected(m, ref *graph.Model, src *Samples, cfg Config, coll *calib.Collection, report *passes.QuantReport) (*Result, error) {
	res := &Result{Reference: ref, Collection: coll, Report: report, Method: cfg.Method}
	if cfg.WeightRounding != RoundHessian || report == nil || src == nil || src.Len() == 0 {
		return res, finishQuantized(m, ref, src, cfg, res)
	}
	var nres *Result
	rep, err := RoundGuarded(ref, m, src, cfg, HeldOutSQNR(ref, cfg), func(x *graph.Model, rounded bool) (float64, error) {
		r := &Result{Reference: ref, Collection: coll, Report: report, Method: cfg.Method}
		if rounded {
			r = res
		} else {
			nres = r
		}
		if err := finishQuantized(x, ref, src, cfg, r); err != nil {
			return 0, err
		}
		return finishedSQNR(ref, x, src, cfg, r)
	})
	if err != nil {
		return nil, err
	}
	if nres != nil && !rep.Applied {
		res = nres
	}
	res.Rounding = rep
	return res, nil
}

// HeldOutSQNR returns the function that measures a quantized model's
// worst output SQNR against ref on cfg.HeldOut (RoundGuarded's held), or
// nil without held-out samples.
func HeldOutSQNR(ref *graph.Model, cfg Config) func(m *graph.Model) (float64, error) {
	h := cfg.HeldOut
	if h == nil || h.Len() == 0 {
		return nil
	}
	return func(m *graph.Model) (float64, error) { return WorstOutputSQNR(ref, m, h, cfg.Threads) }
}

// RoundGuarded applies RoundWeights to q (quantized from the prepared
// FP32 model ref) and keeps it only when the finished model's worst
// output beats round-to-nearest's on the same samples and, when held is
// given, does not fall below it on the samples held measures (held out
// of calibration): the rounding fits the calibration inputs and can lose
// on a model whose worst output hinges on a few values (yunet_n_320's
// objectness maps). finish does what follows the rounding (bias
// correction, ...) on a model, rounded or not, and returns that worst
// output SQNR in dB; it runs on q and, when any layer was rounded, on a
// copy of q at round-to-nearest, which q then becomes if it wins. held
// returns a finished model's worst output SQNR on the held-out samples.
// The report says which was kept.
func RoundGuarded(ref, q *graph.Model, src *Samples, cfg Config, held func(m *graph.Model) (float64, error), finish func(m *graph.Model, rounded bool) (float64, error)) (*RoundReport, error) {
	if finish == nil {
		return nil, errors.New("quant: RoundGuarded needs a finish function")
	}
	near, err := Clone(q)
	if err != nil {
		return nil, err
	}
	rep, err := RoundWeights(ref, q, src, cfg.Quant, cfg.Threads)
	if err != nil {
		return nil, fmt.Errorf("weight rounding: %v", err)
	}
	if rep.Layers == 0 {
		if _, err := finish(q, false); err != nil {
			return nil, err
		}
		return rep, nil
	}
	if rep.After, err = finish(q, true); err != nil {
		return nil, err
	}
	if rep.Before, err = finish(near, false); err != nil {
		return nil, err
	}
	rep.Applied = rep.After > rep.Before
	if rep.Applied && held != nil {
		if rep.HeldAfter, err = held(q); err != nil {
			return nil, err
		}
		if rep.HeldBefore, err = held(near); err != nil {
			return nil, err
		}
		rep.Applied = !(rep.HeldAfter < rep.HeldBefore)
	}
	if !rep.Applied {
		*q = *near
	}
	return rep, nil
}

// finishQuantized does quantizeCollected's steps after weight rounding on
// m: the FP32 fallback and bias correction when asked, noted in res.
func finishQuantized(m, ref *graph.Model, src *Samples, cfg Config, res *Result) error {
	var err error
	// The fallback comes before bias correction: a corrected bias absorbs
	// the mean error of the layers before it, so putting one of those
	// back in float after the correction would leave the later biases
	// correcting an error that is gone.
	if cfg.Fallback.MaxLayers > 0 && res.Report != nil && src != nil && src.Len() > 0 {
		before := countQuantized(m)
		if res.Fallback, err = Fallback(ref, m, src, cfg.Fallback, cfg.Threads); err != nil {
			return err
		}
		res.Report = noteFallback(res.Report, res.Fallback.Picks, before, countQuantized(m))
	}
	if cfg.BiasCorrection && res.Report != nil {
		if res.Bias, err = CorrectBiases(ref, m, src, cfg.Threads, nil); err != nil {
			return fmt.Errorf("bias correction: %v", err)
		}
	}
	return nil
}

// finishedSQNR is the worst output SQNR of the finished model m on src:
// bias correction's last measurement when it ran, else measured.
func finishedSQNR(ref, m *graph.Model, src *Samples, cfg Config, res *Result) (float64, error) {
	if b := res.Bias; b != nil && b.Candidates > 0 {
		if b.Applied {
			return b.After, nil
		}
		return b.Before, nil
	}
	return WorstOutputSQNR(ref, m, src, cfg.Threads)
}

// Clone returns an independent copy of m (graph.Clone).
func Clone(m *graph.Model) (*graph.Model, error) { return graph.Clone(m) }

// OutputResult is the SQNR of one graph output.
type OutputResult struct {
	Name    string
	DB      float64 // +Inf when the outputs are equal
	Samples int
	// Silent: the FP32 output is zero wherever it is finite on these
	// samples, so DB measures nothing of the model's accuracy (a
	// sequence length of 0 leaves an RNN's output all zeros).
	Silent bool
	// Discrete: the output is of an integer or bool type (class indices,
	// masks), which has no SQNR (DB is NaN); Differ of its Elements
	// differ from FP32's.
	Discrete         bool
	Differ, Elements int
	// NonFinite counts, for a float output, the Elements at which FP32 is
	// NaN or infinite, which DB leaves out (all of them: DB is NaN).
	NonFinite int
}

// OutputSQNR runs fp32 and q in onnxq's runtime on the first n samples of
// src and pools the SQNR of each output of q over them, in q's output
// order. q runs as it would in ONNX Runtime (asRun): every figure the
// flow chooses by is measured so. Integer and bool outputs are counted element by element
// (OutputResult.Discrete); outputs of other types, of different types in
// the two models, or of different sizes are left out.
func OutputSQNR(fp32, q *graph.Model, src *Samples, n, threads int) ([]OutputResult, error) {
	out, _, err := OutputSQNRWatching(fp32, q, src, n, threads, nil)
	return out, err
}

// OutputSQNRWatching is OutputSQNR that also returns, for each value of
// fp32 that watch names, the smallest and largest value the FP32 run
// reaches on the samples, clamped to its dead bounds (passes.DeadBounds)
// as calibration observes it (see Calibrate).
func OutputSQNRWatching(fp32, q *graph.Model, src *Samples, n, threads int, watch map[string]bool) ([]OutputResult, map[string]calib.Range, error) {
	if fp32 == nil || q == nil || src == nil {
		return nil, nil, errors.New("quant: OutputSQNR needs two models and samples")
	}
	// A MinMax collection keeps each watched value's finite extremes,
	// whatever order the runs' threads report them in.
	seen, err := calib.New(calib.MinMax, calib.DefaultOptions())
	if err != nil {
		return nil, nil, err
	}
	var bounds map[string]passes.Bounds
	if len(watch) > 0 {
		bounds = passes.DeadBounds(fp32)
	}
	observe := func(name string, t *runtime.Tensor) {
		if !watch[name] {
			return
		}
		if f := t.F32(); f != nil {
			seen.Observe(name, clampedTo(f, bounds, name))
		}
	}
	opts := runtime.Options{Threads: threads}
	if len(watch) > 0 {
		opts.Observer = func(v *graph.Value, t *runtime.Tensor) { observe(v.Name, t) }
	}
	var ref *runtime.Session
	runRef := func(sample map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
		if ref == nil {
			var err error
			if ref, err = runtime.NewSession(fp32, opts); err != nil {
				return nil, err
			}
		}
		return ref.Run(sample)
	}
	// Without values to watch, the FP32 outputs are kept with the samples
	// for the next candidate measured against the same model.
	var kept *referenceKey
	if len(watch) == 0 {
		kept = referenceOf(fp32)
	}
	qr, err := asRun(q)
	if err != nil {
		return nil, nil, err
	}
	quant, err := runtime.NewSession(qr, runtime.Options{Threads: threads})
	if err != nil {
		return nil, nil, err
	}
	n = min(n, src.Len())
	refAll := map[string][]float32{}
	gotAll := map[string][]float32{}
	type counts struct{ differ, elements int }
	discrete := map[string]*counts{}
	for i := 0; i < n; i++ {
		sample, err := src.Sample(i)
		if err != nil {
			return nil, nil, err
		}
		// The observer sees what nodes produce; graph inputs are
		// activations too.
		for name, t := range sample {
			observe(name, t)
		}
		var a map[string]*runtime.Tensor
		if kept != nil {
			v, err := src.Remember(i, *kept, func() (any, error) { return runRef(sample) })
			if err != nil {
				return nil, nil, err
			}
			a = v.(map[string]*runtime.Tensor)
			// Outputs too large to keep for every sample are computed
			// each time.
			if i == 0 && int64(n)*tensorBytes(a) > maxKeptReference {
				kept = nil
			}
		} else if a, err = runRef(sample); err != nil {
			return nil, nil, err
		}
		b, err := quant.Run(sample)
		if err != nil {
			return nil, nil, errors.New("the quantized model does not run: " + err.Error())
		}
		for name, t := range a {
			bt := b[name]
			if bt == nil {
				continue
			}
			fr, fq := t.FloatValues(), bt.FloatValues()
			if fr == nil && fq == nil { // integer or bool: counted when of one type and size
				if c, _, ok := runtime.DifferingElements(t, bt); ok {
					if discrete[name] == nil {
						discrete[name] = &counts{}
					}
					discrete[name].differ += c
					discrete[name].elements += t.Len()
				}
				continue
			}
			if fr == nil || fq == nil || len(fr) != len(fq) {
				continue
			}
			refAll[name] = append(refAll[name], fr...)
			gotAll[name] = append(gotAll[name], fq...)
		}
	}
	var out []OutputResult
	for _, v := range q.Graph.Outputs {
		if r, ok := refAll[v.Name]; ok {
			// both hold the same samples' values, appended together
			sig, noise, counted := qdq.Energies(r, gotAll[v.Name])
			out = append(out, OutputResult{Name: v.Name, DB: qdq.SQNRFromEnergies(sig, noise, counted), Samples: n, Silent: counted > 0 && sig == 0,
				Elements: len(r), NonFinite: len(r) - counted})
		} else if c := discrete[v.Name]; c != nil {
			out = append(out, OutputResult{Name: v.Name, DB: math.NaN(), Samples: n, Discrete: true, Differ: c.differ, Elements: c.elements})
		}
	}
	return out, seen.Extremes(), nil
}

// maxKeptReference bounds the FP32 outputs OutputSQNR keeps with the
// samples, in bytes.
const maxKeptReference = 256 << 20

// referenceKey names a model's outputs kept with the samples: the SHA-256
// of its encoding, so that a model changed in place is not taken for the
// one measured before.
type referenceKey struct{ sum [sha256.Size]byte }

// maxKeyedModel bounds the initializers of a model referenceOf encodes to
// hash, in bytes: the encoding is a second copy of them for a moment.
const maxKeyedModel = 512 << 20

// referenceOf returns m's key, nil when m does not encode or is too large
// to encode for a key.
func referenceOf(m *graph.Model) *referenceKey {
	var size int64
	m.Graph.Walk(func(g *graph.Graph) {
		for _, v := range g.Initializers {
			if v.Const != nil {
				size += v.Const.ByteSize()
			}
		}
	})
	if size > maxKeyedModel {
		return nil
	}
	data, err := graph.Encode(m)
	if err != nil {
		return nil
	}
	return &referenceKey{sha256.Sum256(data)}
}

// tensorBytes is the size of the tensors' values.
func tensorBytes(ts map[string]*runtime.Tensor) int64 {
	var n int64
	for _, t := range ts {
		if t != nil {
			n += t.Bytes()
		}
	}
	return n
}

// asRun is a copy of m with its complete units lowered to the integer ops
// ONNX Runtime runs them as (lower.Execution). The float reading of the
// same Q/DQ model differs wherever one step matters: choices measured on
// it picked for a model ONNX Runtime does not run (ppocr_det_mobile_v1_1
// completed units that cost it 4.4 dB on the held-out images as run, and
// a --target-sqnr said "met" at 47.8 dB of a model that ran at 44.9).
func asRun(m *graph.Model) (*graph.Model, error) { return lower.ExecutionCopy(m) }
