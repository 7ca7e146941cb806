package compare

import (
	"io"

	"github.com/onnxq/onnxq/graph"
)

// SetHTMLWriter lets the external test package (which may import the
// report package, itself an importer of compare) give BenchmarkCompare
// the HTML rendering to time.
func SetHTMLWriter(f func(w io.Writer, r *Report, float, quant *graph.Model) error) { htmlWriter = f }
