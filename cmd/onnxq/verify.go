// verify.go is the verify command: it runs ONNX backend test folders
// (model.onnx + test_data_set_N/{input,output}_K.pb) in onnxq's runtime and
// compares the outputs with the expected ones.

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/onnxq/onnxq/runtime"
	"github.com/spf13/pflag"
)

// verifyConfig is the typed form of the verify command line.
type verifyConfig struct {
	Dirs       []string
	Threads    int
	RTol, ATol float64
	Integer    bool
	// Requantize names the requantizer of the integer ops.
	Requantize string
	// integerSet and requantizeSet tell that the flags were given: a
	// golden folder's recorded settings do not override them.
	integerSet, requantizeSet bool
}

var verifyCommand = &command{
	name:    "verify",
	args:    "DIR... [--rtol R] [--atol A] [--threads N]",
	summary: "run ONNX test folders (model.onnx + test_data_set_N) and compare with the expected outputs",
	doc: fmt.Sprintf(`Verify runs each ONNX test folder DIR (model.onnx and
test_data_set_N/{input,output}_K.pb, the layout of the ONNX backend node
tests) in onnxq's runtime and compares every output with the expected
one: floats within |got - want| <= atol + rtol*|want| (--atol, --rtol;
by default %g and %g, the ONNX backend tolerances; NaN matches NaN),
other types exactly. A DIR without model.onnx or data sets stands for the
test folders directly inside it (one holding data sets but no model.onnx
fails). A failure names the output and its first element out
of tolerance, with its coordinates, and counts the output's values out
of tolerance.

With --integer (the default), complete Q/DQ units of a quantized model
run as integer ops, as 'onnxq golden' records them (a Conv with
dequantized inputs and a float output as an integer convolution with a
float output); --integer=false runs them in float as written. In a
folder golden wrote, its onnxq_golden.json gives --integer and
--requantize as they were recorded, unless the flags are given.

`+requantizeHelp+`

It prints "PASS name (N data sets, worst |diff| X)" or "FAIL name:
reason" per test, named by its folder's base name (its path where two
share one; a failing output whose file records another output's name
says so), and a summary line "N passed, M failed"; the exit status is 0
only when every test passes.`, runtime.NodeTestATol, runtime.NodeTestRTol),
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &verifyConfig{}
		fs.IntVar(&cfg.Threads, "threads", 0, "use `N` threads (default: all cores)")
		fs.Float64Var(&cfg.RTol, "rtol", runtime.NodeTestRTol, "relative tolerance of float outputs")
		fs.Float64Var(&cfg.ATol, "atol", runtime.NodeTestATol, "absolute tolerance of float outputs")
		fs.BoolVar(&cfg.Integer, "integer", true, "run complete Q/DQ units as integer ops")
		declareRequantizeFlag(fs, &cfg.Requantize)
		return func(c *cli, args []string) error {
			if _, err := parseRequantize("verify", cfg.Requantize); err != nil {
				return err
			}
			switch {
			case len(args) == 0:
				return usageErrorf("verify", "verify needs at least one test folder DIR")
			case cfg.Threads < 0:
				return usageErrorf("verify", "--threads %d: want 0 (all cores) or more", cfg.Threads)
			case !(cfg.RTol >= 0) || math.IsInf(cfg.RTol, 0):
				return usageErrorf("verify", "--rtol %v: want a finite number, 0 or more", cfg.RTol)
			case !(cfg.ATol >= 0) || math.IsInf(cfg.ATol, 0):
				return usageErrorf("verify", "--atol %v: want a finite number, 0 or more", cfg.ATol)
			}
			cfg.Dirs = args
			cfg.integerSet, cfg.requantizeSet = fs.Changed("integer"), fs.Changed("requantize")
			return c.verify(cfg)
		}
	},
}

// testFolders expands DIR into the test folders it stands for.
func testFolders(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, plainError(err)
	}
	if !st.IsDir() {
		return nil, errors.New("not a folder")
	}
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err == nil || hasDataSets(dir) {
		return []string{dir}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, plainError(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, plainError(err)
	}
	var dirs []string
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		_, err := os.Stat(filepath.Join(sub, "model.onnx"))
		// a folder of data sets without its model is a test that fails,
		// not one to pass over
		if err == nil || hasDataSets(sub) {
			dirs = append(dirs, sub)
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("not an ONNX test folder (no model.onnx in it or in its sub-folders)")
	}
	sort.Strings(dirs)
	return dirs, nil
}

// hasDataSets tells whether dir holds a test_data_set_N folder.
func hasDataSets(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

func (c *cli) verify(cfg *verifyConfig) error {
	// Each test is named by its folder's base name, as ONNX's tests are;
	// where two share one (a/golden, b/golden), by its path.
	type test struct {
		dir, name string
		err       error // the folder given is no test folder
	}
	var tests []test
	bases := map[string]int{}
	for _, arg := range cfg.Dirs {
		dirs, err := testFolders(arg)
		if err != nil {
			tests = append(tests, test{name: arg, err: err})
			continue
		}
		for _, dir := range dirs {
			base := filepath.Base(filepath.Clean(dir))
			bases[base]++
			tests = append(tests, test{dir: dir, name: base})
		}
	}
	passed, failed := 0, 0
	for _, t := range tests {
		if t.err != nil {
			fmt.Fprintf(c.stdout, "FAIL %s: %s\n", t.name, oneLine(t.err.Error()))
			failed++
			continue
		}
		name := t.name
		if bases[name] > 1 {
			name = filepath.Clean(t.dir)
		}
		worst, sets, err := verifyOne(t.dir, cfg)
		if err != nil {
			fmt.Fprintf(c.stdout, "FAIL %s: %s\n", name, oneLine(err.Error()))
			failed++
			continue
		}
		fmt.Fprintf(c.stdout, "PASS %s (%s, worst |diff| %.3g)\n", name, plural(sets, "data set"), worst)
		passed++
	}
	fmt.Fprintf(c.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d tests failed", failed, passed+failed)
	}
	return nil
}

// verifyOne runs one test folder and returns the worst float difference
// over its data sets and their number, or the first failure.
func verifyOne(dir string, cfg *verifyConfig) (worst float64, sets int, err error) {
	defer func() {
		// The runtime reports errors; a panic here is a bug, reported as a
		// failure of this test rather than the end of the whole run.
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	m, err := loadRunnable(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return 0, 0, err
	}
	integer, requantize := cfg.Integer, cfg.Requantize
	recorded, ok, err := readGoldenSettings(dir)
	if err != nil {
		return 0, 0, err
	}
	if ok && !cfg.integerSet {
		integer = recorded.Integer
	}
	if ok && !cfg.requantizeSet {
		requantize = recorded.Requantize
	}
	exec, err := executionForm(m, integer)
	if err != nil {
		return 0, 0, err
	}
	rq, _ := runtime.ParseRequantizer(requantize)
	results, err := runtime.RunTestFolder(dir, exec, runtime.Options{Threads: cfg.Threads, Requantizer: rq}, cfg.RTol, cfg.ATol)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range results {
		if r.Err != nil {
			return 0, 0, fmt.Errorf("%s: %v", r.DataSet, r.Err)
		}
		worst = max(worst, r.Worst)
	}
	return worst, len(results), nil
}
