// This file holds the INT8 depthwise convolution kernel: the outputs of
// one row of a channel are sums of the window's taps over one padded plane
// of uint8 activations, four taps that read consecutive bytes at a time.

package kernels

import "fmt"

// DWQuad is up to four taps of a depthwise window that read consecutive
// bytes: output o of a row gains Σ_j src[o·stride + Off + j]·W[j] (W[j] = 0
// where there is no tap).
type DWQuad struct {
	Off int
	W   [4]int8
}

// DWBlock is the number of outputs DepthwiseRow computes per step for a
// stride of 1 or 2: it writes n rounded up to a multiple of it.
func DWBlock(stride int) int { return 64 / stride }

// Reach is the number of bytes past src that DepthwiseRow and
// DepthwiseRowsQ read for a row of n outputs with the given stride.
func (t *DWTaps) Reach(n, stride int) int {
	block := DWBlock(stride)
	return t.maxOff + (n+block-1)/block*block*stride + 4
}

// DepthwiseRow sets dst[o] = Σ_q Σ_j src[o·stride + q.Off + j]·q.W[j] over
// taps.Quads for o < n rounded up to a multiple of DWBlock(stride);
// stride is 1 or 2 and src must hold taps.Reach(n, stride) bytes. Sums
// wrap around modulo 2³² (they are exact for fewer than 16,000 quads).
func DepthwiseRow(dst []int32, src []byte, taps *DWTaps, n, stride int) {
	if stride != 1 && stride != 2 {
		panic(fmt.Sprintf("kernels: DepthwiseRow with stride %d", stride))
	}
	block := DWBlock(stride)
	blocks := (n + block - 1) / block
	if n < 1 || len(dst) < blocks*block || len(src) < taps.Reach(n, stride) {
		panic(fmt.Sprintf("kernels: DepthwiseRow of %d outputs into %d from %d bytes", n, len(dst), len(src)))
	}
	if len(taps.Quads) == 0 {
		clear(dst[:blocks*block])
		return
	}
	depthwiseRow(dst[:blocks*block], src, taps, stride)
}

func depthwiseRowGo(dst []int32, src []byte, quads []DWQuad, stride int) {
	clear(dst)
	for _, q := range quads {
		w0, w1, w2, w3 := int32(q.W[0]), int32(q.W[1]), int32(q.W[2]), int32(q.W[3])
		for o := range dst {
			s := src[o*stride+q.Off:][:4]
			dst[o] += int32(s[0])*w0 + int32(s[1])*w1 + int32(s[2])*w2 + int32(s[3])*w3
		}
	}
}

// Requant is the requantization of one output channel, the parameters of
// Requantize: a sum s becomes
// byte(int32(roundHalfEven(min(max(float32(s+Add)·Scale, Lo), Hi))) + ZP).
type Requant struct {
	Add           int32
	Scale, Lo, Hi float32
	ZP            int32
}

// DWTaps is a window's tap groups prepared once for DepthwiseRow and
// DepthwiseRowsQ: their offsets and their weights as little-endian words.
type DWTaps struct {
	Quads  []DWQuad
	offs   []int
	ws     []uint32
	maxOff int
}

// NewDWTaps prepares quads (offsets must not be negative).
func NewDWTaps(quads []DWQuad) *DWTaps {
	t := &DWTaps{Quads: quads, offs: make([]int, len(quads)), ws: make([]uint32, len(quads))}
	for i, q := range quads {
		if q.Off < 0 {
			panic(fmt.Sprintf("kernels: a depthwise tap group reads from offset %d", q.Off))
		}
		t.offs[i] = q.Off
		t.ws[i] = uint32(uint8(q.W[0])) | uint32(uint8(q.W[1]))<<8 | uint32(uint8(q.W[2]))<<16 | uint32(uint8(q.W[3]))<<24
		t.maxOff = max(t.maxOff, q.Off)
	}
	return t
}

// DepthwiseRowsQ computes rows rows of n outputs of a depthwise window and
// requantizes them: output row r (out[r·ldo:][:n]) is DepthwiseRow of
// src[r·lds:] with taps.Quads, requantized by rq. Only those n bytes of
// each row are written. src must hold (rows−1)·lds + taps.Reach(n,
// stride) bytes. rq must satisfy Requantize's conditions.
func DepthwiseRowsQ(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant) {
	depthwiseRowsQAny(out, ldo, src, lds, taps, rows, n, stride, rq, false, 0)
}

// DepthwiseRowsH is DepthwiseRowsQ with HardSwishRequantize's epilogue:
// rq.Scale is the value's scale and yScale the output's.
func DepthwiseRowsH(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant, yScale float32) {
	depthwiseRowsQAny(out, ldo, src, lds, taps, rows, n, stride, rq, true, yScale)
}

func depthwiseRowsQAny(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant, hs bool, yScale float32) {
	if stride != 1 && stride != 2 {
		panic(fmt.Sprintf("kernels: DepthwiseRowsQ with stride %d", stride))
	}
	block := DWBlock(stride)
	if rows < 1 || n < 1 || ldo < n || len(out) < (rows-1)*ldo+n || len(src) < (rows-1)*lds+taps.Reach(n, stride) {
		panic(fmt.Sprintf("kernels: DepthwiseRowsQ of %d×%d outputs (stride %d) into %d bytes from %d", rows, n, ldo, len(out), len(src)))
	}
	if depthwiseRowsQ(out, ldo, src, lds, taps, rows, n, stride, rq, hs, yScale) {
		return
	}
	sums := make([]int32, (n+block-1)/block*block)
	for r := range rows {
		if len(taps.Quads) == 0 {
			clear(sums)
		} else {
			depthwiseRowGo(sums, src[r*lds:], taps.Quads, stride)
		}
		if hs {
			hardSwishRequantizeGo(out[r*ldo:][:n], sums, rq.Add, rq.Scale, yScale, rq.Lo, rq.Hi, rq.ZP)
			continue
		}
		requantizeGo(out[r*ldo:][:n], sums, rq.Add, rq.Scale, rq.Lo, rq.Hi, rq.ZP)
	}
}
