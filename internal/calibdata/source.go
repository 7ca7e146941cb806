// source.go holds Source, Open (recognising the layout of a calibration
// path), and the checks every sample passes.

package calibdata

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

// Input is one input a sample must provide.
type Input struct {
	Name  string
	DType graph.DType
	Shape graph.Shape
	// SequenceLength, when positive, is the value Synthetic gives every
	// element of this integer input: it is the sequence_lens of an LSTM,
	// GRU or RNN, and zeros there would leave their outputs all zero.
	SequenceLength int64
	// Kind is the kind of type the model declares for the input
	// (graph.Value.TypeKind): samples feed only tensors, so Open and
	// Synthetic refuse an input of another kind (a sequence, a map).
	Kind string
}

// checkKind refuses an input that is not a tensor.
func (in Input) checkKind() error {
	if in.Kind != "" && in.Kind != "tensor" {
		return fmt.Errorf("input %q is a %s, not a tensor: calibration samples feed tensor inputs only", in.Name, in.Kind)
	}
	return nil
}

// Inputs returns the inputs a caller must feed to m (graph.RealInputs).
func Inputs(m *graph.Model) []Input {
	var out []Input
	for _, v := range m.Graph.RealInputs() {
		out = append(out, Input{Name: v.Name, DType: v.DType, Shape: v.Shape, SequenceLength: sequenceLength(v), Kind: v.TypeKind()})
	}
	return out
}

// sequenceLength returns the length of the sequences of the recurrent
// node that reads the integer value v as its sequence_lens (input 4):
// the sequence axis of its input (0, or 1 with layout 1), 1 when that
// axis is symbolic (Synthetic makes such dimensions 1); 0 when no such
// node reads v.
func sequenceLength(v *graph.Value) int64 {
	if v.DType != graph.Int32 && v.DType != graph.Int64 {
		return 0
	}
	for _, n := range v.Consumers {
		switch n.OpType {
		case "LSTM", "GRU", "RNN":
		default:
			continue
		}
		if n.Domain != "" && n.Domain != "ai.onnx" || n.Input(4) != v {
			continue
		}
		x := n.Input(0)
		axis := 0
		if n.AttrInt("layout", 0) == 1 {
			axis = 1
		}
		if x != nil && axis < len(x.Shape) && x.Shape[axis].Known() && x.Shape[axis].Size > 0 {
			return x.Shape[axis].Size
		}
		return 1
	}
	return 0
}

// Source is a fixed, ordered sequence of samples.
type Source struct {
	kind   string
	inputs []Input
	names  []string
	load   func(i int) (map[string]*runtime.Tensor, error)
	// skipped are the entries of the folder opened that are not samples
	// of the kind found (files beside sample folders, images of a format
	// not read, broken links)
	skipped []string
	// unmatchedIn, for samples held in folders, lists the data files of
	// sample i's folder no input reads; unmatched gathers them (Open).
	unmatchedIn func(i int) []string
	unmatched   []string
	// memo holds what Remember kept, shared with the subsets taken of
	// this source; root maps a sample to its index in the source memo
	// was made for (nil: the same).
	memo     *memo
	memoOnce sync.Once
	root     func(i int) int
}

// store returns s's memo, made on first use.
func (s *Source) store() *memo {
	s.memoOnce.Do(func() {
		if s.memo == nil {
			s.memo = &memo{}
		}
	})
	return s.memo
}

// memo is Remember's store.
type memo struct {
	mu     sync.Mutex
	values map[memoKey]any
}

type memoKey struct {
	key    any
	sample int
}

// Remember returns the value kept for sample i under key, or computes it
// with compute and keeps it (an error is returned, not kept). Subsets
// share what their parent keeps, by sample. Quantization measures many
// candidate models against one FP32 model on the same samples: the FP32
// outputs need computing once. The values must not be changed by their
// readers.
func (s *Source) Remember(i int, key any, compute func() (any, error)) (any, error) {
	m := s.store()
	if s.root != nil {
		i = s.root(i)
	}
	k := memoKey{key, i}
	m.mu.Lock()
	v, ok := m.values[k]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[memoKey]any{}
	}
	m.values[k] = v
	return v, nil
}

// Unmatched lists the data files (.npy, .pb, .npz) inside the sample
// folders that no model input reads, as FOLDER/FILE, sorted: a file named
// after a mistyped or renamed input, which would otherwise pass unseen.
func (s *Source) Unmatched() []string { return append([]string{}, s.unmatched...) }

// Skipped lists the entries of the folder Open read that it passed over:
// files beside the sample folders, .npz files or images it found (other
// image formats, a stray .npy, a link that leads nowhere), sorted. Files
// that are never samples (hidden ones, .json, .txt, .md, .csv, .onnx) are
// not listed.
func (s *Source) Skipped() []string { return append([]string{}, s.skipped...) }

// Len is the number of samples.
func (s *Source) Len() int { return len(s.names) }

// Names returns the sample names (file or folder names), in sample order.
func (s *Source) Names() []string { return append([]string{}, s.names...) }

// Inputs returns the inputs every sample provides.
func (s *Source) Inputs() []Input { return append([]Input{}, s.inputs...) }

// Kind says what the samples were read from, e.g. "sample folders".
func (s *Source) Kind() string { return s.kind }

// Sample reads sample i: one tensor per input, by input name.
func (s *Source) Sample(i int) (map[string]*runtime.Tensor, error) {
	if i < 0 || i >= len(s.names) {
		return nil, fmt.Errorf("sample %d is out of range (%d samples)", i, len(s.names))
	}
	return s.load(i)
}

// Subset returns the samples at the given indices, in that order.
func (s *Source) Subset(idx []int) (*Source, error) {
	names := make([]string, len(idx))
	for k, i := range idx {
		if i < 0 || i >= len(s.names) {
			return nil, fmt.Errorf("sample %d is out of range (%d samples)", i, len(s.names))
		}
		names[k] = s.names[i]
	}
	pick := append([]int{}, idx...)
	root := func(i int) int { return pick[i] }
	if s.root != nil {
		root = func(i int) int { return s.root(pick[i]) }
	}
	return &Source{kind: s.kind, inputs: s.inputs, names: names, load: func(i int) (map[string]*runtime.Tensor, error) {
		return s.load(pick[i])
	}, memo: s.store(), root: root}, nil
}

// Open reads the calibration data at path for a model with the given
// inputs. The layout is recognised from what path holds:
//
//   - a folder of sample folders (any subfolder names, e.g. sample_NNN),
//     each with one <input>.npy (or .pb) per input; an inputs.json in the
//     sample folder or the top folder maps input names to file names
//     (tensorio.SampleFiles);
//   - a folder of ONNX test_data_set_N folders, each with input_K.pb for
//     the K-th input (output_K.pb files are ignored);
//   - a folder of .npz files, or one .npz file: each file is one sample,
//     arrays named after the inputs (or their file-safe names, or arr_K for
//     the K-th input, or any one array for a single-input model);
//   - a folder of .png/.jpg/.jpeg images, or one image, for a model with a
//     single 4-D float input (see ImageOptions);
//   - a folder holding one file per input: one sample;
//   - one .npy file for a single-input model: an array of the input's rank
//     is split into samples of the input's batch size along axis 0 (whole,
//     when the batch size is symbolic); an array of one rank more is split
//     along its first axis.
//
// Other files (.json, .txt, .md, hidden files) are ignored. Every sample is
// read and checked once.
func Open(path string, inputs []Input, img ImageOptions) (*Source, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s: the model has no inputs for samples to feed", path)
	}
	seen := map[string]bool{}
	for _, in := range inputs {
		if seen[in.Name] {
			return nil, fmt.Errorf("input %q is listed twice", in.Name)
		}
		seen[in.Name] = true
		if err := in.checkKind(); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, plainError(err))
	}
	var s *Source
	if st.IsDir() {
		s, err = openDir(path, inputs, img)
	} else {
		s, err = openFile(path, inputs, img)
	}
	if err != nil {
		return nil, err
	}
	if s.Len() == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	for i := range s.names {
		if _, err := s.load(i); err != nil {
			return nil, err
		}
		if s.unmatchedIn != nil {
			s.unmatched = append(s.unmatched, s.unmatchedIn(i)...)
		}
	}
	return s, nil
}

// unmatchedFiles lists, as prefix/FILE, the data files of the sample
// folder dir that no input reads.
func unmatchedFiles(dir, prefix string, inputs []Input) []string {
	files, err := tensorio.SampleFiles(dir, inputNames(inputs))
	if err != nil {
		return nil
	}
	read := map[string]bool{}
	for _, p := range files {
		read[filepath.Clean(p)] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		switch strings.ToLower(filepath.Ext(name)) {
		case ".npy", ".pb", ".npz":
		default:
			continue
		}
		if ignored(name) || isDirEntry(dir, e) || read[filepath.Join(dir, name)] {
			continue
		}
		out = append(out, filepath.Join(prefix, name))
	}
	return out
}

func plainError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// ignored reports whether a file in a calibration folder is not data.
func ignored(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json", ".txt", ".md", ".csv", ".onnx":
		return true
	}
	return false
}

func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

func openFile(path string, inputs []Input, img ImageOptions) (*Source, error) {
	base := filepath.Base(path)
	switch {
	case isImage(base):
		return imageSource(filepath.Dir(path), []string{base}, inputs, img)
	case strings.EqualFold(filepath.Ext(base), ".npz"):
		return npzSource(filepath.Dir(path), []string{base}, inputs), nil
	case strings.EqualFold(filepath.Ext(base), ".npy"):
		return npySplitSource(path, inputs)
	}
	return nil, fmt.Errorf("%s: not a calibration file (.npy, .npz, .png or .jpg) or folder", path)
}

func openDir(dir string, inputs []Input, img ImageOptions) (*Source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, plainError(err))
	}
	var dirs, npzs, images, others, notes []string
	for _, e := range entries {
		name := e.Name()
		if ignored(name) {
			notes = append(notes, name)
			continue
		}
		switch {
		case isDirEntry(dir, e):
			dirs = append(dirs, name)
		case danglingLink(dir, e):
			others = append(others, name) // named in the warning, not read
		case isImage(name):
			images = append(images, name)
		case strings.EqualFold(filepath.Ext(name), ".npz"):
			npzs = append(npzs, name)
		default:
			others = append(others, name)
		}
	}
	for _, l := range [][]string{dirs, npzs, images, others} {
		sortNames(l)
	}
	var kinds []string
	for _, k := range []struct {
		what string
		n    int
	}{{"sample folders", len(dirs)}, {".npz files", len(npzs)}, {"images", len(images)}} {
		if k.n > 0 {
			kinds = append(kinds, k.what)
		}
	}
	var src *Source
	switch {
	case len(kinds) > 1:
		return nil, fmt.Errorf("%s: holds both %s and %s; keep one kind of sample per folder", dir, kinds[0], kinds[1])
	case len(dirs) > 0:
		switch classImages, skipped := imageClassFolders(dir, dirs); {
		case allTestDataSets(dirs):
			src = testDataSource(dir, dirs, inputs)
		case classImages != nil:
			if src, err = imageSource(dir, classImages, inputs, img); err != nil {
				return nil, err
			}
			others = append(others, skipped...)
		default:
			src = sampleDirSource(dir, dirs, inputs)
		}
	case len(npzs) > 0:
		src = npzSource(dir, npzs, inputs)
	case len(images) > 0:
		if src, err = imageSource(dir, images, inputs, img); err != nil {
			return nil, err
		}
	}
	if src != nil {
		src.skipped = others
		return src, nil
	}
	switch {
	case len(others) > 0:
		// One sample folder given directly: it must hold a file per input.
		files, err := tensorio.SampleFiles(dir, inputNames(inputs))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", dir, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: unrecognised layout: no sample folders, .npz files, images, or files named after the inputs (%s)", dir, strings.Join(inputNames(inputs), ", "))
		}
		return &Source{kind: "one sample folder", inputs: inputs, names: []string{filepath.Base(dir)}, load: func(int) (map[string]*runtime.Tensor, error) {
			return readSampleDir(dir, inputs)
		}, unmatchedIn: func(int) []string {
			return unmatchedFiles(dir, "", inputs)
		}}, nil
	}
	if len(notes) > 0 {
		sortNames(notes)
		return nil, fmt.Errorf("%s: no samples: it holds only %s, which are not samples", dir, firstOf(notes, 5))
	}
	return nil, fmt.Errorf("%s: empty folder: no samples", dir)
}

// quoteAll quotes each name, comma-separated.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// firstOf lists up to n names, saying how many more there are.
func firstOf(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// danglingLink tells whether entry e of dir is a symbolic link that
// leads nowhere.
func danglingLink(dir string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, e.Name()))
	return err != nil
}

func inputNames(inputs []Input) []string {
	out := make([]string, len(inputs))
	for i, in := range inputs {
		out[i] = in.Name
	}
	return out
}

// imageClassFolders returns the images of sub-folders that hold images
// and no sample data (.npy, .pb, .npz files or folders of their own): the
// layout of an image dataset kept one folder per class. Their paths are
// relative to dir, folder by folder in name order; skipped lists the
// other entries of those folders. nil when dirs are not such folders.
func imageClassFolders(dir string, dirs []string) (images, skipped []string) {
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			return nil, nil
		}
		var found []string
		for _, e := range entries {
			name := e.Name()
			switch ext := strings.ToLower(filepath.Ext(name)); {
			case ignored(name):
			case isDirEntry(filepath.Join(dir, d), e), ext == ".npy", ext == ".pb", ext == ".npz":
				return nil, nil
			case isImage(name):
				found = append(found, name)
			default:
				skipped = append(skipped, filepath.Join(d, name))
			}
		}
		sortNames(found)
		for _, f := range found {
			images = append(images, filepath.Join(d, f))
		}
	}
	if len(images) == 0 {
		return nil, nil
	}
	return images, skipped
}

func allTestDataSets(dirs []string) bool {
	for _, d := range dirs {
		if !strings.HasPrefix(d, "test_data_set_") {
			return false
		}
	}
	return true
}

// nameLess orders sample names: runs of digits compare by their value
// (img2 before img10, test_data_set_9 before test_data_set_10), the rest
// byte by byte; names equal that way fall back to a plain comparison.
func nameLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := i, j
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
			na := strings.TrimLeft(a[i:ei], "0")
			nb := strings.TrimLeft(b[j:ej], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			return a[i] < b[j]
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func sortNames(names []string) {
	sort.SliceStable(names, func(a, b int) bool { return nameLess(names[a], names[b]) })
}

func sampleDirSource(dir string, dirs []string, inputs []Input) *Source {
	return &Source{kind: "sample folders", inputs: inputs, names: dirs, load: func(i int) (map[string]*runtime.Tensor, error) {
		return readSampleDir(filepath.Join(dir, dirs[i]), inputs)
	}, unmatchedIn: func(i int) []string {
		return unmatchedFiles(filepath.Join(dir, dirs[i]), dirs[i], inputs)
	}}
}

func readSampleDir(dir string, inputs []Input) (map[string]*runtime.Tensor, error) {
	files, err := tensorio.SampleFiles(dir, inputNames(inputs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, plainError(err))
	}
	out := map[string]*runtime.Tensor{}
	from := map[string]string{}
	for _, in := range inputs {
		p, ok := files[in.Name]
		if !ok {
			hint := ""
			if stray, j := tensorio.StrayMappings(dir, inputNames(inputs)); len(stray) > 0 {
				hint = fmt.Sprintf("; %s maps %s, which names no input", j, quoteAll(stray))
			}
			return nil, fmt.Errorf("%s: missing input %q (no %s.npy%s)", dir, in.Name, tensorio.SafeName(in.Name), hint)
		}
		t, err := tensorio.ReadTensor(p)
		if err != nil {
			return nil, err
		}
		out[in.Name], from[in.Name] = t, p
	}
	return out, check(inputs, out, from)
}

func testDataSource(dir string, dirs []string, inputs []Input) *Source {
	return &Source{kind: "ONNX test data sets", inputs: inputs, names: dirs, load: func(i int) (map[string]*runtime.Tensor, error) {
		d := filepath.Join(dir, dirs[i])
		out := map[string]*runtime.Tensor{}
		from := map[string]string{}
		read := make([]tensorio.Named, len(inputs))
		paths := make([]string, len(inputs))
		for k, in := range inputs {
			p := filepath.Join(d, "input_"+strconv.Itoa(k)+".pb")
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("%s: missing input %q (no input_%d.pb)", d, in.Name, k)
			}
			nt, err := tensorio.ReadPb(p)
			if err != nil {
				return nil, err
			}
			read[k], paths[k] = nt, p
		}
		order, err := pbOrder(inputs, read, paths)
		if err != nil {
			return nil, err
		}
		for k, in := range order {
			out[in.Name], from[in.Name] = read[k].Tensor, paths[k]
		}
		if p := filepath.Join(d, "input_"+strconv.Itoa(len(inputs))+".pb"); exists(p) {
			return nil, fmt.Errorf("%s: the model has %d inputs, but there is an input_%d.pb", d, len(inputs), len(inputs))
		}
		return out, check(inputs, out, from)
	}}
}

// pbOrder returns the input each file of a test data set feeds: the one
// its stored tensor name names when every file names a different input
// (ONNX Runtime's test runner and onnxq run match by name), else the
// input at its position, as the ONNX backend tests lay them out. A stored
// name that contradicts the position it would be fed at is an error.
func pbOrder(inputs []Input, read []tensorio.Named, paths []string) ([]Input, error) {
	byName := map[string]Input{}
	for _, in := range inputs {
		byName[in.Name] = in
	}
	named := make([]Input, len(read))
	seen := map[string]bool{}
	allNamed := true
	for k, nt := range read {
		in, ok := byName[nt.Name]
		if !ok || seen[nt.Name] {
			allNamed = false
			break
		}
		named[k], seen[nt.Name] = in, true
	}
	if allNamed {
		return named, nil
	}
	for k, nt := range read {
		if nt.Name != "" && nt.Name != inputs[k].Name {
			return nil, fmt.Errorf("%s holds a tensor named %q, but input %d is %q (name every file after a different input, or none)", paths[k], nt.Name, k, inputs[k].Name)
		}
	}
	return inputs, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func npzSource(dir string, files []string, inputs []Input) *Source {
	return &Source{kind: ".npz files", inputs: inputs, names: files, load: func(i int) (map[string]*runtime.Tensor, error) {
		return readNpzSample(filepath.Join(dir, files[i]), inputs)
	}}
}

// matchArray finds the input an array of a .npz stands for: the same name,
// the input whose file-safe name it is, or arr_K (numpy.savez's name for
// its K-th unnamed argument) for the K-th input.
func matchArray(array string, inputs []Input) int {
	for k, in := range inputs {
		if in.Name == array {
			return k
		}
	}
	for k, in := range inputs {
		if tensorio.SafeName(in.Name) == array {
			return k
		}
	}
	if k, ok := tensorio.SavezIndex(array); ok && k < len(inputs) {
		return k
	}
	return -1
}

func readNpzSample(path string, inputs []Input) (map[string]*runtime.Tensor, error) {
	// each array's header is checked before its data is inflated: a small
	// archive can declare gigabytes
	arrays, err := tensorio.ReadNpzChecked(path, func(name string, dt graph.DType, shape []int) error {
		if k := matchArray(name, inputs); k >= 0 {
			return checkDeclared(inputs[k], dt, shape, "", nil, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]*runtime.Tensor{}
	from := map[string]string{}
	for _, a := range arrays {
		k := matchArray(a.Name, inputs)
		if k < 0 && len(arrays) == 1 && len(inputs) == 1 {
			k = 0
		}
		if k < 0 {
			return nil, fmt.Errorf("%s: array %q matches no input of the model (inputs: %s)", path, a.Name, strings.Join(inputNames(inputs), ", "))
		}
		name := inputs[k].Name
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("%s: arrays %q and %q both give input %q", path, strings.TrimPrefix(prev, path+":"), a.Name, name)
		}
		out[name], from[name] = a.Tensor, path+":"+a.Name
	}
	for _, in := range inputs {
		if _, ok := out[in.Name]; !ok {
			return nil, fmt.Errorf("%s: missing input %q (no array named %q)", path, in.Name, in.Name)
		}
	}
	return out, check(inputs, out, from)
}

// npySplitSource splits one array into samples for a single-input model.
func npySplitSource(path string, inputs []Input) (*Source, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%s: a single .npy can only feed a model with one input; this one has %d (%s)", path, len(inputs), strings.Join(inputNames(inputs), ", "))
	}
	in := inputs[0]
	t, err := tensorio.ReadNpy(path)
	if err != nil {
		return nil, err
	}
	if in.Shape == nil {
		return nil, fmt.Errorf("%s: input %q has no declared rank, so the array cannot be split into samples", path, in.Name)
	}
	var step int
	var squeeze bool
	switch {
	case len(t.Shape) == len(in.Shape)+1:
		step, squeeze = 1, true
	case len(t.Shape) == len(in.Shape) && len(in.Shape) > 0 && in.Shape[0].Known() && in.Shape[0].Size > 0:
		step = int(in.Shape[0].Size)
	case len(t.Shape) == len(in.Shape):
		step = 0 // symbolic batch: the whole array is one sample
	default:
		return nil, fmt.Errorf("%s: input %q is %s, the file holds %s (rank %d, want %d or %d)", path, in.Name, graph.TypeString(in.DType, in.Shape), t, len(t.Shape), len(in.Shape), len(in.Shape)+1)
	}
	n := 1
	if step > 0 {
		if t.Len() == 0 && t.DType.IsFloat() {
			return nil, noValues(path, in.Name, t)
		}
		if t.Shape[0]%step != 0 || t.Shape[0] == 0 {
			return nil, fmt.Errorf("%s: input %q is %s, the file's first axis (%d) is not a multiple of its batch size %d", path, in.Name, graph.TypeString(in.DType, in.Shape), t.Shape[0], step)
		}
		n = t.Shape[0] / step
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s[%d]", filepath.Base(path), i)
	}
	return &Source{kind: "one .npy file", inputs: inputs, names: names, load: func(i int) (map[string]*runtime.Tensor, error) {
		part := t
		if step > 0 {
			part = sliceAxis0(t, i*step, (i+1)*step, squeeze)
		}
		out := map[string]*runtime.Tensor{in.Name: part}
		return out, check(inputs, out, map[string]string{in.Name: fmt.Sprintf("%s[%d]", path, i)})
	}}, nil
}

// sliceAxis0 returns rows [a, b) of t's first axis, dropping that axis
// when squeeze is set (b == a+1). The data is copied so samples never
// alias each other.
func sliceAxis0(t *runtime.Tensor, a, b int, squeeze bool) *runtime.Tensor {
	row := 1
	for _, d := range t.Shape[1:] {
		row *= d
	}
	shape := append([]int{b - a}, t.Shape[1:]...)
	if squeeze {
		shape = shape[1:]
	}
	out := runtime.New(t.DType, shape...)
	reflect.Copy(reflect.ValueOf(out.Data), reflect.ValueOf(t.Data).Slice(a*row, b*row))
	return out
}

// check verifies a sample against the inputs: dtype, rank, known sizes,
// and symbolic sizes shared by name. from names the file of each input.
func check(inputs []Input, sample map[string]*runtime.Tensor, from map[string]string) error {
	sym := map[string]int{}
	symFrom := map[string]string{}
	for _, in := range inputs {
		t := sample[in.Name]
		if err := checkDeclared(in, t.DType, t.Shape, from[in.Name], sym, symFrom); err != nil {
			return fmt.Errorf("%s: %v", from[in.Name], err)
		}
		// An empty integer or bool array is a value (reduction axes of
		// none, no lengths); an empty float one gives calibration nothing
		// and is more likely a file saved wrong.
		if t.Len() == 0 && t.DType.IsFloat() {
			return noValues(from[in.Name], in.Name, t)
		}
	}
	return nil
}

// noValues is the error for an empty float array given for input name in
// where.
func noValues(where, name string, t *runtime.Tensor) error {
	return fmt.Errorf("%s: input %q: the array %s holds no values (a dimension of 0)", where, name, graph.TypeString(t.DType, graph.Fixed(ints64(t.Shape)...)))
}

// checkDeclared checks one input's element type and shape as a file
// declares them; the caller says which file. where is what a named
// dimension's size is recorded as coming from: sym and symFrom carry those
// sizes across inputs (nil: not checked).
func checkDeclared(in Input, dt graph.DType, shape []int, where string, sym map[string]int, symFrom map[string]string) error {
	want := graph.TypeString(in.DType, in.Shape)
	held := graph.TypeString(dt, graph.Fixed(ints64(shape)...))
	if in.DType != graph.Undefined && dt != in.DType {
		hint := ""
		if in.DType == graph.Float32 && dt == graph.Float64 {
			hint = " (save the array as float32)"
		}
		return fmt.Errorf("wrong dtype: input %q is %s, given %s%s", in.Name, want, held, hint)
	}
	if in.Shape == nil {
		return nil
	}
	if len(shape) != len(in.Shape) {
		return fmt.Errorf("wrong shape: input %q is %s (rank %d), given %s (rank %d)", in.Name, want, len(in.Shape), held, len(shape))
	}
	for i, d := range in.Shape {
		switch {
		case d.Known():
			if int64(shape[i]) != d.Size {
				return fmt.Errorf("wrong shape: input %q is %s, given %s (dimension %d differs)", in.Name, want, held, i)
			}
		case d.Param != "" && !graph.UnknownDimParam(d.Param) && sym != nil:
			if n, ok := sym[d.Param]; ok && n != shape[i] {
				return fmt.Errorf("wrong shape: dimension %q is %d here but %d in %s", d.Param, shape[i], n, symFrom[d.Param])
			}
			sym[d.Param], symFrom[d.Param] = shape[i], where
		}
	}
	return nil
}

func ints64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// isDirEntry reports whether e is a folder, following a symbolic link so
// that a calibration set assembled from links to sample folders reads as
// the folders themselves.
func isDirEntry(dir string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink == 0 {
		return e.IsDir()
	}
	st, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && st.IsDir()
}

// Memory returns the samples held in memory, one map of input name to
// tensor each, checked against inputs as a file's samples are (a missing
// input, or one of another type or shape, is an error when read).
func Memory(inputs []Input, samples []map[string]*runtime.Tensor) *Source {
	names := make([]string, len(samples))
	for i := range names {
		names[i] = fmt.Sprintf("sample_%03d", i)
	}
	inputs = append([]Input{}, inputs...)
	return &Source{kind: "samples in memory", inputs: inputs, names: names, load: func(i int) (map[string]*runtime.Tensor, error) {
		out := map[string]*runtime.Tensor{}
		from := map[string]string{}
		for _, in := range inputs {
			t, ok := samples[i][in.Name]
			if !ok || t == nil {
				return nil, fmt.Errorf("%s: missing input %q", names[i], in.Name)
			}
			out[in.Name], from[in.Name] = t, names[i]
		}
		return out, check(inputs, out, from)
	}}
}
