// Package tensorio reads and writes runtime tensors as files: NumPy .npy
// (format versions 1.0, 2.0 and 3.0), .npz archives of .npy members
// (stored or deflated), and ONNX TensorProto .pb files (the layout of the
// ONNX backend test data).
//
// Invariants:
//   - Untrusted files never panic and never make the reader allocate more
//     than the file can hold: a .npy header's shape and element size are
//     checked against the bytes that follow it (and, in a .npz, against the
//     member's declared and compressed sizes) before the data is read.
//   - Tensors come back in C (row-major) order with the runtime's slice type
//     for their DType. Big-endian files are swapped; Fortran-order arrays are
//     transposed into C order.
//   - .npy output is little-endian, C order, version 1.0 (2.0 only for a
//     header over 64 KiB), with the header padded so the data starts on a
//     64-byte boundary, as NumPy writes it. Element types NumPy has no code
//     for (bfloat16, float8, int4...) are refused; WritePb stores any type.
//   - File names made from tensor names keep only [A-Za-z0-9._-] (SafeName);
//     a Namer makes them unique within one folder.
//   - Writers create files under a temporary name and rename them, so a
//     failed write leaves no partial file.
package tensorio
