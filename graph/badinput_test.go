package graph_test

import (
	"os"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/testmodels"
)

// TestBadInput loads each malformed input: the error must name the cause
// in one line, and loading must not panic.
func TestBadInput(t *testing.T) {
	cases, err := testmodels.Bad(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := graph.Load(c.Path)
			if err == nil {
				t.Fatalf("Load accepted a bad model:\n%s", graph.DumpString(m.Graph))
			}
			msg := err.Error()
			if !strings.Contains(msg, c.Want) {
				t.Errorf("error %q does not contain %q", msg, c.Want)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error is not a single line: %q", msg)
			}
			if len(msg) > 1000 {
				t.Errorf("error of %d bytes: %.200q...", len(msg), msg)
			}
			if !strings.HasPrefix(msg, c.Path) {
				t.Errorf("error %q does not name the file", msg)
			}
			t.Log(msg)
			// The same bytes from memory fail too (external data cannot be
			// read without a folder, so those fail either way).
			if data, err := os.ReadFile(c.Path); err == nil {
				if _, err := graph.Decode(data, ""); err == nil {
					t.Error("Decode accepted the bytes that Load refused")
				}
			}
		})
	}
}
