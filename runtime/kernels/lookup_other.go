//go:build !amd64 || noasm

// This file uses the portable table lookup where no assembly runs.

package kernels

func lookupBytes(dst, src []byte, table *[256]byte) { lookupBytesGo(dst, src, table) }
