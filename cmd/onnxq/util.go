package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// sizeUnits are the suffixes parseSize accepts, matched without regard to
// case. SI suffixes are powers of 1000, IEC ones and the bare letters
// powers of 1024 (as dd and ls read them).
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// sizeHelp documents the forms parseSize accepts, for flag usage text.
const sizeHelp = "a byte count: 1024, 64KiB, 1MiB (x1024), 100kB, 1MB (x1000); K, M, G mean KiB, MiB, GiB"

// parseSize reads a byte count such as "1024", "64KiB" or "1MB": a
// non-negative whole number with an optional unit suffix.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || t == "" || t[0] == '+' {
		return 0, fmt.Errorf("%q is not a size (%s)", s, sizeHelp)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// sizeValue is a pflag.Value holding a byte count given in human form.
type sizeValue int64

func (v *sizeValue) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *sizeValue) Type() string   { return "size" }

func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}

// formatBytes renders a byte count exactly, with a rounded IEC size for
// large counts: "23,976 B (23.4 KiB)".
func formatBytes(n int64) string {
	if n < 1024 {
		return groupDigits(n) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%s B (%.1f %s)", groupDigits(n), f, units[i])
}

// formatCount renders a large count with an SI prefix: 1.23 G.
func formatCount(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10)
	}
	units := []string{"k", "M", "G", "T", "P", "E"}
	f := float64(n) / 1000
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.2f %s", f, units[i])
}

// groupDigits writes n with thousands separators: 1,234,567.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// samePath reports whether two paths name the same file: the same path
// once made absolute with symbolic links resolved, or (for existing
// files) the same file by os.SameFile, which also catches hard links.
func samePath(a, b string) (bool, error) {
	ra, err := resolvePath(a)
	if err != nil {
		return false, err
	}
	rb, err := resolvePath(b)
	if err != nil {
		return false, err
	}
	if ra == rb {
		return true, nil
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb), nil
}

// resolvePath makes p absolute and resolves symbolic links in it; the last
// element may not exist yet (an output file).
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	dir, base := filepath.Split(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(real, base), nil
	}
	return abs, nil
}

// plainError drops the operation and path an *fs.PathError carries, for
// messages that already name the file.
func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writingError is the error of writing path: err as it is when it already
// says so ("writing PATH: ..." from graph's writers), else with that
// prefix and without a path error's own operation and path.
func writingError(path string, err error) error {
	if strings.HasPrefix(err.Error(), "writing "+path+": ") {
		return err
	}
	return fmt.Errorf("writing %s: %v", path, plainError(err))
}

// oneLine folds a message onto one line, so each error is one line of
// stderr whatever produced it.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}

// flagUsages lists the flags of fs, one per entry, with the description
// wrapped beside them. pflag's own listing spells boolean flags as
// --help[=true|false], which reads poorly in a command's help.
func flagUsages(fs *pflag.FlagSet) string {
	type entry struct{ left, usage string }
	var entries []entry
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := pflag.UnquoteUsage(f)
		if name != "" {
			left += " " + name
		}
		switch f.DefValue {
		case "", "0", "false", "[]":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		entries = append(entries, entry{left, usage})
		width = max(width, len(left))
	})
	const cols = 80
	var b strings.Builder
	for _, e := range entries {
		indent := width + 3
		b.WriteString(e.left)
		b.WriteString(strings.Repeat(" ", indent-len(e.left)))
		col := indent
		for i, word := range strings.Fields(e.usage) {
			if i > 0 && col+1+len(word) > cols {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				col = indent
			} else if i > 0 {
				b.WriteByte(' ')
				col++
			}
			b.WriteString(word)
			col += len(word)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// requantizeHelp documents --requantize for the commands that run
// integer ops.
const requantizeHelp = `--requantize fixed turns the int32 sums of QLinearConv and QLinearMatMul
into 8-bit outputs with an int32 multiplier and a shift per scale, as
integer-only targets do, instead of the float32 product ONNX Runtime
computes (--requantize float, the default). Outputs may differ by one
step; a golden folder must be verified with the requantizer that recorded
it.`

// declareRequantizeFlag adds --requantize to fs, parsed into r when the
// command runs (see parseRequantize).
func declareRequantizeFlag(fs *pflag.FlagSet, name *string) {
	fs.StringVar(name, "requantize", "float", "requantize integer sums with `float` (as ONNX Runtime) or fixed point")
}

func parseRequantize(cmd, name string) (runtime.Requantizer, error) {
	r, err := runtime.ParseRequantizer(name)
	if err != nil {
		return 0, usageErrorf(cmd, "--requantize: %v", err)
	}
	return r, nil
}

// outputFile is a file a command is about to write, named by the flag
// that gave it ("-o", "--report", ...).
type outputFile struct{ flag, path string }

// inputFile is a file or folder a command reads, named for its error
// messages ("the input model", "--calib").
type inputFile struct{ what, path string }

// modelInputs lists the files of the model at path: the file itself and,
// with m loaded from it, the external data files its tensors were read
// from.
// Their sizes add up to what the model takes on disk (filesSize).
func modelInputs(path string, m *graph.Model) ([]inputFile, error) {
	ins := []inputFile{{"the input model", path}}
	if m == nil || !usesExternalData(m) {
		return ins, nil
	}
	locs, err := externalLocations(path)
	if err != nil {
		return nil, err
	}
	for _, loc := range locs {
		ins = append(ins, inputFile{"the external data of the input model " + path, filepath.Join(filepath.Dir(path), filepath.FromSlash(loc))})
	}
	return ins, nil
}

// filesSize adds up the sizes of files.
func filesSize(files []inputFile) int64 {
	var size int64
	for _, f := range files {
		size += fileSize(f.path)
	}
	return size
}

// refuseOverwrite returns an error when one of outs would destroy an input
// (the same file, or an existing file inside an input folder: a
// calibration sample) or another output (two flags naming one file: one
// of them would be lost).
func refuseOverwrite(ins []inputFile, outs ...outputFile) error {
	for i, o := range outs {
		if o.path == "" {
			continue
		}
		for _, in := range ins {
			if in.path == "" {
				continue
			}
			hit, err := overwrites(o.path, in.path)
			if err != nil {
				return err
			}
			if hit {
				return fmt.Errorf("%s %s: refusing to overwrite %s; choose another", o.flag, o.path, in.what)
			}
		}
		for _, other := range outs[:i] {
			if other.path == "" {
				continue
			}
			if same, err := samePath(o.path, other.path); err != nil {
				return err
			} else if same {
				return fmt.Errorf("%s and %s both name %s: one would overwrite the other", other.flag, o.flag, o.path)
			}
		}
	}
	return nil
}

// overwrites tells whether writing out would replace input in: the same
// file, or an existing file inside the folder in.
func overwrites(out, in string) (bool, error) {
	if same, err := samePath(out, in); err != nil || same {
		return same, err
	}
	st, err := os.Stat(in)
	if err != nil || !st.IsDir() {
		return false, nil
	}
	if _, err := os.Stat(out); err != nil {
		return false, nil // a new file beside the samples destroys nothing
	}
	ro, err := resolvePath(out)
	if err != nil {
		return false, err
	}
	rd, err := resolvePath(in)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(rd, ro)
	return err == nil && filepath.IsLocal(rel), nil
}

// largeModelBytes is the model size from which the garbage collector runs
// at half its default heap growth (lessGarbageFor).
const largeModelBytes = 64 << 20

// lessGarbageFor makes the garbage collector keep the heap within 1.5x of
// the live data, not 2x, when the model takes more than largeModelBytes
// (and GOGC does not say otherwise): quantizing holds a few copies of the
// weights at once, and the garbage between them doubled the peak. A 320
// MiB MLP: peak RSS 3.5 -> 2.6 GB, and 26 -> 22 s, as less memory is
// touched.
func lessGarbageFor(size int64) {
	if size > largeModelBytes && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
