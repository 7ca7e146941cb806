// Tests of the recurrent kernels: option combinations against ONNX Runtime
// (when installed), thread independence and bad inputs; the .npy and ORT
// helpers here serve the other tests of this family too.
package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxq/onnxq/graph"
)

// rqORTScript is the ONNX Runtime runner beside the repository.
const rqORTScript = "../../shared/tools/ort/ort-run.js"

// rqORTAvailable reports whether ONNX Runtime for Node.js is installed
// (ORT_NODE_DIR, see ../shared/tools/ort/install.sh).
func rqORTAvailable() bool {
	dir := os.Getenv("ORT_NODE_DIR")
	if dir == "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return false
	}
	if _, err := os.Stat(rqORTScript); err != nil {
		return false
	}
	_, err := exec.LookPath("node")
	return err == nil
}

// rqWriteNpy writes a float32, float64, int32, int64, uint8 or int8 tensor.
func rqWriteNpy(path string, t *Tensor) error {
	var descr string
	var raw []byte
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		descr = "<f4"
		for _, v := range d {
			raw = le.AppendUint32(raw, math.Float32bits(v))
		}
	case []float64:
		descr = "<f8"
		for _, v := range d {
			raw = le.AppendUint64(raw, math.Float64bits(v))
		}
	case []int32:
		descr = "<i4"
		for _, v := range d {
			raw = le.AppendUint32(raw, uint32(v))
		}
	case []int64:
		descr = "<i8"
		for _, v := range d {
			raw = le.AppendUint64(raw, uint64(v))
		}
	case []uint8:
		descr = "|u1"
		raw = append(raw, d...)
	case []int8:
		descr = "|i1"
		for _, v := range d {
			raw = append(raw, byte(v))
		}
	case []bool:
		descr = "|b1"
		for _, v := range d {
			if v {
				raw = append(raw, 1)
			} else {
				raw = append(raw, 0)
			}
		}
	default:
		return fmt.Errorf("rqWriteNpy: %v not supported", t.DType)
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	out = append(append(out, header...), raw...)
	return os.WriteFile(path, out, 0o644)
}

var (
	rqNpyDescr = regexp.MustCompile(`'descr':\s*'([^']+)'`)
	rqNpyShape = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// rqReadNpy reads a .npy file written by ort-run.js.
func rqReadNpy(path string) (*Tensor, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(buf) < 10 || string(buf[1:6]) != "NUMPY" {
		return nil, fmt.Errorf("%s: not a .npy file", path)
	}
	hlen := int(binary.LittleEndian.Uint16(buf[8:]))
	header := string(buf[10 : 10+hlen])
	body := buf[10+hlen:]
	var shape []int
	for _, s := range strings.Split(rqNpyShape.FindStringSubmatch(header)[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			n, _ := strconv.Atoi(s)
			shape = append(shape, n)
		}
	}
	le := binary.LittleEndian
	var t *Tensor
	switch descr := rqNpyDescr.FindStringSubmatch(header)[1]; descr {
	case "<f4":
		t = New(graph.Float32, shape...)
		for i := range t.F32() {
			t.F32()[i] = math.Float32frombits(le.Uint32(body[4*i:]))
		}
	case "<f8":
		t = New(graph.Float64, shape...)
		d := t.Data.([]float64)
		for i := range d {
			d[i] = math.Float64frombits(le.Uint64(body[8*i:]))
		}
	case "<i4":
		t = New(graph.Int32, shape...)
		d := t.Data.([]int32)
		for i := range d {
			d[i] = int32(le.Uint32(body[4*i:]))
		}
	case "<i8":
		t = New(graph.Int64, shape...)
		d := t.Data.([]int64)
		for i := range d {
			d[i] = int64(le.Uint64(body[8*i:]))
		}
	case "|u1":
		t = New(graph.Uint8, shape...)
		copy(t.Data.([]uint8), body)
	case "|i1":
		t = New(graph.Int8, shape...)
		d := t.Data.([]int8)
		for i := range d {
			d[i] = int8(body[i])
		}
	case "|b1":
		t = New(graph.Bool, shape...)
		d := t.Data.([]bool)
		for i := range d {
			d[i] = body[i] != 0
		}
	default:
		return nil, fmt.Errorf("%s: dtype %s not supported", path, descr)
	}
	return t, nil
}

// rqRunORT runs m in ONNX Runtime on inputs and returns its outputs by name.
func rqRunORT(t *testing.T, m *graph.Model, inputs map[string]*Tensor) map[string]*Tensor {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.onnx")
	if err := graph.Save(m, model, graph.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	args := []string{rqORTScript, model, "--out", filepath.Join(dir, "out"), "--threads", "1"}
	for name, v := range inputs {
		f := filepath.Join(dir, "in_"+name+".npy")
		if err := rqWriteNpy(f, v); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--in", name+"="+f)
	}
	cmd := exec.Command("node", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ort-run: %v\n%s", err, out)
	}
	res := map[string]*Tensor{}
	for _, v := range m.Graph.Outputs {
		r, err := rqReadNpy(filepath.Join(dir, "out", v.Name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		res[v.Name] = r
	}
	return res
}

// rqRunModel runs m in onnxq with the given thread count.
func rqRunModel(t *testing.T, m *graph.Model, inputs map[string]*Tensor, threads int) map[string]*Tensor {
	t.Helper()
	s, err := NewSession(m, Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rqMaxRelErr is max|a-b| / max(1, max|b|), the peer tolerance measure.
func rqMaxRelErr(a, b *Tensor) (float64, error) {
	if !equalShape(a.Shape, b.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", a.Shape, b.Shape)
	}
	x, err := a.AsFloat64()
	if err != nil {
		return 0, err
	}
	y, err := b.AsFloat64()
	if err != nil {
		return 0, err
	}
	worst, scale := 0.0, 1.0
	for i := range y {
		worst = max(worst, math.Abs(x[i]-y[i]))
		scale = max(scale, math.Abs(y[i]))
	}
	return worst / scale, nil
}

func rqRandTensor(rng *rand.Rand, scale float32, shape ...int) *Tensor {
	t := New(graph.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = (rng.Float32()*2 - 1) * scale
	}
	return t
}

// rnnCase is one recurrent node configuration.
type rnnCase struct {
	op                  string
	dir                 string
	layout              int64
	seq, batch, in, hid int
	bias, seqLens, h0   bool
	c0, peep            bool
	clip                float32
	inputForget, lbr    bool
	acts                []string
	alphas, betas       []float32
}

func (c rnnCase) name() string {
	return fmt.Sprintf("%s_%s_l%d_s%d_b%d_i%d_h%d_bias%v_lens%v_h0%v_c0%v_p%v_clip%v_if%v_lbr%v_%s",
		c.op, c.dir, c.layout, c.seq, c.batch, c.in, c.hid, c.bias, c.seqLens, c.h0, c.c0, c.peep, c.clip, c.inputForget, c.lbr, strings.Join(c.acts, "-"))
}

// build returns the model of c and random inputs for it.
func (c rnnCase) build(rng *rand.Rand) (*graph.Model, map[string]*Tensor, error) {
	gates := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[c.op]
	dirs := 1
	if c.dir == "bidirectional" {
		dirs = 2
	}
	b := graph.NewBuilder(14)
	ins := map[string]*Tensor{}
	add := func(name string, t *Tensor) *graph.Value {
		ins[name] = t
		dims := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = int64(d)
		}
		return b.Input(name, t.DType, dims...)
	}
	xShape := []int{c.seq, c.batch, c.in}
	state := []int{dirs, c.batch, c.hid}
	if c.layout == 1 {
		xShape = []int{c.batch, c.seq, c.in}
		state = []int{c.batch, dirs, c.hid}
	}
	args := []any{
		add("X", rqRandTensor(rng, 1, xShape...)),
		add("W", rqRandTensor(rng, 0.6, dirs, gates*c.hid, c.in)),
		add("R", rqRandTensor(rng, 0.6, dirs, gates*c.hid, c.hid)),
	}
	opt := func(on bool, name string, t func() *Tensor) {
		if on {
			args = append(args, add(name, t()))
		} else {
			args = append(args, nil)
		}
	}
	opt(c.bias, "B", func() *Tensor { return rqRandTensor(rng, 0.5, dirs, 2*gates*c.hid) })
	opt(c.seqLens, "sequence_lens", func() *Tensor {
		l := New(graph.Int32, c.batch)
		for i := range l.Data.([]int32) {
			l.Data.([]int32)[i] = int32(1 + rng.Intn(c.seq))
		}
		l.Data.([]int32)[0] = int32(c.seq)
		return l
	})
	opt(c.h0, "initial_h", func() *Tensor { return rqRandTensor(rng, 0.5, state...) })
	if c.op == "LSTM" {
		opt(c.c0, "initial_c", func() *Tensor { return rqRandTensor(rng, 0.5, state...) })
		opt(c.peep, "P", func() *Tensor { return rqRandTensor(rng, 0.5, dirs, 3*c.hid) })
	}
	for len(args) > 0 && args[len(args)-1] == nil {
		args = args[:len(args)-1]
	}
	args = append(args, graph.StringAttr("direction", c.dir), graph.IntAttr("hidden_size", int64(c.hid)),
		graph.IntAttr("layout", c.layout))
	if c.clip > 0 {
		args = append(args, graph.FloatAttr("clip", c.clip))
	}
	if c.inputForget {
		args = append(args, graph.IntAttr("input_forget", 1))
	}
	if c.lbr {
		args = append(args, graph.IntAttr("linear_before_reset", 1))
	}
	if len(c.acts) > 0 {
		args = append(args, &graph.Attribute{Name: "activations", Type: graph.AttrStrings, Strings: c.acts})
	}
	if len(c.alphas) > 0 {
		args = append(args, graph.FloatsAttr("activation_alpha", c.alphas...))
	}
	if len(c.betas) > 0 {
		args = append(args, graph.FloatsAttr("activation_beta", c.betas...))
	}
	nOut := 2
	if c.op == "LSTM" {
		nOut = 3
	}
	outs := b.OpN(c.op, nOut, args...)
	b.Output(outs...)
	m, err := b.Model()
	return m, ins, err
}

func rnnCases() []rnnCase {
	var cases []rnnCase
	for _, op := range []string{"RNN", "GRU", "LSTM"} {
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			for _, layout := range []int64{0, 1} {
				base := rnnCase{op: op, dir: dir, layout: layout, seq: 5, batch: 3, in: 4, hid: 6}
				cases = append(cases, base)
				full := base
				full.bias, full.seqLens, full.h0, full.c0, full.peep = true, true, true, true, true
				cases = append(cases, full)
				if op == "GRU" {
					full.lbr = true
					cases = append(cases, full)
				}
			}
		}
		clip := rnnCase{op: op, dir: "forward", seq: 4, batch: 2, in: 3, hid: 5, bias: true, clip: 0.7}
		cases = append(cases, clip)
	}
	lf := rnnCase{op: "LSTM", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 5, bias: true, inputForget: true}
	cases = append(cases, lf)
	acts := rnnCase{op: "LSTM", dir: "forward", seq: 4, batch: 2, in: 3, hid: 5, bias: true,
		acts: []string{"HardSigmoid", "LeakyRelu", "ScaledTanh"}, alphas: []float32{0.3, 0.2, 0.9}, betas: []float32{0.4, 1.1}}
	cases = append(cases, acts)
	gacts := rnnCase{op: "GRU", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 5, bias: true,
		acts: []string{"Sigmoid", "Softsign", "HardSigmoid", "Elu"}, alphas: []float32{0.25, 0.8}, betas: []float32{0.45}}
	cases = append(cases, gacts)
	racts := rnnCase{op: "RNN", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 5, bias: true,
		acts: []string{"Relu", "Affine"}, alphas: []float32{0.5}, betas: []float32{0.1}}
	cases = append(cases, racts)
	// Large enough for the recurrent step to split over threads.
	big := rnnCase{op: "LSTM", dir: "bidirectional", seq: 3, batch: 2, in: 40, hid: 64, bias: true, seqLens: true, h0: true, c0: true}
	cases = append(cases, big)
	return cases
}

// TestRecurrentAgainstORT compares every configuration with ONNX Runtime
// within 1e-4 relative.
func TestRecurrentAgainstORT(t *testing.T) {
	if !rqORTAvailable() {
		t.Skip("ONNX Runtime not installed (set ORT_NODE_DIR)")
	}
	rng := rand.New(rand.NewSource(1))
	for _, c := range rnnCases() {
		t.Run(c.name(), func(t *testing.T) {
			m, ins, err := c.build(rng)
			if err != nil {
				t.Fatal(err)
			}
			got := rqRunModel(t, m, ins, 3)
			var want map[string]*Tensor
			if c.layout == 0 {
				want = rqRunORT(t, m, ins)
			} else {
				// ONNX Runtime runs layout 0 only: run the twin on
				// transposed inputs and transpose its outputs back.
				twin := c
				twin.layout = 0
				m0, _, err := twin.build(rng)
				if err != nil {
					t.Fatal(err)
				}
				ins0 := map[string]*Tensor{}
				for name, v := range ins {
					switch name {
					case "X", "initial_h", "initial_c":
						v = rqTranspose3(v, 1, 0, 2)
					}
					ins0[name] = v
				}
				want = rqRunORT(t, m0, ins0)
				// The twin's outputs have the same names.
				for _, v := range m.Graph.Outputs {
					w := want[v.Name]
					if w.Rank() == 4 {
						w = rqTranspose4(w, 2, 0, 1, 3)
					} else {
						w = rqTranspose3(w, 1, 0, 2)
					}
					want[v.Name] = w
				}
			}
			for _, v := range m.Graph.Outputs {
				e, err := rqMaxRelErr(got[v.Name], want[v.Name])
				if err != nil || e > 1e-5 {
					t.Errorf("%s: error %g %v", v.Name, e, err)
				}
			}
		})
	}
}

// rqTranspose3 permutes the axes of a 3-D float32 tensor.
func rqTranspose3(t *Tensor, perm ...int) *Tensor {
	return rqTranspose4(&Tensor{DType: t.DType, Shape: append([]int{1}, t.Shape...), Data: t.Data}, append([]int{0}, perm[0]+1, perm[1]+1, perm[2]+1)...).rqSqueeze0()
}

func (t *Tensor) rqSqueeze0() *Tensor {
	return &Tensor{DType: t.DType, Shape: t.Shape[1:], Data: t.Data}
}

// rqTranspose4 permutes the axes of a 4-D float32 tensor.
func rqTranspose4(t *Tensor, perm ...int) *Tensor {
	shape := make([]int, 4)
	for i, p := range perm {
		shape[i] = t.Shape[p]
	}
	out := New(t.DType, shape...)
	src := Strides(t.Shape)
	idx := make([]int, 4)
	for i := range out.F32() {
		rem := i
		off := 0
		for ax := 3; ax >= 0; ax-- {
			idx[ax] = rem % shape[ax]
			rem /= shape[ax]
			off += idx[ax] * src[perm[ax]]
		}
		out.F32()[i] = t.F32()[off]
	}
	return out
}

// TestRecurrentThreads checks results are bit-identical for any thread count.
func TestRecurrentThreads(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, c := range rnnCases() {
		m, ins, err := c.build(rng)
		if err != nil {
			t.Fatal(err)
		}
		one := rqRunModel(t, m, ins, 1)
		for _, th := range []int{2, 5} {
			many := rqRunModel(t, m, ins, th)
			for name, a := range one {
				b := many[name]
				for i, v := range a.F32() {
					if math.Float32bits(v) != math.Float32bits(b.F32()[i]) {
						t.Fatalf("%s %s threads %d: element %d differs", c.name(), name, th, i)
					}
				}
			}
		}
	}
}

// TestRecurrentFloat64 runs an LSTM on float64 data against the float32 result.
func TestRecurrentFloat64(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	c := rnnCase{op: "LSTM", dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 5, bias: true, h0: true, c0: true, peep: true}
	m, ins, err := c.build(rng)
	if err != nil {
		t.Fatal(err)
	}
	want := rqRunModel(t, m, ins, 1)
	k, err := newRecurrent(m.Graph.Nodes[0], rnnLSTM)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"}
	in := make([]*Tensor, len(order))
	for i, name := range order {
		if v := ins[name]; v != nil {
			f64 := New(graph.Float64, v.Shape...)
			for j, x := range v.F32() {
				f64.Data.([]float64)[j] = float64(x)
			}
			in[i] = f64
		}
	}
	outs, err := k.Run(&Context{Threads: 1}, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Graph.Outputs {
		e, err := rqMaxRelErr(outs[i], want[v.Name])
		if err != nil || e > 1e-5 {
			t.Errorf("%s: error %g %v", v.Name, e, err)
		}
	}
}

// TestRecurrentBadInputs checks malformed nodes and inputs give errors.
func TestRecurrentBadInputs(t *testing.T) {
	f := func(shape ...int) *Tensor { return New(graph.Float32, shape...) }
	node := func(op string, attrs ...*graph.Attribute) *graph.Node {
		return &graph.Node{OpType: op, Attrs: attrs, Outputs: []*graph.Value{{Name: "y"}, {Name: "yh"}}}
	}
	badAttrs := []*graph.Node{
		node("LSTM", graph.StringAttr("direction", "sideways")),
		node("LSTM", graph.IntAttr("layout", 2)),
		node("GRU", graph.IntAttr("hidden_size", -1)),
		node("LSTM", graph.FloatAttr("clip", -1)),
		node("RNN", &graph.Attribute{Name: "activations", Type: graph.AttrStrings, Strings: []string{"Nope"}}),
		node("RNN", &graph.Attribute{Name: "activations", Type: graph.AttrStrings, Strings: []string{"Tanh", "Tanh", "Tanh"}}),
	}
	kinds := map[string]rnnKind{"RNN": rnnSimple, "GRU": rnnGRU, "LSTM": rnnLSTM}
	for i, n := range badAttrs {
		if _, err := newRecurrent(n, kinds[n.OpType]); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	k, err := newRecurrent(node("GRU", graph.IntAttr("hidden_size", 2)), rnnGRU)
	if err != nil {
		t.Fatal(err)
	}
	lens := New(graph.Int32, 1)
	lens.Data.([]int32)[0] = 9
	bad := [][]*Tensor{
		{f(1, 1, 3)},
		{f(1, 1, 3), f(1, 6, 3), nil},
		{f(1, 3), f(1, 6, 3), f(1, 6, 2)},
		{f(1, 1, 3), f(1, 6, 4), f(1, 6, 2)},
		{f(1, 1, 3), f(2, 6, 3), f(2, 6, 2)},
		{f(1, 1, 3), f(1, 6, 3), f(1, 6, 3)},
		{f(1, 1, 3), f(1, 6, 3), f(1, 6, 2), f(1, 11)},
		{f(1, 1, 3), f(1, 6, 3), f(1, 6, 2), nil, lens},
		{f(1, 1, 3), f(1, 6, 3), f(1, 6, 2), nil, nil, f(1, 2, 2)},
		{f(1, 1, 3), New(graph.Float64, 1, 6, 3), f(1, 6, 2)},
		{New(graph.Int32, 1, 1, 3), New(graph.Int32, 1, 6, 3), New(graph.Int32, 1, 6, 2)},
	}
	for i, in := range bad {
		if _, err := k.Run(&Context{Threads: 1}, in); err == nil {
			t.Errorf("input case %d: no error", i)
		}
	}
}
