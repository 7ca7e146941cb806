package graph_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/testmodels"
)

// FuzzLoad feeds arbitrary bytes to the decoder. Whatever the input, it
// must not panic; an input it accepts must encode, and the encoding must
// decode and encode again to the same bytes; dumping and shape inference
// must not panic either.
//
//	go test ./graph -run '^$' -fuzz FuzzLoad -fuzztime 10m
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../testdata/models/*.onnx")
	if len(files) == 0 {
		f.Fatal("no seed models in testdata/models (run go generate ./internal/testmodels)")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, n := range []int{len(data) - 1, len(data) / 2, len(data) / 3, 16} {
			if n > 0 && n < len(data) {
				f.Add(data[:n])
			}
		}
	}
	if cases, err := testmodels.Bad(f.TempDir()); err == nil {
		for _, c := range cases {
			if data, err := os.ReadFile(c.Path); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := graph.Decode(data, "")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not a single line: %q", err)
			}
			return
		}
		enc, err := graph.Encode(m)
		if err != nil {
			t.Fatalf("a model that decoded does not encode: %v", err)
		}
		m2, err := graph.Decode(enc, "")
		if err != nil {
			t.Fatalf("the re-encoded model does not decode: %v", err)
		}
		enc2, err := graph.Encode(m2)
		if err != nil {
			t.Fatalf("the re-encoded model does not encode again: %v", err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %d bytes, then %d", len(enc), len(enc2))
		}
		if err := graph.Dump(io.Discard, m.Graph); err != nil {
			t.Fatal(err)
		}
		readTensors(m.Graph)
		_ = graph.InferShapes(m)
		_ = graph.Dump(io.Discard, m.Graph)
		_, _ = graph.Encode(m)
	})
}

// readTensors calls the data accessors of every constant tensor.
func readTensors(g *graph.Graph) {
	g.Walk(func(sg *graph.Graph) {
		var ts []*graph.Tensor
		for _, v := range sg.Initializers {
			ts = append(ts, v.Const)
		}
		for _, n := range sg.Nodes {
			for _, a := range n.Attrs {
				if a.Tensor != nil {
					ts = append(ts, a.Tensor)
				}
				ts = append(ts, a.Tensors...)
			}
		}
		for _, t := range ts {
			_ = t.ByteSize()
			_, _ = t.Raw()
			_, _ = t.Float32s()
			_, _ = t.Int64s()
			_, _ = t.StringData()
		}
	})
}
