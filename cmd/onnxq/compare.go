// compare.go is the compare command: it runs an FP32 model and its
// quantized form on samples and explains, layer by layer, where the
// accuracy went (see package compare).

package main

import (
	"fmt"
	"io"

	"github.com/onnxq/onnxq/compare"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/report"
	"github.com/spf13/pflag"
)

// compareConfig is the typed form of the compare command line.
type compareConfig struct {
	Float, Quant string
	Data         string
	JSON         string
	HTML         string
	Top          int
	Samples      int
	Threads      int
	Integer      bool
	Exclusions   int
	Output       string
	imageConfig
}

var compareCommand = &command{
	name:    "compare",
	args:    "FLOAT.onnx QUANT.onnx --data PATH [--json OUT.json] [--html OUT.html] [--top N] [--output NAME]",
	summary: "explain a quantized model's accuracy loss per output, activation and layer",
	doc: `Compare runs FLOAT (the FP32 model) and QUANT (its quantized form, as
onnxq writes it) on the samples of --data (the forms --calib takes) and
prints:

  - per output: SQNR, cosine similarity, largest absolute error and, for
    outputs holding class scores along their last axis (2 or more, from a
    Softmax over that axis, a Gemm or MatMul, or a flattened global
    pooling), how many vectors keep their argmax (top-1); a detector's
    boxes or a probability map have no classes to count;
  - per quantized activation of QUANT: the SQNR of the quantized run's
    dequantized tensor against FLOAT's tensor of the same name (cumulative:
    all the error up to there), the range its Q/DQ represents, the share
    of FP32 values outside it and, when some are, how far past the range
    the loudest went (a sample far louder than calibration showed);
  - per quantized layer, most harmful first: the error the layer adds when
    it alone is quantized (its inputs through their Q/DQ, its weights
    dequantized), as local SQNR and noise-to-signal ratio;
  - the --exclude-node patterns of the most harmful layers, to quantize
    FLOAT again with them kept in FP32.

Tensors are matched by name; one that FLOAT lacks, or holds with another
shape, is skipped and counted, never compared. --json writes the full
report (schema in the compare package's documentation, with a
schema_version field). --html writes a self-contained HTML report (no
script, no external file or URL): the outputs, the layers by harm and the
activations' SQNR as charts, the activations driven furthest past their
range, histograms of the worst activations' FP32 values with the ranges
each calibration method picks, the per-channel weight ranges of the most
harmful layers, sizes and INT8 MAC coverage.
Harm is measured at the worst output, or at the one --output names.
--top bounds the printed rows, not the JSON or HTML.
With --integer (the default) QUANT runs as 'onnxq run' executes it.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &compareConfig{}
		fs.StringVar(&cfg.Data, "data", "", "sample inputs: a folder or file (`PATH`)")
		cfg.imageConfig.declare(fs, "samples")
		fs.StringVar(&cfg.JSON, "json", "", "write the full report as JSON to `FILE`")
		fs.StringVar(&cfg.HTML, "html", "", "write a self-contained HTML report with charts to `FILE`")
		fs.IntVar(&cfg.Top, "top", 10, "print the `N` worst activations and layers (0: all)")
		fs.IntVar(&cfg.Exclusions, "exclusions", compare.DefaultExclusions, "suggest `N` layers to exclude")
		fs.IntVar(&cfg.Samples, "samples", 0, "run at most `N` samples (default: all)")
		fs.IntVar(&cfg.Threads, "threads", 0, "use `N` threads per model (default: a third of the cores, as the two models and the comparisons run side by side; results do not depend on it)")
		fs.BoolVar(&cfg.Integer, "integer", true, "run QUANT's complete Q/DQ units as integer ops")
		fs.StringVar(&cfg.Output, "output", "", "rank the layers by their harm to output `NAME` (default: the worst output)")
		return func(c *cli, args []string) error {
			switch {
			case len(args) != 2:
				return usageErrorf("compare", "compare needs FLOAT.onnx and QUANT.onnx")
			case cfg.Data == "":
				return usageErrorf("compare", "missing --data PATH, the sample inputs")
			case cfg.Top < 0:
				return usageErrorf("compare", "--top %d: want 0 (all) or more", cfg.Top)
			case cfg.Samples < 0:
				return usageErrorf("compare", "--samples %d: want 0 (all) or more", cfg.Samples)
			case cfg.Threads < 0:
				return usageErrorf("compare", "--threads %d: want 0 (the default) or more", cfg.Threads)
			case cfg.Exclusions < 0:
				return usageErrorf("compare", "--exclusions %d: want 0 or more", cfg.Exclusions)
			}
			cfg.Float, cfg.Quant = args[0], args[1]
			return c.compare(cfg)
		}
	},
}

func (c *cli) compare(cfg *compareConfig) error {
	outs := []outputFile{{"--json", cfg.JSON}, {"--html", cfg.HTML}}
	ins := []inputFile{{"FLOAT", cfg.Float}, {"QUANT", cfg.Quant}, {"--data", cfg.Data}}
	if err := refuseOverwrite(ins, outs...); err != nil {
		return err
	}
	if err := checkOutputs(outs...); err != nil {
		return err
	}
	fm, err := loadRunnable(cfg.Float)
	if err != nil {
		return err
	}
	qm, err := graph.Load(cfg.Quant)
	if err != nil {
		return err
	}
	if n := len(passes.QuantizationNodes(fm)); n > 0 {
		hint := "give the FP32 model it was quantized from first"
		if len(passes.QuantizationNodes(qm)) == 0 {
			hint = "the arguments are swapped? FLOAT comes first, then QUANT"
		}
		return fmt.Errorf("FLOAT %s is quantized already (%d quantization nodes): %s", cfg.Float, n, hint)
	}
	var size int64
	for _, in := range []struct {
		path string
		m    *graph.Model
	}{{cfg.Float, fm}, {cfg.Quant, qm}} {
		files, err := modelInputs(in.path, in.m)
		if err != nil {
			return err
		}
		if err := refuseOverwrite(files, outs...); err != nil {
			return err
		}
		size += filesSize(files)
	}
	lessGarbageFor(size)
	src, err := c.openSamples("--data", cfg.Data, calibdata.Inputs(fm), &cfg.imageConfig)
	if err != nil {
		return err
	}
	exclusions := cfg.Exclusions
	if exclusions == 0 {
		exclusions = -1 // none
	}
	opts := compare.Options{
		Threads: cfg.Threads, Integer: cfg.Integer, Samples: cfg.Samples, Exclusions: exclusions,
		FloatName: cfg.Float, QuantName: cfg.Quant, Output: cfg.Output,
	}
	if cfg.HTML != "" {
		opts.Histograms = report.DefaultHistograms
	}
	r, err := compare.Compare(fm, qm, src, opts)
	if err != nil {
		return err
	}
	if cfg.HTML != "" {
		in := report.Input{Compare: r, Float: fm, Quant: qm, FloatFile: cfg.Float, QuantFile: cfg.Quant, FloatSize: fileSize(cfg.Float), QuantSize: fileSize(cfg.Quant), InputShapes: report.SampleShapes(src), Coverage: ptrTo(report.SampleCoverage(qm, src))}
		if err := report.WriteFile(cfg.HTML, in); err != nil {
			return fmt.Errorf("--html: %v", plainError(err))
		}
	}
	if cfg.JSON != "" {
		if err := tensorio.WriteAtomic(cfg.JSON, func(w io.Writer) error { return r.WriteJSON(w) }); err != nil {
			return fmt.Errorf("--json: %v", plainError(err))
		}
	}
	return r.Print(c.stdout, cfg.Top)
}
