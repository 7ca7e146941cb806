package passes

import (
	"fmt"
	"slices"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/qdq"
)

// Gathered tables. A Gather shares its output's grid with its data; when
// the data is a constant table (an embedding) and every reader of the
// output reads it through its QuantizeLinear, the table can be stored on
// that grid, DequantizeLinear → Gather → QuantizeLinear: the same values
// come out (gathering commutes with rounding each value onto one grid,
// and the QuantizeLinear after it clips what the table's rounding
// clipped), the file holds the table in 8 bits rather than 32, and ONNX
// Runtime gathers the 8-bit values directly, dropping the pair. A table
// also read elsewhere (a tied embedding's output projection) keeps its
// float copy for that reader.

// quantizeGatherTables stores the constant tables of g's quantized
// Gathers on their outputs' grids.
func (q *quantizer) quantizeGatherTables(g *graph.Graph) error {
	for _, n := range slices.Clone(g.Nodes) {
		if n.OpType != "Gather" || n.Domain != "" && n.Domain != "ai.onnx" || len(n.Outputs) != 1 || !q.isActive(n) {
			continue
		}
		table, out := n.Input(0), n.Outputs[0]
		data := table.ConstFloat32s()
		dq, qn := q.dqOf[out], q.qNode[out]
		if data == nil || dq == nil || qn == nil {
			continue
		}
		if slices.ContainsFunc(out.Consumers, func(c *graph.Node) bool { return c != qn }) {
			continue // a reader of the float output would see the rounded table
		}
		p, ok := q.dqParam[dq]
		if !ok {
			continue
		}
		codes := make([]int32, len(data))
		for i, x := range data {
			codes[i] = qdq.QuantizeValue(x, p.scale, p.zp, p.t)
		}
		qt, err := q.addInit(g, table.Name+"_quantized", dtypeOf(p.t), table.Const.Dims, intBytes(codes, p.t))
		if err != nil {
			return err
		}
		sv, zv := qn.Input(1), qn.Input(2)
		i := q.gen("dq")
		dn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("DQ_table%d", i)), OpType: "DequantizeLinear", Domain: qn.Domain, Inputs: []*graph.Value{qt, sv, zv}}
		if err := g.InsertNode(slices.Index(g.Nodes, n), dn, q.uniq(g, fmt.Sprintf("dq_table%d", i))); err != nil {
			return err
		}
		dn.Outputs[0].DType, dn.Outputs[0].Shape = graph.Float32, graph.Fixed(table.Const.Dims...)
		n.SetInput(0, dn.Outputs[0])
		q.report.TablesQuantized++
	}
	return nil
}
