// methods_test.go quantizes every shared model with every calibration
// method and checks that each quantized model runs and gives finite
// output SQNR on the evaluation samples, in onnxq's runtime.
package accuracy_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/quant"
)

// methods are all of calib's range methods.
var methods = []calib.Method{calib.MinMax, calib.EMA, calib.Entropy, calib.Percentile, calib.MSE, calib.Auto}

func TestEveryMethodEveryModel(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes every shared model six times: not in -short mode")
	}
	models, err := filepath.Glob(filepath.Join(shared, "models", "*.onnx"))
	if err != nil || len(models) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no shared models under %s", shared)
		}
		t.Skipf("no shared models under %s", shared)
	}
	filter := os.Getenv("ONNXQ_ACCURACY_MODEL")
	var table strings.Builder
	fmt.Fprintf(&table, "\nWorst-output SQNR (dB) per calibration method, evaluation samples, onnxq's runtime (bias correction off)\n\n| model |")
	for _, m := range methods {
		fmt.Fprintf(&table, " %s |", m)
	}
	fmt.Fprintf(&table, "\n|---|%s\n", strings.Repeat("---|", len(methods)))
	for _, sm := range ortpeer.WithSamples(shared, models, filter) {
		name, path, data := sm.Name, sm.Path, sm.Data
		fmt.Fprintf(&table, "| %s |", name)
		for _, method := range methods {
			db, err := methodSQNR(path, data, method)
			if err != nil {
				t.Errorf("%s with --method %s: %v", name, method, err)
				fmt.Fprintf(&table, " error |")
				continue
			}
			if math.IsNaN(db) {
				t.Errorf("%s with --method %s: output SQNR is NaN", name, method)
			}
			fmt.Fprintf(&table, " %.1f |", db)
		}
		fmt.Fprintf(&table, "\n")
	}
	fmt.Println(table.String())
}

// methodSQNR quantizes the model on the calibration split with method and
// returns the worst output SQNR over the evaluation split.
func methodSQNR(path, data string, method calib.Method) (float64, error) {
	m, err := graph.Load(path)
	if err != nil {
		return 0, err
	}
	src, err := calibdata.Open(data, calibdata.Inputs(m), calibdata.ImageOptions{})
	if err != nil {
		return 0, err
	}
	calibIdx, evalIdx := calibdata.Split(src.Names(), 4, 8)
	calibSrc, err := src.Subset(calibIdx)
	if err != nil {
		return 0, err
	}
	evalSrc, err := src.Subset(evalIdx)
	if err != nil {
		return 0, err
	}
	cfg := quant.DefaultConfig()
	cfg.Method = method
	cfg.SelectMethods = nil // this method alone, not the default choice among several
	// Bias correction does not depend on the method and costs a run per
	// layer group; leaving it out keeps this test to the ranges.
	cfg.BiasCorrection = false
	res, err := quant.Run(m, calibSrc, cfg)
	if err != nil {
		return 0, err
	}
	out, err := quant.OutputSQNR(res.Reference, m, evalSrc, evalSrc.Len(), 0)
	if err != nil {
		return 0, err
	}
	if len(out) == 0 {
		return 0, fmt.Errorf("no float output to compare")
	}
	worst := math.Inf(1)
	for _, o := range out {
		if math.IsNaN(o.DB) {
			return math.NaN(), nil
		}
		worst = min(worst, o.DB)
	}
	return worst, nil
}
