package runtime

// exceptionsMath lists node tests of this kernel family that are not run, with the reason.
var exceptionsMath = map[string]string{}
