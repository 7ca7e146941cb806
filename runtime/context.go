package runtime

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/onnxq/onnxq/graph"
)

// Context is what a kernel sees of the running session.
type Context struct {
	// Node is the node being run.
	Node *graph.Node
	// Opset is the version of the node's domain the model imports.
	Opset int64
	// Threads is how many goroutines the kernel may use (see Parallel).
	Threads int

	ex *execution
	sc *scope
}

// requantizer is the session's choice of requantization.
func (c *Context) requantizer() Requantizer {
	if c == nil || c.ex == nil {
		return RequantizeFloat
	}
	return c.ex.s.opts.Requantizer
}

// Alloc returns a tensor for a kernel's output. Float32 buffers come from
// the session's pool and are not zeroed: the kernel must write every
// element. Uint8 and int8 buffers come from the pool too, zeroed; other
// types are freshly allocated (zeroed).
func (c *Context) Alloc(dt graph.DType, shape ...int) *Tensor {
	return c.alloc(dt, true, shape...)
}

// allocFull is Alloc for a kernel that writes every element: reused
// 8-bit buffers are not cleared first.
func (c *Context) allocFull(dt graph.DType, shape ...int) *Tensor {
	return c.alloc(dt, false, shape...)
}

func (c *Context) alloc(dt graph.DType, clearBytes bool, shape ...int) *Tensor {
	if (dt == graph.Float32 || dt == graph.Uint8 || dt == graph.Int8) && c != nil && c.ex != nil {
		n := 1
		for _, d := range shape {
			n *= d
		}
		shape = append([]int{}, shape...)
		checkAlloc(dt, n)
		if dt != graph.Float32 {
			// Reused bytes are cleared: kernels may rely on zeroed
			// 8-bit outputs, as they always have.
			buf := c.ex.s.pool.getBytes(n)
			if buf == nil {
				buf = make([]byte, n)
			} else if clearBytes {
				clear(buf)
			}
			t := &Tensor{DType: dt, Shape: shape, Data: buf, pooled: true}
			if dt == graph.Int8 {
				t.Data = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(buf))), n)
			}
			return t
		}
		if buf := c.ex.s.pool.get(n); buf != nil {
			return &Tensor{DType: dt, Shape: shape, Data: buf, pooled: true}
		}
		return &Tensor{DType: dt, Shape: shape, Data: make([]float32, n), pooled: true}
	}
	return New(dt, shape...)
}

// AllocZeroed is Alloc with every element zero.
func (c *Context) AllocZeroed(dt graph.DType, shape ...int) *Tensor {
	t := c.Alloc(dt, shape...)
	if f := t.F32(); f != nil {
		clear(f)
	}
	return t
}

// View returns a tensor sharing t's data with another shape of the same
// element count (Reshape, Flatten, Squeeze, Identity...). Kernels must make
// every output that shares an input's data through View, so the buffer is
// recycled only after its last holder is gone.
func (c *Context) View(t *Tensor, shape ...int) *Tensor {
	return &Tensor{DType: t.DType, Shape: append([]int{}, shape...), Data: t.Data, root: rootOf(t)}
}

// Parallel calls fn over [0, n) split into contiguous ranges, at most
// Threads at a time. Each index must be computed the same way whatever
// range it falls in, so results do not depend on the thread count.
func (c *Context) Parallel(n int, fn func(lo, hi int)) {
	threads := 1
	if c != nil {
		threads = c.Threads
	}
	if threads <= 1 || n <= 1 {
		fn(0, n)
		return
	}
	if threads > n {
		threads = n
	}
	var wg sync.WaitGroup
	var once sync.Once
	var failed any
	chunk := (n + threads - 1) / threads
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic in a worker would end the process: it goes to the
			// caller's goroutine, where the session turns it into the
			// node's error.
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { failed = r })
				}
			}()
			fn(lo, hi)
		}()
	}
	wg.Wait()
	if failed != nil {
		panic(failed)
	}
}

// RunSubgraph executes a subgraph of the current node (an If branch, a
// Loop or Scan body) with the given formal inputs; the subgraph also reads
// the values of the enclosing scopes. The returned tensors belong to the
// caller.
func (c *Context) RunSubgraph(g *graph.Graph, inputs []*Tensor) ([]*Tensor, error) {
	p := c.ex.s.plans[g]
	if p == nil {
		return nil, fmt.Errorf("subgraph %q was not prepared", g.Name)
	}
	outs, err := c.ex.runGraph(p, c.sc, inputs)
	if err != nil {
		return nil, fmt.Errorf("subgraph %q: %w", g.Name, err)
	}
	// Hand the outputs over: the hold the subgraph's run took on each value
	// its nodes produced ends here; the caller's starts when the executor
	// stores the kernel's outputs. Values of enclosing graphs, formal inputs
	// and constants were never held by this run.
	released := map[*graph.Value]bool{}
	for i, v := range g.Outputs {
		if v == nil || v.Producer == nil || v.Producer.Graph != g || released[v] {
			continue
		}
		released[v] = true
		c.ex.release(outs[i], false)
	}
	return outs, nil
}

// BufferPool recycles float32 buffers, and the bytes of uint8 and int8
// buffers, by length. Sessions given the same pool (Options.Pool) reuse
// each other's freed buffers; it is safe for concurrent use.
type BufferPool struct {
	mu    sync.Mutex
	free  map[int][][]float32
	bytes map[int][][]byte
}

// NewBufferPool returns an empty pool for sessions to share.
func NewBufferPool() *BufferPool {
	return &BufferPool{free: map[int][][]float32{}, bytes: map[int][][]byte{}}
}

func (p *BufferPool) get(n int) []float32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.free[n]
	if len(list) == 0 {
		return nil
	}
	buf := list[len(list)-1]
	p.free[n] = list[:len(list)-1]
	return buf
}

func (p *BufferPool) getBytes(n int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.bytes[n]
	if len(list) == 0 {
		return nil
	}
	buf := list[len(list)-1]
	p.bytes[n] = list[:len(list)-1]
	return buf
}

// poisonFreed makes tests fill recycled buffers with NaN (bytes with
// 0xA5), so a kernel that keeps reading a buffer after handing it back
// shows up in results.
var poisonFreed = false

func (p *BufferPool) put(t *Tensor) {
	if b := bytesOf(t); b != nil {
		b = b[:cap(b)]
		if poisonFreed {
			for i := range b {
				b[i] = 0xA5
			}
		}
		p.mu.Lock()
		p.bytes[len(b)] = append(p.bytes[len(b)], b)
		p.mu.Unlock()
		return
	}
	buf, ok := t.Data.([]float32)
	if !ok {
		return
	}
	buf = buf[:cap(buf)]
	if poisonFreed {
		nan := float32(0) / float32(zero)
		for i := range buf {
			buf[i] = nan
		}
	}
	p.mu.Lock()
	p.free[len(buf)] = append(p.free[len(buf)], buf)
	p.mu.Unlock()
}

var zero float32
