// Command onnxq compiles ONNX models to INT8 and offers tools to look at
// and re-write models.
//
// Usage:
//
//	onnxq MODEL -o OUT [--calib PATH] quantize MODEL to INT8 (QDQ)
//	onnxq convert MODEL -o OUT    re-write MODEL through onnxq's IR
//	onnxq inspect MODEL [--json]  describe MODEL
//	onnxq run MODEL --input NAME=FILE ... [-o DIR]
//	                              run MODEL in onnxq's reference runtime
//	onnxq verify DIR...           run ONNX test folders and compare outputs
//	onnxq compare FLOAT QUANT --data PATH [--json OUT] [--top N]
//	                              explain a quantized model's accuracy loss
//	onnxq bench MODEL [--threads N] [--runs N] [--ort ort-run.js]
//	                              time MODEL (optionally beside ONNX Runtime)
//	onnxq help [COMMAND]          list the commands, or show one's flags
//	onnxq --version
//
// The main job prepares the FP32 graph, calibrates activation ranges on
// the --calib samples (or, with a warning, --synthetic random ones), inserts
// QuantizeLinear/DequantizeLinear by the passes package's rule table, writes
// OUT atomically and prints what was quantized and the SQNR of each output
// against FP32. It refuses an already quantized model and never overwrites
// its input.
//
// The first argument picks the command: a subcommand name, or else a model
// file (an existing file, or a path ending in .onnx) for the main job.
// Anything else is an unknown command.
//
// convert loads a model, checks it and writes it back; an unchanged model
// is written byte for byte. --external-data SIZE moves tensors of at least
// SIZE bytes to one data file beside the output (SIZE: 1024, 64KiB, 1MiB,
// 100kB, 1MB; K, M and G mean KiB, MiB and GiB), named by
// --external-data-name (default: the output's name + ".data"). It refuses to
// overwrite its input, and a failed conversion leaves no output file.
//
// inspect reports IR and opset versions, producer, graph inputs and outputs
// with their shapes, the count of each op type (nodes inside If/Loop/Scan
// bodies included), parameters per element type (initializers and Constant
// nodes), multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul from
// inferred shapes, quantization nodes, subgraphs, model-local functions and
// metadata. --json prints the same as one JSON object (see Report).
//
// run feeds inputs from .npy, .npz or TensorProto .pb files, a sample folder
// (--input-dir), or --random with --seed, and writes the outputs as .npy
// with -o. verify runs model.onnx + test_data_set_N folders with the ONNX
// backend tolerances and exits 0 only when all pass. bench reports median
// and minimum latency, peak activation memory and peak RSS; --ort times
// the same inputs in ONNX Runtime and prints the ratio. compare runs an
// FP32 model and its quantized form on samples and reports the error per
// output, per quantized activation and per quantized layer (each alone
// quantized), most harmful first, with --exclude-node patterns to try;
// --json writes the report (package compare documents the schema).
//
// Errors are one line on stderr starting "onnxq: ". Exit status: 0 success,
// 1 failure, 2 a bad command line (the message is followed by the usage).
package main
