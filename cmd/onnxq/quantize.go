package main

// The main job: "onnxq MODEL -o OUT" quantizes MODEL to a QDQ INT8 model.
// It prepares the FP32 graph, calibrates activation ranges by running it
// on the user's samples, inserts Q/DQ by the rule table, writes OUT
// atomically and reports what was quantized and how much the outputs moved.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/compare"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/report"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// quantizeConfig is the typed form of the main job's command line.
type quantizeConfig struct {
	Model   string
	Out     string
	Version bool
	// overrides are --config's, as read
	overrides map[string]passes.TensorOverride

	Calib     string
	Synthetic int
	Seed      int64
	// Shapes fix the shapes of synthetic samples' inputs (--shape).
	Shapes     map[string][]int64
	Method     string
	Percentile float64
	Target     string
	Format     string
	SaveCalib  string
	LoadCalib  []string
	Threads    int
	EvalMax    int
	// Eval names the summary's samples; EvalAll (--eval without
	// --eval-samples) runs all of them.
	Eval    string
	EvalAll bool
	Config  string
	Opset   int64
	// Report names the HTML accuracy report to write (--report).
	Report string

	ActivationType       string
	WeightType           string
	PerChannel           bool
	SymmetricActivations bool
	ReduceRange          bool
	BiasCorrection       bool
	WeightRounding       string
	CompleteUnits        string
	FallbackBudget       int
	// TargetSQNR and MaxDrop (percentage points) ask for the
	// accuracy-driven search; TargetSet and DropSet say they were given.
	TargetSQNR, MaxDrop float64
	TargetSet, DropSet  bool
	TuneTimeout         time.Duration
	// MaxFP32MACs is --max-fp32-macs, in percent
	MaxFP32MACs         float64
	RequireTarget       bool
	EvalSamplesSet      bool
	OpsetSet            bool // --opset given: 0 then is a bad value, not the default
	WeightOnly          bool
	WeightOnlySet       bool // --weight-only given; else the target's
	WideFrontEnd        bool
	WideFrontEndSet     bool // --wide-front-end given; else the target's
	FloatIdleInputs     bool
	FloatIdleInputsSet  bool // --float-idle-inputs given; else the target's
	FloatWeights        string
	FuseHardSwish       bool
	EqualizeActivations bool
	// equalizeAsked: --equalize-activations was given on the command line.
	equalizeAsked bool
	// equalizeOffForStats: equalization was asked for (the default) but
	// is off because statistics are saved or loaded.
	equalizeOffForStats bool
	KeepMaxTails        bool
	ExcludeOps          []string
	ExcludeNodes        []string
	IncludeOps          []string

	imageConfig

	DumpAfter  []string
	StopAfter  string
	TimePasses bool
}

// quantizeCommand is the main job, "onnxq MODEL -o OUT". Its flag set is
// also the top level's, so --version lives here.
var quantizeCommand = &command{
	name:    "",
	args:    "MODEL -o OUT",
	summary: "quantize MODEL to INT8 (QDQ) and write it to OUT",
	doc: `The main job: quantize MODEL to a standard QDQ INT8 ONNX model. onnxq
prepares the FP32 graph (constants folded, per-channel Adds and
BatchNormalization folded into Conv, dead nodes removed), runs it on the
calibration samples to find the range of every activation, inserts
QuantizeLinear/DequantizeLinear pairs by its per-op rule table (integer
weights, per-channel by default, int32 biases), corrects the integer
biases so that each layer's per-channel output mean matches FP32 on the
samples (--bias-correction=false turns it off; it is kept only when the
worst output improves), rewrites each hard-swish written with elementwise
ops as one HardSwish op (opset 14; --fuse-hard-swish=false keeps them),
writes OUT, and prints a summary: what was quantized, what stays FP32 and
why, the file sizes, and the SQNR of each output against FP32, with the
complete Q/DQ units run as integer ops as ONNX Runtime runs them (the
choices before it measure the float reading of the Q/DQ model).

--calib PATH takes samples from a folder of sample_NNN/<input>.npy (as in
../shared/data), .npz files, ONNX test_data_set_N/input_K.pb folders, or
images (--image-size, --mean, --std, --layout, --bgr). Without --calib,
onnxq warns and calibrates on --synthetic N random samples, which rarely
gives good ranges.

--eval PATH takes the samples of the closing SQNR summary (same forms as
--calib), all of them unless --eval-samples caps them; without it the
summary runs the first --eval-samples calibration samples (with
--target-sqnr or --max-drop, all the held-out samples). The line
"louder" names the activations those held-out samples drive 2x or more
past the calibration samples' extremes: ranges from --calib clip them.
The line "narrow" names a Concat input whose values span fewer than 8
steps of the Concat's 8-bit output grid (a quiet branch joined to a loud
one): quantized together it is all but lost.

--report FILE.html compares OUT with the FP32 model (as "onnxq compare
--html" does) on the --eval samples, else the calibration ones (capped by
--eval-samples when given), and writes a self-contained HTML report:
outputs, layers by harm, activation histograms with each calibration
method's range, per-channel weight ranges, sizes and INT8 MAC coverage.

--config FILE.json adjusts single tensors, by value or initializer name:
  {"tensors": {
    "conv1_out": {"min": -4, "max": 4},   activation range, not calibrated
    "head_out":  {"fp32": true},          no Q/DQ on it / float weight
    "audio":     {"bits": 16},            16-bit Q/DQ on it (8: keep 8 bits)
    "fc.weight": {"per_tensor": true}}}   one scale for this weight
Unknown keys, keys given twice, unknown tensors, tensors that preparation
folds away and ranges of no width are errors; an override that changes
nothing is a warning.

--target-sqnr DB searches for the fewest layers to keep in FP32 so that
the worst output's SQNR against FP32 reaches DB on held-out samples:
every 4th --calib sample (by name) is held out, the rest calibrate and
rank (with fewer than 4 samples the target is measured on the
calibration samples themselves, and the summary says so). Each round
runs every quantized Conv/Gemm/MatMul unit, and every quantized
activation whose Q/DQ pair can be dropped, in float alone on 4 samples,
keeps the one that gains most for the share of the MACs it moves to
float (at least 2% counted) when it gains on all calibration samples,
and ranks again; --max-fp32-macs PCT bounds the share of the MACs left
outside integer units. --max-drop PCT does the same with
top-1 agreement with FP32 as the target, for outputs holding class
scores along their last axis (as compare counts them): agreement at least 100-PCT percent (PCT in percentage
points). --tune-timeout bounds the search (default 10m). The best model
found is always written (the highest target metric, then the fewest
FP32 MACs) and the summary says whether the target was met, on how many
samples, what is in FP32 and its share of the MACs; a missed SQNR target
also gets the figure with every activation 16-bit: below the target,
finer activations alone cannot reach it. A target missed still exits 0
unless --require-target is given.

--format qop writes the QOperator form: each complete unit of
DequantizeLinear inputs, Conv or MatMul and QuantizeLinear output becomes
one QLinearConv or QLinearMatMul; what does not fit stays in QDQ form.

--opset N makes OUT import at least opset N of the default domain. onnxq
raises the opset when a feature needs it (per-channel weights: 13; int4,
16-bit or blocked: 21) and says so; it never lowers it, so N below the
model's opset, or below what the options need, is an error.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &quantizeConfig{}
		fs.StringVarP(&cfg.Out, "output", "o", "", "write the quantized model to `OUT`")
		fs.BoolVar(&cfg.Version, "version", false, "print onnxq's version and exit")
		fs.StringVar(&cfg.Calib, "calib", "", "calibration samples: a folder or file (`PATH`)")
		fs.IntVar(&cfg.Synthetic, "synthetic", 32, "without --calib, calibrate on `N` random samples")
		fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the synthetic samples")
		var shapeSpecs []string
		fs.StringArrayVar(&shapeSpecs, "shape", nil, "shape of an input of the synthetic samples: `NAME=DIMS` (x=1,3,224,224), for sizes the model leaves open (else 1); repeatable")
		fs.StringVar(&cfg.Method, "method", "minmax,mse", "calibration method: minmax, ema, entropy, percentile, mse or auto (minmax unless a tensor's extremes are rare outliers, then clipped); several, comma-separated: quantize with each and keep the model whose worst output is best on the --calib samples (the first alone with --save-calib, --load-calib or synthetic samples)")
		fs.Float64Var(&cfg.Percentile, "percentile", 99.999, "clip point of --method percentile")
		fs.StringVar(&cfg.Target, "target", "ort-cpu", "preset: ort-cpu, tensorrt or generic")
		fs.StringVar(&cfg.Format, "format", "qdq", "output form: qdq (QuantizeLinear/DequantizeLinear around float ops) or qop (QLinearConv, QLinearMatMul)")
		fs.StringVar(&cfg.ActivationType, "activation-type", "", "activation type: int8 or uint8, or int16 or uint16 (opset 21; ONNX Runtime runs those units in float) (default: the target's)")
		fs.StringVar(&cfg.WeightType, "weight-type", "", "weight type: int8, uint8 or int4 (default: the target's)")
		fs.BoolVar(&cfg.PerChannel, "per-channel", true, "one weight scale per output channel")
		fs.BoolVar(&cfg.SymmetricActivations, "symmetric-activations", false, "zero-centred activation ranges")
		fs.BoolVar(&cfg.ReduceRange, "reduce-range", false, "7-bit weights, for kernels whose 16-bit sums saturate")
		fs.BoolVar(&cfg.KeepMaxTails, "keep-max-tails", true, "with a clipping --method, keep the observed maximum of tensors whose largest values a MaxPool, Max or ReduceMax passes on")
		fs.BoolVar(&cfg.BiasCorrection, "bias-correction", true, "shift integer biases so each layer's per-channel output mean matches FP32 on the --calib samples")
		fs.StringVar(&cfg.CompleteUnits, "complete-units", "auto", "give each quantized Conv whose readers are float ops (a hard-swish, a Sigmoid, the Sigmoid of a SiLU) a Q/DQ on its output for them to read, so ONNX Runtime runs it as an integer kernel: `auto` (all of them when the worst output on the calibration samples loses at most 0.5 dB, or stays at 40 dB or more, else those that cost least within that bound; with --target-sqnr or --max-drop, on the held-out samples too; all of them without real samples to weigh them: --synthetic, --load-calib), on (the Conv outputs hard-swishes read rescaled per channel first, undone by the DequantizeLinear before the hard-swish, with --equalize-activations; not for --target tensorrt) or off (--target tensorrt: off by default)")
		fs.StringVar(&cfg.WeightRounding, "weight-rounding", "nearest", "round weights to nearest, or `hessian`: against each layer's output error on the --calib inputs, kept only when the worst output on those samples improves (and, with --target-sqnr or --max-drop, does not fall on the held-out samples) (slower: 1.6-6x on CNNs, seconds more for Gemms of thousands of inputs; the default with --target-sqnr or --max-drop)")
		fs.IntVar(&cfg.FallbackBudget, "fallback-budget", quant.DefaultConfig().Fallback.MaxLayers, "keep at most `N` weighted layers in FP32, those whose quantization costs the worst output on the --calib samples the most (each must gain 0.3 dB; at most 5% of the weighted ops and of their MACs; 0, the default, turns it off; 3 is a good start)")
		fs.Float64Var(&cfg.TargetSQNR, "target-sqnr", 0, "keep in FP32 the fewest layers that bring the worst output's SQNR against FP32 to `DB` on held-out --calib samples (every 4th); see the help text")
		fs.Float64Var(&cfg.MaxDrop, "max-drop", 0, "like --target-sqnr, with top-1 agreement with FP32 at least 100-`PCT` percent on the held-out samples (outputs whose last axis is a score vector)")
		fs.Float64Var(&cfg.MaxFP32MACs, "max-fp32-macs", 100, "let the --target-sqnr/--max-drop search leave at most `PCT` percent of the Conv/Gemm/MatMul MACs outside integer units (a layer that would pass it is not tried)")
		fs.DurationVar(&cfg.TuneTimeout, "tune-timeout", quant.DefaultTune().Timeout, "bound the --target-sqnr/--max-drop search (`DURATION`, e.g. 90s, 10m); the best model found is written")
		fs.BoolVar(&cfg.RequireTarget, "require-target", false, "exit non-zero (after writing OUT) when --target-sqnr/--max-drop is not met")
		fs.BoolVar(&cfg.WeightOnly, "weight-only", passes.DefaultQuantOptions().WeightOnly, "store the large weights of nodes that stay FP32 (the recurrence weights R of LSTM/GRU/RNN) as int8 read through DequantizeLinear, and large embedding tables whose gathered rows float ops read as 8-bit rows on a grid spanning the table: a smaller file, float compute (default: the target's; on for ort-cpu)")
		fs.StringVar(&cfg.FloatWeights, "float-weights-outside-units", "grouped", "which Conv/Gemm/MatMul left outside complete Q/DQ units get their FP32 weights back: ONNX Runtime runs them in float either way and dequantizes int8 weights on every run; `grouped` (depthwise Convs: small weights, the largest slowdown; and the MatMul/Gemm ONNX Runtime would otherwise fuse into a kernel quantizing their float input itself), all (faster, larger file) or none (--target tensorrt: none by default, it runs them in INT8)")
		fs.BoolVar(&cfg.FuseHardSwish, "fuse-hard-swish", true, "rewrite each hard-swish written with elementwise ops (x*Clip(x+3,0,6)/6, x*HardSigmoid(x)) as one HardSwish op, raising opset 13 to 14 for it unless --opset asks for a lower one: ONNX Runtime runs fewer float kernels between its Q/DQ (two in place of four for x*Clip(x+3,0,6)/6)")
		fs.BoolVar(&cfg.FloatIdleInputs, "float-idle-inputs", passes.DefaultQuantOptions().FloatIdleInputs, "keep in float the activations only Convs outside complete Q/DQ units read, which ONNX Runtime runs in float anyway, when the worst output on the --calib samples is no worse (default: the target's; on for ort-cpu)")
		fs.BoolVar(&cfg.WideFrontEnd, "wide-front-end", passes.DefaultQuantOptions().WideFrontEnd, "quantize with 16 bits (uint16, or int16 for int8 activations; com.microsoft Q/DQ below opset 21) the input of each filterbank, a Conv/Gemm/MatMul whose output reaches a Log through non-weighted ops only (default: the target's; on for ort-cpu and generic)")
		fs.BoolVar(&cfg.EqualizeActivations, "equalize-activations", true, "scale the channels of each Conv output read by a depthwise Conv to equal ranges on the --calib samples, and the Conv inputs of a Concat that Convs read to suit one grid (needs --per-channel)")
		fs.StringArrayVar(&cfg.ExcludeOps, "exclude-op", nil, "keep op types matching `GLOB` in FP32 (repeatable)")
		fs.StringArrayVar(&cfg.ExcludeNodes, "exclude-node", nil, "keep nodes whose name matches `GLOB` in FP32 (repeatable; * and ? match / too, so *Gemm matches /layer1/Gemm; a node without a name matches by its output's name)")
		fs.StringArrayVar(&cfg.IncludeOps, "include-op", nil, "quantize op types matching `GLOB` that stay FP32 by default (repeatable)")
		fs.StringVar(&cfg.SaveCalib, "save-calib", "", "save the calibration statistics to `FILE` (JSON)")
		fs.StringArrayVar(&cfg.LoadCalib, "load-calib", nil, "merge statistics saved by --save-calib from `FILE` (repeat the flag to merge several)")
		fs.IntVar(&cfg.Threads, "threads", 0, "threads for calibration runs (default: all cores; results do not depend on it)")
		fs.IntVar(&cfg.EvalMax, "eval-samples", 8, "samples the closing SQNR summary runs (0 skips it; default with --eval: all)")
		fs.StringVar(&cfg.Report, "report", "", "after writing OUT, compare it with the FP32 model on the --eval (else calibration) samples and write an HTML accuracy report to `FILE`")
		fs.StringVar(&cfg.Eval, "eval", "", "samples for the closing SQNR summary, instead of the calibration ones (`PATH`, as --calib)")
		fs.StringVar(&cfg.Config, "config", "", "per-tensor overrides, a JSON `FILE`: {\"tensors\": {NAME: {\"min\": A, \"max\": B} or {\"fp32\": true} or {\"per_tensor\": true} or {\"bits\": 16}}}")
		fs.Int64Var(&cfg.Opset, "opset", 0, "the lowest default-domain opset `N` OUT imports (never lowered)")
		cfg.imageConfig.declare(fs, "calibration")
		fs.StringArrayVar(&cfg.DumpAfter, "dump-after", nil, "print the graph after pass `NAME` (or all)")
		fs.StringVar(&cfg.StopAfter, "stop-after", "", "stop the pipeline after pass `NAME` (writes what it has)")
		fs.BoolVar(&cfg.TimePasses, "time-passes", false, "print each pass's duration")
		return func(c *cli, args []string) error {
			if cfg.Version {
				fmt.Fprintln(c.stdout, versionString())
				return nil
			}
			switch {
			case len(args) == 0:
				return usageErrorf("", "no model given")
			case lookupCommand(args[0]) != nil:
				return usageErrorf("", "the command comes first: onnxq %s [flags]", args[0])
			case !looksLikeModel(args[0]):
				return usageErrorf("", "unknown command %q (not a subcommand, and not a model file)", args[0])
			case len(args) > 1:
				return usageErrorf("", "one model at a time: unexpected %q", args[1])
			case cfg.Out == "":
				return usageErrorf("", "missing -o OUT, the file to write the quantized model to")
			}
			cfg.Model = args[0]
			var err error
			if cfg.Shapes, err = parseShapes(shapeSpecs); err != nil {
				return usageErrorf("", "%v", err)
			}
			if len(cfg.Shapes) > 0 && (cfg.Calib != "" || len(cfg.LoadCalib) > 0) {
				return usageErrorf("", "--shape sets the shapes of --synthetic samples; the --calib or --load-calib statistics bring their own")
			}
			cfg.EvalAll = cfg.Eval != "" && !fs.Changed("eval-samples")
			cfg.WeightOnlySet = fs.Changed("weight-only")
			cfg.WideFrontEndSet = fs.Changed("wide-front-end")
			cfg.FloatIdleInputsSet = fs.Changed("float-idle-inputs")
			// TensorRT runs a layer in INT8 from its quantized inputs: an
			// output Q/DQ added for the layer's sake only costs accuracy,
			// and FP32 weights would make it run in float.
			if cfg.Target == "tensorrt" {
				if !fs.Changed("complete-units") {
					cfg.CompleteUnits = "off"
				}
				if !fs.Changed("float-weights-outside-units") {
					cfg.FloatWeights = "none"
				}
			}
			cfg.TargetSet, cfg.DropSet = fs.Changed("target-sqnr"), fs.Changed("max-drop")
			cfg.EvalSamplesSet = fs.Changed("eval-samples")
			cfg.OpsetSet = fs.Changed("opset")
			if cfg.tuning() && !fs.Changed("weight-rounding") {
				// Before any layer goes to float, the error-compensating
				// rounding is the INT8 gain to try (kept only when the
				// calibration samples say it helps).
				cfg.WeightRounding = "hessian"
			}
			if err := cfg.checkTune(fs.Changed("tune-timeout")); err != nil {
				return usageErrorf("", "%v", err)
			}
			if err := cfg.checkNumbers(); err != nil {
				return usageErrorf("", "%v", err)
			}
			opts, err := cfg.quantOptions()
			if err != nil {
				return usageErrorf("", "%v", err)
			}
			var methods []calib.Method
			for _, name := range strings.Split(cfg.Method, ",") {
				method, err := calib.ParseMethod(strings.TrimSpace(name))
				if err != nil {
					return usageErrorf("", "--method: %v", err)
				}
				if !slices.Contains(methods, method) {
					methods = append(methods, method)
				}
			}
			if cfg.Format != "qdq" && cfg.Format != "qop" {
				return usageErrorf("", "--format: %q is neither qdq nor qop", cfg.Format)
			}
			if len(methods) > 1 && fs.Changed("method") && (cfg.SaveCalib != "" || len(cfg.LoadCalib) > 0) {
				return usageErrorf("", "--save-calib and --load-calib hold the statistics of one --method; give one")
			}
			if slices.Contains(cfg.LoadCalib, "") {
				return usageErrorf("", "--load-calib: empty value")
			}
			cfg.equalizeAsked = fs.Changed("equalize-activations") && cfg.EqualizeActivations
			if cfg.SaveCalib != "" || len(cfg.LoadCalib) > 0 {
				if fs.Changed("equalize-activations") && cfg.EqualizeActivations {
					return usageErrorf("", "--equalize-activations with --save-calib or --load-calib: its factors come from one run's samples, so statistics saved or merged under it would not fit another run")
				}
				cfg.EqualizeActivations, cfg.equalizeOffForStats = false, cfg.EqualizeActivations
			}
			return c.quantize(cfg, opts, methods)
		}
	},
}

// badGlob describes the first pattern of lists that is not a valid glob
// ("" when all are): such a pattern would match nothing.
func badGlob(lists ...[]string) string {
	for _, list := range lists {
		for _, p := range list {
			if err := passes.GlobError(p); err != nil {
				return fmt.Sprintf("pattern %q: %v (a glob: * ? [abc], \\ escapes)", p, err)
			}
		}
	}
	return ""
}

// unmatchedPatterns names the --exclude-node, --exclude-op and
// --include-op patterns that match nothing in m, the prepared model the
// quantizer matches them on (passes.UnmatchedPatterns).
func unmatchedPatterns(m *graph.Model, cfg *quantizeConfig) []string {
	opts := passes.QuantOptions{ExcludeNodes: cfg.ExcludeNodes, ExcludeOps: cfg.ExcludeOps, IncludeOps: cfg.IncludeOps}
	var out []string
	for _, miss := range passes.UnmatchedPatterns(m, opts) {
		switch {
		case miss.Option == "ExcludeNodes":
			out = append(out, fmt.Sprintf("--exclude-node %q matches no node of the prepared model (node names, or for a node without one its output's name; folding a BatchNormalization gives the Conv's output the BatchNormalization's)", miss.Pattern))
		case miss.Option == "ExcludeOps":
			out = append(out, fmt.Sprintf("--exclude-op %q matches no op type of the prepared model", miss.Pattern))
		case len(miss.Never) == 0:
			out = append(out, fmt.Sprintf("--include-op %q matches no op type of the prepared model", miss.Pattern))
		default:
			out = append(out, fmt.Sprintf("--include-op %q: %s has no quantized form in onnxq and stays float", miss.Pattern, strings.Join(miss.Never, ", ")))
		}
	}
	return out
}

// checkNumbers checks the numeric flags and the pass names, before any
// work.
func (cfg *quantizeConfig) checkNumbers() error {
	pipeline := append(passes.Names(passes.PreparePasses()), "equalize-activations", "quantize", "lower-qdq")
	if bad := badGlob(cfg.ExcludeNodes, cfg.ExcludeOps, cfg.IncludeOps); bad != "" {
		return errors.New(bad)
	}
	switch {
	case cfg.OpsetSet && cfg.Opset <= 0:
		return fmt.Errorf("--opset %d: want an opset version, 1 or more", cfg.Opset)
	case cfg.Opset > graph.LatestOpset():
		return fmt.Errorf("--opset %d: the newest opset ONNX defines is %d", cfg.Opset, graph.LatestOpset())
	case cfg.FallbackBudget < 0:
		return fmt.Errorf("--fallback-budget %d: want 0 (off) or more layers", cfg.FallbackBudget)
	case !(cfg.Percentile > 0 && cfg.Percentile <= 100):
		return fmt.Errorf("--percentile %v: want a percentile in (0, 100], e.g. 99.999", cfg.Percentile)
	case cfg.Threads < 0:
		return fmt.Errorf("--threads %d: want 0 (all cores) or more", cfg.Threads)
	case cfg.EvalMax < 0:
		return fmt.Errorf("--eval-samples %d: want 0 (no closing SQNR) or more", cfg.EvalMax)
	case cfg.Synthetic < 0 || cfg.Synthetic > maxSynthetic:
		return fmt.Errorf("--synthetic %d: want 1 to %d samples", cfg.Synthetic, maxSynthetic)
	case cfg.StopAfter != "" && !slices.Contains(pipeline, cfg.StopAfter):
		return fmt.Errorf("--stop-after %q: no such pass (passes: %s)", cfg.StopAfter, strings.Join(pipeline, ", "))
	}
	for _, name := range cfg.DumpAfter {
		if name != "all" && !slices.Contains(pipeline, name) {
			return fmt.Errorf("--dump-after %q: no such pass (passes: %s, or all)", name, strings.Join(pipeline, ", "))
		}
	}
	return nil
}

// tuning tells whether the accuracy-driven search was asked for.
func (cfg *quantizeConfig) tuning() bool { return cfg.TargetSet || cfg.DropSet }

// checkTune checks the search's flags; timeoutSet says --tune-timeout
// was given.
func (cfg *quantizeConfig) checkTune(timeoutSet bool) error {
	switch {
	case cfg.TargetSet && cfg.DropSet:
		return fmt.Errorf("--target-sqnr and --max-drop: give one target")
	case cfg.TargetSet && !(cfg.TargetSQNR > 0 && !math.IsInf(cfg.TargetSQNR, 0)):
		return fmt.Errorf("--target-sqnr %v: want a positive number of dB, e.g. 35", cfg.TargetSQNR)
	case cfg.DropSet && !(cfg.MaxDrop >= 0 && cfg.MaxDrop <= 100):
		return fmt.Errorf("--max-drop %v: want percentage points from 0 to 100, e.g. 1", cfg.MaxDrop)
	case cfg.TuneTimeout < 0:
		return fmt.Errorf("--tune-timeout %v: want a duration of 0 or more, e.g. 10m", cfg.TuneTimeout)
	case !(cfg.MaxFP32MACs >= 0 && cfg.MaxFP32MACs <= 100):
		return fmt.Errorf("--max-fp32-macs %v: want a percentage from 0 to 100, e.g. 10", cfg.MaxFP32MACs)
	case !cfg.tuning() && (timeoutSet || cfg.RequireTarget || cfg.MaxFP32MACs != 100):
		return fmt.Errorf("--tune-timeout, --max-fp32-macs and --require-target apply to --target-sqnr or --max-drop; give one")
	case cfg.tuning() && cfg.FallbackBudget > 0:
		return fmt.Errorf("--fallback-budget and --target-sqnr/--max-drop both choose FP32 layers; give one")
	case cfg.tuning() && cfg.Calib == "":
		return fmt.Errorf("--target-sqnr and --max-drop measure the model on --calib samples; give --calib PATH")
	}
	return nil
}

// tuneOptions turns the flags into the search's typed options.
func (cfg *quantizeConfig) tuneOptions() quant.TuneOptions {
	o := quant.DefaultTune()
	o.Timeout = cfg.TuneTimeout
	o.MaxFP32MACs = cfg.MaxFP32MACs / 100
	if cfg.DropSet {
		o.Metric, o.MaxTop1Drop = quant.TuneTop1, cfg.MaxDrop
	} else {
		o.TargetSQNR = cfg.TargetSQNR
	}
	return o
}

// maxJSONBytes bounds a --config file.
const maxJSONBytes = 256 << 20

// maxSynthetic bounds --synthetic: random samples past this many teach
// calibration nothing more, and a count near 2^31 exhausted memory on the
// sample list alone.
const maxSynthetic = 100000

// quantOptions turns the flags into the quantize pass's typed options.
func (cfg *quantizeConfig) quantOptions() (passes.QuantOptions, error) {
	opts, err := passes.Preset(cfg.Target)
	if err != nil {
		return opts, err
	}
	if cfg.ActivationType != "" {
		if opts.ActivationType, err = qdq.ParseType(cfg.ActivationType); err != nil {
			return opts, fmt.Errorf("--activation-type: %v", err)
		}
	}
	if cfg.WeightType != "" {
		if opts.WeightType, err = qdq.ParseType(cfg.WeightType); err != nil {
			return opts, fmt.Errorf("--weight-type: %v", err)
		}
		// The presets restrict int8 weights to [-127,127]; other types
		// keep their full range.
		if opts.WeightType != qdq.Int8 {
			opts.RestrictedWeights = false
		}
	}
	opts.PerChannel = cfg.PerChannel
	opts.SymmetricActivations = opts.SymmetricActivations || cfg.SymmetricActivations
	opts.ReduceRange = cfg.ReduceRange
	if cfg.ReduceRange && opts.WeightType.Bits() != 8 {
		return opts, fmt.Errorf("--reduce-range narrows 8-bit weights to 7 bits; with %v weights it does nothing", opts.WeightType)
	}
	if cfg.Target == "tensorrt" {
		switch {
		case opts.ActivationType != qdq.Int8:
			return opts, fmt.Errorf("--target tensorrt: TensorRT takes int8 activations with zero point 0, not %v", opts.ActivationType)
		case opts.WeightType != qdq.Int8 && opts.WeightType != qdq.Int4:
			return opts, fmt.Errorf("--target tensorrt: TensorRT takes int8 (or int4) weights with zero point 0, not %v", opts.WeightType)
		case cfg.Format == "qop":
			return opts, errors.New("--target tensorrt: TensorRT reads Q/DQ models, not QLinearConv (--format qdq)")
		}
	}
	if cfg.WeightOnlySet {
		opts.WeightOnly = cfg.WeightOnly
	}
	if cfg.FloatIdleInputsSet {
		opts.FloatIdleInputs = cfg.FloatIdleInputs
	}
	if cfg.WideFrontEndSet {
		opts.WideFrontEnd = cfg.WideFrontEnd
	}
	opts.ExcludeOps, opts.ExcludeNodes, opts.IncludeOps = cfg.ExcludeOps, cfg.ExcludeNodes, cfg.IncludeOps
	return opts, opts.Validate()
}

// quantizationNodes counts m's nodes whose op marks a quantized model.
// nonFiniteWeights names the float32 initializers of m holding NaN or
// infinite values (the first three, and how many in all), or "".
func nonFiniteWeights(m *graph.Model) string {
	var names []string
	total := 0
	m.Graph.Walk(func(g *graph.Graph) {
		for _, v := range g.Initializers {
			if v.Const == nil || v.Const.DType != graph.Float32 {
				continue
			}
			data, err := v.Const.Float32s()
			if err != nil {
				continue
			}
			bad := 0
			for _, x := range data {
				if x != x || math.IsInf(float64(x), 0) {
					bad++
				}
			}
			if bad > 0 {
				total++
				if len(names) < 3 {
					names = append(names, fmt.Sprintf("%s (%d of %d values)", v.Name, bad, len(data)))
				}
			}
		}
	})
	if total == 0 {
		return ""
	}
	more := ""
	if total > len(names) {
		more = fmt.Sprintf(" and %d more", total-len(names))
	}
	return fmt.Sprintf("initializers hold NaN or infinite values: %s%s", strings.Join(names, ", "), more)
}

func (c *cli) quantize(cfg *quantizeConfig, opts passes.QuantOptions, methods []calib.Method) (err error) {
	method := methods[0]
	outs := []outputFile{{"-o", cfg.Out}, {"--report", cfg.Report}, {"--save-calib", cfg.SaveCalib}}
	ins := []inputFile{{"the input model", cfg.Model}, {"--calib", cfg.Calib}, {"--eval", cfg.Eval}, {"--config", cfg.Config}}
	for _, f := range cfg.LoadCalib {
		ins = append(ins, inputFile{"--load-calib", f})
	}
	if err := refuseOverwrite(ins, outs...); err != nil {
		return err
	}
	if err := checkOutputs(outs...); err != nil {
		return err
	}
	if _, err := cfg.imageOptions(); err != nil {
		return &usageError{msg: err.Error()}
	}
	m, err := graph.Load(cfg.Model)
	if err != nil {
		return err
	}
	modelFiles, err := modelInputs(cfg.Model, m)
	if err != nil {
		return err
	}
	if err := refuseOverwrite(modelFiles, outs...); err != nil {
		return err
	}
	sizeBefore := filesSize(modelFiles)
	lessGarbageFor(sizeBefore)
	// From IR 4 an initializer listed as an input is a default a caller
	// may override; the quantized model makes it a constant (prepare pass
	// initializers-not-inputs), which the summary says.
	overridable := 0
	if m.IRVersion >= 4 {
		for _, v := range m.Graph.Inputs {
			if v.Const != nil {
				overridable++
			}
		}
	}
	if len(m.Graph.Outputs) == 0 {
		return fmt.Errorf("%s: the model has no outputs: nothing it computes reaches a caller", cfg.Model)
	}
	if w := nonFiniteWeights(m); w != "" {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s; the FP32 model computes NaN or infinity wherever they reach, and no SQNR is measured there\n", w)
	}
	if already := len(passes.QuantizationNodes(m)); already > 0 {
		return fmt.Errorf("%s: the model is already quantized (%d quantization nodes); give onnxq the FP32 model", cfg.Model, already)
	}
	if err := checkOpset(m, cfg.Opset); err != nil {
		return err
	}
	opts.Opset = cfg.Opset
	if cfg.Config != "" {
		if opts.Overrides, err = readOverrides(cfg.Config); err != nil {
			return err
		}
		cfg.overrides = opts.Overrides
		if cfg.Target == "tensorrt" {
			for _, name := range slices.Sorted(maps.Keys(opts.Overrides)) {
				if opts.Overrides[name].Bits == 16 {
					return fmt.Errorf("--config %s: tensor %q: \"bits\": 16 with --target tensorrt, whose Q/DQ are 8-bit", cfg.Config, name)
				}
			}
		}
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	inputs := calibdata.Inputs(m)

	// Open the samples before any work, so bad data fails fast.
	var src, eval *calibdata.Source
	synthetic := false
	var syntheticInputs []calibdata.Input
	if cfg.Calib != "" {
		if src, err = c.openSamples("--calib", cfg.Calib, inputs, &cfg.imageConfig); err != nil {
			return err
		}
	} else if len(cfg.LoadCalib) == 0 {
		if cfg.Synthetic <= 0 {
			return &usageError{msg: "--synthetic must be at least 1 without --calib"}
		}
		if syntheticInputs, err = calibdata.WithShapes(inputs, cfg.Shapes); err != nil {
			return &usageError{msg: err.Error()}
		}
		src = calibdata.Synthetic(syntheticInputs, cfg.Synthetic, cfg.Seed)
		synthetic = true
		defer func() {
			// A made-up sample too short for the model (a filter longer
			// than a one-step signal) fails in its first run: say which
			// sizes were made up and how to give them.
			var failed *quant.SampleError
			if dims := calibdata.SizeOneDims(syntheticInputs); errors.As(err, &failed) && len(dims) > 0 {
				err = fmt.Errorf("%w (the synthetic samples took size 1 for %s: give real sizes with --shape NAME=DIMS, or --calib PATH)", err, strings.Join(dims, ", "))
			}
		}()
	}
	// The search measures its target on samples held out of calibration;
	// they are the summary's samples too unless --eval says otherwise.
	var all, tuneMeasured, heldOut *calibdata.Source
	if cfg.tuning() {
		all = src
		cal, held := quant.TuneSamples(src.Names(), cfg.tuneOptions().HoldOut)
		if src, err = all.Subset(cal); err != nil {
			return err
		}
		eval = src
		if len(held) > 0 {
			if eval, err = all.Subset(held); err != nil {
				return err
			}
		}
		tuneMeasured = eval
		if len(held) > 0 {
			heldOut = eval
		}
		cfg.EvalAll = !cfg.EvalSamplesSet
	} else {
		eval = src
	}
	if cfg.Eval != "" {
		if eval, err = c.openSamples("--eval", cfg.Eval, inputs, &cfg.imageConfig); err != nil {
			return err
		}
	}

	qcfg := quant.Config{
		Method:        method,
		CalibOptions:  calib.DefaultOptions(),
		Quant:         opts,
		KeepMaxTails:  cfg.KeepMaxTails,
		FuseHardSwish: cfg.FuseHardSwish,
		Threads:       cfg.Threads,
		RunOptions:    passes.RunOptions{DumpAfter: cfg.DumpAfter, Dump: c.stdout, StopAfter: cfg.StopAfter, TimePasses: cfg.TimePasses},
		Progress:      newProgress(c.stderr, isTerminal(c.stderr), "calibrating", "samples"),
	}
	qcfg.CalibOptions.Percentile = cfg.Percentile
	qcfg.HeldOut = heldOut
	if qcfg.WeightRounding, err = quant.ParseWeightRounding(cfg.WeightRounding); err != nil {
		return usageErrorf("quantize", "--weight-rounding: %v", err)
	}
	if qcfg.Units, err = quant.ParseUnitCompletion(cfg.CompleteUnits); err != nil {
		return usageErrorf("quantize", "--complete-units: %v", err)
	}
	if qcfg.FloatWeights, err = passes.ParseFloatWeightsScope(cfg.FloatWeights); err != nil {
		return usageErrorf("quantize", "--float-weights-outside-units: %v", err)
	}
	// Without real samples to weigh what completing the units costs, auto
	// does what the preset is for: integer kernels.
	unweighed := qcfg.Units == quant.UnitsAuto && (synthetic || len(cfg.LoadCalib) > 0)
	if qcfg.Units == quant.UnitsOn || unweighed {
		qcfg.Quant.CompleteUnits = true
	}
	half, err := prepareChecked(m, qcfg, cfg.Config, opts.Overrides)
	if err != nil {
		return err
	}
	// The patterns meet the prepared graph, as the quantizer does.
	for _, w := range unmatchedPatterns(m, cfg) {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s\n", w)
	}
	if cfg.Opset != 0 {
		if err := checkNeededOpset(m, qcfg, cfg.Opset); err != nil {
			return err
		}
	}
	if synthetic {
		caveats := ""
		if cs := calibdata.SyntheticCaveats(syntheticInputs); len(cs) > 0 {
			caveats = " (" + strings.Join(cs, "; ") + ")"
		}
		fmt.Fprintf(c.stderr, "onnxq: WARNING: no --calib samples: calibrating on %d random samples%s; ranges from random data rarely fit real inputs, give --calib PATH\n", cfg.Synthetic, caveats)
	}
	if cfg.equalizeAsked && !opts.PerChannel {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: --equalize-activations does nothing with per-tensor weights (--per-channel=false): their one scale would pay for the rescaling\n")
	}
	// Equalization changes the values calibration measures, so it comes
	// first; like bias correction it needs real samples.
	if cfg.EqualizeActivations && opts.PerChannel && !synthetic && src != nil && !slices.Contains(passes.Names(passes.PreparePasses()), cfg.StopAfter) {
		if err := quant.EqualizeActivations(m, src, qcfg); err != nil {
			return fmt.Errorf("equalize activations: %v", err)
		}
	}
	// The FP32 reference for the summary runs on the prepared graph: the
	// same values the ranges were measured on.
	fp32, err := quant.Clone(m)
	if err != nil {
		return err
	}
	// Choosing among methods measures outputs on the samples: not on
	// random ones, and not when the statistics of one method are saved or
	// loaded.
	// Nor when --stop-after ends the pipeline before the quantize pass:
	// there is no quantized model to measure.
	if synthetic || src == nil || src.Len() == 0 || cfg.SaveCalib != "" || len(cfg.LoadCalib) > 0 || quant.StopsBeforeQuantize(cfg.StopAfter) {
		methods = methods[:1]
	}
	var report *passes.QuantReport
	var bias *quant.BiasReport
	var rounding *quant.RoundReport
	var fallback *quant.FallbackReport
	var kept calib.Method
	var keptColl *calib.Collection
	keptDB := math.NaN()
	if len(methods) == 1 {
		mcfg := qcfg
		mcfg.Method = methods[0]
		q, err := c.quantizeWith(m, fp32, src, cfg, mcfg, synthetic, nil)
		if err != nil {
			return err
		}
		report, bias, rounding, keptColl = q.report, q.bias, q.rounding, q.coll
		kept = methods[0]
	} else {
		results := make([]*quantized, len(methods))
		var colls []*calib.Collection
		best, cand, err := quant.ChooseMethod(fp32, src, qcfg, methods, func(i int, cand *graph.Model, mcfg quant.Config) (err error) {
			if i == 0 {
				// The methods observe the same prepared model on the same
				// samples: one pass feeds all of them.
				if colls, err = quant.CalibrateMethods(cand, src, mcfg, methods); err != nil {
					return err
				}
			}
			results[i], err = c.quantizeWith(cand, fp32, src, cfg, mcfg, synthetic, colls[i])
			return err
		}, func(i int, db float64) {
			results[i].db = db
			fmt.Fprintf(c.stderr, "method %s: worst output %.1f dB on the calibration samples\n", methods[i], db)
		})
		if err != nil {
			return err
		}
		q := results[best]
		report, bias, rounding, kept, keptColl, keptDB = q.report, q.bias, q.rounding, methods[best], q.coll, q.db
		*m = *cand
	}
	if len(methods) > 1 {
		fmt.Fprintf(c.stderr, "method %s kept\n", kept)
	}
	// The idle and units trials measure the kept method's statistics
	// again on real samples.
	trials := report != nil && !synthetic && src != nil && src.Len() > 0 && len(cfg.LoadCalib) == 0
	// Inputs only float-running Convs read stay float when that is no
	// worse (passes.QuantOptions.FloatIdleInputs): first in the model
	// without units, which the units must then hold against, and again in
	// the model with units, whose idle inputs differ.
	var idle *quant.IdleReport
	if qcfg.Quant.FloatIdleInputs && trials {
		icfg := qcfg
		icfg.Method = kept
		iq, rep, err := c.floatIdle(m, fp32, src, cfg, icfg, report.UnitsCompleted > 0, keptDB, keptColl)
		if err != nil {
			return err
		}
		if rep != nil {
			idle, keptDB = rep, rep.Before
		}
		if iq != nil {
			report, bias, rounding, keptDB = iq.report, iq.bias, iq.rounding, rep.After
		}
	}
	var units *quant.UnitsChoice
	if qcfg.Units == quant.UnitsAuto && trials {
		if math.IsNaN(keptDB) {
			if keptDB, err = quant.WorstOutputSQNR(fp32, m, src, cfg.Threads); err != nil {
				return err
			}
		}
		var uq *quantized
		ucfg := qcfg
		ucfg.Method = kept
		// Each candidate keeps its own idle inputs in float when no
		// worse, as the model it competes with did.
		var uidle *quant.IdleReport
		choice, err := quant.ChooseUnits(fp32, m, src, ucfg, keptDB, func(cand *graph.Model, uc quant.Config) (*passes.QuantReport, error) {
			q, err := quantizePass(cand, cfg, uc, keptColl)
			if err != nil {
				return nil, err
			}
			if q.report == nil || q.report.UnitsCompleted == 0 {
				// Nothing to complete: ChooseUnits drops the candidate
				// unmeasured (and keeps the one before, whose results
				// stay), so its biases need no correcting.
				return q.report, nil
			}
			uidle, uq = nil, q
			if err := c.finishQuantized(uq, cand, fp32, src, cfg, uc, synthetic); err != nil {
				return nil, err
			}
			if !qcfg.Quant.FloatIdleInputs {
				return uq.report, nil
			}
			iq, rep, err := c.floatIdle(cand, fp32, src, cfg, uc, true, math.NaN(), keptColl)
			if err != nil {
				return nil, err
			}
			if uidle = rep; iq != nil {
				uq = iq
			}
			return uq.report, nil
		})
		if err != nil {
			return err
		}
		units = choice
		if choice != nil && choice.Kept {
			report, bias, rounding = uq.report, uq.bias, uq.rounding
			*m = *choice.Model
			qcfg.Quant.CompleteUnits, qcfg.Quant.OpenUnits = true, choice.Config.Quant.OpenUnits
			idle = uidle // the idle trial before described the model without units
		}
	}
	// The fallback measures outputs on real samples; it quantizes the
	// kept method's statistics again (see quant.ApplyFallback).
	if cfg.FallbackBudget > 0 && report != nil && !synthetic && src != nil && src.Len() > 0 {
		fcfg := qcfg
		fcfg.Method, fcfg.BiasCorrection = kept, cfg.BiasCorrection
		fcfg.Fallback = quant.DefaultFallback()
		fcfg.Fallback.MaxLayers = cfg.FallbackBudget
		res, err := quant.ApplyFallback(m, src, fcfg, &quant.Result{Reference: fp32, Collection: keptColl, Report: report, Bias: bias, Method: kept})
		if err != nil {
			return fmt.Errorf("fallback: %v", err)
		}
		report, bias, fallback = res.Report, res.Bias, res.Fallback
	}
	// Before the search, which then measures the model as written.
	fin := finished{half: half, wideDB: math.NaN(), floatWeightsDB: math.NaN(), overridable: overridable, calibSamples: src}
	if keptColl != nil {
		fin.calibExtremes = keptColl.Extremes()
		fin.nonFiniteInputs = nonFiniteInputs(fp32, keptColl)
	}
	if report != nil {
		if fin.floatWeights, fin.hardSwish, err = quant.Finish(m, fp32, qcfg, report); err != nil {
			return err
		}
		// The choices measured the model before its FP32 weights: the
		// summary gives the figure of the model they lead to as well.
		if len(fin.floatWeights) > 0 && !synthetic && src != nil && src.Len() > 0 {
			if fin.floatWeightsDB, err = quant.WorstOutputSQNR(fp32, m, src, cfg.Threads); err != nil {
				return err
			}
		}
	}
	var tune *quant.TuneReport
	if cfg.tuning() && report != nil {
		fmt.Fprintf(c.stderr, "searching for the layers to keep in FP32 (at most %v)\n", cfg.TuneTimeout)
		topts := cfg.tuneOptions()
		topts.Log = c.stderr
		topts.BiasCorrection = bias != nil && bias.Applied
		topts.FloatWeights = qcfg.FloatWeights
		if tune, err = quant.Tune(fp32, m, all, topts, cfg.Threads); err != nil {
			return err
		}
		fin.floatWeights = append(fin.floatWeights, tune.FloatWeights...)
		if !tune.Met && tune.Metric == quant.TuneSQNR && keptColl != nil && !synthetic {
			kcfg := qcfg
			kcfg.Method = kept
			// a check of what finer activations would give: when it cannot
			// run, the model found is written all the same
			if fin.wideDB, err = c.wideActivationsSQNR(fp32, m, src, tuneMeasured, cfg, kcfg, keptColl); err != nil {
				fin.wideDB = math.NaN()
				fmt.Fprintf(c.stderr, "onnxq: WARNING: the check with 16-bit activations did not run (%v); the model found is written all the same\n", oneLine(err.Error()))
			}
		}
	}
	var lowered *lower.Report
	var qdqForm *graph.Model // what --report attributes layers on
	if cfg.Format == "qop" && report != nil {
		if cfg.Report != "" {
			if qdqForm, err = quant.Clone(m); err != nil {
				return err
			}
		}
		ctx := &passes.Context{Values: map[string]any{}}
		if err := passes.Run(m, ctx, []passes.Pass{lower.Pass()}, passes.RunOptions{DumpAfter: cfg.DumpAfter, Dump: c.stdout, TimePasses: cfg.TimePasses}); err != nil {
			return err
		}
		lowered, _ = ctx.Values[lower.ReportKey].(*lower.Report)
		if _, err := passes.GuardDQPropagation(m); err != nil {
			return err
		}
	}
	if err := graph.Save(m, cfg.Out, graph.SaveOptions{}); err != nil {
		return writingError(cfg.Out, err)
	}
	// The MAC coverage of the model as written, which the summary and the
	// report both give (a run of it where inference cannot size a node).
	fin.coverage = sampleCoverage(m, eval)
	reportLine := ""
	if cfg.Report != "" {
		if reportLine, err = c.writeReport(cfg, fp32, qdqForm, eval, qcfg.CalibOptions, fin.coverage); err != nil {
			return fmt.Errorf("--report %s: %v (%s is written)", cfg.Report, err, cfg.Out)
		}
	}
	if err := c.summary(cfg, report, bias, rounding, units, idle, fallback, tune, fin, lowered, sizeBefore, fp32, m, eval, reportLine); err != nil {
		return err
	}
	if cfg.RequireTarget && tune != nil && !tune.Met {
		return fmt.Errorf("--require-target: the target was not met (%s written)", cfg.Out)
	}
	return nil
}

// quantizeWith calibrates the prepared model m with qcfg.Method (unless
// coll holds its statistics already), quantizes it and corrects its
// biases when asked; it returns the statistics too.
func (c *cli) quantizeWith(m, fp32 *graph.Model, src *calibdata.Source, cfg *quantizeConfig, qcfg quant.Config, synthetic bool, coll *calib.Collection) (*quantized, error) {
	var warnings []string
	if coll == nil {
		var err error
		if coll, warnings, err = calibrate(m, src, qcfg, cfg.LoadCalib); err != nil {
			return nil, err
		}
	}
	if src != nil && src.Len() > 0 {
		if err := quant.NoValuesSeen(m, coll); err != nil {
			return nil, err
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s\n", w)
	}
	if cfg.SaveCalib != "" {
		if err := saveCalib(coll, cfg.SaveCalib); err != nil {
			return nil, err
		}
	}
	return c.quantizeFrom(m, fp32, src, cfg, qcfg, synthetic, coll)
}

// quantizeFrom is quantizeWith on statistics already collected.
func (c *cli) quantizeFrom(m, fp32 *graph.Model, src *calibdata.Source, cfg *quantizeConfig, qcfg quant.Config, synthetic bool, coll *calib.Collection) (*quantized, error) {
	q, err := quantizePass(m, cfg, qcfg, coll)
	if err != nil {
		return nil, err
	}
	return q, c.finishQuantized(q, m, fp32, src, cfg, qcfg, synthetic)
}

// quantizePass runs the quantize pass on m with the statistics coll.
func quantizePass(m *graph.Model, cfg *quantizeConfig, qcfg quant.Config, coll *calib.Collection) (*quantized, error) {
	report, err := quant.QuantizeCollected(m, coll, qcfg)
	if err != nil {
		return nil, err
	}
	if report != nil && cfg.Opset != 0 && report.OpsetTo > cfg.Opset {
		return nil, opsetTooLow(cfg.Opset, report.OpsetTo)
	}
	return &quantized{report: report, coll: coll}, nil
}

// finishQuantized corrects the biases of m, quantized by quantizePass
// into q, and rounds its weights when asked, recording both in q.
func (c *cli) finishQuantized(q *quantized, m, fp32 *graph.Model, src *calibdata.Source, cfg *quantizeConfig, qcfg quant.Config, synthetic bool) error {
	report := q.report
	var err error
	// Bias correction and weight rounding measure the layers on real
	// samples; random ones would fit them to noise.
	real := report != nil && !synthetic && src != nil && src.Len() > 0
	correct := func(x *graph.Model) (*quant.BiasReport, error) {
		if !cfg.BiasCorrection || !real {
			return nil, nil
		}
		b, err := quant.CorrectBiases(fp32, x, src, cfg.Threads, newProgress(c.stderr, isTerminal(c.stderr), "bias correction", "layer groups"))
		if err != nil {
			return nil, fmt.Errorf("bias correction: %v", err)
		}
		return b, nil
	}
	if qcfg.WeightRounding != quant.RoundHessian || !real {
		q.bias, err = correct(m)
		return err
	}
	biases := map[bool]*quant.BiasReport{}
	q.rounding, err = quant.RoundGuarded(fp32, m, src, qcfg, quant.HeldOutSQNR(fp32, qcfg), func(x *graph.Model, rounded bool) (float64, error) {
		b, err := correct(x)
		if err != nil {
			return 0, err
		}
		biases[rounded] = b
		switch {
		case b != nil && b.Candidates > 0 && b.Applied:
			return b.After, nil
		case b != nil && b.Candidates > 0:
			return b.Before, nil
		}
		return quant.WorstOutputSQNR(fp32, x, src, cfg.Threads)
	})
	if err != nil {
		return err
	}
	q.bias = biases[q.rounding.Applied]
	return nil
}

// quantized is what quantizeWith did: the quantize pass's report, bias
// correction's and the weight rounding's (nil when they did not run), and
// the calibration statistics.
type quantized struct {
	report   *passes.QuantReport
	bias     *quant.BiasReport
	rounding *quant.RoundReport
	coll     *calib.Collection
	db       float64 // worst output on the calibration samples, when measured
}

// floatIdle runs quant.ChooseFloatIdle on m, quantized with qcfg, whose
// worst output on src is before (NaN when not measured): when the model
// with its idle inputs in float is kept, it goes into m and its
// quantization is returned. The report is nil when there was nothing to
// try.
func (c *cli) floatIdle(m, fp32 *graph.Model, src *calibdata.Source, cfg *quantizeConfig, qcfg quant.Config, completed bool, before float64, coll *calib.Collection) (*quantized, *quant.IdleReport, error) {
	var iq *quantized
	cand, rep, err := quant.ChooseFloatIdle(fp32, m, src, qcfg, completed, before, func(x *graph.Model, ic quant.Config) error {
		var err error
		iq, err = c.quantizeFrom(x, fp32, src, cfg, ic, false, coll)
		return err
	})
	if err != nil || cand == nil {
		return nil, rep, err
	}
	*m = *cand
	return iq, rep, nil
}

// checkOpset refuses an --opset below the model's own: onnxq never
// lowers an opset.
func checkOpset(m *graph.Model, opset int64) error {
	if opset == 0 {
		return nil
	}
	if have, ok := m.Opset(""); ok && opset < have {
		return usageErrorf("", "--opset %d is below the opset the model imports (%d); onnxq raises opsets, never lowers them", opset, have)
	}
	return nil
}

// checkNeededOpset refuses an --opset below what the options need. The
// quantize pass raises the opset past --opset when its Q/DQ need more;
// that is the user's N being too low, not something to do silently. The
// pass knows the need, so it runs once without ranges on a copy of the
// prepared model: cheap next to calibration, which it saves on failure.
func checkNeededOpset(prepared *graph.Model, qcfg quant.Config, opset int64) error {
	dry, err := quant.Clone(prepared)
	if err != nil {
		return err
	}
	qcfg.RunOptions = passes.RunOptions{}
	qcfg.Log = nil
	report, err := quant.Quantize(dry, nil, qcfg)
	if err != nil {
		return err
	}
	if report != nil && report.OpsetTo > opset {
		return opsetTooLow(opset, report.OpsetTo)
	}
	return nil
}

func opsetTooLow(opset, need int64) error {
	return usageErrorf("", "--opset %d is too low: these options need opset %d (per-channel weights need 13; int4, 16-bit or blocked weights need 21)", opset, need)
}

// overrideEntry is one tensor's override; every key is optional.
type overrideEntry struct {
	Min       *float32 `json:"min,omitempty"`
	Max       *float32 `json:"max,omitempty"`
	FP32      bool     `json:"fp32,omitempty"`
	PerTensor bool     `json:"per_tensor,omitempty"`
	Bits      *int     `json:"bits,omitempty"`
}

// readOverrides reads a --config file into the quantize pass's per-tensor
// overrides. Unknown keys, trailing data and entries that say nothing or
// contradict themselves are errors.
func readOverrides(path string) (map[string]passes.TensorOverride, error) {
	data, err := graph.ReadFileLimited(path, maxJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %v", path, plainError(err))
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("--config %s: %s", path, fmt.Sprintf(format, args...))
	}
	jsonMsg := func(err error) string {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if strings.HasPrefix(msg, "unknown field ") {
			msg = "unknown key " + strings.TrimPrefix(msg, "unknown field ") + ` (want "tensors", and per tensor "min"/"max", "fp32", "per_tensor" or "bits")`
		}
		return msg
	}
	// Each tensor's entry is read on its own, so that an error in it
	// names the tensor (a map's keys are not in the decoder's paths).
	var f struct {
		Tensors map[string]json.RawMessage `json:"tensors"`
	}
	if err := calib.StrictUnmarshal(data, &f); err != nil {
		return nil, fail("%s", jsonMsg(err))
	}
	if f.Tensors == nil {
		return nil, fail(`no "tensors" object`)
	}
	out := map[string]passes.TensorOverride{}
	for _, name := range slices.Sorted(maps.Keys(f.Tensors)) {
		var e overrideEntry
		if err := calib.StrictUnmarshal(f.Tensors[name], &e); err != nil {
			return nil, fail("tensor %q: %s", name, jsonMsg(err))
		}
		var o passes.TensorOverride
		switch {
		case (e.Min == nil) != (e.Max == nil):
			return nil, fail("tensor %q: give both min and max", name)
		case e.Min != nil && !(*e.Min <= *e.Max):
			return nil, fail("tensor %q: min %v is above max %v", name, *e.Min, *e.Max)
		case e.Min != nil && *e.Min == *e.Max:
			return nil, fail("tensor %q: min and max are both %v, a range of no width (give the range its values take)", name, *e.Min)
		case e.Min != nil && e.FP32:
			return nil, fail("tensor %q: a range and fp32 contradict each other", name)
		case e.Bits != nil && *e.Bits != 8 && *e.Bits != 16:
			return nil, fail("tensor %q: bits %d (want 8 or 16)", name, *e.Bits)
		case e.Bits != nil && e.FP32:
			return nil, fail("tensor %q: bits and fp32 contradict each other", name)
		case e.Min == nil && !e.FP32 && !e.PerTensor && e.Bits == nil:
			return nil, fail(`tensor %q: no override (want "min"/"max", "fp32": true, "per_tensor": true or "bits": 8 or 16)`, name)
		}
		if e.Min != nil {
			o.Range = &passes.Range{Min: *e.Min, Max: *e.Max}
		}
		if e.Bits != nil {
			o.Bits = *e.Bits
		}
		o.FP32, o.PerTensor = e.FP32, e.PerTensor
		out[name] = o
	}
	return out, nil
}

// unusedOverrideWhy says why an override changed nothing, from the
// prepared FP32 model and the quantized model q.
func unusedOverrideWhy(fp32, q *graph.Model, name string, o passes.TensorOverride) string {
	if v := findValue(fp32, name); v != nil {
		for _, c := range v.Consumers {
			switch c.OpType {
			case "Conv", "ConvTranspose", "Gemm":
				if len(c.Inputs) > 2 && c.Inputs[2] == v {
					return "it is a bias: biases follow their layer (int32 at its scales when it is quantized; --exclude-node keeps the layer float)"
				}
			}
		}
	}
	v := findValue(q, name)
	if v == nil {
		return "onnxq rewrote that tensor away"
	}
	for _, c := range v.Consumers {
		if c.OpType == "QuantizeLinear" {
			return "the Relu or Clip that read it is folded into the Q/DQ after it, which stands for that op's output: set the override on that output"
		}
	}
	if o.FP32 {
		return "it stays FP32 anyway (no quantized op reads it)"
	}
	if v.Const != nil {
		return "the weight is not quantized (the op reading it stays FP32)"
	}
	return "it gets no Q/DQ (the ops reading it stay FP32, or it is a graph output)"
}

// prepareChecked prepares m and checks the --config overrides against
// it; it tells whether the model as loaded held half floats. The loaded
// model's copy lives only here: a large model's weights are not held
// through calibration for that answer.
func prepareChecked(m *graph.Model, qcfg quant.Config, configPath string, overrides map[string]passes.TensorOverride) (bool, error) {
	orig, err := quant.Clone(m)
	if err != nil {
		return false, err
	}
	if err := quant.Prepare(m, qcfg); err != nil {
		return false, err
	}
	// Overrides name tensors of the prepared graph, the one the quantize
	// pass edits; checked before the calibration runs.
	if err := checkOverrides(configPath, orig, m, overrides); err != nil {
		return false, err
	}
	return passes.HasHalfFloats(orig), nil
}

// checkOverrides checks that every override names a float tensor of the
// prepared model that can take it: a range and bits go on an activation,
// per_tensor on a weight. orig is the model as loaded, to tell a misspelt
// name from one that preparation folded away.
func checkOverrides(path string, orig, prepared *graph.Model, overrides map[string]passes.TensorOverride) error {
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("--config %s: tensor %q %s", path, name, fmt.Sprintf(format, args...))
		}
		o := overrides[name]
		v := findValue(prepared, name)
		switch {
		case v == nil && findValue(orig, name) != nil:
			return fail("is folded away when onnxq prepares the model (constant folding, BatchNormalization into Conv); name one that remains")
		case v == nil:
			return fail("is not in the model")
		case v.DType.Known() && !v.DType.IsFloat():
			return fail("is %v, not float: nothing to quantize", v.DType)
		case o.Range != nil && v.Const != nil:
			return fail("is a weight: min/max set activation ranges")
		case o.PerTensor && v.Const == nil:
			return fail("is not a weight: per_tensor applies to weights")
		case o.Bits != 0 && v.Const != nil:
			return fail("is a weight: bits sets an activation's width (weights follow --weight-type)")
		}
	}
	return nil
}

// findValue looks name up in every graph of m, subgraphs included.
func findValue(m *graph.Model, name string) *graph.Value {
	var found *graph.Value
	m.Graph.Walk(func(g *graph.Graph) {
		if found == nil {
			if v := g.Value(name); v != nil {
				found = v
			}
		}
	})
	return found
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// nonFiniteInputs lists the real inputs of m for which coll counted NaN
// or ±Inf values, as "name (N NaN, M infinite, of T values)".
func nonFiniteInputs(m *graph.Model, coll *calib.Collection) []string {
	stats := coll.Stats()
	var out []string
	for _, in := range m.Graph.RealInputs() {
		st, ok := stats[in.Name]
		if !ok || st.NaN+st.Inf == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s NaN, %s infinite, of %s values)", in.Name,
			formatCount(int64(st.NaN)), formatCount(int64(st.Inf)), formatCount(int64(st.Values+st.NaN+st.Inf))))
	}
	return out
}

// calibrate merges the statistics saved by --load-calib and observes the
// prepared model on the samples (none when src is nil). It warns of
// loaded statistics of tensors the model lacks, and, with no samples, of
// float activations the file has no statistics for.
func calibrate(m *graph.Model, src *calibdata.Source, qcfg quant.Config, loadCalibs []string) (*calib.Collection, []string, error) {
	coll, err := calib.New(qcfg.Method, qcfg.CalibOptions)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	have := map[string]bool{}
	floats := floatActivations(m)
	for _, loadCalib := range loadCalibs {
		f, err := graph.OpenRead(loadCalib)
		if err != nil {
			return nil, nil, fmt.Errorf("--load-calib: %v", err)
		}
		loaded, err := calib.Load(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("--load-calib %s: %v", loadCalib, err)
		}
		if err := coll.Merge(loaded); err != nil {
			return nil, nil, fmt.Errorf("--load-calib %s: %v", loadCalib, err)
		}
		names := loaded.Names()
		if len(names) == 0 {
			return nil, nil, fmt.Errorf("--load-calib %s: holds no tensor statistics", loadCalib)
		}
		var unknown []string
		for _, name := range names {
			if _, ok := floats[name]; !ok {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == len(names) {
			return nil, nil, fmt.Errorf("--load-calib %s: none of its %d tensors is a float activation of this model (statistics saved from another model?)", loadCalib, len(names))
		}
		if len(unknown) > 0 {
			warnings = append(warnings, fmt.Sprintf("--load-calib %s: %s of its %d tensors %s not a float activation of this model (ignored): %s",
				loadCalib, formatCount(int64(len(unknown))), len(names), isAre(len(unknown)), firstNames(unknown)))
		}
		for _, name := range names {
			have[name] = true
		}
	}
	if src == nil && len(loadCalibs) > 0 {
		var missing []string
		known := 0
		for _, name := range slices.Sorted(maps.Keys(floats)) {
			if floats[name] {
				known++
				if !have[name] {
					missing = append(missing, name)
				}
			}
		}
		if len(missing) > 0 {
			warnings = append(warnings, fmt.Sprintf("--load-calib %s %s no statistics for %s of the model's %d float activations, and no --calib samples observe them: they stay FP32 (%s)",
				strings.Join(loadCalibs, ", "), map[bool]string{true: "has", false: "have"}[len(loadCalibs) == 1], formatCount(int64(len(missing))), known, firstNames(missing)))
		}
	}
	if err := quant.Calibrate(m, src, qcfg, coll); err != nil {
		return nil, nil, err
	}
	return coll, warnings, nil
}

// countOps counts the nodes of op type op in g and its subgraphs.
func countOps(g *graph.Graph, op string) int {
	n := 0
	g.Walk(func(g *graph.Graph) {
		for _, x := range g.Nodes {
			if x.OpType == op && (x.Domain == "" || x.Domain == "ai.onnx") {
				n++
			}
		}
	})
	return n
}

// floatActivations are the names of the values of m that calibration may
// observe, graph inputs and node outputs of subgraphs included: true for
// those known to be float32, false for those of a type shape inference
// left unknown.
func floatActivations(m *graph.Model) map[string]bool {
	out := map[string]bool{}
	add := func(v *graph.Value) {
		if v != nil && v.Name != "" && (v.DType == graph.Float32 || v.DType == graph.Undefined) {
			out[v.Name] = out[v.Name] || v.DType == graph.Float32
		}
	}
	m.Graph.Walk(func(g *graph.Graph) {
		for _, in := range g.RealInputs() {
			add(in)
		}
		for _, n := range g.Nodes {
			for _, o := range n.Outputs {
				add(o)
			}
		}
	})
	return out
}

// firstNames quotes up to three names, then says how many more.
func firstNames(names []string) string {
	const shown = 3
	q := make([]string, 0, shown)
	for _, n := range names[:min(len(names), shown)] {
		q = append(q, strconv.Quote(n))
	}
	if len(names) > shown {
		q = append(q, fmt.Sprintf("%d more", len(names)-shown))
	}
	return strings.Join(q, ", ")
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// isTerminal tells whether w is a terminal, where a redrawn bar reads
// well; logs and pipes get plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress returns a Progress callback: a bar redrawn in place on a
// terminal, otherwise "calibrating 12/32 samples" lines, at most ten (the
// last included). The bar is made at the first call, when the total is
// known.
func newProgress(w io.Writer, terminal bool, what, unit string) func(done, total int) {
	if !terminal {
		return func(done, total int) {
			step := max((total+9)/10, 1) // ceil: ten lines at most
			if done%step == 0 || done == total {
				fmt.Fprintf(w, "%s %d/%d %s\n", what, done, total, unit)
			}
		}
	}
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(),
				progressbar.OptionSetItsString(unit),
				progressbar.OptionShowIts(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				// The summary that follows starts on a fresh line.
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			)
		}
		bar.Set(done)
	}
}

func saveCalib(coll *calib.Collection, path string) error {
	if err := tensorio.WriteAtomic(path, coll.Save); err != nil {
		return fmt.Errorf("--save-calib: %v", err)
	}
	return nil
}

// finished says what the steps after every choice of the flow changed.
type finished struct {
	floatWeights []string // quant.Finish
	hardSwish    *passes.HardSwishFusion
	half         bool // the input model has half-precision values (passes.UpcastHalf)
	// overridable counts the initializers the input model also lists as
	// graph inputs (IR 4 on), constants in the output
	overridable int
	// calibExtremes are the values the calibration samples reached
	// (calib.Collection.Extremes), which the --eval samples are held against
	calibExtremes map[string]calib.Range
	// nonFiniteInputs names the graph inputs whose calibration samples
	// held NaN or ±Inf values, with their counts.
	nonFiniteInputs []string
	// wideDB is the worst output on the search's samples with every
	// activation 16-bit (wideActivationsSQNR); NaN when not measured
	wideDB float64
	// coverage is the MAC coverage of the model written
	// (report.SampleCoverage)
	coverage macs.Coverage
	// calibSamples are the samples calibration read, against which the
	// held-out figures are set when they fall far below them
	calibSamples *calibdata.Source
	// floatWeightsDB is the worst output on the calibration samples once
	// floatWeights have their FP32 weights, the model the choices before
	// lead to; NaN when not measured
	floatWeightsDB float64
}

// summary prints what the quantize pass did and, on up to EvalMax
// samples of src (the --eval ones when given; all of them with EvalAll),
// the SQNR of every output of the quantized model against FP32. q must be
// written already: to measure it as it runs, summary lowers it in place.
// equalizedLine says what --equalize-activations rescaled in fp32, the
// prepared float model (from its record of rescaled values), or "".
func equalizedLine(fp32 *graph.Model) string {
	rs, err := passes.Rescales(fp32)
	if err != nil || len(rs) == 0 {
		return ""
	}
	depthwise, concats, norms, swishes := 0, 0, 0, 0
	for _, r := range rs {
		v := fp32.Graph.Value(r.Value)
		if v == nil || v.Producer == nil {
			continue
		}
		// a Mul gives a hard-swish the value back in its own units
		if slices.ContainsFunc(v.Consumers, func(n *graph.Node) bool {
			return n.OpType == "Mul" && len(n.Outputs) == 1 && n.Outputs[0] != nil && n.Outputs[0].Name == r.Original
		}) {
			swishes++
			continue
		}
		switch v.Producer.OpType {
		case "Concat":
			concats++
			continue
		case "LayerNormalization", "Add", "Mul":
			norms++
			continue
		}
		if slices.ContainsFunc(v.Consumers, func(n *graph.Node) bool { return n.OpType == "Conv" && n.AttrInt("group", 1) > 1 }) {
			depthwise++
		}
	}
	var parts []string
	if depthwise > 0 {
		parts = append(parts, plural(depthwise, "value")+" in front of depthwise Convs to equal channel ranges")
	}
	if swishes > 0 {
		parts = append(parts, plural(swishes, "Conv output")+" read by hard-swishes, undone by the DequantizeLinear in front of each")
	}
	if concats > 0 {
		parts = append(parts, "the inputs of "+plural(concats, "Concat")+" that Convs read to suit one grid")
	}
	if norms > 0 {
		parts = append(parts, "the outlier channels of "+plural(norms, "layer norm output")+" into the MatMuls reading them")
	}
	if len(parts) == 0 {
		return ""
	}
	return "rescaled " + strings.Join(parts, "; ") + " (the float model computes the same; --equalize-activations=false leaves them)"
}

func (c *cli) summary(cfg *quantizeConfig, r *passes.QuantReport, bias *quant.BiasReport, rounding *quant.RoundReport, units *quant.UnitsChoice, idle *quant.IdleReport, fb *quant.FallbackReport, tune *quant.TuneReport, fin finished, lowered *lower.Report, sizeBefore int64, fp32, q *graph.Model, src *calibdata.Source, reportLine string) error {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "wrote\t%s\n", cfg.Out)
	low := "" // a warning for a model its quantization ruined
	var after int64
	if st, err := os.Stat(cfg.Out); err == nil && st.Mode().IsRegular() {
		after = st.Size()
	} else if data, err := graph.Encode(q); err == nil {
		// a FIFO or device (/dev/null) has no size of its own: what went in
		after = int64(len(data))
	}
	if sizeBefore > 0 {
		fmt.Fprintf(w, "size\t%s -> %s (%.2fx)\n", formatBytes(sizeBefore), formatBytes(after), float64(after)/float64(sizeBefore))
	}
	if r != nil {
		tables := ""
		if r.TablesQuantized > 0 {
			tables = fmt.Sprintf(", %s (embeddings) in 8 bits", plural(r.TablesQuantized, "Gather table"))
		}
		fmt.Fprintf(w, "quantized\t%d activations, %d weights, %d biases%s; %d Relu/Clip folded\n", r.TensorsQuantized, r.WeightsQuantized, r.BiasesQuantized, tables, r.ActivationsFolded)
		held := ""
		if units != nil && !math.IsNaN(units.HeldBefore) {
			held = fmt.Sprintf("; on the held-out samples %.1f -> %.1f dB", units.HeldBefore, units.HeldAfter)
			if units.HeldMissed {
				held += ", too much lost there"
			}
		}
		switch {
		case units != nil && units.Kept && units.Completed == units.Units:
			fmt.Fprintf(w, "units\t%d Conv/MatMul outputs given a Q/DQ to complete their unit (integer kernels); worst output on the calibration samples %.1f -> %.1f dB%s\n", units.Completed, units.Before, units.After, held)
		case units != nil && units.Kept:
			fmt.Fprintf(w, "units\t%d of %d Conv/MatMul outputs read by float ops given a Q/DQ to complete their unit (integer kernels), those that cost least; worst output on the calibration samples %.1f -> %.1f dB%s (all %d: %.1f dB; --complete-units on forces them)\n", units.Completed, units.Units, units.Before, units.After, held, units.Units, units.All)
		case units != nil && units.Completed < units.Units:
			fmt.Fprintf(w, "units\tnot completed: a Q/DQ on the %d Conv/MatMul outputs read by float ops took the worst output on the calibration samples from %.1f to %.1f dB, on the %d that cost least to %.1f dB%s (--complete-units on forces them)\n", units.Units, units.Before, units.All, units.Completed, units.After, held)
		case units != nil:
			fmt.Fprintf(w, "units\tnot completed: a Q/DQ on %d Conv/MatMul outputs read by float ops took the worst output on the calibration samples from %.1f to %.1f dB%s (--complete-units on forces it)\n", units.Units, units.Before, units.All, held)
		case r.UnitsCompleted > 0 && cfg.CompleteUnits == "auto":
			fmt.Fprintf(w, "units\t%d Conv/MatMul outputs given a Q/DQ to complete their unit (integer kernels); no real samples to weigh what that costs (--complete-units off leaves them open)\n", r.UnitsCompleted)
		case r.UnitsCompleted > 0:
			fmt.Fprintf(w, "units\t%d Conv/MatMul outputs given a Q/DQ to complete their unit (integer kernels)\n", r.UnitsCompleted)
		}
		switch {
		case idle != nil && idle.Kept:
			fmt.Fprintf(w, "idle\t%d activations only Convs outside integer units read stay float (ONNX Runtime runs those Convs in float either way); worst output on the calibration samples %.1f -> %.1f dB (--float-idle-inputs=false keeps their Q/DQ)\n", idle.Activations, idle.Before, idle.After)
		case idle != nil:
			fmt.Fprintf(w, "idle\t%d activations only Convs outside integer units read keep their Q/DQ: in float the worst output on the calibration samples would go %.1f -> %.1f dB\n", idle.Activations, idle.Before, idle.After)
		}
		if len(fin.nonFiniteInputs) > 0 {
			fmt.Fprintf(c.stderr, "onnxq: WARNING: the calibration samples hold NaN or infinite values: %s; calibration leaves them out of the ranges, and every SQNR the positions where the FP32 output is not finite\n", strings.Join(fin.nonFiniteInputs, ", "))
		}
		for _, name := range r.UnusedOverrides {
			fmt.Fprintf(c.stderr, "onnxq: WARNING: --config %s: tensor %q: the override changes nothing: %s\n", cfg.Config, name, unusedOverrideWhy(fp32, q, name, cfg.overrides[name]))
		}
		if r.TensorsQuantized+r.WeightsQuantized == 0 {
			fmt.Fprintln(c.stderr, "onnxq: WARNING: nothing was quantized: no op the rules quantize reads a calibrated float tensor (the fp32 lines say why); the model keeps its float ops")
		}
		if r.OpsetFrom != r.OpsetTo {
			why := "the options need it: QuantizeLinear 10, per-channel weights 13; int4, 16-bit or blocked 21"
			if h := fin.hardSwish; h != nil && h.OpsetTo > h.OpsetFrom {
				why = fmt.Sprintf("the options need %d: QuantizeLinear 10, per-channel weights 13, int4, 16-bit or blocked 21; the HardSwish ops 14", h.OpsetFrom)
			}
			if r.OpsetTo == cfg.Opset {
				why = "--opset"
			}
			fmt.Fprintf(w, "opset\traised from %d to %d (%s)\n", r.OpsetFrom, r.OpsetTo, why)
		}
		if cfg.equalizeOffForStats && cfg.PerChannel {
			fmt.Fprintf(w, "equalize\toff: --save-calib/--load-calib keep statistics any run can merge, and the equalization factors would come from this run's samples alone\n")
		} else if line := equalizedLine(fp32); line != "" {
			fmt.Fprintf(w, "equalize\t%s\n", line)
		}
		fmt.Fprintf(w, "int8 ops\t%s\n", orNone(strings.Join(sortedCounts(r.OpCounts), ", "), "none"))
		if q != nil && q.Graph != nil {
			if cv := fin.coverage; cv.WeightedNodes > 0 {
				// "their": LSTM/GRU/RNN MACs are counted apart
				whose := "the"
				if cv.Recurrent > 0 {
					whose = "their"
				}
				shareOf := func(share float64) string {
					if cv.TotalMACs == 0 {
						return "MACs unknown"
					}
					if cv.UnknownMACs > 0 {
						return fmt.Sprintf("%.1f%% of %s MACs counted, %s of unknown size", 100*share, whose, plural(cv.UnknownMACs, "weighted op"))
					}
					return fmt.Sprintf("%.1f%% of %s MACs", 100*share, whose)
				}
				if cfg.Target == "tensorrt" {
					// TensorRT's rule: int8 inputs, whatever reads the output
					rest := ""
					if n := cv.WeightedNodes - cv.InputsQuantized; n > 0 {
						rest = fmt.Sprintf("; the other %d run in float", n)
					}
					if note := cv.RecurrentNote(); note != "" {
						rest += "; " + note
					}
					fmt.Fprintf(w, "coverage\t%d of %d weighted ops (%s) read int8 activations and weights, which TensorRT runs in INT8%s\n", cv.InputsQuantized, cv.WeightedNodes, shareOf(cv.InputsQuantizedShare()), rest)
				} else {
					c.coverageORT(w, cv, shareOf(cv.Share), q, r, cfg.CompleteUnits == "on")
				}
			}
		}
		reasons := map[string]int{}
		for _, f := range r.FP32 {
			reasons[f.Op+": "+f.Reason]++
		}
		for _, k := range slices.Sorted(maps.Keys(reasons)) {
			fmt.Fprintf(w, "fp32\t%d x %s\n", reasons[k], k)
		}
		for _, s := range r.WeightOnly {
			fmt.Fprintf(w, "weight-only\t%s (int weight, float compute)\n", s)
		}
		if fin.half {
			fmt.Fprintln(w, "half\tfloat16/bfloat16 model: it computes in float32 (int8 where quantized), its half-precision inputs and outputs keep their types through Casts")
		}
		if fin.overridable > 0 {
			fmt.Fprintf(w, "inputs\t%s the model also lists as graph inputs (defaults a caller could override) are constants in the output, folded and quantized; they can no longer be fed\n", plural(fin.overridable, "initializer"))
		}
		if h := fin.hardSwish; h != nil && len(h.Fused) > 0 {
			ops := map[string]int{}
			for _, f := range h.Fused {
				for _, op := range f.Ops {
					ops[op]++
				}
			}
			what := "1 hard-swish written with elementwise ops (%s) is now one HardSwish op"
			if len(h.Fused) > 1 {
				what = fmt.Sprintf("%d hard-swishes written with elementwise ops (%%s) are now one HardSwish op each", len(h.Fused))
			}
			fmt.Fprintf(w, "fused\t"+what+": fewer float kernels in ONNX Runtime between the Q/DQ (--fuse-hard-swish=false keeps them)\n", strings.Join(sortedCounts(ops), ", "))
		}
		for _, c := range quant.NarrowConcatInputs(q, fin.calibExtremes) {
			fmt.Fprintf(w, "narrow\t%s joins %s, whose values (range %.3g) span %.2g of the 255 steps of its output grid (range %.3g): quantized with the other inputs they are all but lost; bring the inputs to one scale before the Concat, or keep its output float (--config with {\"tensors\": {%q: {\"fp32\": true}}})\n",
				c.Concat, c.Input, c.Range, c.Steps, c.OutputRange, c.Output)
		}
		if n := len(fin.floatWeights); n > 0 {
			then := ""
			if !math.IsNaN(fin.floatWeightsDB) {
				then = fmt.Sprintf("; the worst output on the calibration samples is then %s dB", formatDB(fin.floatWeightsDB))
			}
			fmt.Fprintf(w, "fp32 w\t%d weighted ops outside complete Q/DQ units have their FP32 weights (--float-weights-outside-units %s): ONNX Runtime runs them in float without dequantizing a weight each run%s\n", n, cfg.FloatWeights, then)
		}
		domain := "default-domain"
		if r.WideDomain != "" {
			domain = r.WideDomain
		}
		if r.Wide > 0 {
			fmt.Fprintf(w, "16-bit\t%d activations as %v (%s Q/DQ): %s (--wide-front-end=false: 8 bits)\n", r.Wide, r.WideType, domain, passes.ReasonWide)
		}
		if r.WideByConfig > 0 {
			fmt.Fprintf(w, "16-bit\t%d activations as %v (%s Q/DQ): \"bits\": 16 in --config %s\n", r.WideByConfig, r.WideType, domain, cfg.Config)
		}
	}
	if lowered != nil {
		ops := sortedCounts(lowered.Lowered)
		if len(ops) == 0 {
			ops = append(ops, "none")
		}
		fmt.Fprintf(w, "qop\t%s\n", strings.Join(ops, ", "))
		if len(lowered.Moved) > 0 {
			fmt.Fprintf(w, "qop\ton the integers (no DequantizeLinear/QuantizeLinear): %s\n", strings.Join(sortedCounts(lowered.Moved), ", "))
		}
		reasons := map[string]int{}
		for _, k := range lowered.Kept {
			reasons[k.Op+": "+k.Reason]++
		}
		for _, k := range slices.Sorted(maps.Keys(reasons)) {
			fmt.Fprintf(w, "qdq\t%d x %s (stays DequantizeLinear/float/QuantizeLinear)\n", reasons[k], k)
		}
	}
	if fb != nil {
		for _, p := range fb.Picks {
			if fb.Dropped {
				continue
			}
			fmt.Fprintf(w, "fallback\t%s (%s) kept in FP32: worst output on the calibration samples +%.1f dB; %.1f%% of the weighted MACs\n", p.Node, p.Op, p.GainDB, 100*p.MACShare)
		}
		switch {
		case fb.Dropped:
			fmt.Fprintf(w, "fallback\tnone: %d layers in FP32 gained before bias correction, but the finished model would go %s -> %s dB on the calibration samples\n", len(fb.Picks), formatDB(fb.Final[0]), formatDB(fb.Final[1]))
		case fb.Budget == 0:
			fmt.Fprintf(w, "fallback\tnone: keeping %.0f%% of the %d weighted ops in Q/DQ units leaves no layer to spare\n", 100*quant.FallbackMinCoverage, fb.Weighted)
		case len(fb.Picks) == 0:
			fmt.Fprintf(w, "fallback\tnone: no weighted layer in FP32 gains %.1f dB on the calibration samples (%d ranked, %d confirmed, %.1fs)\n", quant.DefaultFallback().MinGainDB, fb.Candidates, fb.Confirmed, fb.Elapsed.Seconds())
		default:
			fmt.Fprintf(w, "fallback\t%d of at most %d layers in FP32; worst output on the calibration samples %s -> %s dB before bias correction, %s -> %s dB after (%d ranked, %d confirmed, %.1fs)\n", len(fb.Picks), fb.Budget, formatDB(fb.BeforeDB), formatDB(fb.AfterDB), formatDB(fb.Final[0]), formatDB(fb.Final[1]), fb.Candidates, fb.Confirmed, fb.Elapsed.Seconds())
		}
	}
	switch {
	case bias == nil:
	case bias.Candidates == 0:
		fmt.Fprintf(w, "bias	no quantized node has an integer bias of its own: nothing to correct\n")
	case bias.Applied:
		fmt.Fprintf(w, "bias	%d of %d biases corrected; worst output on the calibration samples %s -> %s dB\n", bias.Moved, bias.Candidates, formatDB(bias.Before), formatDB(bias.After))
	default:
		fmt.Fprintf(w, "bias	correction left out: the worst output on the calibration samples would go %s -> %s dB\n", formatDB(bias.Before), formatDB(bias.After))
	}
	switch {
	case rounding == nil:
	case rounding.Unsupported != "":
		fmt.Fprintf(w, "rounding\thessian does not apply: %s; weights rounded to nearest\n", rounding.Unsupported)
	case rounding.Layers == 0:
		fmt.Fprintf(w, "rounding\thessian: no layer could be rounded (%d left at nearest); weights rounded to nearest\n", rounding.Skipped)
	default:
		kept := "kept"
		if !rounding.Applied {
			kept = "not kept, weights rounded to nearest"
		}
		held := ""
		if !math.IsNaN(rounding.HeldBefore) {
			held = fmt.Sprintf(", on the held-out samples %s dB nearest, %s dB hessian", formatDB(rounding.HeldBefore), formatDB(rounding.HeldAfter))
		}
		fmt.Fprintf(w, "rounding\thessian on %d layers (%d weights off nearest, %d layers left at nearest); worst output on the calibration samples %s dB nearest, %s dB hessian%s: %s\n",
			rounding.Layers, rounding.Changed, rounding.Skipped, formatDB(rounding.Before), formatDB(rounding.After), held, kept)
	}
	if tune != nil {
		tuneSummary(w, tune)
		if !math.IsNaN(fin.wideDB) {
			wideSummary(w, tune, fin.wideDB)
		}
	}
	n := cfg.EvalMax
	if cfg.EvalAll && src != nil {
		n = src.Len()
	}
	if n > 0 && src != nil && src.Len() > 0 {
		// Only samples held out of calibration (--eval, or the search's)
		// can go past what calibration saw.
		var watch map[string]bool
		heldOut := ""
		switch {
		case cfg.Eval != "":
			heldOut = "the --eval samples"
		case tune != nil && tune.HeldOut:
			heldOut = "the held-out samples"
		}
		if heldOut != "" {
			watch = quantizedActivations(q, fin.calibExtremes)
		}
		// Measured as the model runs, its complete units as integer ops
		// (OutputSQNRWatching lowers a copy), as every choice was.
		sqnr, seen, err := quant.OutputSQNRWatching(fp32, q, src, n, cfg.Threads, watch)
		if err != nil {
			return fmt.Errorf("summary: %v", err)
		}
		from := ""
		switch {
		case cfg.Eval != "":
			from = " of --eval"
		case tune != nil && tune.HeldOut:
			from = " held out of calibration"
		}
		worst := struct {
			db   float64
			name string
		}{math.Inf(1), ""}
		for _, o := range sqnr {
			how := fmt.Sprintf("%s%s, quantized vs FP32 in onnxq's runtime, integer units as run", plural(o.Samples, "sample"), from)
			if !o.Discrete && o.NonFinite > 0 && o.NonFinite < o.Elements {
				how += fmt.Sprintf("; %d of its %d elements left out, where FP32 is NaN or infinite", o.NonFinite, o.Elements)
			}
			switch {
			case !o.Discrete && o.Elements > 0 && o.NonFinite == o.Elements:
				fmt.Fprintf(w, "sqnr\t%s: FP32 is NaN or infinite at all %d of its elements on these samples, nothing to measure (%s)\n", o.Name, o.Elements, how)
			case o.Discrete:
				fmt.Fprintf(w, "sqnr\t%s: %d of %d elements differ from FP32's (an integer or bool output; %s)\n", o.Name, o.Differ, o.Elements, how)
			case math.IsNaN(o.DB):
				fmt.Fprintf(w, "sqnr\t%s: no elements on these samples, nothing to measure (%s)\n", o.Name, how)
			case o.Silent:
				fmt.Fprintf(w, "sqnr\t%s %s dB (%s; the FP32 output is all zeros on them, so they measure nothing)\n", o.Name, formatDB(o.DB), how)
			default:
				fmt.Fprintf(w, "sqnr\t%s %s dB (%s)\n", o.Name, formatDB(o.DB), how)
				if o.DB < worst.db {
					worst.db, worst.name = o.DB, o.Name
				}
			}
		}
		// Measured on the samples the ranges and bias correction were
		// fitted to, a handful of them says little of other inputs (one
		// sample read 102.5 dB).
		if from == "" && len(sqnr) > 0 && sqnr[0].Samples < fewCalibrationSamples {
			fmt.Fprintf(w, "note\tthe sqnr lines measure the %s the ranges and biases were fitted to: so few say little of other inputs (--eval measures held-out ones)\n", plural(sqnr[0].Samples, "calibration sample"))
		}
		if worst.db < lowSQNR {
			low = fmt.Sprintf("output %s reads %s dB against FP32 (the error is a third of the signal or more): the model is of little use as it is; onnxq compare shows which layers cost it, and --target-sqnr keeps the worst in FP32", worst.name, formatDB(worst.db))
		}
		if heldOut != "" && !math.IsInf(worst.db, 1) {
			line, err := c.louderSummary(cfg, fin, fp32, q, heldOut, worst.db, seen, n)
			if err != nil {
				return fmt.Errorf("summary: %v", err)
			}
			if line != "" {
				fmt.Fprintf(w, "louder\t%s\n", line)
			}
		}
	}
	if reportLine != "" {
		fmt.Fprintf(w, "report\t%s\n", reportLine)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if low != "" {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s\n", low)
	}
	return nil
}

// coverageORT writes the coverage line by ONNX Runtime's rule (complete
// Q/DQ units), share being the units' share of the MACs, with why the
// others run in float, and warns when none is in a unit.
func (c *cli) coverageORT(w io.Writer, cv macs.Coverage, share string, q *graph.Model, r *passes.QuantReport, forced bool) {
	rest := ""
	int8Float := len(passes.Int8OutsideUnits(q.Graph)) // float-running, int8 weights
	if n := cv.WeightedNodes - cv.Units; n > 0 {
		rest = fmt.Sprintf("; the other %d run in float", n)
		var why []string
		if k := cv.OutputWriters(); k > 0 {
			why = append(why, fmt.Sprintf("%d of them writing a graph output, which stays float: a model's outputs keep their precision", k))
		}
		if k := int8Float; k > 0 {
			why = append(why, fmt.Sprintf("%d of them dequantizing int8 weights on every run; --float-weights-outside-units all gives them FP32 ones", k))
		}
		if k := countOps(q.Graph, "Einsum"); k > 0 {
			why = append(why, fmt.Sprintf("%d of them Einsum, which no rule quantizes", k))
		}
		if k := cv.InBodies(); k > 0 {
			why = append(why, fmt.Sprintf("%d of them in a Loop, If or Scan body, where what they read or write stays float", k))
		}
		if len(why) > 0 {
			rest += " (" + strings.Join(why, "; ") + ")"
		}
	}
	ort := ", which ONNX Runtime runs as integer kernels"
	if cv.ORTFloatUnits > 0 {
		ort = fmt.Sprintf(", the form integer kernels run (ONNX Runtime's CPU kernels still run %d of them in float: %s)", cv.ORTFloatUnits, cv.ORTFloatKinds())
	}
	if note := cv.RecurrentNote(); note != "" {
		rest += "; " + note
	}
	fmt.Fprintf(w, "coverage\t%d of %d weighted ops (%s) in complete Q/DQ units%s%s\n", cv.Units, cv.WeightedNodes, share, ort, rest)
	if cv.Units == 0 && r.WeightsQuantized > 0 {
		what := "no faster than FP32"
		if int8Float > 0 {
			what = "smaller but slower than FP32 (the int8 weights are dequantized on every run)"
		}
		hint := "; the units line says what completing them costs (--complete-units on forces them)"
		if forced {
			// --complete-units on was given: the coverage line says why
			hint = ""
		}
		fmt.Fprintf(c.stderr, "onnxq: WARNING: none of the %d weighted ops is in a complete Q/DQ unit: ONNX Runtime runs them all in float, so the quantized model is %s%s\n", cv.WeightedNodes, what, hint)
	}
}

func ptrTo[T any](v T) *T { return &v }

// sampleCoverage is report.SampleCoverage, for quantize, whose report
// variable (what the quantize pass did) hides the package.
var sampleCoverage = report.SampleCoverage

// fewCalibrationSamples is the count of calibration samples under which
// the summary says its sqnr lines, measured on them, tell little.
const fewCalibrationSamples = 4

// lowSQNR is the worst output's SQNR under which the summary warns: the
// error is a third of the signal in amplitude or more.
const lowSQNR = 10

// wideActivationsSQNR quantizes fp32 again as m was (kcfg, the statistics
// of coll), with every activation m quantizes at 16 bits over the
// calibration samples' extremes, corrects its biases on src as the flow
// does (its weights rounded as the flow rounds them), and returns its
// worst output SQNR on measure. Activation rounding
// all but gone, what is left is the int8 weights' error and the clipping of
// values past the calibration samples, which finer activations alone do not
// remove.
func (c *cli) wideActivationsSQNR(fp32, m *graph.Model, src, measure *calibdata.Source, cfg *quantizeConfig, kcfg quant.Config, coll *calib.Collection) (float64, error) {
	x, err := quant.Clone(fp32)
	if err != nil {
		return 0, err
	}
	over := maps.Clone(kcfg.Quant.Overrides)
	if over == nil {
		over = map[string]passes.TensorOverride{}
	}
	for _, name := range quantizedInputs(m) {
		if x.Graph.Value(name) == nil {
			continue
		}
		if o := over[name]; !o.FP32 {
			o.Bits = 16
			over[name] = o
		}
	}
	kcfg.Quant.Overrides = over
	kcfg.Quant.Extremes = quant.Extremes(coll)
	if _, err := c.quantizeFrom(x, fp32, src, cfg, kcfg, false, coll); err != nil {
		return 0, err
	}
	return quant.WorstOutputSQNR(fp32, x, measure, cfg.Threads)
}

// wideSummary says, for a missed SQNR target, how far 16-bit activations
// take the model: below the target, the int8 weights (or values louder
// than calibration saw) stop it, not the activations' rounding.
func wideSummary(w io.Writer, t *quant.TuneReport, db float64) {
	why := "the 8-bit activations cost the rest"
	switch {
	case db < t.BeforeSQNR-0.1:
		// finer activations cannot do worse on the same footing
		why = fmt.Sprintf("below the 8-bit model's own %s dB, so this check (none of the flow's other choices: units completed, activations kept float) tells nothing of what finer activations would give", formatDB(t.BeforeSQNR))
	case db < t.Target:
		why = "below the target, so finer activations alone cannot reach it: the int8 weights stop it, or values past what the calibration samples reached"
	}
	fmt.Fprintf(w, "target\twith every activation 16-bit over the calibration samples' extremes (int8 weights, no layer in FP32) the worst output reaches %s dB on the same samples: %s\n", formatDB(db), why)
}

// louderFactor is how far past the calibration samples' extremes an --eval
// sample must drive an activation for the summary to name it: within 2x,
// the ranges' own margin and clipping methods make the figure noise.
// Where the held-out samples read louderGapDB or more below the
// calibration ones, louderNearFactor names the activations instead: a
// ViT-style model's pooled feature 1.25x past its range took its logits
// from 39.5 dB on the calibration samples to 22.5 on the held-out ones
// (31.7 with that one range 1.3x wider).
const (
	louderFactor     = 2
	louderNearFactor = 1.1
	louderGapDB      = 6
)

// louderSummary returns the louder line (empty: none): the activations
// the held-out samples drive louderFactor past the calibration samples'
// extremes, or louderNearFactor past them when the worst held-out output,
// heldDB, reads louderGapDB or more below the calibration samples' worst.
func (c *cli) louderSummary(cfg *quantizeConfig, fin finished, fp32, q *graph.Model, heldOut string, heldDB float64, seen map[string]calib.Range, n int) (string, error) {
	if louder := quant.LouderThan(seen, fin.calibExtremes, louderFactor); len(louder) > 0 {
		return louderLine(heldOut, "", louder, louderFactor), nil
	}
	near := quant.LouderThan(seen, fin.calibExtremes, louderNearFactor)
	if len(near) == 0 || fin.calibSamples == nil || fin.calibSamples.Len() == 0 {
		return "", nil
	}
	res, err := quant.OutputSQNR(fp32, q, fin.calibSamples, min(n, fin.calibSamples.Len()), cfg.Threads)
	if err != nil {
		return "", err
	}
	calDB := math.Inf(1)
	for _, o := range res {
		if !o.Discrete && !math.IsNaN(o.DB) && !o.Silent {
			calDB = min(calDB, o.DB)
		}
	}
	if math.IsInf(calDB, 1) || calDB-heldDB < louderGapDB {
		return "", nil
	}
	gap := fmt.Sprintf(" read %s dB where the calibration samples read %s and", formatDB(heldDB), formatDB(calDB))
	return louderLine(heldOut, gap, near, louderNearFactor), nil
}

// quantizedInputs names the values a QuantizeLinear of q's main graph
// quantizes (not constants), in node order.
func quantizedInputs(q *graph.Model) []string {
	var out []string
	for _, n := range q.Graph.Nodes {
		if x := n.Input(0); n.OpType == "QuantizeLinear" && x != nil && x.Const == nil {
			out = append(out, x.Name)
		}
	}
	return out
}

// quantizedActivations names the values of q that a QuantizeLinear
// quantizes and whose calibration extremes are known.
func quantizedActivations(q *graph.Model, known map[string]calib.Range) map[string]bool {
	out := map[string]bool{}
	for _, name := range quantizedInputs(q) {
		if _, ok := known[name]; ok {
			out[name] = true
		}
	}
	return out
}

// louderLine says which activations the samples held out of calibration
// (heldOut names them) drive furthest past the calibration samples, the
// three loudest, and what to do about it.
func louderLine(heldOut, gap string, louder []quant.Louder, factor float64) string {
	var parts []string
	for i, l := range louder {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%.3gx at %s", l.Factor, l.Name))
	}
	return fmt.Sprintf("%s%s drive activations past the calibration samples' extremes: %s (%s %gx or more); ranges drawn from --calib clip those values: calibrate on samples like these",
		heldOut, gap, strings.Join(parts, ", "), plural(len(louder), "activation"), factor)
}

// writeReport compares the written model (read back from cfg.Out) with
// the FP32 model file, as onnxq compare reads it (fp32, the prepared
// graph, only for a half-precision file), on src, and writes the HTML
// report; it returns the summary line.
// With qdqForm, the QDQ model a --format qop file was lowered from, it
// compares that instead: it runs the same integer arithmetic, and its
// Q/DQ pairs let compare match values and attribute layers.
func (c *cli) writeReport(cfg *quantizeConfig, fp32, qdqForm *graph.Model, src *calibdata.Source, opts calib.Options, coverage macs.Coverage) (string, error) {
	if src == nil || src.Len() == 0 {
		return "", errors.New("no samples to compare on")
	}
	q, onQDQ := qdqForm, ""
	if q != nil {
		onQDQ = ", on the QDQ form it was lowered from"
	} else {
		var err error
		if q, err = graph.Load(cfg.Out); err != nil {
			return "", err
		}
	}
	n := 0
	if cfg.EvalSamplesSet && cfg.EvalMax > 0 {
		n = cfg.EvalMax
	}
	// The model as its file holds it, as onnxq compare reads it: the
	// prepared one has values the equalization rescaled in place, which
	// compare would match with the rescaled ones by name.
	if orig, err := graph.Load(cfg.Model); err == nil && !passes.HasHalfFloats(orig) {
		fp32 = orig
	}
	r, err := compare.Compare(fp32, q, src, compare.Options{
		Threads: cfg.Threads, Integer: true, Samples: n, FloatName: cfg.Model, QuantName: cfg.Out,
		Histograms: report.DefaultHistograms, HistogramOptions: opts,
	})
	if err != nil {
		return "", err
	}
	in := report.Input{Compare: r, Float: fp32, Quant: q, FloatFile: cfg.Model, QuantFile: cfg.Out, FloatSize: fileSize(cfg.Model), QuantSize: fileSize(cfg.Out), InputShapes: report.SampleShapes(src), Coverage: &coverage}
	if err := report.WriteFile(cfg.Report, in); err != nil {
		return "", plainError(err)
	}
	worst := math.Inf(1)
	for _, o := range r.Outputs {
		if o.Skipped == "" {
			worst = math.Min(worst, float64(o.SQNRdB))
		}
	}
	return fmt.Sprintf("%s (%d samples; worst output %s dB; %d layers ranked%s)", cfg.Report, r.Samples, formatDB(worst), len(r.Layers), onQDQ), nil
}

// tuneSummary prints what the accuracy-driven search did: the target and
// whether it was met, on which samples, what is in FP32 and what it costs.
func tuneSummary(w io.Writer, t *quant.TuneReport) {
	where := fmt.Sprintf("%d held-out samples", t.Measured)
	if !t.HeldOut {
		where = fmt.Sprintf("the %d calibration samples (too few to hold any out)", t.Measured)
	}
	what, unit := "worst output SQNR", " dB"
	format := formatDB
	if t.Metric == quant.TuneTop1 {
		what, unit = "top-1 agreement with FP32", "%"
		format = func(v float64) string { return fmt.Sprintf("%.1f", v) }
	}
	switch {
	case t.Met:
		fmt.Fprintf(w, "target\tmet: %s %s -> %s%s (target %s%s) on %s\n", what, format(t.Before), format(t.After), unit, format(t.Target), unit, where)
	case t.Stop == quant.TuneTimeout:
		fmt.Fprintf(w, "target\tNOT met: the --tune-timeout ended the search; best %s %s%s (from %s%s, target %s%s) on %s\n", what, format(t.After), unit, format(t.Before), unit, format(t.Target), unit, where)
	default:
		fmt.Fprintf(w, "target\tNOT met: no candidate left that gains; best %s %s%s (from %s%s, target %s%s) on %s\n", what, format(t.After), unit, format(t.Before), unit, format(t.Target), unit, where)
	}
	if t.Metric == quant.TuneTop1 {
		fmt.Fprintf(w, "target\tworst output SQNR %s -> %s dB on the same samples\n", formatDB(t.BeforeSQNR), formatDB(t.AfterSQNR))
	}
	for _, e := range t.Excluded {
		kind := "layer in FP32"
		if e.Activation {
			kind = "activation in FP32 (Q/DQ dropped)"
		}
		fmt.Fprintf(w, "target\t%s (%s) %s: +%.2f dB on the calibration samples; %.2f%% of the MACs\n", e.Node, e.Op, kind, e.GainDB, 100*e.MACShare)
	}
	fmt.Fprintf(w, "target\t%d excluded; Conv/Gemm/MatMul MACs outside integer units %.2f%% -> %.2f%%; %d candidates, %d rankings, %d trial runs, %d confirmed, %.1fs\n",
		len(t.Excluded), 100*t.FP32MACsBefore, 100*t.FP32MACsAfter, t.Candidates, t.Rankings, t.Trials, t.Confirmed, t.Elapsed.Seconds())
}

// sortedCounts formats "name count" for each entry, sorted.
func sortedCounts(counts map[string]int) []string {
	out := make([]string, 0, len(counts))
	for name, n := range counts {
		out = append(out, fmt.Sprintf("%s %d", name, n))
	}
	sort.Strings(out)
	return out
}

func formatDB(db float64) string {
	if math.IsInf(db, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.1f", db)
}
