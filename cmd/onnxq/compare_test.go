// compare_test.go checks the compare command on a small generated model
// and its quantized form: the printout, the JSON file and bad command
// lines.
package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/compare"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // x: float32[1,2,8,8]
	data := writeSamples(t, dir, "data", 3, "x", []int{1, 2, 8, 8}, func(s, i int) float32 { return float32((i*7+s)%11)/5 - 1 })
	q := filepath.Join(dir, "q.onnx")
	if r := onnxq(t, dir, model, "-o", q, "--calib", data, "--per-channel=false", "--method", "minmax"); r.code != 0 {
		t.Fatalf("quantize: %s", r.stderr)
	}
	// --report and --html write the HTML page, the same bytes for the
	// same comparison.
	page := filepath.Join(dir, "q.html")
	if r := onnxq(t, dir, model, "-o", q, "--calib", data, "--per-channel=false", "--method", "minmax", "--report", page); r.code != 0 || !strings.Contains(r.stdout, "report     "+page) {
		t.Fatalf("quantize --report: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	// Image flags on .npy samples are said to do nothing.
	if r := onnxq(t, dir, "compare", model, q, "--data", data, "--mean", "0.5"); r.code != 0 || !strings.Contains(r.stderr, "--mean applies to image samples only; --data") {
		t.Errorf("compare --mean on .npy samples: exit %d, stderr %q", r.code, r.stderr)
	}
	// The quantized model as FLOAT: the arguments swapped.
	if r := onnxq(t, dir, "compare", q, model, "--data", data); r.code != 1 || !strings.Contains(r.stderr, "arguments are swapped") {
		t.Errorf("compare QUANT FLOAT: exit %d, stderr %q", r.code, r.stderr)
	}
	html1 := filepath.Join(dir, "a.html")
	html2 := filepath.Join(dir, "b.html")
	for _, h := range []string{html1, html2} {
		if r := onnxq(t, dir, "compare", model, q, "--data", data, "--html", h); r.code != 0 {
			t.Fatalf("compare --html: exit %d: %s", r.code, r.stderr)
		}
	}
	for _, h := range []string{page, html1} {
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), `<svg class="chart"`); n < 4 || !strings.Contains(string(b), `id="histograms"`) {
			t.Errorf("%s: %d charts, or no histogram section", h, n)
		}
	}
	if a, b := must(os.ReadFile(html1)), must(os.ReadFile(html2)); string(a) != string(b) {
		t.Error("two compare --html runs wrote different pages")
	}
	out := filepath.Join(dir, "report.json")
	r := onnxq(t, dir, "compare", model, q, "--data", data, "--json", out, "--top", "1", "--threads", "1")
	if r.code != 0 {
		t.Fatalf("compare: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"3 samples;", "output  ", "activations (", "layers (", "to try: onnxq FLOAT.onnx -o OUT.onnx ... --exclude-node "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("printout lacks %q:\n%s", want, r.stdout)
		}
	}
	var rep struct {
		SchemaVersion int `json:"schema_version"`
		Samples       int `json:"samples"`
		Layers        []struct {
			Node string `json:"node"`
		} `json:"layers"`
		ExcludeNode []string `json:"exclude_node"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != compare.SchemaVersion || rep.Samples != 3 || len(rep.Layers) < 2 || len(rep.ExcludeNode) == 0 {
		t.Errorf("report: %s", raw)
	}
	// --top bounds the printed rows only: one layer row.
	if n := strings.Count(r.stdout, "\n"+rep.Layers[1].Node+" "); n != 0 {
		t.Errorf("--top 1 printed the second layer %s:\n%s", rep.Layers[1].Node, r.stdout)
	}
	// The same report twice: the JSON does not change.
	out2 := filepath.Join(dir, "report2.json")
	onnxq(t, dir, "compare", model, q, "--data", data, "--json", out2)
	if raw2, _ := os.ReadFile(out2); string(raw2) != string(raw) {
		t.Error("the JSON report differs between two runs")
	}

	for _, args := range [][]string{
		{"compare", model},
		{"compare", model, q},
		{"compare", model, q, "--data", data, "--top", "-1"},
		{"compare", model, filepath.Join(dir, "missing.onnx"), "--data", data},
		{"compare", model, q, "--data", filepath.Join(dir, "nowhere")},
		{"compare", model, q, "--data", data, "--output", "nope"},
	} {
		r := onnxq(t, dir, args...)
		if r.code == 0 {
			t.Errorf("onnxq %q succeeded", args)
		}
		if r.code == 1 {
			oneErrorLine(t, r, args)
		}
	}
}

// TestCompareQOperatorForm: compare names the QOperator-form layers it
// cannot attribute and says what to compare instead; quantize --format
// qop --report attributes the layers on the QDQ form it lowered, as many
// as a QDQ file gives.
func TestCompareQOperatorForm(t *testing.T) {
	dir := t.TempDir()
	model := testModel(t, dir) // x: float32[1,2,8,8]
	data := writeSamples(t, dir, "data", 3, "x", []int{1, 2, 8, 8}, func(s, i int) float32 { return float32((i*7+s)%11)/5 - 1 })
	ranked := func(stdout string) string {
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, "report") {
				return line
			}
		}
		return ""
	}
	qdq, qop := filepath.Join(dir, "qdq.onnx"), filepath.Join(dir, "qop.onnx")
	r1 := onnxq(t, dir, model, "-o", qdq, "--calib", data, "--complete-units", "on", "--report", filepath.Join(dir, "qdq.html"))
	r2 := onnxq(t, dir, model, "-o", qop, "--calib", data, "--complete-units", "on", "--format", "qop", "--report", filepath.Join(dir, "qop.html"))
	if r1.code != 0 || r2.code != 0 {
		t.Fatalf("quantize: %s %s", r1.stderr, r2.stderr)
	}
	l1, l2 := ranked(r1.stdout), ranked(r2.stdout)
	n1 := strings.Fields(l1[strings.Index(l1, "dB;")+3:])[0]
	if !strings.Contains(l2, "dB; "+n1+" layers ranked, on the QDQ form it was lowered from)") || n1 == "0" {
		t.Errorf("qop report line %q, want the %s layers of the QDQ one (%q)", l2, n1, l1)
	}
	r := onnxq(t, dir, "compare", model, qop, "--data", data)
	if r.code != 0 {
		t.Fatalf("compare: %s", r.stderr)
	}
	if !strings.Contains(r.stdout, "layers are in QOperator form, QLinearConv and the like, and are not attributed: compare the QDQ model") {
		t.Errorf("compare of a qop file does not say why its layers are not attributed:\n%s", r.stdout)
	}
}
