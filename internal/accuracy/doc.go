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
//
// ONNXQ_ACCURACY_QUARTER=0, 1 or 2 evaluates another quarter of the
// samples (positions 0, 4, 8, ... for 0) and checks only that every model
// quantizes and runs: how much one split of a few samples says.
package accuracy
