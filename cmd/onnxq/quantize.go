package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// quantizeConfig is the typed form of the main job's command line.
type quantizeConfig struct {
	Model   string
	Out     string
	Version bool
}

// quantizeCommand is the main job, "onnxq MODEL -o OUT". Its flag set is
// also the top level's, so --version lives here.
var quantizeCommand = &command{
	name:    "",
	args:    "MODEL -o OUT",
	summary: "quantize MODEL to INT8 and write it to OUT (not available yet)",
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		cfg := &quantizeConfig{}
		fs.StringVarP(&cfg.Out, "output", "o", "", "write the quantized model to `OUT`")
		fs.BoolVar(&cfg.Version, "version", false, "print onnxq's version and exit")
		return func(c *cli, args []string) error {
			if cfg.Version {
				fmt.Fprintln(c.stdout, versionString())
				return nil
			}
			switch {
			case len(args) == 0:
				return usageErrorf("", "no model given")
			case lookupCommand(args[0]) != nil:
				return usageErrorf("", "the command comes first: onnxq %s [flags]", args[0])
			case !looksLikeModel(args[0]):
				return usageErrorf("", "unknown command %q (not a subcommand, and not a model file)", args[0])
			case len(args) > 1:
				return usageErrorf("", "one model at a time: unexpected %q", args[1])
			case cfg.Out == "":
				return usageErrorf("", "missing -o OUT, the file to write the quantized model to")
			}
			cfg.Model = args[0]
			return quantize(cfg)
		}
	},
}

// quantize is the main job. It writes nothing until INT8 quantization
// exists, so that no one mistakes a copy for a quantized model.
func quantize(cfg *quantizeConfig) error {
	return errors.New("INT8 quantization is not available yet; 'onnxq convert' re-writes a model unchanged")
}
