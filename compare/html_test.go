package compare_test

import (
	"io"

	"github.com/onnxq/onnxq/compare"
	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/report"
)

// The HTML variant of BenchmarkCompare renders the page with the report
// package, which imports compare.
func init() {
	compare.SetHTMLWriter(func(w io.Writer, r *compare.Report, float, quant *graph.Model) error {
		return report.Write(w, report.Input{Compare: r, Float: float, Quant: quant, FloatFile: "float.onnx", QuantFile: "quant.onnx"})
	})
}
