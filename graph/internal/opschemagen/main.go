// Command opschemagen writes graph/opschema_table.go: for every operator
// of the default ONNX domain (and ai.onnx.ml when its document is given),
// the number of inputs and outputs each version of its signature allows,
// and the type of each attribute of its newest version.
//
// Usage:
//
//	opschemagen [-history FILE] [-o FILE] Operators.md [Operators-ml.md]
//
// The operator documents describe only the newest version of each
// operator in full; they list the older versions by number. The history
// file gives the signatures of older versions where they differ from the
// next newer one; versions it does not mention keep the newer signature.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// arity is the allowed count range of a node's inputs or outputs; max < 0
// means unbounded.
type arity struct{ min, max int }

func (a arity) String() string {
	if a.max < 0 {
		return fmt.Sprintf("%d-inf", a.min)
	}
	return fmt.Sprintf("%d-%d", a.min, a.max)
}

type signature struct {
	in, out    arity
	deprecated bool
}

// op is one operator as the documents describe it.
type op struct {
	domain, name string
	latest       int64
	sig          signature // of the latest version
	older        []int64   // other versions, any order
	sawIn        bool
	sawOut       bool
	attrs        map[string]string // attribute name -> graph.AttrType constant
}

func main() {
	history := flag.String("history", "history.txt", "signatures of older operator versions")
	out := flag.String("o", "opschema_table.go", "output Go file")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: opschemagen [-history FILE] [-o FILE] Operators.md [Operators-ml.md]")
		os.Exit(2)
	}
	if err := run(flag.Args(), *history, *out); err != nil {
		fmt.Fprintln(os.Stderr, "opschemagen:", err)
		os.Exit(1)
	}
}

func run(docs []string, historyPath, outPath string) error {
	ops := map[[2]string]*op{}
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := parseDoc(data, ops); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(ops) == 0 {
		return errors.New("no operators found")
	}
	hist, err := readHistory(historyPath)
	if err != nil {
		return err
	}
	table, err := buildTable(ops, hist)
	if err != nil {
		return err
	}
	src, err := emit(table, ops)
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, src, 0o644)
}

var (
	reDomain   = regexp.MustCompile(`^## (ai\.onnx[a-z.]*)`)
	reOp       = regexp.MustCompile(`^### <a name="([^"]+)"></a>`)
	reSince    = regexp.MustCompile(`has been (available|deprecated) since version (\d+) of`)
	reOther    = regexp.MustCompile(`Changelog[-a-z]*\.md#[^"]*-(\d+)"`)
	reSection  = regexp.MustCompile(`^#### (Inputs|Outputs)(?: \((\d+) - (\d+|&#8734;)\))?\s*$`)
	reAttrs    = regexp.MustCompile(`^#### Attributes\s*$`)
	reAttr     = regexp.MustCompile(`^<dt><tt>([A-Za-z0-9_]+)</tt> : (list of ints|list of floats|list of strings|list of tensors|list of graphs|int|float|string|tensor|graph|sparse_tensor|type_proto)\b`)
	reTerm     = regexp.MustCompile(`^<dt><tt>`)
	reAnything = regexp.MustCompile(`^#{1,4} `)
)

// attrTypes names the graph.AttrType constant of each type the documents
// give an attribute.
var attrTypes = map[string]string{
	"int": "AttrInt", "float": "AttrFloat", "string": "AttrString", "tensor": "AttrTensor",
	"graph": "AttrGraph", "sparse_tensor": "AttrSparseTensor", "type_proto": "AttrTypeProto",
	"list of ints": "AttrInts", "list of floats": "AttrFloats", "list of strings": "AttrStrings",
	"list of tensors": "AttrTensors", "list of graphs": "AttrGraphs",
}

// parseDoc reads the per-operator sections of an operator document.
func parseDoc(data []byte, ops map[[2]string]*op) error {
	var (
		domain  string
		inScope bool // inside the section of a domain we keep
		cur     *op
		counted *arity // the Inputs/Outputs list being counted
		listed  bool   // the section header gave the range
		terms   int
		inAttrs bool // inside an Attributes list
	)
	finishList := func() {
		if counted != nil && !listed {
			counted.min, counted.max = terms, terms
		}
		counted, terms = nil, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := reDomain.FindStringSubmatch(line); m != nil {
			finishList()
			domain = m[1]
			if domain == "ai.onnx" {
				domain = ""
			}
			inScope = domain == "" && strings.HasPrefix(line, "## ai.onnx (default)") || domain == "ai.onnx.ml"
			cur, inAttrs = nil, false
			continue
		}
		if !inScope {
			continue
		}
		if m := reOp.FindStringSubmatch(line); m != nil {
			finishList()
			name := m[1]
			if domain != "" {
				name = strings.TrimPrefix(name, domain+".")
			}
			key := [2]string{domain, name}
			if ops[key] != nil {
				return fmt.Errorf("operator %s documented twice", name)
			}
			cur = &op{domain: domain, name: name}
			ops[key] = cur
			inAttrs = false
			continue
		}
		if cur == nil {
			continue
		}
		if reAttrs.MatchString(line) {
			finishList()
			inAttrs = true
			continue
		}
		if inAttrs {
			if m := reAttr.FindStringSubmatch(line); m != nil {
				if cur.attrs == nil {
					cur.attrs = map[string]string{}
				}
				cur.attrs[m[1]] = attrTypes[m[2]]
				continue
			}
			if reAnything.MatchString(line) {
				inAttrs = false
			}
		}
		if m := reSection.FindStringSubmatch(line); m != nil {
			finishList()
			a := &cur.sig.in
			if m[1] == "Outputs" {
				a = &cur.sig.out
				cur.sawOut = true
			} else {
				cur.sawIn = true
			}
			counted, listed = a, m[2] != ""
			if listed {
				a.min, _ = strconv.Atoi(m[2])
				a.max = -1
				if m[3] != "&#8734;" {
					a.max, _ = strconv.Atoi(m[3])
				}
			}
			continue
		}
		if reAnything.MatchString(line) {
			finishList()
		}
		if counted != nil && reTerm.MatchString(line) {
			terms++
			continue
		}
		if m := reSince.FindStringSubmatch(line); m != nil && cur.latest == 0 {
			cur.latest, _ = strconv.ParseInt(m[2], 10, 64)
			cur.sig.deprecated = m[1] == "deprecated"
			continue
		}
		if strings.HasPrefix(line, "Other versions of this operator:") {
			for _, m := range reOther.FindAllStringSubmatch(line, -1) {
				v, _ := strconv.ParseInt(m[1], 10, 64)
				cur.older = append(cur.older, v)
			}
		}
	}
	finishList()
	if err := sc.Err(); err != nil {
		return err
	}
	for _, o := range ops {
		if o.latest == 0 {
			return fmt.Errorf("operator %s: no version line", o.name)
		}
		if !o.sig.deprecated && !o.sawOut {
			return fmt.Errorf("operator %s: no Outputs section", o.name)
		}
	}
	return nil
}

type histKey struct {
	domain, name string
	since        int64
}

// readHistory reads lines "[domain:]Op since inputs outputs", where a count
// is N, N-M or N-inf, and # starts a comment.
func readHistory(path string) (map[histKey]signature, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	hist := map[histKey]signature{}
	for i, line := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", path, i+1, why) }
		if len(f) != 4 {
			return nil, bad("want: op since inputs outputs")
		}
		k := histKey{name: f[0]}
		if d, n, ok := strings.Cut(f[0], ":"); ok {
			k.domain, k.name = d, n
		}
		if k.since, err = strconv.ParseInt(f[1], 10, 64); err != nil || k.since < 1 {
			return nil, bad("bad version " + f[1])
		}
		var s signature
		if s.in, err = parseArity(f[2]); err != nil {
			return nil, bad(err.Error())
		}
		if s.out, err = parseArity(f[3]); err != nil {
			return nil, bad(err.Error())
		}
		if _, dup := hist[k]; dup {
			return nil, bad("repeated entry")
		}
		hist[k] = s
	}
	return hist, nil
}

func parseArity(s string) (arity, error) {
	lo, hi, ranged := strings.Cut(s, "-")
	min, err := strconv.Atoi(lo)
	if err != nil || min < 0 {
		return arity{}, fmt.Errorf("bad count %q", s)
	}
	if !ranged {
		return arity{min, min}, nil
	}
	if hi == "inf" {
		return arity{min, -1}, nil
	}
	max, err := strconv.Atoi(hi)
	if err != nil || max < min {
		return arity{}, fmt.Errorf("bad count %q", s)
	}
	return arity{min, max}, nil
}

type entry struct {
	since int64
	sig   signature
}

// buildTable gives every operator its versions, newest signature from the
// document, older ones from the history or else the next newer version,
// and keeps only the versions where the signature changes.
func buildTable(ops map[[2]string]*op, hist map[histKey]signature) (map[[2]string][]entry, error) {
	used := map[histKey]bool{}
	table := map[[2]string][]entry{}
	for key, o := range ops {
		versions := append([]int64{o.latest}, o.older...)
		sort.Slice(versions, func(i, j int) bool { return versions[i] > versions[j] })
		if versions[0] != o.latest {
			return nil, fmt.Errorf("operator %s: version %d is documented but %d is listed as older", o.name, o.latest, versions[0])
		}
		var desc []entry // newest first
		sig := o.sig
		for i, v := range versions {
			if i > 0 && v == versions[i-1] {
				return nil, fmt.Errorf("operator %s: version %d listed twice", o.name, v)
			}
			hk := histKey{o.domain, o.name, v}
			if h, ok := hist[hk]; ok {
				if v == o.latest && !o.sig.deprecated {
					return nil, fmt.Errorf("history gives %s-%d, the version the document describes", o.name, v)
				}
				sig = h
				used[hk] = true
			} else if i > 0 && sig.deprecated {
				return nil, fmt.Errorf("history lacks %s-%d, the version before its deprecation", o.name, v)
			}
			desc = append(desc, entry{v, sig})
		}
		var asc []entry
		for i := len(desc) - 1; i >= 0; i-- {
			if n := len(asc); n > 0 && asc[n-1].sig == desc[i].sig {
				continue
			}
			asc = append(asc, desc[i])
		}
		table[key] = asc
	}
	for k := range hist {
		if !used[k] {
			return nil, fmt.Errorf("history names %s-%d, which the documents do not list", k.name, k.since)
		}
	}
	return table, nil
}

func emit(table map[[2]string][]entry, ops map[[2]string]*op) ([]byte, error) {
	keys := make([][2]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	var b bytes.Buffer
	b.WriteString("// Code generated by opschemagen; DO NOT EDIT.\n\n")
	b.WriteString("package graph\n\n")
	b.WriteString("// opSchemas holds, per operator domain and type, the versions at which\n")
	b.WriteString("// the operator's input or output counts changed, oldest first.\n")
	b.WriteString("var opSchemas = map[opKey][]opArity{\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "\t{%q, %q}: {", k[0], k[1])
		for i, e := range table[k] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{%d, %d, %d, %d, %d, %v}", e.since, e.sig.in.min, e.sig.in.max, e.sig.out.min, e.sig.out.max, e.sig.deprecated)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("// opAttrTypes holds, per operator domain and type, the version its\n")
	b.WriteString("// newest signature dates from and the type of each attribute it has.\n")
	b.WriteString("var opAttrTypes = map[opKey]opAttrs{\n")
	for _, k := range keys {
		o := ops[k]
		if o == nil || len(o.attrs) == 0 || o.sig.deprecated {
			continue
		}
		names := make([]string, 0, len(o.attrs))
		for n := range o.attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\t{%q, %q}: {%d, map[string]AttrType{", k[0], k[1], o.latest)
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", n, o.attrs[n])
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
