package graph

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A write to a symbolic link lands in the file it names and leaves the
// link a link, also when that file does not exist yet; a folder is an
// error.
func TestWriteAtomicThroughLink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.json"), filepath.Join(dir, "link.json")
	if err := os.Symlink("target.json", link); err != nil {
		t.Skip(err)
	}
	for _, existing := range []bool{false, true} {
		if existing {
			os.WriteFile(target, []byte("old"), 0o644)
		}
		if err := WriteAtomic(link, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
			t.Fatal(err)
		}
		st, err := os.Lstat(link)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("existing target %v: the link was replaced", existing)
		}
		if data, err := os.ReadFile(target); err != nil || string(data) != "new" {
			t.Errorf("existing target %v: target holds %q (%v), want the new bytes", existing, data, err)
		}
		os.Remove(target)
	}
	if err := WriteAtomic(dir, func(io.Writer) error { return nil }); err == nil {
		t.Error("writing onto a folder succeeded")
	}
}

// RemoveTemporaries removes what is tracked and nothing once untracked.
func TestRemoveTemporaries(t *testing.T) {
	dir := t.TempDir()
	kept, dropped := filepath.Join(dir, "kept"), filepath.Join(dir, "dropped")
	for _, p := range []string{kept, dropped} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	TrackTemporary(kept)()
	TrackTemporary(dropped)
	RemoveTemporaries()
	if _, err := os.Stat(dropped); !os.IsNotExist(err) {
		t.Error("a tracked folder was left")
	}
	if _, err := os.Stat(kept); err != nil {
		t.Error("an untracked folder was removed")
	}
}
