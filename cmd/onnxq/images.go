package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/internal/tensorio"
)

// imageConfig holds the flags that turn image files into input tensors,
// for the commands reading samples (quantize's --calib and --eval,
// golden's and compare's --data), so that they read images alike.
type imageConfig struct {
	ImageSize string
	Mean      []float32
	Std       []float32
	Layout    string
	BGR       bool
}

// declare adds the image flags to fs; use names what the samples are for
// ("calibration").
func (cfg *imageConfig) declare(fs *pflag.FlagSet, use string) {
	fs.StringVar(&cfg.ImageSize, "image-size", "", "image "+use+": resize to `HxW` (default: the input's shape)")
	fs.Float32SliceVar(&cfg.Mean, "mean", nil, "image "+use+": per-channel mean of [0,1] pixels")
	fs.Float32SliceVar(&cfg.Std, "std", nil, "image "+use+": per-channel std of [0,1] pixels")
	fs.StringVar(&cfg.Layout, "layout", "", "image "+use+": nchw or nhwc (default: from the input's shape)")
	fs.BoolVar(&cfg.BGR, "bgr", false, "image "+use+": channels in BGR order")
}

// imageOptions turns the flags into calibdata's image options.
func (cfg *imageConfig) imageOptions() (calibdata.ImageOptions, error) {
	o := calibdata.ImageOptions{Mean: cfg.Mean, Std: cfg.Std, Layout: strings.ToLower(cfg.Layout), BGR: cfg.BGR}
	if cfg.ImageSize != "" {
		hs, ws, ok := strings.Cut(strings.ToLower(cfg.ImageSize), "x")
		h, err1 := strconv.Atoi(hs)
		w, err2 := strconv.Atoi(ws)
		if !ok || err1 != nil || err2 != nil || h <= 0 || w <= 0 {
			return o, fmt.Errorf("--image-size %q: want HxW, e.g. 224x224", cfg.ImageSize)
		}
		o.Size = [2]int{h, w}
	}
	if o.Layout != "" && o.Layout != "nchw" && o.Layout != "nhwc" {
		return o, fmt.Errorf("--layout %q: want nchw or nhwc", cfg.Layout)
	}
	return o, nil
}

// imageFlags lists the image preprocessing flags given.
func (cfg *imageConfig) imageFlags() []string {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"--image-size", cfg.ImageSize != ""}, {"--mean", cfg.Mean != nil}, {"--std", cfg.Std != nil}, {"--layout", cfg.Layout != ""}, {"--bgr", cfg.BGR}} {
		if f.on {
			set = append(set, f.name)
		}
	}
	return set
}

// itThem is "it" for one, "them" for more.
func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// matchVerb is "matches" for one, "match" for more.
func matchVerb(n int) string {
	if n == 1 {
		return "matches"
	}
	return "match"
}

// openSamples opens the samples at path (given by flag) for inputs with
// the image flags of cfg, and warns when those flags are given for samples
// that are not images: they would be ignored without a word.
func (c *cli) openSamples(flag, path string, inputs []calibdata.Input, cfg *imageConfig) (*calibdata.Source, error) {
	img, err := cfg.imageOptions()
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	src, err := calibdata.Open(path, inputs, img)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", flag, err)
	}
	if skipped := src.Skipped(); len(skipped) > 0 {
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s %s holds %s: passed over %s that %s not of that kind: %s\n", flag, path, src.Kind(), plural(len(skipped), "file"), isAre(len(skipped)), firstNames(skipped))
	}
	if unmatched := src.Unmatched(); len(unmatched) > 0 {
		names := make([]string, len(inputs))
		for i, in := range inputs {
			names[i] = in.Name
		}
		// An input's .pb beside its .npy is not read either: the .npy
		// comes first.
		var stray, shadowed []string
		for _, f := range unmatched {
			stem := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			if strings.EqualFold(filepath.Ext(f), ".pb") && slices.ContainsFunc(names, func(n string) bool { return stem == n || stem == tensorio.SafeName(n) }) {
				shadowed = append(shadowed, f)
			} else {
				stray = append(stray, f)
			}
		}
		if len(stray) > 0 {
			fmt.Fprintf(c.stderr, "onnxq: WARNING: %s %s: %s in the sample folders %s no model input (%s) and %s not read: %s\n", flag, path, plural(len(stray), "data file"), matchVerb(len(stray)), strings.Join(names, ", "), isAre(len(stray)), firstNames(stray))
		}
		if len(shadowed) > 0 {
			fmt.Fprintf(c.stderr, "onnxq: WARNING: %s %s: %s in the sample folders %s not read, the .npy of the same input beside %s coming first: %s\n", flag, path, plural(len(shadowed), ".pb file"), isAre(len(shadowed)), itThem(len(shadowed)), firstNames(shadowed))
		}
	}
	if set := cfg.imageFlags(); len(set) > 0 && src.Kind() != "images" {
		verb := "applies"
		if len(set) > 1 {
			verb = "apply"
		}
		fmt.Fprintf(c.stderr, "onnxq: WARNING: %s %s to image samples only; %s %s holds %s, which are fed as they are\n", strings.Join(set, ", "), verb, flag, path, src.Kind())
	}
	return src, nil
}
