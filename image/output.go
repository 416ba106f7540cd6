package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is the error of an output path that exists and is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// CheckOutput returns nil when path may be written (replaced) as a file: it
// does not exist, or it is a regular file. A symbolic link (even to a
// regular file), a device, a named pipe, a socket or a directory is not
// replaced: as root, `-o /dev/null` would otherwise replace the device with
// a file.
func CheckOutput(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().IsRegular():
		return nil
	}
	var what string
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m.IsDir():
		what = "a directory"
	default:
		what = "a special file"
	}
	return fmt.Errorf("%s, %w: not replaced (remove it, or name another file)", what, ErrNotRegular)
}

// Temporary outputs. An output is written under a hidden temporary name next
// to its target, ".NAME.tmp-DIGITS" (a file, or the directory a new layout
// is staged in), and renamed into place. The writer holds an flock(2) on it
// until then; the kernel drops the lock when the process dies, however it
// dies. So a temporary left by a killed run is one that nobody holds
// locked: the next run writing the same target removes those.

// tmpInfix is between the target's name and the random digits.
const tmpInfix = ".tmp-"

// tmpPrefix is the name of path's temporaries, up to the digits.
func tmpPrefix(path string) string { return "." + filepath.Base(path) + tmpInfix }

// createTemp creates the temporary file of path, locked, after removing
// stale ones. release drops the lock; call it once the file is renamed or
// removed (closing the file does not drop the lock).
func createTemp(path string) (f *os.File, release func(), err error) {
	reclaimStale(path)
	dir := filepath.Dir(path)
	f, err = os.CreateTemp(dir, tmpPrefix(path)+"*")
	if err != nil {
		// The output's directory is named, not the temporary file's.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, fmt.Errorf("directory %s: %w", dir, err)
	}
	if release, err = lock(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, err
	}
	return f, release, nil
}

// mkdirTemp creates the temporary directory of path, locked, after
// removing stale ones; release as for createTemp.
func mkdirTemp(path string) (dir string, release func(), err error) {
	reclaimStale(path)
	dir, err = os.MkdirTemp(filepath.Dir(path), tmpPrefix(path)+"*")
	if err != nil {
		return "", nil, err
	}
	d, err := os.Open(dir)
	if err == nil {
		release, err = lock(d)
		d.Close() // the lock stays with the duplicate
	}
	if err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, release, nil
}

// lock takes an exclusive flock on f and returns what drops it: closing a
// duplicate of f's descriptor, which holds the lock whether or not f is
// closed first.
func lock(f *os.File) (release func(), err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	cerr := rc.Control(func(fd uintptr) {
		if err = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return
		}
		dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	var once sync.Once
	return func() { once.Do(func() { unix.Close(dup) }) }, nil
}

// reclaimStale removes the temporaries of path that no live process holds:
// left by a run that was killed. Nothing is said of those it cannot remove.
func reclaimStale(path string) {
	dir, prefix := filepath.Dir(path), tmpPrefix(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
		switch {
		case e.Type().IsDir():
			flags |= unix.O_DIRECTORY
		case !e.Type().IsRegular():
			continue
		}
		fd, err := unix.Open(p, flags, 0)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p) // still locked by us: no run can be using it
		}
		unix.Close(fd)
	}
}
