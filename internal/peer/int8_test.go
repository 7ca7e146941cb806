// int8_test.go compares onnxq's integer execution of its quantized models
// with ONNX Runtime's, tensor by tensor: every QuantizeLinear output (and,
// in the QOperator form, every QLinearConv/QLinearMatMul output) becomes a
// graph output, both runtimes run the model on evaluation samples, and the
// integers are compared element by element.
package peer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/ortpeer"
	"github.com/onnxq/onnxq/lower"
	"github.com/onnxq/onnxq/passes"
	"github.com/onnxq/onnxq/quant"
	"github.com/onnxq/onnxq/runtime"
)

// eachModelWithSamples calls fn for each of models that has samples in
// the shared data folder (and whose name holds ONNXQ_PEER_MODEL when set):
// its name, its samples' folder, the loaded model and its samples.
func eachModelWithSamples(t *testing.T, models []string, fn func(name, data string, m *graph.Model, src *calibdata.Source)) {
	t.Helper()
	for _, sm := range ortpeer.WithSamples(shared, models, os.Getenv("ONNXQ_PEER_MODEL")) {
		m, err := graph.Load(sm.Path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := calibdata.Open(sm.Data, calibdata.Inputs(m), calibdata.ImageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fn(sm.Name, sm.Data, m, src)
	}
}

// int8Agreement is the share of quantized output elements within one step
// of ONNX Runtime's that the test asks for.
const int8Agreement = 0.999

// int8AgreementBelow lists the models that fall short of int8Agreement
// today, with the share they keep. onnxq's Add and Mul units round exact
// ties as ONNX Runtime's QLinearAdd and QLinearMul kernels do (the hard-
// swish and squeeze-excite blocks of the ppocr models, where a tie moved
// one step and spread through the layers after it, now agree).
var int8AgreementBelow = map[string]float64{
	"silero_vad_micro_v2": 0.90, // 100% today; 92.2% with MinMax ranges
	// 84.0% today. Its Convs outside units read float inputs
	// (FloatIdleInputs) and run in float in both runtimes, whose
	// summation orders differ; the model spreads a one-step difference
	// into many: onnxq's integer run and ONNX Runtime's differ at 21 dB
	// on sample_003 while each is 18 dB from the float QDQ semantics
	// (with all its inputs quantized the two agreed at 140 dB, and the
	// model lost 4.8 dB in ONNX Runtime).
	"ppocr_det_mobile_v1_1": 0.80,
}

// probe makes every 8-bit integer tensor of q's main graph a graph output
// and returns their names.
func probe(q *graph.Model) []string {
	var names []string
	outs := map[*graph.Value]bool{}
	for _, v := range q.Graph.Outputs {
		outs[v] = true
	}
	for _, n := range q.Graph.Nodes {
		switch n.OpType {
		case "QuantizeLinear", "QLinearConv", "QLinearMatMul":
		default:
			continue
		}
		v := n.Outputs[0]
		if v == nil || outs[v] {
			continue
		}
		if v.DType == graph.Undefined {
			v.DType = graph.Uint8
			if z := n.Input(2); n.OpType == "QuantizeLinear" && z != nil && z.Const != nil {
				v.DType = z.Const.DType
			}
			if n.OpType != "QuantizeLinear" {
				if z := n.Input(7); z != nil && z.Const != nil {
					v.DType = z.Const.DType
				}
			}
		}
		q.Graph.AddOutput(v)
		outs[v] = true
		names = append(names, v.Name)
	}
	return names
}

// finalIntegers returns the integer tensors nearest to q's graph outputs:
// walking back from each output through float ops, the input of every
// DequantizeLinear met first. Their elements are the model's quantized
// output elements.
func finalIntegers(q *graph.Model) map[string]bool {
	final := map[string]bool{}
	seen := map[*graph.Value]bool{}
	var walk func(v *graph.Value)
	walk = func(v *graph.Value) {
		if v == nil || seen[v] || v.Producer == nil {
			return
		}
		seen[v] = true
		p := v.Producer
		if p.OpType == "DequantizeLinear" {
			if in := p.Input(0); in != nil && in.Producer != nil {
				final[in.Name] = true
			}
			return
		}
		for _, in := range p.Inputs {
			if in != nil && in.Const == nil {
				walk(in)
			}
		}
	}
	for _, v := range q.Graph.Outputs {
		walk(v)
	}
	return final
}

// agreement counts the elements of the named integer tensors that differ
// from ONNX Runtime's by at most one, and all of them.
func agreement(t *testing.T, ours map[string]*runtime.Tensor, ortDir string, names []string) (within, total int, worst string) {
	t.Helper()
	worstShare, worst := 1.0, "-"
	for _, name := range names {
		a, err := ours[name].AsFloat64()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bt, err := ortpeer.Output(ortDir, name)
		if err != nil {
			t.Fatalf("%s from ONNX Runtime: %v", name, err)
		}
		b, err := bt.AsFloat64()
		if err != nil || len(a) != len(b) {
			t.Fatalf("%s: ONNX Runtime gives %v (%v)", name, bt, err)
		}
		in := 0
		for i := range a {
			if d := a[i] - b[i]; d >= -1 && d <= 1 {
				in++
			}
		}
		within += in
		total += len(a)
		if os.Getenv("ONNXQ_PEER_DEBUG") != "" && in < len(a) {
			t.Logf("%s: %d of %d within one step", name, in, len(a))
		}
		if share := float64(in) / float64(len(a)); share < worstShare {
			worstShare, worst = share, fmt.Sprintf("%s %.4f%%", name, 100*share)
		}
	}
	return within, total, worst
}

func TestINT8AgreesWithORT(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes every shared model: not in -short mode")
	}
	models, script := ortpeer.Setup(t, shared)
	var table strings.Builder
	fmt.Fprintf(&table, "\nonnxq integer execution vs ONNX Runtime: share of 8-bit elements within one step, of the quantized outputs (the integer tensors nearest the graph outputs) and of every integer tensor\n\n| model | outputs: QDQ in ORT | outputs: qop in ORT | tensors | all: QDQ in ORT | all: qop in ORT | tensors | least agreeing tensor (QDQ) |\n|---|---|---|---|---|---|---|---|\n")
	eachModelWithSamples(t, models, func(name, data string, m *graph.Model, src *calibdata.Source) {
		calibIdx, evalIdx := calibdata.Split(src.Names(), 4, 2)
		calibSrc, _ := src.Subset(calibIdx)
		cfg := quant.DefaultConfig()
		cfg.BiasCorrection = false // biases' values do not matter here
		if _, err := quant.Run(m, calibSrc, cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		final := finalIntegers(m)
		names := probe(m)
		if len(names) == 0 {
			return
		}
		var finalNames []string
		for _, n := range names {
			if final[n] {
				finalNames = append(finalNames, n)
			}
		}
		dir := t.TempDir()
		qdqPath := filepath.Join(dir, "qdq.onnx")
		if err := graph.Save(m, qdqPath, graph.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		qop, err := quant.Clone(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := passes.Run(qop, &passes.Context{}, []passes.Pass{lower.Pass()}, passes.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		qopPath := filepath.Join(dir, "qop.onnx")
		if err := graph.Save(qop, qopPath, graph.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		sess := executionSession(t, m)
		var inputs []string
		for _, in := range sess.Inputs() {
			inputs = append(inputs, in.Name)
		}
		var inQDQ, inQOp, total, finQDQ, finQOp, finTotal int
		worst := ""
		for _, i := range evalIdx {
			sampleDir := filepath.Join(data, src.Names()[i])
			sample, err := src.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := sess.Run(sample)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, form := range []struct {
				model string
				count *int
			}{{qdqPath, &inQDQ}, {qopPath, &inQOp}} {
				out := filepath.Join(dir, "ort", filepath.Base(form.model), src.Names()[i])
				if err := ortpeer.Run(script, form.model, sampleDir, inputs, out); err != nil {
					t.Fatalf("%s: ONNX Runtime: %v", name, err)
				}
				within, n, w := agreement(t, ours, out, names)
				fin, fn, _ := agreement(t, ours, out, finalNames)
				*form.count += within
				if form.count == &inQDQ {
					total += n
					finQDQ += fin
					finTotal += fn
					if worst == "" || worst == "-" {
						worst = w
					}
				} else {
					finQOp += fin
				}
			}
		}
		qdqShare, qopShare := float64(inQDQ)/float64(total), float64(inQOp)/float64(total)
		finQDQShare, finQOpShare := 1.0, 1.0
		if finTotal > 0 {
			finQDQShare, finQOpShare = float64(finQDQ)/float64(finTotal), float64(finQOp)/float64(finTotal)
		}
		fmt.Fprintf(&table, "| %s | %.3f%% | %.3f%% | %d | %.3f%% | %.3f%% | %d | %s |\n", name, 100*finQDQShare, 100*finQOpShare, len(finalNames),
			100*qdqShare, 100*qopShare, len(names), worst)
		want := int8Agreement
		if below, ok := int8AgreementBelow[name]; ok {
			want = below
		}
		if finQDQShare < want || finQOpShare < want {
			t.Errorf("%s: %.3f%% (QDQ) and %.3f%% (qop) of %d quantized output elements within one step of ONNX Runtime's, want %.1f%%", name, 100*finQDQShare, 100*finQOpShare, finTotal, 100*want)
		}
	})
	fmt.Println(table.String())
}

// executionSession is a session on q's execution form, as onnxq runs it:
// the standard units lowered as in the qop file, plus its own fused ones
// (hard-swish convolutions, Add/Mul), as run, bench and golden lower the
// model.
func executionSession(t *testing.T, q *graph.Model) *runtime.Session {
	t.Helper()
	exec, err := quant.Clone(q)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(exec, &passes.Context{}, []passes.Pass{lower.PassWith(lower.Execution)}, passes.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	sess, err := runtime.NewSession(exec, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}
