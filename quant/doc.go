// Package quant is onnxq's library facade: it connects the pieces that
// must not know each other (graph, runtime, calib, passes, lower) into the
// quantization flow, so a program can do what "onnxq MODEL -o OUT" does.
//
// The flow is Prepare (fold constants and BatchNormalization, remove dead
// nodes), with per-channel weights EqualizeActivations (rescale, from
// per-channel statistics of the samples, the channels in front of
// depthwise Convs to equal ranges, the Conv-made inputs of Concats that
// Convs read to suit one grid, and the outlier channels of layer norm
// outputs into the MatMuls reading them; the float model computes the
// same), Calibrate (run the prepared FP32 model on samples and observe
// every float32 value, graph inputs included), Quantize (insert Q/DQ by
// the rule table from the calibrated ranges); Run does all three, then,
// with Config.Quant.FloatIdleInputs (the ort-cpu default) keeps in float
// the activations only Convs outside complete units read, when that is no
// worse (ChooseFloatIdle, IdleActivations), and with Config.Units at its
// default tries giving each quantized Conv read only by float ops an
// output Q/DQ (a complete integer unit), keeping all of them, or those
// that cost least, as far as the calibration samples allow against that
// model (ChooseUnits). With
// Config.Fallback it then keeps in FP32 the few weighted layers whose
// quantization costs the worst output most (ApplyFallback, within a budget
// that keeps 95% of the weighted ops in Q/DQ units). With
// Config.WeightRounding set to RoundHessian, RoundWeights re-rounds the
// int8 weights of each quantized layer on their grid against the layer's
// output error on the calibration inputs, before bias correction, kept
// when the worst output improves (and, given Config.HeldOut, does
// not fall on samples held out of calibration). Tune, the
// accuracy-driven search, instead puts layers and activations back in
// float until an SQNR or top-1 target is met on samples held out of
// calibration (TuneSamples), or its timeout passes, and leaves the best
// model it measured.
//
// Invariants:
//   - DefaultConfig is exactly the command line's defaults, so Run with it
//     produces the model "onnxq MODEL -o OUT --calib DIR" writes.
//   - Results do not depend on Config.Threads: samples are observed in
//     order and the observers are deterministic.
//   - Every output figure a choice rests on is measured as the model
//     runs, its complete units lowered to integer ops (package lower), as
//     ONNX Runtime runs them and onnxq compare measures by default.
//   - Calibrate and Quantize expect a prepared model: the ranges are keyed
//     by the value names of the prepared graph.
//   - Errors are returned, never panics; a model that fails partway is
//     left as it was when the failing step began or partly edited, never
//     saved.
package quant
