package runtime

import "fmt"

// BroadcastShape returns the numpy-style broadcast of shapes: dimensions
// are aligned from the right, and each pair must be equal or contain a 1.
func BroadcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			switch o := out[off+i]; {
			case o == d || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v cannot be broadcast together", shapes)
			}
		}
	}
	return out, nil
}

// BroadcastIndex maps every element of the broadcast shape out to the
// flat index of the element it reads in an operand of shape in: idx[i] is
// that index for output element i. It is the general (slow) path; kernels
// special-case equal shapes and scalars.
func BroadcastIndex(in, out []int) []int {
	n := 1
	for _, d := range out {
		n *= d
	}
	strides := broadcastStrides(in, out)
	idx := make([]int, n)
	counter := make([]int, len(out))
	pos := 0
	for i := 0; i < n; i++ {
		idx[i] = pos
		for ax := len(out) - 1; ax >= 0; ax-- {
			counter[ax]++
			pos += strides[ax]
			if counter[ax] < out[ax] {
				break
			}
			pos -= strides[ax] * counter[ax]
			counter[ax] = 0
		}
	}
	return idx
}

// broadcastStrides gives, for each axis of out, the stride of the operand
// of shape in along it (0 where the operand is broadcast).
func broadcastStrides(in, out []int) []int {
	strides := make([]int, len(out))
	off := len(out) - len(in)
	stride := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			strides[off+i] = stride
		}
		stride *= in[i]
	}
	return strides
}

// Strides returns the row-major strides of a shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	stride := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = stride
		stride *= shape[i]
	}
	return s
}

// NormalizeAxis maps a possibly negative axis into [0, rank).
func NormalizeAxis(axis int64, rank int) (int, error) {
	a := int(axis)
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	return a, nil
}
