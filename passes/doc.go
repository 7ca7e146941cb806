// Package passes holds the graph transformations of the quantization
// pipeline (preparation such as constant folding and BatchNormalization
// folding, then insertion of QuantizeLinear/DequantizeLinear pairs by a
// per-op rule table) and the runner that executes them in order.
//
// A pass is a value with a name, a description and a Run function; the
// runner verifies the graph after each pass and turns a panic inside a pass
// into an error naming it.
package passes
