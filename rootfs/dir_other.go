//go:build unix && !linux

package rootfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// openRootHandle opens the root directory (kept open as on Linux, where
// opens are resolved against it).
func openRootHandle(abs string) (*os.File, error) { return os.Open(abs) }

// Open implements FS. Without openat2 or O_PATH the path is resolved inside
// the root by securejoin, then opened without following a final link: a
// link swapped in between the two steps is refused, not followed out.
func (d *dirFS) Open(name string) (File, error) {
	if d.root == nil {
		return openHost(Clean(name))
	}
	p, err := securejoin.SecureJoin(d.path, Clean(name))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if rel, err := filepath.Rel(d.path, p); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	f, err := os.OpenFile(p, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	return regular(f, name)
}
