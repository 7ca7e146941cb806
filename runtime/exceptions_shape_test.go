package runtime

// exceptionsShape lists node tests of this kernel family that are not run, with the reason.
var exceptionsShape = map[string]string{}
