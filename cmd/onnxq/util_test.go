package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1024": 1024, "17B": 17, "64KiB": 64 << 10, "64kib": 64 << 10, "1MiB": 1 << 20,
		"2GiB": 2 << 30, "1TiB": 1 << 40, "100kB": 100_000, "1MB": 1_000_000, "3gb": 3_000_000_000,
		"1TB": 1e12, "4K": 4096, "2m": 2 << 20, "1G": 1 << 30, " 8 KiB ": 8192,
	}
	for in, want := range good {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "+5", "1.5MB", "12 parsecs", "0x10", "1e6", "9223372036854775807KiB", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := groupDigits(in); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{0: "0 B", 1023: "1,023 B", 1024: "1,024 B (1.0 KiB)", 23976: "23,976 B (23.4 KiB)", 3 << 30: "3,221,225,472 B (3.0 GiB)"} {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{12: "12", 1000: "1.00 k", 135598400: "135.60 M"} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestSamePath(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.onnx")
	if err := os.WriteFile(a, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(a, filepath.Join(dir, "sym.onnx"))
	os.Link(a, filepath.Join(dir, "hard.onnx"))
	os.Symlink(dir, filepath.Join(dir, "loop"))
	for _, c := range []struct {
		b    string
		same bool
	}{
		{a, true},
		{filepath.Join(dir, ".", "a.onnx"), true},
		{filepath.Join(dir, "sym.onnx"), true},
		{filepath.Join(dir, "hard.onnx"), true},
		{filepath.Join(dir, "loop", "a.onnx"), true},
		{filepath.Join(dir, "loop", "new.onnx"), false},
		{filepath.Join(dir, "b.onnx"), false},
	} {
		got, err := samePath(a, c.b)
		if err != nil || got != c.same {
			t.Errorf("samePath(a, %s) = %v, %v; want %v", c.b, got, err, c.same)
		}
	}
	// Neither exists yet: the same spelling after cleaning still counts.
	if got, _ := samePath(filepath.Join(dir, "n.onnx"), filepath.Join(dir, "loop", "..", "n.onnx")); !got {
		t.Error("samePath of two spellings of a new file = false")
	}
}
