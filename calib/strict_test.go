package calib

import (
	"strings"
	"testing"
)

type strictInner struct {
	A int      `json:"a"`
	B *int     `json:"b,omitempty"`
	F *float64 `json:"f,omitempty"`
}

type strictOuter struct {
	Name  string                 `json:"name"`
	In    strictInner            `json:"in"`
	List  []strictInner          `json:"list"`
	ByKey map[string]strictInner `json:"by_key,omitempty"`
}

// Each document encoding/json takes is refused, with the error naming
// the place; the well-formed one decodes.
func TestStrictUnmarshal(t *testing.T) {
	var good strictOuter
	if err := StrictUnmarshal([]byte(`{"name":"x","in":{"a":1},"list":[{"a":2,"b":3}],"by_key":{"k":{"a":4}}}`), &good); err != nil {
		t.Fatal(err)
	}
	if good.List[0].A != 2 || *good.List[0].B != 3 || good.ByKey["k"].A != 4 {
		t.Errorf("decoded %+v", good)
	}
	// the byte-order mark some editors write is skipped
	if err := StrictUnmarshal([]byte("\xef\xbb\xbf"+`{"name":"x","in":{"a":1},"list":[]}`), &good); err != nil {
		t.Errorf("a file starting with a byte-order mark: %v", err)
	}
	bad := map[string]string{
		`{"name":"x","in":{"a":1},"list":[],"name":"y"}`:                    `field "name" appears twice`,
		`{"Name":"x","in":{"a":1},"list":[]}`:                               `unknown field "Name"`,
		`{"name":"x","list":[]}`:                                            `no field "in"`,
		`{"name":"x","in":null,"list":[]}`:                                  `"in" is null`,
		`{"name":"x","in":{"a":1},"list":[{"b":1}]}`:                        `"list[0]" has no field "a"`,
		`{"name":"x","in":{"a":1},"list":[],"by_key":{"k":{"a":1},"k":{}}}`: `key "k" appears twice`,
		`{"name":"x","in":{"a":1},"list":[]} {}`:                            `trailing data`,
		``:                                                                  `empty`,
		`{"name":"x","in":{"a":1`:                                           `ends early`,
		`null`:                                                              `is null`,
		`[1]`:                                                               `the file holds a JSON array, want an object`,
		`{"name":7,"in":{"a":1},"list":[]}`:                                 `"name" holds a JSON number, want a string`,
		`{"name":"x","in":{"a":1e400},"list":[]}`:                           `"in.a" holds 1e400, out of the range a 64-bit integer can take`,
		`{"name":"x","in":{"a":null},"list":[]}`:                            `"in.a" is null, want an integer`,
		`{"name":null,"in":{"a":1},"list":[]}`:                              `"name" is null, want a string`,
		`{"name":"x","in":{"a":8.5},"list":[]}`:                             `"in.a" holds 8.5, want an integer`,
		`{"name":"x","in":{"a":1,"f":-1e999},"list":[]}`:                    `"in.f" holds -1e999, beyond what a 64-bit float holds`,
		`{"name":"x","in":{"a":NaN},"list":[]}`:                             `not valid JSON at byte 23`,
	}
	for doc, want := range bad {
		var v strictOuter
		err := StrictUnmarshal([]byte(doc), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", doc, err, want)
		}
	}
}
