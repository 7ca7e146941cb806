// bench.go is the bench command: median and minimum latency of a model in
// onnxq's runtime after warm-up runs, peak activation memory against the
// sum of all intermediate tensors, the process's peak RSS, and optionally
// the same inputs timed in ONNX Runtime (through ort-run.js).

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// benchConfig is the typed form of the bench command line.
type benchConfig struct {
	Model   string
	Inputs  inputConfig
	Threads int
	Runs    int
	Warmup  int
	// ORT is the path of ort-run.js; "" skips the comparison.
	ORT  string
	JSON bool
	// Ops adds the time per op type, averaged over the timed runs.
	Ops bool
}

// maxBenchRuns bounds --runs and --warmup: each timed run keeps its
// time, and a million runs of even a tiny model take minutes.
const maxBenchRuns = 1_000_000

var benchCommand = &command{
	name:    "bench",
	args:    "MODEL [--threads N] [--runs N] [--warmup N] [--input ...|--random] [--ort ort-run.js] [--json]",
	summary: "time a model in onnxq's runtime (optionally beside ONNX Runtime) and report peak memory",
	doc: `Bench runs MODEL --warmup times, then --runs timed times, and prints the
median and minimum latency, the peak activation memory (the largest total
of intermediate tensors alive at once) beside the sum of all intermediate
tensors a run produces, and the process's peak resident memory (VmHWM).

With --ort PATH/TO/ort-run.js the same inputs (written to a temporary
folder as .npy) are timed in ONNX Runtime: "node ort-run.js MODEL --bench
RUNS --threads N --in NAME=FILE ...", with ORT_NODE_DIR taken from the
environment; bench prints ORT's median and the ratio onnxq/ORT.

` + inputFlagsHelp + `

Without any input flag, bench makes up every input (--random).

--ops adds the time each op type takes per run (the mean over the timed
runs, longest first): where a model spends its time.

--json prints the figures as one JSON object.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &benchConfig{}
		var shapes []string
		declareInputFlags(fs, &cfg.Inputs, &shapes)
		fs.IntVar(&cfg.Threads, "threads", 0, "use `N` threads (default: all cores)")
		fs.IntVar(&cfg.Runs, "runs", 20, "`N` timed runs")
		fs.IntVar(&cfg.Warmup, "warmup", 3, "`N` untimed runs first")
		fs.StringVar(&cfg.ORT, "ort", "", "also time ONNX Runtime with this `ort-run.js`")
		fs.BoolVar(&cfg.JSON, "json", false, "print the figures as a JSON object")
		fs.BoolVar(&cfg.Ops, "ops", false, "also report the time per op type")
		return func(c *cli, args []string) error {
			var err error
			if cfg.Inputs.Shapes, err = parseShapes(shapes); err != nil {
				return usageErrorf("bench", "%v", err)
			}
			switch {
			case len(args) == 0:
				return usageErrorf("bench", "bench needs a MODEL to time")
			case len(args) > 1:
				return usageErrorf("bench", "bench takes one model: unexpected %q", args[1])
			case cfg.Runs < 1 || cfg.Runs > maxBenchRuns:
				return usageErrorf("bench", "--runs %d: want 1 to %d", cfg.Runs, maxBenchRuns)
			case cfg.Warmup < 0 || cfg.Warmup > maxBenchRuns:
				return usageErrorf("bench", "--warmup %d: want 0 to %d", cfg.Warmup, maxBenchRuns)
			case cfg.Threads < 0:
				return usageErrorf("bench", "--threads %d: want 0 (all cores) or more", cfg.Threads)
			}
			if len(cfg.Inputs.Specs) == 0 && cfg.Inputs.Dir == "" {
				cfg.Inputs.Random = true
			}
			cfg.Model = args[0]
			return c.bench(cfg)
		}
	},
}

// BenchReport is what bench measures; its JSON form is the output of
// "bench --json".
type BenchReport struct {
	Model    string  `json:"model"`
	Threads  int     `json:"threads"`
	Runs     int     `json:"runs"`
	Warmup   int     `json:"warmup"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	// PeakActivationBytes is the largest total of intermediate tensors
	// alive at once; TotalActivationBytes the sum of all of them.
	PeakActivationBytes  int64 `json:"peak_activation_bytes"`
	TotalActivationBytes int64 `json:"total_activation_bytes"`
	// PeakRSSBytes is the process's peak resident memory (VmHWM), 0 where
	// the system does not report it.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Ops is the mean time per op type over the timed runs (--ops).
	Ops []OpReport `json:"ops,omitempty"`
	ORT *ORTReport `json:"ort,omitempty"`
	// Ratio is MedianMS over ONNX Runtime's median.
	Ratio float64 `json:"ratio,omitempty"`
}

// OpReport is the mean time the nodes of one op type take in a run.
type OpReport struct {
	Op    string  `json:"op"`
	Nodes int     `json:"nodes"`
	MS    float64 `json:"ms"`
	Share float64 `json:"share"` // of the summed op times
}

// ORTReport is ONNX Runtime's timing of the same model and inputs.
type ORTReport struct {
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
}

func defaultThreads() int { return goruntime.GOMAXPROCS(0) }

func (c *cli) bench(cfg *benchConfig) error {
	threads := cfg.Threads
	if threads == 0 {
		threads = defaultThreads()
	}
	// A wrong --ort fails before the timing, not after it.
	if cfg.ORT != "" {
		var err error
		if cfg.ORT, err = ortScript(cfg.ORT); err != nil {
			return err
		}
	}
	sess, err := loadSession(cfg.Model, runtime.Options{Threads: threads, TimeOps: cfg.Ops}, true)
	if err != nil {
		return err
	}
	feeds, sources, err := gatherInputs(sess, &cfg.Inputs)
	if err != nil {
		return err
	}
	r := &BenchReport{Model: cfg.Model, Threads: threads, Runs: cfg.Runs, Warmup: cfg.Warmup}
	for range cfg.Warmup {
		if _, err := sess.Run(feeds); err != nil {
			return fmt.Errorf("%s: %v%s", cfg.Model, err, madeUpHint(sess.Inputs(), &cfg.Inputs, sources))
		}
	}
	times := make([]float64, cfg.Runs)
	ops := map[string]*OpReport{}
	for i := range times {
		start := time.Now()
		_, stats, err := sess.RunWithStats(feeds)
		times[i] = float64(time.Since(start)) / float64(time.Millisecond)
		if err != nil {
			return fmt.Errorf("%s: %v%s", cfg.Model, err, madeUpHint(sess.Inputs(), &cfg.Inputs, sources))
		}
		r.PeakActivationBytes, r.TotalActivationBytes = stats.PeakBytes, stats.TotalBytes
		for _, t := range stats.OpTimes {
			o := ops[t.Op]
			if o == nil {
				o = &OpReport{Op: t.Op, Nodes: t.Nodes}
				ops[t.Op] = o
			}
			o.MS += float64(t.Time) / float64(time.Millisecond) / float64(cfg.Runs)
		}
	}
	r.MedianMS, r.MinMS = medianMin(times)
	r.Ops = sortedOpReports(ops)
	r.PeakRSSBytes = peakRSS()

	// onnxq's figures are reported even when ONNX Runtime's part fails:
	// its error follows them, and the exit code says so.
	var ortErr error
	if cfg.ORT != "" {
		dir, err := os.MkdirTemp("", "onnxq-bench")
		if err != nil {
			return err
		}
		untrack := graph.TrackTemporary(dir) // a signal removes it too
		defer untrack()
		defer os.RemoveAll(dir)
		pairs, err := writeInputsNpy(dir, sess.Inputs(), feeds)
		if err != nil {
			return err
		}
		if r.ORT, ortErr = benchORT(cfg.ORT, cfg.Model, pairs, cfg.Runs, threads); ortErr != nil {
			r.ORT = nil
		} else if r.ORT.MedianMS > 0 {
			r.Ratio = r.MedianMS / r.ORT.MedianMS
		}
	}

	if cfg.JSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
		return ortErr
	}
	if err := r.writeText(c); err != nil {
		return err
	}
	return ortErr
}

// sortedOpReports orders the op types longest first (ties by name) and
// fills in their shares.
func sortedOpReports(ops map[string]*OpReport) []OpReport {
	var out []OpReport
	total := 0.0
	for _, o := range ops {
		out = append(out, *o)
		total += o.MS
	}
	slices.SortFunc(out, func(a, b OpReport) int {
		if a.MS != b.MS {
			return cmp.Compare(b.MS, a.MS)
		}
		return strings.Compare(a.Op, b.Op)
	})
	for i := range out {
		if total > 0 {
			out[i].Share = out[i].MS / total
		}
	}
	return out
}

func (r *BenchReport) writeText(c *cli) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Model)
	fmt.Fprintf(tw, "threads\t%d\n", r.Threads)
	fmt.Fprintf(tw, "latency\tmedian %s, min %s (%s after %d warm-up)\n", formatMS(r.MedianMS), formatMS(r.MinMS), plural(r.Runs, "run"), r.Warmup)
	share := ""
	if r.TotalActivationBytes > 0 {
		share = fmt.Sprintf(" (%.0f%%)", 100*float64(r.PeakActivationBytes)/float64(r.TotalActivationBytes))
	}
	fmt.Fprintf(tw, "activations\tpeak %s of %s produced%s\n", formatBytes(r.PeakActivationBytes), formatBytes(r.TotalActivationBytes), share)
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(tw, "peak RSS\t%s\n", formatBytes(r.PeakRSSBytes))
	}
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "  %s\t%s in %s (%.1f%%)\n", o.Op, formatMS(o.MS), plural(o.Nodes, "node"), 100*o.Share)
	}
	if r.ORT != nil {
		fmt.Fprintf(tw, "ONNX Runtime\tmedian %s, min %s (%s)\n", formatMS(r.ORT.MedianMS), formatMS(r.ORT.MinMS), plural(r.ORT.Runs, "run"))
		fmt.Fprintf(tw, "onnxq/ORT\t%.2fx\n", r.Ratio)
	}
	return tw.Flush()
}

// medianMin returns the median (the upper one of an even count, as
// ort-run.js takes it) and the minimum.
func medianMin(times []float64) (float64, float64) {
	s := slices.Clone(times)
	slices.Sort(s)
	return s[len(s)/2], s[0]
}

// peakRSS reads the process's peak resident set size from
// /proc/self/status (VmHWM); 0 where there is none.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 2 && fields[1] == "kB" {
			if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// ortScript checks the --ort path: an existing script, or a folder
// holding ort-run.js (which it returns), and Node.js to run it.
func ortScript(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("--ort: %v", err)
	}
	if fi.IsDir() {
		js := filepath.Join(path, "ort-run.js")
		if st, err := os.Stat(js); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("--ort: %s is a folder without ort-run.js; give the path of ort-run.js", path)
		}
		path = js
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("--ort: %s is not a regular file; give the path of ort-run.js", path)
	}
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return "", fmt.Errorf("--ort takes the path of ort-run.js, the script that runs ONNX Runtime, not a model (%s); the model is bench's argument", path)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("--ort needs Node.js: node is not on PATH")
	}
	return path, nil
}

// nodeError picks the line of a failed Node.js run's stderr that says
// what went wrong: the first "...Error: ..." line (Node.js puts the
// failing source line and a caret before it, and the stack after), else
// the first line.
func nodeError(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if head, _, ok := strings.Cut(l, ":"); ok && strings.HasSuffix(head, "Error") && !strings.ContainsAny(head, " /") {
			return l
		}
	}
	return strings.TrimSpace(lines[0])
}

// benchORT times the model in ONNX Runtime through ort-run.js, a script
// ortScript checked.
func benchORT(script, model string, inputs []string, runs, threads int) (*ORTReport, error) {
	args := []string{script, model, "--bench", strconv.Itoa(runs), "--threads", strconv.Itoa(threads)}
	for _, p := range inputs {
		args = append(args, "--in", p)
	}
	cmd := exec.Command("node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runChild(cmd); err != nil {
		msg := nodeError(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("ONNX Runtime (%s): %s", script, oneLine(msg))
	}
	var out struct {
		Bench *struct {
			Runs     int     `json:"runs"`
			MedianMS float64 `json:"median_ms"`
			MinMS    float64 `json:"min_ms"`
		} `json:"bench"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); err != nil || out.Bench == nil {
		return nil, fmt.Errorf("ONNX Runtime (%s): no timing in its output %q", script, oneLine(stdout.String()))
	}
	return &ORTReport{Runs: out.Bench.Runs, MedianMS: out.Bench.MedianMS, MinMS: out.Bench.MinMS}, nil
}
