package runtime

// exceptionsOther lists node tests of this kernel family that are not run, with the reason.
var exceptionsOther = map[string]string{}
