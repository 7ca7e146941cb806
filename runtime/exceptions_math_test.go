package runtime

// exceptionsMath lists node tests of the elementwise, activation,
// reduction and normalization kernels that are not run, with the reason.
var exceptionsMath = map[string]string{
	// ONNX 1.12 made the expected bfloat16 by truncating float32; ONNX
	// (and onnxq) now round to nearest even, as the 1.22 test expects.
	"libonnx-1.12/test_cast_FLOAT_to_BFLOAT16": "expected output truncates float32 to bfloat16; the current Cast definition rounds to nearest even",
	// The "like" input of these 1.12 tests is declared [3,4] but stored as
	// a one-element tensor, so the run is refused as a shape mismatch.
	"libonnx-1.12/test_castlike_BFLOAT16_to_FLOAT":          "test data feeds a [1] tensor to the input declared [3,4]",
	"libonnx-1.12/test_castlike_BFLOAT16_to_FLOAT_expanded": "test data feeds a [1] tensor to the input declared [3,4]",
	"libonnx-1.12/test_castlike_FLOAT_to_BFLOAT16":          "test data feeds a [1] tensor to the input declared [3,4]",
	"libonnx-1.12/test_castlike_FLOAT_to_BFLOAT16_expanded": "test data feeds a [1] tensor to the input declared [3,4]",
}
