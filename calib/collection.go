// Methods, options and the Collection of per-tensor observers with its
// merge and JSON save/load.

package calib

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"unsafe"

	"github.com/onnxq/onnxq/qdq"
)

// Method names a calibration method.
type Method string

// The calibration methods.
const (
	MinMax     Method = "minmax"
	EMA        Method = "ema"
	Entropy    Method = "entropy"
	Percentile Method = "percentile"
	MSE        Method = "mse"
	// Auto keeps the MinMax range of a tensor unless its extremes are rare
	// outliers far beyond the bulk, which it clips (see autoRange).
	Auto Method = "auto"
)

// Methods lists every method in a fixed order.
var Methods = []Method{MinMax, EMA, Entropy, Percentile, MSE, Auto}

// ParseMethod returns the method named s.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("calib: unknown method %q (want minmax, ema, entropy, percentile, mse or auto)", s)
}

func (m Method) String() string { return string(m) }

// Options tune the observers. Zero fields take their defaults in New.
type Options struct {
	// Bins is the number of histogram bins (even, 16 to 8192; default 2048):
	// the entropy and MSE searches take time quadratic in it.
	Bins int
	// QuantBins is the number of quantized levels the entropy method
	// compares against (2 to Bins/2; default 128).
	QuantBins int
	// Percentile, in (0, 100], is where the percentile method clips
	// (default 99.999).
	Percentile float64
	// EMAConstant, in (0, 1], is the moving-average weight of a new batch
	// (default 0.01).
	EMAConstant float64
	// Signed histograms count x over a range symmetric about zero instead
	// of |x|: the percentile method then clips each side at its own
	// percentile and the entropy and MSE methods see the sign of values.
	Signed bool
	// Range is the quantization the MSE method minimises the error for
	// (default int8, asymmetric).
	Range qdq.RangeOptions
}

// DefaultOptions returns the defaults: 2048 bins, 128 quantized bins,
// percentile 99.999, EMA constant 0.01, histograms of |x|, MSE for
// asymmetric int8.
func DefaultOptions() Options {
	return Options{Bins: 2048, QuantBins: 128, Percentile: 99.999, EMAConstant: 0.01, Range: qdq.RangeOptions{Type: qdq.Int8}}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Bins == 0 {
		o.Bins = d.Bins
	}
	if o.QuantBins == 0 {
		o.QuantBins = d.QuantBins
	}
	if o.Percentile == 0 {
		o.Percentile = d.Percentile
	}
	if o.EMAConstant == 0 {
		o.EMAConstant = d.EMAConstant
	}
	if o.Range.Type == 0 {
		o.Range.Type = d.Range.Type
	}
	return o
}

// Validate reports the first option out of its domain.
func (o Options) Validate() error {
	switch {
	case o.Bins < 16 || o.Bins > 1<<13 || o.Bins%2 != 0:
		return fmt.Errorf("calib: bins %d: want an even number from 16 to 8192", o.Bins)
	case o.QuantBins < 2 || o.QuantBins > o.Bins/2:
		return fmt.Errorf("calib: quantized bins %d: want 2 to %d (half the bins)", o.QuantBins, o.Bins/2)
	case !(o.Percentile > 0 && o.Percentile <= 100):
		return fmt.Errorf("calib: percentile %g outside (0, 100]", o.Percentile)
	case !(o.EMAConstant > 0 && o.EMAConstant <= 1):
		return fmt.Errorf("calib: EMA constant %g outside (0, 1]", o.EMAConstant)
	case !o.Range.Type.Valid():
		return fmt.Errorf("calib: unknown quantization type %d", int(o.Range.Type))
	}
	return nil
}

// Collection holds one observer per tensor name, all of one method and
// options. Its methods may be called from several goroutines; the EMA
// result depends on the order of Observe calls, the others do not.
type Collection struct {
	mu     sync.Mutex
	method Method
	opts   Options
	obs    map[string]Observer
}

// New returns an empty collection; zero fields of opts take their defaults.
func New(method Method, opts Options) (*Collection, error) {
	if _, err := ParseMethod(string(method)); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Collection{method: method, opts: opts, obs: map[string]Observer{}}, nil
}

// Method is the collection's method.
func (c *Collection) Method() Method { return c.method }

// Options are the collection's options, defaults filled in.
func (c *Collection) Options() Options { return c.opts }

// newObserver returns an empty observer of the collection's method.
func (c *Collection) newObserver() Observer {
	switch c.method {
	case MinMax:
		return NewMinMax()
	case EMA:
		return &EMAObserver{c: c.opts.EMAConstant}
	default:
		return newHistogram(c.method, c.opts)
	}
}

func (c *Collection) observer(name string) Observer {
	o, ok := c.obs[name]
	if !ok {
		o = c.newObserver()
		c.obs[name] = o
	}
	return o
}

// Observe feeds one batch of tensor name's values to its observer. An empty
// batch registers the name without changing any statistic.
func (c *Collection) Observe(name string, data []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observer(name).Observe(data)
}

// Names returns the observed tensor names, sorted.
func (c *Collection) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.obs))
}

// Ranges returns every tensor's range.
func (c *Collection) Ranges() map[string]Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := make(map[string]Range, len(c.obs))
	for name, o := range c.obs {
		lo, hi := o.Range()
		r[name] = Range{lo, hi}
	}
	return r
}

// Extremes returns the smallest and largest finite value observed of
// every tensor whose observer keeps them (MinMax and the histogram
// methods), whatever range the method calibrates. EMA observers average
// their extremes, so their tensors are left out.
func (c *Collection) Extremes() map[string]Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := make(map[string]Range, len(c.obs))
	for name, o := range c.obs {
		switch o := o.(type) {
		case *MinMaxObserver:
			r[name] = Range{o.min, o.max}
		case *HistogramObserver:
			if o.stats.Values > 0 {
				r[name] = Range{o.min, o.max}
			} else {
				r[name] = Range{}
			}
		}
	}
	return r
}

// Stats returns every tensor's statistics, NaN and Inf counts included.
func (c *Collection) Stats() map[string]Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := make(map[string]Stats, len(c.obs))
	for name, o := range c.obs {
		r[name] = o.Stats()
	}
	return r
}

// HeldBytes estimates the memory the observers keep: the histogram bins
// and observer structs, not the map or the names. It depends on the number
// of tensors, not on the number of batches.
func (c *Collection) HeldBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, o := range c.obs {
		switch o := o.(type) {
		case *HistogramObserver:
			n += o.HeldBytes()
		case *MinMaxObserver:
			n += int(unsafe.Sizeof(*o))
		case *EMAObserver:
			n += int(unsafe.Sizeof(*o))
		}
	}
	return n
}

// Merge folds other's statistics into c, tensor by tensor; other is not
// modified. Both must have the same method and options. For every method
// but EMA the result equals calibrating on the union of both collections'
// batches, whatever the order of merges.
func (c *Collection) Merge(other *Collection) error {
	if other == nil {
		return fmt.Errorf("calib: merge of a nil collection")
	}
	if other == c {
		return fmt.Errorf("calib: merge of a collection into itself")
	}
	if other.method != c.method || other.opts != c.opts {
		return fmt.Errorf("calib: cannot merge %s statistics with options %+v into %s statistics with options %+v",
			other.method, other.opts, c.method, c.opts)
	}
	// Copy other's state first so that no two locks are held at once:
	// a.Merge(b) and b.Merge(a) may run concurrently.
	snap := map[string]Observer{}
	other.mu.Lock()
	for name, o := range other.obs {
		cp := other.newObserver()
		if err := cp.Merge(o); err != nil {
			other.mu.Unlock()
			return fmt.Errorf("calib: tensor %q: %v", name, err)
		}
		snap[name] = cp
	}
	other.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		if err := c.observer(name).Merge(snap[name]); err != nil {
			return fmt.Errorf("calib: tensor %q: %v", name, err)
		}
	}
	return nil
}

// fileFormat and fileVersion identify a saved collection.
const (
	fileFormat  = "onnxq-calib"
	fileVersion = 1
)

type fileJSON struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Method  Method       `json:"method"`
	Options optionsJSON  `json:"options"`
	Tensors []tensorJSON `json:"tensors"`
}

type optionsJSON struct {
	Bins        int     `json:"bins"`
	QuantBins   int     `json:"quant_bins"`
	Percentile  float64 `json:"percentile"`
	EMAConstant float64 `json:"ema_constant"`
	Signed      bool    `json:"signed"`
	Type        string  `json:"type"`
	Symmetric   bool    `json:"symmetric"`
	Restricted  bool    `json:"restricted"`
	ReduceRange bool    `json:"reduce_range"`
}

type tensorJSON struct {
	Name  string          `json:"name"`
	State json.RawMessage `json:"state"`
}

// Save writes the collection as one line of JSON: the method, the options
// and each tensor's observer state, tensors sorted by name. The same
// statistics always give the same bytes.
func (c *Collection) Save(w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.opts
	f := fileJSON{Format: fileFormat, Version: fileVersion, Method: c.method,
		Options: optionsJSON{o.Bins, o.QuantBins, o.Percentile, o.EMAConstant, o.Signed,
			o.Range.Type.String(), o.Range.Symmetric, o.Range.Restricted, o.Range.ReduceRange},
		Tensors: []tensorJSON{}}
	for _, name := range slices.Sorted(maps.Keys(c.obs)) {
		b, err := c.obs[name].MarshalJSON()
		if err != nil {
			return fmt.Errorf("calib: save %q: %v", name, err)
		}
		f.Tensors = append(f.Tensors, tensorJSON{name, b})
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("calib: save: %v", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("calib: save: %v", err)
	}
	return nil
}

// Load reads a collection written by Save.
func Load(r io.Reader) (*Collection, error) {
	if r == nil {
		return nil, fmt.Errorf("calib: load: no reader")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("calib: load: %v", err)
	}
	var f fileJSON
	if err := StrictUnmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("calib: load: %v", err)
	}
	if f.Format != fileFormat || f.Version != fileVersion {
		return nil, fmt.Errorf("calib: load: format %q version %d, want %q version %d", f.Format, f.Version, fileFormat, fileVersion)
	}
	t, err := qdq.ParseType(f.Options.Type)
	if err != nil {
		return nil, fmt.Errorf("calib: load: %v", err)
	}
	o := f.Options
	opts := Options{Bins: o.Bins, QuantBins: o.QuantBins, Percentile: o.Percentile, EMAConstant: o.EMAConstant, Signed: o.Signed,
		Range: qdq.RangeOptions{Type: t, Symmetric: o.Symmetric, Restricted: o.Restricted, ReduceRange: o.ReduceRange}}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("calib: load: %v", err)
	}
	c, err := New(f.Method, opts)
	if err != nil {
		return nil, fmt.Errorf("calib: load: %v", err)
	}
	for _, tj := range f.Tensors {
		if _, dup := c.obs[tj.Name]; dup {
			return nil, fmt.Errorf("calib: load: tensor %q appears twice", tj.Name)
		}
		obs := c.newObserver()
		if err := obs.UnmarshalJSON(tj.State); err != nil {
			return nil, fmt.Errorf("calib: load: tensor %q: %v", tj.Name, err)
		}
		if e, ok := obs.(*EMAObserver); ok && e.c != opts.EMAConstant {
			return nil, fmt.Errorf("calib: load: tensor %q: EMA constant %g, collection has %g", tj.Name, e.c, opts.EMAConstant)
		}
		c.obs[tj.Name] = obs
	}
	return c, nil
}
