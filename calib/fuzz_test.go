// Fuzz tests: Load never panics, and whatever it accepts saves back to the
// same statistics.

package calib

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzLoad(f *testing.F) {
	for _, m := range Methods {
		for _, ho := range histOptions {
			c, err := New(m, ho.opts)
			if err != nil {
				f.Fatal(err)
			}
			c.Observe("a", []float32{-3, 0.5, 1e-3, 7})
			c.Observe("b", []float32{0, 0})
			c.Observe("c", nil)
			var b bytes.Buffer
			if err := c.Save(&b); err != nil {
				f.Fatal(err)
			}
			f.Add(b.String())
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Load(strings.NewReader(s))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := c.Save(&b); err != nil {
			t.Fatal(err)
		}
		d, err := Load(&b)
		if err != nil {
			t.Fatalf("reloading a saved collection: %v", err)
		}
		c.Ranges()
		if err := c.Merge(d); err != nil {
			t.Fatal(err)
		}
		c.Observe("a", []float32{1, -1e20})
		c.Ranges()
	})
}
