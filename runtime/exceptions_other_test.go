package runtime

// exceptionsOther lists node tests that no kernel family owns and that are
// not run, with the reason: their ops have kernels, but their values are
// not tensors. (covered already counts them among the tests that cannot
// run; the list says why.)
var exceptionsOther = map[string]string{
	"test_identity_opt":      "input and output are optional(sequence(tensor)) values; the runtime executes tensors only",
	"test_identity_sequence": "input and output are sequence(tensor) values; the runtime executes tensors only",
}
