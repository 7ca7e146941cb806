package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/onnxq/onnxq/graph"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); without
// it the module version or VCS revision from the build info is shown.
var version = ""

// command is one subcommand, or the main job (name "").
type command struct {
	name    string
	args    string // synopsis of the positional arguments, for usage lines
	summary string // one line for the command list
	doc     string // longer description shown by "onnxq help CMD"
	// setup declares the command's flags on fs and returns the function
	// that runs it on the positional arguments once fs is parsed. Keeping
	// declaration and use together lets help text and parsing share one
	// flag set definition.
	setup func(fs *pflag.FlagSet) func(c *cli, args []string) error
}

var (
	// mainCommand is the main job, run when the first argument is a model.
	mainCommand *command
	// commands are the subcommands in the order "onnxq help" lists them.
	commands []*command
)

func init() {
	// Assigned here rather than in declarations: the commands' code reads
	// these lists, which Go would report as an initialization cycle.
	mainCommand = quantizeCommand
	commands = []*command{convertCommand, inspectCommand, runModelCommand, goldenCommand, verifyCommand, compareCommand, benchCommand, helpCommand}
}

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// cli carries the output streams, so tests can run commands in process.
type cli struct {
	stdout, stderr io.Writer
}

// usageError is a mistake in the command line: reported with the usage of
// the command named cmd ("": the top-level usage) and exit status 2.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

func main() {
	removeTemporariesOnSignal()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// removeTemporariesOnSignal makes an interrupt, termination or hang-up
// (a closed terminal, a CI runner going away) stop the child processes
// (bench --ort's ONNX Runtime) and remove the temporary files and folders
// of the writes in progress (a golden folder half written, a model not
// yet renamed into place) before exiting with the shell's status for the
// signal, 128 + its number.
func removeTemporariesOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		killChildren()
		graph.RemoveTemporaries()
		code := 130
		switch sig {
		case syscall.SIGTERM:
			code = 143
		case syscall.SIGHUP:
			code = 129
		}
		os.Exit(code)
	}()
}

// children are the processes a command started and still waits for.
var children = struct {
	sync.Mutex
	procs map[*os.Process]bool
}{procs: map[*os.Process]bool{}}

// runChild runs cmd like cmd.Run, stopped with onnxq when a signal ends it.
func runChild(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	children.Lock()
	children.procs[cmd.Process] = true
	children.Unlock()
	err := cmd.Wait()
	children.Lock()
	delete(children.procs, cmd.Process)
	children.Unlock()
	return err
}

// killChildren stops every process runChild is waiting for.
func killChildren() {
	children.Lock()
	defer children.Unlock()
	for p := range children.procs {
		p.Kill()
	}
}

// run executes one command line and returns the exit status: 0 success,
// 1 failure, 2 a bad command line.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		// A panic is a bug in onnxq; users get one line, not a stack trace.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "onnxq: internal error: %s\n", oneLine(fmt.Sprint(r)))
			status = 1
		}
	}()
	c := &cli{stdout: stdout, stderr: stderr}
	err := c.dispatch(args)
	if err == nil {
		return 0
	}
	var ue *usageError
	if !errors.As(err, &ue) {
		fmt.Fprintf(stderr, "onnxq: %s\n", oneLine(err.Error()))
		return 1
	}
	// One line that says where the usage is; with nothing asked at all,
	// the usage itself.
	if len(args) == 0 {
		fmt.Fprintf(stderr, "onnxq: %s\n\n", oneLine(err.Error()))
		c.shortUsage(stderr, nil)
		return 2
	}
	help := "onnxq --help"
	if cmd := lookupCommand(ue.cmd); cmd != nil && cmd != mainCommand && cmd.name != "help" {
		help = "onnxq help " + cmd.name
	}
	fmt.Fprintf(stderr, "onnxq: %s (%s shows the usage)\n", oneLine(err.Error()), help)
	return 2
}

// dispatch picks the command from the first argument. A known subcommand
// wins; otherwise an argument that looks like a model (or a flag) starts
// the main job, and anything else is an unknown command.
func (c *cli) dispatch(args []string) error {
	if len(args) == 0 {
		return usageErrorf("", "no model or command given")
	}
	first := args[0]
	if cmd := lookupCommand(first); cmd != nil {
		return c.runCommand(cmd, args[1:])
	}
	if strings.HasPrefix(first, "-") || looksLikeModel(first) {
		return c.runCommand(mainCommand, args)
	}
	return usageErrorf("", "unknown command %q (not a subcommand, and not a model file)", first)
}

// looksLikeModel reports whether arg names a model for the main job: an
// existing file, or a path ending in .onnx.
func looksLikeModel(arg string) bool {
	if strings.HasSuffix(strings.ToLower(arg), ".onnx") {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && !st.IsDir()
}

// newFlagSet declares cmd's flags, with -h/--help, on a fresh flag set.
func newFlagSet(cmd *command) (*pflag.FlagSet, *bool, func(*cli, []string) error) {
	name := "onnxq"
	if cmd.name != "" {
		name += " " + cmd.name
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed by run
	fs.Usage = func() {}
	fs.SortFlags = false
	runFn := cmd.setup(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	return fs, help, runFn
}

func (c *cli) runCommand(cmd *command, args []string) error {
	fs, help, runFn := newFlagSet(cmd)
	fs.VisitAll(func(f *pflag.Flag) {
		if single(f) {
			f.Value = &onceValue{Value: f.Value}
		}
	})
	if err := fs.Parse(args); err != nil {
		return &usageError{cmd: cmd.name, msg: err.Error()}
	}
	// Every string flag names a file or a choice: given empty (an unset
	// shell variable), it would otherwise act as not given at all.
	var empty string
	fs.Visit(func(f *pflag.Flag) {
		if empty == "" && f.Value.Type() == "string" && f.Value.String() == "" {
			empty = f.Name
		}
	})
	if empty != "" {
		return &usageError{cmd: cmd.name, msg: fmt.Sprintf("--%s: empty value", empty)}
	}
	if *help {
		c.usage(c.stdout, cmd)
		return nil
	}
	err := runFn(c, fs.Args())
	// A mistake found while the command runs (a flag value checked with
	// the data, as --image-size is) points at the command's usage too.
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd == "" {
		ue.cmd = cmd.name
	}
	return err
}

// single tells whether f takes one value: not a list repeated to give
// more, a count or a switch. A comma-separated list (--mean 0.5,0.4) is
// one value.
func single(f *pflag.Flag) bool {
	t := f.Value.Type()
	return t != "bool" && t != "count" && !strings.HasSuffix(t, "Array") && !strings.HasPrefix(t, "stringTo")
}

// onceValue refuses a second value for a flag that takes one: pflag would
// keep the last silently (-o a.onnx -o b.onnx wrote b.onnx alone).
type onceValue struct {
	pflag.Value
	set   bool
	first string
}

func (o *onceValue) Set(s string) error {
	if o.set {
		return fmt.Errorf("given twice (%q, then %q): give it once", o.first, s)
	}
	o.set, o.first = true, s
	if err := o.Value.Set(s); err != nil {
		if strings.HasSuffix(o.Value.Type(), "Slice") {
			// not the parser's own words
			return errors.New("want numbers separated by commas, e.g. 0.485,0.456,0.406")
		}
		return err
	}
	return nil
}

// usage writes cmd's usage (nil or the main command: the top-level one).
func (c *cli) usage(w io.Writer, cmd *command) {
	if cmd == nil || cmd == mainCommand {
		c.topUsage(w, true)
		return
	}
	fs, _, _ := newFlagSet(cmd)
	fmt.Fprintf(w, "Usage: onnxq %s %s\n\n", cmd.name, cmd.args)
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(cmd.doc))
	fmt.Fprintf(w, "\nFlags:\n%s", flagUsages(fs))
}

// shortUsage is the usage shown after a command-line mistake: the usage
// line and flags without the description.
func (c *cli) shortUsage(w io.Writer, cmd *command) {
	if cmd == nil || cmd == mainCommand {
		c.topUsage(w, false)
		return
	}
	fs, _, _ := newFlagSet(cmd)
	fmt.Fprintf(w, "Usage: onnxq %s %s\n\nFlags:\n%s", cmd.name, cmd.args, flagUsages(fs))
	fmt.Fprintf(w, "\nRun 'onnxq help %s' for details.\n", cmd.name)
}

// topUsage writes the top-level usage; long adds the main job's
// description.
func (c *cli) topUsage(w io.Writer, long bool) {
	fs, _, _ := newFlagSet(mainCommand)
	fmt.Fprintf(w, "onnxq compiles ONNX models to INT8.\n\n")
	fmt.Fprintf(w, "Usage:\n")
	fmt.Fprintf(w, "  onnxq %s [flags]    %s\n", mainCommand.args, mainCommand.summary)
	fmt.Fprintf(w, "  onnxq COMMAND [arguments]\n\n")
	fmt.Fprintf(w, "Commands:\n")
	width := 0
	for _, cmd := range commands {
		width = max(width, len(cmd.name))
	}
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, cmd.name, cmd.summary)
	}
	if long {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(mainCommand.doc))
	}
	fmt.Fprintf(w, "\nFlags:\n%s", flagUsages(fs))
	fmt.Fprintf(w, "\nRun 'onnxq help COMMAND' (or 'onnxq COMMAND --help') for a command's usage and flags.\n")
}

var helpCommand = &command{
	name:    "help",
	args:    "[COMMAND]",
	summary: "show the list of commands, or the usage and flags of one",
	doc:     "Help prints the list of commands, or with COMMAND that command's usage and flags.",
	setup: func(fs *pflag.FlagSet) func(*cli, []string) error {
		return func(c *cli, args []string) error {
			switch len(args) {
			case 0:
				c.topUsage(c.stdout, true)
				return nil
			case 1:
				if args[0] == "quantize" { // the main job's name in prose
					c.topUsage(c.stdout, true)
					return nil
				}
				cmd := lookupCommand(args[0])
				if cmd == nil {
					return usageErrorf("", "unknown command %q", args[0])
				}
				c.usage(c.stdout, cmd)
				return nil
			}
			return usageErrorf("help", "help takes at most one command name, got %d arguments", len(args))
		}
	},
}

// versionString names the build: the link-time version, else the module
// version or VCS revision recorded by the Go toolchain.
func versionString() string {
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			} else {
				var rev, dirty string
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision":
						rev = s.Value
					case "vcs.modified":
						if s.Value == "true" {
							dirty = "+dirty"
						}
					}
				}
				if len(rev) > 12 {
					rev = rev[:12]
				}
				if rev != "" {
					v = "devel-" + rev + dirty
				}
			}
		}
	}
	return fmt.Sprintf("onnxq %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
