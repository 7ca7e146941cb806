// npz.go reads and writes .npz archives: zip files whose members are .npy
// files named after the arrays they hold ("x.npy" holds array "x").

package tensorio

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/onnxq/onnxq/graph"
	"github.com/onnxq/onnxq/runtime"
)

// Named is a tensor with the name it is stored under.
type Named struct {
	Name   string
	Tensor *runtime.Tensor
}

// maxDeflateRatio is the largest expansion deflate can achieve (about
// 1032:1); a member claiming more is not a real deflate stream.
const maxDeflateRatio = 1032

// ReadNpz reads every array of a .npz archive, in archive order: members
// named NAME.npy (any case) are the array NAME, other members that hold
// .npy data are arrays of their whole name (as numpy.load reads them), and
// the rest are skipped.
func ReadNpz(path string) ([]Named, error) { return ReadNpzChecked(path, nil) }

// SkipArray, returned by the accept function of ReadNpzChecked, leaves
// that array out without reading its data.
var SkipArray = errors.New("array skipped")

// ReadNpzChecked is ReadNpz that hands each array's name, element type and
// shape to accept (when set) as its header is read, before its data: a
// sample of the wrong shape is refused before a large array is inflated.
// An array accept answers SkipArray is left out; so is one whose header
// or data cannot be read when accept answers SkipArray for its name with
// no type (graph.Undefined) and no shape.
func ReadNpzChecked(path string, accept func(name string, dt graph.DType, shape []int) error) ([]Named, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a .npz archive: %v", path, plainZipError(err))
	}
	defer zr.Close()
	var out []Named
	seen := map[string]bool{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		name := f.Name
		if ext := filepath.Ext(name); strings.EqualFold(ext, ".npy") {
			name = strings.TrimSuffix(name, ext)
		} else if !holdsNpy(f) {
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: array %q is stored twice", path, name)
		}
		seen[name] = true
		var check func(graph.DType, []int) error
		if accept != nil {
			check = func(dt graph.DType, shape []int) error { return accept(name, dt, shape) }
		}
		t, err := readNpzMember(f, check)
		if errors.Is(err, SkipArray) {
			continue
		}
		// An array that cannot be read (pickled objects, a dtype onnxq
		// lacks) is no error when accept would leave it out whatever its
		// type: asked without one, it answers SkipArray.
		if err != nil && accept != nil && errors.Is(accept(name, graph.Undefined, nil), SkipArray) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: array %q: %v", path, name, err)
		}
		out = append(out, Named{Name: name, Tensor: t})
	}
	return out, nil
}

// holdsNpy tells whether the archive member starts with the .npy magic.
func holdsNpy(f *zip.File) bool {
	r, err := f.Open()
	if err != nil {
		return false
	}
	defer r.Close()
	head := make([]byte, len(npyMagic))
	_, err = io.ReadFull(r, head)
	return err == nil && string(head) == npyMagic
}

func plainZipError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readNpzMember(f *zip.File, accept func(graph.DType, []int) error) (*runtime.Tensor, error) {
	switch f.Method {
	case zip.Store:
		if f.UncompressedSize64 != f.CompressedSize64 {
			return nil, fmt.Errorf("stored member of %d bytes claims %d uncompressed", f.CompressedSize64, f.UncompressedSize64)
		}
	case zip.Deflate:
		if f.UncompressedSize64/maxDeflateRatio > f.CompressedSize64+1 {
			return nil, fmt.Errorf("deflated member of %d bytes claims %d uncompressed, more than deflate can expand", f.CompressedSize64, f.UncompressedSize64)
		}
	default:
		return nil, fmt.Errorf("compression method %d is not supported (stored and deflated are)", f.Method)
	}
	if f.UncompressedSize64 > 1<<62 {
		return nil, errors.New("member is too large")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	t, err := readNpyChecked(rc, int64(f.UncompressedSize64), accept)
	if err != nil {
		return nil, err
	}
	// Reading to the end makes the zip reader check the size and CRC.
	var one [1]byte
	if n, err := rc.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("member is longer than its declared size")
		}
		return nil, err
	}
	return t, nil
}

// WriteNpz writes arrays to a .npz archive, deflated when compress is set
// (as numpy.savez_compressed) or stored (as numpy.savez).
func WriteNpz(path string, arrays []Named, compress bool) error {
	seen := map[string]bool{}
	for _, a := range arrays {
		if seen[a.Name] {
			return fmt.Errorf("%s: array %q given twice", path, a.Name)
		}
		seen[a.Name] = true
	}
	return WriteAtomic(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		method := zip.Store
		if compress {
			method = zip.Deflate
		}
		for _, a := range arrays {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: method})
			if err != nil {
				return err
			}
			if err := EncodeNpy(fw, a.Tensor); err != nil {
				return fmt.Errorf("array %q: %v", a.Name, err)
			}
		}
		return zw.Close()
	})
}
