package passes

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

func tinyModel(t *testing.T) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(17)
	x := b.Input("x", graph.Float32, 1, 4)
	b.Output(b.Op("Relu", x))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunnerRecoversAndVerifies(t *testing.T) {
	m := tinyModel(t)
	panicky := Pass{Name: "panicky", Run: func(*graph.Model, *Context) (bool, error) { panic("boom") }}
	err := Run(m, nil, []Pass{panicky}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "pass panicky failed: boom") {
		t.Fatalf("panic not turned into an error naming the pass: %v", err)
	}
	breaker := Pass{Name: "breaker", Run: func(m *graph.Model, _ *Context) (bool, error) {
		m.Graph.Nodes[0].Inputs[0] = &graph.Value{Name: "nowhere"}
		return true, nil
	}}
	err = Run(tinyModel(t), nil, []Pass{breaker}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "pass breaker left an invalid graph") {
		t.Fatalf("broken graph not caught: %v", err)
	}
	failing := Pass{Name: "failing", Run: func(*graph.Model, *Context) (bool, error) { return false, errors.New("nope") }}
	if err := Run(tinyModel(t), nil, []Pass{failing}, RunOptions{}); err == nil || err.Error() != "pass failing: nope" {
		t.Fatalf("got %v", err)
	}
	// no model is the caller's error, not the first pass's
	if err := Run(nil, nil, []Pass{failing}, RunOptions{}); err == nil || strings.Contains(err.Error(), "failing") {
		t.Fatalf("no model: %v", err)
	}
}

func TestRunnerDumpStopTime(t *testing.T) {
	var ran []string
	mk := func(name string) Pass {
		return Pass{Name: name, Run: func(*graph.Model, *Context) (bool, error) { ran = append(ran, name); return false, nil }}
	}
	var buf bytes.Buffer
	err := Run(tinyModel(t), nil, []Pass{mk("a"), mk("b"), mk("c")}, RunOptions{DumpAfter: []string{"a"}, Dump: &buf, StopAfter: "b", TimePasses: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "a,b" {
		t.Errorf("ran %v, want a,b", ran)
	}
	out := buf.String()
	if !strings.Contains(out, "--- after a") || strings.Contains(out, "--- after b") || !strings.Contains(out, "pass b") {
		t.Errorf("dump/time output wrong:\n%s", out)
	}
}

func TestCheckOrder(t *testing.T) {
	list := []Pass{{Name: "fold"}, {Name: "quantize"}}
	if err := CheckOrder(list, [][2]string{{"fold", "quantize"}}); err != nil {
		t.Fatal(err)
	}
	if err := CheckOrder(list, [][2]string{{"quantize", "fold"}}); err == nil {
		t.Fatal("wrong order accepted")
	}
	if err := CheckOrder(append(list, Pass{Name: "fold"}), nil); err == nil {
		t.Fatal("duplicate accepted")
	}
}
