package runtime

// exceptionsRNNQuant lists node tests of this kernel family that are not run, with the reason.
var exceptionsRNNQuant = map[string]string{}
