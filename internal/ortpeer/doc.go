// Package ortpeer runs models in ONNX Runtime, through the Node.js script
// tools/ort/ort-run.js of the shared folder, for tests that compare
// onnxq with it.
//
// Invariants: Run passes absolute paths to the script, so the working
// directory of node does not matter; it feeds one .npy file per input
// name, in the order given, runs ONNX Runtime on one thread, and leaves
// one .npy file per output in the output folder, named by
// tensorio.SafeName. Optimized writes the graph ONNX Runtime runs after
// its optimizations (its own small script, embedded, with the same
// onnxruntime-node), so tests can check which integer kernels it formed.
// Unavailable fails a test under CI (CI set), where
// Node.js and onnxruntime-node must be installed, and skips it elsewhere.
// Only tests use this package.
package ortpeer
