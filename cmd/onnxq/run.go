// run.go is the run command: it executes a model in onnxq's FP32 runtime on
// inputs read from .npy, .npz or .pb files, a sample folder, or made up
// (--random), prints a summary of each output and can write the outputs as
// .npy files. The input flags and their handling are shared with bench.

package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/runtime"
	"github.com/spf13/pflag"
	"github.com/x448/float16"
)

// inputConfig says where a model's inputs come from (run and bench).
type inputConfig struct {
	// Specs are the --input values: NAME=FILE, or a FILE or folder whose
	// arrays are matched to inputs by name.
	Specs []string
	// Dir is a sample folder with one <input>.npy per input.
	Dir string
	// Random fills the inputs no file gives, from Seed.
	Random bool
	Seed   int64
	// Shapes fix the shapes of made-up inputs (and are checked against
	// inputs read from files).
	Shapes map[string][]int64
}

// runConfig is the typed form of the run command line.
type runConfig struct {
	Model   string
	Inputs  inputConfig
	Out     string // folder for the outputs; "" writes none
	Threads int
	Integer bool // complete Q/DQ units run as integer ops
	// Requantize names the requantizer of the integer ops.
	Requantize string
}

const inputFlagsHelp = `Inputs: --input NAME=FILE reads one input from a .npy, .npz (holding
one array, or an array named NAME) or TensorProto .pb file. --input FILE
without NAME= takes every array of a .npz whose name is an input's name
(or its file-safe form; numpy.savez's arr_0, arr_1... in input order),
a .pb's tensor by its stored name, or a .npy named after an input (any
single array goes to the model's only input); --input DIR or
--input-dir DIR reads <input>.npy for each input from a folder (an
inputs.json there or in its parent maps names that are not file-safe,
as in ../shared/data). --random makes up the inputs no file gives:
floats from a standard normal, integers |round(3x)|, booleans x > 0,
from --seed (the generator of ort-run.js); symbolic dimensions are 1
unless --shape NAME=DIMS sets the input's shape.`

// declareInputFlags adds the input flags shared by run and bench.
func declareInputFlags(fs *pflag.FlagSet, cfg *inputConfig, shapes *[]string) {
	fs.StringArrayVarP(&cfg.Specs, "input", "i", nil, "read inputs: `NAME=FILE`, FILE (.npz, .pb, .npy) or a sample folder; repeatable")
	fs.StringVar(&cfg.Dir, "input-dir", "", "read <input>.npy for each input from `DIR` (inputs.json maps other names)")
	fs.BoolVar(&cfg.Random, "random", false, "make up the inputs no file gives (normal floats, small integers)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "start --random from seed `N`")
	fs.StringArrayVar(shapes, "shape", nil, "shape of a made-up input: `NAME=DIMS` (x=1,3,224,224); repeatable")
}

var runModelCommand = &command{
	name:    "run",
	args:    "MODEL [--input NAME=FILE ... | --input-dir DIR | --random] [-o DIR]",
	summary: "run a model in onnxq's FP32 runtime and summarize (or write) its outputs",
	doc: `Run executes MODEL in onnxq's reference runtime and prints, for each
output, its type and shape with the minimum, maximum and mean of its
values (and the count of NaNs, if any). With -o DIR every output is
written to DIR/<name>.npy, the name made file-safe (characters other than
letters, digits, '.', '_' and '-' become '_'; a clash gets _2, _3...).
Types NumPy lacks (bfloat16, float8, int4...) are written as TensorProto
.pb files instead.

` + inputFlagsHelp + `

A quantized model's complete Q/DQ units (DequantizeLinear inputs, Conv or
MatMul, QuantizeLinear output) run as integer ops, as 'onnxq golden'
records them, and a Conv with dequantized inputs and a float output as
an integer convolution with a float output; --integer=false runs them in
float as written.

` + requantizeHelp + `

A missing input, a file whose type or shape does not fit the model, or an
op without a kernel stops the run with one error line.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &runConfig{}
		var shapes []string
		declareInputFlags(fs, &cfg.Inputs, &shapes)
		fs.StringVarP(&cfg.Out, "output", "o", "", "write each output to `DIR`/<name>.npy")
		fs.IntVar(&cfg.Threads, "threads", 0, "use `N` threads (default: all cores); results do not depend on it")
		fs.BoolVar(&cfg.Integer, "integer", true, "run complete Q/DQ units as integer ops")
		declareRequantizeFlag(fs, &cfg.Requantize)
		return func(c *cli, args []string) error {
			var err error
			if cfg.Inputs.Shapes, err = parseShapes(shapes); err != nil {
				return usageErrorf("run", "%v", err)
			}
			if _, err := parseRequantize("run", cfg.Requantize); err != nil {
				return err
			}
			switch {
			case len(args) == 0:
				return usageErrorf("run", "run needs a MODEL to execute")
			case len(args) > 1:
				return usageErrorf("run", "run takes one model: unexpected %q (inputs are given with --input)", args[1])
			case cfg.Threads < 0:
				return usageErrorf("run", "--threads %d: want 0 (all cores) or more", cfg.Threads)
			}
			cfg.Model = args[0]
			return c.runModel(cfg)
		}
	},
}

// loadRunnable reads a model and makes it runnable (runnable).
func loadRunnable(path string) (*graph.Model, error) {
	m, err := graph.Load(path)
	if err != nil {
		return nil, err
	}
	if err := runnable(m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// runnable replaces the calls of m's own functions by their bodies and
// writes its fused com.microsoft ops as the standard ops they fuse, as
// preparation does: onnxq's runtime runs neither. A model with neither
// is left as it is (unverified, as it was loaded).
func runnable(m *graph.Model) error {
	if !needsUnfolding(m) {
		return nil
	}
	return passes.Run(m, &passes.Context{}, []passes.Pass{passes.InlineFunctions(), passes.ContribOps()}, passes.RunOptions{})
}

// needsUnfolding tells whether m has functions of its own or
// com.microsoft nodes (in any graph) for runnable to rewrite.
func needsUnfolding(m *graph.Model) bool {
	contrib := false
	m.Graph.Walk(func(g *graph.Graph) {
		contrib = contrib || slices.ContainsFunc(g.Nodes, func(n *graph.Node) bool { return n.Domain == "com.microsoft" })
	})
	return len(m.Functions) > 0 || contrib
}

// loadSession reads a model and prepares it for execution; integer
// lowers its complete Q/DQ units to integer ops.
func loadSession(path string, opts runtime.Options, integer bool) (*runtime.Session, error) {
	m, err := loadRunnable(path)
	if err != nil {
		return nil, err
	}
	if m, err = executionForm(m, integer); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	sess, err := runtime.NewSession(m, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return sess, nil
}

func (c *cli) runModel(cfg *runConfig) error {
	rq, _ := runtime.ParseRequantizer(cfg.Requantize)
	sess, err := loadSession(cfg.Model, runtime.Options{Threads: cfg.Threads, Requantizer: rq}, cfg.Integer)
	if err != nil {
		return err
	}
	feeds, sources, err := gatherInputs(sess, &cfg.Inputs)
	if err != nil {
		return err
	}
	start := time.Now()
	outs, stats, err := sess.RunWithStats(feeds)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %v%s", cfg.Model, err, madeUpHint(sess.Inputs(), &cfg.Inputs, sources))
	}

	var written []string
	if cfg.Out != "" {
		ins := []inputFile{{"the model", cfg.Model}}
		for _, v := range sess.Inputs() {
			if !madeUp(sources[v.Name]) {
				ins = append(ins, inputFile{"the file of input " + v.Name, sources[v.Name]})
			}
		}
		if written, err = writeOutputs(cfg.Out, sess.Outputs(), outs, ins); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, v := range sess.Inputs() {
		fmt.Fprintf(tw, "input\t%s\t%s\t%s\n", v.Name, feeds[v.Name], sources[v.Name])
	}
	for i, v := range sess.Outputs() {
		line := fmt.Sprintf("output\t%s\t%s\t%s", v.Name, outs[v.Name], summarize(outs[v.Name]))
		if written != nil {
			line += "\t-> " + written[i]
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	threads := cfg.Threads
	if threads == 0 {
		threads = defaultThreads()
	}
	_, err = fmt.Fprintf(c.stdout, "ran %s in %s on %s, peak activations %s\n",
		plural(stats.Nodes, "node"), formatDuration(elapsed), plural(threads, "thread"), formatBytes(stats.PeakBytes))
	return err
}

// formatDuration prints a duration in milliseconds with 3 significant
// digits at least.
func formatDuration(d time.Duration) string {
	return formatMS(float64(d) / float64(time.Millisecond))
}

func formatMS(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f ms", ms)
	}
	return fmt.Sprintf("%.3f ms", ms)
}

// summarize gives the range and mean of a numeric tensor's values (NaNs
// counted apart).
func summarize(t *runtime.Tensor) string {
	vals, err := t.AsFloat64()
	if err != nil || len(vals) == 0 {
		return ""
	}
	lo, hi, sum, nans, n := math.Inf(1), math.Inf(-1), 0.0, 0, 0
	for _, v := range vals {
		if math.IsNaN(v) {
			nans++
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
		sum += v
		n++
	}
	s := ""
	if n > 0 {
		s = fmt.Sprintf("min %.6g  max %.6g  mean %.6g", lo, hi, sum/float64(n))
	}
	if nans > 0 {
		s = strings.TrimSpace(s + fmt.Sprintf("  NaN %d", nans))
	}
	return s
}

// writeOutputs writes each output to dir under a unique file-safe name and
// returns the paths in output order. No output may replace one of ins (an
// input's .npy in the same folder): none is written then. The outputs are
// written into a temporary folder in dir first and moved into place once
// all are, so that a write that fails leaves the files there as they were.
func writeOutputs(dir string, vs []*graph.Value, outs map[string]*runtime.Tensor, ins []inputFile) (_ []string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return nil, fmt.Errorf("-o %s: not a folder (the outputs are written into one)", dir)
		}
		return nil, fmt.Errorf("-o %s: %v", dir, plainError(err))
	}
	var namer tensorio.Namer
	paths := make([]string, len(vs))
	for i, v := range vs {
		ext := ".pb"
		if tensorio.NpyWritable(outs[v.Name].DType) {
			ext = ".npy"
		}
		paths[i] = filepath.Join(dir, namer.Name(v.Name)+ext)
		if err := refuseOverwrite(ins, outputFile{"-o, output " + v.Name + ",", paths[i]}); err != nil {
			return nil, err
		}
		if st, err := os.Stat(paths[i]); err == nil && st.IsDir() {
			return nil, fmt.Errorf("-o %s: %s, where output %s goes, is a folder", dir, paths[i], v.Name)
		}
	}
	tmp, err := os.MkdirTemp(dir, ".outputs*")
	if err != nil {
		return nil, fmt.Errorf("-o %s: %v", dir, plainError(err))
	}
	defer graph.TrackTemporary(tmp)()
	defer os.RemoveAll(tmp)
	staged := make([]string, len(vs))
	for i, v := range vs {
		t := outs[v.Name]
		staged[i] = filepath.Join(tmp, filepath.Base(paths[i]))
		if strings.HasSuffix(paths[i], ".npy") {
			err = tensorio.WriteNpy(staged[i], t)
		} else {
			err = tensorio.WritePb(staged[i], v.Name, t)
		}
		if err != nil {
			// named by where the output goes, not by the staging folder
			return nil, errors.New(strings.ReplaceAll(err.Error(), staged[i], paths[i]))
		}
	}
	for i := range vs {
		if err := os.Rename(staged[i], paths[i]); err != nil {
			return nil, fmt.Errorf("writing %s: %v", paths[i], plainError(err))
		}
	}
	return paths, nil
}

// gatherInputs reads or makes the tensor of every input the session needs,
// and says where each came from.
func gatherInputs(sess *runtime.Session, cfg *inputConfig) (map[string]*runtime.Tensor, map[string]string, error) {
	inputs := sess.Inputs()
	byName := map[string]*graph.Value{}
	var names []string
	for _, v := range inputs {
		byName[v.Name] = v
		names = append(names, v.Name)
	}
	list := strings.Join(names, ", ")
	if list == "" {
		list = "none"
	}
	for name := range cfg.Shapes {
		if byName[name] == nil {
			return nil, nil, fmt.Errorf("--shape %s: the model has no input %q (inputs: %s)", name, name, list)
		}
	}
	feeds := map[string]*runtime.Tensor{}
	sources := map[string]string{}
	// a named dimension takes one size across the inputs
	symSize, symFrom := map[string]int{}, map[string]string{}
	give := func(name, from string, t *runtime.Tensor) error {
		if prev, dup := sources[name]; dup {
			return fmt.Errorf("input %q is given twice: by %s and by %s", name, prev, from)
		}
		v := byName[name]
		if err := checkFed(v, t, cfg.Shapes[name]); err != nil {
			return fmt.Errorf("%s: %v", from, err)
		}
		for i, d := range v.Shape {
			if d.Known() || d.Param == "" || graph.UnknownDimParam(d.Param) || i >= len(t.Shape) {
				continue
			}
			if n, ok := symSize[d.Param]; ok && n != t.Shape[i] {
				return fmt.Errorf("%s: dimension %q of input %q is %d here but %d in %s", from, d.Param, name, t.Shape[i], n, symFrom[d.Param])
			}
			symSize[d.Param], symFrom[d.Param] = t.Shape[i], from
		}
		feeds[name], sources[name] = t, from
		return nil
	}
	// matchName finds the input an array name stands for: the same name,
	// or the input whose file-safe name it is.
	matchName := func(array string) string {
		if byName[array] != nil {
			return array
		}
		for _, n := range names {
			if tensorio.SafeName(n) == array {
				return n
			}
		}
		return ""
	}
	for _, spec := range cfg.Specs {
		name, path := splitInputSpec(spec, byName)
		if name == "" && path == "" {
			i := strings.Index(spec, "=")
			return nil, nil, fmt.Errorf("--input %s: the model has no input %q (inputs: %s)", spec, spec[:i], list)
		}
		if st, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("--input %s: %v", spec, plainError(err))
		} else if st.IsDir() {
			if name != "" {
				return nil, nil, fmt.Errorf("--input %s: %s is a folder, not a file", spec, path)
			}
			if err := readSampleDir(path, names, sources, give); err != nil {
				return nil, nil, err
			}
			continue
		}
		format, err := tensorio.Sniff(path)
		if err != nil {
			return nil, nil, err
		}
		var arrays []tensorio.Named
		// skipped counts the arrays of a .npz left unread: those that
		// match no input (unfit nil) and those that do not fit the input
		// they could only feed as the file's only array (unfit says why);
		// unfitName is the last one's name.
		skipped, unfit, unfitName := 0, error(nil), ""
		if format == tensorio.FormatNpz {
			// Each array's header is checked against the input it would
			// feed before its data is inflated.
			arrays, err = tensorio.ReadNpzChecked(path, func(array string, dt graph.DType, shape []int) error {
				target := matchName(array)
				if name != "" {
					if target != "" && target != name {
						return nil // another input's array, left for the error below
					}
					if err := checkFedHeader(byName[name], dt, shape, cfg.Shapes[name]); err != nil {
						if target == name {
							return err
						}
						skipped, unfit, unfitName = skipped+1, err, array
						return tensorio.SkipArray
					}
					return nil
				}
				if k, ok := tensorio.SavezIndex(array); target == "" && ok && k < len(names) {
					target = names[k]
				}
				if target != "" {
					return checkFedHeader(byName[target], dt, shape, cfg.Shapes[target])
				}
				if len(names) != 1 {
					skipped, unfit, unfitName = skipped+1, nil, array
					return tensorio.SkipArray
				}
				// the model's only input, if this is the file's only array
				if err := checkFedHeader(byName[names[0]], dt, shape, cfg.Shapes[names[0]]); err != nil {
					skipped, unfit, unfitName = skipped+1, err, array
					return tensorio.SkipArray
				}
				return nil
			})
		} else {
			format, arrays, err = tensorio.ReadFile(path)
		}
		if err != nil {
			return nil, nil, err
		}
		switch {
		case len(arrays) == 0 && skipped == 1 && unfit != nil:
			return nil, nil, fmt.Errorf("--input %s: %s: %v", spec, path, unfit)
		case name == "" && skipped > 0:
			return nil, nil, fmt.Errorf("--input %s: array %q matches no input of the model (inputs: %s); use NAME=FILE", spec, unfitName, list)
		}
		if name != "" {
			// NAME=FILE: the file's only array, or its array named NAME.
			var pick *tensorio.Named
			for i := range arrays {
				if len(arrays) == 1 || matchName(arrays[i].Name) == name {
					pick = &arrays[i]
					break
				}
			}
			if pick == nil {
				return nil, nil, fmt.Errorf("--input %s: %s holds %d arrays, none named %q", spec, path, len(arrays), name)
			}
			if err := give(name, path, pick.Tensor); err != nil {
				return nil, nil, err
			}
			continue
		}
		if len(arrays) == 0 {
			return nil, nil, fmt.Errorf("--input %s: the file holds no arrays", spec)
		}
		for _, a := range arrays {
			target := matchName(a.Name)
			if target == "" && len(arrays) == 1 && len(inputs) == 1 {
				target = names[0] // the only input
			}
			if k, ok := tensorio.SavezIndex(a.Name); target == "" && format == tensorio.FormatNpz && ok && k < len(names) {
				target = names[k] // numpy.savez(file, a, b) names arrays arr_0, arr_1...
			}
			if target == "" {
				what := "array"
				if format != tensorio.FormatNpz {
					what = "file"
				}
				return nil, nil, fmt.Errorf("--input %s: %s %q matches no input of the model (inputs: %s); use NAME=FILE", spec, what, a.Name, list)
			}
			from := path
			if format == tensorio.FormatNpz {
				from = path + ":" + a.Name
			}
			if err := give(target, from, a.Tensor); err != nil {
				return nil, nil, err
			}
		}
	}
	if cfg.Dir != "" {
		var missing []string
		for _, n := range names {
			if _, ok := feeds[n]; !ok {
				missing = append(missing, n)
			}
		}
		if err := readSampleDir(cfg.Dir, missing, sources, give); err != nil {
			return nil, nil, err
		}
	}
	rng := newNormalSource(cfg.Seed)
	for _, v := range inputs {
		if _, ok := feeds[v.Name]; ok {
			continue
		}
		if !cfg.Random {
			hint := "--input " + v.Name + "=FILE"
			if cfg.Dir != "" {
				hint = "a file for it in " + cfg.Dir + ", " + hint
			}
			return nil, nil, fmt.Errorf("missing input %q (%s): give %s, or --random", v.Name, graph.TypeString(v.DType, v.Shape), hint)
		}
		t, err := randomInput(v, cfg.Shapes[v.Name], rng)
		if err != nil {
			return nil, nil, err
		}
		feeds[v.Name], sources[v.Name] = t, fmt.Sprintf("%s (seed %d)", madeUpSource, cfg.Seed)
	}
	return feeds, sources, nil
}

// madeUpSource starts the source gatherInputs gives a made-up input; any
// other source is the file the input was read from.
const madeUpSource = "random"

// madeUp tells whether source, as gatherInputs gives it, is made up.
func madeUp(source string) bool { return strings.HasPrefix(source, madeUpSource+" (") }

// madeUpHint explains a failure on made-up inputs whose unknown sizes
// became 1 (a filter longer than a one-sample signal): it names those
// sizes and --shape. "" when no made-up input had one.
func madeUpHint(inputs []*graph.Value, cfg *inputConfig, sources map[string]string) string {
	var parts []string
	for _, v := range inputs {
		if cfg.Shapes[v.Name] != nil || !madeUp(sources[v.Name]) {
			continue
		}
		var dims []string
		for i, d := range v.Shape {
			if !d.Known() {
				name := d.Param
				if name == "" {
					name = fmt.Sprintf("axis %d", i)
				}
				dims = append(dims, name)
			}
		}
		if len(dims) > 0 {
			parts = append(parts, fmt.Sprintf("%s's %s", v.Name, strings.Join(dims, ", ")))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the made-up inputs took size 1 for %s: give real sizes with --shape NAME=DIMS)", strings.Join(parts, "; "))
}

// splitInputSpec reads an --input value: NAME=FILE when the text before an
// '=' is an input's name, else a path. A spec with '=' that is neither an
// input name nor an existing path gives "", "" (an unknown input).
func splitInputSpec(spec string, inputs map[string]*graph.Value) (name, path string) {
	for i := 0; i < len(spec); i++ {
		if spec[i] == '=' && inputs[spec[:i]] != nil {
			return spec[:i], spec[i+1:]
		}
	}
	if _, err := os.Stat(spec); err != nil && strings.Contains(spec, "=") {
		return "", ""
	}
	return "", spec
}

// readSampleDir gives the named inputs that have a file in a sample folder.
func readSampleDir(dir string, names []string, sources map[string]string, give func(name, from string, t *runtime.Tensor) error) error {
	files, err := tensorio.SampleFiles(dir, names)
	if err != nil {
		return fmt.Errorf("--input-dir: %v", plainErrorWithPath(err, dir))
	}
	for _, n := range names {
		path, ok := files[n]
		if !ok {
			continue
		}
		if _, done := sources[n]; done {
			continue
		}
		t, err := tensorio.ReadTensor(path)
		if err != nil {
			return err
		}
		if err := give(n, path, t); err != nil {
			return err
		}
	}
	return nil
}

// plainErrorWithPath names dir once in an error about it.
func plainErrorWithPath(err error, dir string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", dir, pe.Err)
	}
	return err
}

// checkFed compares a tensor read for input v with v's declared type and
// shape, and with the --shape given for it.
func checkFed(v *graph.Value, t *runtime.Tensor, fixed []int64) error {
	return checkFedHeader(v, t.DType, t.Shape, fixed)
}

// checkFedHeader is checkFed on an array's element type and shape, as a
// file's header gives them before its data is read.
func checkFedHeader(v *graph.Value, dt graph.DType, shape []int, fixed []int64) error {
	want := graph.TypeString(v.DType, v.Shape)
	held := (&runtime.Tensor{DType: dt, Shape: shape}).String()
	if v.DType != graph.Undefined && dt != v.DType {
		hint := ""
		if v.DType == graph.Float32 && dt == graph.Float64 {
			hint = " (convert the array to float32)"
		}
		return fmt.Errorf("input %q is %s, the file holds %s%s", v.Name, want, held, hint)
	}
	if v.Shape != nil {
		if len(v.Shape) != len(shape) {
			return fmt.Errorf("input %q is %s (rank %d), the file holds %s (rank %d)", v.Name, want, len(v.Shape), held, len(shape))
		}
		for i, d := range v.Shape {
			if d.Known() && int(d.Size) != shape[i] {
				return fmt.Errorf("input %q is %s, the file holds %s (dimension %d differs)", v.Name, want, held, i)
			}
		}
	}
	if fixed != nil {
		ok := len(fixed) == len(shape)
		for i := 0; ok && i < len(fixed); i++ {
			ok = int(fixed[i]) == shape[i]
		}
		if !ok {
			return fmt.Errorf("input %q: the file holds %s, but --shape gives %v", v.Name, held, fixed)
		}
	}
	return nil
}

// maxRandomElements bounds a made-up input (1 Gi elements).
const maxRandomElements = 1 << 30

// randomInput makes up a tensor for v: its --shape, or its declared shape
// with unknown dimensions 1.
func randomInput(v *graph.Value, fixed []int64, rng *normalSource) (*runtime.Tensor, error) {
	var shape []int
	switch {
	case fixed != nil:
		if v.Shape != nil {
			// Same rank and the same known sizes as declared.
			if len(v.Shape) != len(fixed) {
				return nil, fmt.Errorf("--shape %s: input %q is %s, not of rank %d", v.Name, v.Name, graph.TypeString(v.DType, v.Shape), len(fixed))
			}
			for i, d := range v.Shape {
				if d.Known() && d.Size != fixed[i] {
					return nil, fmt.Errorf("--shape %s: input %q is %s, which does not fit %v", v.Name, v.Name, graph.TypeString(v.DType, v.Shape), fixed)
				}
			}
		}
		for _, d := range fixed {
			shape = append(shape, int(d))
		}
	case v.Shape == nil:
		return nil, fmt.Errorf("input %q has no declared shape: give --shape %s=DIMS", v.Name, v.Name)
	default:
		for _, d := range v.Shape {
			n := 1
			if d.Known() {
				n = int(d.Size)
			}
			shape = append(shape, n)
		}
	}
	count := int64(1)
	for _, d := range shape {
		if d != 0 && count > maxRandomElements/int64(d) {
			return nil, fmt.Errorf("input %q: shape %v is too large to make up", v.Name, shape)
		}
		count *= int64(d)
	}
	if count > maxRandomElements {
		return nil, fmt.Errorf("input %q: shape %v is too large to make up", v.Name, shape)
	}
	t := runtime.New(v.DType, shape...)
	// Integers follow ort-run.js: |round(3x)|, rounding halves up.
	small := func() float64 { return math.Abs(math.Floor(rng.normal()*3 + 0.5)) }
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(rng.normal())
		}
	case []float64:
		for i := range d {
			d[i] = rng.normal()
		}
	case []float16.Float16:
		for i := range d {
			d[i] = float16.Fromfloat32(float32(rng.normal()))
		}
	case []runtime.BFloat16:
		for i := range d {
			d[i] = runtime.BFloat16From(float32(rng.normal()))
		}
	case []bool:
		for i := range d {
			d[i] = rng.normal() > 0
		}
	case []int8:
		fillInts(d, small)
	case []uint8:
		if !v.DType.IsInteger() {
			return nil, fmt.Errorf("input %q: cannot make up %v values; give a file", v.Name, v.DType)
		}
		fillInts(d, small)
	case []int16:
		fillInts(d, small)
	case []uint16:
		fillInts(d, small)
	case []int32:
		fillInts(d, small)
	case []uint32:
		fillInts(d, small)
	case []int64:
		fillInts(d, small)
	case []uint64:
		fillInts(d, small)
	default:
		return nil, fmt.Errorf("input %q: cannot make up %v values; give a file", v.Name, v.DType)
	}
	return t, nil
}

func fillInts[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](d []T, next func() float64) {
	for i := range d {
		d[i] = T(next())
	}
}

// normalSource draws standard normal numbers the way ort-run.js does:
// Box-Muller over the mulberry32 generator, so --random with the same
// seed makes the same inputs in both (up to the last bit of log and cos).
type normalSource struct{ a uint32 }

func newNormalSource(seed int64) *normalSource { return &normalSource{a: uint32(seed)} }

// uniform is mulberry32: a uniform number in [0, 1).
func (s *normalSource) uniform() float64 {
	s.a += 0x6D2B79F5
	t := s.a
	t = (t ^ t>>15) * (1 | t)
	t = (t + (t^t>>7)*(61|t)) ^ t
	return float64(t^t>>14) / 4294967296
}

func (s *normalSource) normal() float64 {
	u1 := s.uniform()
	u2 := s.uniform()
	return math.Sqrt(-2*math.Log(u1+1e-12)) * math.Cos(2*math.Pi*u2)
}

// writeInputsNpy writes the feeds as .npy files in dir (for ONNX Runtime)
// and returns NAME=FILE pairs in input order.
func writeInputsNpy(dir string, inputs []*graph.Value, feeds map[string]*runtime.Tensor) ([]string, error) {
	var namer tensorio.Namer
	var pairs []string
	for _, v := range inputs {
		path := filepath.Join(dir, namer.Name(v.Name)+".npy")
		if err := tensorio.WriteNpy(path, feeds[v.Name]); err != nil {
			return nil, err
		}
		pairs = append(pairs, v.Name+"="+path)
	}
	return pairs, nil
}
