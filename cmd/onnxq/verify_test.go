// verify_test.go checks the verify command on generated test folders (one
// that passes, one whose expected output is wrong, one without data) and
// on ONNX node tests beside the repository.
package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/tensorio"
	"github.com/onnxq/onnxq/runtime"
)

// testFolder writes an ONNX test folder for Relu with one data set whose
// expected output is want.
func testFolder(t *testing.T, dir string, in, want *runtime.Tensor) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "test_data_set_0"), 0o755)
	saveModel(t, dir, "model.onnx", func(b *graph.Builder) {
		b.Output(b.Op("Relu", b.Input("x", graph.Float32, 3)))
	})
	if err := tensorio.WritePb(filepath.Join(dir, "test_data_set_0", "input_0.pb"), "x", in); err != nil {
		t.Fatal(err)
	}
	if err := tensorio.WritePb(filepath.Join(dir, "test_data_set_0", "output_0.pb"), "y", want); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVerify(t *testing.T) {
	root := t.TempDir()
	in := f32([]int{3}, -1, 2, 3)
	good := testFolder(t, filepath.Join(root, "suite", "test_good"), in, f32([]int{3}, 0, 2, 3.000001))
	testFolder(t, filepath.Join(root, "suite", "test_bad"), in, f32([]int{3}, 0, 2.5, 3))
	nodata := filepath.Join(root, "suite", "test_nodata")
	os.MkdirAll(nodata, 0o755)
	os.WriteFile(filepath.Join(nodata, "model.onnx"), mustRead(t, filepath.Join(good, "model.onnx")), 0o644)

	r := onnxq(t, root, "verify", good)
	if r.code != 0 || r.stdout != "PASS test_good (1 data set, worst |diff| 9.54e-07)\n1 passed, 0 failed\n" || r.stderr != "" {
		t.Errorf("verify good: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = onnxq(t, root, "verify", filepath.Join(root, "suite"), filepath.Join(root, "nowhere"))
	want := []string{
		"FAIL test_bad: test_data_set_0: output \"relu1_out0\": element 1 is 2, want 2.5 (|diff| 0.5); 1 of 3 values out of tolerance, worst finite |diff| 0.5 (output_0.pb records output \"y\")",
		"PASS test_good (1 data set, worst |diff| 9.54e-07)",
		"FAIL test_nodata: " + nodata + ": no test_data_set_N folders",
		"FAIL " + filepath.Join(root, "nowhere") + ": no such file or directory",
		"1 passed, 3 failed",
	}
	if r.code != 1 || r.stdout != strings.Join(want, "\n")+"\n" {
		t.Errorf("verify suite: exit %d, stdout:\n%s\nwant:\n%s", r.code, r.stdout, strings.Join(want, "\n"))
	}
	if r.stderr != "onnxq: 3 of 4 tests failed\n" {
		t.Errorf("verify suite: stderr %q", r.stderr)
	}

	// A folder of data sets whose model is gone fails; two tests of one
	// base name are told apart by their paths.
	nomodel := filepath.Join(root, "suite2", "test_good")
	testFolder(t, nomodel, in, f32([]int{3}, 0, 2, 3))
	os.Remove(filepath.Join(nomodel, "model.onnx"))
	r = onnxq(t, root, "verify", filepath.Join(root, "suite2"), good)
	want = []string{
		"FAIL " + nomodel + ": " + filepath.Join(nomodel, "model.onnx") + ": no such file",
		"PASS " + good + " (1 data set, worst |diff| 9.54e-07)",
		"1 passed, 1 failed",
	}
	if r.code != 1 || r.stdout != strings.Join(want, "\n")+"\n" {
		t.Errorf("verify of a test without its model: exit %d, stdout:\n%s\nwant:\n%s", r.code, r.stdout, strings.Join(want, "\n"))
	}

	// A file named as a data set is one gone wrong, not an archive
	// beside the sets, which is left alone.
	os.WriteFile(filepath.Join(good, "test_data_set_1"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(good, "test_data_set_2.tar.gz"), []byte("x"), 0o644)
	r = onnxq(t, root, "verify", good)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL test_good: "+filepath.Join(good, "test_data_set_1")+": not a folder") {
		t.Errorf("verify of a data set that is a file: exit %d, stdout %q", r.code, r.stdout)
	}
	os.Remove(filepath.Join(good, "test_data_set_1"))

	r = onnxq(t, root, "verify", root)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL "+root+": not an ONNX test folder") {
		t.Errorf("verify of a folder without tests: exit %d, stdout %q", r.code, r.stdout)
	}
	r = onnxq(t, root, "verify")
	if r.code != 2 || !strings.Contains(r.stderr, "verify needs at least one test folder") {
		t.Errorf("verify without folders: exit %d, stderr %q", r.code, r.stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifyNodeTests runs a few ONNX node tests from ../shared.
func TestVerifyNodeTests(t *testing.T) {
	const suite = "../../../shared/onnx/node-tests"
	dirs := []string{suite + "/test_relu", suite + "/test_add", suite + "/test_add_bcast", suite + "/test_identity"}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Skip("no ../shared/onnx/node-tests")
	}
	r := onnxq(t, "", append([]string{"verify"}, dirs...)...)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "4 passed, 0 failed\n") || !strings.Contains(r.stdout, "PASS test_add_bcast (1 data set, worst |diff| ") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
