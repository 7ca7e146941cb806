package graph

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file over the limit is refused, a stream without end too once it
// passes the limit, and a protobuf file starting with a byte no field
// key has is refused before it is read.
func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFileLimited(big, 1024); err == nil || !strings.Contains(err.Error(), "2048 bytes") {
		t.Errorf("a 2048-byte file under a 1024-byte limit: %v", err)
	}
	if data, err := ReadFileLimited(big, 2048); err != nil || len(data) != 2048 {
		t.Errorf("a file at the limit: %d bytes, %v", len(data), err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := ReadFileLimited("/dev/zero", 1024); err == nil || !strings.Contains(err.Error(), "more than the 1024 bytes") {
			t.Errorf("/dev/zero: %v", err)
		}
	}
	if _, err := ReadProtoFile(big, "a model"); err == nil || !strings.Contains(err.Error(), "not a model") {
		t.Errorf("a file of zeros read as a protobuf: %v", err)
	}
	m := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(m, []byte{0x08, 0x07}, 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadProtoFile(m, "a model"); err != nil || len(data) != 2 {
		t.Errorf("a file starting with field 1: %v", err)
	}
}
