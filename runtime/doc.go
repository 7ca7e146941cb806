// Package runtime executes ONNX graphs: onnxq's reference runtime for
// calibration, accuracy comparison and golden tests.
//
// A Session is built from a *graph.Model: every node of every graph
// (If/Loop/Scan bodies included) gets its kernel from a Registry, whose
// Builder reads the node's attributes once for the imported opset; an op
// without a kernel fails NewSession with the op, the node and the opset.
// Run takes and returns Tensors by name. Shapes are those of the actual
// data: symbolic dimensions and Shape/Reshape chains resolve as they run.
//
// Layout: a Tensor is dense and row-major; Data holds a Go slice whose
// element type follows DType (see Tensor). Sub-byte integer types hold one
// element per byte; float8 and float4 types hold bit patterns.
//
// Buffers: the plan knows each value's last reader and releases the value
// right after it; float32, uint8 and int8 buffers return to a pool that
// later allocations reuse (8-bit ones cleared first, so Alloc still hands
// out zeroed 8-bit tensors), so peak activation memory (Stats.PeakBytes)
// stays far below the sum of all intermediates (Stats.TotalBytes). A kernel output may share
// an input's data only through Context.View. Constants and caller-owned
// tensors are never recycled. Session.Recycle hands a run's outputs back;
// Options.Hold lets an Observer keep the tensors of chosen values (handed
// back with Session.Release once every holder is done) instead of copying
// them; Options.Pool shares one pool between sessions run one after
// another. A DequantizeLinear that reads only
// initializers (a QDQ model's float weights and biases) runs once, in
// NewSession, and its output is a constant (up to 64 MiB of them; not
// with an Observer, which sees every node's output as it runs). One tensor
// may take at most half the machine's memory (or of GOMEMLIMIT): a larger
// one fails its node with an error rather than ending the process.
//
// Kernels are registered per op family, one file each (elementwise.go,
// conv.go, gemm.go, quant.go, ...), through the registerX calls of
// DefaultRegistry; heavy loops live in runtime/kernels (assembly with pure
// Go twins). Results are deterministic: the thread count (Options.Threads,
// Context.Parallel) never changes how an element is computed, so outputs
// are bit-identical for any number of threads. Integer kernels accumulate
// in int32 and are exact; Options.Requantizer chooses how QLinearConv and
// QLinearMatMul requantize (float32 as ONNX Runtime, or fixed point:
// quant_fixed.go). Besides the ONNX ops the registry holds onnxq's own
// ai.onnxq ops that the lower package fuses (QLinearConv with a HardSwish
// activation, QLinearAdd, QLinearMul, QLinearAveragePool,
// QLinearGlobalAveragePool, QLinearConvTranspose: quant_convtranspose.go,
// and Requantize: QuantizeLinear(DequantizeLinear(x)) of 8-bit x as a
// 256-byte table built with the runtime's own Q/DQ kernels,
// quant_requantize.go).
//
// Options.TimeOps makes RunWithStats report the time per op type
// (Stats.OpTimes, 'onnxq bench --ops').
//
// Options.Observer sees every value as it is produced. RunNodeTest and
// CompareTensors run ONNX test folders with the backend tolerances. The
// runtime never imports passes, lower or calib.
package runtime
