// calibdata_test.go tests every layout Open recognises, its errors,
// Synthetic and Split on small generated data.
package calibdata

import (
	"archive/zip"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	d := filepath.Join(parts...)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeNpy(t *testing.T, path string, x *runtime.Tensor) {
	t.Helper()
	if err := tensorio.WriteNpy(path, x); err != nil {
		t.Fatal(err)
	}
}

func writePb(t *testing.T, path string, x *runtime.Tensor) { writeNamedPb(t, path, "", x) }

// writeNamedPb writes x as a TensorProto named name.
func writeNamedPb(t *testing.T, path, name string, x *runtime.Tensor) {
	t.Helper()
	gt, err := runtime.ToGraph(name, x)
	if err != nil {
		t.Fatal(err)
	}
	data, err := graph.EncodeTensor(gt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// filled returns a float32 tensor whose elements are base, base+1, ...
func filled(base float32, shape ...int) *runtime.Tensor {
	x := runtime.New(graph.Float32, shape...)
	for i := range x.F32() {
		x.F32()[i] = base + float32(i)
	}
	return x
}

func sym(name string) graph.Dim { return graph.Dim{Size: -1, Param: name} }

// twoInputs: "x" float32 [1,N,4] and "a:b" float32 [1,N] sharing N.
func twoInputs() []Input {
	return []Input{
		{Name: "x", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, sym("N"), {Size: 4}}},
		{Name: "a:b", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, sym("N")}},
	}
}

func mustOpen(t *testing.T, path string, inputs []Input, img ImageOptions) *Source {
	t.Helper()
	s, err := Open(path, inputs, img)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func mustSample(t *testing.T, s *Source, i int) map[string]*runtime.Tensor {
	t.Helper()
	m, err := s.Sample(i)
	if err != nil {
		t.Fatalf("Sample(%d): %v", i, err)
	}
	return m
}

func TestSampleFolders(t *testing.T) {
	dir := t.TempDir()
	// Written out of order, with sizes of N that differ across samples.
	for _, k := range []int{2, 0, 1} {
		d := mkdir(t, dir, fmt.Sprintf("sample_%03d", k))
		writeNpy(t, filepath.Join(d, "x.npy"), filled(float32(100*k), 1, k+1, 4))
		writeNpy(t, filepath.Join(d, "ab.npy"), filled(float32(-100*k), 1, k+1))
	}
	if err := os.WriteFile(filepath.Join(dir, "inputs.json"), []byte(`{"a:b": "ab.npy"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.json"), []byte(`{"sample_000": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir, twoInputs(), ImageOptions{})
	if got := s.Names(); !slices.Equal(got, []string{"sample_000", "sample_001", "sample_002"}) {
		t.Fatalf("names %v", got)
	}
	for k := 0; k < 3; k++ {
		m := mustSample(t, s, k)
		if !reflect.DeepEqual(m["x"], filled(float32(100*k), 1, k+1, 4)) || !reflect.DeepEqual(m["a:b"], filled(float32(-100*k), 1, k+1)) {
			t.Errorf("sample %d: got %v %v", k, m["x"], m["a:b"])
		}
	}
	if _, err := s.Sample(3); err == nil {
		t.Error("Sample(3) of 3 succeeded")
	}
	// A single sample folder given directly.
	one := mustOpen(t, filepath.Join(dir, "sample_001"), twoInputs(), ImageOptions{})
	if one.Len() != 1 || !reflect.DeepEqual(mustSample(t, one, 0)["x"], filled(100, 1, 2, 4)) {
		t.Errorf("single sample folder: %v", one.Names())
	}
	// A set assembled from links to some of the sample folders.
	linked := t.TempDir()
	for _, k := range []string{"sample_002", "sample_000"} {
		if err := os.Symlink(filepath.Join(dir, k), filepath.Join(linked, k)); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	ls := mustOpen(t, linked, []Input{twoInputs()[0]}, ImageOptions{})
	if got := ls.Names(); !slices.Equal(got, []string{"sample_000", "sample_002"}) {
		t.Fatalf("linked sample folders: names %v", got)
	}
	if !reflect.DeepEqual(mustSample(t, ls, 1)["x"], filled(200, 1, 3, 4)) {
		t.Errorf("linked sample_002: got %v", mustSample(t, ls, 1)["x"])
	}
}

func TestNpz(t *testing.T) {
	dir := t.TempDir()
	for k, name := range []string{"b.npz", "a.npz", "c.npz"} {
		arrays := []tensorio.Named{
			{Name: "a_b", Tensor: filled(float32(k), 1, 3)}, // the file-safe name of "a:b"
			{Name: "x", Tensor: filled(float32(10*k), 1, 3, 4)},
		}
		if k == 2 {
			// numpy.savez(f, x, ab): positional names
			arrays = []tensorio.Named{{Name: "arr_0", Tensor: filled(20, 1, 3, 4)}, {Name: "arr_1", Tensor: filled(2, 1, 3)}}
		}
		if err := tensorio.WriteNpz(filepath.Join(dir, name), arrays, k == 1); err != nil {
			t.Fatal(err)
		}
	}
	s := mustOpen(t, dir, twoInputs(), ImageOptions{})
	if got := s.Names(); !slices.Equal(got, []string{"a.npz", "b.npz", "c.npz"}) {
		t.Fatalf("names %v", got)
	}
	for i, k := range []int{1, 0, 2} {
		m := mustSample(t, s, i)
		if !reflect.DeepEqual(m["x"], filled(float32(10*k), 1, 3, 4)) || !reflect.DeepEqual(m["a:b"], filled(float32(k), 1, 3)) {
			t.Errorf("sample %d: %v %v", i, m["x"].F32()[:2], m["a:b"].F32())
		}
	}
	// One .npz file; a single-input model takes its only array by any name.
	single := filepath.Join(t.TempDir(), "one.npz")
	if err := tensorio.WriteNpz(single, []tensorio.Named{{Name: "whatever", Tensor: filled(5, 2, 2)}}, false); err != nil {
		t.Fatal(err)
	}
	in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(2, 2)}}
	s = mustOpen(t, single, in, ImageOptions{})
	if s.Len() != 1 || !reflect.DeepEqual(mustSample(t, s, 0)["img"], filled(5, 2, 2)) {
		t.Errorf("single npz: %v", s.Names())
	}
}

func TestTestDataSets(t *testing.T) {
	dir := t.TempDir()
	for k := 0; k < 11; k++ {
		d := mkdir(t, dir, fmt.Sprintf("test_data_set_%d", k))
		writePb(t, filepath.Join(d, "input_0.pb"), filled(float32(k), 1, 2, 4))
		writePb(t, filepath.Join(d, "input_1.pb"), filled(float32(-k), 1, 2))
		writePb(t, filepath.Join(d, "output_0.pb"), filled(0, 3))
	}
	s := mustOpen(t, dir, twoInputs(), ImageOptions{})
	names := s.Names()
	if len(names) != 11 || names[2] != "test_data_set_2" || names[10] != "test_data_set_10" {
		t.Fatalf("names %v", names)
	}
	for k := 0; k < 11; k++ {
		m := mustSample(t, s, k)
		if !reflect.DeepEqual(m["x"], filled(float32(k), 1, 2, 4)) || !reflect.DeepEqual(m["a:b"], filled(float32(-k), 1, 2)) {
			t.Errorf("set %d: wrong tensors", k)
		}
	}
}

// Files whose stored names each name a different input feed those inputs,
// whatever their position; a name that contradicts the position is an
// error; unnamed files go by position.
func TestTestDataSetNames(t *testing.T) {
	dir := t.TempDir()
	d := mkdir(t, dir, "test_data_set_0")
	writeNamedPb(t, filepath.Join(d, "input_0.pb"), "a:b", filled(-1, 1, 2))
	writeNamedPb(t, filepath.Join(d, "input_1.pb"), "x", filled(1, 1, 2, 4))
	m := mustSample(t, mustOpen(t, dir, twoInputs(), ImageOptions{}), 0)
	if !reflect.DeepEqual(m["x"], filled(1, 1, 2, 4)) || !reflect.DeepEqual(m["a:b"], filled(-1, 1, 2)) {
		t.Error("files named after the inputs were fed by position")
	}
	writeNamedPb(t, filepath.Join(d, "input_1.pb"), "a:b", filled(1, 1, 2, 4))
	wantIn(t, openErr(t, dir, twoInputs(), ImageOptions{}), "input_0.pb", `named "a:b"`, `input 0 is "x"`)
}

func TestSingleNpySplit(t *testing.T) {
	dir := t.TempDir()
	in := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(1, 3)}}
	// Same rank as the input: chunks of its batch size 1.
	p := filepath.Join(dir, "batch.npy")
	writeNpy(t, p, filled(0, 4, 3))
	s := mustOpen(t, p, in, ImageOptions{})
	if s.Len() != 4 {
		t.Fatalf("%d samples, want 4", s.Len())
	}
	if got := mustSample(t, s, 2)["x"]; !reflect.DeepEqual(got, filled(6, 1, 3)) {
		t.Errorf("sample 2 = %v %v", got, got.F32())
	}
	// One rank more: split along the first axis.
	p = filepath.Join(dir, "stack.npy")
	writeNpy(t, p, filled(0, 5, 1, 3))
	s = mustOpen(t, p, in, ImageOptions{})
	if s.Len() != 5 || !reflect.DeepEqual(mustSample(t, s, 4)["x"], filled(12, 1, 3)) {
		t.Errorf("stack: %d samples", s.Len())
	}
	// Symbolic batch: the whole array is one sample.
	dyn := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Shape{sym("B"), {Size: 3}}}}
	s = mustOpen(t, filepath.Join(dir, "batch.npy"), dyn, ImageOptions{})
	if s.Len() != 1 || !reflect.DeepEqual(mustSample(t, s, 0)["x"], filled(0, 4, 3)) {
		t.Errorf("symbolic batch: %d samples", s.Len())
	}
}

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 100})
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestImages(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "b.png"), solid(7, 5, color.NRGBA{R: 255, G: 51, B: 0, A: 255}))
	writeImage(t, filepath.Join(dir, "a.jpg"), solid(16, 16, color.NRGBA{R: 128, G: 128, B: 128, A: 255}))
	in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{sym("N"), {Size: 3}, {Size: 4}, {Size: 6}}}}
	s := mustOpen(t, dir, in, ImageOptions{Mean: []float32{0.5}, Std: []float32{0.5}})
	if got := s.Names(); !slices.Equal(got, []string{"a.jpg", "b.png"}) {
		t.Fatalf("names %v", got)
	}
	x := mustSample(t, s, 1)["img"]
	if !slices.Equal(x.Shape, []int{1, 3, 4, 6}) {
		t.Fatalf("shape %v", x.Shape)
	}
	// (255/255-0.5)/0.5 = 1, (51/255-0.5)/0.5 = -0.6, (0-0.5)/0.5 = -1 on
	// every pixel of each channel plane.
	want := []float32{1, -0.6, -1}
	for i, v := range x.F32() {
		if math.Abs(float64(v-want[i/24])) > 1e-6 {
			t.Fatalf("element %d = %v, want %v", i, v, want[i/24])
		}
	}
	g := mustSample(t, s, 0)["img"].F32()
	for i, v := range g {
		if math.Abs(float64(v-(128.0/255-0.5)/0.5)) > 0.02 {
			t.Fatalf("jpeg element %d = %v", i, v)
		}
	}

	// BGR, channels last, per-channel mean and std, a single file.
	nhwc := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(1, 4, 6, 3)}}
	s = mustOpen(t, filepath.Join(dir, "b.png"), nhwc, ImageOptions{BGR: true, Mean: []float32{0, 0.1, 0.2}, Std: []float32{1, 2, 4}})
	x = mustSample(t, s, 0)["img"]
	want = []float32{0, (0.2 - 0.1) / 2, (1 - 0.2) / 4}
	for i, v := range x.F32() {
		if math.Abs(float64(v-want[i%3])) > 1e-6 {
			t.Fatalf("nhwc element %d = %v, want %v", i, v, want[i%3])
		}
	}

	// Half-precision inputs take the values rounded to their type.
	for _, dt := range []graph.DType{graph.Float16, graph.BFloat16} {
		half := []Input{{Name: "img", DType: dt, Shape: graph.Fixed(1, 3, 4, 6)}}
		s = mustOpen(t, filepath.Join(dir, "b.png"), half, ImageOptions{Mean: []float32{0.5}, Std: []float32{0.5}})
		x = mustSample(t, s, 0)["img"]
		v, err := x.AsFloat64()
		if x.DType != dt || err != nil || len(v) != 72 {
			t.Fatalf("%v input: got %v, %d values (%v)", dt, x.DType, len(v), err)
		}
		for i, got := range v {
			if want := []float64{1, -0.6, -1}[i/24]; math.Abs(got-want) > 0.01 {
				t.Fatalf("%v element %d = %v, want %v", dt, i, got, want)
			}
		}
	}

	// Grey input: BT.601 luma.
	grey := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(1, 1, 2, 2)}}
	s = mustOpen(t, filepath.Join(dir, "b.png"), grey, ImageOptions{})
	if v := mustSample(t, s, 0)["img"].F32()[0]; math.Abs(float64(v-(0.299+0.587*0.2))) > 1e-6 {
		t.Errorf("grey = %v", v)
	}
}

func TestBilinear(t *testing.T) {
	// A 2x1 image black|white resized to 4x1: half-pixel centres give
	// source positions -0.25, 0.25, 0.75, 1.25 -> 0, 0.25, 0.75, 1.
	img := image.NewGray(image.Rect(0, 0, 2, 1))
	img.SetGray(1, 0, color.Gray{Y: 255})
	x := imageTensor(img, imageSpec{h: 1, w: 4, c: 1, mean: []float32{0}, std: []float32{1}})
	if got := x.F32(); !slices.Equal(got, []float32{0, 0.25, 0.75, 1}) {
		t.Errorf("upscale = %v", got)
	}
	// Downscale 4x1 -> 2x1 samples positions 0.5 and 2.5.
	img = image.NewGray(image.Rect(0, 0, 4, 1))
	for i, v := range []uint8{0, 102, 153, 255} {
		img.SetGray(i, 0, color.Gray{Y: v})
	}
	x = imageTensor(img, imageSpec{h: 1, w: 2, c: 1, mean: []float32{0}, std: []float32{1}})
	if got := x.F32(); math.Abs(float64(got[0]-0.2)) > 1e-6 || math.Abs(float64(got[1]-0.8)) > 1e-6 {
		t.Errorf("downscale = %v", got)
	}
}

// openErr opens path and returns the error text, failing if Open succeeds.
func openErr(t *testing.T, path string, inputs []Input, img ImageOptions) string {
	t.Helper()
	_, err := Open(path, inputs, img)
	if err == nil {
		t.Fatalf("Open(%s) succeeded", path)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	return err.Error()
}

func wantIn(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not mention %q", msg, p)
		}
	}
}

func TestErrors(t *testing.T) {
	in := twoInputs()
	good := func(d string, n int) {
		writeNpy(t, filepath.Join(d, "x.npy"), filled(0, 1, n, 4))
		writeNpy(t, filepath.Join(d, "a_b.npy"), filled(0, 1, n))
	}

	dir := t.TempDir()
	good(mkdir(t, dir, "sample_000"), 2)
	d := mkdir(t, dir, "sample_001")
	writeNpy(t, filepath.Join(d, "x.npy"), filled(0, 1, 2, 4))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "sample_001", "missing input", `"a:b"`)

	dir = t.TempDir()
	d = mkdir(t, dir, "sample_000")
	good(d, 2)
	writeNpy(t, filepath.Join(d, "x.npy"), filled(0, 1, 2, 5))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), filepath.Join(d, "x.npy"), "wrong shape", "float32[1,N,4]", "float32[1,2,5]")

	dir = t.TempDir()
	d = mkdir(t, dir, "sample_000")
	good(d, 2)
	writeNpy(t, filepath.Join(d, "x.npy"), filled(0, 1, 2))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "wrong shape", "rank 3", "rank 2")

	dir = t.TempDir()
	d = mkdir(t, dir, "sample_000")
	good(d, 2)
	writeNpy(t, filepath.Join(d, "x.npy"), runtime.New(graph.Float64, 1, 2, 4))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), filepath.Join(d, "x.npy"), "wrong dtype", "float64", "float32")

	// Symbolic N must agree between the inputs of one sample.
	dir = t.TempDir()
	d = mkdir(t, dir, "sample_000")
	good(d, 2)
	writeNpy(t, filepath.Join(d, "a_b.npy"), filled(0, 1, 3))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "wrong shape", `"N"`, "3", "2")

	// A file that is not a tensor.
	dir = t.TempDir()
	d = mkdir(t, dir, "sample_000")
	good(d, 2)
	if err := os.WriteFile(filepath.Join(d, "x.npy"), []byte("\x93NUMPY junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantIn(t, openErr(t, dir, in, ImageOptions{}), filepath.Join(d, "x.npy"))

	wantIn(t, openErr(t, t.TempDir(), in, ImageOptions{}), "empty folder")
	wantIn(t, openErr(t, filepath.Join(t.TempDir(), "nope"), in, ImageOptions{}), "nope")

	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "unrecognised layout")
	wantIn(t, openErr(t, filepath.Join(dir, "data.bin"), in, ImageOptions{}), "not a calibration file")

	// Mixed kinds.
	dir = t.TempDir()
	good(mkdir(t, dir, "sample_000"), 2)
	writeImage(t, filepath.Join(dir, "a.png"), solid(2, 2, color.NRGBA{A: 255}))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "sample folders", "images")

	// Images: one that does not decode, a model they cannot feed.
	img := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(1, 3, 4, 4)}}
	dir = t.TempDir()
	writeImage(t, filepath.Join(dir, "a.png"), solid(2, 2, color.NRGBA{A: 255}))
	if err := os.WriteFile(filepath.Join(dir, "b.jpg"), []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantIn(t, openErr(t, dir, img, ImageOptions{}), "b.jpg", "does not decode")
	os.Remove(filepath.Join(dir, "b.jpg"))
	mustOpen(t, dir, img, ImageOptions{})
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "one input")
	wantIn(t, openErr(t, dir, []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(1, 4)}}, ImageOptions{}), "4-D")
	wantIn(t, openErr(t, dir, []Input{{Name: "img", DType: graph.Int64, Shape: graph.Fixed(1, 3, 4, 4)}}, ImageOptions{}), "float32")
	wantIn(t, openErr(t, dir, img, ImageOptions{Size: [2]int{5, 5}}), "5x5")
	wantIn(t, openErr(t, dir, img, ImageOptions{Mean: []float32{1, 2}}), "mean", "2 values")
	wantIn(t, openErr(t, dir, img, ImageOptions{Std: []float32{0}}), "std")
	wantIn(t, openErr(t, dir, img, ImageOptions{Layout: "chw"}), "chw")
	dyn := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: 3}, sym("H"), sym("W")}}}
	wantIn(t, openErr(t, dir, dyn, ImageOptions{}), "image size")
	if s := mustOpen(t, dir, dyn, ImageOptions{Size: [2]int{3, 5}}); !slices.Equal(mustSample(t, s, 0)["img"].Shape, []int{1, 3, 3, 5}) {
		t.Error("--image-size not applied to a symbolic input")
	}

	// .npz: an array for no input, an input without an array.
	dir = t.TempDir()
	arrays := []tensorio.Named{{Name: "x", Tensor: filled(0, 1, 2, 4)}, {Name: "a_b", Tensor: filled(0, 1, 2)}, {Name: "y", Tensor: filled(0, 1)}}
	if err := tensorio.WriteNpz(filepath.Join(dir, "s.npz"), arrays, false); err != nil {
		t.Fatal(err)
	}
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "s.npz", `"y"`, "matches no input")
	if err := tensorio.WriteNpz(filepath.Join(dir, "s.npz"), arrays[:1], false); err != nil {
		t.Fatal(err)
	}
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "s.npz", "missing input", `"a:b"`)

	// ONNX test data without input_1.pb, or with one input too many.
	dir = t.TempDir()
	d = mkdir(t, dir, "test_data_set_0")
	writePb(t, filepath.Join(d, "input_0.pb"), filled(0, 1, 2, 4))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "test_data_set_0", "missing input", "input_1.pb")
	writePb(t, filepath.Join(d, "input_1.pb"), filled(0, 1, 2))
	writePb(t, filepath.Join(d, "input_2.pb"), filled(0, 1, 2))
	wantIn(t, openErr(t, dir, in, ImageOptions{}), "input_2.pb")

	// A single .npy: several inputs, an uneven split.
	p := filepath.Join(t.TempDir(), "x.npy")
	writeNpy(t, p, filled(0, 3, 2))
	wantIn(t, openErr(t, p, in, ImageOptions{}), "one input")
	wantIn(t, openErr(t, p, []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(2, 2)}}, ImageOptions{}), "multiple of its batch size 2")
	wantIn(t, openErr(t, p, []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(1, 2, 2, 2)}}, ImageOptions{}), "rank 2")

	wantIn(t, openErr(t, p, nil, ImageOptions{}), "no inputs")
}

func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	for k := 0; k < 3; k++ {
		d := mkdir(t, dir, fmt.Sprintf("s%d", k))
		writeNpy(t, filepath.Join(d, "x.npy"), filled(float32(k), 1, 2, 4))
		writeNpy(t, filepath.Join(d, "a_b.npy"), filled(float32(k), 1, 2))
	}
	a := mustOpen(t, dir, twoInputs(), ImageOptions{})
	b := mustOpen(t, dir, twoInputs(), ImageOptions{})
	if !slices.Equal(a.Names(), b.Names()) {
		t.Fatal("names differ between opens")
	}
	for _, i := range []int{2, 0, 1, 2} {
		if !reflect.DeepEqual(mustSample(t, a, i), mustSample(t, b, i)) {
			t.Errorf("sample %d differs between reads", i)
		}
	}
	sub, err := a.Subset([]int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sub.Names(), []string{"s2", "s0"}) || !reflect.DeepEqual(mustSample(t, sub, 0), mustSample(t, a, 2)) {
		t.Errorf("subset: %v", sub.Names())
	}
	if _, err := a.Subset([]int{3}); err == nil {
		t.Error("Subset out of range succeeded")
	}
}

func TestSynthetic(t *testing.T) {
	in := []Input{
		{Name: "x", DType: graph.Float32, Shape: graph.Shape{sym("N"), {Size: 1000}}},
		{Name: "sr", DType: graph.Int64, Shape: graph.Shape{}},
	}
	s := Synthetic(in, 4, 7)
	if s.Len() != 4 {
		t.Fatalf("Len %d", s.Len())
	}
	// Random access: reading backwards gives the same as forwards.
	var fwd []map[string]*runtime.Tensor
	for i := 0; i < 4; i++ {
		fwd = append(fwd, mustSample(t, s, i))
	}
	for i := 3; i >= 0; i-- {
		if !reflect.DeepEqual(mustSample(t, s, i), fwd[i]) {
			t.Errorf("sample %d differs on a second read", i)
		}
	}
	if !reflect.DeepEqual(mustSample(t, Synthetic(in, 4, 7), 1), fwd[1]) {
		t.Error("the same seed gives different samples")
	}
	if reflect.DeepEqual(mustSample(t, Synthetic(in, 4, 8), 1)["x"], fwd[1]["x"]) || reflect.DeepEqual(fwd[0]["x"], fwd[1]["x"]) {
		t.Error("samples do not vary with the seed or the index")
	}
	x := fwd[0]["x"]
	if !slices.Equal(x.Shape, []int{1, 1000}) {
		t.Fatalf("shape %v", x.Shape)
	}
	var sum, sq float64
	for _, v := range x.F32() {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean, std := sum/1000, math.Sqrt(sq/1000-(sum/1000)*(sum/1000))
	if math.Abs(mean) > 0.15 || math.Abs(std-1) > 0.15 {
		t.Errorf("mean %v std %v, want about 0 and 1", mean, std)
	}
	if sr := fwd[0]["sr"]; len(sr.Shape) != 0 || sr.I64()[0] != 0 {
		t.Errorf("sr = %v %v", sr, sr.I64())
	}
	if _, err := Synthetic([]Input{{Name: "u", DType: graph.Float32}}, 1, 0).Sample(0); err == nil || !strings.Contains(err.Error(), `"u"`) {
		t.Errorf("no shape: %v", err)
	}
	if Synthetic(in, -1, 0).Len() != 0 {
		t.Error("negative count")
	}
	// Half-precision inputs get the same kind of values in their type.
	for _, dt := range []graph.DType{graph.Float16, graph.BFloat16} {
		h := mustSample(t, Synthetic([]Input{{Name: "h", DType: dt, Shape: graph.Fixed(1, 1000)}}, 1, 7), 0)["h"]
		v, err := h.AsFloat64()
		if h.DType != dt || err != nil {
			t.Fatalf("%v input: %v (%v)", dt, h.DType, err)
		}
		var sq float64
		for _, x := range v {
			sq += x * x
		}
		if std := math.Sqrt(sq / 1000); math.Abs(std-1) > 0.15 {
			t.Errorf("%v: std %v", dt, std)
		}
	}
}

func TestSplit(t *testing.T) {
	var names []string
	for i := 39; i >= 0; i-- { // given in reverse: Split sorts
		names = append(names, fmt.Sprintf("sample_%03d", i))
	}
	calib, eval := Split(names, 4, 8)
	var evalNames []string
	for _, i := range eval {
		evalNames = append(evalNames, names[i])
	}
	want := []string{"sample_003", "sample_007", "sample_011", "sample_015", "sample_019", "sample_023", "sample_027", "sample_031"}
	if !slices.Equal(evalNames, want) {
		t.Errorf("eval %v", evalNames)
	}
	if len(calib) != 32 || names[calib[0]] != "sample_000" || names[calib[31]] != "sample_039" {
		t.Errorf("calib %d samples", len(calib))
	}
	all := append(append([]int{}, calib...), eval...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("calib and eval do not partition the samples: %v", all)
		}
	}
	c, e := Split(names[:10], 4, 0)
	if len(e) != 2 || len(c) != 8 {
		t.Errorf("10 names: %d/%d", len(c), len(e))
	}
	c, e = Split(names[:3], 0, 8)
	if len(e) != 0 || len(c) != 3 {
		t.Errorf("every 0: %d/%d", len(c), len(e))
	}
}

func TestSplitAt(t *testing.T) {
	var names []string
	for i := 11; i >= 0; i-- {
		names = append(names, fmt.Sprintf("sample_%03d", i))
	}
	// The quarters are disjoint and cover the samples; the last is Split's.
	seen := map[int]int{}
	for at, want := range [][]string{
		{"sample_000", "sample_004", "sample_008"},
		{"sample_001", "sample_005", "sample_009"},
		{"sample_002", "sample_006", "sample_010"},
		{"sample_003", "sample_007", "sample_011"},
	} {
		calib, eval := SplitAt(names, 4, at, 8)
		var got []string
		for _, i := range eval {
			got = append(got, names[i])
			seen[i]++
		}
		if !slices.Equal(got, want) || len(calib) != 9 {
			t.Errorf("at %d: eval %v, %d calibrate", at, got, len(calib))
		}
	}
	if len(seen) != len(names) {
		t.Errorf("the quarters evaluate %d of %d samples", len(seen), len(names))
	}
	c1, e1 := Split(names, 4, 2)
	c2, e2 := SplitAt(names, 4, 3, 2)
	if !slices.Equal(c1, c2) || !slices.Equal(e1, e2) {
		t.Errorf("Split %v/%v, SplitAt(3) %v/%v", c1, e1, c2, e2)
	}
}

func TestNameOrder(t *testing.T) {
	names := []string{"img10.png", "img2.png", "img02.png", "b", "a", "ab", "sample_010", "sample_009", "img1.png", "test_data_set_10", "test_data_set_9"}
	sortNames(names)
	want := []string{"a", "ab", "b", "img1.png", "img02.png", "img2.png", "img10.png", "sample_009", "sample_010", "test_data_set_9", "test_data_set_10"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v", names)
	}
	// Split uses the same order.
	var sets []string
	for i := 11; i >= 0; i-- {
		sets = append(sets, fmt.Sprintf("test_data_set_%d", i))
	}
	_, eval := Split(sets, 4, 8)
	if len(eval) != 3 || sets[eval[0]] != "test_data_set_3" || sets[eval[2]] != "test_data_set_11" {
		t.Errorf("eval %v", eval)
	}
}

// SyntheticCaveats names the inputs the random samples fill with zeros and
// the dimensions past the first they shrink to 1; float inputs of fixed
// shape (and a batch axis) need no word.
func TestSyntheticCaveats(t *testing.T) {
	in := []Input{
		{Name: "ids", DType: graph.Int64, Shape: graph.Shape{sym("batch"), sym("seq")}},
		{Name: "mask", DType: graph.Bool, Shape: graph.Shape{sym("batch"), sym("seq")}},
		{Name: "audio", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: -1}}},
		{Name: "image", DType: graph.Float32, Shape: graph.Shape{sym("N"), {Size: 3}, {Size: 8}, {Size: 8}}},
	}
	want := []string{"all zeros in ids, mask", "size 1 for seq, audio[1]"}
	if got := SyntheticCaveats(in); !slices.Equal(got, want) {
		t.Errorf("caveats %q, want %q", got, want)
	}
	if got := SyntheticCaveats(in[3:]); len(got) != 0 {
		t.Errorf("float image input: caveats %q, want none", got)
	}
}

// WithShapes fixes the given inputs' shapes and the named sizes they set
// in the other inputs, so that Synthetic's samples fit one another; an
// input it does not name keeps its open sizes; a shape that does not fit
// is an error naming the input.
func TestWithShapes(t *testing.T) {
	in := []Input{
		{Name: "ids", DType: graph.Int64, Shape: graph.Shape{sym("batch"), sym("seq")}},
		{Name: "mask", DType: graph.Bool, Shape: graph.Shape{sym("batch"), sym("seq")}},
		{Name: "audio", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: -1}}},
		{Name: "free", DType: graph.Float32},
	}
	got, err := WithShapes(in, map[string][]int64{"ids": {2, 16}, "free": {3}})
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]int{}
	for name, tensor := range mustSample(t, Synthetic(got, 1, 1), 0) {
		shapes[name] = tensor.Shape
	}
	want := map[string][]int{"ids": {2, 16}, "mask": {2, 16}, "audio": {1, 1}, "free": {3}}
	if !reflect.DeepEqual(shapes, want) {
		t.Errorf("sample shapes %v, want %v", shapes, want)
	}
	if dims := SizeOneDims(got); !slices.Equal(dims, []string{"audio[1]"}) {
		t.Errorf("sizes left at 1: %q, want audio[1]", dims)
	}
	if in[1].Shape[1].Known() {
		t.Error("WithShapes changed the inputs it was given")
	}
	for _, c := range []struct {
		shapes map[string][]int64
		want   string
	}{
		{map[string][]int64{"ids": {2}}, `input "ids" is int64[batch,seq], not of rank 1`},
		{map[string][]int64{"audio": {2, 5}}, "does not fit [2 5]"},
		{map[string][]int64{"ids": {2, 16}, "mask": {2, 8}}, `dimension "seq" is 8 here but 16 in --shape ids`},
		{map[string][]int64{"image": {1}}, `the model has no input "image" (inputs: ids, mask, audio, free)`},
	} {
		if _, err := WithShapes(in, c.shapes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("WithShapes(%v): error %v, want one saying %q", c.shapes, err, c.want)
		}
	}
}

// Files beside the samples of the kind found are listed as skipped; files
// that are never samples are not.
func TestSkippedEntries(t *testing.T) {
	dir := t.TempDir()
	in := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(1, 2)}}
	d := mkdir(t, dir, "sample_000")
	writeNpy(t, filepath.Join(d, "x.npy"), filled(0, 1, 2))
	writeNpy(t, filepath.Join(dir, "stray.npy"), filled(0, 1, 2))
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("calibration set"), 0o644)
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "sample_001"))
	s := mustOpen(t, dir, in, ImageOptions{})
	if got := s.Skipped(); !reflect.DeepEqual(got, []string{"sample_001", "stray.npy"}) {
		t.Errorf("skipped %q, want the broken link and the stray .npy", got)
	}
	if s.Len() != 1 {
		t.Errorf("%d samples", s.Len())
	}
}

// Data files inside sample folders that no input reads are listed (a
// mistyped input name), those an inputs.json maps are not, and other
// files are not data.
func TestUnmatchedSampleFiles(t *testing.T) {
	dir := t.TempDir()
	for k := range 2 {
		d := mkdir(t, dir, fmt.Sprintf("sample_%03d", k))
		writeNpy(t, filepath.Join(d, "x.npy"), filled(1, 1, 1, 4))
		writeNpy(t, filepath.Join(d, "ab.npy"), filled(2, 1, 1))
		os.WriteFile(filepath.Join(d, "notes.txt"), []byte("-"), 0o644)
	}
	writeNpy(t, filepath.Join(dir, "sample_001", "X_old.npy"), filled(3, 1, 1, 4))
	if err := os.WriteFile(filepath.Join(dir, "inputs.json"), []byte(`{"a:b": "ab.npy"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, dir, twoInputs(), ImageOptions{})
	if got, want := s.Unmatched(), []string{filepath.Join("sample_001", "X_old.npy")}; !slices.Equal(got, want) {
		t.Errorf("unmatched %q, want %q", got, want)
	}
	one := mustOpen(t, filepath.Join(dir, "sample_001"), twoInputs(), ImageOptions{})
	if got := one.Unmatched(); !slices.Equal(got, []string{"X_old.npy"}) {
		t.Errorf("one sample folder: unmatched %q", got)
	}
	if got := mustOpen(t, filepath.Join(dir, "sample_000"), twoInputs(), ImageOptions{}).Unmatched(); len(got) != 0 {
		t.Errorf("sample_000: unmatched %q, want none", got)
	}
}

// A .npz array's header is checked before its data is read: an array
// declaring the wrong shape is refused as such even when its data is
// missing (a small archive can declare gigabytes).
func TestNpzHeaderCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	in := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(1, 2)}}
	header := "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000,), }"
	header += strings.Repeat(" ", 63-(10+len(header))%64) + "\n"
	npy := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	npy = append(npy, header...)
	f, err := os.Create(filepath.Join(dir, "s.npz"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "x.npy", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(npy)
	zw.Close()
	f.Close()
	wantIn(t, openErrSample(t, dir, in), "wrong shape", "float32[100000000]")
}

// openErrSample opens path and reads its first sample, returning the error.
func openErrSample(t *testing.T, path string, in []Input) string {
	t.Helper()
	s, err := Open(path, in, ImageOptions{})
	if err == nil {
		_, err = s.Sample(0)
	}
	if err == nil {
		t.Fatalf("%s: read without error", path)
	}
	return err.Error()
}

// An integer input an LSTM reads as its sequence_lens gets the length of
// its sequences in synthetic samples (zeros would leave the LSTM's output
// all zero), and is no caveat; other integer inputs stay zero.
func TestSyntheticSequenceLengths(t *testing.T) {
	b := graph.NewBuilder(14)
	x := b.Input("x", graph.Float32, 5, 2, 3)
	lens := b.Input("lens", graph.Int32, 2)
	ids := b.Input("ids", graph.Int64, 2)
	w := b.Const(graph.FromFloat32s("w", []int64{1, 16, 3}, make([]float32, 48)))
	r := b.Const(graph.FromFloat32s("r", []int64{1, 16, 4}, make([]float32, 64)))
	outs := b.OpN("LSTM", 1, x, w, r, b.Const(graph.FromFloat32s("bias", []int64{1, 32}, make([]float32, 32))), lens, graph.IntAttr("hidden_size", 4))
	b.Output(outs[0])
	b.Output(b.Op("Identity", ids))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	in := Inputs(m)
	sample := mustSample(t, Synthetic(in, 1, 3), 0)
	if got := sample["lens"].Data.([]int32); !slices.Equal(got, []int32{5, 5}) {
		t.Errorf("sequence lengths %v, want [5 5]", got)
	}
	if got := sample["ids"].Data.([]int64); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("ids %v, want zeros", got)
	}
	if got := SyntheticCaveats(in); !slices.Equal(got, []string{"all zeros in ids"}) {
		t.Errorf("caveats %q", got)
	}
}

// A transparent pixel keeps its stored colour (alpha is left out, as
// image readers that drop it give it); a grey image feeds a one-channel
// input its exact levels; each image is decoded once however often its
// sample is read; a folder named like an image is a folder.
func TestImageDetails(t *testing.T) {
	dir := mkdir(t, t.TempDir(), "imgs.png") // a folder with an image's name
	img := solid(4, 4, color.NRGBA{R: 200, G: 100, B: 50, A: 255})
	img.SetNRGBA(1, 1, color.NRGBA{R: 10, G: 20, B: 30, A: 0})
	writeImage(t, filepath.Join(dir, "imgs.png"), img)
	in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: 3}, {Size: 4}, {Size: 4}}}}
	s := mustOpen(t, dir, in, ImageOptions{})
	x := mustSample(t, s, 0)["img"]
	for ch, want := range []float32{10, 20, 30} {
		if got := x.F32()[ch*16+1*4+1]; math.Abs(float64(got-want/255)) > 1e-6 {
			t.Errorf("transparent pixel, channel %d: %v, want %v", ch, got*255, want)
		}
	}
	if again := mustSample(t, s, 0)["img"]; again != x {
		t.Error("the image was decoded again")
	}

	grey := image.NewGray(image.Rect(0, 0, 3, 3))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 29)
	}
	writeImage(t, filepath.Join(dir, "grey.png"), grey)
	one := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: 1}, {Size: 3}, {Size: 3}}}}
	g := mustSample(t, mustOpen(t, filepath.Join(dir, "grey.png"), one, ImageOptions{}), 0)["img"]
	for i, v := range g.F32() {
		if want := float32(uint8(i*29)) * 257 / 65535; v != want {
			t.Errorf("grey element %d = %v, want %v", i, v, want)
		}
	}
}

// A sample array with a dimension of 0 is refused when read, naming its
// file.
func TestEmptySampleArray(t *testing.T) {
	dir := t.TempDir()
	sample := mkdir(t, dir, "sample_000")
	if err := tensorio.WriteNpy(filepath.Join(sample, "x.npy"), runtime.New(graph.Float32, 0, 3)); err != nil {
		t.Fatal(err)
	}
	in := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Shape{sym("N"), {Size: 3}}}}
	if _, err := Open(dir, in, ImageOptions{}); err == nil || !strings.Contains(err.Error(), "x.npy: input \"x\": the array float32[0,3] holds no values") {
		t.Fatalf("error %v", err)
	}
	// An empty integer array is a value: a reduction's axes of none.
	if err := tensorio.WriteNpy(filepath.Join(sample, "x.npy"), runtime.New(graph.Float32, 2, 3)); err != nil {
		t.Fatal(err)
	}
	if err := tensorio.WriteNpy(filepath.Join(sample, "axes.npy"), runtime.New(graph.Int64, 0)); err != nil {
		t.Fatal(err)
	}
	in = append(in, Input{Name: "axes", DType: graph.Int64, Shape: graph.Shape{sym("A")}})
	if got := mustSample(t, mustOpen(t, dir, in, ImageOptions{}), 0)["axes"]; got == nil || got.Len() != 0 {
		t.Errorf("empty axes read as %v", got)
	}
}

// A link that leads nowhere is passed over and named, whatever its
// name says it holds.
func TestDanglingImageLink(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "a.png"), solid(4, 4, color.NRGBA{R: 9, A: 255}))
	if err := os.Symlink(filepath.Join(dir, "nowhere.png"), filepath.Join(dir, "gone.png")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: 3}, {Size: 4}, {Size: 4}}}}
	s := mustOpen(t, dir, in, ImageOptions{})
	if s.Len() != 1 || !slices.Contains(s.Skipped(), "gone.png") {
		t.Errorf("%d samples, skipped %v", s.Len(), s.Skipped())
	}
}

// Dimensions named "?" (paddle2onnx's name for unknown) do not tie each
// other to one size; other names do.
func TestUnknownDimNames(t *testing.T) {
	x := Input{Name: "x", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, sym("?"), sym("?")}}
	if err := checkDeclared(x, graph.Float32, []int{1, 4, 6}, "a.npy", map[string]int{}, map[string]string{}); err != nil {
		t.Errorf("\"?\" dimensions of two sizes: %v", err)
	}
	h := Input{Name: "x", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, sym("H"), sym("H")}}
	if err := checkDeclared(h, graph.Float32, []int{1, 4, 6}, "a.npy", map[string]int{}, map[string]string{}); err == nil {
		t.Error("two sizes of one named dimension accepted")
	}
}

// An input of another kind than a tensor (a sequence of tensors) is
// refused by name before any file is read as its tensor, and by
// Synthetic.
func TestSequenceInputRefused(t *testing.T) {
	dir := t.TempDir()
	sample := mkdir(t, dir, "sample_000")
	if err := tensorio.WriteNpy(filepath.Join(sample, "seq.npy"), runtime.New(graph.Float32, 2, 3)); err != nil {
		t.Fatal(err)
	}
	in := []Input{{Name: "seq", DType: graph.Float32, Kind: "sequence"}}
	want := `input "seq" is a sequence, not a tensor`
	if _, err := Open(dir, in, ImageOptions{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open: error %v, want one saying %q", err, want)
	}
	if _, err := Synthetic(in, 1, 1).Sample(0); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Synthetic: error %v, want one saying %q", err, want)
	}
}

// Remember computes a value once per sample and key; a subset shares what
// its parent keeps, by sample, and an error is not kept.
func TestRemember(t *testing.T) {
	in := []Input{{Name: "x", DType: graph.Float32, Shape: graph.Fixed(1)}}
	s := Synthetic(in, 4, 1)
	calls := 0
	get := func(src *Source, i int, key string) any {
		t.Helper()
		v, err := src.Remember(i, key, func() (any, error) {
			calls++
			return fmt.Sprintf("%s/%d", key, calls), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := get(s, 2, "a")
	if again := get(s, 2, "a"); again != first || calls != 1 {
		t.Errorf("sample 2 again: %v after %d computations, want %v after 1", again, calls, first)
	}
	if other := get(s, 2, "b"); other == first || calls != 2 {
		t.Errorf("another key gave %v (%d computations)", other, calls)
	}
	sub, err := s.Subset([]int{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	if v := get(sub, 1, "a"); v != first || calls != 2 {
		t.Errorf("the subset's sample 1 (the parent's 2): %v after %d computations, want %v", v, calls, first)
	}
	if v := get(sub, 0, "a"); v == first || calls != 3 {
		t.Errorf("the subset's sample 0 (the parent's 3): %v after %d computations", v, calls)
	}
	if _, err := s.Remember(0, "c", func() (any, error) { return nil, fmt.Errorf("no") }); err == nil {
		t.Error("an error was not returned")
	}
	if v := get(s, 0, "c"); v != fmt.Sprintf("c/%d", calls) {
		t.Errorf("after an error, the value is %v: the error was kept", v)
	}
}

// Images kept one folder per class (an image dataset's usual layout) are
// the samples, folder by folder; a folder holding sample data is a sample
// folder as before.
func TestImageClassFolders(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(mkdir(t, dir, "dog"), "b.png"), solid(4, 4, color.NRGBA{R: 200, A: 255}))
	writeImage(t, filepath.Join(mkdir(t, dir, "cat"), "a10.png"), solid(4, 4, color.NRGBA{G: 9, A: 255}))
	writeImage(t, filepath.Join(dir, "cat", "a2.png"), solid(4, 4, color.NRGBA{B: 50, A: 255}))
	os.WriteFile(filepath.Join(dir, "cat", "notes"), []byte("x"), 0o644)
	in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Shape{{Size: 1}, {Size: 3}, {Size: 4}, {Size: 4}}}}
	s := mustOpen(t, dir, in, ImageOptions{})
	want := []string{filepath.Join("cat", "a2.png"), filepath.Join("cat", "a10.png"), filepath.Join("dog", "b.png")}
	if !slices.Equal(s.Names(), want) || !slices.Equal(s.Skipped(), []string{filepath.Join("cat", "notes")}) {
		t.Errorf("samples %q, skipped %q; want %q and cat/notes", s.Names(), s.Skipped(), want)
	}
	if got := mustSample(t, s, 2)["img"].F32()[0]; math.Abs(float64(got)-200.0/255) > 1e-6 {
		t.Errorf("dog/b.png's first value %v, want %v", got, 200.0/255)
	}
	// A .npy beside the images makes the folders sample folders.
	writeNpy(t, filepath.Join(dir, "dog", "img.npy"), filled(0, 1, 3, 4, 4))
	if _, err := Open(dir, in, ImageOptions{}); err == nil || !strings.Contains(err.Error(), "missing input") {
		t.Errorf("sample folders: error %v", err)
	}
}

// A folder holding only notes is not called empty: the error names what
// it holds. An inputs.json saved with a byte order mark is read.
func TestNotesOnlyFolderAndMarkedMapping(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"README.md", "labels.json"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	in := []Input{{Name: "in:0", DType: graph.Float32, Shape: graph.Fixed(1, 2)}}
	if _, err := Open(dir, in, ImageOptions{}); err == nil || !strings.Contains(err.Error(), "no samples: it holds only README.md, labels.json, which are not samples") {
		t.Errorf("notes only: error %v", err)
	}
	sample := mkdir(t, dir, "sample_000")
	writeNpy(t, filepath.Join(sample, "first.npy"), filled(0, 1, 2))
	os.WriteFile(filepath.Join(dir, "inputs.json"), []byte("\xef\xbb\xbf{\"in:0\": \"first.npy\"}"), 0o644)
	if s := mustOpen(t, dir, in, ImageOptions{}); s.Len() != 1 {
		t.Errorf("%d samples, want 1", s.Len())
	}
}

// A mistyped name in inputs.json, which leaves its input without a file,
// is named in the error about the missing input.
func TestStrayMappingNamed(t *testing.T) {
	dir := t.TempDir()
	sample := mkdir(t, dir, "sample_000")
	writeNpy(t, filepath.Join(sample, "first.npy"), filled(0, 1, 2))
	os.WriteFile(filepath.Join(dir, "inputs.json"), []byte(`{"in:O": "first.npy"}`), 0o644)
	in := []Input{{Name: "in:0", DType: graph.Float32, Shape: graph.Fixed(1, 2)}}
	want := `missing input "in:0" (no in_0.npy; ` + filepath.Join(dir, "inputs.json") + ` maps "in:O", which names no input)`
	if _, err := Open(dir, in, ImageOptions{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one saying %q", err, want)
	}
}

// Colour JPEGs with subsampled chroma (4:2:0, 4:2:2) read as libjpeg reads
// them, chroma interpolated: within the decoders' rounding of PIL's
// values (recorded in testdata), where repeating the chroma missed by up
// to 57 levels on this image.
func TestJPEGChromaAsLibjpeg(t *testing.T) {
	for _, sub := range []string{"420", "422"} {
		want, err := tensorio.ReadNpy(filepath.Join("testdata", "chroma"+sub+"_pil.npy"))
		if err != nil {
			t.Fatal(err)
		}
		h, w := want.Shape[0], want.Shape[1]
		in := []Input{{Name: "img", DType: graph.Float32, Shape: graph.Fixed(1, 3, int64(h), int64(w))}}
		got := mustSample(t, mustOpen(t, filepath.Join("testdata", "chroma"+sub+".jpg"), in, ImageOptions{}), 0)["img"].F32()
		ref := want.Data.([]uint8)
		var worst, sum float64
		for y := range h {
			for x := range w {
				for c := range 3 {
					d := math.Abs(float64(got[(c*h+y)*w+x])*255 - float64(ref[(y*w+x)*3+c]))
					worst, sum = max(worst, d), sum+d
				}
			}
		}
		if mean := sum / float64(3*h*w); worst > 3.01 || mean > 0.25 {
			t.Errorf("4:%s:%s JPEG: %.1f levels from PIL at worst, %.2f on average; want at most 3 and 0.25", sub[1:2], sub[2:], worst, mean)
		}
	}
}
