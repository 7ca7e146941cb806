package runtime

// exceptionsExtra lists node tests of the attention, vision, signal and loss kernels that are not run, with the reason.
var exceptionsExtra = map[string]string{}
