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

// opAttrs are the attribute types of an operator's newest signature,
// which holds from version since on.
type opAttrs struct {
	since int64
	types map[string]AttrType
}

// checkAttrTypes refuses an attribute whose type is not the one the
// operator's newest signature gives an attribute of that name: a runtime
// reading it by its type would find nothing and compute with the default
// (strides stored as a float). An attribute keeps its type across an
// operator's versions, but for those attrTypeChanged lists, which are not
// checked before the version their newest type dates from; attributes
// the newest signature does not name (an older version's) pass.
func checkAttrTypes(n *Node, version int64) error {
	key := opKey{canonicalDomain(n.Domain), n.OpType}
	s, ok := opAttrTypes[key]
	if !ok {
		return nil
	}
	for _, a := range n.Attrs {
		want, known := s.types[a.Name]
		if since, changed := attrTypeChanged[attrKey{key, a.Name}]; changed && version < since {
			continue
		}
		if known && a.RefAttrName == "" && a.Type != want {
			return fmt.Errorf("attribute %q is of type %v; %s takes %v in opset %d", a.Name, a.Type, n.OpType, want, version)
		}
	}
	return nil
}

// attrKey names one attribute of an operator.
type attrKey struct {
	op   opKey
	name string
}

// attrTypeChanged lists the attributes whose type changed between
// versions of their operator, with the version the newest type dates
// from: Cast's "to" was a string before opset 6.
var attrTypeChanged = map[attrKey]int64{
	{opKey{"", "Cast"}, "to"}: 6,
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
