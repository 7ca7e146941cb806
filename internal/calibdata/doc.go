// Package calibdata turns a calibration path (a folder of sample folders,
// .npz files, ONNX test_data_set_N folders, images, or a single .npy/.npz)
// into a numbered sequence of input samples for a model, and makes
// synthetic samples when no data is given.
//
// Invariants:
//   - Samples are ordered by name, runs of digits by their value
//     (sample_2 before sample_10; zero-padded names such as sample_NNN
//     sort as plain text does), so the same path always gives the same
//     sequence; Sample(i) is random access and reading it twice
//     gives equal tensors.
//   - Every sample Open accepts has exactly the model's inputs, each with
//     the input's dtype (never converted: a float64 array for a float32
//     input is refused) and a shape that matches the declared one: the same
//     rank, known dimensions equal, and symbolic dimensions free but equal
//     across the inputs of one sample that share a name.
//   - Open reads every sample once to check it, so bad data fails before
//     any work starts; Source keeps no tensors, so memory does not grow with
//     the number of samples.
//   - Errors are one line naming the file or folder and the problem.
//   - Synthetic samples are a pure function of (inputs, index, seed):
//     float inputs are normal(0,1), integer and bool inputs zero, symbolic
//     dimensions 1.
//   - Images are scaled to [0,1] (pixel/255) before (x-mean)/std, so Mean
//     and Std are in [0,1] units; resizing is bilinear with half-pixel
//     centres.
package calibdata
