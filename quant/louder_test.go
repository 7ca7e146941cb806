package quant_test

import (
	"reflect"
	"testing"

	"github.com/onnxq/onnxq/calib"
	"github.com/onnxq/onnxq/quant"
)

// LouderThan takes the further side of each value past its calibration
// extremes, skips sides calibration never reached, and orders the loudest
// first.
func TestLouderThan(t *testing.T) {
	cal := map[string]calib.Range{
		"a": {Min: -1, Max: 2}, // eval 6 above: 3x
		"b": {Min: -1, Max: 2}, // eval -5 below: 5x, above 3 only 1.5x
		"c": {Min: 0, Max: 1},  // below: no calibration side to pass
		"d": {Min: -2, Max: 4}, // within 2x
		"e": {Min: -1, Max: 0}, // above: no calibration side to pass
	}
	eval := map[string]calib.Range{
		"a": {Min: -1, Max: 6},
		"b": {Min: -5, Max: 3},
		"c": {Min: -9, Max: 1},
		"d": {Min: -3, Max: 7},
		"e": {Min: -1, Max: 9},
		"f": {Min: -9, Max: 9}, // not calibrated
	}
	got := quant.LouderThan(eval, cal, 2)
	want := []quant.Louder{{Name: "b", Factor: 5}, {Name: "a", Factor: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LouderThan = %v, want %v", got, want)
	}
}
