package graph

import "fmt"

//go:generate go run ./internal/opschemagen -history internal/opschemagen/history.txt -o opschema_table.go ../../shared/onnx/docs/Operators.md

// opKey names an operator: its canonical domain ("" for the default one)
// and type.
type opKey struct {
	domain, op string
}

// opArity gives the input and output counts an operator allows from
// version since on; a negative max means no upper bound.
type opArity struct {
	since          int64
	minIn, maxIn   int
	minOut, maxOut int
	// deprecated versions have no signature: nodes are not checked.
	deprecated bool
}

// lookupArity returns the signature of op in the given opset version: the
// entry with the largest since not above version.
func lookupArity(domain, op string, version int64) (opArity, bool) {
	entries := opSchemas[opKey{canonicalDomain(domain), op}]
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].since <= version {
			return entries[i], true
		}
	}
	return opArity{}, false
}

// checkArity checks a node's input and output counts against the operator
// table for the imported opset version. Omitted optional inputs and
// outputs count where a later one is present (the format keeps their
// place with an empty name), as in the ONNX checker. Operators the table
// does not know, versions before an operator exists and deprecated
// versions pass: they are not this check's business.
func checkArity(n *Node, version int64) error {
	a, ok := lookupArity(n.Domain, n.OpType, version)
	if !ok || a.deprecated {
		return nil
	}
	if err := countError(n.OpType, "inputs", a.minIn, a.maxIn, len(n.Inputs), version); err != nil {
		return err
	}
	return countError(n.OpType, "outputs", a.minOut, a.maxOut, len(n.Outputs), version)
}

func countError(op, what string, min, max, got int, version int64) error {
	if got >= min && (max < 0 || got <= max) {
		return nil
	}
	var want string
	switch {
	case max < 0:
		want = fmt.Sprintf("at least %d", min)
	case min == max:
		want = fmt.Sprintf("%d", min)
	default:
		want = fmt.Sprintf("%d to %d", min, max)
	}
	noun := what
	if want == "1" || want == "at least 1" {
		noun = what[:len(what)-1]
	}
	return fmt.Errorf("%s takes %s %s in opset %d, got %d", op, want, noun, version, got)
}

// latestOpset is the newest default-domain opset the operator table
// records (a new operator or signature), computed once.
var latestOpset = func() int64 {
	latest := int64(0)
	for k, entries := range opSchemas {
		if k.domain != "" {
			continue
		}
		for _, e := range entries {
			latest = max(latest, e.since)
		}
	}
	return latest
}()

// LatestOpset returns the newest default-domain opset onnxq's operator
// table knows: a model importing more declares operators no released
// ONNX defines, and runtimes refuse it.
func LatestOpset() int64 { return latestOpset }
