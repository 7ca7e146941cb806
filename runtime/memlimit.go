package runtime

import (
	"fmt"
	"math"
	"runtime/debug"
	"sync"

	"github.com/onnxq/onnxq/graph"
)

// tensorBytesLimit is the largest tensor a session allocates: half the
// machine's memory, or half of GOMEMLIMIT when that is lower. A larger
// one (a hostile Expand or ConstantOfShape, a Resize with huge scales)
// cannot be held beside its inputs; Go ends the process when memory runs
// out, so such an allocation fails as a kernel error instead.
var tensorBytesLimit = sync.OnceValue(func() int64 {
	limit := int64(math.MaxInt64)
	if ram := physicalMemory(); ram > 0 {
		limit = ram / 2
	}
	if soft := debug.SetMemoryLimit(-1); soft > 0 && soft/2 < limit {
		limit = soft / 2
	}
	return limit
})

// tooLargeError is the panic value of an allocation past
// tensorBytesLimit; the session's kernel recovery turns it into the
// node's error.
type tooLargeError struct {
	dt           graph.DType
	n            int
	bytes, limit int64
}

func (e tooLargeError) Error() string {
	return fmt.Sprintf("a %v tensor of %d elements needs %s, more than the %s this machine allows one tensor (half its memory)",
		e.dt, e.n, byteSize(e.bytes), byteSize(e.limit))
}

func byteSize(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// checkAlloc panics with a tooLargeError when n elements of dt would
// take more than tensorBytesLimit.
func checkAlloc(dt graph.DType, n int) {
	size := elemBytes(dt)
	limit := tensorBytesLimit()
	if n > 0 && int64(n) > limit/size {
		panic(tooLargeError{dt: dt, n: n, bytes: int64(n) * size, limit: limit})
	}
}

// elemBytes is the memory one element of dt takes, as the limit counts
// it: a string its header alone, a sub-byte type a whole byte.
func elemBytes(dt graph.DType) int64 {
	size := int64(dt.Bits()+7) / 8
	switch {
	case dt == graph.String:
		size = 16
	case size <= 0:
		size = 1
	}
	return size
}

// tensorBytes is the memory t's elements take, as checkAlloc counts it.
func tensorBytes(t *Tensor) int64 { return int64(t.Len()) * elemBytes(t.DType) }
