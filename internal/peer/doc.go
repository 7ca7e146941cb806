// Package peer holds the test that checks onnxq's FP32 runtime against ONNX
// Runtime, the independent reference: every model in ../shared/models runs
// on every sample of ../shared/data/<model>/ in both, and each output must
// agree within max|onnxq - ORT| <= 1e-4 * max(1, max|ORT|).
//
// ONNX Runtime runs through ../shared/tools/ort/ort-run.js (Node.js and the
// onnxruntime-node package that install.sh puts in $ORT_NODE_DIR). Without
// them the test is skipped, except under CI=true, where it fails.
//
//	ORT_NODE_DIR=/path/to/ort go test ./internal/peer -v
//
// ONNXQ_PEER_MODEL=substring restricts the test to matching models;
// ONNXQ_PEER_CACHE=DIR keeps ORT's outputs between runs (keyed by the
// model file's hash), which saves the Node.js start-up per sample.
//
// TestINT8AgreesWithORT compares the integers of onnxq's quantized models
// with ONNX Runtime's; TestORTFusesIntegerForms reads the graph ONNX
// Runtime runs for quantized generated models and checks it formed the
// integer kernels the quantizer's forms are for. The package has no code
// besides the tests.
package peer
