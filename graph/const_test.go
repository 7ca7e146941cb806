package graph

import (
	"slices"
	"testing"
)

// TestConstFloat32s: a float32 constant gives its values; a constant of
// another type, a computed value and no value give nil.
func TestConstFloat32s(t *testing.T) {
	g := NewGraph("g")
	ft, err := FromFloat32s("f", []int64{3}, []float32{1, -2, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	it, err := FromInt64s("i", []int64{2}, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.AddInitializer(ft)
	if err != nil {
		t.Fatal(err)
	}
	i, err := g.AddInitializer(it)
	if err != nil {
		t.Fatal(err)
	}
	x, err := g.AddInput("x", Float32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.ConstFloat32s(); !slices.Equal(got, []float32{1, -2, 0.5}) {
		t.Errorf("float32 constant: %v", got)
	}
	var none *Value
	for name, v := range map[string]*Value{"int64 constant": i, "input": x, "nil": none} {
		if got := v.ConstFloat32s(); got != nil {
			t.Errorf("%s: %v, want nil", name, got)
		}
	}
}
