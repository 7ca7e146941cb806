// Package compare explains the accuracy a quantized model lost, layer by
// layer: it runs the FP32 model (FLOAT) and its quantized form (QUANT) on
// the same samples and reports, as text and as JSON,
//
//  1. per graph output: SQNR, cosine similarity, largest absolute error
//     and, for score-like outputs, top-1 agreement;
//  2. per quantized activation of QUANT (each QuantizeLinear of a computed
//     tensor): the cumulative SQNR of the quantized run's dequantized
//     tensor against FLOAT's tensor of the same name, the range [lo, hi]
//     the Q/DQ represents and the share of FP32 values it clips;
//  3. per quantized layer (each node reading a DequantizeLinear output:
//     Conv, MatMul, Gemm in Q/DQ units, and Add, AveragePool, Concat,
//     MaxPool… between Q/DQ pairs; an If, Loop or Scan whose bodies hold
//     or read a DequantizeLinear is one layer, measured at its outputs,
//     with no --exclude-node pattern of its own): the error the layer adds
//     when it alone is quantized, most harmful first;
//  4. the --exclude-node patterns of the most harmful layers.
//
// # Matching tensors
//
// Tensors are matched by name. onnxq keeps activation names, and its
// passes rename a value they rewrite (fold-batchnorm gives the folded
// output the BatchNormalization output's name; the equalization passes
// add "_equalized"), so equal names mean equal values. A value the
// equalization passes rescaled per channel is recorded in QUANT's
// metadata_props entry "onnxq.rescaled" (passes.RescaledKey: a JSON list
// of {value, original, axis, factors}): it is FLOAT's tensor "original"
// with channel c along axis multiplied by factors[c]. Such an activation
// is compared as QUANT's dequantized tensor divided by the factors
// against FLOAT's original tensor; a layer reading it is fed FLOAT's
// original tensor times the factors, and a layer writing it has its
// output divided by the factors before the comparison. A record with a
// zero or non-finite factor makes the value skipped, with the reason;
// records of values QUANT lacks are ignored, and a value FLOAT records
// with the same factors (an equalized FP32 model) matches by name.
//
// A tensor with no FLOAT tensor of its name, or of another shape, is
// skipped and listed with the reason, never compared. One rewrite keeps names: the quantizer
// folds a Relu/Clip/Max/Min into the QuantizeLinear that follows the
// producer; the Q/DQ then stands for the clipped tensor, so an activation
// whose FLOAT tensor's only reader is such an op, absent from QUANT, is
// compared with that op's output ("reference", "folded").
//
// # Attribution
//
// During the FP32 run, each quantized node runs again alone, in a session
// built once: its computed inputs pass through their own Q/DQ pairs, its
// weights and biases are dequantized from QUANT, and its other inputs are
// FLOAT's tensors. The error energy of its output against FLOAT's output of
// the same name, over the FP32 output energy, is the noise-to-signal ratio
// the layer adds (local_nsr). Multiplied by the layer's reach, the factor
// a noise-to-signal ratio at the layer's output is multiplied by on its
// way to the worst model output (or the one Options.Output names), it
// estimates the layer's share of that output's error ("harm"); layers are
// sorted by it. The local figure alone
// ranks early layers too low: their noise passes through every later
// layer. The reach comes from a linear model of how noise flows (see
// reach.go): each layer's gain is solved from the cumulative error of its
// output in the quantized run, its own error and the error that entered
// through its inputs before their rounding, and the gains multiply along
// every path to the worst output. Ops outside Q/DQ keep the ratio, except
// a float tail that depends on one activation alone (a Sigmoid after the
// last layer), whose gain is measured from the two ratios. A value read
// inside an If, Loop or Scan body goes on through the outputs of the node
// that owns the body, taken as a float op.
//
// Where FLOAT's readers of a tensor clamp it (a Relu, a Clip or a Max
// against a constant, through LeakyRelu and data movement, as
// passes.DeadBounds finds), values beyond the bound act as the bound
// downstream, and the quantizer narrows the range to it: both the
// activation figures and a layer's output are compared with the values
// clamped there, so that clipping nothing downstream can tell apart is
// not counted as error. With Options.Integer the one-node
// model runs in the integer execution form too (QLinearConv with a float
// output), as the quantized run does. This costs about one more run of
// the quantized model. FP32 tensors are compared as the runtime produces them
// (runtime.Options.Observer), held for the comparison worker instead of
// copied (runtime.Options.Hold) and handed back once it, the layers
// reading them and the histogram counter are done, at the latest when the
// sample ends; the quantized run keeps only one sample's codes. A layer
// whose input or output the equalization rescaled folds the factors into
// its per-channel quantization and weight scales rather than running ops
// of its own; the one-node sessions share one buffer pool. Memory does not
// grow with the number of samples (BenchmarkCompareMemory).
//
// # Histograms
//
// With Options.Histograms = k, Report.Histograms holds the FP32 value
// histograms (calib's histogram observer, HistogramOptions) of the k
// activations with the lowest SQNR, each with the range every method of
// HistogramMethods picks on its counts. The worst are only known at the
// end, and counting every activation costs nearly a run, so nothing is
// counted on the first sample; from the second on only the candidates
// are, the k+2 of lowest SQNR after the first sample, which count the
// first sample too in one more FP32 run of it (beside the comparisons of
// the last sample); at the end the k worst of them are reported (a worst
// activation outside them is passed over for the next).
// Each histogram holds Options.Bins counts whatever the samples. A tensor
// with dead bounds is counted clamped to them, as quant.Calibrate
// observes it, so the methods' ranges are those quantization would pick.
// The histograms are for the HTML report (package report), not the JSON.
//
// Top-1 rule: an output counts as a score vector when it is float32 in
// both models with equal shapes, of rank >= 1, with a last axis of two or
// more, and FLOAT's graph makes that axis hold class scores
// (passes.ScoreOutput: a Softmax over it, a Gemm or MatMul, a flattened
// global pooling, through ops that keep it last). Every vector along the last axis is one decision; top1.agree
// counts those whose argmax (first on ties) is the same, top1.total all
// of them (the samples, for a [1, classes] output) but those where FLOAT
// has a NaN or infinite score, which decide nothing; a non-finite score
// of QUANT's where FLOAT's are finite is a disagreement.
//
// # JSON schema (schema_version 2)
//
// Numbers are written with fixed precision so reports compare as text:
// dB with two decimals, cosine with six, other ratios and errors with four
// significant digits, ranges with six. A non-finite number is null: an
// SQNR of identical tensors (infinite) or of an all-zero reference, or
// -Inf where QUANT writes a non-finite value where FLOAT's is finite.
// Positions where FLOAT's tensor is NaN or infinite are left out of every
// figure, as in every SQNR onnxq measures; an output with non-finite
// values only QUANT writes is not the one layers are attributed to (the
// worst finite one is, unless Options.Output names it).
//
//	schema_version   int     2
//	float_model      string  FLOAT as given
//	quant_model      string  QUANT as given
//	samples          int     samples run through both models
//	integer          bool    QUANT ran in onnxq's integer execution form
//	outputs[]        per graph output of QUANT, in its order:
//	  name           string
//	  shape          []int   QUANT's, in the first sample (skipped ones too)
//	  sqnr_db        dB      10·log10(Σref²/Σ(q−ref)²), pooled over samples
//	  cosine         1       Σref·q/√(Σref²·Σq²), pooled
//	  max_abs_error  output units  max |q−ref| (null where FLOAT is
//	                 NaN or infinite at every element: nothing compared)
//	  top1           {agree, total} vectors, for score-like outputs only
//	                 (absent when FLOAT decides none)
//	  differing      {count, total} elements that differ, for integer and
//	                 bool outputs only (their sqnr_db and cosine are null)
//	  skipped        string  why the output was not compared (optional)
//	activations[]    per activation QuantizeLinear of QUANT, graph order:
//	  name           string  the QuantizeLinear's input
//	  reference      string  FLOAT's tensor compared (name or folded op's output)
//	  folded         string  op type folded into the Q/DQ (optional)
//	  rescaled       bool    name is a rescaled value (optional, true):
//	                         compared divided by its factors; lo, hi
//	                         in QUANT's rescaled units
//	  lo, hi         tensor units  (qmin−zp)·scale, (qmax−zp)·scale
//	  sqnr_db        dB      dequantized quantized-run tensor vs FP32, pooled
//	  clipped        1       share of FP32 values outside [lo−s/2, hi+s/2]
//	                         (s the scale: saturated beyond rounding)
//	  peak           1       the loudest clipped value over the end it passed,
//	                         y/hi or y/lo (optional: only when values clip
//	                         past a non-zero end)
//	  clamped_below  number  where FLOAT's readers clamp the reference from
//	  clamped_above  number  below / above (optional; values beyond are
//	                         compared at the bound)
//	  elements       int     values compared over all samples
//	activations_skipped[]  {name, reason}
//	layers[]         per quantized node, most harmful first:
//	  node           string  node name ("(Op #k)" when unnamed)
//	  op             string  op type
//	  output         string  QUANT's node output the figures are about
//	  local_sqnr_db  dB      the node's output, it alone quantized, vs FP32
//	  local_nsr      1       the same as Σerr²/Σref²
//	  cumulative_sqnr_db dB  the quantized run's tensor at that output
//	                         (null when it is not a quantized activation)
//	  reach          1       factor a noise-to-signal ratio at the output
//	                         is multiplied by at the attributed output
//	  harm           1       local_nsr·reach: the share of the attributed
//	                         output's Σerr²/Σref² put down to the node
//	                         (sort key)
//	  exclude        string  --exclude-node pattern for it (optional;
//	                         absent where exclusion would change nothing:
//	                         a float op that reads another node's Q/DQ,
//	                         a Sigmoid after a Conv's unit; a data move
//	                         or MaxPool requantized on its input's grid)
//	layers_skipped[] {name, reason}
//	attributed_output string the output reach and harm are measured at:
//	                         the worst, or Options.Output ("" when none
//	                         could be compared)
//	harm_explained   1       the harms added up over the attributed output's
//	                         Σerr²/Σref² (null when unknown)
//	exclude_node[]   string  patterns of the top layers (Options.Exclusions)
//
// Fields may be added without a version change; renaming, removing or
// changing the meaning of one raises schema_version. Version 2 compares
// tensors within the bounds later clamps cut them to (sqnr_db, clipped
// and local_sqnr_db of such tensors; clamped_below, clamped_above) and
// estimates reach from the flow of noise through the layers below; in
// version 1 it was the worst output's noise-to-signal ratio over the
// cumulative one at the node's output.
package compare
