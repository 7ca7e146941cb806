package graph

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// corpora are the collections of ONNX files every one of which must load
// and save back byte for byte: the ONNX backend node tests shipped with
// this repository's shared data (ONNX 1.22), Debian's libonnx-testdata
// (ONNX 1.12), and the real models.
var corpora = []struct {
	name, glob string
	min        int // files the corpus is known to hold
}{
	{"node-tests (ONNX 1.22)", filepath.Join(sharedDir, "onnx", "node-tests", "*", "model.onnx"), 1765},
	{"libonnx-testdata (ONNX 1.12)", "/usr/share/libonnx-testdata/data/*/*/model.onnx", 1072},
	{"shared models", filepath.Join(sharedDir, "models", "*.onnx"), 14},
}

func TestCorporaRoundTripByteIdentical(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.onnx")
	for _, c := range corpora {
		t.Run(c.name, func(t *testing.T) {
			files, _ := filepath.Glob(c.glob)
			if len(files) == 0 {
				if os.Getenv("CI") != "" {
					t.Fatalf("no files match %s (CI installs them in .ci/run)", c.glob)
				}
				t.Skipf("no files match %s", c.glob)
			}
			if len(files) < c.min {
				t.Errorf("%d files match %s, want at least %d", len(files), c.glob, c.min)
			}
			same := 0
			for _, f := range files {
				want, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				m, err := Load(f)
				if err != nil {
					t.Errorf("load %s: %v", f, err)
					continue
				}
				if err := Save(m, out, SaveOptions{}); err != nil {
					t.Errorf("save %s: %v", f, err)
					continue
				}
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: saved file differs (%d bytes, want %d)", f, len(got), len(want))
					continue
				}
				same++
			}
			t.Logf("%s: %d of %d files byte-identical after load and save", c.name, same, len(files))
		})
	}
}
