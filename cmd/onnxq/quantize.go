package main

// The main job: "onnxq MODEL -o OUT" quantizes MODEL to a QDQ INT8 model.
// It prepares the FP32 graph, calibrates activation ranges by running it
// on the user's samples, inserts Q/DQ by the rule table, writes OUT
// atomically and reports what was quantized and how much the outputs moved.

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/quant"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// quantizeConfig is the typed form of the main job's command line.
type quantizeConfig struct {
	Model   string
	Out     string
	Version bool

	Calib      string
	Synthetic  int
	Seed       int64
	Method     string
	Percentile float64
	Target     string
	SaveCalib  string
	LoadCalib  string
	Threads    int
	EvalMax    int

	ActivationType       string
	WeightType           string
	PerChannel           bool
	SymmetricActivations bool
	ReduceRange          bool
	ExcludeOps           []string
	ExcludeNodes         []string
	IncludeOps           []string

	ImageSize string
	Mean      []float32
	Std       []float32
	Layout    string
	BGR       bool

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
prepares the FP32 graph (constants folded, BatchNormalization folded into
Conv, dead nodes removed), runs it on the calibration samples to find the
range of every activation, inserts QuantizeLinear/DequantizeLinear pairs
by its per-op rule table (integer weights, per-channel by default, int32
biases), writes OUT, and prints a summary: what was quantized, what stays
FP32 and why, the file sizes, and the SQNR of each output against FP32.

--calib PATH takes samples from a folder of sample_NNN/<input>.npy (as in
../shared/data), .npz files, ONNX test_data_set_N/input_K.pb folders, or
images (--image-size, --mean, --std, --layout, --bgr). Without --calib,
onnxq warns and calibrates on --synthetic N random samples, which rarely
gives good ranges.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &quantizeConfig{}
		fs.StringVarP(&cfg.Out, "output", "o", "", "write the quantized model to `OUT`")
		fs.BoolVar(&cfg.Version, "version", false, "print onnxq's version and exit")
		fs.StringVar(&cfg.Calib, "calib", "", "calibration samples: a folder or file (`PATH`)")
		fs.IntVar(&cfg.Synthetic, "synthetic", 32, "without --calib, calibrate on `N` random samples")
		fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the synthetic samples")
		fs.StringVar(&cfg.Method, "method", "minmax", "calibration method: minmax, ema, entropy, percentile or mse")
		fs.Float64Var(&cfg.Percentile, "percentile", 99.999, "clip point of --method percentile")
		fs.StringVar(&cfg.Target, "target", "ort-cpu", "preset: ort-cpu, tensorrt or generic")
		fs.StringVar(&cfg.ActivationType, "activation-type", "", "activation type: int8 or uint8 (default: the target's)")
		fs.StringVar(&cfg.WeightType, "weight-type", "", "weight type: int8, uint8 or int4 (default: the target's)")
		fs.BoolVar(&cfg.PerChannel, "per-channel", true, "one weight scale per output channel")
		fs.BoolVar(&cfg.SymmetricActivations, "symmetric-activations", false, "zero-centred activation ranges")
		fs.BoolVar(&cfg.ReduceRange, "reduce-range", false, "7-bit weights, for kernels whose 16-bit sums saturate")
		fs.StringArrayVar(&cfg.ExcludeOps, "exclude-op", nil, "keep op types matching `GLOB` in FP32 (repeatable)")
		fs.StringArrayVar(&cfg.ExcludeNodes, "exclude-node", nil, "keep nodes whose name matches `GLOB` in FP32 (repeatable)")
		fs.StringArrayVar(&cfg.IncludeOps, "include-op", nil, "quantize op types matching `GLOB` that stay FP32 by default (repeatable)")
		fs.StringVar(&cfg.SaveCalib, "save-calib", "", "save the calibration statistics to `FILE` (JSON)")
		fs.StringVar(&cfg.LoadCalib, "load-calib", "", "merge statistics saved by --save-calib from `FILE` (repeat runs to combine)")
		fs.IntVar(&cfg.Threads, "threads", 0, "threads for calibration runs (default: all cores; results do not depend on it)")
		fs.IntVar(&cfg.EvalMax, "eval-samples", 8, "samples the closing SQNR summary runs (0 skips it)")
		fs.StringVar(&cfg.ImageSize, "image-size", "", "image calibration: resize to `HxW` (default: the input's shape)")
		fs.Float32SliceVar(&cfg.Mean, "mean", nil, "image calibration: per-channel mean of [0,1] pixels")
		fs.Float32SliceVar(&cfg.Std, "std", nil, "image calibration: per-channel std of [0,1] pixels")
		fs.StringVar(&cfg.Layout, "layout", "", "image calibration: nchw or nhwc (default: from the input's shape)")
		fs.BoolVar(&cfg.BGR, "bgr", false, "image calibration: channels in BGR order")
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
			opts, err := cfg.quantOptions()
			if err != nil {
				return usageErrorf("", "%v", err)
			}
			method, err := calib.ParseMethod(cfg.Method)
			if err != nil {
				return usageErrorf("", "--method: %v", err)
			}
			return c.quantize(cfg, opts, method)
		}
	},
}

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
	}
	opts.PerChannel = cfg.PerChannel
	opts.SymmetricActivations = opts.SymmetricActivations || cfg.SymmetricActivations
	opts.ReduceRange = cfg.ReduceRange
	opts.ExcludeOps, opts.ExcludeNodes, opts.IncludeOps = cfg.ExcludeOps, cfg.ExcludeNodes, cfg.IncludeOps
	return opts, opts.Validate()
}

func (cfg *quantizeConfig) imageOptions() (calibdata.ImageOptions, error) {
	o := calibdata.ImageOptions{Mean: cfg.Mean, Std: cfg.Std, Layout: strings.ToLower(cfg.Layout), BGR: cfg.BGR}
	if cfg.ImageSize != "" {
		var h, w int
		if _, err := fmt.Sscanf(strings.ToLower(cfg.ImageSize), "%dx%d", &h, &w); err != nil || h <= 0 || w <= 0 {
			return o, fmt.Errorf("--image-size %q: want HxW, e.g. 224x224", cfg.ImageSize)
		}
		o.Size = [2]int{h, w}
	}
	if o.Layout != "" && o.Layout != "nchw" && o.Layout != "nhwc" {
		return o, fmt.Errorf("--layout %q: want nchw or nhwc", cfg.Layout)
	}
	return o, nil
}

// quantizedOps are op types that mark a model as quantized already.
var quantizedOps = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "QLinearConv": true, "QLinearMatMul": true,
	"ConvInteger": true, "MatMulInteger": true, "DynamicQuantizeLinear": true,
}

func (c *cli) quantize(cfg *quantizeConfig, opts passes.QuantOptions, method calib.Method) error {
	if same, err := samePath(cfg.Model, cfg.Out); err != nil {
		return err
	} else if same {
		return fmt.Errorf("%s: refusing to overwrite the input model; choose another -o", cfg.Out)
	}
	if err := checkOutputFolder(cfg.Out); err != nil {
		return err
	}
	img, err := cfg.imageOptions()
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	m, err := graph.Load(cfg.Model)
	if err != nil {
		return err
	}
	var already int
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if quantizedOps[n.OpType] && (n.Domain == "" || n.Domain == "ai.onnx") {
				already++
			}
		}
	})
	if already > 0 {
		return fmt.Errorf("%s: the model is already quantized (%d quantization nodes); give onnxq the FP32 model", cfg.Model, already)
	}
	inputs := calibdata.Inputs(m)

	// Open the samples before any work, so bad data fails fast.
	var src *calibdata.Source
	if cfg.Calib != "" {
		if src, err = calibdata.Open(cfg.Calib, inputs, img); err != nil {
			return fmt.Errorf("--calib: %v", err)
		}
	} else if cfg.LoadCalib == "" {
		if cfg.Synthetic <= 0 {
			return &usageError{msg: "--synthetic must be at least 1 without --calib"}
		}
		fmt.Fprintf(c.stderr, "onnxq: WARNING: no --calib samples: calibrating on %d random samples; ranges from random data rarely fit real inputs, give --calib PATH\n", cfg.Synthetic)
		src = calibdata.Synthetic(inputs, cfg.Synthetic, cfg.Seed)
	}
	sizeBefore := fileSize(cfg.Model)

	qcfg := quant.Config{
		Method:       method,
		CalibOptions: calib.DefaultOptions(),
		Quant:        opts,
		Threads:      cfg.Threads,
		RunOptions:   passes.RunOptions{DumpAfter: cfg.DumpAfter, Dump: c.stdout, StopAfter: cfg.StopAfter, TimePasses: cfg.TimePasses},
		Progress:     newProgress(c.stderr, isTerminal(c.stderr), "calibrating"),
	}
	qcfg.CalibOptions.Percentile = cfg.Percentile
	if err := quant.Prepare(m, qcfg); err != nil {
		return err
	}
	// The FP32 reference for the summary runs on the prepared graph: the
	// same values the ranges were measured on.
	fp32, err := quant.Clone(m)
	if err != nil {
		return err
	}
	coll, err := calibrate(m, src, qcfg, cfg.LoadCalib)
	if err != nil {
		return err
	}
	if cfg.SaveCalib != "" {
		if err := saveCalib(coll, cfg.SaveCalib); err != nil {
			return err
		}
	}
	report, err := quant.Quantize(m, quant.Ranges(coll), qcfg)
	if err != nil {
		return err
	}
	if err := graph.Save(m, cfg.Out, graph.SaveOptions{}); err != nil {
		return fmt.Errorf("writing %s: %v", cfg.Out, plainError(err))
	}
	return c.summary(cfg, report, sizeBefore, fp32, m, src)
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// calibrate merges the statistics saved by --load-calib and observes the
// prepared model on the samples (none when src is nil).
func calibrate(m *graph.Model, src *calibdata.Source, qcfg quant.Config, loadCalib string) (*calib.Collection, error) {
	coll, err := calib.New(qcfg.Method, qcfg.CalibOptions)
	if err != nil {
		return nil, err
	}
	if loadCalib != "" {
		f, err := os.Open(loadCalib)
		if err != nil {
			return nil, fmt.Errorf("--load-calib: %v", err)
		}
		loaded, err := calib.Load(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--load-calib %s: %v", loadCalib, err)
		}
		if err := coll.Merge(loaded); err != nil {
			return nil, fmt.Errorf("--load-calib %s: %v", loadCalib, err)
		}
	}
	if err := quant.Calibrate(m, src, qcfg, coll); err != nil {
		return nil, err
	}
	return coll, nil
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
func newProgress(w io.Writer, terminal bool, what string) func(done, total int) {
	if !terminal {
		return func(done, total int) {
			step := max((total+9)/10, 1) // ceil: ten lines at most
			if done%step == 0 || done == total {
				fmt.Fprintf(w, "%s %d/%d samples\n", what, done, total)
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
				progressbar.OptionSetItsString("samples"),
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
	f, err := os.CreateTemp(dirOf(path), ".calib*.json")
	if err != nil {
		return fmt.Errorf("--save-calib: %v", err)
	}
	tmp := f.Name()
	if err := coll.Save(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("--save-calib: %v", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--save-calib: %v", err)
	}
	return os.Rename(tmp, path)
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, "/"); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// summary prints what the quantize pass did and, on up to EvalMax
// samples, the SQNR of every output of the quantized model against FP32.
func (c *cli) summary(cfg *quantizeConfig, r *passes.QuantReport, sizeBefore int64, fp32, q *graph.Model, src *calibdata.Source) error {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "wrote\t%s\n", cfg.Out)
	after := fileSize(cfg.Out)
	if sizeBefore > 0 {
		fmt.Fprintf(w, "size\t%s -> %s (%.2fx)\n", formatBytes(sizeBefore), formatBytes(after), float64(after)/float64(sizeBefore))
	}
	if r != nil {
		fmt.Fprintf(w, "quantized\t%d activations, %d weights, %d biases; %d Relu/Clip folded\n", r.TensorsQuantized, r.WeightsQuantized, r.BiasesQuantized, r.ActivationsFolded)
		if r.OpsetFrom != r.OpsetTo {
			fmt.Fprintf(w, "opset\traised from %d to %d (per-channel or int4 weights need it)\n", r.OpsetFrom, r.OpsetTo)
		}
		ops := make([]string, 0, len(r.OpCounts))
		for op, n := range r.OpCounts {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
		}
		sort.Strings(ops)
		fmt.Fprintf(w, "int8 ops\t%s\n", strings.Join(ops, ", "))
		reasons := map[string]int{}
		for _, f := range r.FP32 {
			reasons[f.Op+": "+f.Reason]++
		}
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "fp32\t%d x %s\n", reasons[k], k)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if cfg.EvalMax <= 0 || src == nil || src.Len() == 0 {
		return nil
	}
	sqnr, err := quant.OutputSQNR(fp32, q, src, cfg.EvalMax, cfg.Threads)
	if err != nil {
		return fmt.Errorf("summary: %v", err)
	}
	for _, o := range sqnr {
		fmt.Fprintf(c.stdout, "sqnr\t%s %s dB (%d samples, quantized vs FP32 in onnxq's runtime)\n", o.Name, formatDB(o.DB), o.Samples)
	}
	return nil
}

func formatDB(db float64) string {
	if math.IsInf(db, 1) {
		return "inf"
	}
	return fmt.Sprintf("%.1f", db)
}
