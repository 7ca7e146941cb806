// accuracy_test.go computes the INT8 accuracy table of the shared models:
// SQNR of the INT8 outputs against FP32 in ONNX Runtime, top-1 agreement
// for the classifiers, a Q/DQ coverage figure for weighted ops and the
// file size ratio, and checks them against recorded floors.
package accuracy_test

import (
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
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/macs"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/quant"
)

const shared = "../../../shared"

// reference is the issue's figure, in dB, for a faithful re-implementation
// of ONNX Runtime's quantize_static; the issue's target is
// min(30, reference+6).
var reference = map[string]float64{
	"basic_pitch_nmp": 6.7, "dtln_stage1": 42.9, "fastestdet": 11.0, "gtcrn_simple": 6.3,
	"mnist_cntk": 40.1, "oww_hello_deepa": 35.9, "oww_speech_embedding": 19.5,
	"ppocr_cls_mobile_v2": 48.1, "ppocr_det_mobile_v1_1": 9.9, "silero_vad_micro_v2": 14.5,
	"silero_vad_v3_1": 1.1, "silero_vad_v5_16k_op15": -4.5, "ultraface_rfb_320": 41.4,
	"yunet_n_320": 20.4,
}

// floors are what the test asserts: the figure onnxq reaches today minus
// 3 dB, rounded down to 0.1 dB (capped at 60 dB: above that the figure
// measures float rounding in ONNX Runtime's kernels, which varies between
// CPUs).
// The issue's targets, printed beside, are higher for some models; a
// floor only guards against regressions and is raised as figures improve.
var floors = map[string]float64{
	"basic_pitch_nmp":       9.9,  // 12.9
	"dtln_stage1":           47.6, // 50.6
	"fastestdet":            8.8,  // 11.8
	"gtcrn_simple":          11.6, // 14.6
	"mnist_cntk":            40.0, // 43.0
	"oww_hello_deepa":       42.7, // 45.7
	"oww_speech_embedding":  22.6, // 25.6
	"ppocr_cls_mobile_v2":   60,   // 132.3
	"ppocr_det_mobile_v1_1": 13.2, // 16.2
	"silero_vad_micro_v2":   37.6, // 40.6
	// 18.7: its constant operands share its activations' type, so ONNX
	// Runtime runs its Adds as QLinearAdd, whose rounding costs 0.4 dB
	"silero_vad_v3_1":        15.7,
	"silero_vad_v5_16k_op15": 15.6, // 18.6
	"ultraface_rfb_320":      47.9, // 50.9
	"yunet_n_320":            20.5, // 23.5
}

// issueQuarter is the issue's split: the last sample of every 4
// (sample_003, sample_007, ...) evaluates. The targets, floors and top-1
// checks belong to it.
const issueQuarter = 3

// evalQuarter is the quarter of each model's samples that evaluates:
// issueQuarter, or the one ONNXQ_ACCURACY_QUARTER names (0: sample_000,
// sample_004, ...; 1; 2), which measures the same table on other images
// to show how much one split of a few samples says. On those the test
// checks only what holds whatever the images: each model quantizes, runs
// in ONNX Runtime and does not grow.
func evalQuarter(t *testing.T) int {
	v := os.Getenv("ONNXQ_ACCURACY_QUARTER")
	if v == "" {
		return issueQuarter
	}
	var q int
	if _, err := fmt.Sscanf(v, "%d", &q); err != nil || q < 0 || q > 3 || fmt.Sprint(q) != v {
		t.Fatalf("ONNXQ_ACCURACY_QUARTER=%q: want 0, 1, 2 or 3", v)
	}
	return q
}

// top1Models must agree with FP32 on the argmax of their output on every
// evaluation sample.
var top1Models = map[string]bool{"mnist_cntk": true, "ppocr_cls_mobile_v2": true}

// row is one model's line of the table.
type row struct {
	name     string
	eval     int
	sqnr     float64 // worst output
	worstOut string
	top1     string // "8/8", or "" when not checked
	top1OK   bool
	coverage float64 // share of weighted ops reading DequantizeLinear outputs
	weighted int
	units    int     // weighted ops in complete Q/DQ units (macs.QDQUnit)
	size     float64 // INT8 file size / FP32 file size
	wshare   float64 // bytes of the FP32 weights of weighted ops / FP32 file size
	err      string  // why the model has no figure
	ortErr   string  // the INT8 model failed in ONNX Runtime
}

// job is one ONNX Runtime run of one model on one sample.
type job struct {
	model, sample, out string
	inputs             []string
	done               chan error
}

func TestINT8Accuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes every shared model: not in -short mode")
	}
	models, script := ortpeer.Setup(t, shared)
	filter := os.Getenv("ONNXQ_ACCURACY_MODEL")
	quarter := evalQuarter(t)
	tmp := t.TempDir()

	// ONNX Runtime runs in a small pool while onnxq quantizes the next
	// model.
	jobs := make(chan *job)
	var workers, feeders sync.WaitGroup
	for range max(2, goruntime.NumCPU()) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				j.done <- ortpeer.Run(script, j.model, j.sample, j.inputs, j.out)
			}
		}()
	}
	type pending struct {
		r          *row
		outputs    []string
		fp32, int8 []*job
	}
	var all []*pending
	var queued []*job
	submit := func(j *job) { queued = append(queued, j) }

	for _, sm := range ortpeer.WithSamples(shared, models, filter) {
		name, path, data := sm.Name, sm.Path, sm.Data
		r := &row{name: name}
		p := &pending{r: r}
		all = append(all, p)
		q := filepath.Join(tmp, name+".int8.onnx")
		inputs, evalNames, err := quantizeModel(path, data, q, quarter)
		if err != nil {
			r.err = err.Error()
			continue
		}
		r.eval = len(evalNames)
		r.size = float64(fileSize(q)) / float64(fileSize(path))
		qm, err := graph.Load(q)
		if err != nil {
			r.err = err.Error()
			continue
		}
		r.coverage, r.weighted, r.units = coverage(qm)
		r.wshare = float64(weightBytes(qm)) / float64(fileSize(path))
		for _, v := range qm.Graph.Outputs {
			p.outputs = append(p.outputs, v.Name)
		}
		for _, s := range evalNames {
			dir := filepath.Join(data, s)
			fj := &job{model: path, sample: dir, inputs: inputs, out: filepath.Join(tmp, name, "fp32", s), done: make(chan error, 1)}
			qj := &job{model: q, sample: dir, inputs: inputs, out: filepath.Join(tmp, name, "int8", s), done: make(chan error, 1)}
			p.fp32, p.int8 = append(p.fp32, fj), append(p.int8, qj)
			submit(fj)
			submit(qj)
		}
		// Hand the queue to the pool without waiting for it.
		batch := queued
		queued = nil
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			for _, j := range batch {
				jobs <- j
			}
		}()
	}
	for _, p := range all {
		if p.r.err == "" {
			measure(p.r, p.outputs, p.fp32, p.int8)
		}
	}
	// The feeders finish once the workers have taken every job; then the
	// workers can stop.
	feeders.Wait()
	close(jobs)
	workers.Wait()

	var rows []*row
	for _, p := range all {
		rows = append(rows, p.r)
	}
	printTable(os.Stdout, rows, quarter)
	for _, r := range rows {
		switch {
		case r.err != "":
			t.Errorf("%s: %s", r.name, r.err)
		case r.ortErr != "":
			t.Errorf("%s: the INT8 model does not run in ONNX Runtime: %s", r.name, r.ortErr)
		case quarter != issueQuarter:
			if math.IsNaN(r.sqnr) {
				t.Errorf("%s: SQNR is NaN", r.name)
			}
		default:
			if f, ok := floors[r.name]; ok && !(r.sqnr >= f) {
				t.Errorf("%s: SQNR %.1f dB (output %q) is below its floor %.1f dB", r.name, r.sqnr, r.worstOut, f)
			}
			if top1Models[r.name] && !r.top1OK {
				t.Errorf("%s: top-1 agreement with FP32 is %s", r.name, r.top1)
			}
		}
		// quantizing never grows a file: whatever stays float stays as
		// large, and what the pass adds must cost less than the int8
		// storage saves
		if r.err == "" && r.ortErr == "" && !(r.size < 1) {
			t.Errorf("%s: the quantized file is %.3fx its FP32 size", r.name, r.size)
		}
	}
}

// quantizeModel quantizes the model at path with the default
// configuration, calibrated on the samples of data outside the given
// evaluation quarter, writes it to out, and returns the model's input
// names and the evaluation sample names.
func quantizeModel(path, data, out string, quarter int) (inputs, eval []string, err error) {
	m, err := graph.Load(path)
	if err != nil {
		return nil, nil, err
	}
	src, err := calibdata.Open(data, calibdata.Inputs(m), calibdata.ImageOptions{})
	if err != nil {
		return nil, nil, err
	}
	names := src.Names()
	calibIdx, evalIdx := calibdata.SplitAt(names, 4, quarter, 8)
	calibSrc, err := src.Subset(calibIdx)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range calibdata.Inputs(m) {
		inputs = append(inputs, in.Name)
	}
	for _, i := range evalIdx {
		eval = append(eval, names[i])
	}
	if _, err := quant.Run(m, calibSrc, quant.DefaultConfig()); err != nil {
		return nil, nil, err
	}
	return inputs, eval, graph.Save(m, out, graph.SaveOptions{})
}

// measure waits for a model's ORT runs and fills its SQNR and top-1.
func measure(r *row, outputs []string, fp32, int8 []*job) {
	ref := map[string][]float64{}
	got := map[string][]float64{}
	agree := 0
	for i := range fp32 {
		ferr, qerr := <-fp32[i].done, <-int8[i].done
		if ferr != nil {
			r.err = "FP32 model in ONNX Runtime: " + ferr.Error()
			return
		}
		if qerr != nil {
			r.ortErr = qerr.Error()
			return
		}
		for k, out := range outputs {
			a, err1 := readOutput(fp32[i].out, out)
			b, err2 := readOutput(int8[i].out, out)
			if err1 != nil || err2 != nil || len(a) != len(b) {
				r.err = fmt.Sprintf("output %q: %v %v (sizes %d, %d)", out, err1, err2, len(a), len(b))
				return
			}
			ref[out] = append(ref[out], a...)
			got[out] = append(got[out], b...)
			if k == 0 && argmax(a) == argmax(b) {
				agree++
			}
		}
	}
	r.sqnr = math.Inf(1)
	for _, out := range outputs {
		if db := sqnr(ref[out], got[out]); db < r.sqnr || r.worstOut == "" {
			r.sqnr, r.worstOut = db, out
		}
	}
	if top1Models[r.name] {
		r.top1 = fmt.Sprintf("%d/%d", agree, len(fp32))
		r.top1OK = agree == len(fp32)
	}
}

func readOutput(dir, name string) ([]float64, error) {
	t, err := ortpeer.Output(dir, name)
	if err != nil {
		return nil, err
	}
	return t.AsFloat64()
}

// sqnr is 10*log10(sum ref^2 / sum (got-ref)^2), +Inf when equal.
func sqnr(ref, got []float64) float64 {
	var s, n float64
	for i := range ref {
		s += ref[i] * ref[i]
		d := got[i] - ref[i]
		n += d * d
	}
	if n == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(s/n)
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// coverage returns the share of weighted ops (Conv, ConvTranspose, Gemm,
// MatMul with a constant weight; subgraphs included) whose weight comes
// from a DequantizeLinear of a constant and whose activation input comes
// from a DequantizeLinear, how many weighted ops there are, and how many
// of them are complete Q/DQ units (8-bit DequantizeLinear on every input,
// an int32 bias, QuantizeLinear on the output: macs.QDQUnit).
func coverage(m *graph.Model) (float64, int, int) {
	var total, covered, units int
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			switch n.OpType {
			case "Conv", "ConvTranspose", "Gemm", "MatMul":
			default:
				continue
			}
			if len(n.Inputs) < 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
				continue
			}
			w, x := n.Inputs[1], n.Inputs[0]
			wDQ := w.Producer != nil && w.Producer.OpType == "DequantizeLinear"
			constW := w.Const != nil || wDQ && w.Producer.Inputs[0] != nil && w.Producer.Inputs[0].Const != nil
			if n.OpType == "MatMul" && !constW {
				continue
			}
			total++
			if wDQ && constW && x.Producer != nil && x.Producer.OpType == "DequantizeLinear" {
				covered++
			}
			if macs.QDQUnit(n) {
				units++
			}
		}
	})
	if total == 0 {
		return math.NaN(), 0, 0
	}
	return float64(covered) / float64(total), total, units
}

// weightsDominate is the share of a model's FP32 file that the weights of
// its quantized weighted ops (Conv, ConvTranspose, Gemm, MatMul; see
// weightBytes) must reach for the size target to apply. Int8 weights are a
// quarter of their FP32 bytes and the rest of the file does not shrink, so
// a file whose weights are a share w of it cannot go below 0.25·w + (1−w)
// before any scale, bias or Q/DQ node: 0.30x needs w ≥ 93.3%. At 95% the
// bound is 0.2875x, which leaves 1.25% of the file for per-channel scales,
// int32 biases and Q/DQ nodes.
const weightsDominate = 0.95

// sizeTarget is the issue's file size limit for those models.
const sizeTarget = 0.30

// weightBytes sums the FP32 bytes (4 per element) of the weights that the
// quantized model m stores as 8-bit integers for its weighted ops (Conv,
// ConvTranspose, Gemm, MatMul reading a DequantizeLinear of a constant),
// subgraphs included, each once: the weights of quantizable ops. A weight
// the rules keep float (a spectrum Conv feeding a Log) does not count.
func weightBytes(m *graph.Model) int64 {
	seen := map[*graph.Value]bool{}
	var sum int64
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			switch n.OpType {
			case "Conv", "ConvTranspose", "Gemm", "MatMul":
			default:
				continue
			}
			w := n.Input(1)
			if w == nil || w.Producer == nil || w.Producer.OpType != "DequantizeLinear" {
				continue
			}
			iw := w.Producer.Input(0)
			if iw == nil || iw.Const == nil || seen[iw] || iw.DType != graph.Int8 && iw.DType != graph.Uint8 {
				continue
			}
			seen[iw] = true
			sum += 4 * iw.Const.NumElements()
		}
	})
	return sum
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// target is the issue's threshold: min(30, reference+6).
func target(name string) (float64, bool) {
	ref, ok := reference[name]
	return math.Min(30, ref+6), ok
}

// printTable writes the table as Markdown, so it reads in CI logs and can
// go into the README as it is.
func printTable(w io.Writer, rows []*row, quarter int) {
	sort.Slice(rows, func(a, b int) bool { return rows[a].name < rows[b].name })
	fmt.Fprintf(w, "\nINT8 accuracy in ONNX Runtime (default flags; SQNR of the worst output, pooled over the evaluation samples)\n\n")
	if quarter != issueQuarter {
		fmt.Fprintf(w, "Evaluating quarter %d (the samples at positions %d, %d, ... by name), not the issue's split: no floors, and no model meets or misses a target on it.\n\n", quarter, quarter, quarter+4)
	}
	fmt.Fprintf(w, "| model | eval samples | SQNR dB | target dB | meets target | floor dB | top-1 | weighted ops reading Q/DQ | complete Q/DQ units | size vs FP32 | quantized weights, share of FP32 file | size target |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		tgt, ok := target(r.name)
		tgtS, pass := "-", "-"
		if ok {
			tgtS = fmt.Sprintf("%.1f", tgt)
		}
		floor := "-"
		if f, ok := floors[r.name]; ok && quarter == issueQuarter {
			floor = fmt.Sprintf("%.1f", f)
		}
		ok = ok && quarter == issueQuarter
		if r.err != "" || r.ortErr != "" {
			fmt.Fprintf(w, "| %s | %d | error: %s | %s | fail | %s | | | | | |\n", r.name, r.eval, strings.ReplaceAll(r.err+r.ortErr, "|", "/"), tgtS, floor)
			continue
		}
		if ok {
			pass = "fail"
			if r.sqnr >= tgt {
				pass = "pass"
			}
		}
		top1 := r.top1
		if top1 == "" {
			top1 = "-"
		}
		cov, units := "-", "-"
		if r.weighted > 0 {
			cov = fmt.Sprintf("%.0f%% of %d", 100*r.coverage, r.weighted)
			units = fmt.Sprintf("%.0f%% (%d)", 100*float64(r.units)/float64(r.weighted), r.units)
		}
		// the size target applies where weights dominate the file
		sz := "-"
		if r.wshare >= weightsDominate {
			sz = fmt.Sprintf("≤ %.2fx: fail", sizeTarget)
			if r.size <= sizeTarget {
				sz = fmt.Sprintf("≤ %.2fx: pass", sizeTarget)
			}
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %s | %s | %s | %.3fx | %.1f%% | %s |\n", r.name, r.eval, r.sqnr, tgtS, pass, floor, top1, cov, units, r.size, 100*r.wshare, sz)
	}
	fmt.Fprintln(w)
}
