// names.go makes file names from tensor names, and reads one sample of
// model inputs from a folder (one .npy per input).

package tensorio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// maxMappingBytes bounds an inputs.json, a list of input names.
const maxMappingBytes = 64 << 20

// SafeName maps a tensor name to a file name stem: every character other
// than A-Z, a-z, 0-9, '.', '_' and '-' becomes '_'
// ("StatefulPartitionedCall:0" -> "StatefulPartitionedCall_0"). This is
// also the rule the ONNX Runtime helper (ort-run.js) uses for its outputs.
func SafeName(name string) string {
	if name == "" {
		return "_"
	}
	out := make([]byte, 0, len(name))
	for _, r := range name {
		if r < 128 && (r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			out = append(out, byte(r))
		} else {
			out = append(out, '_')
		}
	}
	return string(out)
}

// Namer hands out file-safe names that are unique within one folder, also
// on file systems that ignore case. The zero value is ready to use.
type Namer struct {
	used map[string]bool
}

// maxStem bounds a file name stem: file systems refuse names past 255
// bytes, and an extension and a "_N" suffix still have to fit.
const maxStem = 200

// Name returns SafeName(name), or that stem with "_2", "_3", ... appended
// when it was already handed out. A stem longer than 200 bytes is cut to
// 183 and ends with a hash of the whole name, so it stays a valid file
// name and distinct.
func (n *Namer) Name(name string) string {
	if n.used == nil {
		n.used = map[string]bool{}
	}
	base := SafeName(name)
	if len(base) > maxStem {
		h := fnv.New32a()
		h.Write([]byte(name))
		base = fmt.Sprintf("%s_%08x", base[:maxStem-17], h.Sum32())
	}
	s := base
	for i := 2; n.used[strings.ToLower(s)]; i++ {
		s = base + "_" + strconv.Itoa(i)
	}
	n.used[strings.ToLower(s)] = true
	return s
}

// SampleFiles finds the file of each input name in a sample folder (the
// layout of ../shared/data: <model>/sample_NNN/<input>.npy). An inputs.json
// in the folder or its parent maps names to file names where a name is not
// file-safe; otherwise <name>.npy, then <SafeName(name)>.npy, then the same
// with .pb is used (the name itself only when it holds no path separator,
// so that "/b" never reads b.npy, nor "../x" a file outside the folder).
// Names without a file are left out of the result.
func SampleFiles(dir string, names []string) (map[string]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	mapping, mappedBy, err := readMapping(dir)
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, name := range names {
		candidates := []string{SafeName(name) + ".npy", SafeName(name) + ".pb"}
		// A name that holds a path separator ("/b", "../x") names no file
		// of this folder: its safe name does ("_b").
		if !strings.ContainsAny(name, `/\`) {
			candidates = []string{name + ".npy", SafeName(name) + ".npy", name + ".pb", SafeName(name) + ".pb"}
		}
		f, mapped := mapping[name]
		if mapped {
			if !filepath.IsLocal(f) {
				return nil, fmt.Errorf("%s maps input %q to %q, outside the sample folder", mappedBy, name, f)
			}
			candidates = []string{f}
		}
		for _, c := range candidates {
			p := filepath.Join(dir, c)
			lst, err := os.Lstat(p)
			if err != nil {
				continue
			}
			st, err := os.Stat(p)
			switch {
			case err != nil && lst.Mode()&fs.ModeSymlink != 0:
				return nil, fmt.Errorf("%s, the file of input %q, is a link that leads nowhere", p, name)
			case err != nil:
				return nil, err
			case st.IsDir():
				return nil, fmt.Errorf("%s, the file of input %q, is a folder", p, name)
			}
			files[name] = p
			break
		}
		if _, ok := files[name]; !ok && mapped {
			return nil, fmt.Errorf("%s maps input %q to %q, which %s does not hold", mappedBy, name, f, dir)
		}
	}
	return files, nil
}

// readMapping reads the inputs.json of sample folder dir, or else of its
// parent: input names to file names, and the file's path ("" and no
// mapping when neither exists).
func readMapping(dir string) (map[string]string, string, error) {
	mapping := map[string]string{}
	for _, j := range []string{filepath.Join(dir, "inputs.json"), filepath.Join(dir, "..", "inputs.json")} {
		data, err := graph.ReadFileLimited(j, maxMappingBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		// Some editors start a UTF-8 file with a byte order mark.
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if err := json.Unmarshal(data, &mapping); err != nil {
			return nil, "", fmt.Errorf("%s: not a JSON object of input names to file names: %v", j, err)
		}
		return mapping, j, nil
	}
	return mapping, "", nil
}

// StrayMappings returns the names the inputs.json that SampleFiles reads
// for dir maps which are not among names, sorted, and that file's path:
// a mistyped name, which leaves its input without a file.
func StrayMappings(dir string, names []string) ([]string, string) {
	mapping, path, err := readMapping(dir)
	if err != nil {
		return nil, ""
	}
	var stray []string
	for k := range mapping {
		if !slices.Contains(names, k) {
			stray = append(stray, k)
		}
	}
	slices.Sort(stray)
	return stray, path
}

// ReadSample reads the inputs named in names from a sample folder (see
// SampleFiles). Names without a file are left out.
func ReadSample(dir string, names []string) (map[string]*runtime.Tensor, error) {
	files, err := SampleFiles(dir, names)
	if err != nil {
		return nil, err
	}
	out := map[string]*runtime.Tensor{}
	for name, path := range files {
		t, err := ReadTensor(path)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// ReadTensor reads a file holding exactly one tensor (.npy, .pb, or a
// .npz with one array).
func ReadTensor(path string) (*runtime.Tensor, error) {
	_, arrays, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(arrays) != 1 {
		return nil, fmt.Errorf("%s holds %d arrays, not one", path, len(arrays))
	}
	return arrays[0].Tensor, nil
}

// SavezIndex reads the position of an array that numpy.savez stored
// without a keyword: "arr_0", "arr_1", ... give 0, 1, ...
func SavezIndex(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "arr_")
	if !ok || digits == "" || len(digits) > 6 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	k, err := strconv.Atoi(digits)
	return k, err == nil
}
