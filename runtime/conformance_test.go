package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// conformanceSuites are the ONNX backend node tests: the ONNX 1.22 set
// beside the repository and Debian's libonnx-testdata (ONNX 1.12).
var conformanceSuites = []struct{ name, tag, glob string }{
	{"node-tests (ONNX 1.22)", "onnx-1.22", "../../shared/onnx/node-tests/test_*"},
	{"libonnx-testdata (ONNX 1.12)", "libonnx-1.12", "/usr/share/libonnx-testdata/data/*/test_*"},
}

// exceptionSets hold, per kernel family, the node tests that are known not
// to pass, each with its reason. A test listed here is not run. A key is a
// test name (both suites) or "TAG/name" for one suite ("onnx-1.22/...",
// "libonnx-1.12/...").
var exceptionSets = []map[string]string{
	exceptionsMath, exceptionsShape, exceptionsConv, exceptionsRNNQuant, exceptionsOther, exceptionsExtra,
}

func conformanceException(suiteTag, name string) (string, bool) {
	for _, set := range exceptionSets {
		if why, ok := set[suiteTag+"/"+name]; ok {
			return why, true
		}
		if why, ok := set[name]; ok {
			return why, true
		}
	}
	return "", false
}

// covered reports whether every op of the test's model has a kernel and
// its inputs and outputs are plain tensors.
func covered(reg *Registry, m *graph.Model) bool {
	ok := true
	m.Graph.Walk(func(g *graph.Graph) {
		for _, n := range g.Nodes {
			if reg.Lookup(n.Domain, n.OpType) == nil {
				ok = false
			}
		}
	})
	for _, v := range append(m.Graph.RealInputs(), m.Graph.Outputs...) {
		if v.DType == graph.Undefined {
			ok = false
		}
	}
	return ok
}

// TestConformance runs every node test whose ops all have kernels.
// ONNXQ_NODETEST=substring restricts it to matching test names.
func TestConformance(t *testing.T) {
	poisonFreed = true
	defer func() { poisonFreed = false }()
	filter := os.Getenv("ONNXQ_NODETEST")
	reg := DefaultRegistry()
	for _, suite := range conformanceSuites {
		dirs, _ := filepath.Glob(suite.glob)
		if len(dirs) == 0 {
			if os.Getenv("CI") != "" {
				t.Errorf("%s: no tests at %s", suite.name, suite.glob)
			}
			continue
		}
		passed, failed, excepted, uncovered := 0, 0, 0, 0
		var failures []string
		for _, dir := range dirs {
			name := filepath.Base(dir)
			if filter != "" && !strings.Contains(name, filter) {
				continue
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			m, err := graph.Load(filepath.Join(dir, "model.onnx"))
			if err != nil || len(sets) == 0 || !covered(reg, m) {
				uncovered++
				continue
			}
			if _, ok := conformanceException(suite.tag, name); ok {
				excepted++
				continue
			}
			results, err := RunNodeTest(dir, Options{Threads: 2, Registry: reg})
			if err == nil {
				for _, r := range results {
					if r.Err != nil {
						err = fmt.Errorf("%s: %v", r.DataSet, r.Err)
						break
					}
				}
			}
			if err != nil {
				failed++
				failures = append(failures, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			passed++
		}
		sort.Strings(failures)
		for _, f := range failures {
			t.Errorf("%s", f)
		}
		fmt.Printf("conformance %s: %d passed, %d failed (%d known exceptions, %d tests use ops without kernels)\n",
			suite.name, passed, failed, excepted, uncovered)
	}
}
