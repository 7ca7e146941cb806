package lower_test

import (
	"math"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// filterbankLog is a waveform through a Reshape into a filterbank Conv
// whose output a Log reads (past the depth at which such a Conv stays
// FP32), then two 1x1 Convs with a Relu between: the quantizer gives the
// waveform 16-bit Q/DQ and the rest 8-bit.
func filterbankLog(t *testing.T, opset int64) *graph.Model {
	t.Helper()
	b := graph.NewBuilder(opset)
	x := b.Input("x", graph.Float32, 1, 1, 1, 64)
	xr := b.Op("Reshape", x, b.Const(graph.FromInt64s("s0", []int64{4}, []int64{1, 1, 1, 64})))
	w := make([]float32, 4*8)
	for i := range w {
		w[i] = float32(math.Cos(float64(i) * 0.7))
	}
	spec := b.Op("Conv", xr, b.Const(graph.FromFloat32s("w", []int64{4, 1, 1, 8}, w)), graph.IntsAttr("strides", 1, 4))
	perm := graph.IntsAttr("perm", 0, 1, 3, 2)
	y := b.Op("Transpose", b.Op("Transpose", b.Op("Neg", spec), perm), perm)
	y = b.Op("Reshape", y, b.Const(graph.FromInt64s("s", []int64{4}, []int64{1, 4, 1, 15})))
	sum := b.Op("ReduceSum", b.Op("Mul", y, y), b.Const(graph.FromInt64s("axes", []int64{1}, []int64{2})))
	// a gain stage: eight arithmetic ops from the Conv to the Log
	mag := b.Op("Abs", b.Op("Sqrt", sum))
	mag = b.Op("Mul", b.Op("Mul", mag, b.Const(graph.FromFloat32s("g1", nil, []float32{4}))), b.Const(graph.FromFloat32s("g2", nil, []float32{0.25})))
	lg := b.Op("Log", b.Op("Add", mag, b.Const(graph.FromFloat32s("eps", nil, []float32{1e-6}))))
	w2 := make([]float32, 4*4)
	for i := range w2 {
		w2[i] = float32(i%5) - 2
	}
	c2 := b.Op("Relu", b.Op("Conv", lg, b.Const(graph.FromFloat32s("w2", []int64{4, 4, 1, 1}, w2))))
	b.Output(b.Op("Conv", c2, b.Const(graph.FromFloat32s("w3", []int64{4, 4, 1, 1}, w2))))
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Units with 16-bit activations (com.microsoft Q/DQ below opset 21,
// default-domain uint16 from 21) stay DequantizeLinear → float op →
// QuantizeLinear: the filterbank Conv and the Reshape before it are not
// lowered, while the 8-bit Convs after the Log are; the lowered model
// gives the QDQ model's outputs.
func TestWideUnitsNotLowered(t *testing.T) {
	for _, opset := range []int64{13, 21} {
		m := filterbankLog(t, opset)
		src := quantizeSynthetic(t, m, 4, 3)
		wide := 0
		for _, n := range m.Graph.Nodes {
			if n.OpType == "QuantizeLinear" && n.Input(2) != nil && n.Input(2).DType == graph.Uint16 {
				wide++
			}
		}
		if wide == 0 {
			t.Fatalf("opset %d: no 16-bit QuantizeLinear to test", opset)
		}
		low, rep, _ := lowerModel(t, m)
		// conv2 becomes QLinearConv; conv3 stays float for its graph output
		if rep.Lowered["QLinearConv"] != 1 {
			t.Errorf("opset %d: lowered %v, want the 8-bit Conv between the Log and the Relu as QLinearConv", opset, rep.Lowered)
		}
		if rep.Moved["Reshape"] != 0 {
			t.Errorf("opset %d: the 16-bit Reshape moved to the integers: %v", opset, rep.Moved)
		}
		wideConvs, wideQ := 0, 0
		for _, n := range low.Graph.Nodes {
			switch {
			case n.OpType == "Conv":
				if p := n.Input(0).Producer; p != nil && p.OpType == "DequantizeLinear" && p.Input(2) != nil && p.Input(2).DType == graph.Uint16 {
					wideConvs++
				}
			case n.OpType == "QuantizeLinear" && n.Input(2) != nil && n.Input(2).DType == graph.Uint16:
				wideQ++
			}
		}
		if wideConvs != 1 || wideQ != wide {
			t.Errorf("opset %d: %d float Convs reading 16 bits and %d of %d 16-bit Q after lowering, want 1 and all", opset, wideConvs, wideQ, wide)
		}
		outputsClose(t, m, low, src, 1, func(float32) float64 { return 0 })
	}
}
