// Package archtest holds the test that keeps the import graph between
// onnxq's packages as the architecture describes it. It has no code of
// its own.
package archtest
