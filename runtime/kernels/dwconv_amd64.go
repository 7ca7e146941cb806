//go:build amd64 && !noasm

package kernels

func dwAssembly() bool { return activeI8.name == "vnni" || activeI8.name == "vnni16" }

func depthwiseRow(dst []int32, src []byte, quads []DWQuad, stride int) {
	if !dwAssembly() {
		depthwiseRowGo(dst, src, quads, stride)
		return
	}
	var offs [16]int
	var ws [16]uint32
	blocks := len(dst) / DWBlock(stride)
	// Sixteen quads (a 7×7 window has 14) per call; more add up in dst.
	for first := 0; first < len(quads); first += len(offs) {
		part := quads[first:min(len(quads), first+len(offs))]
		for i, q := range part {
			offs[i] = q.Off
			ws[i] = uint32(uint8(q.W[0])) | uint32(uint8(q.W[1]))<<8 | uint32(uint8(q.W[2]))<<16 | uint32(uint8(q.W[3]))<<24
		}
		if stride == 1 {
			depthwiseRowVNNI(&dst[0], &src[0], &offs[0], &ws[0], len(part), blocks, first > 0)
		} else {
			depthwiseRow2VNNI(&dst[0], &src[0], &offs[0], &ws[0], len(part), blocks, first > 0)
		}
	}
}

// depthwiseRowVNNI computes blocks blocks of 64 outputs of
// depthwiseRowGo with stride 1 (adding to dst when add is set): VPDPBUSD
// on the bytes at offsets 0, 1, 2 and 3 of each block gives the outputs
// ≡ 0, 1, 2, 3 (mod 4), which a 4×4 transpose of words and of 128-bit
// lanes puts back in order. nq must be at least 1.
//
//go:noescape
func depthwiseRowVNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int, add bool)

// depthwiseRow2VNNI is depthwiseRowVNNI for stride 2: blocks of 32
// outputs, the even ones from the bytes at offset 0, the odd ones from
// offset 2, interleaved back.
//
//go:noescape
func depthwiseRow2VNNI(dst *int32, src *byte, offs *int, ws *uint32, nq, blocks int, add bool)

func depthwiseRowsQ(out []byte, ldo int, src []byte, lds int, taps *DWTaps, rows, n, stride int, rq Requant) bool {
	if !dwAssembly() || len(taps.Quads) == 0 {
		return false
	}
	block := DWBlock(stride)
	blocks := (n + block - 1) / block
	// The last block of a row writes only the row's remaining outputs.
	tail := uint64(1)<<(n-(blocks-1)*block) - 1
	if n-(blocks-1)*block == 64 {
		tail = ^uint64(0)
	}
	p := dwParams{add: rq.Add, scale: rq.Scale, lo: rq.Lo, hi: rq.Hi, zp: rq.ZP, tail: tail}
	if stride == 1 {
		depthwiseRowsQVNNI(&out[0], ldo, &src[0], lds, &taps.offs[0], &taps.ws[0], len(taps.Quads), rows, blocks, &p)
	} else {
		depthwiseRowsQ2VNNI(&out[0], ldo, &src[0], lds, &taps.offs[0], &taps.ws[0], len(taps.Quads), rows, blocks, &p)
	}
	return true
}

// dwParams are the requantization and the last block's byte mask of
// depthwiseRowsQVNNI (field offsets are used by the assembly).
type dwParams struct {
	add           int32   // 0
	scale, lo, hi float32 // 4, 8, 12
	zp            int32   // 16
	_             int32
	tail          uint64 // 24
}

// depthwiseRowsQVNNI computes rows rows of blocks blocks of 64 outputs as
// depthwiseRowVNNI does (row r from src + r·lds), requantizes them as
// requantizeAVX512 does and stores their bytes at out + r·ldo, the last
// block of each row under the byte mask p.tail.
//
//go:noescape
func depthwiseRowsQVNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)

// depthwiseRowsQ2VNNI is depthwiseRowsQVNNI for stride 2 (blocks of 32
// outputs, as depthwiseRow2VNNI).
//
//go:noescape
func depthwiseRowsQ2VNNI(out *byte, ldo int, src *byte, lds int, offs *int, ws *uint32, nq, rows, blocks int, p *dwParams)
