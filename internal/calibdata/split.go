// split.go divides samples into calibration and evaluation sets.

package calibdata

import "sort"

// Split divides samples into calibration and evaluation sets: with the
// names sorted as Open orders samples, every every-th one (positions every-1, 2*every-1, ...:
// sample_003, sample_007, ... for every = 4) evaluates, up to max of them,
// and all others calibrate. Both results are indices into names, in name
// order. every <= 0 puts everything in calib; max <= 0 means no limit.
func Split(names []string, every int, max int) (calib, eval []int) {
	return SplitAt(names, every, every-1, max)
}

// SplitAt is Split with the evaluation samples at positions at, at+every,
// at+2*every, ... (0 <= at < every) of the sorted names: Split takes the
// last position of each group of every, SplitAt any other.
func SplitAt(names []string, every, at int, max int) (calib, eval []int) {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return nameLess(names[order[a]], names[order[b]]) })
	for pos, i := range order {
		if every > 0 && pos%every == at && (max <= 0 || len(eval) < max) {
			eval = append(eval, i)
		} else {
			calib = append(calib, i)
		}
	}
	return calib, eval
}
