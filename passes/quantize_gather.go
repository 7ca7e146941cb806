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

// A large table whose Gather output float ops read (the token embedding
// of a BERT-style encoder, added to the position embedding before a layer
// norm) is, with QuantOptions.WeightOnly, stored on a grid of its own
// spanning all its values: DequantizeLinear → Gather → QuantizeLinear →
// DequantizeLinear, so that ONNX Runtime gathers 8-bit rows and
// dequantizes only those, rather than the whole table every run. Such
// tables are a fifth of BERT-base's weights.

// quantizeGatherTables stores the constant tables of g's Gathers in 8
// bits: on their outputs' grids where those are quantized, on their own
// (weight-only) where float ops read them.
func (q *quantizer) quantizeGatherTables(g *graph.Graph) error {
	for _, n := range slices.Clone(g.Nodes) {
		if n.OpType != "Gather" || n.Domain != "" && n.Domain != "ai.onnx" || len(n.Outputs) != 1 {
			continue
		}
		if !q.isActive(n) {
			if err := q.weightOnlyTable(g, n); err != nil {
				return err
			}
			continue
		}
		table, out := n.Input(0), n.Outputs[0]
		dq, qn := q.dqOf[out], q.qNode[out]
		if table.ConstFloat32s() == nil || dq == nil || qn == nil {
			continue
		}
		if slices.ContainsFunc(out.Consumers, func(c *graph.Node) bool { return c != qn }) {
			continue // a reader of the float output would see the rounded table
		}
		p, ok := q.dqParam[dq]
		if !ok {
			continue
		}
		if err := q.readTableQuantized(g, n, qn, p); err != nil {
			return err
		}
	}
	return nil
}

// readTableQuantized makes Gather n read its float32 table quantized with
// p, through a DequantizeLinear of the scale and zero point of qn, the
// QuantizeLinear of n's output.
func (q *quantizer) readTableQuantized(g *graph.Graph, n, qn *graph.Node, p actParams) error {
	table := n.Input(0)
	data := table.ConstFloat32s()
	codes := make([]int32, len(data))
	for i, x := range data {
		codes[i] = qdq.QuantizeValue(x, p.scale, p.zp, p.t)
	}
	qt, err := q.addInit(g, table.Name+"_quantized", dtypeOf(p.t), table.Const.Dims, intBytes(codes, p.t))
	if err != nil {
		return err
	}
	i := q.gen("dq_table")
	dn := &graph.Node{Name: q.uniq(g, fmt.Sprintf("DQ_table%d", i)), OpType: "DequantizeLinear", Domain: qn.Domain, Inputs: []*graph.Value{qt, qn.Input(1), qn.Input(2)}}
	if err := g.InsertNode(slices.Index(g.Nodes, n), dn, q.uniq(g, fmt.Sprintf("dq_table%d", i))); err != nil {
		return err
	}
	dn.Outputs[0].DType, dn.Outputs[0].Shape = graph.Float32, graph.Fixed(table.Const.Dims...)
	n.SetInput(0, dn.Outputs[0])
	q.report.TablesQuantized++
	return nil
}

// weightOnlyTable stores the table of Gather n, whose output stays float,
// on a grid spanning its values, with a Q/DQ pair of that grid after n
// for its readers (QuantOptions.WeightOnly; tables under
// weightOnlyMinElems elements, excluded nodes, tables with an FP32
// override and Gathers writing a graph output stay float).
func (q *quantizer) weightOnlyTable(g *graph.Graph, n *graph.Node) error {
	inf := q.info[n]
	table, out := n.Input(0), n.Outputs[0]
	if !q.opts.WeightOnly || inf == nil || inf.excluded || !inf.enabled || !isFloatConst(table) ||
		table.Const.NumElements() < weightOnlyMinElems || out == nil || isGraphOutput(g, out) || len(out.Consumers) == 0 {
		return nil
	}
	if q.keptFloat(table) {
		return nil
	}
	data := table.ConstFloat32s()
	if data == nil {
		return nil
	}
	shape := make([]int, len(table.Const.Dims))
	for i, d := range table.Const.Dims {
		shape[i] = int(d)
	}
	t := q.opts.ActivationType
	wp, err := qdq.WeightParams(data, shape, -1, 0, q.actOptions(t)) // per tensor, over its finite values
	if err != nil {
		return err
	}
	p := actParams{wp.Scale[0], wp.ZeroPoint[0], t}
	readers := slices.Clone(out.Consumers)
	dq, err := q.addQDQ(g, out, p)
	if err != nil {
		return err
	}
	for _, c := range readers {
		for i, in := range c.Inputs {
			if in == out {
				c.SetInput(i, dq)
			}
		}
	}
	if err := q.readTableQuantized(g, n, q.qNode[out], p); err != nil {
		return err
	}
	q.report.WeightOnly = append(q.report.WeightOnly, fmt.Sprintf("%s (%s): %s", n.Name, n.OpType, table.Name))
	return nil
}
