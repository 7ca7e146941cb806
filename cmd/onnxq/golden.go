// golden.go is the golden command: it runs a model on sample inputs and
// writes an ONNX test folder (model.onnx + test_data_set_N/{input,output}_K.pb)
// that `onnxq verify` checks the model against later. It also holds the
// execution form shared with verify: complete Q/DQ units run as integer
// ops.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/runtime"
	"github.com/spf13/pflag"
)

// goldenConfig is the typed form of the golden command line.
type goldenConfig struct {
	Model   string
	Data    string
	Out     string
	Samples int
	Threads int
	Integer bool
	// Requantize names the requantizer of the integer ops.
	Requantize string
	imageConfig
}

var goldenCommand = &command{
	name:    "golden",
	args:    "MODEL --data PATH -o GOLDEN",
	summary: "record a model's outputs on sample inputs as an ONNX test folder for verify",
	doc: `Golden runs MODEL in onnxq's runtime on the samples of --data (the forms
--calib takes: sample_NNN/<input>.npy folders, .npz files, ONNX
test_data_set_N folders, images) and writes GOLDEN, an ONNX test folder:
GOLDEN/model.onnx (a byte copy of MODEL) and
GOLDEN/test_data_set_N/{input,output}_K.pb, one data set per sample in
name order (--samples caps them). 'onnxq verify GOLDEN' then reruns the
model and compares: integer outputs exactly, float outputs within
--rtol/--atol.

With --integer (the default) every complete Q/DQ unit of a quantized
model (DequantizeLinear inputs, Conv or MatMul, QuantizeLinear output)
runs as one integer op, as --format qop writes it: integer results do not
depend on the CPU's float arithmetic, the kernel path or the thread
count. A Conv whose inputs are dequantized but whose output stays float
runs as an integer convolution with a float output too (within a
rounding of a float Conv, so a QuantizeLinear after it may land one step
from ONNX Runtime's). The rest of the model runs in float as written.
verify runs the same form by default.

` + requantizeHelp + `

GOLDEN/onnxq_golden.json records --integer and --requantize, which
verify then uses unless given otherwise.

GOLDEN must not exist; it is written to a temporary folder beside it and
renamed into place, so a failure leaves nothing behind.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &goldenConfig{}
		fs.StringVar(&cfg.Data, "data", "", "sample inputs: a folder or file (`PATH`)")
		cfg.imageConfig.declare(fs, "samples")
		fs.StringVarP(&cfg.Out, "output", "o", "", "write the test folder to `GOLDEN`")
		fs.IntVar(&cfg.Samples, "samples", 0, "record at most `N` samples (default: all)")
		fs.IntVar(&cfg.Threads, "threads", 0, "use `N` threads (default: all cores)")
		fs.BoolVar(&cfg.Integer, "integer", true, "run complete Q/DQ units as integer ops")
		declareRequantizeFlag(fs, &cfg.Requantize)
		return func(c *cli, args []string) error {
			if _, err := parseRequantize("golden", cfg.Requantize); err != nil {
				return err
			}
			switch {
			case len(args) != 1:
				return usageErrorf("golden", "golden needs exactly one MODEL")
			case cfg.Data == "":
				return usageErrorf("golden", "missing --data PATH, the sample inputs")
			case cfg.Out == "":
				return usageErrorf("golden", "missing -o GOLDEN, the test folder to write")
			case cfg.Samples < 0:
				return usageErrorf("golden", "--samples %d: want 0 (all) or more", cfg.Samples)
			case cfg.Threads < 0:
				return usageErrorf("golden", "--threads %d: want 0 (all cores) or more", cfg.Threads)
			}
			cfg.Model = args[0]
			return c.golden(cfg)
		}
	},
}

// executionForm returns m as onnxq runs it: with integer set, complete
// Q/DQ units lowered to integer ops (m itself is not changed).
func executionForm(m *graph.Model, integer bool) (*graph.Model, error) {
	if !integer {
		return m, nil
	}
	return lower.ExecutionCopy(m)
}

func (c *cli) golden(cfg *goldenConfig) error {
	if _, err := os.Lstat(cfg.Out); err == nil {
		return fmt.Errorf("%s exists; golden writes a new folder and never replaces one", cfg.Out)
	}
	// "golden/" names the folder golden: checked and renamed to clean
	if err := checkOutput("-o", filepath.Clean(cfg.Out)); err != nil {
		return err
	}
	m, modelBytes, err := graph.LoadBytes(cfg.Model)
	if err != nil {
		return err
	}
	if err := runnable(m); err != nil {
		return fmt.Errorf("%s: %v", cfg.Model, err)
	}
	if len(m.Graph.Outputs) == 0 {
		// a test with nothing to compare would pass whatever changed
		return fmt.Errorf("%s: the model has no outputs: there is nothing to record", cfg.Model)
	}
	src, err := c.openSamples("--data", cfg.Data, calibdata.Inputs(m), &cfg.imageConfig)
	if err != nil {
		return err
	}
	n := src.Len()
	if cfg.Samples > 0 {
		n = min(n, cfg.Samples)
	}
	if n == 0 {
		return fmt.Errorf("--data %s: no samples", cfg.Data)
	}
	exec, err := executionForm(m, cfg.Integer)
	if err != nil {
		return err
	}
	rq, _ := runtime.ParseRequantizer(cfg.Requantize)
	sess, err := runtime.NewSession(exec, runtime.Options{Threads: cfg.Threads, Requantizer: rq})
	if err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(cfg.Out))
	tmp, err := os.MkdirTemp(parent, ".golden*")
	if err != nil {
		return fmt.Errorf("-o %s: %v", cfg.Out, plainError(err))
	}
	defer graph.TrackTemporary(tmp)()
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.WriteFile(filepath.Join(tmp, "model.onnx"), modelBytes, 0o644); err != nil {
		return plainError(err)
	}
	// External data files go beside the copy at the places the model
	// names, so that the folder verifies on its own.
	if usesExternalData(m) {
		locs, err := externalLocationsIn(cfg.Model, modelBytes)
		if err != nil {
			return err
		}
		for _, loc := range locs {
			if err := copyFile(filepath.Join(filepath.Dir(cfg.Model), filepath.FromSlash(loc)), tmp, filepath.FromSlash(loc)); err != nil {
				return fmt.Errorf("external data %s: %v", loc, plainError(err))
			}
		}
	}
	names := src.Names()
	for i := range n {
		sample, err := src.Sample(i)
		if err != nil {
			return fmt.Errorf("sample %s: %v", names[i], err)
		}
		outs, err := sess.Run(sample)
		if err != nil {
			return fmt.Errorf("sample %s: %v", names[i], err)
		}
		set := filepath.Join(tmp, fmt.Sprintf("test_data_set_%d", i))
		if err := os.Mkdir(set, 0o755); err != nil {
			return plainError(err)
		}
		for k, in := range sess.Inputs() {
			t := sample[in.Name]
			if t == nil {
				return fmt.Errorf("sample %s has no input %q", names[i], in.Name)
			}
			if err := tensorio.WritePb(filepath.Join(set, fmt.Sprintf("input_%d.pb", k)), in.Name, t); err != nil {
				return plainError(err)
			}
		}
		for k, out := range exec.Graph.Outputs {
			if err := tensorio.WritePb(filepath.Join(set, fmt.Sprintf("output_%d.pb", k)), out.Name, outs[out.Name]); err != nil {
				return plainError(err)
			}
		}
	}
	if err := writeGoldenSettings(tmp, goldenSettings{Integer: cfg.Integer, Requantize: cfg.Requantize}); err != nil {
		return plainError(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp's 0700 is for the work in progress
		return plainError(err)
	}
	if err := os.Rename(tmp, filepath.Clean(cfg.Out)); err != nil {
		return plainError(err)
	}
	done = true
	fmt.Fprintf(c.stdout, "wrote %s: model.onnx and %s (%s, %s each)\n", cfg.Out, plural(n, "data set"), plural(len(sess.Inputs()), "input"), plural(len(exec.Graph.Outputs), "output"))
	return nil
}

// goldenSettingsFile is the file of a golden folder that records how its
// outputs were computed; verify takes them as its defaults there.
const goldenSettingsFile = "onnxq_golden.json"

// goldenSettings are the options of golden that change its outputs.
type goldenSettings struct {
	Integer    bool   `json:"integer"`
	Requantize string `json:"requantize"`
}

func writeGoldenSettings(dir string, s goldenSettings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, goldenSettingsFile), append(data, '\n'), 0o644)
}

// readGoldenSettings reads dir's recorded settings; ok is false when it
// has none (an ONNX test folder not written by golden).
func readGoldenSettings(dir string) (s goldenSettings, ok bool, err error) {
	data, err := graph.ReadFileLimited(filepath.Join(dir, goldenSettingsFile), 1<<16)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, false, fmt.Errorf("%s: %v", goldenSettingsFile, err)
	}
	if _, err := runtime.ParseRequantizer(s.Requantize); err != nil {
		return s, false, fmt.Errorf("%s: requantize: %v", goldenSettingsFile, err)
	}
	return s, true, nil
}

// copyFile copies src to root/rel, making the folders of rel inside root
// one by one: a root a signal removed meanwhile is not made again.
func copyFile(src, root, rel string) error {
	in, err := graph.OpenRead(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dir := root
	for _, part := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if part == "." {
			continue
		}
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	dst := filepath.Join(root, rel)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
