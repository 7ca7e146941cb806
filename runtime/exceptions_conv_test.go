package runtime

// exceptionsConv lists node tests of this kernel family that are not run, with the reason.
var exceptionsConv = map[string]string{}
