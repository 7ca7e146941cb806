// quant_test.go checks the facade end to end on a small Conv/Relu/MatMul
// model calibrated on synthetic samples.
package quant_test

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/testmodels"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
)

func smallModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 8, 8)
	wdata := make([]float32, 4*2*3*3)
	for i := range wdata {
		wdata[i] = float32(i%7) - 3
	}
	w := b.Const(graph.FromFloat32s("w", []int64{4, 2, 3, 3}, wdata))
	y := b.Op("Conv", x, w, graph.IntsAttr("pads", 1, 1, 1, 1))
	y = b.Op("Relu", y)
	mdata := make([]float32, 8*5)
	for i := range mdata {
		mdata[i] = float32(i) / 8
	}
	mw := b.Const(graph.FromFloat32s("mw", []int64{8, 5}, mdata))
	b.Output(b.Op("MatMul", y, mw))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func countOps(m *graph.Model, op string) int {
	n := 0
	m.Graph.Walk(func(g *graph.Graph) {
		for _, nd := range g.Nodes {
			if nd.OpType == op {
				n++
			}
		}
	})
	return n
}

func TestRun(t *testing.T) {
	m := smallModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 1)
	var calls []int
	cfg := quant.DefaultConfig()
	cfg.Progress = func(done, total int) {
		if total != 8 {
			t.Errorf("progress total %d, want 8", total)
		}
		calls = append(calls, done)
	}
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// One calibration pass feeds every selected method.
	want := []int{1, 2, 3, 4, 5, 6, 7, 8}
	if !slices.Equal(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
	if res.Report == nil || res.Report.WeightsQuantized != 2 {
		t.Fatalf("report %+v: want both weights quantized", res.Report)
	}
	if countOps(m, "DequantizeLinear") == 0 || countOps(m, "QuantizeLinear") == 0 {
		t.Fatal("no Q/DQ in the quantized model")
	}
	if countOps(res.Reference, "DequantizeLinear") != 0 {
		t.Error("the reference model was edited too")
	}
	// Graph inputs are observed, not only what nodes produce.
	if _, ok := res.Collection.Ranges()["x"]; !ok {
		t.Errorf("input x has no range; observed %v", res.Collection.Names())
	}
	sqnr, err := quant.OutputSQNR(res.Reference, m, src, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sqnr) != 1 || sqnr[0].Samples != 4 || sqnr[0].DB < 25 {
		t.Errorf("output SQNR %+v: want one output over 4 samples at 25 dB or more", sqnr)
	}
}

// The FP32 outputs OutputSQNR keeps with the samples serve the same model
// only: measured again after the reference changed in place, the figure
// is that of the changed model, as a fresh set of samples gives it.
func TestOutputSQNRKeptReference(t *testing.T) {
	m := smallModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 1)
	res, err := quant.Run(m, src, quant.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	before, err := quant.WorstOutputSQNR(res.Reference, m, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := quant.WorstOutputSQNR(res.Reference, m, src, 1); err != nil || again != before {
		t.Fatalf("measured again: %v dB (%v), want %v", again, err, before)
	}
	w := res.Reference.Graph.Value("mw")
	data, err := w.Const.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] *= 1.5
	}
	changed, err := graph.FromFloat32s("mw", w.Const.Dims, data)
	if err != nil {
		t.Fatal(err)
	}
	w.Const = changed
	after, err := quant.WorstOutputSQNR(res.Reference, m, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := quant.WorstOutputSQNR(res.Reference, m, calibdata.Synthetic(calibdata.Inputs(m), 4, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	if after != fresh || after == before {
		t.Errorf("after the reference changed: %v dB, fresh samples %v dB, before %v dB", after, fresh, before)
	}
}

// One pass of CalibrateAll gives each collection the statistics Calibrate
// gives it alone.
func TestCalibrateAllEqualsEach(t *testing.T) {
	m := smallModel(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 6, 3)
	cfg := quant.DefaultConfig()
	var shared, alone []*calib.Collection
	for _, method := range []calib.Method{calib.MinMax, calib.MSE, calib.Entropy} {
		a, err := calib.New(method, cfg.CalibOptions)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := calib.New(method, cfg.CalibOptions)
		if err := quant.Calibrate(m, src, cfg, b); err != nil {
			t.Fatal(err)
		}
		shared, alone = append(shared, a), append(alone, b)
	}
	if err := quant.CalibrateAll(m, src, cfg, shared...); err != nil {
		t.Fatal(err)
	}
	for i := range shared {
		var x, y bytes.Buffer
		if err := shared[i].Save(&x); err != nil {
			t.Fatal(err)
		}
		if err := alone[i].Save(&y); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.Bytes(), y.Bytes()) || len(shared[i].Names()) == 0 {
			t.Errorf("%s: the shared pass's statistics differ from its own pass's", shared[i].Method())
		}
	}
}

// TestDeterministic: the quantized model does not depend on the thread
// count.
func TestDeterministic(t *testing.T) {
	var out [][]byte
	for _, threads := range []int{1, 3} {
		m := smallModel(t)
		cfg := quant.DefaultConfig()
		cfg.Threads = threads
		if _, err := quant.Run(m, calibdata.Synthetic(calibdata.Inputs(m), 5, 7), cfg); err != nil {
			t.Fatal(err)
		}
		data, err := graph.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("1 and 3 threads give different models")
	}
}

// TestStopInPrepare: stopping after a prepare pass leaves Quantize a no-op.
func TestStopInPrepare(t *testing.T) {
	m := smallModel(t)
	cfg := quant.DefaultConfig()
	cfg.RunOptions = passes.RunOptions{StopAfter: passes.Names(passes.PreparePasses())[0]}
	res, err := quant.Run(m, calibdata.Synthetic(calibdata.Inputs(m), 2, 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report != nil || countOps(m, "QuantizeLinear") != 0 {
		t.Error("quantized although the pipeline stopped in prepare")
	}
}

func TestBadInput(t *testing.T) {
	cfg := quant.DefaultConfig()
	if err := quant.Prepare(nil, cfg); err == nil {
		t.Error("Prepare(nil): no error")
	}
	if _, err := quant.Quantize(nil, nil, cfg); err == nil {
		t.Error("Quantize(nil): no error")
	}
	if err := quant.Calibrate(smallModel(t), nil, cfg, nil); err == nil {
		t.Error("Calibrate without a collection: no error")
	}
	cfg.Method = "nosuch"
	if _, err := quant.Run(smallModel(t), nil, cfg); err == nil {
		t.Error("unknown method: no error")
	}
	if _, err := quant.OutputSQNR(nil, nil, nil, 1, 1); err == nil {
		t.Error("OutputSQNR(nil): no error")
	}
}

// TestSelectMethods checks that Run keeps the method whose model has the
// best worst output on the calibration samples.
func TestSelectMethods(t *testing.T) {
	src := calibdata.Synthetic(calibdata.Inputs(smallModel(t)), 6, 3)
	methods := []calib.Method{calib.MinMax, calib.Percentile, calib.MSE}
	scores := map[calib.Method]float64{}
	for _, method := range methods {
		m := smallModel(t)
		cfg := quant.DefaultConfig()
		cfg.SelectMethods = nil
		cfg.Method = method
		res, err := quant.Run(m, src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if scores[method], err = quant.WorstOutputSQNR(res.Reference, m, src, 0); err != nil {
			t.Fatal(err)
		}
	}
	m := smallModel(t)
	cfg := quant.DefaultConfig()
	cfg.SelectMethods = methods
	res, err := quant.Run(m, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := quant.WorstOutputSQNR(res.Reference, m, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got != res.Selected || got != scores[res.Method] {
		t.Errorf("kept %s: %v dB, reported %v, alone it gives %v", res.Method, got, res.Selected, scores[res.Method])
	}
	for _, method := range methods {
		if scores[method] > got {
			t.Errorf("kept %s at %v dB but %s gives %v", res.Method, got, method, scores[method])
		}
	}
	t.Logf("scores %v, kept %s", scores, res.Method)
}

// sigmoidHead is Conv → Sigmoid → output: a Conv whose only reader is a
// float op, which only unit completion quantizes the output of.
func sigmoidHead(t *testing.T) *graph.Model {
	t.Helper()
	m := smallModel(t)
	// the Conv's Relu and the MatMul give way to a Sigmoid to the output
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 2, 8, 8)
	w := b.Const(m.Graph.Value("w").Const, nil)
	b.Output(b.Op("Sigmoid", b.Op("Conv", x, w, graph.IntsAttr("pads", 1, 1, 1, 1))))
	head, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return head
}

// ChooseUnits keeps the completed model when its worst output stays within
// UnitsAllowanceDB of the model without, or at UnitsEnoughDB; it tries
// nothing with Units off, and Run completes units with Units on.
func TestChooseUnits(t *testing.T) {
	m := sigmoidHead(t)
	src := calibdata.Synthetic(calibdata.Inputs(m), 4, 1)
	cfg := quant.DefaultConfig()
	cfg.Threads = 1
	ref, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := quant.Prepare(ref, cfg); err != nil {
		t.Fatal(err)
	}
	coll, err := calib.New(calib.MinMax, cfg.CalibOptions)
	if err != nil {
		t.Fatal(err)
	}
	if err := quant.Calibrate(ref, src, cfg, coll); err != nil {
		t.Fatal(err)
	}
	quantize := func(cand *graph.Model, c quant.Config) (*passes.QuantReport, error) {
		return quant.QuantizeCollected(cand, coll, c)
	}
	var db float64
	for _, base := range []float64{20, 1000} {
		c, err := quant.ChooseUnits(ref, ref, src, cfg, base, quantize)
		if err != nil || c == nil || c.Model == nil {
			t.Fatalf("base %v: %v, choice %+v", base, err, c)
		}
		db = c.After
		if want := c.After >= min(base-quant.UnitsAllowanceDB, quant.UnitsEnoughDB); c.Kept != want || c.Completed != 1 || c.Units != 1 || c.All != c.After {
			t.Errorf("base %v dB, completed %v dB: kept %v, %d of %d units (all %v dB)", base, c.After, c.Kept, c.Completed, c.Units, c.All)
		}
	}
	// A base just above the completed figure plus the allowance: refused
	// unless the figure is above UnitsEnoughDB.
	if c, _ := quant.ChooseUnits(ref, ref, src, cfg, db+quant.UnitsAllowanceDB+1, quantize); c == nil || c.Kept != (db >= quant.UnitsEnoughDB) {
		t.Errorf("completed %v dB against %v: %+v", db, db+quant.UnitsAllowanceDB+1, c)
	}
	// Held-out samples judge a model the calibration samples keep: here
	// cur is the FP32 model itself, exact on them (+Inf dB), so only a
	// completed model at UnitsEnoughDB or more there is kept.
	hcfg := cfg
	hcfg.HeldOut = src
	c, err := quant.ChooseUnits(ref, ref, src, hcfg, 20, quantize)
	if err != nil || c == nil {
		t.Fatalf("held-out: %v, choice %+v", err, c)
	}
	if !math.IsInf(c.HeldBefore, 1) || c.HeldAfter != c.After || c.HeldMissed != (c.HeldAfter < quant.UnitsEnoughDB) || c.Kept != !c.HeldMissed {
		t.Errorf("held-out samples: %+v", c)
	}
	if c, _ := quant.ChooseUnits(ref, ref, src, hcfg, 1000, quantize); c == nil || c.Kept || !math.IsNaN(c.HeldBefore) || !math.IsNaN(c.HeldAfter) {
		t.Errorf("refused on the calibration samples, measured on the held-out ones all the same: %+v", c)
	}
	off := cfg
	off.Units = quant.UnitsOff
	if c, err := quant.ChooseUnits(ref, ref, src, off, 20, quantize); c != nil || err != nil {
		t.Errorf("units off: %+v, %v", c, err)
	}
	on := cfg
	on.Units = quant.UnitsOn
	q := sigmoidHead(t)
	res, err := quant.Run(q, src, on)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.UnitsCompleted != 1 {
		t.Errorf("units on: %d completed, want 1", res.Report.UnitsCompleted)
	}
	if _, err := quant.ParseUnitCompletion("sometimes"); err == nil {
		t.Error("a bad mode parsed")
	}
}

// When completing every unit costs too much, ChooseUnits completes the
// ones that cost least and names the rest in OpenUnits; the model it
// keeps holds its bound and quantizes again to the same bytes.
func TestChooseUnitsPartial(t *testing.T) {
	m, err := testmodels.TwoHeads()
	if err != nil {
		t.Fatal(err)
	}
	src := calibdata.Synthetic(calibdata.Inputs(m), 8, 1)
	cfg := quant.DefaultConfig()
	cfg.Threads = 1
	cfg.Units = quant.UnitsOff
	cur, err := quant.Clone(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := quant.Run(cur, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := res.Reference
	base, err := quant.WorstOutputSQNR(ref, cur, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Units = quant.UnitsAuto
	quantize := func(cand *graph.Model, c quant.Config) (*passes.QuantReport, error) {
		return quant.QuantizeCollected(cand, res.Collection, c)
	}
	c, err := quant.ChooseUnits(ref, cur, src, cfg, base, quantize)
	if err != nil || c == nil {
		t.Fatalf("%+v, %v", c, err)
	}
	bound := min(base-quant.UnitsAllowanceDB, quant.UnitsEnoughDB)
	t.Logf("base %.1f dB, all units %.1f, kept %v: %d of %d at %.1f, open %v", base, c.All, c.Kept, c.Completed, c.Units, c.After, c.Config.Quant.OpenUnits)
	if c.Units != 2 || c.All >= bound {
		t.Fatalf("completing both units should miss %.1f dB: %d units at %.1f", bound, c.Units, c.All)
	}
	if !c.Kept || c.Completed != 1 || c.After < bound || len(c.Config.Quant.OpenUnits) != 1 {
		t.Fatalf("want the Sigmoid's unit alone kept at %.1f dB or more: %+v", bound, c)
	}
	for name := range c.Config.Quant.OpenUnits {
		if v := c.Model.Graph.Value(name); v == nil || v.Producer == nil || len(v.Consumers) != 1 || v.Consumers[0].OpType != "Exp" {
			t.Errorf("open unit %s is not the Conv the Exp reads", name)
		}
	}
	again, err := quant.Clone(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quantize(again, c.Config); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encode(t, again), encode(t, c.Model)) {
		t.Error("quantizing again with the chosen configuration gives other bytes")
	}
}
