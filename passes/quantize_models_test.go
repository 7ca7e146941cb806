// End-to-end check of the quantize pass on shared real models: prepare,
// calibrate min/max in onnxq's runtime on the calibration samples, quantize,
// and compare the QDQ model with FP32 on the evaluation samples (every 4th)
// in onnxq's runtime and, when it is installed, in ONNX Runtime.

package passes

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/qdq"
	"github.com/onnxq/onnxq/runtime"
)

// splitSamples returns the calibration samples and the evaluation samples
// (sample_003, sample_007, … at most 8) of a model's data folder, at most
// maxCalib of the former.
func splitSamples(t *testing.T, dir string, maxCalib int) (calib, eval []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skip(err)
	}
	var all []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "sample_") {
			all = append(all, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(all)
	for i, s := range all {
		if i%4 == 3 {
			if len(eval) < 8 {
				eval = append(eval, s)
			}
		} else if len(calib) < maxCalib {
			calib = append(calib, s)
		}
	}
	return calib, eval
}

func inputNames(m *graph.Model) []string {
	var names []string
	for _, v := range m.Graph.RealInputs() {
		names = append(names, v.Name)
	}
	return names
}

func readFeeds(t *testing.T, m *graph.Model, dirs []string) []map[string]*runtime.Tensor {
	t.Helper()
	var names []string
	for _, v := range m.Graph.RealInputs() {
		names = append(names, v.Name)
	}
	var out []map[string]*runtime.Tensor
	for _, d := range dirs {
		f, err := tensorio.ReadSample(d, names)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestQuantizeRealModels(t *testing.T) {
	if testing.Short() {
		t.Skip("real models in -short mode")
	}
	for _, c := range []struct {
		name    string
		minSQNR float64
	}{
		{"mnist_cntk", 25},
		{"ultraface_rfb_320", 25},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(sharedDir, "models", c.name+".onnx")
			m, err := graph.Load(path)
			if err != nil {
				t.Skip(err)
			}
			calibDirs, evalDirs := splitSamples(t, filepath.Join(sharedDir, "data", c.name), 6)
			if err := Run(m, nil, PreparePasses(), RunOptions{}); err != nil {
				t.Fatal(err)
			}
			ranges := calibrate(t, m, readFeeds(t, m, calibDirs))
			evalFeeds := readFeeds(t, m, evalDirs)
			var want []map[string]*runtime.Tensor
			for _, f := range evalFeeds {
				want = append(want, outputs(t, m, f))
			}
			var log strings.Builder
			ctx := &Context{Log: &log, Values: map[string]any{}}
			if err := Run(m, ctx, []Pass{QuantizePass(ranges, DefaultQuantOptions())}, RunOptions{}); err != nil {
				t.Fatal(err)
			}
			r := ctx.Values[QuantReportKey].(*QuantReport)
			t.Logf("%s\nreport: tensors %d, weights %d, biases %d, folded %d, opset %d→%d, ops %v, FP32 %d",
				strings.TrimSpace(log.String()), r.TensorsQuantized, r.WeightsQuantized, r.BiasesQuantized,
				r.ActivationsFolded, r.OpsetFrom, r.OpsetTo, r.OpCounts, len(r.FP32))
			var got []map[string]*runtime.Tensor
			for _, f := range evalFeeds {
				got = append(got, outputs(t, m, f))
			}
			for name, s := range pooledSQNR(want, got) {
				t.Logf("onnxq runtime: output %s SQNR %.1f dB", name, s)
				if s < c.minSQNR {
					t.Errorf("output %s: SQNR %.1f dB, want > %.0f", name, s, c.minSQNR)
				}
			}
			if c.name == "mnist_cntk" {
				for i := range want {
					for name := range want[i] {
						if a, b := argmax(want[i][name].F32()), argmax(got[i][name].F32()); a != b {
							t.Errorf("%s: top-1 %d, FP32 %d", evalDirs[i], b, a)
						}
					}
				}
			}
			out := filepath.Join(t.TempDir(), c.name+".int8.onnx")
			if err := graph.Save(m, out, graph.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			ortCheck(t, out, inputNames(m), evalDirs, want)
		})
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// pooledSQNR is the SQNR of each output over all samples together.
func pooledSQNR(want, got []map[string]*runtime.Tensor) map[string]float64 {
	out := map[string]float64{}
	for name := range want[0] {
		var ref, q []float32
		for i := range want {
			ref = append(ref, want[i][name].F32()...)
			if g := got[i][name]; g != nil {
				q = append(q, g.F32()...)
			}
		}
		if len(q) != len(ref) {
			out[name] = math.Inf(-1)
			continue
		}
		out[name] = qdq.SQNR(ref, q)
	}
	return out
}

// ortCheck runs the saved model in ONNX Runtime on the evaluation samples
// and compares its outputs with the FP32 ones; skipped without node or
// onnxruntime-node.
func ortCheck(t *testing.T, model string, inputs []string, evalDirs []string, want []map[string]*runtime.Tensor) {
	t.Helper()
	ortDir := os.Getenv("ORT_NODE_DIR")
	if ortDir == "" {
		ortDir = "/tmp/ortnode"
	}
	script := filepath.Join(sharedDir, "tools", "ort", "ort-run.js")
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("ONNX Runtime check skipped: no node")
		return
	}
	if _, err := os.Stat(filepath.Join(ortDir, "node_modules", "onnxruntime-node")); err != nil {
		t.Log("ONNX Runtime check skipped: no onnxruntime-node in", ortDir)
		return
	}
	var got []map[string]*runtime.Tensor
	for i, dir := range evalDirs {
		outDir := filepath.Join(t.TempDir(), fmt.Sprint("ort", i))
		args := []string{script, model, "--out", outDir}
		files, err := tensorio.SampleFiles(dir, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range inputs {
			args = append(args, "--in", name+"="+files[name])
		}
		cmd := exec.Command("node", args...)
		cmd.Env = append(os.Environ(), "ORT_NODE_DIR="+ortDir)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ONNX Runtime cannot run %s: %v\n%s", model, err, b)
		}
		var res struct{ Outputs map[string]any }
		if i := strings.IndexByte(string(b), '{'); i < 0 || json.Unmarshal(b[i:], &res) != nil {
			t.Fatalf("ort-run output is not JSON:\n%s", b)
		}
		outs := map[string]*runtime.Tensor{}
		for name := range want[i] {
			x, err := tensorio.ReadTensor(filepath.Join(outDir, tensorio.SafeName(name)+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			outs[name] = x
		}
		got = append(got, outs)
	}
	for name, s := range pooledSQNR(want, got) {
		t.Logf("ONNX Runtime: output %s SQNR %.1f dB", name, s)
		if s < 20 {
			t.Errorf("ONNX Runtime: output %s SQNR %.1f dB", name, s)
		}
	}
}
