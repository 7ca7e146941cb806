package calib

import "math"

// logTableBits is how many leading mantissa bits pick a row of the log
// tables: the series then runs on a ratio within 2^-(logTableBits+1) of 1.
const logTableBits = 8

// logCenter and invCenter hold, for each row j, log(c) and 1/c where
// c = 1 + (j+0.5)/2^logTableBits is the middle of the row's mantissas.
var logCenter, invCenter = func() (l, inv [1 << logTableBits]float64) {
	for j := range l {
		c := 1 + (float64(j)+0.5)/(1<<logTableBits)
		l[j], inv[j] = math.Log(c), 1/c
	}
	return l, inv
}()

// fastLog is the natural logarithm for the KL search, which takes one per
// quantized bin of every window it tries. x = 2^e·m, m in [1, 2), and
// log m = log c + log(m/c) with c the middle of m's table row, so m/c is
// within 2^-9 of 1 and five terms of log(1+r) reach float64 precision
// (the error stays within a few units in the last place of math.Log, of
// 0.5 near x = 1).
// Values that are not positive normal numbers take math.Log.
func fastLog(x float64) float64 {
	b := math.Float64bits(x)
	e := int(b>>52) - 1023
	if x <= 0 || e == -1023 || e == 1024 {
		return math.Log(x)
	}
	j := b >> (52 - logTableBits) & (1<<logTableBits - 1)
	m := math.Float64frombits(b&(1<<52-1) | 1023<<52)
	r := m*invCenter[j] - 1
	// log(1+r) = r − r²/2 + r³/3 − r⁴/4 + r⁵/5, in Horner form.
	p := r * (1 + r*(-0.5+r*(1.0/3+r*(-0.25+r*0.2))))
	return float64(e)*math.Ln2 + logCenter[j] + p
}
