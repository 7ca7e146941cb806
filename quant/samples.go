package quant

import (
	"errors"
	"fmt"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/internal/calibdata"
	"github.com/onnxq/onnxq/runtime"
)

// Samples is a set of samples, each a map of input name to tensor: what
// OpenSamples, MemorySamples and SyntheticSamples return and Run,
// Calibrate, OutputSQNR, compare.Compare and the others read. Len and
// Names tell how many and what they are called, Sample(i) reads one, and
// Subset(indexes) takes some of them.
type Samples = calibdata.Source

// ImageOptions say how OpenImageSamples turns images into an input's
// values: the size, per-channel mean and standard deviation the pixels
// (in [0, 1]) are normalised with, NCHW or NHWC, and the channel order
// (the command line's --image-size, --mean, --std, --layout, --bgr).
type ImageOptions = calibdata.ImageOptions

// OpenSamples opens the calibration samples at path for m's inputs, in
// the forms the command line's --calib takes: a folder of
// sample_NNN/<input>.npy, .npz files, ONNX test_data_set_N folders, one
// .npy file, or images (scaled to the input's shape, pixels in [0, 1]).
// The result is what Run, Calibrate, OutputSQNR, compare.Compare and the
// others take as samples.
func OpenSamples(path string, m *graph.Model) (*Samples, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("quant: no model")
	}
	return calibdata.Open(path, calibdata.Inputs(m), calibdata.ImageOptions{})
}

// OpenImageSamples is OpenSamples with the ImageOptions images at path
// are read with.
func OpenImageSamples(path string, m *graph.Model, img ImageOptions) (*Samples, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("quant: no model")
	}
	return calibdata.Open(path, calibdata.Inputs(m), img)
}

// MemorySamples returns samples held in memory for m's inputs, one map of
// input name to tensor per sample; each is checked against the inputs'
// types and shapes when read.
func MemorySamples(m *graph.Model, samples []map[string]*runtime.Tensor) (*Samples, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("quant: no model")
	}
	if len(samples) == 0 {
		return nil, errors.New("quant: no samples")
	}
	return calibdata.Memory(calibdata.Inputs(m), samples), nil
}

// SyntheticSamples returns n random samples for m's inputs (float inputs
// normal(0, 1), integer and bool ones zero, symbolic sizes 1), as the
// command line's --synthetic: ranges from them rarely fit real inputs.
func SyntheticSamples(m *graph.Model, n int, seed int64) (*Samples, error) {
	return SyntheticSamplesWithShapes(m, n, seed, nil)
}

// SyntheticSamplesWithShapes is SyntheticSamples with the shapes of the
// inputs shapes names fixed, as --synthetic with --shape NAME=DIMS: each
// must have its input's rank and fixed sizes, and a named dimension one
// sets takes that size in the other inputs too.
func SyntheticSamplesWithShapes(m *graph.Model, n int, seed int64, shapes map[string][]int64) (*Samples, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("quant: no model")
	}
	if n <= 0 {
		return nil, fmt.Errorf("quant: %d synthetic samples (want 1 or more)", n)
	}
	inputs, err := calibdata.WithShapes(calibdata.Inputs(m), shapes)
	if err != nil {
		return nil, fmt.Errorf("quant: %v", err)
	}
	return calibdata.Synthetic(inputs, n, seed), nil
}

// SampleError is a calibration sample the model failed to run on: a
// made-up sample whose sizes do not fit the model fails so, and the
// caller may say how to give better ones.
type SampleError struct {
	Sample string // the sample's name, as its Samples gives it
	Err    error
}

func (e *SampleError) Error() string {
	return fmt.Sprintf("calibration sample %s: %v", e.Sample, e.Err)
}

func (e *SampleError) Unwrap() error { return e.Err }
