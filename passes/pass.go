package passes

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/onnxq/onnxq/graph"
)

// Pass is one graph transformation. Run changes the model in place and
// reports whether it changed anything.
type Pass struct {
	Name string
	Doc  string
	Run  func(m *graph.Model, ctx *Context) (changed bool, err error)
}

// Context carries what passes share: options, diagnostics, and results of
// earlier passes.
type Context struct {
	// Log receives one line per notable decision (an op left in FP32 and
	// why, an opset raised); nil discards.
	Log io.Writer
	// Values passes leave for later ones, by key (e.g. the quantize pass's
	// report). Keys are documented by the pass that sets them.
	Values map[string]any
}

// Logf writes one diagnostic line.
func (c *Context) Logf(format string, args ...any) {
	if c != nil && c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// RunOptions control a pipeline run.
type RunOptions struct {
	// DumpAfter names passes ("all" for every one) after which the main
	// graph is dumped to Dump.
	DumpAfter []string
	Dump      io.Writer
	// StopAfter ends the pipeline after the named pass.
	StopAfter string
	// TimePasses writes each pass's duration to Dump (or Log).
	TimePasses bool
}

// Run executes passes in order. Around each one it recovers a panic into
// an error naming the pass and checks the model with Verify, so a pass
// that breaks the graph is named at once.
func Run(m *graph.Model, ctx *Context, list []Pass, opts RunOptions) error {
	if m == nil || m.Graph == nil {
		return errors.New("passes: no model to run the passes on")
	}
	if ctx == nil {
		ctx = &Context{}
	}
	if ctx.Values == nil {
		ctx.Values = map[string]any{}
	}
	out := opts.Dump
	if out == nil {
		out = ctx.Log
	}
	for _, p := range list {
		start := time.Now()
		changed, err := runOne(p, m, ctx)
		if err != nil {
			return err
		}
		if err := m.Verify(); err != nil {
			return fmt.Errorf("pass %s left an invalid graph: %v", p.Name, err)
		}
		if opts.TimePasses && out != nil {
			fmt.Fprintf(out, "pass %-24s %8.2f ms  changed=%v\n", p.Name, float64(time.Since(start).Microseconds())/1000, changed)
		}
		if out != nil && (slices.Contains(opts.DumpAfter, "all") || slices.Contains(opts.DumpAfter, p.Name)) {
			fmt.Fprintf(out, "--- after %s\n", p.Name)
			if err := graph.Dump(out, m.Graph); err != nil {
				return err
			}
		}
		if opts.StopAfter == p.Name {
			break
		}
	}
	return nil
}

func runOne(p Pass, m *graph.Model, ctx *Context) (changed bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			changed, err = false, fmt.Errorf("pass %s failed: %v", p.Name, r)
		}
	}()
	changed, err = p.Run(m, ctx)
	if err != nil {
		return false, fmt.Errorf("pass %s: %w", p.Name, err)
	}
	return changed, nil
}

// Names lists the names of passes, in order.
func Names(list []Pass) []string {
	names := make([]string, len(list))
	for i, p := range list {
		names[i] = p.Name
	}
	return names
}

// CheckOrder verifies ordering constraints: each pair {before, after}
// requires the pass named before to come earlier than after when both are
// in the list.
func CheckOrder(list []Pass, constraints [][2]string) error {
	pos := map[string]int{}
	for i, p := range list {
		if _, dup := pos[p.Name]; dup {
			return fmt.Errorf("pass %s is listed twice", p.Name)
		}
		pos[p.Name] = i
	}
	for _, c := range constraints {
		a, okA := pos[c[0]]
		b, okB := pos[c[1]]
		if okA && okB && a > b {
			return fmt.Errorf("pass %s must run before %s", c[0], c[1])
		}
	}
	return nil
}
