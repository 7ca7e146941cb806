//go:build amd64 && !noasm

package kernels

func depthwiseRow(dst []int32, src []byte, taps *DWTaps, stride int) {
	if !VNNISelected() {
		depthwiseRowGo(dst, src, taps.Quads, stride)
		return
	}
	blocks := len(dst) / DWBlock(stride)
	if stride == 1 {
		depthwiseRowVNNI(&dst[0], &src[0], &taps.offs[0], &taps.ws[0], len(taps.Quads), blocks)
	} else {
		depthwiseRow2VNNI(&dst[0], &src[0], &taps.offs[0], &taps.ws[0], len(taps.Quads), blocks)
	}
}

// depthwiseRowVNNI computes blocks blocks of 64 outputs of
// depthwiseRowGo with stride 1: VPDPBUSD on the bytes at offsets 0, 1, 2
// and 3 of each block gives the outputs ≡ 0, 1, 2, 3 (mod 4), which a 4×4
// transpose of words and of 128-bit lanes puts back in order. nq must be
// at least 1.
//
//go:noescape
func depthwiseRowVNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int)

// depthwiseRow2VNNI is depthwiseRowVNNI for stride 2: blocks of 32
// outputs, the even ones from the bytes at offset 0, the odd ones from
// offset 2, interleaved back.
//
//go:noescape
func depthwiseRow2VNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int)

func depthwiseRowsQ(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant, hs bool, yScale float32) bool {
	if !VNNISelected() || len(taps.Quads) == 0 {
		return false
	}
	// Whole blocks, then the rest of the row in a half-width block (ymm)
	// when it fits one, else in a full one; the tail block writes only
	// the row's remaining outputs (byte mask).
	block := DWBlock(stride)
	full, rem := n/block, n%block
	p := dwParams{add: rq.Add, scale: rq.Scale, lo: rq.Lo, hi: rq.Hi, zp: rq.ZP, yScale: yScale}
	if hs {
		p.hardSwish = 1
	}
	switch {
	case rem == 0:
	case rem <= block/2:
		p.kind, p.tail = 1, uint64(1)<<rem-1
	default:
		p.kind, p.tail = 2, uint64(1)<<rem-1
	}
	if stride == 1 {
		depthwiseRowsQVNNI(&out[0], ldo, &src[0], lds, &taps.offs[0], &taps.ws[0], len(taps.Quads), rows, full, &p)
	} else {
		depthwiseRowsQ2VNNI(&out[0], ldo, &src[0], lds, &taps.offs[0], &taps.ws[0], len(taps.Quads), rows, full, &p)
	}
	return true
}

// dwParams are the requantization and the tail of each row of
// depthwiseRowsQVNNI (field offsets are used by the assembly): kind 0 no
// tail, 1 a half-width block, 2 a full block, under the byte mask tail.
type dwParams struct {
	add           int32   // 0
	scale, lo, hi float32 // 4, 8, 12
	zp            int32   // 16
	_             int32
	tail          uint64  // 24
	kind          int64   // 32
	yScale        float32 // 40: the output scale of the hard-swish form
	hardSwish     int32   // 44: 1 for hardSwishRequantizeAVX512's epilogue
}

// depthwiseRowsQVNNI computes rows rows of outputs as depthwiseRowVNNI
// does (row r from src + r·lds): blocks whole blocks of 64, then the tail
// p.kind describes; it requantizes them as requantizeAVX512 does and
// stores their bytes at out + r·ldo.
//
//go:noescape
func depthwiseRowsQVNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)

// depthwiseRowsQ2VNNI is depthwiseRowsQVNNI for stride 2 (blocks of 32
// outputs, as depthwiseRow2VNNI, half-width ones of 16).
//
//go:noescape
func depthwiseRowsQ2VNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)
