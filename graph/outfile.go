package graph

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxLinkHops bounds how many symbolic links OutputTarget follows.
const maxLinkHops = 40

// OutputTarget tells where a write to path lands. A symbolic link is
// followed to the file it names, so that the file is written and the link
// stays a link (a rename onto the link would replace it). direct is set
// when that file exists and is not a regular file (a FIFO, a terminal,
// /dev/stdout): it takes the bytes as they are written, and a rename would
// replace it instead. A folder is an error.
func OutputTarget(path string) (target string, direct bool, err error) {
	// An existing file is found through the links by the system: /dev/stdout
	// leads to a pipe that has no path of its own.
	if st, err := os.Stat(path); err == nil {
		switch {
		case st.IsDir():
			return "", false, fmt.Errorf("%s: is a folder", path)
		case !st.Mode().IsRegular():
			return path, true, nil
		}
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return "", false, writeError(path, err)
		}
		return target, false, nil
	}
	// A new file, or a link to one: follow the links to where it will be.
	target = path
	for range maxLinkHops {
		st, err := os.Lstat(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return target, false, nil
		case err != nil:
			return "", false, writeError(path, err)
		case st.Mode()&fs.ModeSymlink == 0:
			return target, false, nil
		}
		link, err := os.Readlink(target)
		if err != nil {
			return "", false, writeError(path, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(target), link)
		}
		target = link
	}
	return "", false, fmt.Errorf("%s: too many levels of symbolic links", path)
}

// WriteAtomic writes a file through write: under a temporary name beside
// the target (OutputTarget) renamed into place once complete, so that no
// reader sees a partial file and a failure leaves nothing behind; straight
// into a FIFO or device. Errors name path, not the temporary file.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	target, direct, err := OutputTarget(path)
	if err != nil {
		return err
	}
	if direct {
		return writeInto(path, target, write)
	}
	f, err := createTemp(target)
	if err != nil {
		return writeError(path, err)
	}
	defer TrackTemporary(f.Name())()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = closeTemp(f); err != nil {
		return writeError(path, err)
	}
	if err = os.Rename(f.Name(), target); err != nil {
		return writeError(path, err)
	}
	return nil
}

// writeInto writes through write into target, a FIFO or device path
// leads to (OutputTarget's direct case); errors name path.
func writeInto(path, target string, write func(io.Writer) error) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return writeError(path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return writeError(path, err)
	}
	return nil
}

// temporaries holds the temporary files and folders writes in progress
// have made, for RemoveTemporaries.
var temporaries = struct {
	sync.Mutex
	paths map[string]bool
}{paths: map[string]bool{}}

// TrackTemporary records path, a temporary file or folder a write in
// progress made, until the returned function is called (after the rename
// into place, or the removal).
func TrackTemporary(path string) (untrack func()) {
	temporaries.Lock()
	temporaries.paths[path] = true
	temporaries.Unlock()
	return func() {
		temporaries.Lock()
		delete(temporaries.paths, path)
		temporaries.Unlock()
	}
}

// RemoveTemporaries removes every tracked temporary file and folder: a
// command stopped by a signal calls it so that it leaves nothing behind.
// A folder that writers still fill may not empty at the first try, so
// each removal is tried again until the path is gone (for a second at
// most); once a folder is gone, nothing can be written into it.
func RemoveTemporaries() {
	temporaries.Lock()
	defer temporaries.Unlock()
	for p := range temporaries.paths {
		for try := 0; try < 200; try++ {
			os.RemoveAll(p)
			if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		delete(temporaries.paths, p)
	}
}
