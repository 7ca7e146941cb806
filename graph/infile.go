package graph

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
)

// OpenRead opens the file at path for reading without waiting for a
// writer: a named pipe nothing writes to reads as empty instead of
// blocking the open for ever, while a pipe being written (a shell's
// process substitution) still reads its data.
func OpenRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// MaxProtoBytes is the largest serialized protobuf message, model or
// tensor: the format's 2 GiB limit.
const MaxProtoBytes = 2 << 30

// ReadFileLimited reads the file at path, which must hold at most limit
// bytes. A stream that never ends (/dev/zero, a pipe fed without end)
// is an error once limit bytes are passed, rather than read until memory
// runs out; a regular file larger than limit is refused without reading.
func ReadFileLimited(path string, limit int64) ([]byte, error) {
	return readLimited(path, limit, nil)
}

// readLimited is ReadFileLimited that, when check is set, hands it the
// file's first byte (if any) before reading the rest.
func readLimited(path string, limit int64, check func(first byte) error) ([]byte, error) {
	f, err := OpenRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("%s: is a folder", path)
		}
		if st.Mode().IsRegular() && st.Size() > limit {
			return nil, fmt.Errorf("%s: %d bytes, more than the %d this file can hold", path, st.Size(), limit)
		}
	}
	var r io.Reader = f
	if check != nil {
		var first [1]byte
		n, _ := f.Read(first[:])
		if n == 1 {
			if err := check(first[0]); err != nil {
				return nil, err
			}
		}
		r = io.MultiReader(bytes.NewReader(first[:n]), f)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes this file can hold", path, limit)
	}
	return data, nil
}

// ReadProtoFile is ReadFileLimited for a serialized protobuf message (a
// model, a tensor), at most MaxProtoBytes, that first checks the file's
// first byte: a message starts with a field's key, whose field number is
// never 0 and whose wire type is one ONNX's messages use. A file of zeros
// (/dev/zero) is then refused at once instead of after 2 GiB.
func ReadProtoFile(path, what string) ([]byte, error) {
	return readLimited(path, MaxProtoBytes, func(b byte) error {
		if wire := b & 7; b>>3 == 0 || wire != 0 && wire != 1 && wire != 2 && wire != 5 {
			return fmt.Errorf("%s: not %s (its first byte, 0x%02x, starts no protobuf field)", path, what, b)
		}
		return nil
	})
}
