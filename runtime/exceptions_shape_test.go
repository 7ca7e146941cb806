// exceptions_shape_test.go lists the node tests of the shape, layout,
// indexing and resize kernels that are known not to pass.
package runtime

// exceptionsShape lists node tests of this kernel family that are not run, with the reason.
//
// It is empty: every node test of these ops passes. The Identity tests on
// sequences and optionals (test_identity_sequence, test_identity_opt) are
// not run at all, since their values are not tensors (see covered).
var exceptionsShape = map[string]string{}
