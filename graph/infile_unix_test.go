//go:build unix

package graph

import (
	"strings"
	"testing"
	"time"
)

// A named pipe is refused at once as what it is, where opening it for
// reading used to wait for a writer for ever.
func TestLoadNamedPipe(t *testing.T) {
	path := tempFIFO(t, "pipe.onnx")
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a named pipe, not a model file") {
			t.Errorf("Load of an unwritten pipe: %v, want a named-pipe error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load of an unwritten pipe still waits after 10 s")
	}
}
