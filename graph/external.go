package graph

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/onnxq/onnxq/internal/onnxpb"
)

// externalRef is the parsed external_data of a tensor.
type externalRef struct {
	location       string
	offset, length int64 // length -1: up to the end of the file
}

func parseExternal(p *onnxpb.TensorProto) (externalRef, error) {
	ref := externalRef{length: -1}
	for _, kv := range p.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			ref.location = kv.GetValue()
		case "offset":
			ref.offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			ref.length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || ref.offset < 0 || (kv.GetKey() == "length" && ref.length < 0) {
			return ref, fmt.Errorf("external data %s %q is not a valid byte count", kv.GetKey(), kv.GetValue())
		}
	}
	if ref.location == "" {
		return ref, errors.New("external data has no location")
	}
	return ref, nil
}

// safeExternalPath resolves an external data location against the model's
// folder, refusing locations that could read outside it.
func safeExternalPath(dir, location string) (string, error) {
	if dir == "" {
		return "", errors.New("external data cannot be read: the model was not loaded from a file")
	}
	if strings.ContainsRune(location, 0) {
		return "", fmt.Errorf("external data location %q holds a NUL byte, which no file name does", location)
	}
	loc := filepath.FromSlash(location)
	if filepath.IsAbs(loc) || strings.HasPrefix(location, "/") || !filepath.IsLocal(loc) {
		return "", fmt.Errorf("external data location %q is outside the model's folder", location)
	}
	path := filepath.Join(dir, loc)
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &causeError{fmt.Sprintf("external data file %q does not exist", location), err}
		}
		// filepath.EvalSymlinks says so in its own words, no error value
		if strings.Contains(err.Error(), "too many links") {
			return "", fmt.Errorf("external data file %q: too many levels of symbolic links", location)
		}
		return "", fmt.Errorf("external data file %q: %w", location, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("external data location %q leads outside the model's folder", location)
	}
	return real, nil
}

// readExternal reads a tensor's external data after checking that the
// requested range lies inside the file and fits the tensor.
func readExternal(p *onnxpb.TensorProto, dir string, dt DType) ([]byte, error) {
	ref, err := parseExternal(p)
	if err != nil {
		return nil, err
	}
	path, err := safeExternalPath(dir, ref.location)
	if err != nil {
		return nil, err
	}
	f, err := OpenRead(path)
	if err != nil {
		return nil, fmt.Errorf("external data file %q: %v", ref.location, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("external data location %q is a folder", ref.location)
	}
	size := st.Size()
	length := ref.length
	if length < 0 {
		length = size - ref.offset
	}
	if ref.offset > size || length > size-ref.offset {
		return nil, fmt.Errorf("external data at offset %d, length %d is past the end of %q (%d bytes)", ref.offset, length, ref.location, size)
	}
	if n, err := numElements(p.GetDims()); err == nil && dt != String {
		if want := dt.byteSize(n); want >= 0 && want != length {
			return nil, fmt.Errorf("external data holds %d bytes for %v%v (want %d)", length, dt, p.GetDims(), want)
		}
	}
	if length > maxTensorBytes() {
		return nil, fmt.Errorf("external data of %d bytes is more than this machine's memory", length)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, ref.offset); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, fmt.Errorf("external data file %q: %v", ref.location, err)
	}
	return buf, nil
}
