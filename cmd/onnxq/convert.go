package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/onnxpb"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
)

// convertConfig is the typed form of the convert command line.
type convertConfig struct {
	Model string
	Out   string
	// ExternalData is the size from which tensors go to the external
	// data file; 0 keeps every tensor inside the model file.
	ExternalData     int64
	ExternalDataName string
}

var convertCommand = &command{
	name:    "convert",
	args:    "MODEL -o OUT [flags]",
	summary: "re-write a model through onnxq's IR (optionally moving tensors to external data)",
	doc: `Convert loads MODEL, checks it, and writes it to OUT. A model that is not
changed is written back byte for byte. With --external-data, tensors of at
least that size are moved to one data file beside OUT; tensors under
1 KiB always stay in OUT, as ONNX's own helper keeps them (ONNX Runtime
refuses a model whose Reshape shapes are in external data).

OUT is written under a temporary name and renamed into place, so a failed
conversion leaves no output file. Convert refuses to overwrite MODEL or
the files its external data is read from.`,
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &convertConfig{}
		fs.StringVarP(&cfg.Out, "output", "o", "", "write the model to `OUT` (required)")
		fs.Var((*sizeValue)(&cfg.ExternalData), "external-data",
			"move tensors of at least `SIZE` bytes to an external data file; "+sizeHelp+" (default 0: keep all data inside the model)")
		fs.StringVar(&cfg.ExternalDataName, "external-data-name", "",
			"file `NAME` of the external data, in OUT's folder (default: OUT's file name + .data)")
		return func(c *cli, args []string) error {
			switch {
			case len(args) == 0:
				return usageErrorf("convert", "convert needs a MODEL to read")
			case len(args) > 1:
				return usageErrorf("convert", "convert reads one model: unexpected %q", args[1])
			case cfg.Out == "":
				return usageErrorf("convert", "missing -o OUT, the file to write")
			case cfg.ExternalDataName != "" && cfg.ExternalData == 0:
				return usageErrorf("convert", "--external-data-name needs --external-data SIZE")
			}
			cfg.Model = args[0]
			return convert(cfg)
		}
	},
}

// dataFileName is the external data file Save writes beside out.
func (cfg *convertConfig) dataFileName() string {
	if cfg.ExternalDataName != "" {
		return cfg.ExternalDataName
	}
	return filepath.Base(cfg.Out) + ".data"
}

func convert(cfg *convertConfig) error {
	// Cheap checks first, so a large model is not loaded for nothing.
	if err := refuseOverwrite([]inputFile{{"the input model", cfg.Model}}, outputFile{"-o", cfg.Out}); err != nil {
		return err
	}
	dataPath := ""
	if cfg.ExternalData > 0 {
		name := cfg.dataFileName()
		if !filepath.IsLocal(name) || filepath.Base(name) != name {
			return fmt.Errorf("--external-data-name %q must be a plain file name (it is written in OUT's folder)", name)
		}
		dataPath = filepath.Join(filepath.Dir(cfg.Out), name)
		for _, p := range []string{cfg.Model, cfg.Out} {
			if same, err := samePath(dataPath, p); err != nil {
				return err
			} else if same {
				return fmt.Errorf("%s: the external data file would overwrite %s; choose another --external-data-name", dataPath, p)
			}
		}
	}
	if err := checkOutputs(outputFile{"-o", cfg.Out}); err != nil {
		return err
	}

	m, err := graph.Load(cfg.Model)
	if err != nil {
		return err
	}
	// The input's external data files are read already, but renaming over
	// one would leave MODEL pointing at the wrong bytes.
	if ins, err := modelInputs(cfg.Model, m); err != nil {
		return err
	} else if err := refuseOverwrite(ins, outputFile{"-o", cfg.Out}, outputFile{"external data", dataPath}); err != nil {
		return err
	}

	err = graph.Save(m, cfg.Out, graph.SaveOptions{
		ExternalDataThreshold: cfg.ExternalData,
		ExternalDataName:      cfg.ExternalDataName,
	})
	if err != nil {
		return writingError(cfg.Out, err)
	}
	return nil
}

// checkOutputs runs checkOutput on each output given, before any work is
// done.
func checkOutputs(outs ...outputFile) error {
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if err := checkOutput(o.flag, o.path); err != nil {
			return err
		}
	}
	return nil
}

// checkOutput reports a missing, unusable or read-only folder for the file
// out that flag names, or an out that is a folder.
func checkOutput(flag, out string) error {
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a folder; %s needs a file name", out, flag)
	}
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: folder %s does not exist", out, dir)
	case err != nil:
		return fmt.Errorf("%s: %v", out, plainError(err))
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a folder", out, dir)
	}
	// A folder that takes no new file fails now, not after the work.
	probe, err := os.CreateTemp(dir, ".onnxq-probe-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write in folder %s: %v", out, dir, plainError(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// usesExternalData reports whether any tensor of m was read from an
// external data file.
func usesExternalData(m *graph.Model) bool {
	found := false
	forEachTensor(m, func(t *graph.Tensor) {
		found = found || t.External()
	})
	return found
}

// forEachTensor calls fn for every initializer and every tensor held in a
// node attribute, in all graphs of m.
func forEachTensor(m *graph.Model, fn func(*graph.Tensor)) {
	m.Graph.Walk(func(g *graph.Graph) {
		for _, v := range g.Initializers {
			if v.Const != nil {
				fn(v.Const)
			}
		}
		for _, n := range g.Nodes {
			for _, a := range n.Attrs {
				if a.Tensor != nil {
					fn(a.Tensor)
				}
				for _, t := range a.Tensors {
					fn(t)
				}
			}
		}
	})
}

// externalLocations lists the external data files a model file refers to.
// The IR does not keep the locations, so they are read from the file; the
// model proto is small when its tensors live outside it.
func externalLocations(path string) ([]string, error) {
	data, err := graph.ReadProtoFile(path, "an ONNX model")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, plainError(err))
	}
	return externalLocationsIn(path, data)
}

// externalLocationsIn is externalLocations of the file's bytes, data,
// read already.
func externalLocationsIn(path string, data []byte) ([]string, error) {
	p := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	seen := map[string]bool{}
	var locs []string
	addTensor := func(t *onnxpb.TensorProto) {
		if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			return
		}
		for _, kv := range t.GetExternalData() {
			// one file however it is spelt (w.data, ./w.data)
			if key := filepath.Clean(filepath.FromSlash(kv.GetValue())); kv.GetKey() == "location" && !seen[key] {
				seen[key] = true
				locs = append(locs, kv.GetValue())
			}
		}
	}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, t := range g.GetInitializer() {
			addTensor(t)
		}
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				if a.T != nil {
					addTensor(a.T)
				}
				for _, t := range a.GetTensors() {
					addTensor(t)
				}
				if a.G != nil {
					walk(a.G)
				}
				for _, sg := range a.GetGraphs() {
					walk(sg)
				}
			}
		}
	}
	walk(p.GetGraph())
	return locs, nil
}
