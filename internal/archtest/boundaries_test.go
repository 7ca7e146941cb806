package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/onnxq/onnxq"

// allowed lists, for each package, the packages of this module it may
// import (directly or not). Packages not listed (commands, internal test
// helpers) may import anything.
var allowed = map[string][]string{
	"internal/onnxpb": {},
	"graph":           {"internal/onnxpb"},
	"qdq":             {},
	"calib":           {"qdq"},
	"runtime/kernels": {},
	"runtime":         {"graph", "qdq", "runtime/kernels", "internal/onnxpb"},
	"passes":          {"graph", "qdq", "runtime", "runtime/kernels", "internal/macs", "internal/onnxpb"},
	"lower":           {"graph", "qdq", "passes", "runtime", "runtime/kernels", "internal/macs", "internal/onnxpb"},
	"quant":           {"graph", "qdq", "calib", "passes", "lower", "runtime", "runtime/kernels", "internal/macs", "internal/onnxpb", "internal/calibdata", "internal/tensorio"},
	"compare":         {"graph", "qdq", "calib", "passes", "lower", "runtime", "runtime/kernels", "internal/macs", "internal/onnxpb", "internal/calibdata", "internal/tensorio"},
	"internal/macs":   {"graph", "internal/onnxpb"},
	"report":          {"graph", "qdq", "calib", "passes", "lower", "runtime", "runtime/kernels", "compare", "internal/macs", "internal/onnxpb", "internal/calibdata", "internal/tensorio"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestImportBoundaries(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	seen := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		seen[rel] = true
		ok, listed := allowed[rel]
		if !listed {
			continue
		}
		for _, dep := range p.Deps {
			if !strings.HasPrefix(dep, module+"/") {
				continue
			}
			d := strings.TrimPrefix(dep, module+"/")
			if !slices.Contains(ok, d) {
				t.Errorf("%s imports %s, which the architecture does not allow", rel, d)
			}
		}
	}
	for rel := range allowed {
		if !seen[rel] {
			t.Errorf("package %s is missing", rel)
		}
	}
}
