//go:build unix

package graph

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// tempFIFO makes a named pipe called name in a test folder, skipping the
// test where the system makes none.
func tempFIFO(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return path
}

// A FIFO takes the bytes directly and stays a FIFO, for Save too.
func TestSaveIntoFIFO(t *testing.T) {
	fifo := tempFIFO(t, "model.onnx")
	b := NewBuilder(13)
	b.Output(b.Op("Relu", b.Input("x", Float32, 2)))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	want, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		data, _ := io.ReadAll(f)
		f.Close()
		got <- data
	}()
	if err := Save(m, fifo, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if data := <-got; string(data) != string(want) {
		t.Errorf("read %d bytes from the FIFO, want the model's %d", len(data), len(want))
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced (%v)", err)
	}
}
