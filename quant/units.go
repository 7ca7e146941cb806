// units.go chooses which quantized Convs get a Q/DQ on their output so
// that ONNX Runtime runs them as integer kernels
// (passes.QuantOptions.CompleteUnits): all of them when the outputs allow,
// else those whose completion costs least.

package quant

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/passes"
)

// UnitsAllowanceDB is the most a model's worst output on the calibration
// samples may lose for ChooseUnits to complete its units; UnitsEnoughDB
// the figure above which it may lose more. Measured with ONNX Runtime on
// the shared models' held-out samples, completing them gained yunet_n_320
// 0.8 dB and cost ultraface_rfb_320 0.6 and ppocr_cls_mobile_v2 5.7 (at
// 127 dB), while it cost the models whose pre-activations are heavy-tailed
// 5-7 dB (ppocr_det_mobile_v1_1, basic_pitch_nmp, silero_vad_v5_16k_op15).
const (
	UnitsAllowanceDB = 0.5
	UnitsEnoughDB    = 40
)

// unitsRankSamples caps the samples that rank the units one by one.
const unitsRankSamples = 8

// UnitsChoice says what ChooseUnits tried and kept.
type UnitsChoice struct {
	// Model is the last model tried: the one kept when Kept.
	Model *graph.Model
	// Config is the configuration ChooseUnits gave quantize for Model:
	// CompleteUnits set, and OpenUnits naming the units left open (what
	// quantize itself adds, such as inputs kept in float, is not in it).
	Config Config
	// Report is quantize's report on Model.
	Report *passes.QuantReport
	// Units counts the units completing all of them gives; Completed
	// those Model completes.
	Units, Completed int
	// Before is the worst output SQNR on the calibration samples without
	// units, All with all of them, After Model's, in dB.
	Before, All, After float64
	// HeldBefore and HeldAfter are cur's and Model's worst output SQNR
	// on Config.HeldOut, in dB, measured when Model met the bound on the
	// calibration samples (NaN otherwise); HeldMissed, that Model then
	// lost more than UnitsAllowanceDB there, so it is not kept.
	HeldBefore, HeldAfter float64
	HeldMissed            bool
	// Kept tells whether Model is kept.
	Kept bool
}

// ChooseUnits tries cfg with QuantOptions.CompleteUnits when cfg.Units is
// UnitsAuto and samples are at hand: quantize fills a freshly prepared
// copy of ref, whose worst output on src is measured against base, the
// figure of cur, the model without units. A model is kept when its figure
// is at least min(base − UnitsAllowanceDB, UnitsEnoughDB). When
// completing every unit costs more, each unit is opened alone in that
// model to measure what its completion costs each output (on at most
// unitsRankSamples samples), and the cheapest units that fit the
// allowance together are completed (QuantOptions.OpenUnits names the
// rest); should that model miss the bound, the cheaper half is tried, at
// most three times in all. With cfg.HeldOut a model meeting the bound is
// kept only when it meets the same bound on those samples, against cur's
// figure there. quantize's last call filled the returned model. It returns nil when there is nothing to try or no unit was
// completed.
func ChooseUnits(ref, cur *graph.Model, src *Samples, cfg Config, base float64,
	quantize func(cand *graph.Model, c Config) (*passes.QuantReport, error)) (*UnitsChoice, error) {
	if quantize == nil {
		return nil, fmt.Errorf("quant: ChooseUnits needs a quantize function")
	}
	if cfg.Units != UnitsAuto || cfg.Quant.CompleteUnits || src == nil || src.Len() == 0 || cfg.stopsBeforeQuantize() {
		return nil, nil
	}
	bound := math.Min(base-UnitsAllowanceDB, UnitsEnoughDB)
	heldBase := math.NaN()
	held := HeldOutSQNR(ref, cfg)
	try := func(open map[string]bool) (*UnitsChoice, error) {
		c := cfg
		c.Quant.CompleteUnits = true
		c.Quant.OpenUnits = open
		cand, err := preparedCopy(ref, c)
		if err != nil {
			return nil, err
		}
		rep, err := quantize(cand, c)
		if err != nil {
			return nil, fmt.Errorf("complete units: %v", err)
		}
		if rep == nil || rep.UnitsCompleted == 0 {
			return nil, nil
		}
		db, err := WorstOutputSQNR(ref, cand, src, cfg.Threads)
		if err != nil {
			return nil, fmt.Errorf("complete units: %v", err)
		}
		ch := &UnitsChoice{Model: cand, Config: c, Report: rep, Completed: rep.UnitsCompleted, Before: base, After: db, Kept: db >= bound, HeldBefore: math.NaN(), HeldAfter: math.NaN()}
		if ch.Kept && held != nil && cur != nil {
			if math.IsNaN(heldBase) {
				if heldBase, err = held(cur); err != nil {
					return nil, fmt.Errorf("complete units: %v", err)
				}
			}
			if ch.HeldAfter, err = held(cand); err != nil {
				return nil, fmt.Errorf("complete units: %v", err)
			}
			ch.HeldBefore = heldBase
			ch.HeldMissed = ch.HeldAfter < math.Min(heldBase-UnitsAllowanceDB, UnitsEnoughDB)
			ch.Kept = !ch.HeldMissed
		}
		return ch, nil
	}
	all, err := try(nil)
	if err != nil || all == nil {
		return nil, err
	}
	all.Units, all.All = all.Completed, all.After
	names := all.Report.CompletedUnits
	if all.Kept || len(names) < 2 || cur == nil {
		return all, nil
	}
	order, err := cheapestUnits(ref, cur, all.Model, src, names, base-bound, cfg.Threads)
	if err != nil {
		return nil, err
	}
	last := all
	for range 3 {
		if len(order) == 0 {
			break
		}
		if len(order) == len(names) { // all of them missed the bound already
			order = order[:len(order)/2]
			continue
		}
		open := map[string]bool{}
		for _, name := range names {
			if !slices.Contains(order, name) {
				open[name] = true
			}
		}
		c, err := try(open)
		if err != nil {
			return nil, err
		}
		if c == nil {
			break
		}
		c.Units, c.All = all.Units, all.All
		last = c
		if c.Kept {
			break
		}
		order = order[:len(order)/2]
	}
	return last, nil
}

// cheapestUnits ranks the completed units of all (the outputs names) by
// what completing each costs the outputs: opened alone in all, a unit
// gives back that much of each output's noise-to-signal ratio. It returns
// the cheapest units whose costs, added to cur's noise, keep every output
// within lossDB of cur's worst output, cheapest first.
func cheapestUnits(ref, cur, all *graph.Model, src *Samples, names []string, lossDB float64, threads int) ([]string, error) {
	sub, err := src.Subset(spread(src.Len(), unitsRankSamples))
	if err != nil {
		return nil, err
	}
	ev, err := newOutputEval(ref, sub, threads)
	if err != nil {
		return nil, err
	}
	idx := make([]int, sub.Len())
	for i := range idx {
		idx[i] = i
	}
	noise := func(m *graph.Model) ([]float64, error) {
		sq, _, err := ev.measure(m, idx)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(sq))
		for k, db := range sq {
			out[k] = math.Pow(10, -db/10) // NaN stays NaN: no such output
		}
		return out, nil
	}
	base, err := noise(cur)
	if err != nil {
		return nil, err
	}
	full, err := noise(all)
	if err != nil {
		return nil, err
	}
	worst := 0.0
	for _, n := range base {
		if !math.IsNaN(n) {
			worst = max(worst, n)
		}
	}
	limit := worst * math.Pow(10, lossDB/10)
	type unit struct {
		name  string
		cost  []float64
		worst float64 // the largest cost over the outputs, as a share of their room
	}
	units := make([]unit, 0, len(names))
	for _, name := range names {
		t, err := Clone(all)
		if err != nil {
			return nil, err
		}
		openUnit(t, name)
		n, err := noise(t)
		if err != nil {
			return nil, fmt.Errorf("complete units: %s open: %v", name, err)
		}
		u := unit{name: name, cost: make([]float64, len(n))}
		for k := range n {
			if math.IsNaN(n[k]) || math.IsNaN(full[k]) || math.IsNaN(base[k]) {
				continue
			}
			u.cost[k] = max(0, full[k]-n[k])
			if room := limit - base[k]; room > 0 {
				u.worst = max(u.worst, u.cost[k]/room)
			} else if u.cost[k] > 0 {
				u.worst = math.Inf(1)
			}
		}
		units = append(units, u)
	}
	sort.SliceStable(units, func(i, j int) bool { return units[i].worst < units[j].worst })
	sum := slices.Clone(base)
	var chosen []string
	for _, u := range units {
		fits := true
		for k := range sum {
			if !math.IsNaN(sum[k]) && sum[k]+u.cost[k] > limit {
				fits = false
			}
		}
		if !fits {
			break
		}
		for k := range sum {
			sum[k] += u.cost[k]
		}
		chosen = append(chosen, u.name)
	}
	return chosen, nil
}

// openUnit takes the Q/DQ pair that completes the unit whose output is
// named name back out of m: every reader of its DequantizeLinear reads
// the weighted op's output again. The pair stays, unread. Where a quantized op
// wanted that Q/DQ anyway (the Mul of a SiLU beside its float Sigmoid),
// it too reads the float output here, so the unit's cost is counted high:
// the graph no longer tells which reader asked for it.
func openUnit(m *graph.Model, name string) {
	m.Graph.Walk(func(g *graph.Graph) {
		for _, q := range g.Nodes {
			x := q.Input(0)
			if q.OpType != "QuantizeLinear" || x == nil || x.Name != name || len(q.Outputs) == 0 || q.Outputs[0] == nil {
				continue
			}
			for _, dq := range slices.Clone(q.Outputs[0].Consumers) {
				if dq.OpType == "DequantizeLinear" && len(dq.Outputs) == 1 && dq.Outputs[0] != nil {
					dq.Graph.ReplaceUses(dq.Outputs[0], x)
				}
			}
		}
	})
}
