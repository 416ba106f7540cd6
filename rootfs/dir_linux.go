//go:build linux

package rootfs

import (
	"io/fs"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// openRootHandle opens the O_PATH handle opens are resolved against.
func openRootHandle(abs string) (*os.File, error) {
	return os.OpenFile(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// Open implements FS. For a root other than "/" the whole path is resolved
// inside the root (openat2 RESOLVE_IN_ROOT where the kernel has it).
func (d *dirFS) Open(name string) (File, error) {
	if d.root == nil {
		return openHost(Clean(name))
	}
	h, err := pathrs.OpenatInRoot(d.root, Clean(name))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if _, err := regular(h, name); err != nil {
		return nil, err
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}
