// Package testmodels builds the small ONNX models the project tests with,
// and malformed inputs the loader must refuse.
//
// The models are built in code (All), so they are exact and can be
// regenerated: `go generate ./internal/testmodels` writes them to
// testdata/models/NAME.onnx at the repository root, and a test checks that
// the committed files equal what the code builds. Together they cover the
// IR the loader must keep byte for byte: Conv/Relu/MaxPool/Gemm, a
// MatMul+Add+Softmax block, an If whose branches read an outer value,
// initializers of many element types in raw and in typed storage,
// symbolic input dimensions, model metadata, a model-local function, and
// attributes of every common kind.
//
// Weights come from a fixed integer generator (not math/rand), so the
// bytes never depend on the Go version.
//
// Bad writes malformed inputs into a folder, each with the text its load
// error must contain.
package testmodels
