// Package graph is onnxq's in-memory form of an ONNX model: Model, Graph,
// Node, Value, Tensor and DType, with Load/Save, Verify, a stable text Dump,
// a small Builder for tests, and shape/type inference.
//
// Invariants:
//   - Round trip: a model that is loaded and saved unchanged is written back
//     byte for byte. Every object remembers the protobuf message it was read
//     from; saving writes the fields the IR models and takes everything else
//     (metadata, sharding, sparse initializers, unknown fields, whether an
//     optional field was present) from that message while the value is
//     unchanged.
//   - Names: within a graph's scope every value name is defined once: by a
//     graph input, an initializer or one node output. Subgraphs (If/Loop/Scan
//     bodies) see the values of their enclosing graphs.
//   - Edges: Node.Inputs/Outputs and Value.Producer/Consumers describe the
//     same edges; mutate through the Graph methods to keep them in step.
//   - Tensors: data is kept in the form it was read (raw little-endian bytes
//     or a typed list) until replaced; sub-byte types are packed, low bits
//     first. Sizes are checked against dims before anything is allocated.
//   - External data is read relative to the model's folder; locations that
//     are absolute or leave the folder are refused.
package graph
