// Package calib observes activation values during calibration runs and
// turns them into ranges: MinMax, moving-average MinMax, histogram-based
// entropy (KL), percentile, MSE and auto observers.
//
// Observers use a fixed amount of memory per tensor whatever the number of
// samples, merge with one another, and serialise, so calibration can be
// split and combined. The package never sees a graph: the runtime hands it
// tensors through its observer hook, and only depends on qdq.
//
// # Use
//
// A Collection holds one Observer per tensor name, all of one Method
// ("minmax", "ema", "entropy", "percentile", "mse", "auto") and one Options:
//
//	c, err := calib.New(calib.Entropy, calib.Options{}) // zero fields: defaults
//	c.Observe("conv1/out", values)                      // once per sample
//	ranges := c.Ranges()                                // map name → Range{Min, Max}
//
// # Invariants
//
//   - NaN and ±Inf values are ignored and counted (Stats). A tensor with no
//     finite value has the range (0, 0); a constant tensor c has (c, c):
//     widening a degenerate range is qdq.ParamsFromRange's job.
//   - Every range lies inside the observed [min, max] of the finite values.
//   - Deterministic: the same batches in the same order give the same
//     ranges and the same saved bytes. For MinMax and the histogram methods
//     the state does not even depend on the order of batches.
//   - Memory per tensor is fixed: MinMax and EMA keep two numbers, the
//     histogram methods Options.Bins (default 2048) uint64 counts.
//     HeldBytes reports it; BenchmarkEntropyMemory shows it flat from 32 to
//     512 samples.
//
// # Histograms
//
// The bins have width w = 2^e and are anchored at zero: without
// Options.Signed bin i counts |x| in [i·w, (i+1)·w); with it, bin i counts
// x in [(i−Bins/2)·w, (i−Bins/2+1)·w). e is always the least exponent at
// which the observed minimum and maximum fit, so the data fills between
// half and all of the bins. When a batch widens the range, e grows and
// neighbouring bins merge by pairs (a factor 2^d in one step), in place.
// Because doubling the width merges bins exactly, the histogram is a
// function of the multiset of values seen, and merging two observers
// equals observing all their values: Merge is exact and order-independent
// for MinMax, entropy, percentile and MSE (the tests compare the saved
// bytes of merged halves with the whole).
//
// Ranges from a histogram:
//
//   - entropy: TensorRT's KL search. For every window of at least
//     QuantBins (128) bins — [0, i·w) of |x|, or [−i·w, i·w) of x when
//     Signed — P is the window with the mass outside folded into its end
//     bins, Q the window merged into QuantBins levels spread back over P's
//     non-empty bins; Q's empty bins under P's mass get probability 1e-4.
//     The window with the least KL(P‖Q) wins, the narrowest on ties; the
//     range is ±its edge. Exact zeros (counted apart as well as in their
//     bin) are left out of P and Q: zero is always exactly representable,
//     and the zeros of a Relu output would otherwise pull the threshold
//     far down; so are the values exactly at the extreme nearer zero (the
//     floor of Max(x, −0.4)) when the narrowest window keeps that extreme.
//     Windows start QuantBins bins past the empty bins between
//     zero and the data nearest it (else data far from zero, e.g. in
//     [0.1, 0.8], folds into a window's end bin with KL 0 and the range
//     keeps nothing), and clip at most 1% of the non-zero values (so a
//     handful of values, a classifier's logits, keeps its whole range).
//     Prefix sums make each window cost O(QuantBins).
//   - percentile (default 99.999): without Signed, the threshold t is the
//     upper edge of the bin where the count of larger |x| drops to at most
//     (1−p/100)·N, and the range is [−t, t]; with Signed, the lower and upper
//     bounds are the (100−p)th and pth percentiles of x, each taken the
//     same way from its own side. Percentile 100 gives the MinMax range.
//   - mse: over every symmetric threshold t at a bin edge, the clipped
//     range is turned into a scale by qdq.ParamsFromRange with
//     Options.Range (default int8, asymmetric), and the expected squared
//     error is the values inside times scale²/12 plus, for the bins beyond
//     the bounds, count·(centre − bound)². The least error wins, the
//     narrowest t on ties.
//   - auto: the MinMax range unless a side's extreme is a rare outlier:
//     with q the edge beyond which at most 0.15% of the values lie, the
//     extreme exceeds 2.5·q. Without Signed the threshold is then the mse
//     search restricted to t ≥ q (so the bulk is always kept); with Signed
//     each such side is clipped at its own q. Fewer than ~670 values never
//     clip.
//
// Every chosen range is then clamped into the observed [min, max], so a
// one-sided tensor (a Relu output) keeps its lower bound near zero.
//
// # Moving average
//
// The EMA observer sets min and max from the first batch holding a finite
// value and then moves each by Options.EMAConstant (0.01) times the
// difference to the batch's extreme. Its result depends on the batch order.
// Merging two EMA observers that saw n1 and n2 batches averages their
// extremes weighted by n1 and n2, for n1+n2 batches: commutative, but not
// equal to observing the concatenated batches.
//
// # Saved form
//
// Save writes one line of JSON (Load reads it back):
//
//	{"format":"onnxq-calib","version":1,"method":"entropy",
//	 "options":{"bins":2048,"quant_bins":128,"percentile":99.999,"ema_constant":0.01,
//	            "signed":false,"type":"int8","symmetric":false,"restricted":false,"reduce_range":false},
//	 "tensors":[{"name":"…","state":{…}}, …]}
//
// with tensors sorted by name and, per method, the state: MinMax
// {"min","max","stats"}; EMA {"constant","min","max","stats"}; histograms
// {"method","bins","signed","min","max","offset","counts","zeros","at_min",
// "at_max","stats"} where counts run from the first to the last non-empty
// bin starting at bin offset (the width follows from min and max), zeros,
// at_min and at_max count the values exactly 0, min and max (at_min and
// at_max omitted when 0; states without them load with 0). Load checks that every
// state is consistent (counts sum to the values, fit the range) and
// rejects unknown fields.
package calib
