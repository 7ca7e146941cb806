// pb.go reads and writes single ONNX TensorProto files (.pb), and reads a
// tensor file of any supported format by its content.

package tensorio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// ReadPb reads one serialized TensorProto; the name is the one stored in
// the file (often empty). External data is read relative to the file.
func ReadPb(path string) (Named, error) {
	data, err := graph.ReadProtoFile(path, "a TensorProto")
	if err != nil {
		return Named{}, err
	}
	return decodePb(data, path)
}

func decodePb(data []byte, path string) (Named, error) {
	gt, err := graph.DecodeTensor(data, filepath.Dir(path))
	if err != nil {
		return Named{}, fmt.Errorf("%s: %w", path, err)
	}
	t, err := runtime.FromGraph(gt)
	if err != nil {
		return Named{}, fmt.Errorf("%s: %v", path, err)
	}
	return Named{Name: gt.Name, Tensor: t}, nil
}

// WritePb writes t as one TensorProto named name.
func WritePb(path, name string, t *runtime.Tensor) error {
	if err := checkData(t); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	gt, err := runtime.ToGraph(name, t)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	data, err := graph.EncodeTensor(gt)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Format is a tensor file format.
type Format int

// The formats ReadFile recognises.
const (
	FormatNpy Format = iota + 1
	FormatNpz
	FormatPb
)

func (f Format) String() string {
	switch f {
	case FormatNpy:
		return ".npy"
	case FormatNpz:
		return ".npz"
	case FormatPb:
		return ".pb"
	}
	return "unknown"
}

// Sniff tells the format of a tensor file from its first bytes: the .npy
// magic, a zip header (.npz), else a TensorProto.
func Sniff(path string) (Format, error) {
	f, err := graph.OpenRead(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// A device (/dev/urandom, /dev/zero) never holds a sample: refused
	// before up to 2 GiB of it are read.
	if st, err := f.Stat(); err == nil && st.Mode()&fs.ModeDevice != 0 {
		return 0, fmt.Errorf("%s: is a device, not a data file", path)
	}
	var head [6]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n == 6 && string(head[:]) == npyMagic:
		return FormatNpy, nil
	case n >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")), n >= 4 && bytes.Equal(head[:4], []byte("PK\x05\x06")):
		return FormatNpz, nil
	}
	return FormatPb, nil
}

// ReadFile reads a .npy, .npz or .pb file, recognised by content. A .npy
// array is named after the file (without extension); .npz arrays by their
// member names; a .pb tensor by the name stored in it.
func ReadFile(path string) (Format, []Named, error) {
	format, err := Sniff(path)
	if err != nil {
		return 0, nil, err
	}
	switch format {
	case FormatNpy:
		t, err := ReadNpy(path)
		if err != nil {
			return format, nil, err
		}
		name := filepath.Base(path)
		name = name[:len(name)-len(filepath.Ext(name))]
		return format, []Named{{Name: name, Tensor: t}}, nil
	case FormatNpz:
		arrays, err := ReadNpz(path)
		return format, arrays, err
	}
	data, err := graph.ReadProtoFile(path, "a .npy, .npz or TensorProto .pb file")
	if err != nil {
		return format, nil, err
	}
	nt, err := decodePb(data, path)
	if errors.Is(err, graph.ErrNotTensor) {
		return format, nil, fmt.Errorf("%s: not a .npy, .npz or TensorProto .pb file", path)
	}
	if err != nil {
		return format, nil, err // a TensorProto, malformed: say how
	}
	return format, []Named{nt}, nil
}
