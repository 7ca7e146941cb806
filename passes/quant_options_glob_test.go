package passes

import "testing"

// * and ? match across "/", as exported node paths need; the rest is
// path.Match's syntax.
func TestMatchGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*Gemm", "/blocks.0/fcn_layer/Gemm", true},
		{"/blocks.0/*", "/blocks.0/fcn_layer/Gemm", true},
		{"/*/Gemm", "/layer1/Gemm", true},
		{"conv?", "conv1", true},
		{"a?b", "a/b", true},
		{"conv[12]", "conv3", false},
		{`x\*`, "x*", true},
		{`x\*`, "xy", false},
		{"[", "[", false}, // malformed: matches nothing
	} {
		if got := MatchGlob(c.pattern, c.name); got != c.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
	if GlobError("[") == nil || GlobError("/a/*") != nil {
		t.Error("GlobError")
	}
}
