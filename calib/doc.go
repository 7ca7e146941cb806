// Package calib observes activation values during calibration runs and
// turns them into ranges: MinMax, moving-average MinMax, histogram-based
// entropy (KL), percentile and MSE observers.
//
// Observers use a fixed amount of memory per tensor whatever the number of
// samples, merge with one another, and serialise, so calibration can be
// split and combined. The package never sees a graph: the runtime hands it
// tensors through its observer hook, and only depends on qdq.
package calib
