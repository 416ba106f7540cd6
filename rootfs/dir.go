package rootfs

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Dir returns the root filesystem at the host directory root. Dir("/") is the
// host itself.
func Dir(root string) (FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open root", Path: root, Err: errNotDir}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if abs == "/" {
		return &dirFS{path: abs}, nil
	}
	h, err := openRootHandle(abs)
	if err != nil {
		return nil, err
	}
	return &dirFS{path: abs, root: h}, nil
}

// dirFS is a host directory. root is an O_PATH handle on it (nil for "/"),
// kept open for the life of the program so opens are resolved against it.
type dirFS struct {
	path string
	root *os.File
}

var _ FS = (*dirFS)(nil)

func (d *dirFS) host(name string) string {
	if d.root == nil {
		return Clean(name)
	}
	return d.path + Clean(name)
}

// Lstat implements FS.
func (d *dirFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(d.host(name)) }

// Readlink implements FS.
func (d *dirFS) Readlink(name string) (string, error) { return os.Readlink(d.host(name)) }

// ReadDirNames lists the names in directory name, unsorted: cheaper than
// ReadDir for a large directory whose names only are needed.
func (d *dirFS) ReadDirNames(name string) ([]string, error) {
	f, err := os.Open(d.host(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// ReadDir implements FS.
func (d *dirFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(d.host(name)) }

// regular returns f if it is a regular file, and closes it otherwise.
func regular(f *os.File, name string) (*os.File, error) {
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			err = &fs.PathError{Op: "open", Path: name, Err: errIsDir}
		} else {
			err = &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// String implements FS.
func (d *dirFS) String() string { return d.path }
