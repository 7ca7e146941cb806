// Command gen writes the generated test models (testmodels.All) into a
// folder as NAME.onnx.

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onnxq/onnxq/internal/testmodels"
)

func main() {
	dir := flag.String("o", "testdata/models", "output `folder`")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, m := range testmodels.All() {
		data, err := m.Bytes()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, m.Name+".onnx"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
