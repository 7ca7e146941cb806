// Package report renders the accuracy report of a quantized model as one
// self-contained HTML file: inline CSS and inline SVG charts, no script,
// no external reference of any kind (no URL, no stylesheet or image
// file), so it opens anywhere, offline, and can be attached or archived
// as is.
//
// The report is drawn from compare's Report (run with
// compare.Options.Histograms) and the two models:
//
//  1. summary: the files and their sizes, opset, samples, the outputs
//     table (SQNR, cosine, largest error, top-1) and the INT8 MAC
//     coverage (package internal/macs, as "onnxq inspect" prints it);
//  2. layers: a horizontal bar chart of the layers most harmful first,
//     each with its local and cumulative SQNR, then the cumulative SQNR of
//     every quantized activation in graph order with the worst
//     highlighted, a table of the activations whose clipped values went
//     furthest past their range (compare's peak), and the suggested
//     --exclude-node patterns;
//  3. histograms of the worst activations' FP32 values over the samples
//     (calib's histogram observer) with the clip range each calibration
//     method picks on those counts and the range QUANT's Q/DQ uses;
//  4. per output channel, the FP32 weight range of the most harmful
//     weighted layers against the range the quantized weights represent,
//     and each channel's quantization step;
//  5. sizes and coverage.
//
// Every chart is an <svg class="chart"> with an aria-label, a title and
// labelled axes. The bytes depend only on the inputs: numbers are printed
// with fixed precision and nothing is read from the clock or from map
// order.
package report
