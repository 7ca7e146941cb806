// Package accuracy holds only a test: it quantizes every shared model
// with the default flags and measures, in ONNX Runtime, how far the INT8
// model's outputs are from the FP32 model's.
//
// Invariants of the measurement (the accuracy metric):
//   - samples sorted by name; every 4th (sample_003, sample_007, ..., at
//     most 8) evaluates, all others calibrate: no evaluation sample is
//     ever seen by calibration;
//   - both models run in ONNX Runtime, never in onnxq's runtime, so the
//     figures are what a user of the quantized model gets;
//   - per output, SQNR is pooled over the evaluation samples; a model's
//     figure is its worst output.
package accuracy
