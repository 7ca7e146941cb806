package runtime

// exceptionsConv lists node tests of the MatMul, Gemm, Conv,
// ConvTranspose and pooling kernels that are not run, with the reason.
// Every such test of both suites passes, so the list is empty.
var exceptionsConv = map[string]string{}
