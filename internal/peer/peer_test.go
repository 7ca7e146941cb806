// peer_test.go runs every shared model on every shared sample in onnxq's
// runtime and in ONNX Runtime and compares the outputs.
package peer_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

const (
	shared = "../../../shared"
	// relTol is the agreement asked of every output:
	// max|ours - ort| <= relTol * max(1, max|ort|).
	relTol = 1e-4
	// maxReported bounds the failing samples reported per model.
	maxReported = 3
)

// modelResult is one model's line of the summary.
type modelResult struct {
	name    string
	samples int
	failed  int
	worst   float64 // largest max|ours-ort| / max(1, max|ort|)
	where   string  // output and sample of the worst error
	err     string  // why the model could not be compared at all
}

func TestAgainstORT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every shared model: not in -short mode")
	}
	models, script := ortpeer.Setup(t, shared)
	cache := os.Getenv("ONNXQ_PEER_CACHE")
	if cache == "" {
		cache = t.TempDir()
	}
	filter := os.Getenv("ONNXQ_PEER_MODEL")
	var results []*modelResult
	for _, model := range models {
		name := strings.TrimSuffix(filepath.Base(model), ".onnx")
		if filter != "" && !strings.Contains(name, filter) {
			continue
		}
		res := &modelResult{name: name}
		results = append(results, res)
		t.Run(name, func(t *testing.T) { compareModel(t, model, script, cache, res) })
	}
	var b strings.Builder
	fmt.Fprintf(&b, "onnxq vs ONNX Runtime, worst max|ours-ort|/max(1,max|ort|) per model (tolerance %g):\n", relTol)
	for _, r := range results {
		switch {
		case r.err != "":
			fmt.Fprintf(&b, "  %-24s FAIL %s\n", r.name, r.err)
		case r.failed > 0:
			fmt.Fprintf(&b, "  %-24s FAIL %d of %d samples; worst %.3g (%s)\n", r.name, r.failed, r.samples, r.worst, r.where)
		default:
			fmt.Fprintf(&b, "  %-24s ok   %d samples; worst %.3g (%s)\n", r.name, r.samples, r.worst, r.where)
		}
	}
	t.Log(b.String())
}

// ortRun is the outcome of one ORT invocation: the folder of its outputs.
type ortRun struct {
	dir string
	err error
}

func compareModel(t *testing.T, model, script, cacheRoot string, res *modelResult) {
	samples, _ := filepath.Glob(filepath.Join(shared, "data", res.name, "sample_*"))
	sort.Strings(samples)
	if len(samples) == 0 {
		res.err = "no samples in " + filepath.Join(shared, "data", res.name)
		t.Fatal(res.err)
	}
	m, err := graph.Load(model)
	if err != nil {
		res.err = err.Error()
		t.Fatal(err)
	}
	sess, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		res.err = err.Error()
		t.Fatalf("%s: %v", res.name, err)
	}
	var names []string
	for _, v := range sess.Inputs() {
		names = append(names, v.Name)
	}
	sum, err := fileHash(model)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(cacheRoot, res.name+"-"+sum)

	// ORT runs in the background, a few processes at a time, while onnxq
	// works through the samples in order.
	runs := make([]chan ortRun, len(samples))
	for i := range runs {
		runs[i] = make(chan ortRun, 1)
	}
	sem := make(chan struct{}, max(1, goruntime.NumCPU()))
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, s := range samples {
			select {
			case sem <- struct{}{}:
			case <-done:
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				dir := filepath.Join(cacheDir, filepath.Base(s))
				runs[i] <- ortRun{dir, runORT(script, model, s, names, dir)}
			}()
		}
	}()

	for i, s := range samples {
		sample := filepath.Base(s)
		res.samples++
		fail := func(format string, args ...any) {
			res.failed++
			if res.failed <= maxReported {
				t.Errorf("%s %s: %s", res.name, sample, fmt.Sprintf(format, args...))
			}
		}
		feeds, err := tensorio.ReadSample(s, names)
		if err != nil {
			fail("reading inputs: %v", err)
			continue
		}
		outs, err := sess.Run(feeds)
		if err != nil {
			fail("onnxq: %v", err)
			continue
		}
		ort := <-runs[i]
		if ort.err != nil {
			fail("ONNX Runtime: %v", ort.err)
			continue
		}
		var namer tensorio.Namer
		for _, v := range sess.Outputs() {
			if got := namer.Name(v.Name); got != tensorio.SafeName(v.Name) {
				fail("output %q: its file name clashes with another output's in ort-run.js's output folder", v.Name)
				continue
			}
			want, err := ortpeer.Output(ort.dir, v.Name)
			if err != nil {
				fail("ONNX Runtime output %q: %v", v.Name, err)
				continue
			}
			rel, err := compare(outs[v.Name], want)
			if rel > res.worst || res.where == "" {
				res.worst, res.where = rel, fmt.Sprintf("output %q, %s", v.Name, sample)
			}
			if err != nil {
				fail("output %q: %v", v.Name, err)
			}
		}
	}
	if res.failed > maxReported {
		t.Errorf("%s: %d more samples fail", res.name, res.failed-maxReported)
	}
	t.Logf("%d samples, worst relative error %.3g (%s)", res.samples, res.worst, res.where)
}

// runORT runs one sample through ort-run.js into dir, unless dir already
// holds its outputs from an earlier run.
func runORT(script, model, sample string, names []string, dir string) error {
	marker := filepath.Join(dir, ".complete")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := ortpeer.Run(script, model, sample, names, dir); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// compare returns max|got-want| / max(1, max|want|) and an error when it
// is over relTol, or when type, shape or non-finite values differ.
func compare(got, want *runtime.Tensor) (float64, error) {
	if got.DType != want.DType {
		return 0, fmt.Errorf("type %v, ONNX Runtime gives %v", got.DType, want.DType)
	}
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return 0, fmt.Errorf("shape %v, ONNX Runtime gives %v", got.Shape, want.Shape)
	}
	g, err := got.AsFloat64()
	if err != nil {
		return 0, err
	}
	w, err := want.AsFloat64()
	if err != nil {
		return 0, err
	}
	scale := 1.0
	for _, v := range w {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			scale = max(scale, math.Abs(v))
		}
	}
	worst, at := 0.0, -1
	for i := range w {
		a, b := g[i], w[i]
		if math.IsNaN(b) || math.IsInf(b, 0) || math.IsNaN(a) || math.IsInf(a, 0) {
			if !(math.IsNaN(a) && math.IsNaN(b)) && a != b {
				return worst / scale, fmt.Errorf("element %d is %v, ONNX Runtime gives %v", i, a, b)
			}
			continue
		}
		if d := math.Abs(a - b); d > worst {
			worst, at = d, i
		}
	}
	rel := worst / scale
	if rel > relTol {
		return rel, fmt.Errorf("max|diff| %.3g at element %d (%v, ONNX Runtime %v) is over %g*max(1, max|ort|) = %.3g",
			worst, at, g[at], w[at], relTol, relTol*scale)
	}
	return rel, nil
}

// fileHash is the start of a file's SHA-256, to key cached outputs.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
